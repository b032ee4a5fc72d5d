"""The narrower: evidence per line, not-observable grants kept, and the two proofs."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import FN_ACCOUNT, ROOT, fn_call

from iamlint.catalog import get_catalog
from iamlint.cli import cli
from iamlint.evaluator import Decision, Request, contains, evaluate
from iamlint.model import PolicyDocument, PolicyKind
from iamlint.narrow.narrower import narrow
from iamlint.policy import parse_policy

ACCOUNT = FN_ACCOUNT


def _doc(statements: list[dict[str, Any]]) -> PolicyDocument:
    doc, problems = parse_policy(
        {"Version": "2012-10-17", "Statement": statements}, file="o.json", kind=PolicyKind.IDENTITY
    )
    assert doc is not None and not problems
    return doc


CALLS = [
    fn_call("dynamodb", "GetItem", {"tableName": "Orders"}),
    fn_call("s3", "GetObject", {"bucketName": "receipts", "key": "2026/11/a.pdf"}),
    fn_call("s3", "GetObject", {"bucketName": "receipts", "key": "2026/12/b.pdf"}),
    fn_call("sqs", "SendMessage", {"queueUrl": f"https://sqs.eu-west-1.amazonaws.com/{ACCOUNT}/jobs"}),
    fn_call("s3", "DeleteObject", {"bucketName": "receipts", "key": "x"}, error="AccessDenied"),
    fn_call("sts", "GetCallerIdentity", {}),
]
BROAD = _doc([{"Effect": "Allow", "Action": ["s3:*", "dynamodb:*", "sqs:*", "logs:*"], "Resource": "*"}])


def test_proposal_allows_every_observed_call_and_nothing_new() -> None:
    p = narrow([BROAD], CALLS, get_catalog(), trail_has_data_events=True)
    proposal = _doc(p.document["Statement"])
    for action, resource in (
        ("dynamodb:GetItem", f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/Orders"),
        ("s3:GetObject", "arn:aws:s3:::receipts/2026/11/a.pdf"),
        ("sqs:SendMessage", f"arn:aws:sqs:eu-west-1:{ACCOUNT}:jobs"),
    ):
        assert evaluate([proposal], Request(action, resource)).decision is Decision.ALLOW
    assert evaluate([proposal], Request("s3:DeleteObject", "arn:aws:s3:::receipts/x")).decision is not Decision.ALLOW
    assert contains([BROAD], [proposal], get_catalog()).contained
    assert [c.operation for c, _ in p.denied] == ["DeleteObject"]
    assert [c.operation for c, _ in p.unmapped] == ["GetCallerIdentity"]
    assert p.removed["s3"] > 100 and p.kept_actions == 3


def test_lambda_keeps_log_writes_it_cannot_observe() -> None:
    p = narrow([BROAD], CALLS, get_catalog(), workload="lambda")
    kept = {e.action: e.basis for e in p.evidence}
    assert kept["logs:PutLogEvents"].startswith("not observable")
    assert kept["s3:GetObject"] == "observed"


def test_generalize_prefix_stays_inside_the_original() -> None:
    p = narrow([BROAD], CALLS, get_catalog(), generalize="prefix")
    assert "arn:aws:s3:::receipts/2026/*" in {e.resource for e in p.evidence}
    exact = _doc(
        [
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": ["arn:aws:s3:::receipts/2026/11/a.pdf", "arn:aws:s3:::receipts/2026/12/b.pdf"],
            }
        ]
    )
    p = narrow([exact], CALLS[1:3], get_catalog(), generalize="prefix")
    assert {e.resource for e in p.evidence} == {
        "arn:aws:s3:::receipts/2026/11/a.pdf",
        "arn:aws:s3:::receipts/2026/12/b.pdf",
    }


def test_observed_but_not_granted_is_reported_not_added() -> None:
    only_s3 = _doc([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::receipts/*"}])
    p = narrow([only_s3], CALLS, get_catalog())
    assert {e.action for e in p.not_granted} == {"dynamodb:GetItem", "sqs:SendMessage"}
    assert all(st["Action"] == "s3:GetObject" for st in p.document["Statement"])


def test_narrow_command_on_the_demo() -> None:
    os.chdir(ROOT)
    result = CliRunner().invoke(
        cli,
        [
            "narrow",
            "fixtures/demo/template.yaml",
            "--function",
            "OrdersFunction",
            "--cloudtrail",
            "fixtures/demo/cloudtrail",
            "--session",
            "orders-fn",
        ],
    )
    assert result.exit_code == 0, result.output
    text = result.stdout
    document = json.loads(text[: text.rindex("}") + 1])
    actions = {
        a for st in document["Statement"] for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])
    }
    assert {"s3:GetObject", "dynamodb:PutItem", "sqs:SendMessage", "logs:PutLogEvents"} <= actions
    assert "s3:*" not in actions
    assert "proved" in result.stderr and "denied: PutObject" in result.stderr


def _narrow_demo(tmp_path: Any, *extra: str) -> Any:
    template = tmp_path / "template.yaml"
    template.write_text((ROOT / "fixtures/demo/template.yaml").read_text())
    return CliRunner().invoke(cli, ["narrow", str(template), "--function", "OrdersFunction", *extra])


def test_evidence_that_cannot_be_read_gives_no_proposal_or_a_failing_one(tmp_path: Any) -> None:
    demo = str(ROOT / "fixtures/demo/cloudtrail")
    # A whole source unreadable: no proposal at all (it would take away what that source used).
    gone = _narrow_demo(tmp_path, "--cloudtrail", demo, "--cloudtrail", str(tmp_path / "missing"))
    assert gone.exit_code == 2 and not gone.stdout and "missing" in gone.stderr
    # Some records unreadable: the proposal is shown, the run fails, and --apply writes nothing.
    broken = tmp_path / "broken.json"
    broken.write_text('{"Records": [{"eventSource": "s3.amazonaws.com", "eventName": 5}]}')
    partial = _narrow_demo(tmp_path, "--cloudtrail", demo, "--cloudtrail", str(broken), "--session", "orders-fn")
    assert partial.exit_code == 2 and '"Statement"' in partial.stdout
    assert "1 evidence records could not be read" in partial.stderr and "exit status 2" in partial.stderr
    before = (tmp_path / "template.yaml").read_text()
    applied = _narrow_demo(
        tmp_path, "--cloudtrail", demo, "--cloudtrail", str(broken), "--session", "orders-fn", "--apply"
    )
    assert applied.exit_code == 2 and "nothing written" in applied.stderr
    assert (tmp_path / "template.yaml").read_text() == before


def test_no_observed_call_of_the_principal_gives_no_proposal(tmp_path: Any) -> None:
    result = _narrow_demo(tmp_path, "--cloudtrail", str(ROOT / "fixtures/demo/cloudtrail"), "--session", "nobody")
    assert result.exit_code == 2 and not result.stdout and "holds no observed call" in result.stderr


def test_narrow_needs_evidence() -> None:
    result = CliRunner().invoke(
        cli, ["narrow", str(ROOT / "fixtures/demo/template.yaml"), "--function", "OrdersFunction"]
    )
    assert result.exit_code == 2 and "--cloudtrail" in result.output


@pytest.mark.parametrize("function", ["NoSuchFunction"])
def test_narrow_unknown_principal(function: str) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "narrow",
            str(ROOT / "fixtures/demo/template.yaml"),
            "--function",
            function,
            "--cloudtrail",
            str(ROOT / "fixtures/demo/cloudtrail"),
        ],
    )
    assert result.exit_code == 2 and "no identity policy" in result.output
