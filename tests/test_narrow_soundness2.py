"""Regression tests for the second narrowing soundness review: what a record cannot show (another
service's condition key, the stack's region, the request context a Deny turns on, the keys of a
batch delete) is "cannot judge", never "not granted now" followed by a patch that drops the grant.
Templates and CloudTrail records are built inline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from conftest import FN_ACCOUNT, fn_call, fn_record, narrow_fn, proposal_statements, sam_with_trail

from iamlint.catalog import get_catalog
from iamlint.cli import cli
from iamlint.loaders.inputs import InputOptions, load_paths
from iamlint.model import PolicyKind
from iamlint.narrow.calls import Call
from iamlint.narrow.narrower import narrow
from iamlint.policy import parse_policy

ACCOUNT = FN_ACCOUNT


_record = fn_record


def _get(key: str, bucket: str = "data-bucket") -> dict[str, Any]:
    return _record("s3.amazonaws.com", "GetObject", {"bucketName": bucket, "key": key})


_sam = sam_with_trail
_run = narrow_fn


def _refuses(template: Path, trail: Path, *extra: str) -> Any:
    """--diff and --apply both exit 2 and leave the template as it was; the shown run's result."""
    before = template.read_text()
    for flag in ("--diff", "--apply"):
        result = _run(template, trail, flag, *extra)
        assert result.exit_code == 2, (flag, result.stdout, result.stderr)
        assert "\n+" not in result.stdout and template.read_text() == before
    return _run(template, trail, *extra)


# -- A: another service's condition key is unknown, not absent --------------------------------


def test_a_lambda_condition_key_is_cannot_judge_and_nothing_is_written(tmp_path: Path) -> None:
    # Lambda adds lambda:SourceFunctionArn to every request made with the function's role.
    for operator in ("ArnEquals", "ArnLike", "StringEquals"):
        template, trail = _sam(
            tmp_path,
            f"""
- Version: "2012-10-17"
  Statement:
    - Effect: Allow
      Action: s3:GetObject
      Resource: arn:aws:s3:::data-bucket/*
      Condition:
        {operator}:
          lambda:SourceFunctionArn: arn:aws:lambda:eu-west-1:{ACCOUNT}:function:fn
""",
            [_get("a.txt")],
        )
        shown = _refuses(template, trail)
        assert "cannot judge: s3:GetObject" in shown.stderr and "lambda:sourcefunctionarn" in shown.stderr
        assert "not granted now" not in shown.stderr


# -- B: the stack's region is not a majority vote of the calls' regions -----------------------

_QUEUES = """
- Statement:
    - Effect: Allow
      Action: sqs:SendMessage
      Resource: !Sub arn:aws:sqs:${AWS::Region}:${AWS::AccountId}:jobs
    - Effect: Allow
      Action: sqs:SendMessage
      Resource: arn:aws:sqs:us-east-1:111122223333:replica
"""


def _send(queue: str, region: str) -> dict[str, Any]:
    return _record(
        "sqs.amazonaws.com",
        "SendMessage",
        {"queueUrl": f"https://sqs.{region}.amazonaws.com/{ACCOUNT}/{queue}"},
        region=region,
    )


def test_calls_in_several_regions_leave_the_stack_region_unknown(tmp_path: Path) -> None:
    # Two calls to the replica in us-east-1 and one to the stack's own queue in eu-west-1: the
    # majority says us-east-1, which would make the jobs grant `us-east-1:jobs` and drop it.
    template, trail = _sam(
        tmp_path, _QUEUES, [_send("replica", "us-east-1"), _send("replica", "us-east-1"), _send("jobs", "eu-west-1")]
    )
    shown = _refuses(template, trail)
    assert "AWS::Region unknown" in shown.stderr and "--parameter AWS::Region=" in shown.stderr
    assert "cannot judge: sqs:SendMessage on arn:aws:sqs:eu-west-1" in shown.stderr
    assert "not granted now" not in shown.stderr
    # Told where the stack runs, it narrows and patches, keeping both queues.
    given = _run(template, trail, "--diff", "--parameter", "AWS::Region=eu-west-1")
    assert given.exit_code == 0, given.stderr
    assert "!Sub arn:aws:sqs:${AWS::Region}:${AWS::AccountId}:jobs" in given.stdout
    assert "arn:aws:sqs:us-east-1:111122223333:replica" in given.stdout and "not granted" not in given.stderr


def test_calls_in_one_region_still_resolve_it(tmp_path: Path) -> None:
    template, trail = _sam(tmp_path, _QUEUES, [_send("jobs", "eu-west-1")])
    shown = _run(template, trail, "--diff")
    assert shown.exit_code == 0 and "unknown" not in shown.stderr
    assert "-              Resource: arn:aws:sqs:us-east-1:111122223333:replica" in shown.stdout


# -- C: what CloudTrail cannot show is kept, whatever statement grants it ---------------------


def _narrowed(
    original: list[dict[str, Any]], calls: list[Call], workload: str | None = None, all_data_events: bool | None = None
) -> Any:
    doc, problems = parse_policy(
        {"Version": "2012-10-17", "Statement": original}, file="o.json", kind=PolicyKind.IDENTITY
    )
    assert doc is not None and not problems
    return narrow([doc], calls, get_catalog(), workload=workload, trail_has_data_events=all_data_events)


_call = fn_call


def test_unobservable_grants_under_a_condition_or_notresource_are_kept() -> None:
    audit = f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/audit"
    logs = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    region = {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}
    p = _narrowed(
        [
            {"Effect": "Allow", "Action": logs, "Resource": "*", "Condition": region},
            {"Effect": "Allow", "Action": "dynamodb:PutItem", "NotResource": audit},
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data-bucket/*"},
        ],
        [_call("s3", "GetObject", {"bucketName": "data-bucket", "key": "a.txt"})],
        workload="lambda",
    )
    kept = {(e.action, e.resource, e.not_resource): e for e in p.evidence}
    for action in logs:
        assert kept[(action, "*", ())].condition == (("StringEquals", "aws:RequestedRegion", ("eu-west-1",)),)
        assert kept[(action, "*", ())].basis.startswith("not observable")
    assert kept[("dynamodb:PutItem", "*", (audit,))].basis.startswith("not observable")
    written = [st for st in p.document["Statement"] if st["Action"] == "dynamodb:PutItem"]
    assert written == [
        {"Sid": written[0]["Sid"], "Effect": "Allow", "Action": "dynamodb:PutItem", "NotResource": audit}
    ]
    assert p.conditional  # the logs' condition: --diff and --apply do not write it


def test_a_notresource_grant_kept_as_unobservable_is_patched_as_written(tmp_path: Path) -> None:
    audit = f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/audit"
    template, trail = _sam(
        tmp_path,
        f"""
- Statement:
    - Effect: Allow
      Action: dynamodb:PutItem
      NotResource: {audit}
    - Effect: Allow
      Action: s3:GetObject
      Resource: arn:aws:s3:::data-bucket/*
""",
        [_get("a.txt")],
    )
    diff = _run(template, trail, "--diff")
    assert diff.exit_code == 0, diff.stderr
    assert f"NotResource: {audit}" in diff.stdout and "-              NotResource" not in diff.stdout


def test_a_data_event_on_one_bucket_says_nothing_about_another() -> None:
    p = _narrowed(
        [
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": ["arn:aws:s3:::logged-bucket/*", "arn:aws:s3:::unlogged-bucket/*"],
            }
        ],
        [_call("s3", "GetObject", {"bucketName": "logged-bucket", "key": "a.txt"})],
    )
    basis = {(e.action, e.resource): e.basis for e in p.evidence}
    assert basis == {
        ("s3:GetObject", "arn:aws:s3:::logged-bucket/a.txt"): "observed",
        ("s3:GetObject", "arn:aws:s3:::unlogged-bucket/*"): basis[("s3:GetObject", "arn:aws:s3:::unlogged-bucket/*")],
    }
    assert basis[("s3:GetObject", "arn:aws:s3:::unlogged-bucket/*")].startswith("not observable")


def test_listing_a_bucket_is_a_data_event() -> None:
    # ListObjects(V2) is recorded as an S3 data event: with only object reads in the log, a
    # bucket's listing grant is kept; once a listing of that bucket is seen, unused ones go.
    original = [
        {
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:GetObject"],
            "Resource": ["arn:aws:s3:::data-bucket", "arn:aws:s3:::data-bucket/*"],
        }
    ]
    read = _call("s3", "GetObject", {"bucketName": "data-bucket", "key": "a.txt"})
    kept = {(e.action, e.resource): e.basis for e in _narrowed(original, [read]).evidence}
    assert kept[("s3:ListBucket", "arn:aws:s3:::data-bucket")].startswith("not observable")
    assert ("s3:GetObject", "arn:aws:s3:::data-bucket/*") not in kept  # object events are recorded there
    listed = _call("s3", "ListObjectsV2", {"bucketName": "data-bucket", "prefix": "x/"})
    kept = {(e.action, e.resource): e.basis for e in _narrowed(original, [listed]).evidence}
    assert kept[("s3:ListBucket", "arn:aws:s3:::data-bucket")] == "observed"
    assert kept[("s3:GetObject", "arn:aws:s3:::data-bucket/*")].startswith("not observable")


# -- G: the patch judges the observed calls as the narrower did --------------------------------


def test_a_secure_transport_guardrail_does_not_block_the_patch(tmp_path: Path) -> None:
    # The record does not show aws:SecureTransport; the call succeeded, so the Deny did not apply.
    template, trail = _sam(
        tmp_path,
        """
- Statement:
    - Effect: Allow
      Action: s3:GetObject
      Resource: arn:aws:s3:::data-bucket/*
    - Effect: Deny
      Action: s3:*
      Resource: "*"
      Condition:
        Bool:
          aws:SecureTransport: "false"
""",
        [_get("a.txt")],
    )
    diff = _run(template, trail, "--diff")
    assert diff.exit_code == 0, diff.stderr
    assert "+              Resource: arn:aws:s3:::data-bucket/a.txt" in diff.stdout
    assert "aws:SecureTransport" in diff.stdout and "-              Effect: Deny" not in diff.stdout


# -- H: a call whose record names no resource is not judged against a Deny on a pattern -------

DELETE_OUTSIDE_TMP_DENIED = """
- Statement:
    - Effect: Allow
      Action: [s3:GetObject, s3:DeleteObject]
      Resource: "*"
    - Effect: Deny
      Action: s3:DeleteObject
      NotResource: arn:aws:s3:::data-bucket/tmp/*
"""


def test_a_batch_delete_without_keys_under_a_notresource_deny_is_cannot_judge(tmp_path: Path) -> None:
    # DeleteObjects records carry no keys: `*` stands for whatever keys were deleted, and the
    # Deny (all but tmp/*) may cover them or not.
    template, trail = _sam(
        tmp_path,
        DELETE_OUTSIDE_TMP_DENIED,
        [_get("a.txt"), _record("s3.amazonaws.com", "DeleteObjects", {"bucketName": "data-bucket", "delete": ""})],
    )
    shown = _refuses(template, trail)
    assert "cannot judge: s3:DeleteObject" in shown.stderr and "not granted now" not in shown.stderr
    kept = [st for st in _statements(shown) if st["Effect"] == "Allow" and "s3:DeleteObject" in st["Action"]]
    assert kept and kept[0]["Resource"] == "arn:aws:s3:::data-bucket/*"  # the record's bucket, no further
    # A key the record names is judged: one outside tmp/ is denied, as before.
    template, trail = _sam(
        tmp_path,
        DELETE_OUTSIDE_TMP_DENIED,
        [_get("a.txt"), _record("s3.amazonaws.com", "DeleteObject", {"bucketName": "data-bucket", "key": "keep.txt"})],
    )
    assert "not granted now: s3:DeleteObject on arn:aws:s3:::data-bucket/keep.txt" in _run(template, trail).stderr


_statements = proposal_statements


# -- F: text copied from a policy without Version means the same in the proposal --------------


def test_a_versionless_policys_dollar_text_stays_literal_in_the_proposal(tmp_path: Path) -> None:
    # Without Version 2012-10-17, ${aws:userid} is literal text; the proposal is 2012-10-17.
    template, trail = _sam(
        tmp_path,
        """
- Statement:
    - Effect: Allow
      Action: [s3:GetObject]
      Resource: ["arn:aws:s3:::data-bucket/${aws:userid}/*"]
    - Effect: Allow
      Action: [sqs:SendMessage]
      Resource: "arn:aws:sqs:eu-west-1:111122223333:jobs"
""",
        [_send("jobs", "eu-west-1")],
    )
    shown = _run(template, trail)
    assert shown.exit_code == 0, shown.stderr
    kept = [st["Resource"] for st in _statements(shown) if st["Action"] == "s3:GetObject"]
    assert kept == ["arn:aws:s3:::data-bucket/${$}{aws:userid}/*"]  # not observable, kept as it meant
    diff = _run(template, trail, "--diff")
    assert diff.exit_code == 0 and "+              Resource: arn:aws:s3:::data-bucket/${$}{aws:userid}/*" in diff.stdout


# -- D: who uses a role, however the workload names it -----------------------------------------

_SHARED = """AWSTemplateFormatVersion: "2010-09-09"
Conditions:
  IsProd: !Equals [!Ref "AWS::AccountId", "111122223333"]
Resources:
  SharedRole:
    Type: AWS::IAM::Role
    Properties:
      RoleName: shared-role
      AssumeRolePolicyDocument:
        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]
      Policies:
        - PolicyName: app
          PolicyDocument:
            Version: "2012-10-17"
            Statement: [{Effect: Allow, Action: [s3:GetObject, s3:PutObject], Resource: "arn:aws:s3:::data-bucket/*"}]
  OtherRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]
  Reader:
    Type: AWS::Lambda::Function
    Properties: {FunctionName: reader, Handler: app.handler, Runtime: python3.12, Code: {ZipFile: x},
                 Role: !GetAtt SharedRole.Arn}
"""
_WRITERS = {
    "SubName": '!Sub "arn:aws:iam::${AWS::AccountId}:role/${SharedRole}"',
    "SubArn": '!Sub "${SharedRole.Arn}"',
    "If": "!If [IsProd, !GetAtt OtherRole.Arn, !GetAtt SharedRole.Arn]",
    "Join": '!Join ["", ["arn:aws:iam::", !Ref "AWS::AccountId", ":role/", !Ref SharedRole]]',
    "Plain": '"arn:aws:iam::111122223333:role/shared-role"',
}


def test_a_role_named_by_sub_if_join_or_its_arn_is_seen_as_shared(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(
        _SHARED
        + "".join(
            f"  {name}:\n    Type: AWS::Lambda::Function\n    Properties: {{Handler: app.handler, Runtime: python3.12, "
            f"Code: {{ZipFile: x}}, Role: {role}}}\n"
            for name, role in _WRITERS.items()
        )
    )
    loaded = load_paths([str(template)], InputOptions())
    assert not loaded.errors
    used = {u for d in loaded.documents if d.source and d.source.logical_id == "SharedRole" for u in d.source.used_by}
    assert used == {"function Reader", *(f"function {name}" for name in _WRITERS)}
    trail = tmp_path / "ct.json"
    trail.write_text(json.dumps({"Records": [_get("a.txt")]}))
    before = template.read_text()
    result = CliRunner().invoke(
        cli, ["narrow", str(template), "--function", "Reader", "--cloudtrail", str(trail), "--apply"]
    )
    assert result.exit_code == 2 and "shared role" in result.stderr and template.read_text() == before


def test_a_deny_of_one_fn_if_branch_makes_the_call_cannot_judge(tmp_path: Path) -> None:
    """The call succeeded, so it came from a deployment where the Deny's branch is not taken."""
    template = tmp_path / "template.yaml"
    template.write_text(
        'AWSTemplateFormatVersion: "2010-09-09"\nTransform: AWS::Serverless-2016-10-31\n'
        "Parameters:\n  Env: {Type: String, Default: dev}\nConditions:\n  IsProd: !Equals [!Ref Env, prod]\n"
        "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      FunctionName: fn\n"
        "      Handler: app.handler\n      Runtime: python3.12\n      CodeUri: src/\n      Policies:\n"
        "        - Statement: [{Effect: Allow, Action: s3:GetObject, Resource: 'arn:aws:s3:::data-bucket/*'}]\n"
        "        - !If [IsProd, {Statement: [{Effect: Deny, Action: s3:GetObject, Resource: 'arn:aws:s3:::data-bucket/debug/*'}]},"
        " !Ref AWS::NoValue]\n"
    )
    trail = tmp_path / "ct.json"
    trail.write_text(json.dumps({"Records": [_get("debug/trace.txt")]}))
    shown = _run(template, trail)
    assert shown.exit_code == 0 and "cannot judge: s3:GetObject" in shown.stderr and "Fn::If" in shown.stderr
    assert "not granted now" not in shown.stderr
    assert _run(template, trail, "--diff").exit_code == 2


def test_a_data_event_on_one_bucket_says_nothing_of_a_grant_on_every_bucket() -> None:
    """Trails select data events per bucket (or prefix): one GetObject on b1 shows b1's folder
    logged, not every bucket, so s3:PutObject on "*" and on b2/* are kept as unobservable."""
    original = [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "*"},
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": ["arn:aws:s3:::b1/*", "arn:aws:s3:::b2/*"]},
    ]
    read = _call("s3", "GetObject", {"bucketName": "b1", "key": "a.txt"})
    kept = {(e.action, e.resource): e.basis for e in _narrowed(original, [read]).evidence}
    assert kept[("s3:PutObject", "*")].startswith("not observable")
    assert kept[("s3:PutObject", "arn:aws:s3:::b2/*")].startswith("not observable")
    assert kept[("s3:PutObject", "arn:aws:s3:::b1/*")].startswith("not observable")  # b1's reads are, not writes
    wrote = _narrowed(original, [read, _call("s3", "PutObject", {"bucketName": "b1", "key": "c.txt"})])
    assert ("s3:PutObject", "arn:aws:s3:::b1/*") not in {(e.action, e.resource) for e in wrote.evidence}
    told = _narrowed(original, [read], all_data_events=True)
    assert not any(e.action == "s3:PutObject" for e in told.evidence)


# -- third review -------------------------------------------------------------------------------


def test_a_batch_delete_without_keys_is_judged_inside_its_own_bucket() -> None:
    """DeleteObjects logs its bucket, not its keys: the grants of other buckets do not stand in for
    it, and a NotResource exclusion in that bucket makes it 'cannot judge', kept as written."""
    original = [
        {"Effect": "Allow", "Action": "s3:DeleteObject", "NotResource": "arn:aws:s3:::data-bucket/keep/*"},
        {"Effect": "Allow", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::other-bucket/*"},
    ]
    p = _narrowed(original, [_call("s3", "DeleteObjects", {"bucketName": "data-bucket"})])
    assert [(e.action, e.resource) for e in p.undecided] == [("s3:DeleteObject", "arn:aws:s3:::data-bucket/*")]
    kept = [e for e in p.evidence if e.basis.startswith("kept")]
    assert [(e.resource, e.not_resource) for e in kept] == [("*", ("arn:aws:s3:::data-bucket/keep/*",))]
    assert not any(e.resource == "arn:aws:s3:::other-bucket/*" and e.basis.startswith("kept") for e in p.evidence)


def test_a_not_resource_grant_that_cannot_be_judged_is_kept_as_written() -> None:
    original = [
        {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "NotResource": "arn:aws:s3:::data-bucket/${aws:PrincipalTag/team}/*",
        }
    ]
    p = _narrowed(original, [_call("s3", "GetObject", {"bucketName": "data-bucket", "key": "blue/a.txt"})])
    assert p.undecided and p.document["Statement"][0]["NotResource"] == original[0]["NotResource"]


def test_a_patch_with_parameter_values_written_in_is_refused(tmp_path: Path) -> None:
    """--parameter Stage=prod: a patch writing prod-jobs for ${Stage}-jobs holds for prod only."""
    template, trail = sam_with_trail(
        tmp_path,
        """
- Statement:
    - Effect: Allow
      Action: sqs:SendMessage
      Resource: !Sub "arn:aws:sqs:${AWS::Region}:${AWS::AccountId}:${Stage}-jobs"
""",
        [
            _record(
                "sqs.amazonaws.com",
                "SendMessage",
                {"queueUrl": f"https://sqs.eu-west-1.amazonaws.com/{ACCOUNT}/prod-jobs"},
            )
        ],
        parameters="Parameters:\n  Stage: {Type: String}\n",
    )
    before = template.read_text()
    diff = _run(template, trail, "--parameter", "Stage=prod", "--apply")
    assert diff.exit_code == 2 and "other values of the parameters given with --parameter" in diff.stderr
    assert template.read_text() == before


def test_a_call_in_another_region_is_not_judged_on_the_policys_own_region() -> None:
    """CreateTopic in us-east-1 against sns:* on eu-west-1's topics: the topic it named is
    built from its record, so it is not granted now, not 'observed' on the policy's pattern."""
    import dataclasses

    original = [{"Effect": "Allow", "Action": "sns:*", "Resource": f"arn:aws:sns:eu-west-1:{ACCOUNT}:*"}]
    here = _call("sns", "CreateTopic", {"name": "a"})
    there = dataclasses.replace(_call("sns", "CreateTopic", {"name": "b"}), region="us-east-1")
    p = _narrowed(original, [here, there])
    assert [(e.action, e.resource) for e in p.not_granted] == [
        ("sns:CreateTopic", f"arn:aws:sns:us-east-1:{ACCOUNT}:b")
    ]
    assert ("sns:CreateTopic", f"arn:aws:sns:eu-west-1:{ACCOUNT}:a") in {(e.action, e.resource) for e in p.evidence}


def test_the_unknown_region_note_is_given_only_where_the_region_decides_something(tmp_path: Path) -> None:
    calls = [
        _record(
            "sqs.amazonaws.com", "SendMessage", {"queueUrl": f"https://sqs.{r}.amazonaws.com/{ACCOUNT}/jobs"}, region=r
        )
        for r in ("eu-west-1", "us-east-1")
    ]
    template, trail = _sam(
        tmp_path,
        f"""
- Statement:
    - {{Effect: Allow, Action: sqs:SendMessage, Resource: "arn:aws:sqs:*:{ACCOUNT}:jobs"}}
""",
        calls,
    )
    shown = _run(template, trail)
    assert shown.exit_code == 0 and "AWS::Region unknown" not in shown.stderr


def test_a_grant_under_a_condition_is_written_into_the_patch_with_it(tmp_path: Path) -> None:
    template, trail = _sam(
        tmp_path,
        """
- Statement:
    - Effect: Allow
      Action: s3:ListBucket
      Resource: arn:aws:s3:::data-bucket
      Condition:
        StringLike:
          s3:prefix: ["home/*"]
    - Effect: Allow
      Action: sqs:*
      Resource: "*"
""",
        [_record("s3.amazonaws.com", "ListObjects", {"bucketName": "data-bucket", "prefix": "home/a/"})],
    )
    applied = _run(template, trail, "--apply", "--all-data-events")
    assert applied.exit_code == 0, applied.stderr
    written = template.read_text()
    assert "s3:ListBucket" in written and "s3:prefix: home/*" in written and "sqs:" not in written


def test_a_value_only_the_deployment_knows_is_never_written_as_text(tmp_path: Path) -> None:
    """Kept unobserved, `NotResource: !Sub arn:aws:s3:::${Secrets}/*` loads as `<Secrets>`:
    written as text, it would exclude nothing and grant the secrets bucket too."""
    template, trail = sam_with_trail(
        tmp_path,
        """
- Version: "2012-10-17"
  Statement:
    - Effect: Allow
      Action: s3:GetObject
      NotResource: !Sub "arn:aws:s3:::${Secrets}/*"
    - Effect: Allow
      Action: sqs:ListQueues
      Resource: "*"
""",
        [_record("sqs.amazonaws.com", "ListQueues", {})],
    )
    template.write_text(template.read_text() + "  Secrets:\n    Type: AWS::S3::Bucket\n")
    before = template.read_text()
    applied = _run(template, trail, "--apply")
    assert applied.exit_code == 2 and "a value only the deployment knows" in applied.stderr
    assert template.read_text() == before
