"""SARIF, GitHub annotations and the Markdown summary, end to end through the CLI.

The SARIF log is validated by Microsoft's SARIF Multitool (npm), with its default SARIF rules
and with GitHub's ingestion rules (`--rule-kind Gh`): no errors and no warnings allowed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES, ROOT
from tooling import sarif_multitool

from iamlint.cli import OUTPUT_FORMATS, cli
from iamlint.reporters import FORMATS

INTEGRATION = FIXTURES / "integration"
SEVERITY_SCORE = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "1.0"}


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def sarif_log(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """One run over every kind of input, input errors included (cwd: the repository)."""
    target = tmp_path_factory.mktemp("sarif") / "iamlint.sarif"
    code, _ = run_in_root(
        "check",
        "fixtures/demo",
        "fixtures/rules/IAM001/bad-truncated.json",
        "fixtures/rules/IAM002/bad-missing-action.json",
        "fixtures/integration/cfn",
        "fixtures/integration/cdk/cdk.out",
        "--format",
        "text",
        "--output",
        f"sarif={target}",
    )
    assert code == 2  # the truncated file is an input error
    log: dict[str, object] = json.loads(target.read_text())
    log["__path__"] = str(target)
    return log


def run_in_root(*args: str) -> tuple[int, str]:
    import os

    before = os.getcwd()
    os.chdir(ROOT)
    try:
        return run(*args)
    finally:
        os.chdir(before)


def _run(log: dict[str, object]) -> dict[str, object]:
    runs = log["runs"]
    assert isinstance(runs, list) and len(runs) == 1
    run0: dict[str, object] = runs[0]
    return run0


def test_formats_table_and_cli_choices_agree() -> None:
    assert OUTPUT_FORMATS == list(FORMATS)


def test_every_rule_is_described_with_help(sarif_log: dict[str, object]) -> None:
    from iamlint.ruleset import load_builtin_rules

    driver = _run(sarif_log)["tool"]["driver"]  # type: ignore[index]
    assert sarif_log["version"] == "2.1.0"
    ids = [r["id"] for r in driver["rules"]]
    assert set(load_builtin_rules()) <= set(ids)
    for rule in driver["rules"]:
        assert rule["help"]["text"] and rule["help"]["markdown"], rule["id"]
        assert rule["helpUri"].startswith("https://") and rule["id"].lower() in rule["helpUri"]
        if rule["id"] in ("IAM001", "IAM003", "IAM004"):  # about the run, not a policy's risk
            assert "security-severity" not in rule["properties"] and "security" not in rule["properties"]["tags"]
            continue
        sev = rule["properties"]["security-severity"]
        assert sev in SEVERITY_SCORE.values()
    assert driver["name"] == "iamlint" and driver["version"]


def test_results_locations_levels_and_fingerprints(sarif_log: dict[str, object]) -> None:
    run0 = _run(sarif_log)
    results = run0["results"]
    assert isinstance(results, list) and results
    rule_ids = [r["id"] for r in run0["tool"]["driver"]["rules"]]  # type: ignore[index]
    assert run0["originalUriBaseIds"]["%SRCROOT%"]["uri"] == ROOT.as_uri() + "/"  # type: ignore[index]
    for r in results:
        assert rule_ids[r["ruleIndex"]] == r["ruleId"]
        art = r["locations"][0]["physicalLocation"]["artifactLocation"]
        assert art["uriBaseId"] == "%SRCROOT%" and not art["uri"].startswith("/")
        assert (ROOT / art["uri"]).exists(), art["uri"]
        assert len(r["partialFingerprints"]["iamlint/v2"]) == 32
        sev = r["properties"]["severity"]
        assert r["properties"].get("security-severity") == (
            None if r["ruleId"] in ("IAM001", "IAM004") else SEVERITY_SCORE[sev]
        )
        assert (
            r["level"]
            == {"critical": "error", "high": "error", "medium": "warning", "low": "warning", "info": "note"}[sev]
        )
    by_rule = {r["ruleId"] for r in results}
    assert {"IAM001", "IAM002", "IAM004", "IAM105"} <= by_rule
    errors = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]: r["locations"][0]["physicalLocation"]
        for r in results
        if r["ruleId"] == "IAM001"
    }
    assert errors["fixtures/rules/IAM001/bad-truncated.json"]["region"] == {"startLine": 5, "startColumn": 1}
    # A suppression without a reason is an input error at the entry, so it reaches code scanning.
    assert errors["fixtures/integration/cfn/no-reason.yaml"]["region"]["startLine"] == 8


def test_logical_locations_name_construct_paths_and_logical_ids(sarif_log: dict[str, object]) -> None:
    results = _run(sarif_log)["results"]
    cdk = [r for r in results if "cdk.out" in r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]]  # type: ignore[union-attr]
    assert cdk
    names = {ll["fullyQualifiedName"] for r in cdk for ll in r["locations"][0].get("logicalLocations", [])}
    assert "LegacyStack/ReportsRole/DefaultPolicy/Resource" in names
    assert "Resources.ReportsRoleDefaultPolicy5F3E1A2B" in names


def _validate(path: str, tmp: Path, *extra: str) -> list[dict[str, object]]:
    out = tmp / f"validation{'-'.join(extra)}.sarif"
    proc = subprocess.run(
        [*sarif_multitool(), "validate", path, "-o", str(out), "--log", "ForceOverwrite", *extra],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Analysis completed successfully" in proc.stdout
    report = json.loads(out.read_text())
    run0 = report["runs"][0]
    notifications = [
        n
        for inv in run0.get("invocations", [])
        for n in inv.get("toolExecutionNotifications", []) + inv.get("toolConfigurationNotifications", [])
    ]
    assert not notifications, notifications
    found: list[dict[str, object]] = run0.get("results", [])
    return found


def test_sarif_multitool_validates_with_no_errors_or_warnings(sarif_log: dict[str, object], tmp_path: Path) -> None:
    problems = _validate(str(sarif_log["__path__"]), tmp_path)
    assert [(p["ruleId"], p["message"]) for p in problems if p.get("level", "warning") in ("error", "warning")] == []


def test_sarif_multitool_github_rules_with_no_errors_or_warnings(sarif_log: dict[str, object], tmp_path: Path) -> None:
    problems = _validate(str(sarif_log["__path__"]), tmp_path, "--rule-kind", "Gh")
    assert [(p["ruleId"], p["message"]) for p in problems if p.get("level", "warning") in ("error", "warning")] == []


def test_multitool_catches_a_broken_log(sarif_log: dict[str, object], tmp_path: Path) -> None:
    """The validation above can fail: a result without locations breaks GitHub's rules."""
    broken = json.loads(Path(str(sarif_log["__path__"])).read_text())
    del broken["runs"][0]["results"][0]["locations"]
    path = tmp_path / "broken.sarif"
    path.write_text(json.dumps(broken))
    problems = _validate(str(path), tmp_path, "--rule-kind", "Gh")
    assert any(p["level"] == "error" for p in problems)


def _fingerprints(folder: Path, name: str) -> dict[str, str]:
    import os

    before = os.getcwd()
    os.chdir(folder)
    try:
        code, out = run("check", name, "--format", "sarif")
    finally:
        os.chdir(before)
    assert code == 1
    return {
        f"{r['ruleId']}:{r['properties'].get('actions')}": r["partialFingerprints"]["iamlint/v2"]
        for r in json.loads(out)["runs"][0]["results"]
    }


def test_fingerprints_ignore_moved_lines_but_not_changed_grants(tmp_path: Path) -> None:
    shutil.copy(INTEGRATION / "cfn" / "suppressed.yaml", tmp_path / "t.yaml")
    (tmp_path / ".git").mkdir()  # the repository root
    template = (tmp_path / "t.yaml").read_text().replace("Metadata:", "MetadataOff:")
    (tmp_path / "t.yaml").write_text(template)
    first = _fingerprints(tmp_path, "t.yaml")
    assert first
    moved = template.replace("Resources:\n", "Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n\n\n", 1)
    (tmp_path / "t.yaml").write_text(moved)
    assert _fingerprints(tmp_path, "t.yaml") == first
    changed = template.replace("dynamodb:DeleteTable", "dynamodb:UpdateTable")
    (tmp_path / "t.yaml").write_text(changed)
    # Only the untouched AuditRole statement keeps its fingerprint.
    unchanged = first["IAM105:['dynamodb:DescribeTable']"]
    assert set(_fingerprints(tmp_path, "t.yaml").values()) & set(first.values()) == {unchanged}


def test_fingerprints_name_globs_not_the_catalogues_expansion(tmp_path: Path) -> None:
    """A newer catalogue that adds an action to s3:* must not make a baselined finding new."""
    from iamlint.fingerprints import fingerprint
    from iamlint.model import Evidence, Finding, Location, Severity

    def finding(actions: tuple[str, ...], written: tuple[str, ...] | None) -> Finding:
        return Finding(
            rule="IAM122",
            name="resource-exposure",
            severity=Severity.HIGH,
            category="risk",
            message="m",
            fix="",
            location=Location(str(tmp_path / "p.json"), 1, 1),
            evidence=Evidence(actions=actions),
            signature="s",
            written_actions=written,
        )

    today = ("s3:PutBucketAcl", "s3:PutBucketPolicy")
    tomorrow = (*today, "s3:PutBucketNewThing")
    root = str(tmp_path)
    assert fingerprint(finding(today, ("s3:*",)), root) == fingerprint(finding(tomorrow, ("s3:*",)), root)
    # Named actions stay themselves; a NotAction statement's expansion is left to its signature.
    assert fingerprint(finding(("s3:PutBucketPolicy",), ("s3:PutBucketPolicy",)), root) != fingerprint(
        finding(("s3:PutBucketAcl",), ("s3:PutBucketAcl",)), root
    )
    assert fingerprint(finding(today, ()), root) == fingerprint(finding(tomorrow, ()), root)


def test_a_run_holds_at_most_what_code_scanning_accepts_most_severe_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from iamlint.reporters import sarif

    monkeypatch.setattr(sarif, "MAX_RESULTS", 3)
    statements = [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}] * 2 + [
        {"Effect": "Allow", "Action": "*", "Resource": "*"}
    ]
    (tmp_path / "p.json").write_text(
        json.dumps({f"p{i}": {"Version": "2012-10-17", "Statement": [st]} for i, st in enumerate(statements)})
    )
    result = CliRunner().invoke(cli, ["check", str(tmp_path / "p.json"), "--format", "sarif"])
    assert result.exit_code == 1 and "the SARIF report holds the 3 most severe" in result.stderr
    run = json.loads(result.stdout)["runs"][0]
    assert len(run["results"]) == 3 and "IAM101" in {r["ruleId"] for r in run["results"]}
    [note] = run["invocations"][0]["toolExecutionNotifications"]
    assert "left out of this file" in note["message"]["text"]


def test_input_errors_are_not_security_alerts(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text('{"Version": "2012-10-17", "Statement": [')
    code, out = run("check", str(tmp_path / "broken.json"), "--format", "sarif")
    run_ = json.loads(out)["runs"][0]
    [r] = run_["results"]
    assert code == 2 and r["ruleId"] == "IAM001" and "security-severity" not in r["properties"]
    assert "security" not in r["properties"]["tags"] and run_["invocations"] == [{"executionSuccessful": False}]
    rule = next(d for d in run_["tool"]["driver"]["rules"] if d["id"] == "IAM001")
    assert "security-severity" not in rule["properties"] and "security" not in rule["properties"]["tags"]


def test_identical_statements_get_distinct_fingerprints(tmp_path: Path) -> None:
    statement = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
    (tmp_path / ".git").mkdir()
    (tmp_path / "p.json").write_text(
        json.dumps({"Version": "2012-10-17", "Statement": [{**statement, "Sid": "A"}, {**statement, "Sid": "B"}]})
    )
    code, out = run("check", str(tmp_path / "p.json"), "--format", "sarif")
    assert code == 1
    keys = [
        r["partialFingerprints"]["iamlint/v2"] for r in json.loads(out)["runs"][0]["results"] if r["ruleId"] == "IAM103"
    ]
    assert len(keys) == 2 and len(set(keys)) == 2 and keys[1] == keys[0] + ":2"


def test_github_annotations_escape_data_and_properties(tmp_path: Path) -> None:
    from iamlint.model import Finding, Location, Severity
    from iamlint.reporters.github import command

    f = Finding(
        rule="IAM105",
        name="resource-star",
        severity=Severity.MEDIUM,
        category="c",
        message="50% of a,b:\nnext",
        fix="",
        location=Location(str(tmp_path / "a,b:c.json"), 3, 7),
    )
    line = command(f, str(tmp_path))
    assert (
        line == "::warning file=a%2Cb%3Ac.json,line=3,col=7,title=IAM105 resource-star::[medium] 50%25 of a,b:%0Anext"
    )
    code, out = run("check", str(FIXTURES / "rules" / "IAM101" / "bad-star-star.json"), "--format", "github")
    assert code == 1
    assert any(l.startswith("::error file=") and "title=IAM101 full-admin::" in l for l in out.splitlines())


def test_github_annotations_come_most_severe_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """GitHub shows the first 10 error and 10 warning annotations of a step."""
    from iamlint.model import Severity

    monkeypatch.chdir(ROOT)
    code, out = run("check", "fixtures/demo", "--format", "github")
    levels = [line.split(" ", 1)[0] for line in out.splitlines() if line.startswith("::")]
    order = {"::error": 0, "::warning": 1, "::notice": 2}
    assert code == 1 and levels == sorted(levels, key=order.__getitem__) and levels[0] == "::error"
    assert Severity.CRITICAL.value > Severity.HIGH.value


def test_markdown_summary_counts_and_links(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("GITHUB_REPOSITORY", "octo/repo")
    monkeypatch.setenv("GITHUB_SHA", "abc123")
    code, out = run("check", "fixtures/demo", "--format", "markdown")
    assert code == 1
    assert out.startswith("## iamlint\n")
    assert "| 🔴 high |" in out
    assert "(https://github.com/octo/repo/blob/abc123/fixtures/demo/orders-service-policy.json#L7)" in out
    rows = [l for l in out.splitlines() if l.startswith("| ") and "](" in l and "IAM" in l]
    code, js = run("check", "fixtures/demo", "--format", "json")
    assert len(rows) == len(json.loads(js)["findings"])


def test_several_outputs_in_one_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    outs = {fmt: tmp_path / f"report.{fmt}" for fmt in FORMATS}
    args = [a for fmt, p in outs.items() for a in ("--output", f"{fmt}={p}")]
    code, shown = run("check", "fixtures/demo", "--format", "github", *args)
    assert code == 1 and shown.startswith("::")
    assert json.loads(outs["sarif"].read_text())["version"] == "2.1.0"
    assert json.loads(outs["json"].read_text())["findings"]
    assert outs["markdown"].read_text().startswith("## iamlint")
    assert outs["github"].read_text() == shown
    assert not list(tmp_path.glob(".iamlint-*"))  # no temporary files left behind


def test_missing_npm_fails_with_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    import tooling

    monkeypatch.setattr(tooling.shutil, "which", lambda _name: None)
    with pytest.raises(pytest.fail.Exception, match="install Node.js and npm"):
        tooling._require("npm")


def test_sarif_in_pieces_is_the_whole_log_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """`render_parts` (what the CLI writes) gives `render`'s text byte for byte, batches and all,
    with a custom rule's ad hoc descriptor and without any finding."""
    from iamlint.engine import LintConfig, LintResult
    from iamlint.loaders.inputs import InputOptions
    from iamlint.reporters import ReportOptions, sarif
    from iamlint.runner import check_paths

    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(sarif, "_BATCH", 7)
    result, engine = check_paths(["fixtures/demo", "fixtures/rules/IAM001"], InputOptions(), LintConfig(), 1)
    assert len(result.findings) > 3 * 7
    rules = {k: v for k, v in engine.rules.items() if k != "IAM103"}  # as for a rule the table lacks
    options = ReportOptions(tool_version="1.2.3", catalog_version="2026-10-27")
    for run_result in (result, LintResult(findings=(), documents=0, files=0)):
        whole = sarif.render(run_result, rules, options)
        assert "".join(sarif.render_parts(run_result, rules, options)) == whole
        json.loads(whole)


def test_markdown_gives_input_text_no_markdown_power(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Sid or resource from the input must not become an image fetched from elsewhere, a
    link, a mention or a broken table in a pull-request comment."""
    monkeypatch.chdir(tmp_path)
    evil = "![x](https://evil.example/p.png) @octocat [click](http://evil.example) | <b>"
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Sid": evil, "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{evil}"}],
    }
    (tmp_path / "p.json").write_text(json.dumps(policy))
    code, out = run("check", "p.json", "--format", "markdown")
    rows = [line for line in out.splitlines() if line.startswith("| ") and "IAM" in line]
    assert code == 1 and rows
    for row in rows:
        assert "![" not in row and "](http" not in row.split("| ", 3)[-1] and "<b>" not in row
        assert " @octocat" not in row and "https://evil" not in row
        assert row.count(" | ") == 3  # four cells, whatever the message holds
