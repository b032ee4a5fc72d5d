"""Size limits: a limit hit is an input error naming the file, the limit and the flag that raises it.

File size (`--max-file-size`, checked before reading), statements per policy
(`--max-statements`), entries per statement (`--max-actions`, `--max-resources`) and glob
expansion (`--max-expansion`). Other inputs of the same run are still checked.
"""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from iamlint import engine as engine_module
from iamlint.cli import cli
from iamlint.engine import Engine, LintConfig
from iamlint.evaluator import SearchWork, search_budget
from iamlint.limits import Limits
from iamlint.loaders.inputs import InputOptions, load_paths

MIB = 1 << 20
GOOD = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}


def run_json(*args: str) -> tuple[int, dict[str, object]]:
    result = CliRunner().invoke(cli, ["check", "--format", "json", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout)


def input_errors(report: dict[str, object]) -> list[tuple[str, str]]:
    findings = report["findings"]
    assert isinstance(findings, list)
    return [(f["location"]["file"], f["message"]) for f in findings if f["rule"] == "IAM001"]


def rules_in(report: dict[str, object], file: Path) -> set[str]:
    findings = report["findings"]
    assert isinstance(findings, list)
    return {f["rule"] for f in findings if f["location"]["file"] == str(file)}


def test_a_100_mb_file_is_refused_without_being_read(tmp_path: Path) -> None:
    big = tmp_path / "huge.json"
    with open(big, "wb") as fh:  # sparse: 100 MB long, nothing written
        fh.truncate(100 * MIB)
    tracemalloc.start()
    try:
        loaded = load_paths([str(big)], InputOptions())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * MIB
    [error] = loaded.errors
    assert error.file == str(big)
    assert f"{100 * MIB} bytes" in error.message and "--max-file-size" in error.message


def test_file_size_limit_is_configurable_and_applies_to_walked_named_and_stdin(tmp_path: Path) -> None:
    policy = json.dumps(GOOD)
    (tmp_path / "walked.json").write_text(policy + " " * 2000)
    named = tmp_path / "named.json"
    named.write_text(policy + " " * 2000)
    code, report = run_json(str(tmp_path / "walked.json"), str(named), "--max-file-size", "1000")
    assert code == 2
    errors = input_errors(report)
    assert {f for f, _ in errors} == {str(tmp_path / "walked.json"), str(named)}
    assert all("1000-byte limit (--max-file-size)" in m for _, m in errors)
    stdin = CliRunner().invoke(
        cli, ["check", "-", "--max-file-size", "1000", "--format", "json"], input=policy + " " * 5000
    )
    assert stdin.exit_code == 2
    assert "1000-byte limit (--max-file-size)" in stdin.stdout
    code, report = run_json(str(named), "--max-file-size", "100000")
    assert code == 1 and not input_errors(report)


def test_cdk_templates_are_held_to_the_file_size_limit(tmp_path: Path) -> None:
    out = tmp_path / "cdk.out"
    out.mkdir()
    (out / "cdk.out").write_text('{"version": "36.0.0"}')
    (out / "manifest.json").write_text(
        json.dumps(
            {
                "version": "36.0.0",
                "artifacts": {
                    "S": {"type": "aws:cloudformation:stack", "properties": {"templateFile": "S.template.json"}}
                },
            }
        )
    )
    with open(out / "S.template.json", "wb") as fh:
        fh.truncate(100 * MIB)
    loaded = load_paths([str(out)])
    assert any("--max-file-size" in e.message for e in loaded.errors), loaded.errors


@pytest.mark.parametrize(
    ("flag", "document", "limit_text"),
    [
        (
            "--max-statements",
            {"Version": "2012-10-17", "Statement": [GOOD["Statement"][0]] * 30},  # type: ignore[index]
            "30 statements, over the limit of 20 (--max-statements)",
        ),
        (
            "--max-actions",
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": [f"s3:Get{i}" for i in range(30)], "Resource": "*"}],
            },
            "30 Action entries, over the limit of 20 (--max-actions)",
        ),
        (
            "--max-resources",
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "s3:GetObject",
                        "NotResource": [f"arn:aws:s3:::b/{i}" for i in range(30)],
                    }
                ],
            },
            "30 NotResource entries, over the limit of 20 (--max-resources)",
        ),
        (
            "--max-expansion",
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["*", "ec2:*"], "Resource": "*"}]},
            "more than 1000 catalogue matches (--max-expansion)",
        ),
    ],
)
def test_policy_size_limits_are_input_errors_naming_file_limit_and_flag(
    tmp_path: Path, flag: str, document: object, limit_text: str
) -> None:
    big = tmp_path / "big.json"
    big.write_text(json.dumps(document))
    small = tmp_path / "small.json"
    small.write_text(json.dumps(GOOD))
    limit = "1000" if flag == "--max-expansion" else "20"  # s3:* in small.json matches 180 actions
    code, report = run_json(str(big), str(small), flag, limit)
    assert code == 2
    assert input_errors(report) == [(str(big), next(m for _, m in input_errors(report)))]
    assert limit_text in input_errors(report)[0][1]
    assert rules_in(report, big) == {"IAM001"}
    assert "IAM103" in rules_in(report, small)  # the other input is still checked
    code, report = run_json(str(big), flag, "100000000")
    assert not input_errors(report)


def test_default_limits_stop_a_policy_built_to_make_the_rules_slow(tmp_path: Path) -> None:
    # A thousand wildcard patterns that each make every rule scan the whole catalogue.
    doc = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": [f"*:x{i}*y" for i in range(900)], "Resource": "*"}] * 2,
    }
    path = tmp_path / "slow.json"
    path.write_text(json.dumps(doc))
    loaded = load_paths([str(path)])
    result = Engine(LintConfig(strict=True)).run(loaded.documents)
    [finding] = result.findings
    assert finding.rule == "IAM001" and "--max-expansion" in finding.message
    assert Limits().max_expansion < 2 * 900 * 22_000


def test_rules_comparing_statement_pairs_stay_within_the_search_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 60 kB, 200 statements of long `?` runs: each pair of statements costs a containment
    # search, which took over ten minutes in all before the per-document budget
    # (iamlint.limits.DEFAULT_SEARCH_WORK; found by fuzzing the policy target). The work is
    # counted in search steps (`evaluator.search_budget`), not timed.
    statements = []
    for k in range(100):
        statements.append(
            {
                "Effect": "Allow",
                "Action": "sqs:SendMessage",
                "Resource": f"aro:aw*s:sqs:uecss-east-1:123456789{'?' * 20}12:orders{k}-*",
            }
        )
        statements.append(
            {
                "Effect": "Allow",
                "Action": "sqs:SendMessage",
                "Resource": f"aro:aws:sqs:us-east-1:123456789{'?' * 15}s3:get*{'?' * (80 + k % 7)}012:x{k}",
            }
        )
    path = tmp_path / "pairs.json"
    path.write_text(json.dumps({"Version": "2012-10-17", "Statement": statements}))
    loaded = load_paths([str(path)])
    blocks: list[SearchWork] = []

    @contextmanager
    def recorded(work: int) -> Iterator[SearchWork]:
        with search_budget(work) as meter:
            blocks.append(meter)
            yield meter

    monkeypatch.setattr(engine_module, "search_budget", recorded)
    limit = Limits().search_work
    # The outer block measures the whole run, in search steps: 20 million is four of today's
    # per-rule budgets. Should the engine stop opening a budget per rule and document, or open
    # one too large, it also cuts the runaway short, so that the test fails quickly.
    with search_budget(20_000_000) as total:
        result = Engine(LintConfig(strict=True)).run(loaded.documents)
    assert blocks and all(b.limit == limit for b in blocks)
    assert any(b.exhausted for b in blocks)  # the per-rule budget is what cut the pairs short
    assert not total.exhausted and total.spent > 0  # and it was enough to bound the whole run
    assert result.findings and not any(f.rule in ("IAM001", "IAM003") for f in result.findings)


def test_every_aws_managed_policy_is_within_the_default_limits(tmp_path: Path) -> None:
    # The limits are for hostile input: AWS's own policies (ReadOnlyAccess lists 1,602 actions
    # in one statement) must never be refused by them.
    from iamlint.catalog import get_catalog
    from iamlint.limits import over_limit
    from iamlint.managed import _snapshot, lookup

    names = sorted(_snapshot()["policies"])
    assert len(names) > 1500
    folder = tmp_path / "managed"
    folder.mkdir()
    for name in names:
        policy = lookup(name)
        assert policy is not None
        (folder / f"{name}.json").write_text(json.dumps(policy.document))
    loaded = load_paths([str(folder)])
    assert not loaded.errors and len(loaded.documents) == len(names)
    catalog = get_catalog()
    refused = [
        (doc.loc.file, str(error.message))
        for doc in loaded.documents
        if (error := over_limit(doc, Limits(), catalog)) is not None
    ]
    assert refused == []
    assert (
        over_limit(
            next(d for d in loaded.documents if d.loc.file.endswith("/ReadOnlyAccess.json")),
            Limits(max_actions=1000),
            catalog,
        )
        is not None
    )  # the control: the limit does bite
