"""The authorization-details loader: owners, managed policies once each, encodings, exact lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from conftest import FIXTURES, check_golden, reachable

from iamlint.cli import cli
from iamlint.engine import Engine, LintResult
from iamlint.loaders import LoadResult
from iamlint.loaders.auth_details import is_auth_details, load_auth_details
from iamlint.loaders.inputs import InputOptions, detect_kind, load_file, load_paths
from iamlint.loaders.located import parse_json
from iamlint.model import Finding, PolicyDocument, PolicyKind
from iamlint.principals import build_principals

DUMPS = FIXTURES / "sources" / "auth_details"
ACCOUNT = DUMPS / "account.json"
MALFORMED = DUMPS / "malformed.json"


def normalize(result: LoadResult) -> list[dict[str, Any]]:
    """The documents the loader produced, as plain data for the golden file."""
    out = []
    for doc in result.documents:
        src = doc.source
        assert src is not None
        out.append(
            {
                "kind": doc.kind.value,
                "name": doc.name,
                "source": src.describe(),
                "attached_to": list(src.attached_to),
                "used_by": list(src.used_by),
                "path": doc.loc.path,
                "line": doc.locate(doc.loc).line,
                "statements": [
                    {
                        "effect": st.effect,
                        st.action_key: list(st.action_texts),
                        **({st.resource_key: list(st.resource_texts)} if st.resource_key else {}),
                        **({"Principal": [f"{p.kind}:{p.value.text}" for p in st.principals]} if st.principals else {}),
                        "line": doc.locate(st.loc).line,
                    }
                    for st in doc.statements
                ],
            }
        )
    return out


def _load(path: Path) -> LoadResult:
    return load_paths([str(path)], InputOptions())


def _lint(engine: Engine, path: Path) -> LintResult:
    loaded = _load(path)
    return engine.run(loaded.documents, loaded.problems, loaded.errors, files=loaded.files)


def _docs(result: LoadResult, kind: str, name: str) -> list[PolicyDocument]:
    return [d for d in result.documents if d.source is not None and (d.source.kind, d.source.name) == (kind, name)]


def _where(f: Finding) -> tuple[str, int | None, int | None, str]:
    return (f.rule, f.location.line, f.location.column, f.location.path)


# -- detection ----------------------------------------------------------------------------


def test_detects_dumps_and_only_dumps() -> None:
    assert detect_kind(json.loads(ACCOUNT.read_text())) == "authorization-details"
    assert is_auth_details({"RoleDetailList": []})
    assert is_auth_details({"Policies": []})  # --filter LocalManagedPolicy on an empty account
    # `aws iam list-policies` prints a Policies list without documents: not a dump.
    assert not is_auth_details({"Policies": [{"PolicyName": "p", "Arn": "arn:aws:iam::1:policy/p"}]})
    assert not is_auth_details({"Version": "2012-10-17", "Statement": [], "Policies": []})
    assert not is_auth_details({"UserDetailList": "alice"})
    assert not is_auth_details([{"RoleDetailList": []}])
    assert detect_kind({"Version": "2012-10-17", "Statement": []}) == "policy"


# -- what the loader builds ---------------------------------------------------------------


def test_account_golden() -> None:
    result = _load(ACCOUNT)
    assert result.errors == [] and result.problems == []
    check_golden(DUMPS / "account.golden.json", json.dumps(normalize(result), indent=2) + "\n")


def test_each_managed_policy_is_one_document_listing_its_principals() -> None:
    result = _load(ACCOUNT)
    admin = _docs(result, "managed-policy", "AdministratorAccess")
    assert len(admin) == 1
    assert admin[0].source is not None
    assert admin[0].source.attached_to == ("group Admins", "role break-glass")
    assert admin[0].source.used_by == ("user alice",)  # through group Admins
    assert admin[0].kind is PolicyKind.IDENTITY
    # Not in the dump's Policies list: AWS's document from the snapshot, at the first attachment.
    assert admin[0].loc.keys[:4] == ("GroupDetailList", 0, "AttachedManagedPolicies", 0)
    deploy = _docs(result, "managed-policy", "DeployPolicy")
    assert len(deploy) == 1 and deploy[0].source is not None
    assert deploy[0].source.attached_to == ("user alice", "role app-role")
    assert deploy[0].source.arn == "arn:aws:iam::111122223333:policy/DeployPolicy"


def test_document_rules_see_each_managed_policy_once_and_principals_share_it() -> None:
    # A managed policy attached to several principals is one document: the document-scope rules
    # run on it once, and every principal it applies to holds that same object, not a copy.
    result = _load(ACCOUNT)
    [deploy] = _docs(result, "managed-policy", "DeployPolicy")
    engine = Engine()
    checked: list[PolicyDocument] = []
    run_one = engine.check_document

    def spy(doc: PolicyDocument, rules: Any = None) -> list[Finding]:
        checked.append(doc)
        return run_one(doc, rules)

    engine.check_document = spy  # type: ignore[method-assign]
    engine.check(result.documents, result.problems, result.errors)
    assert len(checked) == len(result.documents) and [d for d in checked if d is deploy] == [deploy]
    holders = {p.label: p for p in build_principals(result.documents)}
    assert all(any(d is deploy for d in holders[label].documents) for label in ("user alice", "role app-role"))


def test_only_the_default_version_is_checked() -> None:
    deploy = _docs(_load(ACCOUNT), "managed-policy", "DeployPolicy")[0]
    assert deploy.loc.keys == ("Policies", 0, "PolicyVersionList", 1, "Document")
    assert [st.action_texts for st in deploy.statements] == [("cloudformation:CreateStack", "iam:PassRole")]


def test_unattached_managed_policy_is_still_checked(engine: Engine) -> None:
    result = _lint(engine, ACCOUNT)
    orphan = [f for f in result.findings if f.source is not None and f.source.name == "OrphanAdmin"]
    assert [_where(f) for f in orphan] == [
        ("IAM101", 237, 68, "$.Policies[2].PolicyVersionList[0].Document.Statement[0].Action")
    ]
    assert orphan[0].source is not None and orphan[0].source.attached_to == ()
    assert orphan[0].statement_sid == "Everything"


def test_inline_policies_name_their_principal_and_group_members() -> None:
    result = _load(ACCOUNT)
    (alice,) = _docs(result, "user", "alice")
    assert alice.source is not None
    assert (alice.source.policy_name, alice.source.arn) == ("alice-logs", "arn:aws:iam::111122223333:user/alice")
    assert alice.kind is PolicyKind.IDENTITY
    (ops,) = _docs(result, "group", "Ops")
    assert ops.source is not None and ops.source.used_by == ("user alice", "user bob")
    app = _docs(result, "role", "app-role")
    assert {d.kind for d in app} == {PolicyKind.IDENTITY, PolicyKind.TRUST}
    assert all(d.source is not None and d.source.used_by == ("instance profile app-profile",) for d in app)


def test_permissions_boundary_is_checked_as_a_boundary() -> None:
    (boundary,) = _docs(_load(ACCOUNT), "managed-policy", "DevBoundary")
    assert boundary.kind is PolicyKind.BOUNDARY
    assert boundary.source is not None
    assert boundary.source.attached_to == ("user alice", "role app-role")
    assert boundary.source.via == "PermissionsBoundary"


def test_trust_policy_and_service_linked_role() -> None:
    result = _load(ACCOUNT)
    (trust,) = [d for d in _docs(result, "role", "break-glass") if d.kind is PolicyKind.TRUST]
    assert trust.loc.keys == ("RoleDetailList", 1, "AssumeRolePolicyDocument")
    assert [p.value.text for p in trust.statements[0].principals] == ["arn:aws:iam::111122223333:root"]
    (slr_trust,) = _docs(result, "role", "AWSServiceRoleForSupport")
    assert slr_trust.source is not None and slr_trust.source.via == "service-linked"
    (slr_policy,) = _docs(result, "managed-policy", "AWSSupportServiceRolePolicy")
    assert slr_policy.source is not None and slr_policy.source.via == "service-linked"
    (app_policy,) = _docs(result, "managed-policy", "AmazonS3ReadOnlyAccess")
    assert app_policy.source is not None and app_policy.source.via is None


def test_encoded_documents_are_located_at_their_string(engine: Engine) -> None:
    result = _lint(engine, ACCOUNT)
    by_policy = {}
    for f in result.findings:
        if f.source is not None and f.source.policy_name in ("bob-orders", "ops-parameters"):
            by_policy.setdefault(f.source.policy_name, set()).add((f.rule, f.location.line, f.location.column))
    # bob-orders is URL-encoded JSON (the raw API), ops-parameters a JSON string.
    assert by_policy == {
        "bob-orders": {("IAM103", 41, 11), ("IAM131", 41, 11)},  # IAM131: a policy on a user
        "ops-parameters": {("IAM105", 66, 11), ("IAM110", 66, 11)},
    }


def test_exact_lines_of_findings(engine: Engine) -> None:
    result = _lint(engine, ACCOUNT)
    where = {_where(f) for f in result.findings}
    assert ("IAM103", 17, 17, "$.UserDetailList[0].UserPolicyList[0].PolicyDocument.Statement[0].Action") in where
    assert ("IAM109", 192, 58, "$.Policies[0].PolicyVersionList[1].Document.Statement[0].Action[1]") in where
    # The snapshot's AdministratorAccess is reported once, at the group's PolicyArn.
    admin = [
        f
        for f in result.findings
        if f.rule == "IAM101" and f.source is not None and f.source.name == "AdministratorAccess"
    ]
    assert [(f.location.line, f.location.column) for f in admin] == [(55, 47)]
    # The non-default v1 of DeployPolicy ("*" on "*") grants nothing and is not reported.
    assert not [
        f
        for f in result.findings
        if "PolicyVersionList[0]" in f.location.path and f.source is not None and f.source.name == "DeployPolicy"
    ]


def test_url_and_json_strings_decode_to_the_same_document() -> None:
    doc = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/a+b c"}],
    }
    for encoded in (doc, json.dumps(doc), quote(json.dumps(doc), safe="")):
        dump = {
            "RoleDetailList": [
                {
                    "RoleName": "r",
                    "AssumeRolePolicyDocument": {
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "ec2.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ]
                    },
                    "RolePolicyList": [{"PolicyName": "p", "PolicyDocument": encoded}],
                }
            ]
        }
        result = load_auth_details(parse_json(json.dumps(dump), "dump.json"))
        assert result.problems == []
        (inline,) = [d for d in result.documents if d.kind is PolicyKind.IDENTITY]
        assert inline.statements[0].resource_texts == ("arn:aws:s3:::b/a+b c",)


# -- bad input ----------------------------------------------------------------------------


def test_malformed_entries_are_problems_and_the_rest_still_loads(engine: Engine) -> None:
    result = _lint(engine, MALFORMED)
    errors = sorted((f.location.line, f.location.path) for f in result.findings if f.rule == "IAM002")
    assert errors == [
        (3, "$.UserDetailList[0]"),  # a string where a user belongs
        (7, "$.UserDetailList[1].GroupList[1]"),  # a group the dump does not have
        (8, "$.UserDetailList[1].UserPolicyList[0]"),  # inline policy without a document
        (10, "$.UserDetailList[1].AttachedManagedPolicies[0].PolicyArn"),  # customer policy not in the dump
        (19, "$.GroupDetailList[0].AttachedManagedPolicies"),  # an object instead of a list
        (36, "$.RoleDetailList[0].RolePolicyList[0].PolicyDocument"),  # neither JSON nor URL-encoded JSON
        (38, "$.RoleDetailList[1]"),  # role without a trust policy
        (68, "$.RoleDetailList[2].RolePolicyList[0].PolicyDocument.Statement[0].Effect"),  # "Alow"
        (77, "$.Policies[0]"),  # no default version
        (89, "$.Policies[1]"),  # not an object
    ]
    assert result.exit_code(engine.config.fail_on) == 2
    rest = {(f.rule, f.location.line) for f in result.findings if f.rule != "IAM002"}
    # The lone attachment object is still read, the valid statements still checked.
    assert {("IAM101", 21), ("IAM103", 47), ("IAM110", 69)} <= rest


def test_truncated_and_filtered_dumps_say_what_is_missing() -> None:
    dump = {
        "IsTruncated": True,
        "Marker": "abc",
        "UserDetailList": [
            {
                "UserName": "u",
                "AttachedManagedPolicies": [
                    {"PolicyName": "Custom", "PolicyArn": "arn:aws:iam::111122223333:policy/Custom"}
                ],
            }
        ],
    }
    result = load_auth_details(parse_json(json.dumps(dump, indent=1), "dump.json"))
    assert [p.loc.keys for p in result.problems] == [
        ("IsTruncated",),
        ("UserDetailList", 0, "AttachedManagedPolicies", 0, "PolicyArn"),
    ]
    assert "--filter" in result.problems[1].message  # the dump has no Policies list at all


def test_not_an_object_is_an_input_error() -> None:
    result = load_auth_details(parse_json("[1, 2]", "dump.json"))
    assert result.documents == [] and [(e.line, e.column) for e in result.errors] == [(1, 1)]


@pytest.mark.parametrize(
    "broken",
    [
        {"RoleDetailList": {"RoleName": "x"}},
        {"RoleDetailList": [{"RoleName": 7, "RolePolicyList": "no"}]},
        {"UserDetailList": [{"UserName": "u", "GroupList": [None], "PermissionsBoundary": "arn"}]},
        {"Policies": [{"Arn": "arn:aws:iam::1:policy/p", "PolicyVersionList": [{"IsDefaultVersion": True}]}]},
        {"GroupDetailList": [{"GroupName": "g", "AttachedManagedPolicies": [{"PolicyName": "no-arn"}]}]},
    ],
)
def test_odd_shapes_never_crash(broken: dict[str, Any]) -> None:
    result = load_auth_details(parse_json(json.dumps(broken), "dump.json"))
    assert result.problems and all(p.loc.keys for p in result.problems)


# -- command line -------------------------------------------------------------------------


def _reaches_a_dump(root: object) -> bool:
    """Does `root` keep a parsed dump (a dict with a RoleDetailList) alive?"""
    return bool(reachable(root, lambda obj: isinstance(obj, dict) and "RoleDetailList" in obj))


def test_a_loaded_dump_keeps_its_marks_not_its_parsed_data() -> None:
    # An account's parsed dump is tens of megabytes; once its documents are built, only the
    # file's marks are needed (to give findings lines), and the parsed data is let go.
    located = parse_json(ACCOUNT.read_text("utf-8"), str(ACCOUNT))
    assert _reaches_a_dump(load_auth_details(located)), "the walk finds a dump the result holds"
    result = load_file(str(ACCOUNT), InputOptions(), explicit=True)
    assert result.documents and not _reaches_a_dump(result)
    admin = next(d for d in result.documents if d.name == "AdministratorAccess")
    assert admin.locate(admin.statements[0].loc).line is not None


def test_cli_checks_a_dump() -> None:
    run = CliRunner().invoke(cli, ["check", str(ACCOUNT), "--format", "json"], catch_exceptions=False)
    assert run.exit_code == 1
    report = json.loads(run.output)
    assert report["errors"] == []
    full_admin = sorted(
        (f["source"]["name"], f["location"]["line"]) for f in report["findings"] if f["rule"] == "IAM101"
    )
    assert full_admin == [("AdministratorAccess", 55), ("OrphanAdmin", 237)]
    passrole = next(f for f in report["findings"] if f["rule"] == "IAM109")
    assert passrole["source"]["kind"] == "managed-policy"
    assert passrole["source"]["arn"] == "arn:aws:iam::111122223333:policy/DeployPolicy"
