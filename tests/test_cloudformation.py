"""The CloudFormation loader: intrinsics, owners, branches and exact locations."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from conftest import FIXTURES, check_golden

from iamlint.engine import Engine
from iamlint.loaders import LoadResult
from iamlint.loaders.inputs import InputOptions, load_paths
from iamlint.loaders.intrinsics import Resolver

CFN = FIXTURES / "sources" / "cfn"


def normalize(result: LoadResult) -> list[dict[str, Any]]:
    """The documents a loader produced, as plain data for golden files."""
    out = []
    for doc in result.documents:
        statements = []
        for st in doc.statements:
            statements.append(
                {
                    "effect": st.effect,
                    st.action_key: list(st.action_texts),
                    **({st.resource_key: list(st.resource_texts)} if st.resource_key else {}),
                    **({"Principal": [f"{p.kind}:{p.value.text}" for p in st.principals]} if st.principals else {}),
                    **(
                        {"Condition": [f"{c.operator} {c.key} {list(c.values)}" for c in st.conditions]}
                        if st.conditions
                        else {}
                    ),
                    "line": doc.locate(st.loc).line,
                }
            )
        out.append(
            {
                "kind": doc.kind.value,
                "source": doc.source.describe() if doc.source else None,
                "line": doc.locate(doc.loc).line,
                "statements": statements,
            }
        )
    return out


def _load(path: Path, **kw: Any) -> LoadResult:
    return load_paths([str(path)], InputOptions(**kw))


def test_intrinsics_golden() -> None:
    result = _load(CFN / "intrinsics.yaml")
    assert result.errors == [] and result.problems == []
    check_golden(CFN / "intrinsics.golden.json", json.dumps(normalize(result), indent=2) + "\n")


def test_yaml_and_json_twins_give_the_same_findings(engine: Engine) -> None:
    def findings(path: Path) -> list[tuple[str, str, tuple[str, ...]]]:
        r = _load(path)
        res = engine.run(r.documents, r.problems, r.errors)
        # Principal-level messages name the lines of the statements they join; the twins'
        # lines differ.
        return sorted(
            (f.rule, re.sub(r"lines? [\d, ]+", "line N", f.message), f.evidence.resources) for f in res.findings
        )

    yaml_findings = findings(CFN / "intrinsics.yaml")
    assert yaml_findings and yaml_findings == findings(CFN / "intrinsics.json")


def test_findings_point_at_the_statement_line_and_name_owner_and_branch(engine: Engine) -> None:
    r = _load(CFN / "intrinsics.yaml")
    res = engine.run(r.documents, r.problems, r.errors)
    by_rule = {(f.rule, f.location.line): f for f in res.findings}
    queue = by_rule[("IAM103", 63)]
    assert queue.location.column == 17 and queue.statement_sid == "Queue"
    assert (
        queue.source is not None
        and queue.source.name == "HandlerRole"
        and queue.source.used_by == ("function Handler",)
    )
    receipts = by_rule[("IAM105", 68)]
    assert receipts.source is not None and receipts.source.condition == "not IsProd"
    # The AWS managed policy attached by ARN is checked with its real document, at the ARN's line.
    managed = [f for f in res.findings if f.source and f.source.via == "ManagedPolicyArns[0]"]
    assert managed and all(f.location.line == 43 for f in managed)


def test_resolution_of_each_intrinsic() -> None:
    r = _load(CFN / "intrinsics.yaml")
    role = next(d for d in r.documents if d.name == "data")
    resources = {st.sid: st.resource_texts for st in role.statements}
    assert resources["Table"] == ("arn:aws:dynamodb:<AWS::Region>:<AWS::AccountId>:table/<OrdersTable>",)
    assert resources["OtherTables"] == ("arn:aws:dynamodb:<AWS::Region>:<AWS::AccountId>:table/Invoices",)
    assert resources["Key"] == ("arn:aws:kms:<AWS::Region>:<AWS::AccountId>:alias/orders-prod",)
    assert resources["Shared"] == ("arn:aws:s3:::<ImportValue:SharedBucketName>/orders/*",)
    trust = next(d for d in r.documents if d.kind.value == "trust")
    assert trust.statements[0].principals[0].value.text == "lambda.amazonaws.com"


def test_parameters_override_defaults_and_pseudo_parameters() -> None:
    r = _load(
        CFN / "intrinsics.yaml",
        parameters={"Stage": "dev", "AWS::AccountId": "111122223333", "AWS::Region": "eu-west-1"},
    )
    role = next(d for d in r.documents if d.name == "data")
    resources = {st.sid: st.resource_texts for st in role.statements}
    assert resources["Key"] == ("arn:aws:kms:eu-west-1:111122223333:alias/orders-dev",)


def test_resource_policies_and_permissions_are_loaded() -> None:
    r = _load(CFN / "intrinsics.yaml")
    kinds = {(d.kind.value, d.source.kind if d.source else None) for d in r.documents}
    assert ("resource", "bucket") in kinds and ("resource", "function") in kinds


def test_resource_policies_of_inline_policy_types_tables_replicas_and_file_systems_are_read(engine: Engine) -> None:
    # Queue and topic inline policies, replica keys, the ECR registry policy, a DynamoDB
    # table's and its stream's policies, a global table replica's (chosen by Fn::If) and an
    # EFS file system policy: each is a resource policy, located where the template says.
    r = _load(CFN / "resource-policies.yaml")
    assert r.errors == [] and r.problems == []
    assert {d.kind.value for d in r.documents} == {"resource"}
    owners = {
        (d.source.logical_id, d.source.kind, d.source.name, d.source.via, d.source.condition)
        for d in r.documents
        if d.source is not None
    }
    assert owners == {
        ("QueueInline", "queue", "Queue", None, None),
        ("TopicInline", "topic", "Topic", None, None),
        ("Replica", "key", "Replica", None, None),
        ("Registry", "registry", "Registry", None, None),
        ("Table", "table", "Table", "ResourcePolicy", None),
        ("Table", "stream", "Table", "StreamSpecification.ResourcePolicy", None),
        ("Global", "table", "Global", "Replicas[1].ResourcePolicy", "HasReplica"),
        ("Global", "stream", "Global", "Replicas[1].ReplicaStreamSpecification.ResourcePolicy", "HasReplica"),
        ("Files", "file-system", "Files", None, None),
    }
    found = {
        (f.rule, f.location.logical_id, f.location.line, f.location.column)
        for f in engine.run(r.documents).findings
        if f.rule in ("IAM160", "IAM163")
    }
    assert found == {
        ("IAM160", "QueueInline", 16, 13),
        ("IAM163", "TopicInline", 29, 25),
        ("IAM160", "Replica", 40, 13),
        ("IAM163", "Registry", 50, 25),
        ("IAM160", "Table", 63, 15),
        ("IAM160", "Table", 73, 17),
        ("IAM160", "Global", 91, 21),
        ("IAM160", "Files", 111, 25),
    }


def test_a_nested_resource_policy_of_the_wrong_shape_is_located(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(
        "Resources:\n"
        "  Table:\n"
        "    Type: AWS::DynamoDB::Table\n"
        "    Properties:\n"
        "      ResourcePolicy: {Statement: []}\n"
        "  Global:\n"
        "    Type: AWS::DynamoDB::GlobalTable\n"
        "    Properties:\n"
        "      Replicas: {Region: us-east-1}\n"
    )
    where = [(p.loc.line, p.message) for p in _load(template).problems]
    assert where == [(5, "ResourcePolicy of Table needs PolicyDocument"), (9, "Replicas of Global must be a list")]


def test_unresolvable_values_become_placeholders_not_crashes() -> None:
    template = {"Resources": {}, "Mappings": {"M": {"a": {"b": "c"}}}}
    resolver = Resolver(template)
    assert resolver.resolve({"Fn::FindInMap": ["M", "x", "b"]}) == "<Fn::FindInMap>"
    assert resolver.resolve({"Fn::Select": [5, ["a"]]}) == "<Fn::Select>"
    assert resolver.resolve({"Fn::Sub": "${Nope}-x"}) == "<Sub:Nope>-x"
    assert (
        resolver.resolve({"Fn::Sub": "arn:aws:s3:::b/${aws:username}/${!Literal}"})
        == "arn:aws:s3:::b/${aws:username}/${Literal}"
    )
    deep: Any = "x"
    for _ in range(200):
        deep = {"Fn::Base64": deep}
    assert resolver.resolve(deep) == "<Fn::Base64>"
    assert len(resolver.problems) == 4


def test_template_errors_are_located(tmp_path: Path, engine: Engine) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("Resources:\n  Role:\n    Type: AWS::IAM::Role\n    Properties:\n      Policies: nope\n")
    r = _load(bad)
    assert r.problems and r.problems[0].loc.line == 5
    res = engine.run(r.documents, r.problems, r.errors)
    assert res.exit_code(res.findings[0].severity) == 2


def test_fn_if_around_list_entries_and_whole_lists_checks_every_branch() -> None:
    # An inline policy or a managed ARN chosen by Fn::If (with AWS::NoValue as the other
    # branch), and a whole ManagedPolicyArns list chosen by Fn::If, are valid CloudFormation:
    # each branch is checked and named, none is an input error.
    result = _load(CFN / "conditional-lists.yaml")
    assert not result.problems and not result.errors
    seen = {
        (d.source.name, d.source.policy_name, d.source.condition, d.locate(d.loc).line)
        for d in result.documents
        if d.source is not None and d.kind.value == "identity"
    }
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    assert ("AppRole", admin, "UseAdmin", 16) in seen
    assert ("AppRole", "prod-extra", "IsProd", 22) in seen
    assert ("AppRole", "always", "IsProd", 30) in seen and ("AppRole", "always", "not IsProd", 30) in seen
    assert ("OtherRole", "arn:aws:iam::aws:policy/AmazonS3FullAccess", "IsProd", 47) in seen
    assert ("OtherRole", "arn:aws:iam::aws:policy/ReadOnlyAccess", "not IsProd", 48) in seen
    # No branch that is AWS::NoValue, and no condition on what holds either way.
    basic = [c for name, policy, c, _ in seen if policy and policy.endswith("AWSLambdaBasicExecutionRole")]
    assert basic == [None]
    findings = Engine().run(result.documents).findings
    full_admin = [f for f in findings if f.rule == "IAM101"]
    assert full_admin and all(f.source is not None and f.source.condition == "UseAdmin" for f in full_admin)


def test_group_policies_reach_the_members_the_template_adds() -> None:
    # A user's Groups and AWS::IAM::UserToGroupAddition (CDK's group.addUser) both make the
    # group's policies the user's: principal findings are on each member, not the group.
    result = _load(CFN / "group-members.yaml")
    assert not result.problems and not result.errors
    [doc] = [d for d in result.documents if d.source is not None and d.source.kind == "group"]
    assert set(doc.source.used_by) == {"user Alice", "user Bob"}
    findings = [f for f in Engine().run(result.documents).findings if f.rule == "IAM121"]
    assert sorted(f.message.split(" can ")[0] for f in findings) == ["user Alice", "user Bob"]


def test_a_policy_attached_to_a_role_chosen_by_fn_if_reaches_both_roles() -> None:
    # Roles: [!If [IsProd, !Ref ProdRole, !Ref TestRole]] may attach to either role: both are
    # judged with it, and an AWS::NoValue branch names no role.
    result = _load(CFN / "conditional-attachment.yaml")
    assert not result.problems and not result.errors
    [doc] = [d for d in result.documents if d.source is not None and d.source.policy_name == "iam-writes"]
    assert sorted(doc.source.attached_to) == ["role ProdRole", "role TestRole"]
    findings = [f for f in Engine().run(result.documents).findings if f.rule == "IAM121"]
    assert sorted(f.message.split(" can ")[0] for f in findings) == ["role ProdRole", "role TestRole"]


def test_sam_resources_nothing_expands_and_a_bad_transform_are_input_errors(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(
        "Transform: 5\n"
        "Resources:\n"
        "  Fn:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties: {Runtime: python3.12, Handler: a.b, InlineCode: x, Policies: [AmazonS3FullAccess]}\n"
        "  Role:\n"
        "    Type: AWS::IAM::Role\n"
        "    Properties:\n"
        "      AssumeRolePolicyDocument: {Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com},"
        " Action: sts:AssumeRole}]}\n"
        "      Policies: [{PolicyName: p, PolicyDocument: {Statement: [{Effect: Allow, Action: '*', Resource: '*'}]}}]\n"
    )
    loaded = _load(template)
    where = {(e.line, e.column): e.message for e in loaded.errors}
    assert where[(1, 1)].startswith("Transform must name a macro")
    assert "Fn is a SAM resource (AWS::Serverless::Function) in a template without Transform" in where[(4, 5)]
    assert any(d.source and d.source.name == "Role" for d in loaded.documents)  # the rest is still read


def test_fn_if_on_a_condition_the_template_does_not_define_is_malformed(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(
        "Conditions:\n"
        "  IsProd: !Equals [!Ref AWS::AccountId, '111122223333']\n"
        "Resources:\n"
        "  Policy:\n"
        "    Type: AWS::IAM::ManagedPolicy\n"
        "    Properties:\n"
        "      PolicyDocument:\n"
        "        Statement:\n"
        "          - Effect: Allow\n"
        "            Action: !If [IsProd, 's3:GetObject', 's3:*']\n"
        "            Resource: !If [Nope, '*', 'arn:aws:s3:::b/*']\n"
    )
    loaded = _load(template)
    messages = [p.message for p in loaded.problems] + [e.message for e in loaded.errors]
    assert any("tests condition 'Nope', which the template's Conditions do not define" in m for m in messages)
    assert not any("IsProd" in m for m in messages)


def test_managed_policy_arns_that_cannot_be_resolved_are_reported(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(
        "Resources:\n"
        "  Role:\n"
        "    Type: AWS::IAM::Role\n"
        "    Properties:\n"
        "      AssumeRolePolicyDocument: {Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com},"
        " Action: sts:AssumeRole}]}\n"
        "      ManagedPolicyArns:\n"
        "        - !Ref Nope\n"
        "        - !If [Missing, arn:aws:iam::aws:policy/AdministratorAccess, !Ref AWS::NoValue]\n"
    )
    loaded = _load(template)
    where = {p.loc.line: p.message for p in loaded.problems}
    assert where[7] == "Ref: Ref to 'Nope', which is neither a parameter nor a resource (in Role)"
    assert "Fn::If tests condition 'Missing', which the template's Conditions do not define" in where[8]


def test_a_lambda_permission_for_function_url_calls_only_keeps_that_condition() -> None:
    from iamlint.loaders.cfn_policies import synthesize

    props = {
        "Action": "lambda:InvokeFunction",
        "FunctionName": "arn:aws:lambda:us-east-1:111122223333:function:f",
        "Principal": "*",
        "InvokedViaFunctionUrl": True,
    }
    doc = synthesize("AWS::Lambda::Permission", props)
    assert doc is not None
    assert doc["Statement"][0]["Condition"] == {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}
    plain = synthesize("AWS::Lambda::Permission", {**props, "InvokedViaFunctionUrl": False})
    assert plain is not None and "Condition" not in plain["Statement"][0]


def test_a_managed_policy_attached_by_reference_counts_for_the_role(tmp_path: Path, engine: Engine) -> None:
    """`ManagedPolicyArns: [!Ref MP]` joins MP's grants to the role, as MP's own `Roles: [!Ref R]` does:
    here the two halves of a privilege escalation only meet in the role."""
    template = tmp_path / "template.yaml"
    template.write_text(
        "Conditions:\n"
        "  Always: !Equals [a, a]\n"
        "Resources:\n"
        "  MP:\n"
        "    Type: AWS::IAM::ManagedPolicy\n"
        "    Properties:\n"
        "      PolicyDocument: {Statement: [{Effect: Allow, Action: iam:PassRole, Resource: 'arn:aws:iam::123456789012:role/*'}]}\n"
        "  R:\n"
        "    Type: AWS::IAM::Role\n"
        "    Properties:\n"
        "      AssumeRolePolicyDocument: {Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com},"
        " Action: sts:AssumeRole}]}\n"
        "      ManagedPolicyArns: [!If [Always, !Ref MP, !Ref AWS::NoValue]]\n"
        "      Policies: [{PolicyName: x, PolicyDocument: {Statement: [{Effect: Allow,"
        " Action: [lambda:CreateFunction, lambda:InvokeFunction], Resource: '*'}]}}]\n"
    )
    loaded = _load(template)
    mp = next(d for d in loaded.documents if d.source and d.source.logical_id == "MP")
    assert (mp.source.kind, mp.source.name) == ("role", "R")
    result = engine.run(loaded.documents, loaded.problems, loaded.errors)
    assert any(f.rule == "IAM120" and "lambda-create-function-invoke-passrole" in f.message for f in result.findings)
