"""Regression tests for the narrowing soundness review: grants that turn on what a record does
not show, S3 keys and request parameters, calls that failed after authorisation, and the
per-resource-type guess about data events. CloudTrail records are built inline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import FN_ACCOUNT, fn_call, fn_record, narrow_fn, proposal_statements, sam_with_trail

from iamlint.catalog import get_catalog
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


_call = fn_call
_record = fn_record
_sam = sam_with_trail
_run = narrow_fn


_statements = proposal_statements


# -- item 1: conditions, policy variables, parameter defaults ---------------------------------


def test_a_grant_under_a_condition_the_record_shows_is_kept_with_that_condition() -> None:
    # s3:prefix is ListObjectsV2's `prefix`: the call is allowed, and only under the condition.
    original = _doc(
        [
            {
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": "arn:aws:s3:::data-bucket",
                "Condition": {"StringLike": {"s3:prefix": ["home/*"]}},
            }
        ]
    )
    p = narrow(
        [original], [_call("s3", "ListObjectsV2", {"bucketName": "data-bucket", "prefix": "home/a/"})], get_catalog()
    )
    assert not p.not_granted and not p.undecided
    (st,) = p.document["Statement"]
    assert st["Action"] == "s3:ListBucket" and st["Condition"] == {"StringLike": {"s3:prefix": "home/*"}}
    proposal = _doc(p.document["Statement"])
    assert contains([original], [proposal], get_catalog()).contained
    ok = Request("s3:ListBucket", "arn:aws:s3:::data-bucket", {"s3:prefix": "home/a/"})
    assert evaluate([proposal], ok).decision is Decision.ALLOW
    assert (
        evaluate([proposal], Request("s3:ListBucket", "arn:aws:s3:::data-bucket", {"s3:prefix": "etc/"})).decision
        is not Decision.ALLOW
    )


def test_a_call_outside_the_condition_is_not_granted() -> None:
    original = _doc(
        [
            {
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": "arn:aws:s3:::data-bucket",
                "Condition": {"StringLike": {"s3:prefix": ["home/*"]}},
            }
        ]
    )
    p = narrow(
        [original], [_call("s3", "ListObjectsV2", {"bucketName": "data-bucket", "prefix": "etc/"})], get_catalog()
    )
    assert [e.action for e in p.not_granted] == ["s3:ListBucket"] and not p.document["Statement"]


def test_ifexists_and_negated_conditions_are_narrowed_not_reported_as_a_bug() -> None:
    for condition in (
        {"StringEqualsIfExists": {"aws:RequestedRegion": "eu-west-1"}},
        {"StringNotEquals": {"aws:RequestedRegion": "us-east-1"}},
    ):
        original = _doc([{"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": condition}])
        p = narrow(
            [original],
            [_call("s3", "GetObject", {"bucketName": "b", "key": "a.txt"})],
            get_catalog(),
            trail_has_data_events=True,
        )
        (st,) = p.document["Statement"]
        assert st["Resource"] == "arn:aws:s3:::b/a.txt" and st["Condition"] == condition
        assert contains([original], [_doc(p.document["Statement"])], get_catalog()).contained


def test_a_grant_that_turns_on_an_unknown_key_or_variable_is_kept_as_written(tmp_path: Path) -> None:
    tagged = "arn:aws:s3:::data-bucket/${aws:PrincipalTag/team}/*"
    original = _doc([{"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": tagged}])
    p = narrow(
        [original], [_call("s3", "GetObject", {"bucketName": "data-bucket", "key": "blue/a.txt"})], get_catalog()
    )
    assert [(e.action, e.resource) for e in p.undecided] == [("s3:GetObject", "arn:aws:s3:::data-bucket/blue/a.txt")]
    assert p.document["Statement"][0]["Resource"] == tagged and p.document["Statement"][0]["Action"] == [
        "s3:GetObject",
        "s3:PutObject",
    ]
    # The GetObject record does not show that the team's prefix is logged: PutObject stays, unobserved.
    assert {e.action: e.basis for e in p.evidence}["s3:PutObject"].startswith("not observable")
    assert "aws:principaltag/team" in p.undecided[0].basis
    # Through the command: shown and explained, but never written.
    template, trail = _sam(
        tmp_path,
        f"""
- Version: "2012-10-17"
  Statement:
    - Effect: Allow
      Action: s3:GetObject
      Resource: "{tagged}"
""",
        [_record("s3.amazonaws.com", "GetObject", {"bucketName": "data-bucket", "key": "blue/a.txt"})],
    )
    before = template.read_text()
    shown = _run(template, trail)
    assert shown.exit_code == 0 and _statements(shown)[0]["Resource"] == tagged
    assert "cannot judge: s3:GetObject" in shown.stderr
    applied = _run(template, trail, "--apply")
    assert applied.exit_code == 2 and "nothing written" in applied.stderr and template.read_text() == before


def test_a_resource_from_a_parameter_default_is_unknown_not_the_default(tmp_path: Path) -> None:
    template, trail = _sam(
        tmp_path,
        """
- Statement:
    - Effect: Allow
      Action: [s3:GetObject, s3:PutObject]
      Resource: !Sub arn:aws:s3:::${DataBucket}/*
""",
        [_record("s3.amazonaws.com", "GetObject", {"bucketName": "prod-data", "key": "a.txt"})],
        parameters="Parameters:\n  DataBucket:\n    Type: String\n    Default: dev-data\n",
    )
    before = template.read_text()
    shown = _run(template, trail)
    assert shown.exit_code == 0 and "cannot judge: s3:GetObject" in shown.stderr and "not granted" not in shown.stderr
    assert [st["Resource"] for st in _statements(shown)] == ["arn:aws:s3:::<DataBucket>/*"]
    applied = _run(template, trail, "--apply")
    assert applied.exit_code == 2 and template.read_text() == before
    # Given its value, the parameter decides: the call is granted, on that object only.
    given = _run(template, trail, "--parameter", "DataBucket=prod-data", "--all-data-events")
    assert given.exit_code == 0 and "cannot judge" not in given.stderr
    assert [st["Resource"] for st in _statements(given)] == ["arn:aws:s3:::prod-data/a.txt"]
    wrong = _run(template, trail, "--parameter", "DataBucket=dev-data")
    assert "not granted now: s3:GetObject" in wrong.stderr


# -- item 4: S3 keys are literal, and request parameters can need more actions ----------------


def test_object_keys_with_wildcard_characters_are_escaped_in_the_proposal() -> None:
    original = _doc([{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::data-bucket/*"}])
    calls = [
        _call("s3", "PutObject", {"bucketName": "data-bucket", "key": "reports/*"}),
        _call("s3", "GetObject", {"bucketName": "data-bucket", "key": "img?.png"}),
        _call("s3", "GetObject", {"bucketName": "data-bucket", "key": "price$"}),
    ]
    p = narrow([original], calls, get_catalog(), trail_has_data_events=True)
    assert p.document["Version"] == "2012-10-17"
    written = {
        r
        for st in p.document["Statement"]
        for r in ([st["Resource"]] if isinstance(st["Resource"], str) else st["Resource"])
    }
    assert written == {
        "arn:aws:s3:::data-bucket/reports/${*}",
        "arn:aws:s3:::data-bucket/img${?}.png",
        "arn:aws:s3:::data-bucket/price${$}",
    }
    proposal = _doc(p.document["Statement"])
    assert (
        evaluate([proposal], Request("s3:PutObject", "arn:aws:s3:::data-bucket/reports/*")).decision is Decision.ALLOW
    )
    assert (
        evaluate([proposal], Request("s3:PutObject", "arn:aws:s3:::data-bucket/reports/x")).decision
        is not Decision.ALLOW
    )
    assert (
        evaluate([proposal], Request("s3:GetObject", "arn:aws:s3:::data-bucket/img1.png")).decision
        is not Decision.ALLOW
    )


def test_versions_acls_and_tags_in_the_request_need_their_own_actions() -> None:
    original = _doc([{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::data-bucket/*"}])
    calls = [
        _call("s3", "GetObject", {"bucketName": "data-bucket", "key": "a.txt", "versionId": "v1"}),
        _call("s3", "HeadObject", {"bucketName": "data-bucket", "key": "a.txt", "versionId": "v1"}),
        _call("s3", "DeleteObject", {"bucketName": "data-bucket", "key": "c.txt", "versionId": "v2"}),
        _call(
            "s3", "PutObject", {"bucketName": "data-bucket", "key": "b.txt", "x-amz-acl": "bucket-owner-full-control"}
        ),
        _call("s3", "PutObject", {"bucketName": "data-bucket", "key": "d.txt", "x-amz-grant-read": "id=x"}),
        _call("s3", "PutObject", {"bucketName": "data-bucket", "key": "e.txt", "x-amz-tagging": "team=blue"}),
    ]
    p = narrow([original], calls, get_catalog(), trail_has_data_events=True)
    grants = {(e.action, e.resource.rsplit("/", 1)[-1]) for e in p.evidence}
    assert {
        ("s3:GetObjectVersion", "a.txt"),
        ("s3:DeleteObjectVersion", "c.txt"),
        ("s3:PutObjectAcl", "b.txt"),
        ("s3:PutObjectAcl", "d.txt"),
        ("s3:PutObjectTagging", "e.txt"),
    } <= grants
    assert ("s3:PutObjectAcl", "e.txt") not in grants and ("s3:PutObjectTagging", "b.txt") not in grants
    plain = narrow(
        [original],
        [_call("s3", "GetObject", {"bucketName": "data-bucket", "key": "a.txt"})],
        get_catalog(),
        trail_has_data_events=True,
    )
    assert {e.action for e in plain.evidence} == {"s3:GetObject"}


# -- item 5: calls that failed after authorisation are use ------------------------------------


def test_calls_that_failed_after_authorisation_count_and_others_are_reported(tmp_path: Path) -> None:
    table = f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/idempotency"
    original = _doc(
        [
            {
                "Effect": "Allow",
                "Action": ["dynamodb:PutItem", "s3:ListBucket", "s3:GetObject"],
                "Resource": [table, "arn:aws:s3:::data-bucket", "arn:aws:s3:::data-bucket/*"],
            }
        ]
    )
    calls = [
        _call("dynamodb", "PutItem", {"tableName": "idempotency"}, error="ConditionalCheckFailedException"),
        _call("s3", "HeadObject", {"bucketName": "data-bucket", "key": "maybe.txt"}, error="NoSuchKey"),
        _call("s3", "GetObject", {"bucketName": "data-bucket", "key": "x.txt"}, error="AccessDenied"),
        _call("s3", "GetObject", {"bucketName": "data-bucket", "key": "y.txt"}, error="SlowDown"),
    ]
    p = narrow([original], calls, get_catalog())
    assert {(e.action, e.resource) for e in p.evidence} == {
        ("dynamodb:PutItem", table),
        ("s3:GetObject", "arn:aws:s3:::data-bucket/maybe.txt"),
        ("s3:ListBucket", "arn:aws:s3:::data-bucket"),
    }  # a 404 needs ListBucket, else S3 says 403
    assert [c.operation for c, _ in p.denied] == ["GetObject"]
    assert [c.error for c in p.uncounted] == ["SlowDown"]
    template, trail = _sam(
        tmp_path,
        """
- Statement:
    - Effect: Allow
      Action: s3:GetObject
      Resource: arn:aws:s3:::data-bucket/*
""",
        [
            _record("s3.amazonaws.com", "GetObject", {"bucketName": "data-bucket", "key": "y.txt"}, error="SlowDown"),
            _record("s3.amazonaws.com", "GetObject", {"bucketName": "data-bucket", "key": "z.txt"}),
        ],
    )
    assert "not counted: GetObject" in _run(template, trail).stderr


# -- item 6: data events are recorded per resource type ---------------------------------------


def test_one_kind_of_data_event_in_the_log_says_nothing_about_another() -> None:
    table = f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/orders"
    original = _doc(
        [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "dynamodb:GetItem"],
                "Resource": ["arn:aws:s3:::data-bucket/*", table],
            }
        ]
    )
    p = narrow([original], [_call("s3", "GetObject", {"bucketName": "data-bucket", "key": "a.txt"})], get_catalog())
    basis = {(e.action, e.resource): e.basis for e in p.evidence}
    assert (
        basis[("dynamodb:GetItem", table)].startswith("not observable")
        and "DynamoDB items" in basis[("dynamodb:GetItem", table)]
    )
    # S3 object reads are recorded there, writes not shown to be (a trail may log reads only):
    # the unused s3:PutObject stays, unobserved; once a write is seen in that folder, it goes.
    assert basis[("s3:PutObject", "arn:aws:s3:::data-bucket/*")].startswith("not observable")
    assert basis[("s3:GetObject", "arn:aws:s3:::data-bucket/a.txt")] == "observed"
    wrote = narrow(
        [original],
        [
            _call("s3", "GetObject", {"bucketName": "data-bucket", "key": "a.txt"}),
            _call("s3", "DeleteObject", {"bucketName": "data-bucket", "key": "b.txt"}),
        ],
        get_catalog(),
    )
    assert ("s3:PutObject", "arn:aws:s3:::data-bucket/*") not in {(e.action, e.resource) for e in wrote.evidence}


# -- an empty proposal is not shown as a policy -----------------------------------------------


def test_an_empty_proposal_says_no_grant_is_needed(tmp_path: Path) -> None:
    template, trail = _sam(
        tmp_path,
        """
- Statement:
    - Effect: Allow
      Action: ssm:GetParameter
      Resource: arn:aws:ssm:eu-west-1:111122223333:parameter/app/*
""",
        [_record("sts.amazonaws.com", "GetCallerIdentity", {})],
    )
    shown = _run(template, trail)
    assert shown.exit_code == 0 and not shown.stdout and "no grant needed" in shown.stderr
    diff = _run(template, trail, "--diff")
    assert diff.exit_code == 0 and "+      Policies: []" in diff.stdout
