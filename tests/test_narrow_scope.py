"""What `iamlint narrow` proves, and what it says lies outside the proof (`iamlint.narrow.scope`).

Policies iamlint cannot read are kept as written; pseudo parameters are written only where the
original has them; a role several workloads share is not rewritten from one's calls; a policy
that Conditions make differ per deployment is proved against each branch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from iamlint.cli import cli
from iamlint.loaders.located import parse_yaml
from iamlint.narrow import patch

SAM_HEAD = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  SharedPolicyArn:
    Type: String
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: fn
      Handler: app.handler
      Runtime: python3.12
      CodeUri: src/
      Policies:
"""


def _record(service: str, operation: str, session: str = "fn", **parameters: str) -> dict[str, Any]:
    return {
        "service": service,
        "operation": operation,
        "principal": f"arn:aws:sts::111122223333:assumed-role/fn-role/{session}",
        "region": "eu-west-1",
        "account": "111122223333",
        "parameters": parameters,
        "time": "2026-11-01T10:00:00Z",
    }


def _write(tmp_path: Path, policies: str, *records: dict[str, Any], head: str = SAM_HEAD) -> tuple[Path, Path]:
    template = tmp_path / "template.yaml"
    template.write_text(head + "".join(f"        {line}\n" for line in policies.splitlines()))
    evidence = tmp_path / "calls.jsonl"
    evidence.write_text("".join(json.dumps(r) + "\n" for r in records))
    return template, evidence


def _narrow(template: Path, evidence: Path, *extra: str, principal: tuple[str, ...] = ("--function", "Fn")) -> Any:
    return CliRunner().invoke(
        cli, ["narrow", str(template), *principal, "--evidence", str(evidence), "--workload", "none", *extra]
    )


def _policies(template: Path, owner: str = "Fn") -> Any:
    return parse_yaml(template.read_text(), str(template)).data["Resources"][owner]["Properties"]["Policies"]  # type: ignore[index]


# -- policies iamlint cannot read -------------------------------------------------------------

UNREADABLE = """\
- arn:aws:iam::111122223333:policy/team-shared-access
- !Ref SharedPolicyArn
- !ImportValue network-stack-policy
- arn:aws:iam::aws:policy/NotAPolicyIamlintKnows
- Statement:
    - Effect: Allow
      Action: s3:GetObject
      Resource: "arn:aws:s3:::data-bucket/*"
"""


def test_apply_keeps_every_policy_iamlint_cannot_read_as_written(tmp_path: Path) -> None:
    template, evidence = _write(
        tmp_path,
        UNREADABLE,
        _record("s3", "GetObject", bucketName="data-bucket", key="a.txt"),
        _record("sqs", "SendMessage", queueUrl="https://sqs.eu-west-1.amazonaws.com/111122223333/jobs"),
    )
    result = _narrow(template, evidence, "--parameter", "SharedPolicyArn=arn:aws:iam::111122223333:policy/x", "--apply")
    assert result.exit_code == 0, result.output
    written = _policies(template)
    assert written[:4] == [
        "arn:aws:iam::111122223333:policy/team-shared-access",
        {"Ref": "SharedPolicyArn"},
        {"Fn::ImportValue": "network-stack-policy"},
        "arn:aws:iam::aws:policy/NotAPolicyIamlintKnows",
    ]
    assert [st["Resource"] for st in written[4]["Statement"]] == ["arn:aws:s3:::data-bucket/a.txt"]
    # The call none of the readable policies allows is not blamed on the current policy alone.
    not_granted = [line for line in result.stderr.splitlines() if line.startswith("not granted now: sqs:SendMessage")]
    assert len(not_granted) == 1 and "team-shared-access" in not_granted[0] and "cannot read" in not_granted[0]
    assert result.stderr.count("kept as written: ") == 4


# -- pseudo parameters ------------------------------------------------------------------------

HARD_CODED = """\
- Statement:
    - Effect: Allow
      Action: sqs:SendMessage
      Resource: arn:aws:sqs:eu-west-1:{account}:shared-queue
"""


@pytest.mark.parametrize("account", ["999988887777", "111122223333"])  # another account's queue, then the caller's
def test_a_hard_coded_region_and_account_stay_hard_coded(tmp_path: Path, account: str) -> None:
    template, evidence = _write(
        tmp_path,
        HARD_CODED.format(account=account),
        _record("sqs", "SendMessage", queueUrl=f"https://sqs.eu-west-1.amazonaws.com/{account}/shared-queue"),
    )
    result = _narrow(template, evidence, "--apply")
    assert result.exit_code == 0, result.output
    (statement,) = _policies(template)[0]["Statement"]
    assert statement["Resource"] == f"arn:aws:sqs:eu-west-1:{account}:shared-queue"


def test_the_proof_refuses_a_patch_that_means_another_queue_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The old writer: every field equal to the calls' region or account became a pseudo parameter.
    monkeypatch.setattr(patch, "_form", lambda arn, *_: {"Fn::Sub": arn.replace(":eu-west-1:", ":${AWS::Region}:")})
    template, evidence = _write(
        tmp_path,
        HARD_CODED.format(account="999988887777"),
        _record("sqs", "SendMessage", queueUrl="https://sqs.eu-west-1.amazonaws.com/999988887777/shared-queue"),
    )
    before = template.read_text()
    result = _narrow(template, evidence, "--apply")
    assert result.exit_code == 2 and "in another region, account or partition" in result.stderr
    assert template.read_text() == before


# -- a role several workloads share -----------------------------------------------------------

SHARED = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  SharedRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: lambda.amazonaws.com}
            Action: sts:AssumeRole
      Policies:
        - PolicyName: app
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: [s3:GetObject, s3:PutObject]
                Resource: arn:aws:s3:::data-bucket/*
  Reader:
    Type: AWS::Lambda::Function
    Properties:
      Handler: app.handler
      Runtime: python3.12
      Role: !GetAtt SharedRole.Arn
      Code: {ZipFile: "x"}
  Writer:
    Type: AWS::Lambda::Function
    Properties:
      Handler: app.handler
      Runtime: python3.12
      Role: !GetAtt SharedRole.Arn
      Code: {ZipFile: "x"}
"""


@pytest.mark.parametrize("principal", [("--function", "Reader"), ("--role", "SharedRole", "--session", "reader")])
def test_a_shared_role_is_not_rewritten_from_one_workloads_calls(tmp_path: Path, principal: tuple[str, ...]) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(SHARED)
    evidence = tmp_path / "calls.jsonl"
    evidence.write_text(json.dumps(_record("s3", "GetObject", "reader", bucketName="data-bucket", key="a.txt")) + "\n")
    shown = _narrow(template, evidence, principal=principal)
    assert shown.exit_code == 0 and "shared role:" in shown.stderr and "function Writer" in shown.stderr
    applied = _narrow(template, evidence, "--apply", principal=principal)
    assert applied.exit_code == 2 and "also the role of function" in applied.stderr and "Writer" in applied.stderr
    assert template.read_text() == SHARED
    # With the calls of every user of the role, it is narrowed.
    whole = _narrow(template, evidence, "--apply", principal=("--role", "SharedRole"))
    assert whole.exit_code == 0, whole.output
    assert "s3:PutObject" not in template.read_text()


# -- Conditions -------------------------------------------------------------------------------

CONDITIONAL_HEAD = SAM_HEAD.replace(
    "Parameters:\n",
    """Parameters:
  Env:
    Type: String
    Default: dev
Conditions:
  IsProd: !Equals [!Ref Env, prod]
""",
    1,
)
BRANCHES = """\
- Statement:
    - Effect: Allow
      Action: s3:*
      Resource: !If [IsProd, "arn:aws:s3:::*", "arn:aws:s3:::dev-bucket/*"]
"""


def _proved_line(stderr: str) -> str:
    return next(line for line in stderr.splitlines() if line.startswith("proved:"))


def test_the_printed_proof_names_the_branch_it_does_not_hold_in(tmp_path: Path) -> None:
    template, evidence = _write(
        tmp_path,
        BRANCHES,
        _record("s3", "GetObject", bucketName="prod-bucket", key="a.txt"),
        _record("s3", "GetObject", bucketName="dev-bucket", key="b.txt"),
        head=CONDITIONAL_HEAD,
    )
    result = _narrow(template, evidence)
    assert result.exit_code == 0, result.output
    proved = _proved_line(result.stderr)
    assert "grants nothing the current policy does not where IsProd," in proved
    assert "where not IsProd it grants more" in proved


def test_the_printed_proof_holds_in_each_branch_when_it_does(tmp_path: Path) -> None:
    template, evidence = _write(
        tmp_path, BRANCHES, _record("s3", "GetObject", bucketName="dev-bucket", key="b.txt"), head=CONDITIONAL_HEAD
    )
    result = _narrow(template, evidence)
    assert result.exit_code == 0, result.output
    assert _proved_line(result.stderr).endswith(
        "in each deployment the template's Conditions make (IsProd; not IsProd)"
    )


# -- nothing needed ---------------------------------------------------------------------------


def test_apply_writes_an_empty_policies_list_and_says_nothing_is_needed(tmp_path: Path) -> None:
    template, evidence = _write(
        tmp_path,
        """\
- Statement:
    - Effect: Allow
      Action: sns:CreateTopic
      Resource: "*"
""",
        _record("s3", "ListBuckets"),
    )
    result = _narrow(template, evidence, "--apply")
    assert result.exit_code == 0, result.output
    assert _policies(template) == []
    assert "no permissions needed: Fn needs none beyond what is left in place (" in result.stderr
    assert "AWSLambdaBasicExecutionRole" in result.stderr.split("no permissions needed:", 1)[1].splitlines()[0]
    # SAM reads the empty list as no policies: the patched template loads, with only SAM's own.
    loaded = CliRunner().invoke(cli, ["check", str(template), "--format", "json", "--fail-on", "critical"])
    assert loaded.exit_code == 0, loaded.output


def test_role_of_a_lambda_function_keeps_the_runtimes_log_writes(tmp_path: Path) -> None:
    """--role on a role the template gives a Lambda function: its log writes are as unseen as
    with --function, so they are kept, not removed for want of calls."""
    template = tmp_path / "template.yaml"
    template.write_text(SHARED.replace("s3:PutObject", "logs:PutLogEvents"))
    evidence = tmp_path / "calls.jsonl"
    evidence.write_text(json.dumps(_record("s3", "GetObject", "reader", bucketName="data-bucket", key="a.txt")) + "\n")
    shown = CliRunner().invoke(cli, ["narrow", str(template), "--role", "SharedRole", "--evidence", str(evidence)])
    assert shown.exit_code == 0, shown.output
    assert "logs:PutLogEvents" in shown.stdout
