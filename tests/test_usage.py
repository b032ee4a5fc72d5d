"""IAM140 granted-never-used: `iamlint check --evidence/--cloudtrail` compares grants with observed calls."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import FIXTURES, ROOT

from iamlint.catalog import get_catalog
from iamlint.checks.usage import usage_settings
from iamlint.cli import cli
from iamlint.narrow.calls import Call

CFN = "fixtures/narrow/cfn-role.yaml"
CFN_EVIDENCE = "fixtures/narrow/cfn-role.evidence.jsonl"


def _check(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, list[dict[str, Any]], str]:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(cli, ["check", "--format", "json", "--select", "IAM140", *args])
    findings = json.loads(result.stdout)["findings"] if result.stdout.strip() else []
    return result.exit_code, findings, result.stderr


def test_unused_grants_of_the_selected_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    code, findings, _ = _check(monkeypatch, CFN, "--evidence", CFN_EVIDENCE, "--session", "orders-worker")
    assert code == 1
    by_line = {f["location"]["line"]: f for f in findings}
    # The Data statement: dynamodb:* and s3:* less what the worker did (GetItem, UpdateItem,
    # GetObject, PutObject); its DeleteObject was denied, so it used nothing.
    data = by_line[34]
    assert data["rule"] == "IAM140" and data["severity"] == "low" and data["category"] == "usage"
    assert {"dynamodb:DeleteTable", "dynamodb:BatchGetItem"} <= set(data["evidence"]["actions"])
    assert not {"dynamodb:GetItem", "dynamodb:UpdateItem"} & set(data["evidence"]["actions"])
    assert len(data["evidence"]["actions"]) == 25 and "the first 25 are listed" in data["evidence"]["notes"]
    # The queue statement (sqs:*): everything but SendMessage.
    queue = by_line[46]
    assert "sqs:SendMessage" not in queue["evidence"]["actions"] and "sqs:DeleteQueue" in queue["evidence"]["actions"]
    assert set(by_line) == {34, 46}, "the Deny statement and the managed policy's log writes are not reported"


def test_nothing_without_evidence(monkeypatch: pytest.MonkeyPatch) -> None:
    code, findings, _ = _check(monkeypatch, CFN)
    assert code == 0 and findings == []


def test_calls_of_another_principal_are_not_compared(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Without --session the calls are compared only with principals named like their caller:
    # the trail's role is orders-worker-role, the template's WorkerRole.
    code, findings, _ = _check(monkeypatch, CFN, "--evidence", CFN_EVIDENCE)
    assert code == 0 and findings == []
    # The same calls, made by a role named as CloudFormation names WorkerRole, are its own.
    renamed = tmp_path / "renamed.jsonl"
    renamed.write_text(
        (ROOT / CFN_EVIDENCE).read_text().replace("orders-worker-role", "orders-WorkerRole-1A2B3C4D5E6F")
    )
    code, findings, _ = _check(monkeypatch, CFN, "--evidence", str(renamed))
    assert code == 1 and {f["location"]["line"] for f in findings} == {34, 46}


def test_what_cloudtrail_cannot_show_is_not_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    code, findings, _ = _check(
        monkeypatch, "fixtures/demo/template.yaml", "--cloudtrail", "fixtures/demo/cloudtrail", "--session", "orders-fn"
    )
    assert code == 1
    listed = {a for f in findings for a in f["evidence"]["actions"]}
    notes = [n for f in findings for n in f["evidence"]["notes"]]
    # Lambda's log writes (AWSLambdaBasicExecutionRole) are never reported; the trail holds S3,
    # DynamoDB, SQS and SNS data events, so their unused grants are.
    assert not any(a.startswith("logs:") for a in listed)
    assert "sns:DeleteTopic" in listed and "ssm:GetParametersByPath" in listed
    # Kinesis records are data events too, and this trail's kinesis call was not granted: the
    # statement is about s3/dynamodb/sqs/kms, so it only says what it could not count.
    assert all(not n.startswith("not counted") or "kinesis" not in n for n in notes)
    assert {f["location"]["line"] for f in findings} == {32, 40, 42}


def test_data_events_absent_from_the_evidence_are_not_counted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Only management events: the S3 object and DynamoDB item grants cannot be judged.
    evidence = tmp_path / "management.jsonl"
    evidence.write_text(
        "".join(
            line + "\n"
            for line in (ROOT / CFN_EVIDENCE).read_text().splitlines()
            if '"dynamodb"' not in line and '"s3"' not in line
        )
    )
    code, findings, _ = _check(monkeypatch, CFN, "--evidence", str(evidence), "--session", "orders-worker")
    assert code == 1
    data = next(f for f in findings if f["location"]["line"] == 34)
    assert "s3:GetObject" not in data["evidence"]["actions"] and "dynamodb:GetItem" not in data["evidence"]["actions"]
    assert any(n.startswith("not counted") and "dynamodb:GetItem" in n for n in data["evidence"]["notes"])
    assert "dynamodb:DeleteTable" in data["evidence"]["actions"]


def test_selection_that_matches_nothing_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, stderr = _check(monkeypatch, CFN, "--evidence", CFN_EVIDENCE, "--session", "no-such-function")
    assert code == 2 and "no observed call matches" in stderr


def test_unreadable_evidence_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, stderr = _check(monkeypatch, CFN, "--evidence", "fixtures/narrow/missing.jsonl")
    assert code == 2 and "missing.jsonl" in stderr


def test_session_needs_evidence(monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, stderr = _check(monkeypatch, CFN, "--session", "orders-worker")
    assert code == 2 and "--evidence or --cloudtrail" in stderr


def _call(op: str, error: str | None = None, role: str = "r") -> Call:
    return Call(
        service="s3",
        operation=op,
        principal=f"arn:aws:sts::111122223333:assumed-role/{role}/fn",
        role_arn=f"arn:aws:iam::111122223333:role/svc/{role}",
        session_name="fn",
        time=None,
        region="eu-west-1",
        resources=(),
        parameters={"bucketName": "b", "key": "k"},
        error=error,
        account="111122223333",
    )


def test_usage_settings_count_what_passed_authorization() -> None:
    usage = usage_settings(
        [
            _call("GetObject"),
            _call("PutObject", "AccessDenied"),
            _call("DeleteObject", "NoSuchKey"),
            _call("HeadObject", role="other"),
        ],
        get_catalog(),
        selected=False,
    )
    assert usage == {
        "selected": False,
        "data_events": ["S3 objects"],
        "callers": [
            {"calls": 1, "actions": ["s3:GetObject"], "role": "other", "session": "fn"},
            {"calls": 2, "actions": ["s3:DeleteObject", "s3:GetObject"], "role": "r", "session": "fn"},
        ],
    }


def test_rule_fixtures_carry_their_evidence() -> None:
    # The fixture harness passes bad-x.settings.json; the one without settings is the
    # no-evidence case, and it names the same policy as a bad one.
    folder = FIXTURES / "rules" / "IAM140"
    assert (folder / "good-no-evidence.json").read_text() == (folder / "bad-unused-writes.json").read_text()
    assert not (folder / "good-no-evidence.settings.json").exists()


def test_recorded_calls_without_a_caller_are_not_silently_ignored(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # `iamlint record` cannot see which role its calls run as: they name no caller.
    lines = [json.loads(line) for line in (ROOT / CFN_EVIDENCE).read_text().splitlines() if line.strip()]
    recorded = tmp_path / "recorded.jsonl"
    recorded.write_text("".join(json.dumps({**c, "principal": "", "role_arn": None}) + "\n" for c in lines))
    code, findings, err = _check(monkeypatch, CFN, "--evidence", str(recorded))
    assert code == 0 and not findings
    assert f"{len(lines)} of the calls name no caller" in err and "iamlint narrow --function" in err
    code, _, err = _check(monkeypatch, CFN, "--evidence", str(recorded), "--session", "orders-worker")
    assert code == 2 and "name no caller" in err
