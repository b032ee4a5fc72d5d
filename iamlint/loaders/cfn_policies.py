"""Where policies live in CloudFormation resources: one table, read by the template loader.

Each entry says, for a resource type, which property holds a policy document (or a list of
inline policies), what kind of policy it is, and what it applies to. Types whose policy is
spread over plain properties (`AWS::Lambda::Permission`) are turned into an equivalent
resource-policy statement by `synthesize`; what AWS reads into a policy that the template
leaves implicit is written out by `complete`; `target_names` says what a policy is attached
to or protects.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from iamlint.loaders.intrinsics import Where
from iamlint.loaders.sam_nodes import fn_if
from iamlint.model import PolicyKind


@dataclass(frozen=True, slots=True)
class PolicySlot:
    prop: str  # property holding the document (or list of inline policies)
    kind: PolicyKind
    inline_list: bool = False  # Policies: [{PolicyName, PolicyDocument}]
    target: str | None = None  # property naming what a resource policy protects
    source_kind: str = ""  # bucket, queue, topic... (for principals: role, user, group)
    # Keys from the property down to the document, "[]" for each entry of a list:
    # `Replicas: [{ResourcePolicy: {PolicyDocument: ...}}]` is ("[]", "ResourcePolicy", "PolicyDocument").
    # The last key is required wherever its parent is present; the others are optional.
    within: tuple[str, ...] = ()


IDENTITY_TYPES = {
    "AWS::IAM::Role": "role",
    "AWS::IAM::User": "user",
    "AWS::IAM::Group": "group",
}

SLOTS: dict[str, tuple[PolicySlot, ...]] = {
    "AWS::IAM::Role": (
        PolicySlot("Policies", PolicyKind.IDENTITY, inline_list=True, source_kind="role"),
        PolicySlot("AssumeRolePolicyDocument", PolicyKind.TRUST, source_kind="role"),
    ),
    "AWS::IAM::User": (PolicySlot("Policies", PolicyKind.IDENTITY, inline_list=True, source_kind="user"),),
    "AWS::IAM::Group": (PolicySlot("Policies", PolicyKind.IDENTITY, inline_list=True, source_kind="group"),),
    "AWS::IAM::Policy": (PolicySlot("PolicyDocument", PolicyKind.IDENTITY, source_kind="policy"),),
    "AWS::IAM::ManagedPolicy": (PolicySlot("PolicyDocument", PolicyKind.IDENTITY, source_kind="managed-policy"),),
    "AWS::IAM::RolePolicy": (PolicySlot("PolicyDocument", PolicyKind.IDENTITY, target="RoleName", source_kind="role"),),
    "AWS::IAM::UserPolicy": (PolicySlot("PolicyDocument", PolicyKind.IDENTITY, target="UserName", source_kind="user"),),
    "AWS::IAM::GroupPolicy": (
        PolicySlot("PolicyDocument", PolicyKind.IDENTITY, target="GroupName", source_kind="group"),
    ),
    "AWS::S3::BucketPolicy": (
        PolicySlot("PolicyDocument", PolicyKind.RESOURCE, target="Bucket", source_kind="bucket"),
    ),
    "AWS::S3::AccessPoint": (PolicySlot("Policy", PolicyKind.RESOURCE, source_kind="access-point"),),
    "AWS::S3Express::BucketPolicy": (
        PolicySlot("PolicyDocument", PolicyKind.RESOURCE, target="Bucket", source_kind="bucket"),
    ),
    "AWS::SQS::QueuePolicy": (PolicySlot("PolicyDocument", PolicyKind.RESOURCE, target="Queues", source_kind="queue"),),
    "AWS::SQS::QueueInlinePolicy": (
        PolicySlot("PolicyDocument", PolicyKind.RESOURCE, target="Queue", source_kind="queue"),
    ),
    "AWS::SNS::TopicPolicy": (PolicySlot("PolicyDocument", PolicyKind.RESOURCE, target="Topics", source_kind="topic"),),
    "AWS::SNS::TopicInlinePolicy": (
        PolicySlot("PolicyDocument", PolicyKind.RESOURCE, target="TopicArn", source_kind="topic"),
    ),
    "AWS::KMS::Key": (PolicySlot("KeyPolicy", PolicyKind.RESOURCE, source_kind="key"),),
    "AWS::KMS::ReplicaKey": (PolicySlot("KeyPolicy", PolicyKind.RESOURCE, source_kind="key"),),
    "AWS::DynamoDB::Table": (
        PolicySlot("ResourcePolicy", PolicyKind.RESOURCE, source_kind="table", within=("PolicyDocument",)),
        PolicySlot(
            "StreamSpecification",
            PolicyKind.RESOURCE,
            source_kind="stream",
            within=("ResourcePolicy", "PolicyDocument"),
        ),
    ),
    "AWS::DynamoDB::GlobalTable": (  # each replica has its own table and stream policy
        PolicySlot(
            "Replicas", PolicyKind.RESOURCE, source_kind="table", within=("[]", "ResourcePolicy", "PolicyDocument")
        ),
        PolicySlot(
            "Replicas",
            PolicyKind.RESOURCE,
            source_kind="stream",
            within=("[]", "ReplicaStreamSpecification", "ResourcePolicy", "PolicyDocument"),
        ),
    ),
    "AWS::EFS::FileSystem": (PolicySlot("FileSystemPolicy", PolicyKind.RESOURCE, source_kind="file-system"),),
    "AWS::SecretsManager::ResourcePolicy": (
        PolicySlot("ResourcePolicy", PolicyKind.RESOURCE, target="SecretId", source_kind="secret"),
    ),
    "AWS::ECR::Repository": (PolicySlot("RepositoryPolicyText", PolicyKind.RESOURCE, source_kind="repository"),),
    "AWS::ECR::RegistryPolicy": (PolicySlot("PolicyText", PolicyKind.RESOURCE, source_kind="registry"),),
    "AWS::ApiGateway::RestApi": (PolicySlot("Policy", PolicyKind.RESOURCE, source_kind="rest-api"),),
    "AWS::Events::EventBus": (PolicySlot("Policy", PolicyKind.RESOURCE, source_kind="event-bus"),),
    "AWS::Logs::ResourcePolicy": (
        PolicySlot("PolicyDocument", PolicyKind.RESOURCE, source_kind="log-resource-policy"),
    ),
    "AWS::OpenSearchService::Domain": (PolicySlot("AccessPolicies", PolicyKind.RESOURCE, source_kind="domain"),),
    "AWS::Elasticsearch::Domain": (PolicySlot("AccessPolicies", PolicyKind.RESOURCE, source_kind="domain"),),
    "AWS::Backup::BackupVault": (PolicySlot("AccessPolicy", PolicyKind.RESOURCE, source_kind="backup-vault"),),
    "AWS::Lambda::Permission": (PolicySlot("", PolicyKind.RESOURCE, target="FunctionName", source_kind="function"),),
    "AWS::Lambda::LayerVersionPermission": (
        PolicySlot("", PolicyKind.RESOURCE, target="LayerVersionArn", source_kind="layer"),
    ),
    "AWS::Events::EventBusPolicy": (
        PolicySlot("", PolicyKind.RESOURCE, target="EventBusName", source_kind="event-bus"),
    ),
}

# Properties of workloads that name the role they run with.
WORKLOAD_ROLES: dict[str, tuple[str, str]] = {
    "AWS::Lambda::Function": ("Role", "function"),
    "AWS::StepFunctions::StateMachine": ("RoleArn", "state machine"),
    "AWS::ECS::TaskDefinition": ("TaskRoleArn", "task definition"),
    "AWS::CodeBuild::Project": ("ServiceRole", "CodeBuild project"),
    "AWS::Glue::Job": ("Role", "Glue job"),
    "AWS::Events::Rule": ("RoleArn", "EventBridge rule"),
    "AWS::AppSync::DataSource": ("ServiceRoleArn", "AppSync data source"),
    "AWS::Pipes::Pipe": ("RoleArn", "EventBridge pipe"),
    "AWS::Scheduler::Schedule": ("RoleArn", "schedule"),
    "AWS::IAM::InstanceProfile": ("Roles", "instance profile"),
}


def _principal(value: Any) -> Any:
    """Lambda's Principal property (a service, an account or "*") as a policy Principal."""
    if value == "*":
        return "*"
    if isinstance(value, str) and value.endswith(".amazonaws.com"):
        return {"Service": value}
    return {"AWS": value}


def synthesize(resource_type: str, props: Mapping[str, Any]) -> dict[str, Any] | None:
    """The resource-policy statement equivalent to a Lambda or EventBridge permission."""
    if resource_type == "AWS::Lambda::Permission":
        conditions: dict[str, dict[str, Any]] = {}
        if "SourceArn" in props:
            conditions.setdefault("ArnLike", {})["AWS:SourceArn"] = props["SourceArn"]
        if "SourceAccount" in props:
            conditions.setdefault("StringEquals", {})["AWS:SourceAccount"] = props["SourceAccount"]
        if "PrincipalOrgID" in props:
            conditions.setdefault("StringEquals", {})["aws:PrincipalOrgID"] = props["PrincipalOrgID"]
        if "FunctionUrlAuthType" in props:
            conditions.setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = props["FunctionUrlAuthType"]
        if props.get("InvokedViaFunctionUrl") in (True, "true", "True"):
            # Invocation through the function URL only (SAM adds it beside the URL's own permission).
            conditions.setdefault("Bool", {})["lambda:InvokedViaFunctionUrl"] = "true"
        statement: dict[str, Any] = {
            "Effect": "Allow",
            "Principal": _principal(props.get("Principal")),
            "Action": props.get("Action"),
            "Resource": props.get("FunctionName"),
        }
        if conditions:
            statement["Condition"] = conditions
        return {"Version": "2012-10-17", "Statement": [statement]}
    if resource_type == "AWS::Lambda::LayerVersionPermission":
        statement = {
            "Effect": "Allow",
            "Principal": _principal(props.get("Principal")),
            "Action": props.get("Action"),
            "Resource": props.get("LayerVersionArn"),
        }
        if "OrganizationId" in props:
            statement["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": props["OrganizationId"]}}
        return {"Version": "2012-10-17", "Statement": [statement]}
    if resource_type == "AWS::Events::EventBusPolicy":
        if isinstance(props.get("Statement"), Mapping):
            return {"Version": "2012-10-17", "Statement": [props["Statement"]]}
        statement = {
            "Effect": "Allow",
            "Principal": _principal(props.get("Principal")),
            "Action": props.get("Action"),
            "Resource": "*",
        }
        if "Condition" in props:
            cond = props["Condition"]
            if isinstance(cond, Mapping):
                statement["Condition"] = {cond.get("Type", "StringEquals"): {cond.get("Key"): cond.get("Value")}}
        return {"Version": "2012-10-17", "Statement": [statement]}
    return None


# `123456789012:function:my-function[:qualifier]`, the partial ARN Lambda accepts as FunctionName.
_PARTIAL_FUNCTION_ARN = re.compile(r"([^:]+):function:(.+)")
_WHOLE_PLACEHOLDER = re.compile(r"<[^<>]*>")


def function_arn(name: Any, where: Where) -> Any:
    """A Lambda permission's FunctionName as the function ARN that AWS writes as the Resource of
    the function policy's statement. Lambda accepts a name (`my-function`, `my-function:live`),
    a partial ARN (`123456789012:function:my-function`) or an ARN (Lambda API Reference,
    AddPermission); an ARN is kept, and so is a value that is one placeholder as a whole (`Ref`
    to a function, an import), which rules read as one specific resource already."""
    if not isinstance(name, str) or not name or name.startswith("arn:") or _WHOLE_PLACEHOLDER.fullmatch(name):
        return name
    partial = _PARTIAL_FUNCTION_ARN.fullmatch(name)
    account, function = partial.groups() if partial else (where.account, name)
    return f"arn:{where.partition}:lambda:{where.region}:{account}:function:{function}"


# Resource policies whose statements apply to the resource holding them and so name no
# Resource: ECR repository policies (Amazon ECR User Guide, "Private repository policies",
# whose examples all leave Resource out). Other resource policies iamlint reads from
# templates name their Resource (S3, SQS, SNS, KMS "*", EFS, DynamoDB...) or have it made
# from a property (Lambda permissions and layer permissions).
IMPLIED_RESOURCE = frozenset({"AWS::ECR::Repository"})
COMPLETED = IMPLIED_RESOURCE | {"AWS::Lambda::Permission"}  # the types `complete` changes policies of


def complete(resource_type: str, policy: Any, own_arn: str, where: Where) -> Any:
    """A resolved policy with what AWS reads into it written out: the ARN of the resource
    holding it (`own_arn`) for statements without Resource or NotResource where AWS implies
    it, and a Lambda permission's function name as its ARN. Anything else is returned as is,
    and so is a malformed policy, for the parser to report."""
    if not isinstance(policy, Mapping) or not isinstance(policy.get("Statement"), (list, Mapping)):
        return policy
    statements = policy["Statement"]
    items = [
        dict(st) if isinstance(st, Mapping) else st
        for st in (statements if isinstance(statements, list) else [statements])
    ]
    for st in items:
        if not isinstance(st, dict):
            continue
        if resource_type in IMPLIED_RESOURCE and "Resource" not in st and "NotResource" not in st:
            st["Resource"] = own_arn
        elif resource_type == "AWS::Lambda::Permission" and "Resource" in st:
            st["Resource"] = function_arn(st["Resource"], where)
    return {**policy, "Statement": items if isinstance(statements, list) else items[0]}


def referenced_id(node: Any) -> str | None:
    """The logical id behind `!Ref X`, `!GetAtt X.Arn` or `[X, Arn]`, if that is what `node` is."""
    if isinstance(node, Mapping) and len(node) == 1:
        ((key, arg),) = node.items()
        if key == "Ref" and isinstance(arg, str):
            return arg
        if key == "Fn::GetAtt":
            if isinstance(arg, str):
                return arg.split(".", 1)[0]
            if isinstance(arg, list) and arg and isinstance(arg[0], str):
                return arg[0]
    return None


_ROLE_NAME = re.compile(r":role/(?:[^\x00]*/)?([^/\x00]+)$")
_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


def role_names(resources: Mapping[str, Any]) -> dict[str, str]:
    """The template's roles by their literal `RoleName`: name -> logical id."""
    names: dict[str, str] = {}
    for logical_id, res in resources.items():
        props = res.get("Properties") if isinstance(res, Mapping) and res.get("Type") == "AWS::IAM::Role" else None
        if isinstance(props, Mapping) and isinstance(props.get("RoleName"), str):
            names[props["RoleName"]] = str(logical_id)
    return names


def workload_roles(node: Any, resources: Mapping[str, Any], names: Mapping[str, str] | None = None) -> list[str]:
    """The logical ids of the template's roles a workload's role property names: `!Ref R`,
    `!GetAtt R.Arn`, `!Sub ...:role/${R}` (or `${R.Arn}`), the parts of `!Join`, both branches
    of `!If`, and an ARN string whose name is a role's literal `RoleName` (`names`, from
    `role_names`, worked out once per template by a caller asking for many workloads)."""
    if names is None:
        names = role_names(resources)
    found: list[str] = []

    def named(text: str) -> None:  # unknown parts are \x00, so they never read as a literal name
        m = _ROLE_NAME.search(text)
        if m is not None and m[1] in names:
            found.append(names[m[1]])

    stack = [node]
    while stack:
        item = stack.pop()
        ref = referenced_id(item)
        if ref is not None:
            if ref in resources:
                found.append(ref)
        elif isinstance(item, str):
            named(item)
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, Mapping) and len(item) == 1:
            ((key, arg),) = item.items()
            if key == "Fn::If" and isinstance(arg, list) and len(arg) == 3:
                stack.extend(arg[1:])
            elif key == "Fn::Join" and isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], list):
                parts = arg[1]
                stack.extend(p for p in parts if not isinstance(p, str))
                if isinstance(arg[0], str):
                    named(arg[0].join(p if isinstance(p, str) else "\x00" for p in parts))
            elif key == "Fn::Sub":
                text, values = (
                    (arg, {})
                    if isinstance(arg, str)
                    else (arg[0], arg[1])
                    if (
                        isinstance(arg, list)
                        and len(arg) == 2
                        and isinstance(arg[0], str)
                        and isinstance(arg[1], Mapping)
                    )
                    else ("", {})
                )
                for var in _SUB_VAR.findall(text):
                    if var in values:
                        stack.append(values[var])
                    elif var.split(".", 1)[0] in resources:
                        found.append(var.split(".", 1)[0])
                named(_SUB_VAR.sub("\x00", text))
    return list(dict.fromkeys(found))


def describe_target(node: Any) -> str | None:
    """What a policy is attached to or protects, for people: `Roles: [!Ref A, b]` is "A, b"."""
    return ", ".join(target_names(node)) or None


def target_names(node: Any) -> list[str]:
    """The names a policy is attached to (`Roles: [!Ref A, b-name]`). A target chosen by
    `Fn::If` counts under both branches: the policy may reach either, and both are judged."""
    names: list[str] = []
    stack = [node]
    while stack:  # a loop, not recursion: lists in lists may nest a thousand levels deep
        item = stack.pop()
        test = fn_if(item)
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, str):
            names.append(item)
        elif (ref := referenced_id(item)) is not None:
            if ref != "AWS::NoValue":
                names.append(ref)
        elif test is not None:
            stack.extend((test[2], test[1]))
    return list(dict.fromkeys(n for n in names if n))
