"""Principal-level analysis: joining a principal's policies, effective permissions (Deny,
boundary), the escalation and risk rules, compute-assumable roles, guardrails and hygiene.

Fixtures: fixtures/principals/escalation.yaml (a template whose escalation spans two
policies, a Deny in another policy, an administrator built by CodeBuild, an Fn::If branch)
and fixtures/principals/account.json (an authorization-details dump with a group, a Deny on
one member and a boundary on the other).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, lint_doc, lint_template, rule_ids

from iamlint import managed
from iamlint.engine import Engine, LintConfig, LintResult, RuleCrash
from iamlint.loaders.inputs import load_paths
from iamlint.model import Finding, PolicyKind, Severity
from iamlint.policy import parse_policy
from iamlint.principals import build_principals

PRINCIPALS = FIXTURES / "principals"
TEMPLATE = PRINCIPALS / "escalation.yaml"
DUMP = PRINCIPALS / "account.json"


def _run(engine: Engine, path: Path) -> LintResult:
    loaded = load_paths([str(path)])
    assert loaded.errors == [] and loaded.problems == []
    return engine.run(loaded.documents, loaded.problems, loaded.errors)


def _of(result: LintResult, rule: str, principal: str | None = None) -> list[Finding]:
    return [
        f
        for f in result.findings
        if f.rule == rule
        and (principal is None or (f.source is not None and f"{f.source.kind} {f.source.name}" == principal))
    ]


def _method(f: Finding) -> str:
    return f.evidence.notes[0]


def _policy(doc: dict[str, Any], name: str = "p.json") -> LintResult:
    engine = Engine(LintConfig(strict=True))
    parsed, problems = parse_policy(doc, file=name, kind=PolicyKind.IDENTITY)
    assert parsed is not None and problems == []
    return engine.run([parsed])


def _allow(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


# -- joining principals -------------------------------------------------------------------------
def test_template_principals_join_inline_and_shared_policies() -> None:
    loaded = load_paths([str(TEMPLATE)])
    principals = {(p.label, p.source.condition): p for p in build_principals(loaded.documents)}
    handler = principals[("role HandlerRole", None)]
    assert [d.name for d in handler.documents] == ["functions", "PassRoles"]
    assert len(handler.trust) == 1
    # The shared AWS::IAM::Policy applies to both roles it names.
    assert [d.name for d in principals[("role AuditorRole", None)].documents] == ["functions", "PassRoles"]
    # Fn::If: one principal per branch of the policy that uses the condition.
    assert ("role LauncherRole", "IsProd") in principals and ("role LauncherRole", "not IsProd") in principals


def test_users_inherit_group_policies_and_groups_with_members_are_not_principals() -> None:
    loaded = load_paths([str(DUMP)])
    principals = {p.label: p for p in build_principals(loaded.documents)}
    assert set(principals) == {"user alice", "user bob", "role ci"}
    assert [d.name for d in principals["user alice"].documents] == ["no-keys", "devs"]
    assert principals["user alice"].groups == ("Devs",)
    assert [b.name for b in principals["user bob"].boundaries] == ["ReadOnlyBoundary"]


def test_a_bare_policy_is_a_principal_of_its_own() -> None:
    parsed, _ = parse_policy(_doc(_allow("s3:GetObject")), file="bare.json")
    assert parsed is not None
    (principal,) = build_principals([parsed])
    assert principal.kind == "policy" and principal.documents == (parsed,)


# -- privilege escalation -----------------------------------------------------------------------
def test_escalation_across_two_policies_names_each_statement(engine: Engine) -> None:
    result = _run(engine, TEMPLATE)
    (finding,) = _of(result, "IAM120", "role HandlerRole")
    assert _method(finding) == "lambda-create-function-invoke-passrole"
    # Located at the action that makes the method, in the inline policy; the message names
    # both statements (the inline one, line 20, and the shared policy's, line 54).
    assert finding.location.file.endswith("escalation.yaml") and finding.location.line == 23
    assert "lambda:CreateFunction, lambda:InvokeFunction at line 20; iam:PassRole at line 54" in finding.message
    assert finding.evidence.actions == ("iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction")
    assert finding.evidence.resources == ("arn:aws:iam::*:role/*", "*")


def test_a_deny_in_another_policy_removes_the_method(engine: Engine) -> None:
    result = _run(engine, TEMPLATE)
    assert _of(result, "IAM120", "role AuditorRole") == []
    assert _of(result, "IAM125", "role AuditorRole"), "the role is still analysed"


def test_fn_if_branches_are_judged_separately(engine: Engine) -> None:
    result = _run(engine, TEMPLATE)
    (finding,) = _of(result, "IAM120", "role LauncherRole")
    assert _method(finding) == "ec2-run-instances-passrole"
    assert finding.source is not None and finding.source.condition == "IsProd"
    assert finding.location.line == 90


def test_passrole_on_named_roles_does_not_count_but_a_role_pattern_does() -> None:
    named = _policy(_doc(_allow("ec2:RunInstances"), _allow("iam:PassRole", "arn:aws:iam::111111111111:role/web")))
    assert "IAM120" not in rule_ids(named)
    pattern = _policy(_doc(_allow("ec2:RunInstances"), _allow("iam:PassRole", "arn:aws:iam::111111111111:role/web-*")))
    (finding,) = _of(pattern, "IAM120")
    assert _method(finding) == "ec2-run-instances-passrole"
    assert finding.severity is Severity.MEDIUM
    assert "only on resources matching a pattern: arn:aws:iam::111111111111:role/web-*" in finding.message


def test_methods_on_named_resources_are_reported_low() -> None:
    result = _policy(_doc(_allow("lambda:UpdateFunctionCode", "arn:aws:lambda:us-east-1:111111111111:function:f")))
    (finding,) = _of(result, "IAM120")
    assert _method(finding) == "lambda-update-function-code"
    assert finding.severity is Severity.LOW
    assert "only on named resources" in finding.message


def test_an_action_is_as_narrow_as_the_resources_it_always_names() -> None:
    """ssm:SendCommand always names a document: instance/* with one named document runs that
    document only. A required type left to another statement does not narrow it, though."""
    one_document = _policy(
        _doc(
            _allow(
                "ssm:SendCommand",
                ["arn:aws:ec2:*:*:instance/*", "arn:aws:ssm:*:*:document/AWS-GatherSoftwareInventory"],
            )
        )
    )
    (finding,) = _of(one_document, "IAM120")
    assert (
        finding.severity is Severity.LOW
        and "only on named resources: arn:aws:ssm:*:*:document/AWS-GatherSoftwareInventory" in finding.message
    )
    any_document = _policy(
        _doc(_allow("ssm:SendCommand", ["arn:aws:ec2:*:*:instance/*", "arn:aws:ssm:*:*:document/*"]))
    )
    assert [f.severity for f in _of(any_document, "IAM120")] == [Severity.HIGH]
    # A named document that runs whatever command it is given, or AWS's own documents (their
    # ARNs name no account), reach as far as any document (rules/data/run_any_code.yaml).
    for documents in (["arn:aws:ssm:*:*:document/AWS-RunShellScript"], ["arn:aws:ssm:*::document/*"]):
        shell = _policy(_doc(_allow("ssm:SendCommand", ["arn:aws:ec2:*:*:instance/*", *documents])))
        assert [f.severity for f in _of(shell, "IAM120")] == [Severity.HIGH], documents
    # The network interface in one statement, the subnet in another: any subnet, any interface.
    split = _policy(
        _doc(
            _allow("ec2:CreateNetworkInterface", "arn:aws:ec2:*:*:network-interface/*"),
            _allow("ec2:CreateNetworkInterface", "arn:aws:ec2:*:*:subnet/*"),
        )
    )
    assert any("ec2:CreateNetworkInterface" in f.evidence.actions for f in _of(split, "IAM125"))
    # A snapshot of one named database is no read of data anywhere.
    one_db = _policy(
        _doc(
            _allow(
                "rds:CreateDBSnapshot",
                ["arn:aws:rds:us-east-1:111111111111:db:orders", "arn:aws:rds:us-east-1:111111111111:snapshot:*"],
            )
        )
    )
    assert not _of(one_db, "IAM124")


def test_passed_to_service_naming_the_methods_service_does_not_lower_it() -> None:
    """iam:PassedToService states.amazonaws.com is exactly what the Step Functions method needs."""

    def result(service: str) -> list[Finding]:
        passing = _allow("iam:PassRole", Condition={"StringEquals": {"iam:PassedToService": service}})
        return _of(_policy(_doc(passing, _allow(["states:CreateStateMachine", "states:StartExecution"]))), "IAM120")

    [same] = result("states.amazonaws.com")
    assert same.severity is Severity.HIGH and "constrained" not in same.message
    [other] = result("lambda.amazonaws.com")
    assert other.severity is Severity.MEDIUM and "iam:PassedToService" in other.message


def test_a_document_that_runs_any_command_reaches_only_the_instances_granted_with_it() -> None:
    one = _policy(
        _doc(
            _allow(
                "ssm:SendCommand",
                [
                    "arn:aws:ssm:*::document/AWS-RunShellScript",
                    "arn:aws:ec2:us-east-1:111111111111:instance/i-0123456789abcdef0",
                ],
            )
        )
    )
    assert [f.severity for f in _of(one, "IAM120")] == [Severity.LOW]
    split = _policy(
        _doc(
            _allow("ssm:SendCommand", "arn:aws:ssm:*::document/AWS-RunShellScript"),
            _allow(
                "ssm:SendCommand",
                "arn:aws:ec2:*:*:instance/*",
                Condition={"StringEquals": {"ssm:resourceTag/Team": "ops"}},
            ),
        )
    )
    assert all(f.severity < Severity.HIGH for f in _of(split, "IAM120"))
    # An account-owned document of that name is not AWS's: it names nothing AWS runs.
    own = _policy(
        _doc(
            _allow(
                "ssm:SendCommand",
                ["arn:aws:ssm:us-east-1:111111111111:document/AWS-RunShellScript", "arn:aws:ec2:*:*:instance/*"],
            )
        )
    )
    assert all(f.severity < Severity.HIGH for f in _of(own, "IAM120"))


def test_statements_that_grant_a_command_together_are_judged_together() -> None:
    """IAM allows a request when each resource it names is allowed, by any statement: the
    document AWS-RunShellScript in one and instance/* in another run any command on every
    instance, as one statement naming both does. Whether the principal has a Deny (each
    action asked in turn) or not (each statement worked out once), the answer is the same."""
    document = _allow("ssm:SendCommand", "arn:aws:ssm:*::document/AWS-RunShellScript", Sid="Document")
    instances = _allow("ssm:SendCommand", "arn:aws:ec2:*:*:instance/*", Sid="Instances")
    unrelated_deny = {"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}
    for statements in ((document, instances), (document, instances, unrelated_deny)):
        result = _policy(_doc(*statements))
        (escalation,) = _of(result, "IAM120")
        assert escalation.severity is Severity.HIGH, statements
        assert escalation.message.endswith("through ssm:SendCommand at statement 0, statement 1")
        (infrastructure,) = _of(result, "IAM125")
        assert infrastructure.evidence.actions == ("ssm:SendCommand",)
        assert infrastructure.message.endswith("(ssm:SendCommand) at statement 0, statement 1")
    # A document of the account's own runs only what it says: together, no more than it.
    own = _allow("ssm:SendCommand", "arn:aws:ssm:us-east-1:111111111111:document/Patch", Sid="Own")
    result = _policy(_doc(own, instances))
    assert [f.severity for f in _of(result, "IAM120")] == [Severity.MEDIUM] and not _of(result, "IAM125")


def test_passed_to_service_patterns_and_instance_profiles_name_the_methods_service() -> None:
    def severities(service: str, *actions: str) -> set[Severity]:
        passing = _allow("iam:PassRole", Condition={"StringLike": {"iam:PassedToService": service}})
        return {f.severity for f in _of(_policy(_doc(passing, _allow(list(actions)))), "IAM120")}

    assert severities("*.amazonaws.com", "lambda:CreateFunction", "lambda:InvokeFunction") == {Severity.HIGH}
    assert severities("ec2.amazonaws.com", "ec2:AssociateIamInstanceProfile") == {Severity.HIGH}


def test_a_narrowing_condition_lowers_the_method() -> None:
    tagged = _allow("lambda:UpdateFunctionCode", Condition={"StringEquals": {"aws:ResourceTag/team": "blue"}})
    (finding,) = _of(_policy(_doc(tagged)), "IAM120")
    assert finding.severity is Severity.MEDIUM
    assert finding.evidence.conditions == ("aws:ResourceTag/team",)


def test_group_grants_reach_members_less_their_denies_and_boundary(engine: Engine) -> None:
    result = _run(engine, DUMP)
    alice = _of(result, "IAM120", "user alice")
    # The group grants AttachUserPolicy and CreateAccessKey; alice's own Deny removes the keys.
    assert sorted(_method(f) for f in alice) == ["iam-attach-user-policy"]
    assert alice[0].location.line == 45
    # bob's boundary allows only S3 reads: nothing the group grants is effective.
    assert [f for f in result.findings if f.source is not None and f.source.name == "bob" and f.rule >= "IAM120"] == []
    assert not any(f.source is not None and f.source.kind == "group" for f in result.findings if f.rule == "IAM120")


def test_boundary_in_a_template_limits_the_grant() -> None:
    template = {
        "Resources": {
            "R": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": _doc(
                        {
                            "Effect": "Allow",
                            "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
                            "Action": "sts:AssumeRole",
                        }
                    ),
                    "PermissionsBoundary": "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
                    "Policies": [
                        {"PolicyName": "p", "PolicyDocument": _doc(_allow(["iam:PutRolePolicy", "s3:GetObject"]))}
                    ],
                },
            }
        }
    }
    result = lint_template(Engine(LintConfig(strict=True)), template)
    ids = rule_ids(result)
    assert "IAM120" not in ids and "IAM121" not in ids
    (exfil,) = _of(result, "IAM124")
    assert exfil.evidence.actions == ("s3:GetObject",)


# -- compute-assumable roles ----------------------------------------------------------------------
def test_findings_on_compute_roles_are_raised_and_say_so(engine: Engine) -> None:
    result = _run(engine, TEMPLATE)
    (escalation,) = _of(result, "IAM120", "role HandlerRole")
    assert escalation.severity is Severity.CRITICAL  # high, raised: Lambda runs with the role
    assert "can be assumed by lambda.amazonaws.com" in escalation.message
    (admin,) = [f for f in result.findings if f.rule == "IAM101"]
    assert admin.source is not None and admin.source.name == "BuilderRole"
    assert "can be assumed by codebuild.amazonaws.com" in admin.message
    # A role that only another account assumes keeps its rule's severity.
    (launcher,) = _of(result, "IAM120", "role LauncherRole")
    assert launcher.severity is Severity.HIGH and "raised" not in launcher.message


def test_compute_raising_in_an_account_dump(engine: Engine) -> None:
    (finding,) = _of(_run(engine, DUMP), "IAM120", "role ci")
    assert _method(finding) == "lambda-update-function-code"
    assert finding.severity is Severity.MEDIUM  # low on a named function, raised for CodeBuild
    assert "codebuild.amazonaws.com" in finding.message


def test_a_user_severity_override_is_not_raised() -> None:
    engine = Engine(LintConfig(strict=True, severity={"IAM120": Severity.LOW}))
    (finding,) = _of(_run(engine, TEMPLATE), "IAM120", "role HandlerRole")
    assert finding.severity is Severity.LOW


# -- risk categories ------------------------------------------------------------------------------
def test_each_category_is_reported_separately() -> None:
    result = _policy(
        _doc(
            _allow(
                [
                    "s3:PutBucketPolicy",
                    "ecr:GetAuthorizationToken",
                    "s3:GetObject",
                    "ec2:TerminateInstances",
                    "iam:DeleteRolePolicy",
                ]
            )
        )
    )
    by_rule = {f.rule: f.evidence.actions for f in result.findings if "IAM121" <= f.rule <= "IAM125"}
    assert by_rule == {
        "IAM121": ("iam:DeleteRolePolicy",),
        "IAM122": ("s3:PutBucketPolicy",),
        "IAM123": ("ecr:GetAuthorizationToken",),
        "IAM124": ("s3:GetObject",),
        "IAM125": ("ec2:TerminateInstances",),
    }


def test_credentials_no_resource_can_scope_are_said_to_be_so() -> None:
    only = _policy(_doc(_allow(["ecr:GetAuthorizationToken"])))
    (finding,) = [f for f in only.findings if f.rule == "IAM123"]
    assert "no resource can scope these" in finding.message
    mixed = _policy(_doc(_allow(["ecr:GetAuthorizationToken", "redshift:GetClusterCredentials"])))
    assert not any("no resource can scope" in f.message for f in mixed.findings)


def test_categories_setting_turns_categories_off() -> None:
    doc = _doc(_allow(["s3:PutBucketPolicy", "ecr:GetAuthorizationToken", "s3:GetObject", "ec2:TerminateInstances"]))
    parsed, _ = parse_policy(doc, file="p.json", kind=PolicyKind.IDENTITY)
    assert parsed is not None
    engine = Engine(LintConfig(strict=True, settings={"categories": ["credentials_exposure"]}))
    ids = rule_ids(engine.run([parsed]))
    assert "IAM123" in ids and not ids & {"IAM122", "IAM124", "IAM125"}


def test_sensitive_actions_setting_extends_the_table() -> None:
    doc = _doc(_allow(["dynamodb:DescribeTable", "glue:GetTable"]))
    parsed, _ = parse_policy(doc, file="p.json", kind=PolicyKind.IDENTITY)
    assert parsed is not None
    plain = Engine(LintConfig(strict=True)).run([parsed])
    assert "IAM124" not in rule_ids(plain)
    settings = {"sensitive_actions": {"data_exfiltration": ["glue:GetTable"], "secrets": ["dynamodb:Describe*"]}}
    (finding,) = _of(Engine(LintConfig(strict=True, settings=settings)).run([parsed]), "IAM124")
    assert finding.evidence.actions == ("dynamodb:DescribeTable", "glue:GetTable")


def test_an_unknown_category_is_a_configuration_error() -> None:
    parsed, _ = parse_policy(_doc(_allow("s3:GetObject")), file="p.json", kind=PolicyKind.IDENTITY)
    assert parsed is not None
    with pytest.raises(RuleCrash):
        Engine(LintConfig(strict=True, settings={"categories": ["secrets"]})).run([parsed])
    lenient = Engine(LintConfig(settings={"categories": ["secrets"]})).run([parsed])
    crashes = [f for f in lenient.findings if f.rule == "IAM003"]
    assert crashes and "unknown secrets" in crashes[0].message and lenient.has_errors


def test_unscopable_actions_are_not_resource_exposure_or_writes() -> None:
    # Permissions management and Write actions that accept only Resource "*" (no resource
    # types in the catalogue): scoping cannot fix them, so "*" is not the problem.
    result = _policy(_doc(_allow(["iam:DeleteAccountPasswordPolicy", "xray:PutTraceSegments"])))
    assert not rule_ids(result) & {"IAM122", "IAM125"}


# -- guardrails -----------------------------------------------------------------------------------
def test_forbidden_actions_one_finding_per_statement() -> None:
    doc = _doc(
        _allow("iam:CreateUser", "arn:aws:iam::111111111111:user/robots/*"),
        _allow(["organizations:LeaveOrganization", "s3:GetObject"]),
        _allow("iam:Create*"),
        {"Effect": "Deny", "Action": "iam:CreateUser", "Resource": "arn:aws:iam::111111111111:user/robots/*"},
    )
    parsed, _ = parse_policy(doc, file="p.json", kind=PolicyKind.IDENTITY)
    assert parsed is not None
    settings = {"forbidden_actions": ["iam:CreateUser", "organizations:*"]}
    result = Engine(LintConfig(strict=True, settings=settings)).run([parsed])
    found = sorted((f.statement_index, f.evidence.notes, f.evidence.actions) for f in _of(result, "IAM126"))
    # Statement 0 is denied; statement 2 still grants CreateUser on every other user.
    assert found == [
        (1, ("forbidden: organizations:*",), ("organizations:LeaveOrganization",)),
        (2, ("forbidden: iam:CreateUser",), ("iam:CreateUser",)),
    ]


def test_forbidden_resources_match_patterns_and_respect_denies() -> None:
    doc = _doc(
        _allow("s3:GetObject", "arn:aws:s3:::audit-*/*"),
        _allow("dynamodb:GetItem"),
        _allow("s3:PutObject", "arn:aws:s3:::reports/*"),
    )
    parsed, _ = parse_policy(doc, file="p.json", kind=PolicyKind.IDENTITY)
    assert parsed is not None
    settings = {"forbidden_resources": ["arn:aws:s3:::audit-logs/*"]}
    (finding,) = _of(Engine(LintConfig(strict=True, settings=settings)).run([parsed]), "IAM127")
    assert finding.statement_index == 0
    assert finding.evidence.actions == ("s3:GetObject",) and finding.evidence.notes == (
        "forbidden: arn:aws:s3:::audit-logs/*",
    )


# -- hygiene --------------------------------------------------------------------------------------
def test_managed_policy_attachments_by_what_they_grant() -> None:
    template = {
        "Resources": {
            "R": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": _doc(
                        {
                            "Effect": "Allow",
                            "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
                            "Action": "sts:AssumeRole",
                        }
                    ),
                    "ManagedPolicyArns": [
                        "arn:aws:iam::aws:policy/AdministratorAccess",
                        "arn:aws:iam::aws:policy/IAMFullAccess",
                        "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
                    ],
                },
            }
        }
    }
    result = lint_template(Engine(LintConfig(strict=True)), template)
    found = {f.evidence.notes[0].rsplit("/", 1)[-1]: (f.severity, f.location.keys[-1]) for f in _of(result, "IAM130")}
    assert found == {
        "AdministratorAccess": (Severity.CRITICAL, 0),
        "IAMFullAccess": (Severity.HIGH, 1),
        "AmazonS3ReadOnlyAccess": (Severity.LOW, 2),
    }


def test_redundant_statement_points_at_the_covered_one() -> None:
    result = _policy(
        _doc(
            {"Sid": "A", **_allow("s3:GetObject", "arn:aws:s3:::b/*")},
            {"Sid": "B", **_allow("s3:Get*", "arn:aws:s3:::b/*")},
            {"Sid": "C", **_allow("s3:Get*", "arn:aws:s3:::b/*")},
        )
    )
    found = sorted((f.statement_index, f.message.split(":")[0]) for f in _of(result, "IAM132"))
    assert found == [(0, "Statement 'A' is covered by statement 'B'"), (2, "Statement 'C' repeats statement 'B'")]


def test_redundant_statement_names_the_first_cover_across_services() -> None:
    # Only statements sharing every service of the inner one (or naming a wildcard service) are
    # tried; the first that covers it, in document order, is the one named.
    result = _policy(
        _doc(
            {"Sid": "A", **_allow(["s3:GetObject", "sqs:SendMessage"], "*")},
            {"Sid": "B", "Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
            {"Sid": "C", **_allow(["sqs:*", "s3:Get*"], "*")},
            {"Sid": "D", **_allow("*:Get*", "*")},
            {"Sid": "E", **_allow("s3:Get*", "*")},
            {"Sid": "F", **_allow(["s3:GetObject", "sns:Publish"], "*")},
            {"Sid": "G", **_allow(["*:GetObject"], "*")},
        )
    )
    found = sorted((f.statement_index, f.message.split(":")[0]) for f in _of(result, "IAM132"))
    assert found == [
        (0, "Statement 'A' is covered by statement 'C'"),
        (4, "Statement 'E' is covered by statement 'C'"),
        (6, "Statement 'G' is covered by statement 'D'"),
    ]


def test_duplicate_action_points_at_the_entry() -> None:
    result = _policy(_doc(_allow(["s3:Get*", "s3:getobject", "S3:GET*"], "arn:aws:s3:::b/*")))
    found = sorted((f.location.keys, f.evidence.actions) for f in _of(result, "IAM133"))
    assert found == [
        (("Statement", 0, "Action", 1), ("s3:getobject", "s3:Get*")),
        (("Statement", 0, "Action", 2), ("S3:GET*", "s3:Get*")),
    ]


# -- AWS managed policies (acceptance) -----------------------------------------------------------
def _managed(name: str) -> LintResult:
    policy = managed.lookup(name)
    assert policy is not None
    return _policy(policy.document, f"{name}.json")


def test_administrator_and_iam_full_access_are_critical() -> None:
    admin = _managed("AdministratorAccess")
    assert [(f.rule, f.severity) for f in admin.findings if f.severity is Severity.CRITICAL] == [
        ("IAM101", Severity.CRITICAL)
    ]
    iam = _managed("IAMFullAccess")
    critical = [f for f in iam.findings if f.severity is Severity.CRITICAL]
    assert [f.rule for f in critical] == ["IAM121"]
    assert "iam:AttachRolePolicy" in critical[0].evidence.actions
    assert "iam-create-policy-version" in {_method(f) for f in _of(iam, "IAM120")}


def test_read_only_access_allows_no_privilege_escalation() -> None:
    result = _managed("ReadOnlyAccess")
    assert result.findings, "ReadOnlyAccess is analysed (it has other findings)"
    assert "IAM120" not in rule_ids(result) and "IAM121" not in rule_ids(result)


def test_document_rules_are_unchanged_by_principal_rules(engine: Engine) -> None:
    principal_rules = tuple(r for r, rule in engine.rules.items() if rule.scope == "principal")
    without = Engine(LintConfig(strict=True, ignore=principal_rules))
    for path in (TEMPLATE, DUMP, FIXTURES / "demo"):
        loaded = load_paths([str(path)])
        full = [f for f in engine.run(loaded.documents).findings if f.rule not in principal_rules]
        alone = list(without.run(loaded.documents).findings)
        assert [(f.rule, f.location, f.severity) for f in full] == [(f.rule, f.location, f.severity) for f in alone]


def test_lint_doc_of_a_bare_identity_policy_runs_principal_rules(engine: Engine) -> None:
    result = lint_doc(engine, _doc(_allow(["iam:PassRole", "ec2:RunInstances"])))
    (finding,) = _of(result, "IAM120")
    assert finding.source is not None and finding.source.kind == "file"


def test_hygiene_knows_the_loaders_markers() -> None:
    from iamlint import principals
    from iamlint.checks import hygiene
    from iamlint.loaders import auth_details, sam_origins

    assert hygiene.ADDED_BY_SAM is sam_origins.ADDED_BY_SAM is principals.ADDED_BY_SAM
    assert principals.SERVICE_LINKED == auth_details.SERVICE_LINKED


def test_sam_implicit_managed_policies_are_not_reported(engine: Engine) -> None:
    result = _run(engine, FIXTURES / "demo" / "template.yaml")
    attached = sorted(f.evidence.notes[0] for f in _of(result, "IAM130"))
    assert attached == ["arn:aws:iam::aws:policy/AmazonSNSFullAccess"]
