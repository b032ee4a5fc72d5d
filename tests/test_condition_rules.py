"""Condition semantics and document validity (IAM170-IAM185): what a broken condition does to
its statement, the key and operator knowledge behind each finding, and policy size quotas."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from conftest import lint_doc, lint_template, rule_ids

from iamlint.catalog import get_catalog
from iamlint.checks import RuleContext
from iamlint.checks.condition_keys import knowledge
from iamlint.checks.principals import policy_kind
from iamlint.checks.structure import arn_problem, policy_size
from iamlint.engine import Engine
from iamlint.model import Finding, PolicyKind, Severity
from iamlint.policy import parse_policy

IDENTITY = PolicyKind.IDENTITY


def _st(
    action: Any, resource: Any = "*", condition: dict[str, Any] | None = None, effect: str = "Allow"
) -> dict[str, Any]:
    st: dict[str, Any] = {"Effect": effect, "Action": action, "Resource": resource}
    if condition is not None:
        st["Condition"] = condition
    return st


def _doc(*statements: dict[str, Any], version: str | None = "2012-10-17") -> dict[str, Any]:
    out: dict[str, Any] = {"Statement": list(statements)}
    if version:
        out["Version"] = version
    return out


def _findings(engine: Engine, doc: dict[str, Any], rule: str, kind: PolicyKind = IDENTITY) -> list[Finding]:
    return [f for f in lint_doc(engine, doc, kind).findings if f.rule == rule]


# -- knowledge --------------------------------------------------------------------------------


def test_key_knowledge_comes_from_the_tables_and_the_catalogue() -> None:
    k = knowledge(RuleContext(get_catalog()))
    tag = k.lookup("aws:RequestTag/cost-center")
    assert tag is not None and tag.origin == "global" and not tag.multivalued
    keys = k.lookup("aws:TagKeys")
    assert keys is not None and keys.multivalued
    ctx_key = k.lookup("kms:EncryptionContext:department")
    assert ctx_key is not None and ctx_key.origin == "kms"
    assert k.lookup("s3:ExistingObjectTag/classification") is not None
    age = k.lookup("S3:SIGNATUREAGE")  # keys are case-insensitive
    assert age is not None and age.type == "Numeric"
    amr = k.lookup("cognito-identity.amazonaws.com:amr")
    assert amr is not None and amr.multivalued  # the table knows what the catalogue does not
    gitlab = k.lookup("gitlab.com:project_id")
    assert gitlab is not None and gitlab.origin == "sts"
    assert k.lookup("s3:no-such-key") is None
    op = k.operator("ForAllValues:StringNotEqualsIgnoreCaseIfExists")
    assert (op.base, op.family, op.negated, op.if_exists, op.set_qualifier) == (
        "StringNotEqualsIgnoreCase",
        "String",
        True,
        True,
        "ForAllValues",
    )


def test_policy_kind_inference_for_bare_files() -> None:
    def kind(doc: dict[str, Any]) -> PolicyKind:
        parsed, _ = parse_policy(doc, file="x.json")
        assert parsed is not None
        return policy_kind(parsed)

    assert kind(_doc(_st("s3:GetObject"))) is PolicyKind.IDENTITY
    assert kind(_doc({"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"})) is PolicyKind.TRUST
    assert (
        kind(_doc({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}))
        is PolicyKind.RESOURCE
    )


# -- IAM170 / IAM171 ---------------------------------------------------------------------------


def test_unknown_operator_suggests_and_points_at_the_key(engine: Engine) -> None:
    [f] = _findings(
        engine, _doc(_st("s3:ListBucket", "arn:aws:s3:::b", {"StringEqual": {"s3:prefix": "a/"}})), "IAM170"
    )
    assert "'StringEquals'" in f.message
    assert f.location.keys == ("Statement", 0, "Condition", "StringEqual", "s3:prefix")
    assert f.evidence.conditions == ("s3:prefix",)


def test_operator_case_and_qualifiers_are_understood(engine: Engine) -> None:
    doc = _doc(
        _st(
            "ec2:CreateTags",
            "arn:aws:ec2:*:*:instance/*",
            {
                "forAllValues:stringLike": {"aws:TagKeys": "team*"},
                "stringEqualsIfExists": {"aws:RequestTag/team": "blue"},
            },
        )
    )
    assert rule_ids(lint_doc(engine, doc, IDENTITY)) & {"IAM170", "IAM172", "IAM173"} == set()


def test_null_if_exists(engine: Engine) -> None:
    doc = _doc(_st("ec2:RunInstances", "*", {"NullIfExists": {"aws:RequestTag/team": "true"}}))
    [f] = _findings(engine, doc, "IAM171")
    assert f.location.keys[-2:] == ("NullIfExists", "aws:RequestTag/team")


# -- IAM172 condition-key-not-applicable -------------------------------------------------------


def test_parliament_shapes_of_unknown_keys(engine: Engine) -> None:
    bucket = "arn:aws:s3:::bucket-name"
    bad = [
        {"DateGreaterThan": {"bad": "2019-07-16T12:00:00Z"}},
        {"StringEquals": {"s3:x-amz-storage-class": "bad"}},
        {"StringEquals": {"s3:x": "home/"}},
    ]
    for cond in bad:
        assert "IAM172" in rule_ids(lint_doc(engine, _doc(_st("s3:listbucket", bucket, cond)), IDENTITY)), cond
    good = {
        "StringEquals": {"s3:prefix": ["home/${aws:username}/"]},
        "DateGreaterThan": {"aws:CurrentTime": "2019-07-16T12:00:00Z"},
    }
    assert "IAM172" not in rule_ids(lint_doc(engine, _doc(_st("s3:listbucket", bucket, good)), IDENTITY))


def test_key_of_another_service_explains_and_grades_by_effect(engine: Engine) -> None:
    cond = {"StringNotEquals": {"iam:ResourceTag/status": "prod"}}
    [allow] = _findings(engine, _doc(_st(["ec2:*", "s3:*"], "*", cond)), "IAM172")
    assert allow.severity.label == "high"  # negated + absent key: always true, the Allow applies anyway
    assert "is a key of iam" in allow.message and "applies as if it had no condition" in allow.message
    [deny] = _findings(
        engine,
        _doc(_st("ec2:TerminateInstances", "*", {"StringEquals": {"iam:ResourceTag/status": "prod"}}, "Deny")),
        "IAM172",
    )
    assert deny.severity.label == "high" and "the Deny never applies" in deny.message
    [dead] = _findings(
        engine, _doc(_st("ec2:TerminateInstances", "*", {"StringEquals": {"iam:ResourceTag/status": "prod"}})), "IAM172"
    )
    assert dead.severity.label == "medium" and "the Allow grants nothing" in dead.message


def test_a_key_of_the_same_service_is_reported_lower(engine: Engine) -> None:
    cond = {"StringEquals": {"s3:x-amz-storage-class": "GLACIER"}}
    [allow] = _findings(engine, _doc(_st("s3:ListBucket", "arn:aws:s3:::b", cond)), "IAM172")
    assert allow.severity.label == "low" and "the catalogue lists it for none of s3:ListBucket" in allow.message
    [deny] = _findings(engine, _doc(_st("s3:ListBucket", "arn:aws:s3:::b", cond, "Deny")), "IAM172")
    assert deny.severity.label == "medium"


def test_typo_in_a_global_key(engine: Engine) -> None:
    [f] = _findings(
        engine,
        _doc(_st("s3:GetObject", "arn:aws:s3:::b/*", {"StringEquals": {"aws:SourceAcount": "123456789012"}})),
        "IAM172",
    )
    assert "is not an AWS global condition key" in f.message
    assert "IAM172" not in rule_ids(
        lint_doc(
            engine,
            _doc(_st("s3:GetObject", "arn:aws:s3:::b/*", {"IpAddress": {"AWS:SOURCEIP": "10.0.0.0/8"}})),
            IDENTITY,
        )
    )


def test_open_ended_and_unknown_actions_are_not_judged(engine: Engine) -> None:
    star = _doc(_st("*", "*", {"StringEquals": {"s3:prefix": "a/"}}))
    assert "IAM172" not in rule_ids(lint_doc(engine, star, IDENTITY))
    typo = _doc(_st("s3:GetObjekt", "arn:aws:s3:::b/*", {"StringEquals": {"s3:ExistingObjectTag/x": "y"}}))
    ids = rule_ids(lint_doc(engine, typo, IDENTITY))
    assert "IAM111" in ids and "IAM172" not in ids


def test_templated_service_keys_are_recognised(engine: Engine) -> None:
    doc = _doc(
        _st(
            ["kms:Decrypt", "s3:GetObject"],
            "*",
            {
                "StringEquals": {
                    "kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::b",
                    "s3:ExistingObjectTag/team": "blue",
                    "aws:ResourceTag/team": "blue",
                }
            },
        )
    )
    assert "IAM172" not in rule_ids(lint_doc(engine, doc, IDENTITY))


def test_trust_policy_keys_are_sts_keys(engine: Engine) -> None:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {
                    "Federated": "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
                },
                "Action": ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"],
                "Condition": {
                    "StringEquals": {
                        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                        "token.actions.githubusercontent.com:repository_owner_id": "1234",
                    },
                    "StringLike": {"token.actions.githubusercontent.com:sub": "repo:o/r:ref:refs/heads/main"},
                },
            }
        ],
    }
    assert "IAM172" not in rule_ids(lint_doc(engine, trust, PolicyKind.TRUST))
    external = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "111122223333"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": "x", "aws:PrincipalOrgID": "o-1"}},
            }
        ],
    }
    assert "IAM172" not in rule_ids(lint_doc(engine, external, PolicyKind.TRUST))


# -- IAM173 / IAM174 types and values ----------------------------------------------------------


@pytest.mark.parametrize(
    "condition,family",
    [
        ({"StringEquals": {"s3:signatureage": "bad"}}, "String"),
        ({"NumericEquals": {"s3:prefix": "1"}}, "Numeric"),
        ({"Bool": {"s3:prefix": "true"}}, "Bool"),
        ({"DateGreaterThan": {"aws:SourceIp": "2020-01-01"}}, "Date"),
    ],
)
def test_operator_family_must_fit_the_key_type(engine: Engine, condition: dict[str, Any], family: str) -> None:
    [f] = _findings(engine, _doc(_st("s3:ListBucket", "arn:aws:s3:::b", condition)), "IAM173")
    assert f"as {family}" in f.message and f.evidence.conditions == (next(iter(next(iter(condition.values())))),)


def test_arn_keys_accept_string_operators_and_epoch_time_numbers(engine: Engine) -> None:
    doc = _doc(
        _st(
            "s3:GetObject",
            "arn:aws:s3:::b/*",
            {
                "StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/x"},
                "ArnEquals": {"aws:SourceArn": "arn:aws:sns:*:123456789012:*"},
                "NumericGreaterThan": {"aws:EpochTime": "1700000000"},
                "DateLessThan": {"aws:EpochTime": "1800000000"},
            },
        )
    )
    assert rule_ids(lint_doc(engine, doc, IDENTITY)) & {"IAM173", "IAM174", "IAM178"} == set()


@pytest.mark.parametrize(
    "condition,value",
    [
        ({"DateGreaterThan": {"aws:CurrentTime": "bad"}}, "bad"),
        ({"Bool": {"aws:SecureTransport": "yes"}}, "yes"),
        ({"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "10.0.0.300"]}}, "10.0.0.300"),
        ({"NumericLessThan": {"aws:MultiFactorAuthAge": "one hour"}}, "one hour"),
        ({"Null": {"aws:TokenIssueTime": "maybe"}}, "maybe"),
    ],
)
def test_values_must_parse_for_their_operator(engine: Engine, condition: dict[str, Any], value: str) -> None:
    [f] = _findings(engine, _doc(_st("s3:GetObject", "arn:aws:s3:::b/*", condition)), "IAM174")
    assert f'"{value}"' in f.message


def test_values_that_parse_and_variables_are_accepted(engine: Engine) -> None:
    doc = _doc(
        _st(
            "s3:GetObject",
            "arn:aws:s3:::b/*",
            {
                "DateGreaterThan": {
                    "aws:CurrentTime": [
                        "2019-07-16T12:00:00Z",
                        "2019-07-16",
                        "1563278400",
                        "2019-07-16T12:00:00.5+02:00",
                    ]
                },
                "Bool": {"aws:SecureTransport": True},
                "IpAddress": {"aws:SourceIp": ["2001:db8::/32", "203.0.113.7"]},
                "NumericLessThan": {"aws:MultiFactorAuthAge": 3600},
                "DateLessThan": {"aws:TokenIssueTime": "${aws:CurrentTime}"},
            },
        )
    )
    assert "IAM174" not in rule_ids(lint_doc(engine, doc, IDENTITY))


# -- IAM175 / IAM176 set operators -------------------------------------------------------------


def test_for_all_values_on_a_single_valued_key(engine: Engine) -> None:
    cond = {"ForAllValues:StringEquals": {"aws:PrincipalOrgID": "o-1"}}
    [allow] = _findings(engine, _doc(_st("s3:GetObject", "arn:aws:s3:::b/*", cond)), "IAM175")
    assert allow.severity.label == "high" and "true when the key is absent" in allow.message
    [deny] = _findings(engine, _doc(_st("s3:GetObject", "arn:aws:s3:::b/*", cond, "Deny")), "IAM175")
    assert deny.severity.label == "medium"
    [any_value] = _findings(
        engine,
        _doc(_st("s3:GetObject", "arn:aws:s3:::b/*", {"ForAnyValue:StringEquals": {"aws:PrincipalOrgID": "o-1"}})),
        "IAM175",
    )
    assert any_value.severity.label == "low"


def test_multivalued_keys_want_a_set_operator(engine: Engine) -> None:
    plain = _doc(_st("ec2:CreateTags", "*", {"StringEquals": {"aws:TagKeys": "team"}}))
    [f] = _findings(engine, plain, "IAM176")
    assert f.evidence.conditions == ("aws:TagKeys",)
    qualified = _doc(
        _st(
            "ec2:CreateTags",
            "*",
            {"ForAnyValue:StringEquals": {"aws:TagKeys": "team"}, "Null": {"aws:TagKeys": "false"}},
        )
    )
    assert rule_ids(lint_doc(engine, qualified, IDENTITY)) & {"IAM175", "IAM176"} == set()


# -- IAM177 / IAM178 ---------------------------------------------------------------------------


def test_mfa_false_in_allow_and_deny(engine: Engine) -> None:
    cond = {"Bool": {"aws:MultiFactorAuthPresent": "false"}}
    [allow] = _findings(engine, _doc(_st("*", "*", cond)), "IAM177")
    assert allow.severity.label == "medium" and "long-term access keys" in allow.message
    [deny] = _findings(engine, _doc(_st("*", "*", cond, "Deny")), "IAM177")
    assert deny.severity.label == "high" and "BoolIfExists" in deny.message
    safe = _doc(
        _st("*", "*", {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}, "Deny"),
        _st("iam:ListUsers", "*", {"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
    )
    assert "IAM177" not in rule_ids(lint_doc(engine, safe, IDENTITY))


def test_wildcards_under_equals(engine: Engine) -> None:
    [f] = _findings(
        engine,
        _doc(_st("s3:ListBucket", "arn:aws:s3:::b", {"StringNotEquals": {"s3:prefix": "home/?"}}, "Deny")),
        "IAM178",
    )
    assert "StringNotLike" in f.message
    fine = _doc(
        _st(
            "s3:ListBucket",
            "arn:aws:s3:::b",
            {
                "StringEquals": {"s3:prefix": "literal-${*}-and-${?}"},
                "ArnEquals": {"aws:SourceArn": "arn:aws:sns:*:*:t"},
            },
        )
    )
    assert "IAM178" not in rule_ids(lint_doc(engine, fine, IDENTITY))


# -- IAM180-IAM184 validity --------------------------------------------------------------------


@pytest.mark.parametrize(
    "resource,problem",
    [
        ("s3", "neither"),
        ("arn:aws:s3", "3 of the 6"),
        ("arn:aws-mars:s3:::b", "unknown partition"),
        ("arn:aws:sqs:us-east-1:12345:q", "invalid account"),
        ("arn:aws:sqs:US_EAST:123456789012:q", "invalid Region"),
        ("ARN:aws:s3:::b", "lower-case"),
        ("arn:aws:s3:::", "empty resource"),
    ],
)
def test_invalid_arns(resource: str, problem: str) -> None:
    found = arn_problem(RuleContext(get_catalog()), resource)
    assert found is not None and problem in found


@pytest.mark.parametrize(
    "resource",
    [
        "*",
        "arn:aws:s3:::b/${aws:username}/*",
        "arn:aws-cn:s3:::b",
        "arn:aws-iso-b:s3:::b",
        "arn:*:cloudtrail:*:*:trail/*",
        "arn:aws:iam::aws:policy/ReadOnlyAccess",
        "arn:aws:lambda:<AWS::Region>:<AWS::AccountId>:function:<Handler>",
        "<ImportValue:SharedBucketArn>",
        "arn:aws:kms:${aws:RequestedRegion}:123456789012:key/*",
    ],
)
def test_valid_arns(resource: str) -> None:
    assert arn_problem(RuleContext(get_catalog()), resource) is None


def test_invalid_arn_points_at_the_entry(engine: Engine) -> None:
    [f] = _findings(engine, _doc(_st("s3:GetObject", ["arn:aws:s3:::b/*", "b/*"])), "IAM180")
    assert f.location.keys == ("Statement", 0, "Resource", 1) and f.evidence.resources == ("b/*",)


def test_policy_variables_need_version_2012(engine: Engine) -> None:
    in_condition = _st("s3:ListBucket", "arn:aws:s3:::b", {"StringLike": {"s3:prefix": "home/${aws:username}/*"}})
    [f] = _findings(engine, _doc(in_condition, version=None), "IAM181")
    assert f.location.keys[:3] == ("Statement", 0, "Condition") and "no Version" in f.message
    assert "IAM181" not in rule_ids(lint_doc(engine, _doc(in_condition), IDENTITY))
    assert "IAM181" not in rule_ids(
        lint_doc(engine, _doc(_st("s3:GetObject", "arn:aws:s3:::b/*"), version="2008-10-17"), IDENTITY)
    )


def test_unknown_policy_variables(engine: Engine) -> None:
    def role(resource: Any, effect: str = "Allow") -> dict[str, Any]:
        statement = {"Effect": effect, "Action": "s3:GetObject", "Resource": resource}
        policy = {"PolicyName": "p", "PolicyDocument": {"Version": "2012-10-17", "Statement": [statement]}}
        return {
            "Resources": {
                "R": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}, "Policies": [policy]}}
            }
        }

    # A plain string keeps ${AWS::AccountId} and ${Bucket} as written: IAM never fills them in.
    [f] = [
        f
        for f in lint_template(engine, role("arn:aws:s3:::${Bucket}-${AWS::AccountId}/*")).findings
        if f.rule == "IAM186"
    ]
    assert "uses ${Bucket} and ${AWS::AccountId}, which are CloudFormation syntax" in f.message
    assert "allows nothing" in f.message and f.severity is Severity.MEDIUM
    # Inside Fn::Sub they are CloudFormation's; `${!aws:username}` is IAM's variable, kept for IAM.
    assert "IAM186" not in rule_ids(
        lint_template(engine, role({"Fn::Sub": "arn:aws:s3:::b-${AWS::AccountId}/${!aws:username}/*"}))
    )
    # A Deny that can never apply is a missing protection.
    [deny] = [
        f for f in lint_template(engine, role("arn:aws:s3:::b/${AWS::Region}/*", "Deny")).findings if f.rule == "IAM186"
    ]
    assert deny.severity is Severity.HIGH and "never denies anything" in deny.message
    # A misspelt key names the key it probably meant; a service key and a provider's claim are fine.
    typo = _st("s3:ListBucket", "arn:aws:s3:::b", {"StringLike": {"s3:prefix": "${aws:usrname}/*"}})
    [f] = _findings(engine, _doc(typo), "IAM186")
    assert "did you mean ${aws:username}?" in f.message and f.location.keys[:3] == ("Statement", 0, "Condition")
    fine = _st(
        "ec2:AttachVolume",
        "arn:aws:ec2:*:*:instance/*",
        {
            "ArnEquals": {
                "ec2:SourceInstanceARN": "${ec2:SourceInstanceARN}",
                "aws:PrincipalArn": "${token.actions.githubusercontent.com:sub}",
            }
        },
    )
    assert not _findings(engine, _doc(fine), "IAM186")
    [service] = _findings(engine, _doc(_st("s3:GetObject", "arn:aws:s3:::b/${s3:nosuchkey}/*")), "IAM186")
    assert "not a condition key of s3" in service.message
    # A default makes the variable always take it.
    [default] = _findings(engine, _doc(_st("s3:GetObject", "arn:aws:s3:::b/${aws:usrname, 'guest'}/*")), "IAM186")
    assert "always its default 'guest'" in default.message
    # An exclusion or a negated condition that matches nothing widens the statement.
    [wide] = _findings(
        engine,
        _doc({"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::secret-${AWS::AccountId}/*"}),
        "IAM186",
    )
    assert wide.severity is Severity.HIGH and "allows its actions on every resource" in wide.message
    negated = _st("s3:ListBucket", "arn:aws:s3:::b", {"StringNotLike": {"s3:prefix": "home/${aws:usrname}/*"}})
    [f] = _findings(engine, _doc(negated), "IAM186")
    assert f.severity is Severity.HIGH and "allows more than written" in f.message
    # Under 2008-10-17 variables are literal text: IAM181's finding, not this one.
    assert not _findings(
        engine, _doc(_st("s3:GetObject", "arn:aws:s3:::b/${AWS::Region}"), version="2008-10-17"), "IAM186"
    )


def test_sids(engine: Engine) -> None:
    doc = _doc(
        {**_st("s3:ListAllMyBuckets"), "Sid": "A1"},
        {**_st("s3:ListAllMyBuckets"), "Sid": "A1"},
        {**_st("s3:ListAllMyBuckets"), "Sid": ""},
    )
    [dup] = _findings(engine, doc, "IAM182")
    assert dup.location.keys == ("Statement", 1) and dup.statement_sid == "A1"
    spaced = _doc({**_st("s3:ListAllMyBuckets"), "Sid": "Statement With Spaces"})
    assert "IAM183" in rule_ids(lint_doc(engine, spaced, IDENTITY))
    queue = _doc(
        {
            "Sid": "allow sns",
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": "arn:aws:sqs:us-east-1:123456789012:q",
            "Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:t"}},
        }
    )
    assert "IAM183" not in rule_ids(lint_doc(engine, queue, PolicyKind.RESOURCE))


def test_principal_in_identity_policy_only(engine: Engine) -> None:
    doc = _doc(
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::b/*",
        }
    )
    [f] = _findings(engine, doc, "IAM184")
    assert f.location.keys == ("Statement", 0, "Principal", "AWS")
    assert "IAM184" not in rule_ids(lint_doc(engine, doc))  # a bare file with a Principal is a resource policy


# -- IAM185 size quotas ------------------------------------------------------------------------


def test_size_is_the_minified_document() -> None:
    raw = _doc(
        {
            "Sid": "A",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": "arn:aws:s3:::b/*",
            "Condition": {"Bool": {"aws:SecureTransport": "true"}},
        }
    )
    parsed, _ = parse_policy(raw, file="x.json")
    assert parsed is not None
    minified = json.dumps(raw, separators=(",", ":"))
    assert policy_size(parsed, "bytes") == len(minified)
    assert policy_size(parsed, "characters") == len(minified)


def test_size_in_characters_leaves_out_white_space_in_values() -> None:
    # IAM counts characters without white space: spaces inside values (an ASCII document is
    # counted without a regex) and non-ASCII white space (a no-break space) alike.
    for sid in ("A B  C", "A\u00a0B C\u00e9"):
        raw = _doc({"Sid": sid, "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b c/*"})
        parsed, _ = parse_policy(raw, file="x.json")
        assert parsed is not None
        minified = json.dumps(raw, separators=(",", ":"), ensure_ascii=False)
        assert policy_size(parsed, "characters") == len(re.sub(r"\s", "", minified)) < len(minified)
        assert policy_size(parsed, "bytes") == len(minified.encode("utf-8"))


def _queue_template(count: int) -> dict[str, Any]:
    statements = [
        {
            "Sid": f"S{i}",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{100000000000 + i}:role/producer-with-a-long-name"},
            "Action": "sqs:SendMessage",
            "Resource": {"Fn::GetAtt": ["Q", "Arn"]},
        }
        for i in range(count)
    ]
    return {
        "Resources": {
            "Q": {"Type": "AWS::SQS::Queue"},
            "QP": {
                "Type": "AWS::SQS::QueuePolicy",
                "Properties": {"Queues": [{"Ref": "Q"}], "PolicyDocument": _doc(*statements)},
            },
        }
    }


def test_queue_policy_over_8192_bytes(engine: Engine) -> None:
    big = [f for f in lint_template(engine, _queue_template(50)).findings if f.rule == "IAM185"]
    assert len(big) == 1 and big[0].location.logical_id == "QP"
    assert "8192 bytes" in big[0].message and "quota sqs-queue: 8192 bytes" in big[0].evidence.notes
    assert "IAM185" not in rule_ids(lint_template(engine, _queue_template(5)))


def test_aws_managed_policies_are_not_sized(engine: Engine) -> None:
    template = {
        "Resources": {
            "R": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": _doc(
                        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
                    ),
                    "ManagedPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
                },
            }
        }
    }
    assert "IAM185" not in rule_ids(lint_template(engine, template))


@pytest.mark.parametrize(
    ("operator", "key"),
    [
        ("StringLike", "iam:PassedToService"),
        ("ArnLike", "aws:PrincipalArn"),
        ("ForAnyValue:StringLike", "aws:RequestedRegion"),
    ],
)
def test_any_value_of_a_key_every_request_has_does_not_lower_severity(engine: Any, operator: str, key: str) -> None:
    def finding(condition: dict[str, Any] | None) -> Any:
        st: dict[str, Any] = {"Effect": "Allow", "Action": ["iam:PassRole", "s3:GetObject"], "Resource": "*"}
        if condition:
            st["Condition"] = condition
        found = {f.rule: f for f in lint_doc(engine, {"Version": "2012-10-17", "Statement": [st]}).findings}
        return found["IAM105"]

    plain = finding(None)
    anything = finding({operator: {key: ["*", "**"]}})
    assert anything.severity == plain.severity and "constrained by condition" not in anything.message
    # "*" on a key that may be absent asks that it exist: a tag on the resource, say.
    tagged = finding({operator: {"aws:ResourceTag/team": "*"}})
    assert tagged.severity < plain.severity and "constrained by condition on aws:ResourceTag/team" in tagged.message
