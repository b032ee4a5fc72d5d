"""The IAM permissions `iamlint audit` needs, per feature, and the policy that grants them.

Every operation in `clients.ALLOWED` is listed here with the IAM action it needs and the feature
(command-line option) that calls it. `auditor_policy` builds the smallest policy for a set of
features; for the default features it is `docs/auditor-policy.json`, which `iamlint check`
finds clean. Features whose reads can only be granted on every resource of a type (every
role, for Access Advisor; every function, bucket or key, for resource policies) or that expose
secrets (ECS task definitions hold container environment variables) are opt-in: iamlint's own
rules flag such grants (IAM105, IAM106, IAM110), and an auditor should add them knowingly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# Features on by default; their permissions make docs/auditor-policy.json.
DEFAULT_FEATURES = ("identity", "workloads:lambda", "workloads:ec2", "org", "regions", "cloudtrail")

# "service:Operation" (botocore names) -> (IAM action or None when none is needed, feature).
NEEDS: Mapping[str, tuple[str | None, str]] = {
    # GetCallerIdentity needs no permission (STS API Reference).
    "sts:GetCallerIdentity": (None, "identity"),
    "sts:AssumeRole": ("sts:AssumeRole", "org"),
    "organizations:ListAccounts": ("organizations:ListAccounts", "org"),
    "iam:GetAccountAuthorizationDetails": ("iam:GetAccountAuthorizationDetails", "identity"),
    "iam:GenerateServiceLastAccessedDetails": ("iam:GenerateServiceLastAccessedDetails", "access-advisor"),
    "iam:GetServiceLastAccessedDetails": ("iam:GetServiceLastAccessedDetails", "access-advisor"),
    "ec2:DescribeRegions": ("ec2:DescribeRegions", "regions"),
    "ec2:DescribeInstances": ("ec2:DescribeInstances", "workloads:ec2"),
    "lambda:ListFunctions": ("lambda:ListFunctions", "workloads:lambda"),
    "lambda:GetPolicy": ("lambda:GetPolicy", "resources:lambda"),
    "ecs:ListTaskDefinitionFamilies": ("ecs:ListTaskDefinitionFamilies", "workloads:ecs"),
    "ecs:DescribeTaskDefinition": ("ecs:DescribeTaskDefinition", "workloads:ecs"),
    "stepfunctions:ListStateMachines": ("states:ListStateMachines", "workloads:stepfunctions"),
    "stepfunctions:DescribeStateMachine": ("states:DescribeStateMachine", "workloads:stepfunctions"),
    "s3:ListBuckets": ("s3:ListAllMyBuckets", "resources:s3"),
    "s3:GetBucketLocation": ("s3:GetBucketLocation", "resources:s3"),
    "s3:GetBucketPolicy": ("s3:GetBucketPolicy", "resources:s3"),
    # Only botocore's region redirector sends HeadBucket (it needs s3:ListBucket, which also lists
    # object keys); the audit reads each bucket in its own region, so it is left out.
    "s3:HeadBucket": (None, "resources:s3"),
    "sqs:ListQueues": ("sqs:ListQueues", "resources:sqs"),
    "sqs:GetQueueAttributes": ("sqs:GetQueueAttributes", "resources:sqs"),
    "sns:ListTopics": ("sns:ListTopics", "resources:sns"),
    "sns:GetTopicAttributes": ("sns:GetTopicAttributes", "resources:sns"),
    "kms:ListKeys": ("kms:ListKeys", "resources:kms"),
    "kms:GetKeyPolicy": ("kms:GetKeyPolicy", "resources:kms"),
    "secretsmanager:ListSecrets": ("secretsmanager:ListSecrets", "resources:secretsmanager"),
    "secretsmanager:GetResourcePolicy": ("secretsmanager:GetResourcePolicy", "resources:secretsmanager"),
    "ecr:DescribeRepositories": ("ecr:DescribeRepositories", "resources:ecr"),
    "ecr:GetRepositoryPolicy": ("ecr:GetRepositoryPolicy", "resources:ecr"),
    "cloudtrail:LookupEvents": ("cloudtrail:LookupEvents", "cloudtrail"),
}

# Resources for actions that accept them, in the auditor's own account only; actions not listed
# here accept only "*".
_ACCOUNT = "${aws:PrincipalAccount}"
SCOPED: Mapping[str, tuple[str, ...]] = {
    "iam:GenerateServiceLastAccessedDetails": (f"arn:aws:iam::{_ACCOUNT}:user/*", f"arn:aws:iam::{_ACCOUNT}:role/*"),
    "lambda:GetPolicy": (f"arn:aws:lambda:*:{_ACCOUNT}:function:*",),
    "states:DescribeStateMachine": (f"arn:aws:states:*:{_ACCOUNT}:stateMachine:*",),
    "s3:GetBucketLocation": ("arn:aws:s3:::*",),
    "s3:GetBucketPolicy": ("arn:aws:s3:::*",),
    "sqs:GetQueueAttributes": (f"arn:aws:sqs:*:{_ACCOUNT}:*",),
    "sns:GetTopicAttributes": (f"arn:aws:sns:*:{_ACCOUNT}:*",),
    "kms:GetKeyPolicy": (f"arn:aws:kms:*:{_ACCOUNT}:key/*",),
    "secretsmanager:GetResourcePolicy": (f"arn:aws:secretsmanager:*:{_ACCOUNT}:secret:*",),
    "ecr:DescribeRepositories": (f"arn:aws:ecr:*:{_ACCOUNT}:repository/*",),
    "ecr:GetRepositoryPolicy": (f"arn:aws:ecr:*:{_ACCOUNT}:repository/*",),
}
# Buckets' ARNs name no account: keep the bucket reads to the auditor's account by condition.
_S3_ACCOUNT = {"StringEquals": {"s3:ResourceAccount": _ACCOUNT}}


def features(
    *,
    workloads: Iterable[str],
    resources: Iterable[str],
    access_advisor: bool,
    org: bool,
    regions: bool,
    cloudtrail: bool,
) -> tuple[str, ...]:
    resources = tuple(resources)
    if "lambda" in resources:
        workloads = (*workloads, "lambda")  # function policies need the functions listed first
    out = ["identity", *dict.fromkeys(f"workloads:{w}" for w in workloads), *(f"resources:{r}" for r in resources)]
    out += [
        name
        for name, on in (
            ("access-advisor", access_advisor),
            ("org", org),
            ("regions", regions),
            ("cloudtrail", cloudtrail),
        )
        if on
    ]
    return tuple(out)


def auditor_policy(wanted: Iterable[str] = DEFAULT_FEATURES, role_name: str = "iamlint-audit") -> dict[str, Any]:
    """The smallest policy for these features (see `DEFAULT_FEATURES`)."""
    chosen = set(wanted)
    actions = sorted(
        {a for a, feature in NEEDS.values() if a is not None and feature in chosen and a != "sts:AssumeRole"},
        key=lambda a: (a.split(":")[0], a),
    )
    anywhere = [a for a in actions if a not in SCOPED]
    statements: list[dict[str, Any]] = []
    if anywhere:
        statements.append(
            {"Sid": "ListAndReadActionsThatAcceptOnlyStar", "Effect": "Allow", "Action": anywhere, "Resource": "*"}
        )
    groups: dict[tuple[str, ...], list[str]] = {}
    for action in actions:
        if action in SCOPED:
            groups.setdefault(SCOPED[action], []).append(action)
    for resources, names in groups.items():
        service = names[0].split(":")[0]
        st: dict[str, Any] = {
            "Sid": f"Read{service.capitalize()}InThisAccount",
            "Effect": "Allow",
            "Action": names if len(names) > 1 else names[0],
            "Resource": list(resources) if len(resources) > 1 else resources[0],
        }
        if service == "s3":
            st["Condition"] = _S3_ACCOUNT
        statements.append(st)
    if "org" in chosen:
        # Only the audit role, and only in accounts of the caller's own Organization.
        statements.append(
            {
                "Sid": "AssumeTheAuditRoleInThisOrganization",
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": f"arn:aws:iam::*:role/{role_name}",
                "Condition": {"StringEquals": {"aws:ResourceOrgID": "${aws:PrincipalOrgID}"}},
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}
