"""The IAM evaluator and the containment proof: semantics one by one, then properties."""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iamlint import globs
from iamlint.catalog import get_catalog
from iamlint.evaluator import (
    Containment,
    Decision,
    Request,
    contains,
    evaluate,
    pattern_contains,
)
from iamlint.model import PolicyDocument
from iamlint.policy import parse_policy

V2012 = "2012-10-17"
CATALOG = get_catalog()


def doc(*statements: Mapping[str, Any], version: str | None = V2012) -> PolicyDocument:
    raw: dict[str, Any] = {"Statement": list(statements)}
    if version is not None:
        raw["Version"] = version
    parsed, problems = parse_policy(raw, file="t.json")
    assert parsed is not None and not problems, problems
    return parsed


def allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def decide(
    policy: PolicyDocument | Sequence[PolicyDocument],
    action: str,
    resource: str = "*",
    /,
    **context: str | tuple[str, ...],
) -> Decision:
    """The decision for one request; context keys spell ":" as "__" and "/" as "_"
    (aws__PrincipalTag_team is aws:PrincipalTag/team)."""
    docs = [policy] if isinstance(policy, PolicyDocument) else list(policy)
    ctx = {k.replace("__", ":").replace("_", "/"): (v,) if isinstance(v, str) else v for k, v in context.items()}
    return evaluate(docs, Request(action, resource, ctx)).decision


def when(operator: str, key: str, values: Any) -> dict[str, Any]:
    return {"Condition": {operator: {key: values}}}


ALLOW, DENY, IMPLICIT = Decision.ALLOW, Decision.EXPLICIT_DENY, Decision.IMPLICIT_DENY
BUCKET = "arn:aws:s3:::b"


# -- evaluation: actions, resources, effects ---------------------------------------------------
def test_explicit_deny_wins_and_names_both_statements() -> None:
    policy = doc(allow("s3:*", Sid="Read"), deny("s3:DeleteObject", Sid="NoDelete"))
    result = evaluate([policy], Request("s3:DeleteObject", f"{BUCKET}/k"))
    assert result.decision is DENY
    assert [s.sid for s in result.allowed_by] == ["Read"]
    assert [s.sid for s in result.denied_by] == ["NoDelete"]
    assert decide(policy, "s3:GetObject") is ALLOW
    assert decide(policy, "sqs:SendMessage") is IMPLICIT


def test_deny_in_another_document_still_wins() -> None:
    assert decide([doc(allow("*")), doc(deny("iam:*"))], "iam:PassRole") is DENY


def test_actions_match_case_insensitively_with_star_and_question_mark() -> None:
    policy = doc(allow(["S3:get*", "sqs:?endMessage"]))
    assert decide(policy, "s3:GetObject") is ALLOW
    assert decide(policy, "S3:GETOBJECT") is ALLOW
    assert decide(policy, "sqs:SendMessage") is ALLOW
    assert decide(policy, "sqs:SSendMessage") is IMPLICIT  # ? is exactly one character
    assert decide(policy, "s3:PutObject") is IMPLICIT


def test_resources_match_case_sensitively() -> None:
    policy = doc(allow("s3:GetObject", f"{BUCKET}/Reports/*"))
    assert decide(policy, "s3:GetObject", f"{BUCKET}/Reports/q1") is ALLOW
    assert decide(policy, "s3:GetObject", f"{BUCKET}/reports/q1") is IMPLICIT
    assert decide(policy, "s3:GetObject", "arn:aws:s3:::B/Reports/q1") is IMPLICIT
    assert decide(doc(allow("s3:*", "arn:aws:s3:::b?")), "s3:ListBucket", "arn:aws:s3:::b1") is ALLOW


def test_not_action_with_allow_grants_every_other_action_of_every_service() -> None:
    policy = doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    assert decide(policy, "iam:CreateUser") is IMPLICIT
    assert decide(policy, "s3:DeleteBucket") is ALLOW
    assert decide(policy, "ec2:TerminateInstances") is ALLOW


def test_not_resource() -> None:
    policy = doc({"Effect": "Allow", "Action": "s3:*", "NotResource": f"{BUCKET}/secret/*"})
    assert decide(policy, "s3:GetObject", f"{BUCKET}/secret/k") is IMPLICIT
    assert decide(policy, "s3:GetObject", f"{BUCKET}/public/k") is ALLOW
    assert decide(policy, "s3:ListAllMyBuckets", "*") is ALLOW


def test_placeholders_match_only_themselves() -> None:
    policy = doc(allow("s3:GetObject", "arn:aws:s3:::<Ref:Bucket>/*"))
    assert decide(policy, "s3:GetObject", "arn:aws:s3:::<Ref:Bucket>/k") is ALLOW
    assert decide(policy, "s3:GetObject", f"{BUCKET}/k") is IMPLICIT


# -- evaluation: policy variables --------------------------------------------------------------
def test_policy_variables_are_substituted_from_the_context() -> None:
    policy = doc(allow("s3:*", f"{BUCKET}/home/${{aws:username}}/*"))
    assert decide(policy, "s3:GetObject", f"{BUCKET}/home/alice/x", aws__username="alice") is ALLOW
    assert decide(policy, "s3:GetObject", f"{BUCKET}/home/bob/x", aws__username="alice") is IMPLICIT
    # Context keys are case-insensitive, and so is the variable's key name.
    ctx = {"AWS:UserName": ("alice",)}
    req = Request("s3:GetObject", f"{BUCKET}/home/alice/x", ctx)
    assert evaluate([policy], req).decision is ALLOW


def test_unset_or_multivalued_variable_matches_nothing() -> None:
    policy = doc(allow("s3:*", f"{BUCKET}/${{aws:PrincipalTag/team}}/*"))
    assert decide(policy, "s3:GetObject", f"{BUCKET}/red/x", aws__PrincipalTag_team="red") is ALLOW
    assert decide(policy, "s3:GetObject", f"{BUCKET}/red/x") is IMPLICIT
    assert decide(policy, "s3:GetObject", f"{BUCKET}/red/x", aws__PrincipalTag_team=("red", "blue")) is IMPLICIT
    # A substituted value is literal text, never a wildcard.
    assert decide(policy, "s3:GetObject", f"{BUCKET}/red/x", aws__PrincipalTag_team="*") is IMPLICIT


def test_variable_default_value() -> None:
    policy = doc(allow("s3:*", f"{BUCKET}/${{aws:PrincipalTag/team, 'shared'}}/*"))
    assert decide(policy, "s3:GetObject", f"{BUCKET}/shared/x") is ALLOW
    assert decide(policy, "s3:GetObject", f"{BUCKET}/red/x", aws__PrincipalTag_team="red") is ALLOW
    assert decide(policy, "s3:GetObject", f"{BUCKET}/shared/x", aws__PrincipalTag_team="red") is IMPLICIT


def test_escaped_special_characters_are_literal() -> None:
    policy = doc(allow("s3:*", f"{BUCKET}/${{*}}${{?}}${{$}}"))
    assert decide(policy, "s3:GetObject", f"{BUCKET}/*?$") is ALLOW
    assert decide(policy, "s3:GetObject", f"{BUCKET}/ab$") is IMPLICIT


def test_variables_are_literal_text_without_the_2012_version() -> None:
    for version in (None, "2008-10-17"):
        policy = doc(allow("s3:*", f"{BUCKET}/${{aws:username}}"), version=version)
        assert decide(policy, "s3:GetObject", f"{BUCKET}/alice", aws__username="alice") is IMPLICIT
        assert decide(policy, "s3:GetObject", f"{BUCKET}/${{aws:username}}") is ALLOW


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab*?:", max_size=8), st.text(alphabet="ab:", max_size=8))
def test_without_variables_resources_match_as_globs_glob_match_does(pattern: str, value: str) -> None:
    # The evaluator compiles its own regexes (variables, ArnLike fields: see `_regex_source`);
    # where neither applies, it must agree with `globs.glob_match`, which the narrower uses.
    policy = doc(allow("s3:GetObject", pattern or "x"), version=None)
    assert (decide(policy, "s3:GetObject", value) is ALLOW) == globs.glob_match(pattern or "x", value)


def test_variables_in_condition_values() -> None:
    policy = doc(allow("s3:ListBucket", BUCKET, **when("StringLike", "s3:prefix", "home/${aws:username}/*")))
    assert decide(policy, "s3:ListBucket", BUCKET, aws__username="al", s3__prefix="home/al/x") is ALLOW
    assert decide(policy, "s3:ListBucket", BUCKET, aws__username="al", s3__prefix="home/bo/x") is IMPLICIT
    assert decide(policy, "s3:ListBucket", BUCKET, s3__prefix="home/al/x") is IMPLICIT


# -- evaluation: conditions --------------------------------------------------------------------
def cond_decide(operator: str, key: str, values: Any, **context: str | tuple[str, ...]) -> Decision:
    return decide(doc(allow("s3:GetObject", **when(operator, key, values))), "s3:GetObject", **context)


def test_string_operators() -> None:
    assert cond_decide("StringEquals", "aws:username", "alice", aws__username="alice") is ALLOW
    assert cond_decide("StringEquals", "aws:username", "alice", aws__username="Alice") is IMPLICIT
    assert cond_decide("StringEquals", "aws:username", "a*", aws__username="alice") is IMPLICIT
    assert cond_decide("StringEqualsIgnoreCase", "aws:username", "ALICE", aws__username="alice") is ALLOW
    assert cond_decide("StringNotEqualsIgnoreCase", "aws:username", "ALICE", aws__username="alice") is IMPLICIT
    assert cond_decide("StringLike", "aws:username", "a?i*", aws__username="alice") is ALLOW
    assert cond_decide("StringNotLike", "aws:username", "a*", aws__username="alice") is IMPLICIT
    assert cond_decide("StringNotLike", "aws:username", "b*", aws__username="alice") is ALLOW


def test_values_are_or_ed_and_keys_and_operators_and_ed() -> None:
    assert cond_decide("StringEquals", "aws:username", ["bob", "alice"], aws__username="alice") is ALLOW
    both = {"Condition": {"StringEquals": {"aws:username": "alice", "aws:RequestedRegion": "us-east-1"}}}
    policy = doc(allow("s3:GetObject", **both))
    assert decide(policy, "s3:GetObject", aws__username="alice", aws__RequestedRegion="us-east-1") is ALLOW
    assert decide(policy, "s3:GetObject", aws__username="alice", aws__RequestedRegion="eu-west-1") is IMPLICIT
    ops = {
        "Condition": {
            "StringEquals": {"aws:username": "alice"},
            "Bool": {"aws:SecureTransport": "true"},
        }
    }
    policy = doc(allow("s3:GetObject", **ops))
    assert decide(policy, "s3:GetObject", aws__username="alice", aws__SecureTransport="true") is ALLOW
    assert decide(policy, "s3:GetObject", aws__username="alice", aws__SecureTransport="false") is IMPLICIT


def test_negated_operator_values_are_nor_ed() -> None:
    regions = ["us-east-1", "eu-west-1"]
    assert cond_decide("StringNotEquals", "aws:RequestedRegion", regions, aws__RequestedRegion="us-east-1") is IMPLICIT
    assert cond_decide("StringNotEquals", "aws:RequestedRegion", regions, aws__RequestedRegion="ap-south-1") is ALLOW


def test_negated_operator_on_missing_key_is_true() -> None:
    assert cond_decide("StringNotEquals", "aws:RequestedRegion", "us-east-1") is ALLOW
    assert cond_decide("NotIpAddress", "aws:SourceIp", "10.0.0.0/8") is ALLOW
    assert cond_decide("StringEquals", "aws:RequestedRegion", "us-east-1") is IMPLICIT
    # ...but a deny guarded by a negated operator then applies: the documented trap.
    policy = doc(allow("*"), deny("*", **when("StringNotEquals", "aws:RequestedRegion", "us-east-1")))
    assert decide(policy, "s3:GetObject") is DENY


def test_if_exists() -> None:
    assert cond_decide("StringEqualsIfExists", "aws:RequestedRegion", "us-east-1") is ALLOW
    assert (
        cond_decide(
            "StringEqualsIfExists",
            "aws:RequestedRegion",
            "us-east-1",
            aws__RequestedRegion="us-east-1",
        )
        is ALLOW
    )
    assert (
        cond_decide(
            "StringEqualsIfExists",
            "aws:RequestedRegion",
            "us-east-1",
            aws__RequestedRegion="eu-west-1",
        )
        is IMPLICIT
    )


def test_set_qualifiers_and_the_empty_set() -> None:
    tags = ["a", "b"]
    assert cond_decide("ForAllValues:StringEquals", "aws:TagKeys", tags) is ALLOW  # vacuous truth
    assert cond_decide("ForAllValues:StringEquals", "aws:TagKeys", tags, aws__TagKeys=()) is ALLOW
    assert cond_decide("ForAllValues:StringEquals", "aws:TagKeys", tags, aws__TagKeys=("a", "b")) is ALLOW
    assert cond_decide("ForAllValues:StringEquals", "aws:TagKeys", tags, aws__TagKeys=("a", "c")) is IMPLICIT
    assert cond_decide("ForAnyValue:StringEquals", "aws:TagKeys", tags) is IMPLICIT
    assert cond_decide("ForAnyValue:StringEquals", "aws:TagKeys", tags, aws__TagKeys=("c", "b")) is ALLOW
    assert cond_decide("ForAnyValue:StringEquals", "aws:TagKeys", tags, aws__TagKeys=("c", "d")) is IMPLICIT
    assert cond_decide("ForAnyValue:StringNotEquals", "aws:TagKeys", tags, aws__TagKeys=("a", "c")) is ALLOW
    assert cond_decide("ForAllValues:StringNotEquals", "aws:TagKeys", tags, aws__TagKeys=("a", "c")) is IMPLICIT
    assert cond_decide("ForAnyValue:StringNotEquals", "aws:TagKeys", tags) is IMPLICIT


def test_null() -> None:
    assert cond_decide("Null", "aws:TokenIssueTime", "true") is ALLOW
    assert cond_decide("Null", "aws:TokenIssueTime", "true", aws__TokenIssueTime="2024-01-01T00:00:00Z") is IMPLICIT
    assert cond_decide("Null", "aws:TokenIssueTime", "false", aws__TokenIssueTime="2024-01-01T00:00:00Z") is ALLOW
    assert cond_decide("Null", "aws:TokenIssueTime", "false") is IMPLICIT


def test_ip_address() -> None:
    assert cond_decide("IpAddress", "aws:SourceIp", "203.0.113.0/24", aws__SourceIp="203.0.113.7") is ALLOW
    assert cond_decide("IpAddress", "aws:SourceIp", "203.0.113.0/24", aws__SourceIp="203.0.114.7") is IMPLICIT
    assert cond_decide("IpAddress", "aws:SourceIp", "203.0.113.7", aws__SourceIp="203.0.113.7") is ALLOW
    assert cond_decide("IpAddress", "aws:SourceIp", "2001:db8::/32", aws__SourceIp="2001:db8::1") is ALLOW
    assert cond_decide("IpAddress", "aws:SourceIp", "2001:db8::/32", aws__SourceIp="203.0.113.7") is IMPLICIT
    assert cond_decide("NotIpAddress", "aws:SourceIp", "10.0.0.0/8", aws__SourceIp="10.1.1.1") is IMPLICIT
    assert cond_decide("IpAddress", "aws:SourceIp", "10.0.0.0/8", aws__SourceIp="not-an-ip") is IMPLICIT


def test_dates_iso_and_epoch() -> None:
    assert (
        cond_decide(
            "DateLessThan",
            "aws:CurrentTime",
            "2030-01-01T00:00:00Z",
            aws__CurrentTime="2029-12-31T23:59:59Z",
        )
        is ALLOW
    )
    assert (
        cond_decide(
            "DateLessThan",
            "aws:CurrentTime",
            "2030-01-01T00:00:00Z",
            aws__CurrentTime="2030-01-01T00:00:00Z",
        )
        is IMPLICIT
    )
    assert (
        cond_decide(
            "DateLessThanEquals",
            "aws:CurrentTime",
            "2030-01-01T00:00:00Z",
            aws__CurrentTime="2030-01-01T00:00:00Z",
        )
        is ALLOW
    )
    assert (
        cond_decide(
            "DateGreaterThan",
            "aws:CurrentTime",
            "1700000000",
            aws__CurrentTime="2024-01-01T00:00:00Z",
        )
        is ALLOW
    )
    assert (
        cond_decide(
            "DateEquals",
            "aws:CurrentTime",
            "2024-01-01T01:00:00+01:00",
            aws__CurrentTime="2024-01-01T00:00:00Z",
        )
        is ALLOW
    )
    assert (
        cond_decide(
            "DateNotEquals",
            "aws:CurrentTime",
            "2024-01-01",
            aws__CurrentTime="2024-01-01T00:00:00Z",
        )
        is IMPLICIT
    )
    assert cond_decide("DateLessThan", "aws:CurrentTime", "2030-01-01", aws__CurrentTime="garbage") is IMPLICIT


def test_numeric_bool_and_binary() -> None:
    assert cond_decide("NumericLessThan", "app:count", "10", app__count="9") is ALLOW
    assert cond_decide("NumericLessThan", "app:count", "10", app__count="10") is IMPLICIT
    assert cond_decide("NumericGreaterThanEquals", "app:count", "10", app__count="10.0") is ALLOW
    assert cond_decide("NumericNotEquals", "app:count", ["1", "2"], app__count="2") is IMPLICIT
    assert cond_decide("NumericEquals", "app:count", "1", app__count="one") is IMPLICIT
    assert cond_decide("Bool", "aws:SecureTransport", True, aws__SecureTransport="TRUE") is ALLOW
    assert cond_decide("Bool", "aws:SecureTransport", "true", aws__SecureTransport="false") is IMPLICIT
    assert cond_decide("BinaryEquals", "k", "QmluYXJ5", k="QmluYXJ5") is ALLOW
    assert cond_decide("BinaryEquals", "k", "QmluYXJ5", k="QmluYXJ6") is IMPLICIT


def test_arn_operators_compare_fields_separately() -> None:
    role = "arn:aws:iam::111122223333:role/app"
    assert cond_decide("ArnLike", "aws:PrincipalArn", "arn:aws:iam::*:role/*", aws__PrincipalArn=role) is ALLOW
    assert cond_decide("ArnEquals", "aws:PrincipalArn", "arn:aws:iam::*:role/*", aws__PrincipalArn=role) is ALLOW
    # A * in the account field cannot swallow the colon after it.
    assert cond_decide("ArnLike", "aws:PrincipalArn", "arn:aws:iam::*", aws__PrincipalArn=role) is ALLOW
    assert cond_decide("ArnLike", "aws:PrincipalArn", "arn:aws:*:role/app:x:y", aws__PrincipalArn=role) is IMPLICIT
    assert cond_decide("ArnLike", "aws:PrincipalArn", "arn:aws:iam::1111*:role/x/*", aws__PrincipalArn=role) is IMPLICIT
    assert cond_decide("ArnNotLike", "aws:PrincipalArn", "arn:aws:iam::*:role/app", aws__PrincipalArn=role) is IMPLICIT
    assert cond_decide("ArnNotEquals", "aws:PrincipalArn", "arn:aws:iam::*:user/*", aws__PrincipalArn=role) is ALLOW


def test_operator_names_ignore_case() -> None:
    assert cond_decide("stringequals", "aws:username", "alice", aws__username="alice") is ALLOW
    assert cond_decide("forallvalues:StringEqualsifexists", "aws:TagKeys", "a") is ALLOW
    assert cond_decide("foranyvalue:stringequals", "aws:TagKeys", "a", aws__TagKeys=("b",)) is IMPLICIT


def test_unknown_operator_never_matches() -> None:
    assert cond_decide("StringSortOf", "aws:username", "alice", aws__username="alice") is IMPLICIT
    assert cond_decide("ForSomeValues:StringEquals", "aws:username", "alice", aws__username="alice") is IMPLICIT
    policy = doc(allow("*"), deny("*", **when("StringSortOf", "aws:username", "alice")))
    assert decide(policy, "s3:GetObject", aws__username="alice") is ALLOW


# -- pattern containment -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("outer", "inner", "expected"),
    [
        ("*", "anything*", True),
        ("arn:aws:s3:::b/*", "arn:aws:s3:::b/k*", True),
        ("arn:aws:s3:::b/k*", "arn:aws:s3:::b/*", False),
        ("a*c", "abc", True),
        ("a*c", "a*bc", True),
        ("a*c", "a*b", False),
        ("a?c", "abc", True),
        ("a?c", "a?c", True),
        ("a?c", "a*c", False),
        ("a*", "a?", True),
        ("*a*b*", "xaxbx*", True),
        ("*ab*", "*a*b*", False),
        ("b/${aws:username}/*", "b/${aws:username}/x*", True),
        ("b/${aws:username}/*", "b/alice/x", False),  # true only for alice
        ("b/*", "b/${aws:username}", True),
        ("b/?", "b/${aws:username}", False),  # the value may be longer than one character
        ("b/<Ref:B>/*", "b/<Ref:B>/k", True),
        ("b/<Ref:B>", "b/<Ref:C>", False),
        ("b/${*}", "b/x", False),  # ${*} is a literal star
    ],
)
def test_pattern_contains(outer: str, inner: str, expected: bool) -> None:
    assert pattern_contains(outer, inner) is expected


def test_pattern_contains_case() -> None:
    assert not pattern_contains("s3:get*", "S3:GetObject")
    assert pattern_contains("s3:get*", "S3:GetObject", case_sensitive=False)


# -- policy containment ------------------------------------------------------------------------
def check(outer: Sequence[PolicyDocument], inner: Sequence[PolicyDocument]) -> Containment:
    result = contains(outer, inner, CATALOG)
    if result.counterexample is not None:
        assert evaluate(inner, result.counterexample).decision is ALLOW
        assert evaluate(outer, result.counterexample).decision is not ALLOW
    assert result.contained == (result.reason == "")
    return result


def test_narrower_resources_and_actions_are_contained() -> None:
    original = [doc(allow(["s3:Get*", "s3:List*"], [BUCKET, f"{BUCKET}/*"]))]
    proposal = [doc(allow("s3:GetObject", f"{BUCKET}/reports/*"), allow("s3:ListBucket", BUCKET))]
    assert check(original, proposal).contained
    back = check(proposal, original)
    assert not back.contained and back.counterexample is not None


def test_wildcard_is_not_inside_todays_expansion() -> None:
    # s3:Get* also matches actions AWS adds later; a list of today's Get actions does not.
    gets = sorted(a.full_name for a in CATALOG.expand("s3:Get*"))
    result = check([doc(allow(gets))], [doc(allow("s3:Get*"))])
    assert not result.contained and result.counterexample is not None
    assert CATALOG.action(result.counterexample.action) is None
    assert "not in the IAM catalogue" in result.reason


def test_not_action_containment() -> None:
    admin_but_iam = doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    narrower = doc({"Effect": "Allow", "NotAction": ["iam:*", "sts:*"], "Resource": "*"})
    assert check([admin_but_iam], [narrower]).contained
    assert check([doc(allow("*"))], [admin_but_iam]).contained
    result = check([narrower], [admin_but_iam])
    assert not result.contained and result.counterexample is not None
    assert result.counterexample.action.lower().startswith("sts:")
    assert check([admin_but_iam], [doc(allow("s3:GetObject"))]).contained
    assert not check([admin_but_iam], [doc(allow("iam:PassRole"))]).contained


def test_not_resource_containment() -> None:
    outer = doc({"Effect": "Allow", "Action": "s3:*", "NotResource": f"{BUCKET}/secret/*"})
    assert check([outer], [doc(allow("s3:GetObject", f"{BUCKET}/public/*"))]).contained
    result = check([outer], [doc(allow("s3:GetObject", f"{BUCKET}/*"))])
    assert not result.contained and result.counterexample is not None
    inner = doc({"Effect": "Allow", "Action": "s3:GetObject", "NotResource": f"{BUCKET}/*"})
    assert check([outer], [inner]).contained


def test_conditions_must_be_no_stronger_in_outer() -> None:
    mfa = when("Bool", "aws:MultiFactorAuthPresent", "true")
    guarded = doc(allow("s3:GetObject", **mfa))
    plain = doc(allow("s3:GetObject"))
    assert check([plain], [guarded]).contained
    result = check([guarded], [plain])
    assert not result.contained and result.counterexample is not None
    regions = doc(
        allow(
            "s3:GetObject",
            **when("StringEquals", "aws:RequestedRegion", ["us-east-1", "eu-west-1"]),
        )
    )
    one = doc(allow("s3:GetObject", **when("StringEquals", "aws:RequestedRegion", "us-east-1")))
    assert check([regions], [one]).contained
    assert not check([one], [regions]).contained


def test_outer_deny_must_be_repeated_by_inner() -> None:
    outer = doc(allow("s3:*", f"{BUCKET}/*"), deny("s3:DeleteObject", f"{BUCKET}/*"))
    result = check([outer], [doc(allow("s3:*", f"{BUCKET}/*"))])
    assert not result.contained and result.counterexample is not None
    assert result.counterexample.action == "s3:DeleteObject"
    assert "denies" in result.reason
    assert check([outer], [doc(allow("s3:GetObject", f"{BUCKET}/*"))]).contained
    repeated = doc(allow("s3:*", f"{BUCKET}/*"), deny("s3:Delete*", "*"))
    assert check([outer], [repeated]).contained


def test_deny_whose_conditions_contradict_the_allow_is_harmless() -> None:
    region_lock = deny("*", **when("StringNotEquals", "aws:RequestedRegion", ["us-east-1", "eu-west-1"]))
    outer = doc(allow("s3:*"), region_lock)
    in_region = doc(allow("s3:GetObject", **when("StringEquals", "aws:RequestedRegion", "us-east-1")))
    assert check([outer], [in_region]).contained
    anywhere = check([outer], [doc(allow("s3:GetObject"))])
    assert not anywhere.contained and anywhere.counterexample is not None
    assert "aws:requestedregion" not in {k.lower() for k in anywhere.counterexample.context}


def test_policy_variables_in_containment() -> None:
    home = doc(allow("s3:*", f"{BUCKET}/home/${{aws:username}}/*"))
    assert check([home], [doc(allow("s3:GetObject", f"{BUCKET}/home/${{aws:username}}/docs/*"))]).contained
    assert check([doc(allow("s3:*", f"{BUCKET}/*"))], [home]).contained
    result = check([home], [doc(allow("s3:GetObject", f"{BUCKET}/home/alice/*"))])
    assert not result.contained and result.counterexample is not None
    # The same text means something else without the 2012 Version: not contained.
    legacy = doc(allow("s3:*", f"{BUCKET}/home/${{aws:username}}/*"), version=None)
    assert not check([legacy], [home]).contained


def test_inner_deny_can_empty_a_cell() -> None:
    outer = doc(allow("s3:GetObject", f"{BUCKET}/public/*"))
    inner = doc(allow("s3:GetObject", f"{BUCKET}/*"), deny("s3:*", f"{BUCKET}/*"))
    assert check([outer], [inner]).contained
    # NotAction "*" and NotResource "*" match nothing at all.
    nothing = doc({"Effect": "Allow", "NotAction": "*", "Resource": "*"})
    nowhere = doc({"Effect": "Allow", "Action": "*", "NotResource": "*"})
    assert check([outer], [nothing, nowhere]).contained


def test_counterexample_carries_the_context_the_allow_needs() -> None:
    inner = doc(allow("s3:GetObject", f"{BUCKET}/*", **when("StringEquals", "aws:PrincipalTag/team", "red")))
    result = check([doc(allow("s3:GetObject", f"{BUCKET}/public/*"))], [inner])
    assert result.counterexample is not None
    assert result.counterexample.context == {"aws:principaltag/team": ("red",)}
    assert result.counterexample.resource.startswith(f"{BUCKET}/")


def test_outer_conditions_defeated_by_the_counterexample_context() -> None:
    outer = doc(allow("*", **when("Null", "aws:username", "true")))
    result = check([outer], [doc(allow("s3:GetObject"))])
    assert result.counterexample is not None
    assert "aws:username" in result.counterexample.context


def test_unproved_is_never_contained() -> None:
    # "s3:GetItem" is allowed by inner and denied by outer, but it lies in the intersection of
    # two patterns, where the example search does not look: the answer is "cannot prove".
    result = check([doc(allow("*"), deny("s3:Get*"))], [doc(allow("*Item"))])
    assert not result.contained
    assert result.counterexample is not None or result.reason.startswith("cannot prove")
    assert evaluate([doc(allow("*"), deny("s3:Get*"))], Request("s3:GetItem", "*")).decision is DENY


def test_requests_are_hashable_values() -> None:
    a = Request("s3:GetObject", "*", {"aws:username": ("alice",)})
    b = Request("s3:GetObject", "*", {"aws:username": ("alice",)})
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != Request("s3:GetObject", "*")


def test_empty_and_statementless_policies() -> None:
    assert check([], []).contained
    assert check([doc(allow("s3:GetObject"))], []).contained
    result = check([], [doc(allow("s3:GetObject", f"{BUCKET}/k"))])
    assert result.counterexample == Request("s3:GetObject", f"{BUCKET}/k")


# -- properties over a small universe ----------------------------------------------------------
ACTIONS = [
    "s3:GetObject",
    "s3:PutObject",
    "s3:ListBucket",
    "sqs:SendMessage",
    "dynamodb:GetItem",
    "dynamodb:Query",
]
ACTION_PATTERNS = [
    *ACTIONS,
    "s3:*",
    "s3:Get*",
    "s3:?utObject",
    "sqs:*",
    "*",
    "dynamodb:Get*",
    "S3:getobject",
    "*Item",
]
RESOURCES = [
    "arn:aws:s3:::b1",
    "arn:aws:s3:::b1/k1",
    "arn:aws:s3:::b1/alice",
    "arn:aws:s3:::b2/k1",
    "arn:aws:sqs:us-east-1:111122223333:q1",
    "arn:aws:dynamodb:us-east-1:111122223333:table/t1",
    "*",
]
RESOURCE_PATTERNS = [
    *RESOURCES,
    "arn:aws:s3:::b1/*",
    "arn:aws:s3:::b?/k1",
    "arn:aws:s3:::*",
    "arn:aws:sqs:*:111122223333:*",
    "arn:aws:dynamodb:us-east-1:111122223333:table/*",
    "arn:aws:s3:::b1/${aws:username}",
    "arn:aws:s3:::B1/*",
    "arn:aws:*",
]
CONDITIONS = [
    ("StringEquals", "aws:username", ["alice"]),
    ("StringNotEquals", "aws:RequestedRegion", ["us-east-1"]),
    ("StringEquals", "aws:RequestedRegion", ["us-east-1"]),
    ("Bool", "aws:SecureTransport", ["true"]),
    ("StringLike", "s3:prefix", ["home/*"]),
    ("IpAddress", "aws:SourceIp", ["10.0.0.0/8"]),
    ("NumericLessThan", "s3:max-keys", ["10"]),
    ("ForAllValues:StringEquals", "aws:TagKeys", ["a", "b"]),
    ("StringEqualsIfExists", "aws:RequestedRegion", ["us-east-1", "eu-west-1"]),
    ("Null", "aws:username", ["true"]),
]
CONTEXTS: list[dict[str, tuple[str, ...]]] = [
    {},
    {
        "aws:username": ("alice",),
        "aws:RequestedRegion": ("us-east-1",),
        "aws:SecureTransport": ("true",),
        "s3:prefix": ("home/a",),
        "aws:SourceIp": ("10.1.2.3",),
        "s3:max-keys": ("5",),
        "aws:TagKeys": ("a",),
    },
    {
        "aws:username": ("bob",),
        "aws:RequestedRegion": ("eu-west-1",),
        "aws:SecureTransport": ("false",),
        "aws:SourceIp": ("192.168.0.1",),
        "s3:max-keys": ("50",),
        "aws:TagKeys": ("a", "c"),
    },
    {"aws:username": ("alice",), "aws:RequestedRegion": ("us-west-2",)},
]
# s3:GetWidget is no real action: containment must hold for every action string.
UNIVERSE = [Request(a, r, c) for a, r, c in itertools.product([*ACTIONS, "s3:GetWidget"], RESOURCES, CONTEXTS)]
PROPERTY = settings(max_examples=200, deadline=None)


def random_statement(rng: random.Random) -> dict[str, Any]:
    """A statement over the universe: mostly Allow, Action and Resource, sometimes the Not
    forms, Deny, and up to two conditions."""
    raw: dict[str, Any] = {
        "Effect": rng.choice(["Allow", "Allow", "Allow", "Deny"]),
        rng.choice(["Action", "Action", "NotAction"]): rng.sample(ACTION_PATTERNS, rng.randint(1, 3)),
        rng.choice(["Resource", "Resource", "NotResource"]): rng.sample(RESOURCE_PATTERNS, rng.randint(1, 3)),
    }
    block: dict[str, dict[str, list[str]]] = {}
    for op, key, values in rng.sample(CONDITIONS, rng.choice([0, 0, 1, 1, 2])):
        block.setdefault(op, {})[key] = list(values)
    if block:
        raw["Condition"] = block
    return raw


# Hypothesis draws from a fixed pool: drawing each field costs more than the checks do.
_pool_rng = random.Random(7)
POOL = [random_statement(_pool_rng) for _ in range(1000)]
STATEMENTS = st.sampled_from(POOL)


def to_docs(raw: list[dict[str, Any]], split: int = 0, legacy: bool = False) -> list[PolicyDocument]:
    """One document, or two when `split` falls inside the list."""
    version = None if legacy else V2012
    parts = [raw[:split], raw[split:]] if 0 < split < len(raw) else [raw]
    return [doc(*part, version=version) for part in parts]


policies = st.builds(
    to_docs,
    st.lists(STATEMENTS, min_size=1, max_size=4),
    st.integers(0, 3),
    st.sampled_from([False, False, False, True]),
)


@st.composite
def narrowed(draw: st.DrawFn, raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A policy that allows less: drop Allow statements or some of their Action/Resource
    entries, add NotAction/NotResource entries or conditions. Deny statements stay."""
    out = []
    for statement in raw:
        if statement["Effect"] == "Deny":
            out.append(statement)
            continue
        if draw(st.booleans()):
            continue
        statement = dict(statement)
        for key, pool in (("Action", ACTION_PATTERNS), ("Resource", RESOURCE_PATTERNS)):
            if key in statement and len(statement[key]) > 1 and draw(st.booleans()):
                statement[key] = statement[key][1:]
            if f"Not{key}" in statement and draw(st.booleans()):
                statement[f"Not{key}"] = list(dict.fromkeys([*statement[f"Not{key}"], draw(st.sampled_from(pool))]))
        if draw(st.booleans()):
            op, key, values = draw(st.sampled_from(CONDITIONS))
            block = {k: dict(v) for k, v in statement.get("Condition", {}).items()}
            block.setdefault(op, {})[key] = list(values)
            statement["Condition"] = block
        out.append(statement)
    return out


def decisions(policy: Sequence[PolicyDocument]) -> list[bool]:
    return [evaluate(policy, r).decision is ALLOW for r in UNIVERSE]


def assert_sound(outer: Sequence[PolicyDocument], inner: Sequence[PolicyDocument]) -> Containment:
    result = check(outer, inner)
    if result.contained:
        for request, inside, outside in zip(UNIVERSE, decisions(inner), decisions(outer), strict=True):
            assert outside or not inside, f"contained, yet only inner allows {request}"
    return result


@PROPERTY
@given(policies)
def test_every_policy_contains_itself(policy: list[PolicyDocument]) -> None:
    result = contains(policy, policy, CATALOG)
    assert result.contained, result.reason


@PROPERTY
@given(policies, policies)
def test_containment_is_sound_for_unrelated_policies(outer: list[PolicyDocument], inner: list[PolicyDocument]) -> None:
    assert_sound(outer, inner)


@PROPERTY
@given(st.data(), st.lists(STATEMENTS, min_size=1, max_size=4))
def test_containment_is_sound_for_related_policies(data: st.DataObject, raw: list[dict[str, Any]]) -> None:
    # Related policies share statements, so "contained" answers are common and the check bites.
    mixed = data.draw(st.lists(st.sampled_from(raw) | STATEMENTS, min_size=1, max_size=5))
    assert_sound(to_docs(raw), to_docs(mixed, split=data.draw(st.integers(0, 3))))
    assert_sound(to_docs(mixed), to_docs(raw))


@PROPERTY
@given(st.data(), st.lists(STATEMENTS, min_size=1, max_size=4))
def test_narrowing_yields_a_contained_policy(data: st.DataObject, raw: list[dict[str, Any]]) -> None:
    smaller = data.draw(narrowed(raw))
    result = assert_sound(to_docs(raw), to_docs(smaller, split=data.draw(st.integers(0, 3))))
    assert result.contained, result.reason


@PROPERTY
@given(st.data(), st.lists(STATEMENTS, min_size=1, max_size=4))
def test_removing_allow_statements_yields_a_contained_policy(data: st.DataObject, raw: list[dict[str, Any]]) -> None:
    kept = [s for s in raw if s["Effect"] == "Deny" or data.draw(st.booleans())]
    assert contains(to_docs(raw), to_docs(kept), CATALOG).contained


def test_how_often_containment_cannot_decide() -> None:
    """A fixed sweep of related policy pairs, measuring the answers against the universe:
    sound always; a counterexample for most non-contained pairs; "cannot prove" rarely."""
    rng = random.Random(20240601)
    tally = {
        "contained": 0,
        "counterexample": 0,
        "cannot prove": 0,
        "cannot prove, no witness in the universe": 0,
    }
    for _ in range(300):
        base = [random_statement(rng) for _ in range(rng.randint(1, 4))]
        other = [rng.choice(base) if rng.random() < 0.6 else random_statement(rng) for _ in range(rng.randint(1, 4))]
        outer, inner = to_docs(base), to_docs(other)
        result = assert_sound(outer, inner)
        if result.contained:
            tally["contained"] += 1
        elif result.counterexample is not None:
            tally["counterexample"] += 1
        else:
            assert result.reason.startswith("cannot prove")
            tally["cannot prove"] += 1
            inside, outside = decisions(inner), decisions(outer)
            if all(o or not i for i, o in zip(inside, outside, strict=True)):
                tally["cannot prove, no witness in the universe"] += 1
    print(f"\ncontainment over 300 related pairs: {tally}")
    assert tally["contained"] >= 30 and tally["counterexample"] >= 30
    assert tally["cannot prove"] <= 0.05 * (300 - tally["contained"])


def brute_regex(pattern: str, variable: str = "") -> re.Pattern[str]:
    """An independent reading of a pattern, with ${v} standing for `variable`."""
    pieces = re.findall(r"\$\{v\}|.", pattern)
    table = {"*": ".*", "?": ".", "${v}": re.escape(variable)}
    return re.compile("".join(table.get(p, re.escape(p)) for p in pieces), re.DOTALL)


@PROPERTY
@given(st.text("ab*?", max_size=4), st.text("ab*?", max_size=4))
def test_pattern_contains_agrees_with_brute_force(outer: str, inner: str) -> None:
    # Strings over a, b and one other letter stand for all strings here; up to length 7 is
    # enough to witness any difference between patterns this short.
    strings = ["".join(p) for n in range(8) for p in itertools.product("abc", repeat=n)]
    o, i = brute_regex(outer), brute_regex(inner)
    missed = [s for s in strings if i.fullmatch(s) and not o.fullmatch(s)]
    assert pattern_contains(outer, inner) is (not missed), missed[:3]


PIECES = st.lists(st.sampled_from(["a", "b", "*", "?", "${v}"]), max_size=4).map("".join)


@PROPERTY
@given(PIECES, PIECES)
def test_pattern_contains_holds_whatever_the_variable(outer: str, inner: str) -> None:
    strings = ["".join(p) for n in range(7) for p in itertools.product("ab*", repeat=n)]
    contained = pattern_contains(outer, inner)
    if outer == inner:
        assert contained
    for value in ("", "a", "ab", "ba", "*", "b*a"):
        o, i = brute_regex(outer, value), brute_regex(inner, value)
        missed = [s for s in strings if i.fullmatch(s) and not o.fullmatch(s)]
        assert not (contained and missed), (value, missed[:3])


def test_judging_a_placeholder_pattern_keeps_the_escapes_of_its_policy_language() -> None:
    """`<bucket>/a${*}b` under 2012-10-17 means the literal `a*b`: judged with the bucket unknown,
    `x/a*b` may match and `x/a${zz}b` cannot (the pattern was once re-read without its escapes)."""
    from iamlint.evaluator import Verdict, judge
    from iamlint.model import PolicyKind
    from iamlint.policy import parse_policy

    doc, _ = parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::<bucket>/a${*}b"}],
        },
        file="p.json",
        kind=PolicyKind.IDENTITY,
    )
    assert doc is not None

    def verdict(resource: str) -> Verdict:
        return judge([doc], Request("s3:GetObject", resource), frozenset())[0].verdict

    assert verdict("arn:aws:s3:::x/a*b") is Verdict.UNKNOWN
    assert verdict("arn:aws:s3:::x/a${zz}b") is Verdict.NO
