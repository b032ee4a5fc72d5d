"""Hostile YAML and CloudFormation intrinsics: alias bombs, code-running tags, cycles, runaway work.

Each test names the defence it holds in place; README "Security" lists them. Every input here
must end as findings or input errors, in bounded work and memory, never as an exception. Work is
counted (values the intrinsic resolver visits), never timed: machines are noisy.
"""

from __future__ import annotations

import tracemalloc
from functools import lru_cache
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from click.testing import CliRunner

from iamlint.cli import cli
from iamlint.engine import Engine, LintConfig, LintResult
from iamlint.loaders import intrinsics
from iamlint.loaders.inputs import load_paths

MIB = 1 << 20


@lru_cache(maxsize=1)
def _engine() -> Engine:
    """One strict engine, warmed up, so that memory budgets measure the input, not start-up."""
    engine = Engine(LintConfig(strict=True))
    engine.run(load_paths([str(Path(__file__).parent.parent / "fixtures" / "demo")]).documents)
    return engine


def check(path: Path) -> LintResult:
    loaded = load_paths([str(path)])
    return _engine().run(loaded.documents, loaded.problems, loaded.errors, loaded.files)


def messages(result: LintResult, rule: str) -> list[str]:
    return [f.message for f in result.findings if f.rule == rule]


# Values the intrinsic-function resolver may visit while one template is checked, in all its
# resolutions (`intrinsics.MAX_NODES` bounds each one): work, not time, so that a runaway is
# told from a slow machine.
RESOLVE_WORK = 5 * intrinsics.MAX_NODES


class Runaway(BaseException):
    """Past RESOLVE_WORK: a BaseException, so that no handler for bad input can swallow it."""


def bounded(path: Path, peak_mib: int = 32) -> LintResult:
    """Check `path`, asserting the run stays within a work and a traced-memory budget."""
    _engine()
    visited = 0
    resolve = intrinsics.Resolver.resolve

    def counted(self: intrinsics.Resolver, node: Any, depth: int = 0) -> Any:
        nonlocal visited
        visited += 1
        if visited > RESOLVE_WORK:
            raise Runaway(f"the resolver visited more than {RESOLVE_WORK} values")
        return resolve(self, node, depth)

    tracemalloc.start()
    try:
        with mock.patch.object(intrinsics.Resolver, "resolve", counted):
            result = check(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < peak_mib * MIB, f"peak {peak / MIB:.0f} MiB"
    return result


POLICY_HEAD = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Managed:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Action: s3:GetObject
"""


# -- YAML: what PyYAML's full loader would do, and what CloudFormation refuses -----------------


def test_billion_laughs_is_refused_as_an_alias_bomb(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    path = tmp_path / "laughs.yaml"
    path.write_text("\n".join(lines) + "\nResources: {}\n")
    result = bounded(path)
    assert any("alias bomb" in m for m in messages(result, "IAM001"))


def test_aliases_reused_in_join_trees_stay_within_the_resolution_budget(tmp_path: Path) -> None:
    # Each level joins ten aliases of the level below: 5 lines stand for a 1 MB string joined
    # 10**4 times (10 GB). The YAML alias budget counts nodes, and these are thirty thousand;
    # intrinsics.MAX_TEXT stops the Join before anything is built.
    levels = [f"      - &l0 {'x' * 1_000_000}"]
    for i in range(1, 5):
        levels.append(f"      - &l{i} !Join ['', [{', '.join([f'*l{i - 1}'] * 10)}]]")
    path = tmp_path / "join-bomb.yaml"
    path.write_text(
        "Parameters:\n  Unused:\n    Type: String\n    AllowedValues:\n"
        + "\n".join(levels)
        + "\n"
        + POLICY_HEAD
        + "            Resource: !Sub ['arn:aws:s3:::${Big}', {Big: *l4}]\n"
    )
    result = bounded(path)
    assert any("more than" in m and "characters" in m for m in messages(result, "IAM002"))


def test_aliases_in_sub_variables_cannot_build_a_huge_string(tmp_path: Path) -> None:
    path = tmp_path / "sub-bomb.yaml"
    big = "y" * 100_000
    path.write_text(
        f"Metadata:\n  Big: &big {big}\n"
        + POLICY_HEAD
        + "            Resource:\n"
        + "".join("              - !Sub ['${A}${A}${A}${A}', {A: *big}]\n" for _ in range(200))
    )
    result = bounded(path)
    assert any("characters" in m for m in messages(result, "IAM002"))


def test_findinmap_chains_that_repeat_values_are_bounded(tmp_path: Path) -> None:
    # Each mapping value holds ten FindInMaps of the one before: 25 lines, 10**25 steps, and
    # only 50 levels deep. A cycle (a value that finds itself) ends at the depth limit instead.
    lines = ["Mappings:", "  M:", "    L0: {V: x}"]
    lines += [f"    L{i}: {{V: [{', '.join([f'!FindInMap [M, L{i - 1}, V]'] * 10)}]}}" for i in range(1, 25)]
    lines.append("    Cycle: {V: [!FindInMap [M, Cycle, V], !FindInMap [M, Cycle, V]]}")
    path = tmp_path / "map-chain.yaml"
    path.write_text(
        "\n".join(lines)
        + "\n"
        + POLICY_HEAD
        + "            Resource: !Join [',', !FindInMap [M, L24, V]]\n"
        + "          - Effect: Allow\n            Action: s3:PutObject\n"
        + "            Resource: !Join [',', !FindInMap [M, Cycle, V]]\n"
    )
    result = bounded(path)
    assert any(f"more than {intrinsics.MAX_NODES} steps" in m for m in messages(result, "IAM002"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('a: !!python/object/apply:os.system ["touch {marker}"]', "tag"),
        ('a: !!python/object/new:os.system ["touch {marker}"]', "tag"),
        ("a: !!python/name:os.system", "tag"),
        ("a: !!python/tuple [1, 2]", "tag"),
        ("a: !Shell 'touch {marker}'", "tag"),
        ("a: 1\na: 2", "duplicate key"),
        ("base: &b {{x: 1}}\nderived:\n  <<: *b", "merge key"),
        ("a: 1\n---\nb: 2", "single YAML document"),
    ],
)
def test_yaml_that_cloudformation_refuses_is_an_input_error(tmp_path: Path, text: str, expected: str) -> None:
    marker = tmp_path / "executed"
    path = tmp_path / "template.yaml"
    path.write_text("Resources: {}\n" + text.format(marker=marker) + "\n")
    result = check(path)
    errors = messages(result, "IAM001")
    assert any(expected in m for m in errors), errors
    assert not marker.exists()


# -- intrinsic functions used wrongly ----------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ("!Sub 'arn:aws:s3:::${NoSuchParameter}/*'", "unknown variable ${NoSuchParameter}"),
        ("!Select [7, [a, b]]", "index 7 is out of range for a list of 2"),
        ("!Select [x, [a, b]]", "is not a number"),
        ("!FindInMap [Buckets, prod, Name]", "no key 'prod' in mapping 'Buckets'"),
        ("!FindInMap [NoMap, a, b]", "no key 'NoMap'"),
        ("!GetAtt Nothing.Arn", "not a resource of this template"),
        ("!Ref Nowhere", "neither a parameter nor a resource"),
        ("!Split ['', abc]", "delimiter is empty"),
        ("!Join [',', notalist]", "expects a list"),
    ],
)
def test_intrinsics_used_wrongly_are_reported_not_raised(tmp_path: Path, resource: str, expected: str) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(
        "Mappings:\n  Buckets:\n    dev:\n      Name: dev-bucket\n"
        + POLICY_HEAD
        + f"            Resource: {resource}\n"
    )
    result = check(path)
    assert any(expected in m for m in messages(result, "IAM002")), result.findings


def test_functions_nested_absurdly_deep_give_up_the_value(tmp_path: Path) -> None:
    value = "x"
    for _ in range(200):
        value = f"!Join ['', [{value}]]"
    path = tmp_path / "deep-fn.yaml"
    path.write_text(POLICY_HEAD + f"            Resource: {value}\n")
    result = bounded(path)
    assert any(f"nested more than {intrinsics.MAX_DEPTH} deep" in m for m in messages(result, "IAM002"))


def test_condition_chains_and_ref_chains_terminate(tmp_path: Path) -> None:
    # Conditions that refer to each other, a parameter whose default is a Ref to itself, GetAtt
    # and Ref chains between resources: none of them may loop.
    path = tmp_path / "chains.yaml"
    path.write_text(
        "Parameters:\n  Self:\n    Type: String\n    Default: {Ref: Self}\n"
        "Conditions:\n  A: !Condition B\n  B: !Condition A\n  C: !And [!Condition A, !Condition C]\n"
        "Resources:\n"
        "  Bucket:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: !GetAtt Bucket.Arn\n"
        "  Managed:\n    Type: AWS::IAM::ManagedPolicy\n    Properties:\n      PolicyDocument:\n"
        "        Version: '2012-10-17'\n        Statement:\n          - Effect: Allow\n"
        "            Action: s3:GetObject\n"
        "            Resource: !If [A, !Sub '${Bucket.Arn}/${Self}', !If [C, !Ref Self, !GetAtt Bucket.Arn]]\n"
    )
    result = bounded(path)
    assert result.documents >= 1


def test_custom_rule_files_are_read_as_untrusted_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # .iamlint.yaml and its rules_dirs come from the repository, so from the pull request.
    rules = tmp_path / "iam-rules"
    rules.mkdir()
    lines = [
        "id: IAM901",
        "name: bomb",
        "severity: high",
        "category: custom",
        "summary: x",
        'message: "x"',
        "rationale: x",
        "fix: x",
        'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]',
    ]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    lines += ["references: *a8", "match:", '  actions: ["iam:CreateUser"]']
    (rules / "IAM901.yaml").write_text("\n".join(lines) + "\n")
    (tmp_path / ".iamlint.yaml").write_text("rules_dirs: [iam-rules]\n")
    (tmp_path / "p.json").write_text(
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]}'
    )
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["check", "p.json"])
    assert result.exit_code == 2
    assert "alias bomb" in result.output
    (rules / "IAM901.yaml").write_text("id: IAM901\nname: !!python/object/apply:os.system [true]\n")
    result = CliRunner().invoke(cli, ["check", "p.json"])
    assert result.exit_code == 2 and "tag" in result.output
