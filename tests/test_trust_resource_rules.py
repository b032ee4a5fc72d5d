"""Trust-policy and resource-policy rules (IAM150-IAM163): who is trusted, which conditions
really pin the caller, and what each finding says it took into account."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import lint_doc, lint_template, rule_ids

from iamlint.engine import Engine, LintConfig, LintResult
from iamlint.model import Finding, PolicyKind

TRUST = PolicyKind.TRUST
RESOURCE = PolicyKind.RESOURCE


def _doc(*statements: dict[str, Any], version: str | None = "2012-10-17") -> dict[str, Any]:
    doc: dict[str, Any] = {"Statement": list(statements)}
    if version:
        doc["Version"] = version
    return doc


def _only(result: LintResult, rule: str) -> Finding:
    found = [f for f in result.findings if f.rule == rule]
    assert len(found) == 1, [(f.rule, f.message) for f in result.findings]
    return found[0]


def _assume(principal: Any, condition: dict[str, Any] | None = None, action: Any = "sts:AssumeRole") -> dict[str, Any]:
    st: dict[str, Any] = {"Effect": "Allow", "Principal": principal, "Action": action}
    if condition:
        st["Condition"] = condition
    return st


# -- IAM150 trust-any-principal --------------------------------------------------------------


def test_public_trust_is_critical_at_the_principal(engine: Engine) -> None:
    f = _only(lint_doc(engine, _doc(_assume({"AWS": "*"})), TRUST), "IAM150")
    assert f.severity.label == "critical"
    assert f.location.keys == ("Statement", 0, "Principal", "AWS")
    assert f.evidence.actions == ("sts:AssumeRole",) and f.evidence.conditions == ()


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}},
        {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/ci-*"}},
        {"StringEquals": {"aws:PrincipalAccount": ["111122223333"]}},
    ],
)
def test_public_trust_pinned_by_a_principal_condition_is_not_reported(
    engine: Engine, condition: dict[str, Any]
) -> None:
    assert "IAM150" not in rule_ids(lint_doc(engine, _doc(_assume("*", condition)), TRUST))


def test_external_id_only_lowers_and_is_named(engine: Engine) -> None:
    f = _only(lint_doc(engine, _doc(_assume("*", {"StringEquals": {"sts:ExternalId": "x-1"}})), TRUST), "IAM150")
    assert f.severity.label == "high"
    assert f.evidence.conditions == ("sts:ExternalId",)
    assert "sts:ExternalId" in f.message


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEqualsIfExists": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}},  # absent key: true
        {"StringNotEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}},  # negated: admits all others
        {"StringLike": {"aws:PrincipalArn": "*"}},  # matches anything
        {"ForAllValues:StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}},  # true when absent
    ],
)
def test_conditions_that_do_not_pin_leave_it_critical(engine: Engine, condition: dict[str, Any]) -> None:
    f = _only(lint_doc(engine, _doc(_assume({"AWS": "*"}, condition)), TRUST), "IAM150")
    assert f.severity.label == "critical" and f.evidence.conditions == ()


def test_wildcard_account_arn_is_public(engine: Engine) -> None:
    f = _only(lint_doc(engine, _doc(_assume({"AWS": "arn:aws:iam::*:root"})), TRUST), "IAM150")
    assert f.location.keys == ("Statement", 0, "Principal", "AWS")


def test_bare_file_without_resource_is_read_as_a_trust_policy(engine: Engine) -> None:
    assert "IAM150" in rule_ids(lint_doc(engine, _doc(_assume({"AWS": "*"}))))


def test_deny_with_public_principal_is_not_a_trust_finding(engine: Engine) -> None:
    doc = _doc({"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole"})
    assert rule_ids(lint_doc(engine, doc, TRUST)) & {"IAM150", "IAM151"} == set()


# -- IAM151 / IAM152 accounts ------------------------------------------------------------------


def test_cross_account_root_without_external_id(engine: Engine) -> None:
    result = lint_doc(engine, _doc(_assume({"AWS": ["arn:aws:iam::111122223333:root", "444455556666"]})), TRUST)
    found = sorted((f.location.keys, f.evidence.notes) for f in result.findings if f.rule == "IAM151")
    assert found == [
        (("Statement", 0, "Principal", "AWS", 0), ("account 111122223333",)),
        (("Statement", 0, "Principal", "AWS", 1), ("account 444455556666",)),
    ]


def test_cross_account_with_external_id_or_named_role_is_fine(engine: Engine) -> None:
    with_id = _doc(_assume({"AWS": "111122223333"}, {"StringEquals": {"sts:ExternalId": "abc"}}))
    named = _doc(_assume({"AWS": "arn:aws:iam::111122223333:role/ci"}))
    assert "IAM151" not in rule_ids(lint_doc(engine, with_id, TRUST))
    assert "IAM151" not in rule_ids(lint_doc(engine, named, TRUST))


def _role_template(statement: dict[str, Any]) -> dict[str, Any]:
    return {
        "Resources": {
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {"AssumeRolePolicyDocument": _doc(statement)},
            }
        }
    }


def test_stack_own_account_is_not_cross_account(engine: Engine) -> None:
    own = _role_template(_assume({"AWS": {"Fn::Sub": "arn:aws:iam::${AWS::AccountId}:root"}}))
    other = _role_template(_assume({"AWS": "arn:aws:iam::111122223333:root"}))
    assert "IAM151" not in rule_ids(lint_template(engine, own))
    f = _only(lint_template(engine, other), "IAM151")
    assert f.location.logical_id == "Role" and f.location.line is not None


def test_unknown_account_needs_the_setting() -> None:
    doc = _doc(_assume({"AWS": ["arn:aws:iam::111122223333:role/a", "arn:aws:iam::999988887777:role/b"]}))
    plain = Engine(LintConfig(strict=True))
    assert "IAM152" not in rule_ids(lint_doc(plain, doc, TRUST))
    configured = Engine(LintConfig(strict=True, settings={"known_accounts": ["111122223333"]}))
    f = _only(lint_doc(configured, doc, TRUST), "IAM152")
    assert f.location.keys == ("Statement", 0, "Principal", "AWS", 1)
    assert f.evidence.notes == ("account 999988887777",) and f.severity.label == "high"


def test_unknown_account_in_a_resource_policy_narrowed_by_org_is_medium() -> None:
    doc = _doc(
        {
            "Effect": "Allow",
            "Principal": {"AWS": "999988887777"},
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::b/*",
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}},
        }
    )
    engine = Engine(LintConfig(strict=True, settings={"known_accounts": "111122223333"}))
    f = _only(lint_doc(engine, doc, RESOURCE), "IAM152")
    assert f.severity.label == "medium" and f.evidence.conditions == ("aws:PrincipalOrgID",)


# -- IAM153-IAM156 web identity ----------------------------------------------------------------

GITHUB = {"Federated": "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"}
EKS_HOST = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
WEB = "sts:AssumeRoleWithWebIdentity"


def _github(condition: dict[str, Any]) -> dict[str, Any]:
    return _doc(_assume(GITHUB, condition, WEB))


def test_github_without_sub_is_critical(engine: Engine) -> None:
    result = lint_doc(
        engine, _github({"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}}), TRUST
    )
    f = _only(result, "IAM153")
    assert f.severity.label == "critical" and f.evidence.notes == ("GitHub Actions",)
    assert f.location.keys == ("Statement", 0, "Principal", "Federated")
    assert "IAM155" not in rule_ids(result)


def test_github_provider_known_from_the_keys_when_the_principal_is_a_reference(engine: Engine) -> None:
    template = _role_template(
        _assume(
            {"Federated": {"Ref": "GithubOidc"}},
            {"StringLike": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}},
            WEB,
        )
    )
    template["Resources"]["GithubOidc"] = {
        "Type": "AWS::IAM::OIDCProvider",
        "Properties": {"Url": "https://token.actions.githubusercontent.com"},
    }
    f = _only(lint_template(engine, template), "IAM153")
    assert "token.actions.githubusercontent.com:sub" in f.message


@pytest.mark.parametrize(
    "sub",
    [
        {"StringNotLike": {"token.actions.githubusercontent.com:sub": "repo:evil/*"}},
        {"StringLike": {"token.actions.githubusercontent.com:sub": "*"}},
    ],
)
def test_sub_conditions_that_pin_nothing_count_as_missing(engine: Engine, sub: dict[str, Any]) -> None:
    cond = {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}, **sub}
    result = lint_doc(engine, _github(cond), TRUST)
    assert "IAM153" in rule_ids(result) and "IAM154" not in rule_ids(result)


@pytest.mark.parametrize(
    "pattern,level,severity",
    [
        ("repo:*", "any", "critical"),
        ("repo:my-org/*", "owner", "medium"),
        ("repo:my-org/app-*", "owner", "medium"),
        ("repo:my-org/app:*", "all-refs", "low"),
    ],
)
def test_github_sub_wildcards_are_judged_by_the_subject_format(
    engine: Engine, pattern: str, level: str, severity: str
) -> None:
    cond = {
        "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
        "StringLike": {"token.actions.githubusercontent.com:sub": pattern},
    }
    f = _only(lint_doc(engine, _github(cond), TRUST), "IAM154")
    assert f.evidence.notes == (level,) and f.severity.label == severity
    assert f.location.keys == ("Statement", 0, "Condition", "StringLike", "token.actions.githubusercontent.com:sub")
    assert "IAM153" not in rule_ids(lint_doc(engine, _github(cond), TRUST))


@pytest.mark.parametrize(
    "pattern",
    ["repo:my-org/app:ref:refs/heads/release-*", "repo:my-org/app:environment:production"],
)
def test_narrow_github_subjects_are_fine(engine: Engine, pattern: str) -> None:
    cond = {
        "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
        "StringLike": {"token.actions.githubusercontent.com:sub": pattern},
    }
    assert rule_ids(lint_doc(engine, _github(cond), TRUST)) & {"IAM153", "IAM154", "IAM155"} == set()


def test_equals_with_a_wildcard_is_literal_not_broad(engine: Engine) -> None:
    cond = {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": "repo:my-org/*",
        }
    }
    ids = rule_ids(lint_doc(engine, _github(cond), TRUST))
    assert "IAM154" not in ids and "IAM178" in ids


def test_eks_namespace_wide_subject_and_missing_audience(engine: Engine) -> None:
    doc = _doc(
        _assume(
            {"Federated": f"arn:aws:iam::123456789012:oidc-provider/{EKS_HOST}"},
            {"StringLike": {f"{EKS_HOST}:sub": "system:serviceaccount:payments:*"}},
            WEB,
        )
    )
    result = lint_doc(engine, doc, TRUST)
    broad = _only(result, "IAM154")
    assert broad.evidence.notes == ("owner",) and "namespace 'payments'" in broad.message
    assert _only(result, "IAM155").severity.label == "low"


def test_terraform_cloud_organisation_wide(engine: Engine) -> None:
    doc = _doc(
        _assume(
            {"Federated": "arn:aws:iam::123456789012:oidc-provider/app.terraform.io"},
            {
                "StringEquals": {"app.terraform.io:aud": "aws.workload.identity"},
                "StringLike": {"app.terraform.io:sub": "organization:acme:project:*"},
            },
            WEB,
        )
    )
    f = _only(lint_doc(engine, doc, TRUST), "IAM154")
    assert f.evidence.notes == ("owner",) and "organization 'acme'" in f.message


def test_cognito_needs_aud_and_amr(engine: Engine) -> None:
    bare = _doc(_assume({"Federated": "cognito-identity.amazonaws.com"}, None, WEB))
    result = lint_doc(engine, bare, TRUST)
    assert _only(result, "IAM153").severity.label == "critical"
    assert "IAM155" not in rule_ids(result)  # the audience is the subject for Cognito
    assert "IAM156" in rule_ids(result)
    pinned = _doc(
        _assume(
            {"Federated": "cognito-identity.amazonaws.com"},
            {
                "StringEquals": {"cognito-identity.amazonaws.com:aud": "us-east-1:1234"},
                "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"},
            },
            WEB,
        )
    )
    assert rule_ids(lint_doc(engine, pinned, TRUST)) & {"IAM153", "IAM156", "IAM172", "IAM175", "IAM176"} == set()


def test_saml_federation_is_not_web_identity(engine: Engine) -> None:
    doc = _doc(
        _assume(
            {"Federated": "arn:aws:iam::123456789012:saml-provider/okta"},
            {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}},
            "sts:AssumeRoleWithSAML",
        )
    )
    assert rule_ids(lint_doc(engine, doc, TRUST)) & {"IAM153", "IAM155", "IAM172"} == set()


# -- IAM157 ------------------------------------------------------------------------------------


def test_trust_not_action_and_sts_star(engine: Engine) -> None:
    not_action = {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "NotAction": "sts:TagSession"}
    f = _only(lint_doc(engine, _doc(not_action), TRUST), "IAM157")
    assert f.location.keys == ("Statement", 0, "NotAction")
    assert "IAM157" in rule_ids(lint_doc(engine, _doc(_assume({"Service": "ec2.amazonaws.com"}, None, "sts:*")), TRUST))
    assert "IAM157" not in rule_ids(
        lint_doc(
            engine, _doc(_assume({"Service": "ec2.amazonaws.com"}, None, ["sts:AssumeRole", "sts:TagSession"])), TRUST
        )
    )


# -- IAM160 public-resource-policy -------------------------------------------------------------


def _grant(
    principal: Any, action: Any, resource: Any, condition: dict[str, Any] | None = None, effect: str = "Allow"
) -> dict[str, Any]:
    st: dict[str, Any] = {"Effect": effect, "Principal": principal, "Action": action, "Resource": resource}
    if condition:
        st["Condition"] = condition
    return st


def test_public_read_is_high_and_write_is_critical(engine: Engine) -> None:
    read = _only(lint_doc(engine, _doc(_grant("*", "s3:GetObject", "arn:aws:s3:::site/*")), RESOURCE), "IAM160")
    assert read.severity.label == "high" and read.evidence.actions == ("s3:GetObject",)
    assert "read access" in read.message and "Amazon S3 object" in read.message
    write = _only(
        lint_doc(
            engine,
            _doc(_grant({"AWS": "*"}, ["sqs:SendMessage", "sqs:GetQueueUrl"], "arn:aws:sqs:us-east-1:123456789012:q")),
            RESOURCE,
        ),
        "IAM160",
    )
    assert write.severity.label == "critical" and write.evidence.actions == ("sqs:SendMessage",)
    assert write.location.keys == ("Statement", 0, "Principal", "AWS")


def test_source_ip_lowers_but_an_open_range_does_not(engine: Engine) -> None:
    narrow = _doc(_grant("*", "s3:GetObject", "arn:aws:s3:::site/*", {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}))
    f = _only(lint_doc(engine, narrow, RESOURCE), "IAM160")
    assert f.severity.label == "medium" and f.evidence.conditions == ("aws:SourceIp",)
    wide = _doc(_grant("*", "s3:GetObject", "arn:aws:s3:::site/*", {"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}))
    f = _only(lint_doc(engine, wide, RESOURCE), "IAM160")
    assert f.severity.label == "high" and f.evidence.conditions == ()


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}},
        {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}},
        {"StringEquals": {"aws:SourceAccount": "123456789012"}},
        {"ArnLike": {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:t"}},
        {"StringEquals": {"kms:CallerAccount": "123456789012"}},
        {"Bool": {"elasticfilesystem:AccessedViaMountTarget": "true"}},  # NFS clients in the owner's VPCs
    ],
)
def test_pinning_conditions_suppress_public_access(engine: Engine, condition: dict[str, Any]) -> None:
    doc = _doc(_grant("*", ["kms:Decrypt", "sqs:SendMessage"], "*", condition))
    assert "IAM160" not in rule_ids(lint_doc(engine, doc, RESOURCE))


@pytest.mark.parametrize(
    "condition,note",
    [
        ({"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"}}, '"arn:aws:iam::*:role/*" leaves the account'),
        ({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:*"}}, "leaves the account"),
        ({"StringLike": {"aws:PrincipalOrgID": "o-*"}}, '"o-*" leaves the whole value'),
        ({"StringLike": {"aws:SourceVpce": "vpce-*"}}, "vpce-*"),
        ({"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:*:*"}}, "leaves the account"),
        ({"ArnLike": {"aws:SourceArn": "arn:aws:s3:::*"}}, "leaves the resource's name (its ARN has no account field)"),
        ({"StringLike": {"aws:PrincipalOrgPaths": "o-*/r-ab12/*"}}, "leaves the organization"),
        (
            {"StringLike": {"aws:PrincipalArn": ["arn:aws:iam::111122223333:role/x", "*"]}},
            None,
        ),  # values are alternatives
    ],
)
def test_pattern_values_that_name_no_owner_leave_it_public(
    engine: Engine, condition: dict[str, Any], note: str | None
) -> None:
    f = _only(lint_doc(engine, _doc(_grant("*", "s3:GetObject", "arn:aws:s3:::b/*", condition)), RESOURCE), "IAM160")
    assert f.severity.label == "high" and f.evidence.conditions == ()
    if note is not None:
        assert "pins no one" in f.message and note in f.message


@pytest.mark.parametrize(
    "condition",
    [
        {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::uploads-bucket/*"}},
        {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/*"}},
        {"StringLike": {"aws:PrincipalOrgPaths": "o-a1b2c3d4e5/r-ab12/ou-*"}},
        {"StringLike": {"aws:userid": "AROAEXAMPLEID:*"}},
        {"StringLike": {"aws:userid": "AROA1234567890EXAMPLE*"}},  # a whole unique id, any session
    ],
)
def test_pattern_values_that_name_their_owner_pin(engine: Engine, condition: dict[str, Any]) -> None:
    assert "IAM160" not in rule_ids(
        lint_doc(engine, _doc(_grant("*", "s3:GetObject", "arn:aws:s3:::b/*", condition)), RESOURCE)
    )


def test_a_wildcard_alternative_opens_trust_and_web_identity(engine: Engine) -> None:
    trust = _doc(_assume({"AWS": "*"}, {"StringLike": {"aws:PrincipalArn": ["arn:aws:iam::111122223333:role/x", "*"]}}))
    assert _only(lint_doc(engine, trust, TRUST), "IAM150").severity.label == "critical"
    cond = {
        "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
        "StringLike": {"token.actions.githubusercontent.com:sub": ["repo:my-org/app:ref:refs/heads/main", "*"]},
    }
    assert "IAM153" in rule_ids(lint_doc(engine, _github(cond), TRUST))


def test_accessed_via_mount_target_pins_only_when_true(engine: Engine) -> None:
    doc = _doc(
        _grant(
            "*", ["elasticfilesystem:ClientMount"], "*", {"Bool": {"elasticfilesystem:AccessedViaMountTarget": "false"}}
        )
    )
    assert "IAM160" in rule_ids(lint_doc(engine, doc, RESOURCE))


def test_public_reads_of_secrets_are_critical(engine: Engine) -> None:
    f = _only(lint_doc(engine, _doc(_grant("*", "secretsmanager:GetSecretValue", "*")), RESOURCE), "IAM160")
    assert f.severity.label == "critical" and "reads of secrets or credentials" in f.message
    assert (
        _only(
            lint_doc(engine, _doc(_grant("*", "s3:GetObject", "arn:aws:s3:::b/*")), RESOURCE), "IAM160"
        ).severity.label
        == "high"
    )


def test_public_deny_is_not_reported(engine: Engine) -> None:
    doc = _doc(_grant("*", "s3:*", "arn:aws:s3:::b/*", {"Bool": {"aws:SecureTransport": "false"}}, effect="Deny"))
    assert "IAM160" not in rule_ids(lint_doc(engine, doc, RESOURCE))


def test_public_lambda_permission_names_the_function(engine: Engine) -> None:
    template = {
        "Resources": {
            "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Role": "arn:aws:iam::123456789012:role/r"}},
            "Open": {
                "Type": "AWS::Lambda::Permission",
                "Properties": {"FunctionName": {"Ref": "Fn"}, "Action": "lambda:InvokeFunction", "Principal": "*"},
            },
            "FromTopic": {
                "Type": "AWS::Lambda::Permission",
                "Properties": {
                    "FunctionName": {"Ref": "Fn"},
                    "Action": "lambda:InvokeFunction",
                    "Principal": "*",
                    "SourceArn": "arn:aws:sns:us-east-1:123456789012:t",
                },
            },
        }
    }
    f = _only(lint_template(engine, template), "IAM160")
    assert f.location.logical_id == "Open" and "Lambda function Fn" in f.message


# -- IAM161 confused deputy --------------------------------------------------------------------


def _permission(**props: Any) -> dict[str, Any]:
    base = {"FunctionName": {"Ref": "Fn"}, "Action": "lambda:InvokeFunction"}
    return {
        "Resources": {
            "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Role": "arn:aws:iam::123456789012:role/r"}},
            "Perm": {"Type": "AWS::Lambda::Permission", "Properties": {**base, **props}},
        }
    }


def test_service_permission_without_source(engine: Engine) -> None:
    f = _only(lint_template(engine, _permission(Principal="events.amazonaws.com")), "IAM161")
    assert f.location.logical_id == "Perm" and "events.amazonaws.com" in f.message
    assert "IAM161" not in rule_ids(
        lint_template(engine, _permission(Principal="events.amazonaws.com", SourceAccount="123456789012"))
    )
    assert "IAM161" not in rule_ids(
        lint_template(engine, _permission(Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::uploads"))
    )
    # Every bucket of every account: S3 ARNs name no account, so the bucket name must be given.
    assert "IAM161" in rule_ids(
        lint_template(engine, _permission(Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::*"))
    )


def test_logs_encryption_context_is_a_source_condition(engine: Engine) -> None:
    doc = _doc(
        _grant(
            {"Service": "logs.us-east-1.amazonaws.com"},
            ["kms:Encrypt*", "kms:Decrypt*"],
            "*",
            {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:us-east-1:123456789012:log-group:*"}},
        )
    )
    assert "IAM161" not in rule_ids(lint_doc(engine, doc, RESOURCE))
    assert "IAM161" in rule_ids(
        lint_doc(engine, _doc(_grant({"Service": "logs.us-east-1.amazonaws.com"}, "kms:Decrypt", "*")), RESOURCE)
    )


@pytest.mark.parametrize(
    "function_name,arn",
    [
        (
            {"Fn::Sub": "arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:function:my-function"},
            "arn:aws:lambda:<AWS::Region>:<AWS::AccountId>:function:my-function",
        ),
        ("my-function", "arn:aws:lambda:<AWS::Region>:<AWS::AccountId>:function:my-function"),
        ("my-function:live", "arn:aws:lambda:<AWS::Region>:<AWS::AccountId>:function:my-function:live"),
        (
            {"Fn::Sub": "${AWS::StackName}-handler"},
            "arn:aws:lambda:<AWS::Region>:<AWS::AccountId>:function:<AWS::StackName>-handler",
        ),
        ("123456789012:function:my-function", "arn:aws:lambda:<AWS::Region>:123456789012:function:my-function"),
    ],
)
def test_a_lambda_permission_by_function_name_is_judged_as_by_its_arn(
    engine: Engine, function_name: Any, arn: str
) -> None:
    # CloudFormation takes a name, a partial ARN or an ARN as FunctionName; the function
    # policy's statement holds the ARN, so a name is neither IAM180 nor a reason to skip IAM163.
    template = {
        "Resources": {
            "Perm": {
                "Type": "AWS::Lambda::Permission",
                "Properties": {
                    "FunctionName": function_name,
                    "Action": "lambda:UpdateFunctionCode",
                    "Principal": "999988887777",
                },
            }
        }
    }
    result = lint_template(engine, template)
    assert "IAM180" not in rule_ids(result)
    f = _only(result, "IAM163")
    assert f.severity.label == "medium" and f.location.logical_id == "Perm"
    assert f.evidence.actions == ("lambda:UpdateFunctionCode",) and f.evidence.resources == (arn,)
    assert f.evidence.notes == ("account 999988887777",)


# -- IAM162 / IAM163 ---------------------------------------------------------------------------


def test_allow_not_principal_in_resource_and_trust_policies(engine: Engine) -> None:
    st = {
        "Effect": "Allow",
        "NotPrincipal": {"AWS": "arn:aws:iam::123456789012:user/bob"},
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::b/*",
    }
    f = _only(lint_doc(engine, _doc(st), RESOURCE), "IAM162")
    assert f.location.keys == ("Statement", 0, "NotPrincipal", "AWS")
    trust = {"Effect": "Allow", "NotPrincipal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    assert "IAM162" in rule_ids(lint_doc(engine, _doc(trust), TRUST))


def test_cross_account_write_against_the_resource_account(engine: Engine) -> None:
    queue = "arn:aws:sqs:us-east-1:123456789012:q"
    other = _only(
        lint_doc(
            engine, _doc(_grant({"AWS": "999988887777"}, ["sqs:SendMessage", "sqs:ReceiveMessage"], queue)), RESOURCE
        ),
        "IAM163",
    )
    assert other.severity.label == "medium" and other.evidence.notes == ("account 999988887777",)
    assert other.evidence.actions == ("sqs:SendMessage",) or "sqs:SendMessage" in other.evidence.actions
    same = _doc(_grant({"AWS": "arn:aws:iam::123456789012:root"}, "sqs:*", queue))
    assert "IAM163" not in rule_ids(lint_doc(engine, same, RESOURCE))
    read_only = _doc(_grant({"AWS": "999988887777"}, "sqs:GetQueueAttributes", queue))
    assert "IAM163" not in rule_ids(lint_doc(engine, read_only, RESOURCE))


def test_cross_account_needs_a_known_resource_account(engine: Engine) -> None:
    bucket = _doc(_grant({"AWS": "999988887777"}, "s3:PutObject", "arn:aws:s3:::b/*"))
    assert "IAM163" not in rule_ids(lint_doc(engine, bucket, RESOURCE))  # bare file: owner unknown
    template = {
        "Resources": {
            "B": {"Type": "AWS::S3::Bucket"},
            "P": {
                "Type": "AWS::S3::BucketPolicy",
                "Properties": {
                    "Bucket": {"Ref": "B"},
                    "PolicyDocument": _doc(
                        _grant({"AWS": "999988887777"}, "s3:PutBucketPolicy", {"Fn::GetAtt": ["B", "Arn"]}),
                        _grant(
                            {"AWS": {"Fn::Sub": "arn:aws:iam::${AWS::AccountId}:root"}},
                            "s3:*",
                            {"Fn::GetAtt": ["B", "Arn"]},
                        ),
                    ),
                },
            },
        }
    }
    f = _only(lint_template(engine, template), "IAM163")
    assert f.severity.label == "high" and "permissions-management" in f.message and f.location.logical_id == "P"


def test_a_cross_account_write_that_applies_to_no_listed_resource_grants_nothing(engine: Engine) -> None:
    queue = "arn:aws:sqs:us-east-1:123456789012:q"
    topic_action_on_a_queue = _doc(_grant({"AWS": "999988887777"}, "sns:Publish", queue))
    assert "IAM163" not in rule_ids(lint_doc(engine, topic_action_on_a_queue, RESOURCE))  # IAM112's finding
    both = _doc(_grant({"AWS": "999988887777"}, ["sns:Publish", "sqs:SendMessage"], queue))
    assert _only(lint_doc(engine, both, RESOURCE), "IAM163").evidence.actions == ("sqs:SendMessage",)


def test_known_accounts_lower_cross_account_write() -> None:
    doc = _doc(_grant({"AWS": "999988887777"}, "sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:q"))
    engine = Engine(LintConfig(strict=True, settings={"known_accounts": ["999988887777", "123456789012"]}))
    f = _only(lint_doc(engine, doc, RESOURCE), "IAM163")
    assert f.severity.label == "low" and "a known account (settings known_accounts)" in f.evidence.notes


def test_an_ecr_repository_policy_applies_to_its_repository_without_naming_it(engine: Engine) -> None:
    # ECR repository policies have no Resource element: the repository is implied. Read so,
    # the statement is no IAM002, and a cross-account push is IAM163 on that repository.
    pull_push = {
        "Sid": "Push",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::999988887777:root"},
        "Action": ["ecr:BatchGetImage", "ecr:PutImage"],
    }
    for policy in (_doc(pull_push), json.dumps(_doc(pull_push))):  # an object or a JSON string
        template = {
            "Resources": {"Repo": {"Type": "AWS::ECR::Repository", "Properties": {"RepositoryPolicyText": policy}}}
        }
        result = lint_template(engine, template)
        assert "IAM002" not in rule_ids(result)
        f = _only(result, "IAM163")
        assert f.evidence.actions == ("ecr:PutImage",) and "ECR repository Repo" in f.message
        assert f.evidence.resources == ("arn:aws:ecr:<AWS::Region>:<AWS::AccountId>:repository/<Repo>",)
    # Identity policies still need a Resource, in the same template.
    role = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": _doc(
                {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ),
            "Policies": [{"PolicyName": "p", "PolicyDocument": _doc({"Effect": "Allow", "Action": "ecr:PutImage"})}],
        },
    }
    result = lint_template(engine, {"Resources": {"Role": role}})
    assert any(f.rule == "IAM002" and "neither Resource nor NotResource" in f.message for f in result.findings)


_PUBLIC = {"Effect": "Allow", "Principal": "*"}


@pytest.mark.parametrize(
    "rtype,props,label",
    [
        (
            "AWS::SecretsManager::ResourcePolicy",
            {
                "SecretId": "db-secret",
                "ResourcePolicy": _doc({**_PUBLIC, "Action": "secretsmanager:GetSecretValue", "Resource": "*"}),
            },
            "Secrets Manager secret db-secret",
        ),
        (
            "AWS::ECR::Repository",
            {"RepositoryPolicyText": _doc({**_PUBLIC, "Action": ["ecr:BatchGetImage"]})},
            "ECR repository X",
        ),
        (
            "AWS::ApiGateway::RestApi",
            {"Policy": _doc({**_PUBLIC, "Action": "execute-api:Invoke", "Resource": "execute-api:/*"})},
            "API Gateway REST API X",
        ),
        (
            "AWS::Events::EventBus",
            {"Name": "bus", "Policy": _doc({**_PUBLIC, "Action": "events:PutEvents", "Resource": "*"})},
            "EventBridge event bus X",
        ),
        (
            "AWS::OpenSearchService::Domain",
            {"AccessPolicies": _doc({**_PUBLIC, "Action": "es:ESHttpGet", "Resource": "*"})},
            "OpenSearch domain X",
        ),
        (
            "AWS::Backup::BackupVault",
            {
                "BackupVaultName": "v",
                "AccessPolicy": _doc({**_PUBLIC, "Action": "backup:CopyIntoBackupVault", "Resource": "*"}),
            },
            "Backup vault X",
        ),
        (
            "AWS::Logs::ResourcePolicy",
            {
                "PolicyName": "p",
                "PolicyDocument": '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"logs:PutLogEvents","Resource":"*"}]}',
            },
            "CloudWatch Logs resource policy X",
        ),
    ],
)
def test_public_access_names_the_resource_type(engine: Engine, rtype: str, props: dict[str, Any], label: str) -> None:
    f = _only(lint_template(engine, {"Resources": {"X": {"Type": rtype, "Properties": props}}}), "IAM160")
    assert label in f.message and f.location.logical_id == "X"
