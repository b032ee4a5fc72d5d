"""Hostile and broken JSON: deep nesting through the whole pipeline, odd numbers and encodings.

"Deep" means about 900 levels: as deep as the parsers accept (YAML stops at 1,000, Python's
JSON decoder near its recursion limit), so every stage after them must cope without recursing
once per level. Deeper input must be an input error, never a RecursionError.
"""

from __future__ import annotations

import codecs
import json
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from iamlint.cli import cli
from iamlint.engine import Engine, LintConfig, LintResult
from iamlint.loaders.inputs import load_paths

DEEP = 900


def nest_list(depth: int, leaf: Any = "x") -> Any:
    for _ in range(depth):
        leaf = [leaf]
    return leaf


def nest_map(depth: int, leaf: Any = "x") -> Any:
    for _ in range(depth):
        leaf = {"k": leaf}
    return leaf


def check(path: Path) -> LintResult:
    loaded = load_paths([str(path)])
    return Engine(LintConfig(strict=True)).run(loaded.documents, loaded.problems, loaded.errors, loaded.files)


def by_rule(result: LintResult) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in result.findings:
        out.setdefault(f.rule, []).append(f.message)
    return out


S3_ALL = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}


def policy(*statements: Any) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


DEEP_INPUTS: dict[str, tuple[Any, str, str]] = {
    # name: (document, rule expected, text expected in one of its messages)
    "condition-value": (
        policy({**S3_ALL, "Condition": {"StringEquals": {"aws:x": nest_list(DEEP)}}}),
        "IAM002",
        "condition value",
    ),
    "resource": (policy({**S3_ALL, "Resource": nest_list(DEEP)}), "IAM002", "Resource entries must be strings"),
    "principal": (policy({**S3_ALL, "Principal": {"AWS": nest_list(DEEP)}}), "IAM002", "Principal.AWS"),
    "statement": (policy(nest_list(DEEP, S3_ALL)), "IAM002", "a statement must be an object"),
    "sid": (policy({**S3_ALL, "Sid": nest_map(DEEP)}), "IAM103", "s3:*"),
    "cfn-roles-list": (
        {
            "Resources": {
                "P": {
                    "Type": "AWS::IAM::Policy",
                    "Properties": {"PolicyName": "p", "Roles": nest_list(DEEP), "PolicyDocument": policy(S3_ALL)},
                }
            }
        },
        "IAM103",
        "s3:*",
    ),
    "cfn-properties": (
        {
            "Resources": {
                "R": {
                    "Type": "AWS::IAM::ManagedPolicy",
                    "Properties": {"PolicyDocument": policy({**S3_ALL, "Resource": nest_map(DEEP)})},
                }
            }
        },
        "IAM002",
        "nested more than",
    ),
    "cfn-metadata-and-mappings": (
        {
            "Mappings": nest_map(DEEP),
            "Conditions": {"C": nest_map(DEEP)},
            "Outputs": nest_map(DEEP),
            "Resources": {
                "R": {
                    "Type": "AWS::IAM::ManagedPolicy",
                    "Metadata": {"iamlint": nest_map(DEEP)},
                    "Properties": {"PolicyDocument": policy(S3_ALL)},
                }
            },
        },
        "IAM103",
        "s3:*",
    ),
    "cfn-policy-as-json-string": (
        {
            "Resources": {
                "R": {
                    "Type": "AWS::Logs::ResourcePolicy",
                    "Properties": {
                        "PolicyName": "x",
                        "PolicyDocument": '{"Statement":' + "[" * 5000 + "]" * 5000 + "}",
                    },
                }
            }
        },
        "IAM002",
        "is a string that is not JSON",
    ),
    "sam": (
        {
            "Transform": "AWS::Serverless-2016-10-31",
            "Resources": {
                "F": {
                    "Type": "AWS::Serverless::Function",
                    "Properties": {
                        "Runtime": "python3.12",
                        "Handler": "a.b",
                        "CodeUri": ".",
                        "Policies": [policy({**S3_ALL, "Resource": nest_list(DEEP)})],
                    },
                }
            },
        },
        "IAM001",
        "SAM translator",
    ),
    "authorization-details-url-encoded": (
        {
            "UserDetailList": [],
            "GroupDetailList": [],
            "Policies": [],
            "RoleDetailList": [
                {
                    "RoleName": "r",
                    "Arn": "arn:aws:iam::111122223333:role/r",
                    "RolePolicyList": [],
                    "AssumeRolePolicyDocument": urllib.parse.quote('{"Statement":' + "[" * 5000 + "]" * 5000 + "}"),
                }
            ],
        },
        "IAM002",
        "neither JSON nor URL-encoded JSON",
    ),
}


@pytest.mark.parametrize("name", sorted(DEEP_INPUTS))
def test_deep_structures_never_reach_a_recursion_error(tmp_path: Path, name: str) -> None:
    document, rule, text = DEEP_INPUTS[name]
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(document))
    result = check(path)
    assert any(text in m for m in by_rule(result).get(rule, [])), by_rule(result)
    assert "IAM003" not in by_rule(result)


def test_deep_structures_through_the_cli_in_every_format(tmp_path: Path) -> None:
    for name, (document, _, _) in DEEP_INPUTS.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(document))
    outputs = [f"--output={fmt}={tmp_path / ('out.' + fmt)}" for fmt in ("json", "github", "markdown", "text")]
    result = CliRunner().invoke(cli, ["check", str(tmp_path), "--format", "sarif", *outputs])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == 2  # the malformed policies are input errors
    sarif = json.loads(result.stdout)
    assert {r["ruleId"] for r in sarif["runs"][0]["results"]} >= {"IAM001", "IAM002", "IAM103"}
    assert json.loads((tmp_path / "out.json").read_text())["summary"]["errors"] > 0


def test_deeper_than_the_parsers_accept_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (tmp_path / "deep.yaml").write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    for name in ("deep.json", "deep.yaml"):
        errors = by_rule(check(tmp_path / name))["IAM001"]
        assert any("too deep" in m or "nesting depth" in m or "nesting deeper than" in m for m in errors), errors


def test_deep_baseline_is_a_clean_error(tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text(json.dumps(policy(S3_ALL)))
    (tmp_path / "baseline.json").write_text("[" * 100_000 + "]" * 100_000)
    result = CliRunner().invoke(cli, ["check", str(tmp_path / "p.json"), "--baseline", str(tmp_path / "baseline.json")])
    assert result.exit_code == 2
    assert "not valid JSON" in result.output
    assert not isinstance(result.exception, RecursionError)


# -- numbers, encodings, bytes, shapes --------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"Statement": [{"Sid": 1' + b"0" * 5000 + b"}]}", "5001 digits, over the 4300-digit limit"),
        (b"a: 1" + b"0" * 5000 + b"\n", "5001 digits, over the 4300-digit limit"),
        (
            b'{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "\xff\xfe"}]}',
            "expected utf-8 text",
        ),
        (b'{"Statement": []}\x00', "Extra data"),
        (b'{"a": 1, "a": 2}', "duplicate key 'a'"),
        (b"42", "found a int value"),
        (b'"just a string"', "found a str value"),
        (b"null", "found a NoneType value"),
        (b"true", "found a bool value"),
        (b"", "found a NoneType value"),
        (codecs.BOM_UTF8, "found a NoneType value"),
        (b"a: \x00b\n", "control characters are not allowed"),
        ('{"Statement": []}'.encode("utf-16-le"), "Expecting property name"),  # UTF-16 without its BOM
    ],
)
def test_broken_json_is_an_input_error_with_a_reason(tmp_path: Path, raw: bytes, expected: str) -> None:
    path = tmp_path / "input.json"
    path.write_bytes(raw)
    errors = by_rule(check(path)).get("IAM001", [])
    assert any(expected in m for m in errors), errors


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "utf-8-sig"])
def test_unicode_with_a_byte_order_mark_is_read(tmp_path: Path, encoding: str) -> None:
    text = json.dumps(policy(S3_ALL))
    raw = text.encode(encoding)
    if encoding == "utf-16-be":
        raw = codecs.BOM_UTF16_BE + raw
    path = tmp_path / "policy.json"
    path.write_bytes(raw)
    found = by_rule(check(path))
    assert "IAM103" in found and "IAM001" not in found


def test_huge_and_special_numbers_in_a_policy_do_not_crash_the_rules(tmp_path: Path) -> None:
    path = tmp_path / "numbers.json"
    path.write_text(
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", '
        '"Resource": 1e999, "Condition": {"NumericLessThan": {"s3:max-keys": [1e999, -1e999, NaN, '
        + "9" * 4000
        + ', 1e-999]}, "DateGreaterThan": {"aws:CurrentTime": 99999999999999999999}}}]}'
    )
    found = by_rule(check(path))
    assert any("Resource must be a string" in m for m in found["IAM002"])
    assert any('"inf"' in m for m in found["IAM174"])
    assert "IAM003" not in found


def test_nul_and_control_characters_inside_strings_are_kept_as_data(tmp_path: Path) -> None:
    path = tmp_path / "nul.json"
    path.write_text(json.dumps(policy({**S3_ALL, "Sid": "a\u0000b\u001b[2Jc"})))
    result = CliRunner().invoke(cli, ["check", str(path), "--format", "text"])
    assert result.exit_code == 1
    assert "\\x00" in result.stdout and "\\x1b[2J" in result.stdout
    assert "\x00" not in result.stdout and "\x1b" not in result.stdout


def test_handler_code_nested_too_deep_is_a_warning_for_narrow_from_code(tmp_path: Path) -> None:
    # `iamlint narrow --from-code` reads the functions' own code: Python through `ast`, which
    # recurses per operator, and TypeScript through a recursive-descent reader.
    code = tmp_path / "code"
    shutil.copytree(Path(__file__).resolve().parent.parent / "fixtures" / "sources" / "code", code)
    (code / "orders" / "app.py").write_text("def handler(event, context):\n    return " + "+".join(["1"] * 5000) + "\n")
    (code / "reports" / "app.ts").write_text(
        "export const handler = async () => { const x = " + "(" * 3000 + "1" + ")" * 3000 + "; };\n"
    )
    result = CliRunner().invoke(cli, ["narrow", str(code / "template.yaml"), "--from-code"])
    assert not isinstance(result.exception, RecursionError), result.exception
    assert result.exit_code == 2
    assert "orders/app.py: cannot parse" in result.output
    assert "reports/app.ts: cannot analyse: expressions nested too deep" in result.output


def test_a_template_that_breaks_the_sam_translator_prints_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(
        "Transform: AWS::Serverless-2016-10-31\nGlobals:\n  Function: nope\n  Api: nope\nResources:\n  F:\n"
        "    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: python3.12\n      Handler: a.b\n"
        "      CodeUri: .\n      Events:\n        Get:\n          Type: Api\n          Properties: {Path: /, Method: get}\n"
    )
    script = Path(sys.executable).with_name("iamlint")  # the installed console script, as CI runs it
    done = subprocess.run([str(script), "check", str(path)], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert "SAM translator failed" in done.stdout
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout
