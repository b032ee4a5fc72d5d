"""The command line, in-process with click's runner and once through the installed script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES, ROOT, check_golden

from iamlint.cli import cli
from iamlint.schemas import validate

DEMO = FIXTURES / "demo"
GOLDEN = FIXTURES / "golden"
RULES = FIXTURES / "rules"


def run(*args: str, input: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)
    return result.exit_code, result.output


def test_text_output_golden() -> None:
    os.chdir(ROOT)
    code, out = run(
        "check", "fixtures/demo/orders-service-policy.json", "fixtures/demo/reporting-policy.json", "--no-color"
    )
    assert code == 1
    check_golden(GOLDEN / "demo-check.txt", out)


def test_json_output_golden_and_schema() -> None:
    os.chdir(ROOT)
    code, out = run(
        "check", "fixtures/demo/orders-service-policy.json", "fixtures/demo/reporting-policy.json", "--format", "json"
    )
    assert code == 1
    report = json.loads(out)
    assert validate("output", report) == []
    check_golden(GOLDEN / "demo-check.json", json.dumps(report, indent=2) + "\n")


def test_json_output_fields() -> None:
    code, out = run("check", str(RULES / "IAM109" / "bad-passrole-star.json"), "--format", "json")
    assert code == 1
    report = json.loads(out)
    finding = next(f for f in report["findings"] if f["rule"] == "IAM109")
    assert finding["location"]["line"] == 6 and finding["location"]["column"] >= 1
    assert finding["statement"] == {"sid": None, "index": 0}
    assert finding["evidence"]["actions"] == ["iam:PassRole"]
    assert finding["source"]["kind"] == "file"
    assert report["summary"]["documents"] == 1


def test_exit_codes_and_fail_on() -> None:
    good = str(RULES / "IAM105" / "good-scoped.json")
    medium_only = str(RULES / "IAM103" / "bad-dynamodb-star-scoped.json")
    assert run("check", good)[0] == 0
    assert run("check", medium_only)[0] == 1
    assert run("check", medium_only, "--fail-on", "high")[0] == 0
    assert run("check", str(RULES / "IAM001" / "bad-truncated.json"))[0] == 2
    assert run("check", "no-such-file.json")[0] == 2
    assert run("check", good, "--severity", "IAM103")[0] == 2  # usage error


def test_input_error_does_not_stop_other_inputs() -> None:
    code, out = run(
        "check",
        str(RULES / "IAM001" / "bad-truncated.json"),
        str(RULES / "IAM101" / "bad-star-star.json"),
        "--no-color",
    )
    assert code == 2
    assert "IAM001" in out and "IAM101" in out
    assert "bad-truncated.json:5:1" in out  # line and column of the JSON error


def test_select_ignore_and_severity_override() -> None:
    path = str(DEMO / "orders-service-policy.json")
    _, out = run("check", path, "--select", "IAM10", "--ignore", "IAM105,IAM106", "--format", "json")
    rules = {f["rule"] for f in json.loads(out)["findings"]}
    assert rules and all(r.startswith("IAM10") for r in rules) and not rules & {"IAM105", "IAM106"}
    _, out = run("check", path, "--select", "IAM103", "--severity", "IAM103=critical", "--format", "json")
    assert {f["severity"] for f in json.loads(out)["findings"]} == {"critical"}


def test_stdin() -> None:
    doc = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    code, out = run("check", "-", "--no-color", input=doc)
    assert code == 1 and "<stdin>:1:" in out and "IAM101" in out


_READS_ANYWHERE = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "Reads", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}],
    }
)


def test_stdin_filename_names_standard_input_in_findings_settings_and_baselines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An editor sends a buffer's unsaved text on standard input and names its file: findings
    point at that file, and per-path settings, configured suppressions and the baseline apply
    to it as they would to the file on disk."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".iamlint.yaml").write_text(
        'per_path:\n  - paths: ["legacy/**"]\n    ignore: [IAM105]\n'
        'suppressions:\n  - paths: ["reviewed/*.json"]\n    sid: Reads\n    rule: IAM110\n'
        "    reason: reviewed in SEC-1\n"
    )

    def rules(name: str, *extra: str, text: str = _READS_ANYWHERE) -> set[str]:
        result = CliRunner().invoke(
            cli,
            ["check", "-", "--stdin-filename", name, "--format", "json", *extra],
            input=text,
            catch_exceptions=False,
        )
        assert result.exit_code in (0, 1), result.output
        report = json.loads(result.stdout)  # the baseline's count goes to standard error
        # every finding but an unused suppression's (which points at the configuration) names it
        assert {f["location"]["file"] for f in report["findings"] if f["rule"] != "IAM004"} <= {name}
        return {f["rule"] for f in report["findings"]}

    assert {"IAM105", "IAM110"} <= rules("app/policy.json")
    assert "IAM105" not in rules("legacy/policy.json") and "IAM110" in rules("legacy/policy.json")
    assert "IAM110" not in rules("reviewed/policy.json") and "IAM105" in rules("reviewed/policy.json")
    # Once the buffer no longer needs it, the suppression of the file it names is unused.
    scoped = _READS_ANYWHERE.replace('"*"', '"arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf"')
    assert rules("reviewed/policy.json", text=scoped) == {"IAM004"}

    code, out = run("check", "-", "--stdin-filename", "app/policy.json", "--format", "sarif", input=_READS_ANYWHERE)
    uris = {
        loc["physicalLocation"]["artifactLocation"]["uri"]
        for r in json.loads(out)["runs"][0]["results"]
        for loc in r["locations"]
    }
    assert code == 1 and uris == {"app/policy.json"}

    # A baseline recorded from the file on disk matches its text sent on standard input.
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "policy.json").write_text(_READS_ANYWHERE)
    assert run("check", "app/policy.json", "--baseline-write", "baseline.json")[0] == 0
    assert rules("app/policy.json", "--baseline", "baseline.json") == set()
    assert "IAM105" in rules("app/other.json", "--baseline", "baseline.json")


def test_stdin_filename_without_standard_input_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(_READS_ANYWHERE)
    result = CliRunner().invoke(cli, ["check", str(path), "--stdin-filename", "p.json"])
    assert result.exit_code == 2 and "give - among the paths" in result.output


def test_a_cdk_manifest_on_standard_input_is_refused_not_read_from_disk() -> None:
    """Its name would lead to the assembly on disk, whose manifest may differ from the text sent."""
    manifest = FIXTURES / "integration" / "cdk" / "cdk.out" / "manifest.json"
    code, out = run("check", "-", "--stdin-filename", str(manifest), "--format", "json", input=manifest.read_text())
    report = json.loads(out)
    assert code == 2 and all(f["rule"] == "IAM001" for f in report["findings"])
    assert [e["file"] for e in report["errors"]] == [str(manifest)]
    assert "not standard input" in report["errors"][0]["message"]


def test_directories_with_include_and_exclude(tmp_path: Path) -> None:
    shutil.copytree(RULES / "IAM101", tmp_path / "policies")
    (tmp_path / "policies" / "package.json").write_text('{"name": "not-iam"}')
    (tmp_path / "node_modules").mkdir()
    shutil.copy(RULES / "IAM102" / "bad-star-on-bucket.json", tmp_path / "node_modules" / "x.json")
    _, out = run("check", str(tmp_path), "--format", "json")
    report = json.loads(out)
    files = {Path(f["location"]["file"]).name for f in report["findings"]}
    assert files == {"bad-star-star.json", "bad-notaction-star.json"}  # package.json skipped quietly
    assert report["errors"] == []
    _, out = run("check", str(tmp_path), "--exclude", "bad-star-*", "--format", "json")
    assert {Path(f["location"]["file"]).name for f in json.loads(out)["findings"]} == {"bad-notaction-star.json"}
    _, out = run("check", str(tmp_path), "--include", "*notaction*", "--format", "json")
    assert {Path(f["location"]["file"]).name for f in json.loads(out)["findings"]} == {"bad-notaction-star.json"}


def test_output_to_several_files(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    code, out = run("check", str(RULES / "IAM101" / "bad-star-star.json"), "--output", f"json={target}", "--no-color")
    assert code == 1 and "IAM101" in out
    assert json.loads(target.read_text())["findings"][0]["rule"] == "IAM101"


def test_rules_and_rule_commands() -> None:
    code, out = run("rules")
    assert code == 0 and "IAM101" in out and "full-admin" in out
    code, out = run("rule", "IAM105")
    assert code == 0 and "Why:" in out and "Fix:" in out and "Example (reported)" in out
    assert run("rule", "IAM999")[0] == 2


def test_version_prints_catalogue_date() -> None:
    code, out = run("--version")
    assert code == 0 and "iamlint 0.1.0" in out and "2026-10-27" in out


def test_installed_console_script() -> None:
    exe = shutil.which("iamlint", path=os.path.dirname(sys.executable))
    assert exe is not None, "the iamlint console script is installed next to the interpreter"
    proc = subprocess.run(
        [exe, "check", str(RULES / "IAM101" / "bad-star-star.json"), "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["findings"][0]["rule"] == "IAM101"
    proc = subprocess.run([exe, "check", "--no-such-option"], capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "No such option" in proc.stderr


def test_rule_reference_is_current() -> None:
    code, out = run("rules", "--format", "markdown")
    assert code == 0
    reference = ROOT / "docs" / "rules.md"
    assert out == reference.read_text(), "docs/rules.md is stale: iamlint rules --format markdown > docs/rules.md"


def test_color_is_kept_on_a_pipe_when_asked_for_and_input_escapes_stay_escaped() -> None:
    # The Sid carries a terminal escape of its own: it is shown escaped, never acted on.
    doc = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Sid": "x\x1b[2Jy", "Effect": "Allow", "Action": "*", "Resource": "*"}],
        }
    )
    code, out = run("check", "-", "--color", input=doc)
    assert code == 1
    assert "\x1b[" in out  # our own colours, though the output is not a terminal
    assert "\x1b[2J" not in out and "x\\x1b[2Jy" in out
    code, plain = run("check", "-", input=doc)
    assert "\x1b" not in plain  # not a terminal and no --color: no colour
