"""The GitHub Action, the example workflow, the pre-commit hooks and the README examples.

- action.yml and the example workflow are checked with check-jsonschema's vendored GitHub
  schemas and the workflow with actionlint; the action's own shell step is run here with the
  environment a runner gives it.
- The pre-commit hooks run through the real `pre-commit` (try-repo and run) against a
  committed copy of this working tree, since pre-commit installs hooks from a commit.
- Every example in the README sections on output formats, the action, pre-commit,
  configuration, suppressions and baselines is extracted and executed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml
from conftest import FIXTURES, ROOT
from tooling import BIN, actionlint, console_commands, console_tool, readme_example, run_shell

INTEGRATION = FIXTURES / "integration"
WORKFLOW = ROOT / "docs" / "github-workflow.yml"


# -- the GitHub Action and the example workflow ------------------------------------------------


def test_action_matches_the_github_actions_schema() -> None:
    proc = subprocess.run(
        [console_tool("check-jsonschema"), "--builtin-schema", "vendor.github-actions", str(ROOT / "action.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_example_workflow_matches_the_workflow_schema() -> None:
    proc = subprocess.run(
        [console_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_schema_check_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "action.yml"
    bad.write_text("name: x\nruns:\n  using: composite\n  step: []\n")
    proc = subprocess.run(
        [console_tool("check-jsonschema"), "--builtin-schema", "vendor.github-actions", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1


def test_example_workflow_passes_actionlint() -> None:
    assert actionlint(WORKFLOW) == []


def test_actionlint_reports_a_broken_workflow(tmp_path: Path) -> None:
    bad = tmp_path / "wf.yml"
    bad.write_text(
        WORKFLOW.read_text()
        .replace("ubuntu-latest", "ubuntu-latst")
        .replace("fail-on: medium", "fail-on: ${{ github.nope }}")
    )
    kinds = {str(f["kind"]) for f in actionlint(bad)}
    assert {"runner-label", "expression"} <= kinds


def test_readme_includes_the_example_workflow_verbatim() -> None:
    lang, body = readme_example("github-workflow")
    assert lang == "yaml" and body == WORKFLOW.read_text()


def test_action_definition() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    assert set(action["inputs"]) == {"paths", "fail-on", "config", "baseline", "sarif", "sarif-file", "version"}
    steps = action["runs"]["steps"]
    install = next(s for s in steps if s.get("name") == "Install iamlint")
    assert install["env"]["ACTION_PATH"] == "${{ github.action_path }}" and '"$ACTION_PATH"' in install["run"]
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("github/codeql-action/upload-sarif@"))
    assert "inputs.sarif == 'true'" in upload["if"] and upload["with"]["sarif_file"] == "${{ inputs.sarif-file }}"
    # Inputs reach the shell through the environment only, never spliced into the script.
    for step in steps:
        assert "${{" not in step.get("run", ""), step.get("name")


def _run_action_step(
    workspace: Path, inputs: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], dict[str, str], Path]:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    step = next(s for s in action["runs"]["steps"] if s.get("id") == "check")
    runner_temp = Path(tempfile.mkdtemp(prefix="runner-temp-", dir=workspace))
    output, summary = runner_temp / "output", runner_temp / "summary"
    output.touch()
    summary.touch()
    env = {"RUNNER_TEMP": str(runner_temp), "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary)}
    defaults = {k: str(v.get("default", "")) for k, v in action["inputs"].items()}
    for name, value in {**defaults, **inputs}.items():
        env[f"INPUT_{name.upper().replace('-', '_')}"] = value
    # The install step's venv, and the shell GitHub runs a `shell: bash` step with (-e included).
    (runner_temp / "iamlint-venv" / "bin").mkdir(parents=True)
    (runner_temp / "iamlint-venv" / "bin" / "iamlint").symlink_to(BIN / "iamlint")
    script = runner_temp / "step.sh"
    script.write_text(step["run"])
    proc = run_shell(f"exec bash --noprofile --norc -eo pipefail {script}", workspace, env)
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
    return proc, outputs, summary


def test_action_step_writes_annotations_summary_and_sarif(tmp_path: Path) -> None:
    shutil.copytree(INTEGRATION / "precommit", tmp_path / "templates")
    proc, outputs, summary = _run_action_step(
        tmp_path, {"paths": "templates/bad-template.yaml\ntemplates/good-template.yaml"}
    )
    assert proc.returncode == 0, proc.stderr  # the step records the status; a later step fails
    assert outputs["exit-code"] == "1"
    assert re.search(r"^::error file=templates/bad-template.yaml,line=\d+", proc.stdout, re.MULTILINE)
    sarif = json.loads((tmp_path / "iamlint.sarif").read_text())
    assert {r["ruleId"] for r in sarif["runs"][0]["results"]} >= {"IAM101"}
    assert summary.read_text().startswith("## iamlint")
    proc, outputs, _ = _run_action_step(tmp_path, {"paths": "templates/good-template.yaml", "sarif-file": "out.sarif"})
    assert outputs["exit-code"] == "0" and (tmp_path / "out.sarif").exists()
    proc, outputs, _ = _run_action_step(tmp_path, {"paths": "templates", "config": "missing.yaml"})
    assert outputs["exit-code"] == "2"
    # An empty fail-on leaves the configuration's fail_on in force.
    (tmp_path / "high.yaml").write_text("fail_on: high\n")
    (tmp_path / "medium.json").write_text(
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}]}'
    )
    _, outputs, _ = _run_action_step(tmp_path, {"paths": "medium.json", "config": "high.yaml"})
    assert outputs["exit-code"] == "0"
    _, outputs, _ = _run_action_step(tmp_path, {"paths": "medium.json", "config": "high.yaml", "fail-on": "low"})
    assert outputs["exit-code"] == "1"


# -- pre-commit --------------------------------------------------------------------------------


def _git(*args: str, cwd: Path) -> str:
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME="iamlint tests",
        GIT_AUTHOR_EMAIL="tests@iamlint.invalid",
        GIT_COMMITTER_NAME="iamlint tests",
        GIT_COMMITTER_EMAIL="tests@iamlint.invalid",
        GIT_AUTHOR_DATE="2026-01-01T00:00:00Z",
        GIT_COMMITTER_DATE="2026-01-01T00:00:00Z",
    )
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """This working tree (tracked and new files, not ignored ones), committed in a repo of its own."""
    if shutil.which("git") is None:
        pytest.fail("git is required by the pre-commit tests")
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    repo = tmp_path_factory.mktemp("hook-repo")
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)
    _git("init", "-q", "-b", "main", cwd=repo)
    _git("add", "-A", cwd=repo)
    _git("commit", "-q", "-m", "iamlint working tree", cwd=repo)
    return repo, _git("rev-parse", "HEAD", cwd=repo)


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One hook environment store for the `pre-commit run` tests of this module."""
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture()
def user_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "project"
    shutil.copytree(INTEGRATION / "precommit", repo)
    _git("init", "-q", "-b", "main", cwd=repo)
    _git("add", "-A", cwd=repo)
    return repo


def _pre_commit(*args: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PRE_COMMIT_HOME=str(home), PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    env.pop("PRE_COMMIT_COLOR", None)
    env.pop("PYTHONPATH", None)  # the hook runs the iamlint installed in its own environment
    return subprocess.run(
        [console_tool("pre-commit"), *args, "--color", "never"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )


def test_pre_commit_try_repo_fails_on_a_bad_template(
    hook_repo: tuple[Path, str], user_repo: Path, tmp_path: Path
) -> None:
    repo, sha = hook_repo
    proc = _pre_commit(
        "try-repo",
        str(repo),
        "iamlint",
        "--ref",
        sha,
        "--files",
        "bad-template.yaml",
        "good-template.yaml",
        cwd=user_repo,
        home=tmp_path / "home",
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "iamlint" in proc.stdout and "Failed" in proc.stdout
    assert "bad-template.yaml" in proc.stdout and "IAM101" in proc.stdout
    assert "good-template.yaml" not in proc.stdout.split("Failed", 1)[1]


def test_pre_commit_try_repo_passes_good_and_irrelevant_files(
    hook_repo: tuple[Path, str], user_repo: Path, tmp_path: Path
) -> None:
    repo, sha = hook_repo
    proc = _pre_commit(
        "try-repo",
        str(repo),
        "iamlint",
        "--ref",
        sha,
        "--files",
        "good-template.yaml",
        "package.json",
        "docker-compose.yml",
        cwd=user_repo,
        home=tmp_path / "home",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"^iamlint\.+Passed$", proc.stdout, re.MULTILINE), proc.stdout


def test_readme_pre_commit_config_runs(hook_repo: tuple[Path, str], user_repo: Path, pre_commit_home: Path) -> None:
    """The README's .pre-commit-config.yaml, pointed at the local copy instead of GitHub."""
    repo, sha = hook_repo
    lang, body = readme_example("pre-commit-config")
    assert lang == "yaml" and "repo: https://github.com/iamlint/iamlint" in body
    config = body.replace("https://github.com/iamlint/iamlint", str(repo)).replace("rev: v0.1.0", f"rev: {sha}")
    (user_repo / ".pre-commit-config.yaml").write_text(config)
    _git("add", "-A", cwd=user_repo)
    proc = _pre_commit("run", "--all-files", cwd=user_repo, home=pre_commit_home)
    assert proc.returncode == 1 and "IAM101" in proc.stdout, proc.stdout + proc.stderr
    (user_repo / "bad-template.yaml").unlink()
    _git("add", "-A", cwd=user_repo)
    proc = _pre_commit("run", "--all-files", cwd=user_repo, home=pre_commit_home)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_pre_commit_cdk_hook(hook_repo: tuple[Path, str], user_repo: Path, pre_commit_home: Path) -> None:
    repo, sha = hook_repo
    shutil.copytree(INTEGRATION / "cdk" / "cdk.out", user_repo / "cdk.out")
    (user_repo / "bad-template.yaml").unlink()
    config = {"repos": [{"repo": str(repo), "rev": sha, "hooks": [{"id": "iamlint"}, {"id": "iamlint-cdk"}]}]}
    (user_repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    _git("add", "-A", cwd=user_repo)
    proc = _pre_commit("run", "--all-files", cwd=user_repo, home=pre_commit_home)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    # The file hook leaves cdk.out to the assembly hook, which reports the stack's findings.
    assert re.search(r"^iamlint\.+Passed$", proc.stdout, re.MULTILINE), proc.stdout
    assert re.search(r"^iamlint \(CDK cloud assembly\)\.+Failed$", proc.stdout, re.MULTILINE), proc.stdout
    assert "cdk.out/LegacyStack.template.json" in proc.stdout


def test_hook_definitions() -> None:
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"iamlint", "iamlint-cdk"}
    main = hooks["iamlint"]
    assert main["pass_filenames"] is True and "--skip-irrelevant" in main["entry"]
    files = re.compile(main["files"])
    assert all(files.search(n) for n in ("a.json", "t.yaml", "t.yml", "x.template"))
    assert not files.search("app.py")
    assert re.search(main["exclude"], "cdk.out/Stack.template.json")
    cdk = hooks["iamlint-cdk"]
    assert cdk["pass_filenames"] is False and cdk["always_run"] is True and cdk["args"] == ["cdk.out"]


# -- README examples ---------------------------------------------------------------------------


def _commands(name: str) -> list[str]:
    lang, body = readme_example(name)
    assert lang == "console"
    commands = console_commands(body)
    assert commands
    return commands


def test_readme_output_formats_example(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "fixtures" / "demo", tmp_path / "fixtures" / "demo")
    for command in _commands("formats"):
        proc = run_shell(command, tmp_path)
        assert proc.returncode == 1, proc.stderr  # the demo has findings
    assert json.loads((tmp_path / "iamlint.sarif").read_text())["version"] == "2.1.0"
    assert (tmp_path / "summary.md").read_text().startswith("## iamlint")


def _config_project(tmp_path: Path) -> Path:
    for folder in ("policies", "legacy", "iam-rules", "build"):
        (tmp_path / folder).mkdir()
    shutil.copy(INTEGRATION / "policies" / "legacy-admin.json", tmp_path / "policies" / "legacy-admin.json")
    shutil.copy(INTEGRATION / "policies" / "user-admin.json", tmp_path / "policies" / "user-admin.json")
    shutil.copy(INTEGRATION / "policies" / "legacy-admin.json", tmp_path / "legacy" / "old.json")
    shutil.copy(INTEGRATION / "precommit" / "bad-template.yaml", tmp_path / "build" / "generated.yaml")
    lang, rule = readme_example("custom-rule")
    assert lang == "yaml"
    (tmp_path / "iam-rules" / "IAM901.yaml").write_text(rule)
    return tmp_path


def _check_config_behaviour(project: Path) -> list[tuple[str, str, str]]:
    """Checks what the example configuration does; returns what it reported (rule, file, message)."""
    proc = run_shell("iamlint check . --format json", project)
    assert proc.returncode == 1, proc.stderr
    found = json.loads(proc.stdout)["findings"]
    files = {f["location"]["file"] for f in found}
    assert not any("build/" in f for f in files)  # exclude
    assert not any(f["rule"] == "IAM105" and "legacy/" in f["location"]["file"] for f in found)  # per_path
    iam105 = [f for f in found if f["rule"] == "IAM105"]
    assert [f["statement"]["sid"] for f in iam105] == ["NewReads"]  # suppression by Sid
    assert any(f["rule"] == "IAM901" for f in found)  # custom rule
    assert "IAM004" not in {f["rule"] for f in found}
    # fail_on: medium in the file; the flag overrides it.
    assert run_shell("iamlint check . --fail-on critical", project).returncode == 0
    return sorted((f["rule"], f["location"]["file"], f["message"]) for f in found)


def test_readme_yaml_configuration_example(tmp_path: Path) -> None:
    project = _config_project(tmp_path)
    lang, body = readme_example("config-yaml")
    assert lang == "yaml"
    (project / ".iamlint.yaml").write_text(body)
    _check_config_behaviour(project)


def test_readme_toml_configuration_example(tmp_path: Path) -> None:
    project = _config_project(tmp_path)
    lang, body = readme_example("config-toml")
    assert lang == "toml"
    (project / "pyproject.toml").write_text('[project]\nname = "example"\n\n' + body)
    from_toml = _check_config_behaviour(project)
    # "The same in pyproject.toml": the YAML example reports exactly the same.
    (project / "pyproject.toml").unlink()
    (project / ".iamlint.yaml").write_text(readme_example("config-yaml")[1])
    assert _check_config_behaviour(project) == from_toml


def test_readme_suppression_example(tmp_path: Path) -> None:
    lang, body = readme_example("suppression-template")
    assert lang == "yaml"
    assert body.startswith("Transform: AWS::Serverless-2016-10-31\n")  # copied as shown, it works
    template = "AWSTemplateFormatVersion: '2010-09-09'\n" + body
    (tmp_path / "template.yaml").write_text(template)
    proc = run_shell("iamlint check template.yaml --format json", tmp_path)
    found = json.loads(proc.stdout)["findings"]
    assert not any("dynamodb:DescribeTable" in f["evidence"]["actions"] for f in found)
    assert "IAM004" not in {f["rule"] for f in found}
    unsuppressed = template.replace("Metadata:", "MetadataOff:")
    (tmp_path / "template.yaml").write_text(unsuppressed)
    proc = run_shell("iamlint check template.yaml --format json", tmp_path)
    assert any("dynamodb:DescribeTable" in f["evidence"]["actions"] for f in json.loads(proc.stdout)["findings"])


def test_readme_baseline_example(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    shutil.copytree(INTEGRATION / "policies", tmp_path / "policies")
    write, compare = _commands("baseline")
    assert run_shell(write, tmp_path).returncode == 0
    assert (tmp_path / ".iamlint-baseline.json").exists()
    proc = run_shell(compare, tmp_path)
    assert proc.returncode == 0, proc.stdout
    shutil.copy(INTEGRATION / "precommit" / "bad-template.yaml", tmp_path / "policies" / "new.yaml")
    proc = run_shell(compare, tmp_path)
    assert proc.returncode == 1 and "IAM101" in proc.stdout
