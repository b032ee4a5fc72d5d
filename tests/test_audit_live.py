"""`iamlint audit` against a live endpoint: moto's server mode on 127.0.0.1, never AWS.

The organisation (fixtures/audit/moto_world.py) has a management account and three members.
What moto lacks (Access Advisor, CloudTrail's LookupEvents) and what a test needs to provoke
(throttling, AccessDenied in one account) is injected through botocore's event system, inside
botocore's retry loop, so the audit sees what AWS would send.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import FIXTURES

from iamlint.audit import snapshot
from iamlint.audit.analyse import AnalyseOptions, analyse
from iamlint.audit.clients import ALLOWED, ClientFactory, ReadOnlyViolation, open_session
from iamlint.audit.collect import CollectOptions
from iamlint.audit.org import LiveSettings, run_live
from iamlint.audit.text import render
from iamlint.aws_limits import AwsLimits, CallBudget, LimitExceeded
from iamlint.cli import cli
from iamlint.model import Severity

_spec = importlib.util.spec_from_file_location("moto_world", FIXTURES / "audit" / "moto_world.py")
assert _spec is not None and _spec.loader is not None
mw: Any = importlib.util.module_from_spec(_spec)
sys.modules["moto_world"] = mw  # dataclasses look their module up while the class is built
_spec.loader.exec_module(mw)

ORG_ROLE = mw.ORG_ROLE
MGMT = mw.MANAGEMENT
ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
EVERYTHING = CollectOptions(
    regions=("us-east-1",),
    workloads=("lambda", "ec2", "ecs", "stepfunctions"),
    resources=("s3", "sqs", "sns", "kms", "lambda", "secretsmanager", "ecr"),
    access_advisor=True,
    cloudtrail_days=7,
)


@pytest.fixture(scope="module")
def world() -> Iterator[Any]:
    saved = {k: os.environ.get(k) for k in ENV}
    os.environ.update(ENV)
    server, url = mw.start_server()
    try:
        yield mw.populate(url)
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _body(request: Any) -> str:
    body = request.body
    return body.decode() if isinstance(body, bytes) else str(body or "")


def _live(
    world: Any,
    options: CollectOptions,
    hooks: list[Any],
    *,
    org: bool = True,
    max_attempts: int = 4,
    accounts_file: str | None = None,
) -> tuple[Any, Any, list[str], int]:
    steps: list[str] = []
    total: list[int] = []
    settings = LiveSettings(
        endpoint_url=world.url,
        region="us-east-1",
        org_role=ORG_ROLE if org else None,
        accounts_file=accounts_file,
        max_attempts=max_attempts,
        workers=4,
        options=options,
    )
    collected, base = run_live(settings, total.append, steps.append, hooks=hooks, sleep=lambda _s: None)
    result = analyse([snapshot.in_memory(d, a, n) for a, n, d in collected], AnalyseOptions(proposals=True))
    return result, base, steps, total[0]


def test_organisation_audit_through_the_cli(world: Any, tmp_path: Path) -> None:
    saved, html = tmp_path / "snap", tmp_path / "report.html"
    args = [
        "audit",
        "--endpoint-url",
        world.url,
        "--region",
        "us-east-1",
        "--org-role",
        ORG_ROLE,
        "--workloads",
        "all",
        "--resources",
        "all",
        "--all-versions",
        "--save",
        str(saved),
        "--html",
        str(html),
        "-f",
        "json",
        "--no-progress",
    ]
    result = CliRunner().invoke(cli, args, env=ENV)
    assert result.exit_code == 1, result.output  # findings, complete coverage
    report = json.loads(result.stdout)
    assert report["errors"] == []
    accounts = sorted(p.name for p in saved.iterdir())
    assert accounts == sorted(f"{a}.json" for a in [MGMT, *world.members])
    mgmt = str(saved / f"{MGMT}.json")
    found = {
        (f["rule"], f["source"]["kind"], f["source"]["name"])
        for f in report["findings"]
        if f["location"]["file"] == mgmt
    }
    assert ("IAM101", "managed-policy", "admin-all") in found  # identity
    assert ("IAM160", "bucket", "orders-receipts") in found  # resource policies
    assert ("IAM160", "function", "orders") in found
    assert ("IAM160", "repository", "orders") in found  # ECR's policy names no Resource: implied
    assert not any(kind == "key" and rule in ("IAM105", "IAM110") for rule, kind, _ in found)  # "*" is the key
    version = [f for f in report["findings"] if (f["source"] or {}).get("via") == "non-default version v1"]
    assert version and version[0]["location"]["path"].startswith("$.Policies[")  # --all-versions
    roles = [f for f in report["findings"] if f["location"]["file"] == mgmt and f["source"]["name"] == "orders-fn"]
    assert roles and all(f["location"]["line"] for f in roles)  # lines in the saved snapshot
    member = {
        f["source"]["name"]
        for f in report["findings"]
        if f["location"]["file"] == str(saved / f"{world.members[0]}.json")
    }
    assert "member1-operator" in member
    assert html.read_text().startswith("<!DOCTYPE html>")

    # The snapshot re-reads offline: the same findings, and `iamlint check` reads the dump part.
    again = CliRunner().invoke(cli, ["audit", "--from", str(saved), "--all-versions", "-f", "json"])
    assert again.exit_code == 1, again.output
    key = lambda f: (f["rule"], f["location"]["file"], f["location"]["path"], f["message"])
    assert sorted(map(key, json.loads(again.stdout)["findings"])) == sorted(map(key, report["findings"]))
    check = CliRunner().invoke(cli, ["check", mgmt, "--format", "json"])
    checked = {(f["rule"], f["source"]["name"]) for f in json.loads(check.stdout)["findings"]}
    assert ("IAM101", "admin-all") in checked and not any(f[1] == "orders-receipts" for f in checked)


def test_one_account_failing_never_stops_the_others(world: Any) -> None:
    member1, member2, member3 = world.members
    throttled, seen = mw.fail("iam:GetAccountAuthorizationDetails", "Throttling", accounts=(MGMT,), times=2)
    denied, _ = mw.fail("iam:GetAccountAuthorizationDetails", "AccessDenied", accounts=(member2,), status=403)
    no_role, _ = mw.fail("sts:AssumeRole", "AccessDenied", status=403, when=lambda r: member3 in _body(r))
    always, tries = mw.fail("lambda:ListFunctions", "TooManyRequestsException", accounts=(member1,), status=429)
    options = CollectOptions(regions=("us-east-1",))
    result, base, steps, total = _live(world, options, [throttled, denied, no_role, always], max_attempts=3)

    assert len(seen) == 3  # two throttled answers, retried, then the real one
    by_account = {a.account: a for a in result.accounts}
    assert {p.name for p in by_account[MGMT].principals} >= {"alice", "bob", "orders-fn"}
    assert {p.name for p in by_account[member1].principals} == {"member1-operator", "member1-app", ORG_ROLE}
    assert not by_account[member2].identity_read and by_account[member2].principals == ()
    assert not by_account[member3].read
    gaps = {(g.account, g.operation, g.kind) for g in result.gaps}
    assert gaps == {
        (member2, "iam:GetAccountAuthorizationDetails", "access-denied"),
        (member3, "sts:AssumeRole", "access-denied"),
        (member1, "lambda:ListFunctions", "throttled"),
    }
    assert len(tries) == 3  # max_attempts
    assert "after 3 attempts" in next(g.message for g in result.gaps if g.kind == "throttled")
    assert result.exit_code(Severity.LOW, allow_partial=False) == 2
    assert result.exit_code(Severity.LOW, allow_partial=True) == 1
    assert len(steps) == total == 4 * len(options.steps())  # the progress bar reaches its end
    text = render(result)
    assert "Coverage: INCOMPLETE, 3 reads failed" in text and f"{member3} global sts:AssumeRole" in text
    assert ("sts", "AssumeRole") in base.log.counts


def test_accounts_file_and_org_listing_agree(world: Any, tmp_path: Path) -> None:
    listing = tmp_path / "accounts.txt"
    listing.write_text(f"# audit these\n{world.members[0]}, member-1\n{world.members[1]}\n")
    result, base, _, _ = _live(
        world, CollectOptions(regions=("us-east-1",), workloads=()), [], accounts_file=str(listing)
    )
    assert [a.account for a in result.accounts] == world.members[:2]
    assert ("organizations", "ListAccounts") not in base.log.counts


def test_access_advisor_unused_access_and_proposals(world: Any) -> None:
    options = CollectOptions(regions=("us-east-1",), access_advisor=True)
    result, _, _, _ = _live(world, options, [mw.access_advisor(mw.USAGE)], org=False)
    assert result.complete
    rows = {p.name: p for p in result.accounts[0].principals}
    alice = rows["alice"].unused
    assert (
        alice is not None and alice.unused_services == ("ec2", "lambda") and alice.unused_actions == ("iam:CreateUser",)
    )
    assert rows["AWSServiceRoleForECS"].unused is None  # AWS owns service-linked roles: not asked
    proposals = {label: p for _, label, p in result.proposals}
    fn = proposals["role orders-fn"]
    actions = {
        a
        for st in fn.document["Statement"]
        for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])
    }
    assert "dynamodb:GetItem" in actions and "dynamodb:DescribeTable" in actions  # untracked actions are kept
    assert "dynamodb:DeleteTable" not in actions and "s3:GetObject" not in actions
    assert fn.removed == {"dynamodb": 1, "s3": 1}
    assert "detach its policies" in proposals["role orders-task"]  # sqs granted, never used
    assert "one by one" in proposals["user alice"]  # Action "*": services Access Advisor did not list stay
    assert "user alice: 2 of 4 granted services never used (ec2, lambda); 1 tracked action never used" in render(result)


def test_endpoints_without_access_advisor_or_event_history_are_gaps(world: Any) -> None:
    options = CollectOptions(regions=("us-east-1",), workloads=(), access_advisor=True, cloudtrail_days=3)
    result, _, _, _ = _live(world, options, [], org=False, max_attempts=1)
    kinds = {(g.operation, g.kind) for g in result.gaps}
    assert ("iam:GenerateServiceLastAccessedDetails", "unsupported") in kinds  # moto answers HTTP 500
    assert ("cloudtrail:LookupEvents", "unsupported") in kinds
    first = [g for g in result.gaps if g.operation == "iam:GenerateServiceLastAccessedDetails"]
    assert len(first) == 2 and "not requested for the" in first[1].message  # asked once, not once per principal
    assert result.exit_code(Severity.LOW, allow_partial=False) == 2


def test_cloudtrail_event_history_is_counted_per_role(world: Any) -> None:
    role = f"arn:aws:iam::{MGMT}:role/orders-fn"
    records = [
        mw.trail_record(role, "orders", "dynamodb.amazonaws.com", "DescribeTable"),
        mw.trail_record(role, "orders", "dynamodb.amazonaws.com", "DescribeTable"),
        mw.trail_record(role, "orders", "s3.amazonaws.com", "ListBuckets", error="AccessDenied"),
    ]
    options = CollectOptions(regions=("us-east-1",), workloads=(), cloudtrail_days=7)
    result, _, _, _ = _live(world, options, [mw.event_history(records)], org=False)
    assert result.complete
    calls = {(c["source"], c["name"]): c for c in result.accounts[0].cloudtrail["principals"][role]}
    assert calls[("dynamodb.amazonaws.com", "DescribeTable")]["count"] == 2
    assert calls[("s3.amazonaws.com", "ListBuckets")]["errors"] == 1
    assert {p.name: p.observed_calls for p in result.accounts[0].principals}["orders-fn"] == 3
    assert "MANAGEMENT events only" in render(result)


def test_every_call_made_is_on_the_read_only_list(world: Any) -> None:
    """The full audit, every feature on: what the factory recorded is what the allowlist holds."""
    hooks = [mw.access_advisor(mw.USAGE), mw.event_history([])]
    result, base, _, _ = _live(world, EVERYTHING, hooks)
    assert result.complete, [g.render() for g in result.gaps]
    called = {f"{svc}:{op}" for svc, op in base.log.counts}
    allowed = {f"{svc}:{op}" for svc, ops in ALLOWED.items() for op in ops}
    assert called <= allowed
    # Everything on the list was exercised, except the call only botocore's S3 redirector makes.
    assert allowed - called == {"s3:HeadBucket", "ec2:DescribeRegions"}
    regions, _, _, _ = _live(world, CollectOptions(all_regions=True, workloads=()), [], org=False)
    assert len(regions.accounts[0].regions) > 5


def test_the_guard_refuses_writes_before_they_are_sent(world: Any) -> None:
    factory = ClientFactory(open_session(None, "us-east-1"), account=MGMT, region="us-east-1", endpoint_url=world.url)
    with pytest.raises(ReadOnlyViolation, match="iam:CreateUser"):
        factory.client("iam").create_user(UserName="created-by-audit")
    with pytest.raises(ReadOnlyViolation, match="s3:PutBucketPolicy"):
        factory.client("s3").put_bucket_policy(Bucket="orders-receipts", Policy="{}")
    names = [u["UserName"] for u in factory.client("iam").get_account_authorization_details()["UserDetailList"]]
    assert "created-by-audit" not in names and "alice" in names
    assert ("iam", "CreateUser") not in factory.log.counts


def test_console_script_against_moto(world: Any, tmp_path: Path) -> None:
    import subprocess

    exe = Path(sys.executable).parent / "iamlint"
    out = tmp_path / "one.json"
    proc = subprocess.run(
        [str(exe), "audit", "--endpoint-url", world.url, "--region", "us-east-1", "--save", str(out), "--progress"],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, **ENV},
        timeout=300,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Reading AWS" in proc.stderr and f"Account {MGMT}" in proc.stdout
    assert "Coverage: complete" in proc.stdout
    assert json.loads(out.read_text())["iamlint"]["account"]["id"] == MGMT


def _raw_events(events: list[dict[str, Any]]) -> Any:
    """LookupEvents answering `events` as they are, whatever their CloudTrailEvent holds."""

    def hook(_account: str, service: str, _region: str, client: Any) -> None:
        if service == "cloudtrail":
            client.meta.events.register(
                "before-send.cloudtrail.LookupEvents",
                lambda **_kw: mw.response(
                    200, json.dumps({"Events": events}), {"Content-Type": "application/x-amz-json-1.1"}
                ),
            )

    return hook


def test_unreadable_cloudtrail_records_are_a_gap_and_the_rest_is_counted(world: Any) -> None:
    role = f"arn:aws:iam::{MGMT}:role/orders-fn"
    good = json.dumps(mw.trail_record(role, "orders", "dynamodb.amazonaws.com", "DescribeTable"))
    odd = json.dumps(
        {
            "eventSource": "s3.amazonaws.com",
            "eventName": "ListBuckets",
            "userIdentity": {"arn": role, "sessionContext": "not an object"},
        }
    )
    bad = {"deep": "[" * 100_000, "text": "not json", "list": "[1, 2]", "number": 7}
    events: list[dict[str, Any]] = [
        {
            "EventId": "good",
            "EventName": "DescribeTable",
            "EventSource": "dynamodb.amazonaws.com",
            "CloudTrailEvent": good,
        },
        {"EventId": "odd", "EventName": "ListBuckets", "CloudTrailEvent": odd},
        *(
            {
                "EventId": k,
                "EventName": "GetObject",
                "EventSource": "s3.amazonaws.com",
                "Username": "orders",
                "CloudTrailEvent": v,
            }
            for k, v in bad.items()
        ),
    ]
    options = CollectOptions(regions=("us-east-1",), workloads=(), cloudtrail_days=7)
    result, _, _, _ = _live(world, options, [_raw_events(events)], org=False)

    [gap] = result.gaps  # one gap for the region, not a crash of the whole account
    assert (gap.operation, gap.kind) == ("cloudtrail:LookupEvents", "error")
    assert gap.message.startswith("4 of 6 events had an unreadable CloudTrailEvent record, the first (event deep)")
    trail = result.accounts[0].cloudtrail
    assert trail["events"] == 6
    calls = {(c["source"], c["name"]): c["count"] for c in trail["principals"][role]}
    assert calls == {("dynamodb.amazonaws.com", "DescribeTable"): 1, ("s3.amazonaws.com", "ListBuckets"): 1}
    assert {(c["name"], c["count"]) for c in trail["principals"]["orders"]} == {("GetObject", 4)}  # event fields
    assert result.exit_code(Severity.LOW, allow_partial=False) == 2


def test_a_resource_policy_nested_too_deep_is_a_malformed_policy_not_a_crash(world: Any) -> None:
    def hook(_account: str, service: str, _region: str, client: Any) -> None:
        if service == "s3":
            client.meta.events.register("before-send.s3.GetBucketPolicy", lambda **_kw: mw.response(200, "[" * 100_000))

    options = CollectOptions(regions=("us-east-1",), workloads=(), resources=("s3", "sqs"))
    result, _, _, _ = _live(world, options, [hook], org=False)
    assert result.complete, [g.render() for g in result.gaps]  # the other reads went on
    malformed = {f.message.split(": ", 1)[1]: f for f in result.lint.findings if f.rule == "IAM002"}
    found = malformed["the policy of bucket orders-receipts is not JSON (nested too deep)"]
    assert found.location.keys[:2] == ("iamlint", "resource_policies")
    assert result.accounts[0].resource_policies >= 2  # the queue's policy was read after it


def test_every_client_has_a_call_budget_counted_per_account(world: Any) -> None:
    # Three member accounts: the base factory assumes a role three times, one past its bound of
    # two, while each member reads its dump once, within its own bound whatever the others did.
    options = CollectOptions(regions=("us-east-1",), workloads=())
    steps: list[str] = []
    settings = LiveSettings(
        endpoint_url=world.url,
        region="us-east-1",
        org_role=ORG_ROLE,
        max_attempts=2,
        workers=4,
        options=options,
        limits=AwsLimits(max_calls_per_operation=2, max_attempts=2),
    )
    collected, base = run_live(settings, lambda _n: None, steps.append, sleep=lambda _s: None)
    result = analyse([snapshot.in_memory(d, a, n) for a, n, d in collected], AnalyseOptions())
    assert base.budget.calls[("sts", "AssumeRole")] == 3  # the third was counted, refused, never sent
    assert base.log.counts[("sts", "AssumeRole")] == 3
    [gap] = result.gaps
    assert gap.account in world.members and (gap.operation, gap.kind) == ("sts:AssumeRole", "error")
    assert "called more than 2 times" in gap.message
    read = [a for a in result.accounts if a.identity_read and a.read]
    assert sorted(a.account for a in read) == sorted({MGMT, *world.members} - {gap.account})


def test_every_account_shares_the_deadline_of_the_run() -> None:
    now = [0.0]
    run = CallBudget(AwsLimits(deadline=100), clock=lambda: now[0])
    now[0] = 60.0
    account = run.for_another_account()  # created a minute into the run
    model = type(
        "Op", (), {"name": "GetAccountAuthorizationDetails", "service_model": type("S", (), {"service_name": "iam"})()}
    )()
    account._before_call(model)  # within the deadline
    now[0] = 101.0
    with pytest.raises(LimitExceeded, match="past its deadline of 100 s"):
        account._before_call(model)
    assert account.calls[("iam", "GetAccountAuthorizationDetails")] == 2 and not run.calls
