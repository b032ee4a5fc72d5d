"""Baselines: record today's findings, report only new ones; robust to moved lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from iamlint.cli import cli

POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "Tables", "Effect": "Allow", "Action": ["dynamodb:DescribeTable"], "Resource": "*"},
        {"Sid": "Admin", "Effect": "Allow", "Action": "*", "Resource": "*"},
    ],
}


def run(*args: str) -> tuple[int, str]:
    """Exit status and standard output (what a script reads)."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout


def run_seen(*args: str) -> tuple[int, str]:
    """Exit status and what a person sees: standard output and error together."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / ".git").mkdir()  # the repository root: baseline paths are relative to it
    (tmp_path / "iam").mkdir()
    (tmp_path / "iam" / "app.json").write_text(json.dumps(POLICY, indent=2))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _rules(output: str) -> list[str]:
    return [f["rule"] for f in json.loads(output)["findings"]]


def test_write_then_only_new_findings(project: Path) -> None:
    code, _ = run("check", "iam", "--baseline-write", ".iamlint-baseline.json")
    assert code == 0
    baseline = json.loads((project / ".iamlint-baseline.json").read_text())
    assert baseline["version"] == 2 and len(baseline["findings"]) >= 2
    assert {e["file"] for e in baseline["findings"]} == {"iam/app.json"}
    assert all(len(e["fingerprint"]) == 32 for e in baseline["findings"])
    code, out = run("check", "iam", "--baseline", ".iamlint-baseline.json", "--format", "json")
    assert code == 0 and _rules(out) == []
    # A new over-broad statement is reported, the old ones are not.
    doc = json.loads(json.dumps(POLICY))
    doc["Statement"].append({"Sid": "Queues", "Effect": "Allow", "Action": "sqs:GetQueueAttributes", "Resource": "*"})
    (project / "iam" / "app.json").write_text(json.dumps(doc, indent=2))
    code, out = run("check", "iam", "--baseline", ".iamlint-baseline.json", "--format", "json")
    assert code == 1
    assert {f["statement"]["sid"] for f in json.loads(out)["findings"]} == {"Queues"}


def test_moving_statements_and_adding_lines_keeps_them_matched(project: Path) -> None:
    run("check", "iam", "--baseline-write", "b.json")
    doc = {"Version": "2012-10-17", "Statement": list(reversed(POLICY["Statement"]))}  # type: ignore[call-overload]
    (project / "iam" / "app.json").write_text("\n\n\n" + json.dumps(doc, indent=4))
    code, out = run("check", "iam", "--baseline", "b.json", "--format", "json")
    assert code == 0 and _rules(out) == []


def test_changing_what_a_statement_grants_makes_it_new(project: Path) -> None:
    run("check", "iam", "--baseline-write", "b.json")
    doc = json.loads(json.dumps(POLICY))
    doc["Statement"][0]["Action"] = ["dynamodb:DescribeTable", "dynamodb:DeleteTable"]
    (project / "iam" / "app.json").write_text(json.dumps(doc, indent=2))
    code, out = run("check", "iam", "--baseline", "b.json", "--format", "json")
    assert code == 1
    assert {f["statement"]["sid"] for f in json.loads(out)["findings"]} == {"Tables"}


def test_same_fingerprints_from_a_subdirectory(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run("check", "iam", "--baseline-write", "b.json")
    monkeypatch.chdir(project / "iam")
    code, out = run("check", "app.json", "--baseline", "../b.json", "--format", "json")
    assert code == 0 and _rules(out) == []


def test_input_errors_are_never_baselined(project: Path) -> None:
    (project / "iam" / "broken.json").write_text('{"Version": "2012-10-17", "Statement": [')
    code, _ = run("check", "iam", "--baseline-write", "b.json")
    assert code == 2
    entries = json.loads((project / "b.json").read_text())["findings"]
    assert "IAM001" not in {e["rule"] for e in entries}
    code, out = run("check", "iam", "--baseline", "b.json", "--format", "json")
    assert code == 2 and _rules(out) == ["IAM001"]


def test_bad_baseline_files_exit_2(project: Path) -> None:
    code, out = run_seen("check", "iam", "--baseline", "missing.json")
    assert code == 2 and "baseline file not found" in out
    for text in ("[1, 2]", '{"version": true, "findings": []}'):  # true == 1 in Python, not here
        (project / "b.json").write_text(text)
        code, out = run_seen("check", "iam", "--baseline", "b.json")
        assert code == 2 and "not an iamlint baseline" in out
    (project / "b.json").write_text('{"version": 1, "findings": []}')
    code, out = run_seen("check", "iam", "--baseline", "b.json")
    assert code == 2 and "version 1 baseline" in out and "--baseline-write" in out


def test_baseline_from_configuration(project: Path) -> None:
    run("check", "iam", "--baseline-write", "b.json")
    (project / ".iamlint.yaml").write_text("baseline: b.json\n")
    code, out = run("check", "iam", "--format", "json")
    assert code == 0 and _rules(out) == []


def test_writing_and_reading_say_how_many_findings_the_baseline_holds(project: Path) -> None:
    code, out = run_seen("check", "iam", "--baseline-write", "b.json")
    recorded = len(json.loads((project / "b.json").read_text())["findings"])
    assert recorded > 1 and f"b.json: {recorded} findings recorded as the baseline" in out
    code, out = run_seen("check", "iam", "--baseline", "b.json")
    assert code == 0 and f"b.json: {recorded} findings in the baseline, not shown" in out
