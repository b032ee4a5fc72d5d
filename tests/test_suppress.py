"""Suppressions: template Metadata (CloudFormation, SAM, CDK), configuration, granularity,
mandatory reasons and unused suppressions (IAM004), end to end through the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES

from iamlint.cli import cli
from iamlint.ruleset import load_builtin_rules

INTEGRATION = FIXTURES / "integration"


def findings(*args: str) -> tuple[int, list[dict[str, object]]]:
    result = CliRunner().invoke(cli, ["check", *args, "--format", "json"], catch_exceptions=False)
    return result.exit_code, json.loads(result.output)["findings"]


def test_unused_suppression_rule_is_documented() -> None:
    rule = load_builtin_rules()["IAM004"]
    assert rule.name == "unused-suppression" and rule.severity.label == "low"


def test_granular_and_whole_suppressions_in_template_metadata() -> None:
    code, found = findings(str(INTEGRATION / "cfn" / "suppressed.yaml"))
    assert code == 1
    iam105 = [f for f in found if f["rule"] == "IAM105"]
    # AuditRole's IAM105 is suppressed whole; ReportsRole's only for DescribeTable.
    assert len(iam105) == 1
    kept = iam105[0]
    assert kept["location"]["logical_id"] == "ReportsRole"
    assert kept["evidence"]["actions"] == ["dynamodb:DeleteTable"]
    assert any("suppressed for dynamodb:DescribeTable" in n for n in kept["evidence"]["notes"])
    # The IAM101 suppression matches nothing: reported where it is written.
    unused = [f for f in found if f["rule"] == "IAM004"]
    assert len(unused) == 1
    assert unused[0]["location"]["line"] == 12 and unused[0]["severity"] == "low"
    assert "IAM101" in unused[0]["message"]


def test_unused_suppression_is_not_reported_when_its_rule_did_not_run() -> None:
    _, found = findings(str(INTEGRATION / "cfn" / "suppressed.yaml"), "--select", "IAM105")
    assert [f["rule"] for f in found] == ["IAM105"]
    _code, found = findings(str(INTEGRATION / "cfn" / "suppressed.yaml"), "--ignore", "IAM004")
    assert "IAM004" in {f["rule"] for f in found}  # meta rules are not subject to --ignore


def test_suppression_without_reason_is_an_input_error() -> None:
    code, found = findings(str(INTEGRATION / "cfn" / "no-reason.yaml"))
    assert code == 2
    error = next(f for f in found if f["rule"] == "IAM001")
    assert "without a reason" in error["message"]
    assert error["location"]["line"] == 8
    assert any(f["rule"] == "IAM105" for f in found)  # not honoured


def test_sam_function_suppression_reaches_its_generated_role() -> None:
    _code, found = findings(str(INTEGRATION / "sam" / "template.yaml"))
    iam105 = [f for f in found if f["rule"] == "IAM105"]
    assert iam105, "the unsuppressed function still reports"
    assert all("OrdersFunction" in f["source"]["name"] for f in iam105)
    assert not any("ReportsFunction" in str(f["source"]) and f["rule"] == "IAM105" for f in found)
    assert "IAM004" not in {f["rule"] for f in found}


def test_cdk_construct_metadata_suppression(tmp_path: Path) -> None:
    _code, found = findings(str(INTEGRATION / "cdk" / "cdk.out"))
    rules = {f["rule"] for f in found}
    assert "IAM103" not in rules and "IAM004" not in rules
    # Without the metadata the finding is there, so the suppression is what removed it.
    shutil.copytree(INTEGRATION / "cdk" / "cdk.out", tmp_path / "cdk.out")
    template = tmp_path / "cdk.out" / "LegacyStack.template.json"
    doc = json.loads(template.read_text())
    del doc["Resources"]["ReportsRoleB2A1C7E4"]["Metadata"]["iamlint"]
    template.write_text(json.dumps(doc, indent=1))
    _, found = findings(str(tmp_path / "cdk.out"))
    assert "IAM103" in {f["rule"] for f in found}


def _project(tmp_path: Path, config: str) -> Path:
    (tmp_path / "policies").mkdir()
    shutil.copy(INTEGRATION / "policies" / "legacy-admin.json", tmp_path / "policies")
    (tmp_path / ".iamlint.yaml").write_text(config)
    return tmp_path


CONFIG = """\
suppressions:
  - paths: ["policies/legacy-*.json"]
    sid: LegacyReads
    rule: IAM105
    reason: describe-only, reviewed
  - paths: ["policies/other-*.json"]
    rule: IAM105
    reason: a file this run may not check
"""


def test_config_suppression_by_file_glob_and_sid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(_project(tmp_path, CONFIG))
    _, found = findings("policies")
    iam105 = [f for f in found if f["rule"] == "IAM105"]
    assert [f["statement"]["sid"] for f in iam105] == ["NewReads"]
    # The second entry names files that were not checked: not reported as unused.
    assert "IAM004" not in {f["rule"] for f in found}
    (tmp_path / "policies" / "other-x.json").write_text(
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",'
        ' "Resource": "arn:aws:s3:::b/*"}]}'
    )
    _code, found = findings("policies")
    unused = [f for f in found if f["rule"] == "IAM004"]
    assert len(unused) == 1 and unused[0]["location"]["file"].endswith(".iamlint.yaml")
    assert unused[0]["location"]["line"] == 6


def test_config_suppression_needs_a_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(_project(tmp_path, "suppressions:\n  - paths: [x.json]\n    rule: IAM105\n"))
    result = CliRunner().invoke(cli, ["check", "policies"], catch_exceptions=False)
    assert result.exit_code == 2
    assert "'reason' is a required property" in result.output and ".iamlint.yaml:2:5" in result.output


def test_suppressed_finding_does_not_fail_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = (
        CONFIG
        + """\
  - paths: ["policies/legacy-*.json"]
    sid: NewReads
    rule: IAM105
    reason: also reviewed
"""
    )
    monkeypatch.chdir(_project(tmp_path, config))
    _code, found = findings("policies/legacy-admin.json")
    assert [f["rule"] for f in found if not f["rule"].startswith("IAM1")] == []
    assert "IAM105" not in {f["rule"] for f in found}
