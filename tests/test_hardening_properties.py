"""Property-based robustness: arbitrary input never raises anything but the documented results.

- `parse_policy` on any JSON-like value returns a document or None, and a list of problems;
- the CloudFormation loader on random templates full of random intrinsic functions returns a
  LoadResult, and the engine (strict: a crashing rule raises) checks whatever it loaded;
- `evaluate` decides any request against any parsed policy.

Values are drawn from IAM's and CloudFormation's vocabulary, so they reach deep branches; the
budget is modest for the normal suite (bench/fuzz/ has the coverage-guided fuzzers).
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from iamlint.engine import Engine, LintConfig
from iamlint.evaluator import Decision, Evaluation, Request, evaluate
from iamlint.loaders import LoadResult
from iamlint.loaders.cloudformation import load_template
from iamlint.loaders.located import Located, ParseError, parse_any, parse_json
from iamlint.model import PolicyDocument, PolicyKind
from iamlint.policy import Problem, parse_policy

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

WORDS = st.sampled_from(
    [
        "Version",
        "2012-10-17",
        "Statement",
        "Sid",
        "Effect",
        "Allow",
        "Deny",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Principal",
        "NotPrincipal",
        "Condition",
        "AWS",
        "Service",
        "Federated",
        "*",
        "s3:*",
        "s3:Get*",
        "iam:PassRole",
        "sts:AssumeRole",
        "arn:aws:s3:::b/*",
        "arn:aws:iam::111122223333:root",
        "${aws:username}",
        "${*}",
        "StringEquals",
        "StringLike",
        "ForAllValues:StringLike",
        "IpAddress",
        "aws:SourceIp",
        "aws:PrincipalOrgID",
        "10.0.0.0/8",
        "NumericLessThan",
        "Bool",
        "Null",
        "?",
        "",
    ]
)
SCALARS = st.one_of(
    WORDS,
    st.text(max_size=12),
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
)
JSONISH = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.one_of(WORDS, st.text(max_size=6)), inner, max_size=4)
    ),
    max_leaves=30,
)
STATEMENT = st.fixed_dictionaries(
    {"Effect": st.sampled_from(["Allow", "Deny"]), "Action": st.one_of(WORDS, st.lists(WORDS, max_size=4))},
    optional={
        "Resource": st.one_of(WORDS, st.lists(WORDS, max_size=3), JSONISH),
        "Sid": SCALARS,
        "Principal": JSONISH,
        "Condition": JSONISH,
        "NotResource": WORDS,
    },
)
POLICY = st.fixed_dictionaries(
    {
        "Version": st.sampled_from(["2012-10-17", "2008-10-17", 1]),
        "Statement": st.one_of(st.lists(STATEMENT, max_size=4), STATEMENT, JSONISH),
    }
)


@lru_cache(maxsize=1)
def engine() -> Engine:
    return Engine(LintConfig(strict=True))


def _check_parse(raw: object) -> None:
    doc, problems = parse_policy(raw, file="p.json", kind=PolicyKind.UNKNOWN)
    assert doc is None or isinstance(doc, PolicyDocument)
    assert isinstance(problems, list) and all(isinstance(p, Problem) for p in problems)
    if doc is not None:
        engine().run([doc], problems)


@SETTINGS
@given(JSONISH)
def test_policy_parser_accepts_any_json_like_value(raw: object) -> None:
    _check_parse(raw)


@SETTINGS
@given(POLICY)
def test_policy_parser_and_rules_accept_any_policy_shaped_value(raw: object) -> None:
    _check_parse(raw)


@SETTINGS
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_parse_any_raises_only_parse_error(data: bytes) -> None:
    try:
        located = parse_any(data, "in.json")
    except ParseError:
        return
    assert isinstance(located, Located)
    located.mark(("Resources", "x", 0))


# -- CloudFormation: random templates full of random intrinsic functions ----------------------

NAMES = st.sampled_from(
    ["Role", "Bucket", "Param", "Map", "Cond", "AWS::Region", "AWS::NoValue", "Missing", "Role.Arn"]
)


def intrinsic(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.builds(lambda n: {"Ref": n}, NAMES),
        st.builds(lambda n, a: {"Fn::GetAtt": [n, a]}, NAMES, st.sampled_from(["Arn", "Name", ""])),
        st.builds(lambda n: {"Fn::GetAtt": n}, NAMES),
        st.builds(
            lambda t, v: {"Fn::Sub": [t, v]},
            st.sampled_from(["${Param}", "arn:${AWS::Partition}:s3:::${X}", "${!Lit}", "${Role.Arn}"]),
            st.dictionaries(st.sampled_from(["X", "Y"]), inner, max_size=2),
        ),
        st.builds(lambda t: {"Fn::Sub": t}, st.one_of(st.text(max_size=10), inner)),
        st.builds(
            lambda d, v: {"Fn::Join": [d, v]},
            st.one_of(st.sampled_from(["", ",", ":"]), inner),
            st.one_of(st.lists(inner, max_size=3), inner),
        ),
        st.builds(
            lambda i, v: {"Fn::Select": [i, v]},
            st.one_of(st.integers(-2, 5), inner),
            st.one_of(st.lists(inner, max_size=3), inner),
        ),
        st.builds(lambda d, v: {"Fn::Split": [d, v]}, st.one_of(st.sampled_from(["", ",", ":"]), inner), inner),
        st.builds(lambda a: {"Fn::FindInMap": a}, st.lists(st.one_of(NAMES, inner), max_size=4)),
        st.builds(lambda c, a, b: {"Fn::If": [c, a, b]}, st.one_of(NAMES, inner), inner, inner),
        st.builds(lambda v: {"Fn::Base64": v}, inner),
        st.builds(lambda v: {"Fn::ToJsonString": v}, inner),
        st.builds(lambda v: {"Fn::Length": v}, inner),
        st.builds(lambda v: {"Fn::GetAZs": v}, inner),
        st.builds(lambda v: {"Fn::ImportValue": v}, inner),
        st.builds(lambda v: {"Fn::Unknown": v}, inner),
        st.builds(lambda v: {"Condition": v}, NAMES),
    )


CFN_VALUE = st.recursive(
    SCALARS,
    lambda inner: st.one_of(intrinsic(inner), st.lists(inner, max_size=3), st.dictionaries(WORDS, inner, max_size=3)),
    max_leaves=25,
)
CFN_STATEMENT = st.fixed_dictionaries(
    {"Effect": st.one_of(st.just("Allow"), CFN_VALUE), "Action": st.one_of(WORDS, CFN_VALUE), "Resource": CFN_VALUE},
    optional={"Condition": CFN_VALUE},
)
CFN_POLICY = st.fixed_dictionaries(
    {
        "Version": st.just("2012-10-17"),
        "Statement": st.one_of(st.lists(CFN_STATEMENT, min_size=1, max_size=3), CFN_VALUE),
    }
)
RESOURCE = st.one_of(
    st.fixed_dictionaries(
        {
            "Type": st.just("AWS::IAM::Role"),
            "Properties": st.fixed_dictionaries(
                {"AssumeRolePolicyDocument": CFN_POLICY},
                optional={
                    "Policies": st.lists(
                        st.fixed_dictionaries({"PolicyName": CFN_VALUE, "PolicyDocument": CFN_POLICY}), max_size=2
                    ),
                    "ManagedPolicyArns": st.one_of(CFN_VALUE, st.lists(CFN_VALUE, max_size=2)),
                    "PermissionsBoundary": CFN_VALUE,
                },
            ),
        }
    ),
    st.fixed_dictionaries(
        {
            "Type": st.sampled_from(
                [
                    "AWS::IAM::ManagedPolicy",
                    "AWS::IAM::Policy",
                    "AWS::S3::BucketPolicy",
                    "AWS::SQS::QueuePolicy",
                    "AWS::Logs::ResourcePolicy",
                    "AWS::Lambda::Permission",
                ]
            ),
            "Properties": st.fixed_dictionaries(
                {"PolicyDocument": st.one_of(CFN_POLICY, CFN_VALUE)},
                optional={
                    "Roles": CFN_VALUE,
                    "Bucket": CFN_VALUE,
                    "PolicyName": CFN_VALUE,
                    "Action": CFN_VALUE,
                    "Principal": CFN_VALUE,
                },
            ),
        }
    ),
    st.builds(lambda t, p: {"Type": t, "Properties": p}, CFN_VALUE, CFN_VALUE),
)
TEMPLATE = st.fixed_dictionaries(
    {"Resources": st.dictionaries(st.sampled_from(["Role", "Bucket", "Policy", "Queue", "Fn"]), RESOURCE, max_size=3)},
    optional={
        "Parameters": st.dictionaries(
            st.sampled_from(["Param", "X"]),
            st.fixed_dictionaries(
                {"Type": st.sampled_from(["String", "CommaDelimitedList", "List<String>", "Number"])},
                optional={"Default": CFN_VALUE},
            ),
        ),
        "Mappings": st.dictionaries(
            st.sampled_from(["Map", "M"]),
            st.dictionaries(WORDS, st.dictionaries(WORDS, CFN_VALUE, max_size=2), max_size=2),
        ),
        "Conditions": st.dictionaries(st.sampled_from(["Cond", "C"]), CFN_VALUE, max_size=2),
        "Metadata": CFN_VALUE,
    },
)


@SETTINGS
@given(TEMPLATE)
@example(
    {
        "Resources": {
            "Role": {
                "Type": "AWS::IAM::ManagedPolicy",
                "Properties": {
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": "s3:*",
                                "Resource": {"Fn::ToJsonString": {"Ref": "AWS::NoValue"}},
                            }
                        ],
                    }
                },
            }
        }
    }
)
def test_cloudformation_loader_accepts_random_templates_with_random_intrinsics(template: dict[str, Any]) -> None:
    text = json.dumps(template, default=str)
    result = load_template(parse_json(text, "template.json"))
    assert isinstance(result, LoadResult)
    engine().run(result.documents, result.problems, result.errors)


# -- evaluator: random requests ----------------------------------------------------------------

REQUEST = st.builds(
    Request,
    st.one_of(WORDS, st.text(max_size=20)),
    st.one_of(WORDS, st.text(max_size=40)),
    st.dictionaries(
        st.one_of(WORDS, st.text(max_size=8)),
        st.one_of(st.text(max_size=10), st.lists(st.text(max_size=6), max_size=3).map(tuple)),
        max_size=3,
    ),
)


@SETTINGS
@given(POLICY, st.lists(REQUEST, min_size=1, max_size=4))
def test_evaluator_decides_any_request(raw: object, requests: list[Request]) -> None:
    doc, _ = parse_policy(raw, file="p.json")
    for request in requests:
        result = evaluate([doc] if doc is not None else [], request)
        assert isinstance(result, Evaluation) and isinstance(result.decision, Decision)
        if doc is None:
            assert result.decision is Decision.IMPLICIT_DENY
