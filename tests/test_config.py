"""The configuration file: discovery, validation messages, precedence of flags, per-path
settings, rule settings, parameters and custom rules."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import FIXTURES
from hypothesis import given, settings
from hypothesis import strategies as st

from iamlint import config
from iamlint.cli import cli
from iamlint.config import glob_match, load_config

INTEGRATION = FIXTURES / "integration"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def rules_of(output: str) -> list[str]:
    return sorted(f["rule"] for f in json.loads(output)["findings"])


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for folder in ("policies", "legacy", "sub/deeper"):
        (tmp_path / folder).mkdir(parents=True)
    shutil.copy(INTEGRATION / "policies" / "legacy-admin.json", tmp_path / "policies" / "app.json")
    shutil.copy(INTEGRATION / "policies" / "legacy-admin.json", tmp_path / "legacy" / "old.json")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_glob_semantics() -> None:
    assert glob_match("legacy/**", "legacy/a/b.json")
    assert glob_match("legacy/", "legacy/a.json")
    assert not glob_match("legacy/*", "legacy/a/b.json")
    assert glob_match("*.json", "deep/x/y.json")  # no slash: matches the name anywhere
    assert glob_match("**/cdk.out/**", "app/cdk.out/x.json")
    assert not glob_match("policies/*.json", "legacy/policies/a.json")


def test_discovered_from_a_parent_folder(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / ".iamlint.yaml").write_text("ignore: [IAM105]\n")
    monkeypatch.chdir(project / "sub" / "deeper")
    code, out = run("check", "../../policies", "--format", "json")
    assert code == 0 and rules_of(out) == []


def test_pyproject_table(project: Path) -> None:
    (project / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.iamlint]\nignore = ["IAM105"]\n')
    code, out = run("check", "policies", "--format", "json")
    assert code == 0 and rules_of(out) == []


def test_pyproject_without_table_is_not_a_configuration(project: Path) -> None:
    (project / "pyproject.toml").write_text('[project]\nname = "x"\n')
    code, out = run("check", "policies", "--format", "json")
    assert code == 1 and "IAM105" in rules_of(out)


def test_explicit_config_path(project: Path) -> None:
    (project / "strict.yaml").write_text("fail_on: high\n")
    assert run("check", "policies")[0] == 1
    assert run("check", "policies", "--config", "strict.yaml")[0] == 0
    code, out = run("check", "policies", "--config", "nope.yaml")
    assert code == 2 and "nope.yaml: configuration file not found" in out


@pytest.mark.parametrize(
    "text,expected",
    [
        (
            "per_path:\n  - paths: [legacy/**]\n    ignor: [IAM105]\n",
            [".iamlint.yaml:2:5: per_path/0", "'ignor' was unexpected"],
        ),
        ("fail_on: severe\n", [".iamlint.yaml:1:1: fail_on", "'severe' is not one of"]),
        ("selct: [IAM1]\n", ["unknown setting", "'selct' was unexpected"]),
        ("known_accounts: [123456789012]\n", ["known_accounts/0", "is not of type 'string'"]),
        ("severity:\n  IAM103: urgent\n", ["severity/IAM103", "'urgent' is not one of"]),
        ("select: [IAM1\n", [".iamlint.yaml:"]),
        ("categories: [secrets]\n", ["categories/0", "'secrets' is not one of"]),
    ],
)
def test_invalid_configuration_names_the_key(project: Path, text: str, expected: list[str]) -> None:
    (project / ".iamlint.yaml").write_text(text)
    code, out = run("check", "policies")
    assert code == 2
    for part in expected:
        assert part in out, out


def test_invalid_toml_configuration_names_the_key(project: Path) -> None:
    (project / "pyproject.toml").write_text('[tool.iamlint]\nfail-on = "high"\n')
    code, out = run("check", "policies")
    assert code == 2 and "[tool.iamlint]" in out and "'fail-on' was unexpected" in out


def test_flags_override_the_file(project: Path) -> None:
    (project / ".iamlint.yaml").write_text("fail_on: critical\nselect: [IAM2]\nseverity: {IAM105: info}\n")
    code, out = run("check", "policies", "--format", "json")
    assert code == 0 and rules_of(out) == []  # IAM2xx selects nothing here
    code, out = run("check", "policies", "--select", "IAM105", "--format", "json")
    assert code == 0 and {f["severity"] for f in json.loads(out)["findings"]} == {"info"}
    code, out = run("check", "policies", "--select", "IAM105", "--severity", "IAM105=high", "--fail-on", "medium")
    assert code == 1


def test_per_path_rules_and_severities(project: Path) -> None:
    (project / ".iamlint.yaml").write_text(
        "per_path:\n  - paths: ['legacy/**']\n    ignore: [IAM105]\n"
        "  - paths: ['policies/*.json']\n    severity: {IAM105: high}\n"
    )
    _code, out = run("check", ".", "--format", "json")
    found = json.loads(out)["findings"]
    assert {f["location"]["file"].split("/")[-2] for f in found if f["rule"] == "IAM105"} == {"policies"}
    assert {f["severity"] for f in found if f["rule"] == "IAM105"} == {"high"}


def test_exclude_applies_to_walked_and_named_files(project: Path) -> None:
    (project / ".iamlint.yaml").write_text("exclude: ['legacy/**']\n")
    code, out = run("check", ".", "--format", "json")
    assert all("legacy" not in f["location"]["file"] for f in json.loads(out)["findings"])
    code, out = run("check", "legacy/old.json", "--format", "json")
    assert code == 0 and rules_of(out) == []


def test_settings_and_parameters_reach_the_engine_and_loaders(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / ".iamlint.yaml").write_text(
        "known_accounts: ['111122223333']\nforbidden_actions: ['iam:CreateUser']\n"
        "forbidden_resources: ['arn:aws:s3:::audit*']\nsensitive_actions: {secrets: ['ssm:GetParametersByPath']}\n"
        "categories: [data_exfiltration]\nparameters: {Env: prod, Count: 3}\n"
    )
    seen: dict[str, Any] = {}
    import iamlint.runner

    real = iamlint.runner.check_paths

    def spy(paths: Any, options: Any, config: Any, jobs: int = 0, post: Any = None) -> Any:
        seen.update(settings=dict(config.settings), parameters=dict(options.parameters))
        return real(paths, options, config, jobs, post=post)

    monkeypatch.setattr(iamlint.runner, "check_paths", spy)
    run("check", "policies", "--parameter", "Env=dev")
    assert seen["settings"] == {
        "known_accounts": ["111122223333"],
        "forbidden_actions": ["iam:CreateUser"],
        "forbidden_resources": ["arn:aws:s3:::audit*"],
        "sensitive_actions": {"secrets": ["ssm:GetParametersByPath"]},
        "categories": ["data_exfiltration"],
    }
    assert seen["parameters"] == {"Env": "dev", "Count": "3"}  # the flag wins


def test_custom_rule_from_rules_dirs(project: Path) -> None:
    shutil.copytree(INTEGRATION / "custom-rules", project / "iam-rules")
    shutil.copy(INTEGRATION / "policies" / "user-admin.json", project / "policies")
    (project / ".iamlint.yaml").write_text("rules_dirs: [iam-rules]\n")
    code, out = run("check", "policies", "--format", "json")
    assert code == 1
    custom = [f for f in json.loads(out)["findings"] if f["rule"] == "IAM901"]
    assert len(custom) == 1
    assert custom[0]["location"]["file"].endswith("user-admin.json")
    assert custom[0]["evidence"]["actions"] == ["iam:CreateUser", "iam:DeleteUser"]
    assert custom[0]["severity"] == "high"
    _, out = run("check", "policies", "--ignore", "IAM901", "--format", "json")
    assert "IAM901" not in rules_of(out)
    _code, out = run("check", "policies", "--format", "sarif")
    assert "IAM901" in [r["id"] for r in json.loads(out)["runs"][0]["tool"]["driver"]["rules"]]


@pytest.mark.parametrize(
    "edit,message",
    [
        (lambda t: t.replace("id: IAM901", "id: IAM105"), "IAM105 is outside the custom range"),
        (lambda t: t.replace("id: IAM901", "id: IAM899"), "IAM899 is outside the custom range"),
        (lambda t: t.split("match:")[0], "needs a 'match' block"),
        (lambda t: t.replace("severity: high", "severity: extreme"), "IAM901.yaml:3:1: at severity"),
        (
            lambda t: t.replace("grants {actions}", "grants {actions.foo}"),
            "IAM901.yaml:6:1: message placeholder {actions.foo} must be a plain name",
        ),
        (lambda t: t.replace("grants {actions}", "grants {actions"), "is not a valid template"),
        (lambda t: t.replace("identity team", "identit\xe9 team").encode("latin-1"), "IAM901.yaml:6:"),
    ],
)
def test_invalid_custom_rules_exit_2(project: Path, edit: Any, message: str) -> None:
    (project / "iam-rules").mkdir()
    text = (INTEGRATION / "custom-rules" / "IAM901.yaml").read_text()
    edited = edit(text)
    target = project / "iam-rules" / "IAM901.yaml"
    target.write_bytes(edited) if isinstance(edited, bytes) else target.write_text(edited)
    (project / ".iamlint.yaml").write_text("rules_dirs: [iam-rules]\n")
    code, out = run("check", "policies")
    assert code == 2 and message in out


def test_missing_rules_dir(project: Path) -> None:
    (project / ".iamlint.yaml").write_text("rules_dirs: [nowhere]\n")
    code, out = run("check", "policies")
    assert code == 2 and "'nowhere' does not exist" in out and ".iamlint.yaml:1:" in out


def test_load_config_without_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(discover_from=str(tmp_path))
    assert config.path is None and config.select is None and config.settings == {}


def _regex_oracle(pattern: str) -> re.Pattern[str]:
    """The glob as a regex (what the matcher once was): right, but it backtracks for minutes
    on many stars and a long name, so only small cases are asked of it."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] in "*?":
            out.append("[^/]*" if pattern[i] == "*" else "[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="ab/*?", max_size=8), st.text(alphabet="ab/", max_size=8))
def test_config_globs_match_as_their_regex_does(pattern: str, path: str) -> None:
    assert config._glob_full(pattern, path) == bool(_regex_oracle(pattern).match(path))


def test_config_globs_take_linear_time_on_hostile_patterns() -> None:
    # 15 stars on a 60-character name: minutes for a backtracking regex; here a bounded walk.
    assert not config.glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", "a" * 60 + ".json")
    assert config.glob_match("**/*a*a*a*.json", "x/y/" + "a" * 60 + ".json")


@pytest.mark.parametrize(
    "table",
    [
        '[tool.iamlint]\nignore = ["IAM1"]\n',
        'tool.iamlint.ignore = ["IAM1"]\n[project]\nname = "x"\n',
        '[tool]\niamlint = {ignore = ["IAM1"]}\n',
        '["tool".iamlint]\nignore = ["IAM1"]\n',
    ],
)
def test_pyproject_tables_are_found_in_every_toml_spelling(tmp_path: Path, table: str) -> None:
    (tmp_path / "pyproject.toml").write_text(table)
    assert config.discover(str(tmp_path)) == str(tmp_path / "pyproject.toml")
    assert load_config(discover_from=str(tmp_path)).ignore == ("IAM1",)


def test_a_pyproject_that_may_configure_iamlint_but_cannot_be_read_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.iamlint\nignore = ["IAM1"]\n')  # broken TOML
    with pytest.raises(config.ConfigError, match="not valid TOML"):
        config.discover(str(tmp_path))
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert config.discover(str(tmp_path)) is None  # no iamlint table: not read as TOML at all

    def denied(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", denied)
    with pytest.raises(config.ConfigError, match="cannot read: Permission denied"):
        config.discover(str(tmp_path))


def test_a_configuration_past_a_megabyte_is_refused(tmp_path: Path) -> None:
    big = tmp_path / ".iamlint.yaml"
    big.write_text("exclude:\n" + "".join(f"  - 'path/{i}/**'\n" for i in range(60_000)))
    with pytest.raises(config.ConfigError, match="a configuration is a few kilobytes"):
        load_config(str(big))
