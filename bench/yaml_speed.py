"""Time YAML loading of a large CloudFormation template: cfn-lint's decoder, PyYAML and iamlint.

Usage: ``python bench/yaml_speed.py [TEMPLATE.yaml] [--repeat N]``. Without a template, one of about
1 MB is generated: many IAM roles, managed policies and functions written with short-form tags,
block and flow style, quoted and plain scalars, the shapes real SAM and CloudFormation files have.

cfn-lint is a bench-only dependency (``pip install cfn-lint``); when it is missing its row is
skipped and the ratio is reported against PyYAML instead.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from iamlint.loaders.located import Located, parse_json, parse_yaml

SERVICES = ("s3", "dynamodb", "sqs", "sns", "kms", "logs", "lambda", "ec2", "states", "events")
VERBS = ("Get", "Put", "List", "Describe", "Delete", "Create", "Update", "Send", "Receive", "Tag")
NOUNS = (
    "Object",
    "Item",
    "Message",
    "Queue",
    "Key",
    "Function",
    "Bucket",
    "Table",
    "Stream",
    "Rule",
)


def _action(rng: random.Random) -> str:
    return f"{rng.choice(SERVICES)}:{rng.choice(VERBS)}{rng.choice(NOUNS)}"


def _statement(rng: random.Random, i: int) -> list[str]:
    """One policy statement, in one of the styles people write."""
    style = i % 4
    actions = sorted({_action(rng) for _ in range(rng.randint(1, 6))})
    lines = ["              - Effect: Allow", "                Action:"]
    if style == 0:
        lines += [f"                  - {a}" for a in actions]
        lines += [
            "                Resource:",
            f"                  - !GetAtt Table{i}.Arn",
            f"                  - !Sub '${{Table{i}.Arn}}/index/*'",
        ]
    elif style == 1:
        lines[-1] += " [" + ", ".join(f'"{a}"' for a in actions) + "]"
        lines += [
            "                Resource: !Join",
            "                  - ''",
            "                  - - 'arn:aws:s3:::'",
            f"                    - !Ref Bucket{i}",
            "                    - /*",
        ]
    elif style == 2:
        lines[-1] += f" {actions[0]}"
        lines += [
            "                Resource: '*'",
            "                Condition:",
            "                  StringEquals:",
            "                    aws:RequestedRegion: !Ref AWS::Region",
            "                  Bool: {aws:SecureTransport: true}",
        ]
    else:
        lines += [f"                  - '{a}'" for a in actions]
        lines += [
            "                Resource: !If",
            f"                  - IsProd{i % 7}",
            f"                  - !Sub arn:${{AWS::Partition}}:sqs:${{AWS::Region}}:${{AWS::AccountId}}:q{i}",
            "                  - !Ref AWS::NoValue",
        ]
    return lines


def _resource(rng: random.Random, i: int) -> list[str]:
    out = [
        f"  Role{i}:",
        "    Type: AWS::IAM::Role",
        "    Properties:",
        f'      RoleName: !Sub "${{AWS::StackName}}-role-{i}"',
        "      AssumeRolePolicyDocument:",
        "        Version: 2012-10-17",
        "        Statement:",
        "          - Effect: Allow",
        "            Principal: {Service: [lambda.amazonaws.com]}",
        "            Action: sts:AssumeRole",
        "      ManagedPolicyArns:",
        "        - arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        "      Policies:",
        f"        - PolicyName: inline-{i}",
        "          PolicyDocument:",
        "            Version: '2012-10-17'",
        "            Statement:",
    ]
    for j in range(rng.randint(2, 5)):
        out += _statement(rng, i * 10 + j)
    out += [
        f"  Function{i}:",
        "    Type: AWS::Lambda::Function",
        "    Properties:",
        "      Runtime: python3.12",
        "      Handler: index.handler",
        f"      Role: !GetAtt Role{i}.Arn",
        f"      MemorySize: {128 * rng.randint(1, 8)}",
        f"      Timeout: {rng.randint(3, 900)}",
        "      Environment:",
        "        Variables:",
        f"          TABLE: !Ref Table{i}",
        f"          QUEUE_URL: !GetAtt [Queue{i}, QueueUrl]",
        "          DEBUG: false",
        "      Code:",
        "        ZipFile: |",
        "          import os",
        "          def handler(event, context):",
        f"              return {{'ok': True, 'n': {i}}}",
    ]
    return out


def generate(target_bytes: int = 1_000_000, seed: int = 7) -> str:
    """A CloudFormation template of about target_bytes, deterministic for a seed."""
    rng = random.Random(seed)
    head = [
        "AWSTemplateFormatVersion: 2010-09-09",
        "Description: Generated benchmark template with many IAM roles and policies",
        "Conditions:",
    ]
    head += [f"  IsProd{k}: !Equals [!Ref Stage, prod{k}]" for k in range(7)]
    head += ["Parameters:", "  Stage: {Type: String, Default: dev}", "Resources:"]
    lines = list(head)
    size = sum(len(x) + 1 for x in lines)
    i = 0
    while size < target_bytes:
        chunk = _resource(rng, i)
        lines += chunk
        size += sum(len(x) + 1 for x in chunk)
        i += 1
    return "\n".join(lines) + "\n"


def _time(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of fn in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _sample_paths(located: Located, want: int) -> list[tuple[str | int, ...]]:
    """About `want` leaf paths spread over the document, the way findings would ask for them."""
    paths: list[tuple[str | int, ...]] = []

    def walk(value: object, path: tuple[str | int, ...]) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                walk(child, (*path, key))
        elif isinstance(value, list):
            for index, child in enumerate(value):
                walk(child, (*path, index))
        else:
            paths.append(path)

    walk(located.data, ())
    step = max(1, len(paths) // want)
    return paths[::step][:want]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("template", nargs="?", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    text = args.template.read_text(encoding="utf-8") if args.template else generate()
    print(f"template: {len(text.encode()) / 1e6:.2f} MB, {text.count(chr(10))} lines, median of {args.repeat} runs")

    rows: dict[str, float] = {}
    try:
        from cfnlint.decode import decode_str  # type: ignore[import-untyped]  # no stubs
    except ImportError:
        print("cfn-lint not installed: pip install cfn-lint to compare against it")
    else:
        rows["cfn-lint decode_str"] = _time(lambda: decode_str(text), args.repeat)
    rows["PyYAML safe_load (pure Python)"] = _time(
        lambda: yaml.load(text, Loader=_pure_loader()),  # noqa: S506 - a SafeLoader subclass
        args.repeat,
    )
    if yaml.__with_libyaml__:
        rows["PyYAML compose (libyaml)"] = _time(lambda: yaml.compose(text, Loader=yaml.CSafeLoader), args.repeat)
    rows["iamlint parse_yaml"] = ours = _time(lambda: parse_yaml(text, "bench.yaml"), args.repeat)
    located = parse_yaml(text, "bench.yaml")
    paths = _sample_paths(located, 100)
    rows[f"iamlint parse_yaml + {len(paths)} marks"] = _time(
        lambda: _marks(parse_yaml(text, "bench.yaml"), paths), args.repeat
    )
    # The same data as JSON: json.loads up front, positions scanned on the first mark() only.
    as_json = json.dumps(located.data, indent=1)
    rows["iamlint parse_json (same data)"] = _time(lambda: parse_json(as_json, "bench.json"), args.repeat)
    rows[f"iamlint parse_json + {len(paths)} marks"] = _time(
        lambda: _marks(parse_json(as_json, "bench.json"), paths), args.repeat
    )

    base_name = "cfn-lint decode_str" if "cfn-lint decode_str" in rows else "PyYAML safe_load (pure Python)"
    base = rows[base_name]
    width = max(len(name) for name in rows)
    for name, seconds in rows.items():
        print(f"  {name:<{width}}  {seconds * 1000:9.1f} ms   {base / seconds:6.1f}x")
    print(f"ours vs {base_name}: {base / ours:.1f}x faster")
    return 0


def _marks(located: Located, paths: list[tuple[str | int, ...]]) -> None:
    for path in paths:
        if located.mark(path) is None:
            raise SystemExit(f"no mark for {path}")


def _pure_loader() -> type[yaml.SafeLoader]:
    """SafeLoader with CloudFormation's short tags accepted, so PyYAML can read the template."""

    class Loader(yaml.SafeLoader):
        pass

    def tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> object:
        if isinstance(node, yaml.ScalarNode):
            return {suffix: loader.construct_scalar(node)}
        if isinstance(node, yaml.SequenceNode):
            return {suffix: loader.construct_sequence(node, deep=True)}
        assert isinstance(node, yaml.MappingNode)
        return {suffix: loader.construct_mapping(node, deep=True)}

    Loader.add_multi_constructor("!", tag)
    return Loader


if __name__ == "__main__":
    sys.exit(main())
