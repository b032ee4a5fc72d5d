"""Resource policies: who else may use a bucket, queue, topic, key, function, secret or repository.

Read per service named in `--resources` (s3, sqs, sns, kms, lambda, secretsmanager, ecr). S3
lists every bucket once, whatever the regions audited, and reads each policy in the bucket's own
region; the others are read in each audited region. A resource without a policy is not a gap;
a policy that could not be read is, with the resource named.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Any

from iamlint.audit.clients import ClientFactory
from iamlint.audit.coverage import Recorder

SERVICES = ("s3", "sqs", "sns", "kms", "lambda", "secretsmanager", "ecr")
GLOBAL = "global"

Reader = Callable[[ClientFactory, Recorder, str, list[dict[str, Any]]], None]


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def _absent(call: Callable[[], Any], *codes: str) -> Any:
    """The call's result, or None when AWS answers that there is no policy."""
    from botocore.exceptions import ClientError  # type: ignore[import-untyped,unused-ignore]  # noqa: PLC0415 - only live audits get here

    try:
        return call()
    except ClientError as exc:
        if _code(exc) in codes:
            return None
        raise


def _entry(service: str, kind: str, name: str, arn: str, region: str, policy: Any) -> dict[str, Any]:
    """Policies arrive as JSON text; kept as data when they parse, so findings point inside."""
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except (ValueError, RecursionError):  # RecursionError: nested too deep
            pass  # kept as text: the analysis reports it, with why, as a malformed policy (IAM002)
    return {"service": service, "kind": kind, "name": name, "arn": arn, "region": region, "policy": policy}


def read_buckets(factory: ClientFactory, rec: Recorder, out: list[dict[str, Any]], partition: str) -> None:
    names: list[str] = []
    with rec.attempt(GLOBAL, "s3:ListAllMyBuckets"):
        names = [b["Name"] for b in factory.client("s3").list_buckets().get("Buckets", ())]
    for name in names:
        region = factory.region
        with rec.attempt(GLOBAL, "s3:GetBucketLocation", name) as located:
            where = factory.client("s3").get_bucket_location(Bucket=name).get("LocationConstraint")
            # An empty constraint is us-east-1; "EU" is the old name of eu-west-1 (S3 API Reference).
            region = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(where, where)
        if located.failed:
            continue
        s3 = factory.client("s3", region)
        with rec.attempt(region, "s3:GetBucketPolicy", name):
            found = _absent(partial(s3.get_bucket_policy, Bucket=name), "NoSuchBucketPolicy")
            if found is not None:
                out.append(_entry("s3", "bucket", name, f"arn:{partition}:s3:::{name}", region, found["Policy"]))


def _queues(factory: ClientFactory, rec: Recorder, region: str, out: list[dict[str, Any]]) -> None:
    sqs = factory.client("sqs", region)
    urls: list[str] = []
    with rec.attempt(region, "sqs:ListQueues"):
        for page in sqs.get_paginator("list_queues").paginate():
            urls.extend(page.get("QueueUrls", ()))
    for url in urls:
        with rec.attempt(region, "sqs:GetQueueAttributes", url):
            attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy", "QueueArn"])["Attributes"]
            if attrs.get("Policy"):
                arn = attrs.get("QueueArn", url)
                out.append(_entry("sqs", "queue", url.rsplit("/", 1)[-1], arn, region, attrs["Policy"]))


def _topics(factory: ClientFactory, rec: Recorder, region: str, out: list[dict[str, Any]]) -> None:
    sns = factory.client("sns", region)
    arns: list[str] = []
    with rec.attempt(region, "sns:ListTopics"):
        for page in sns.get_paginator("list_topics").paginate():
            arns.extend(t["TopicArn"] for t in page.get("Topics", ()))
    for arn in arns:
        with rec.attempt(region, "sns:GetTopicAttributes", arn):
            attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
            if attrs.get("Policy"):
                out.append(_entry("sns", "topic", arn.rsplit(":", 1)[-1], arn, region, attrs["Policy"]))


def _keys(factory: ClientFactory, rec: Recorder, region: str, out: list[dict[str, Any]]) -> None:
    kms = factory.client("kms", region)
    keys: list[dict[str, Any]] = []
    with rec.attempt(region, "kms:ListKeys"):
        for page in kms.get_paginator("list_keys").paginate():
            keys.extend(page.get("Keys", ()))
    for key in keys:
        with rec.attempt(region, "kms:GetKeyPolicy", key["KeyArn"]):
            policy = kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"]
            out.append(_entry("kms", "key", key["KeyId"], key["KeyArn"], region, policy))


def read_function_policies(
    factory: ClientFactory, rec: Recorder, functions: list[dict[str, Any]], out: list[dict[str, Any]]
) -> None:
    """Lambda resource policies of the functions `workloads` listed."""
    for fn in functions:
        region = fn["region"]
        client = factory.client("lambda", region)
        with rec.attempt(region, "lambda:GetPolicy", fn["arn"]):
            found = _absent(partial(client.get_policy, FunctionName=fn["arn"]), "ResourceNotFoundException")
            if found is not None:
                out.append(_entry("lambda", "function", fn["name"], fn["arn"], region, found["Policy"]))


def _secrets(factory: ClientFactory, rec: Recorder, region: str, out: list[dict[str, Any]]) -> None:
    sm = factory.client("secretsmanager", region)
    secrets: list[dict[str, Any]] = []
    with rec.attempt(region, "secretsmanager:ListSecrets"):
        for page in sm.get_paginator("list_secrets").paginate():
            secrets.extend(page.get("SecretList", ()))
    for secret in secrets:
        with rec.attempt(region, "secretsmanager:GetResourcePolicy", secret["ARN"]):
            policy = sm.get_resource_policy(SecretId=secret["ARN"]).get("ResourcePolicy")
            if policy:
                out.append(_entry("secretsmanager", "secret", secret["Name"], secret["ARN"], region, policy))


def _repositories(factory: ClientFactory, rec: Recorder, region: str, out: list[dict[str, Any]]) -> None:
    ecr = factory.client("ecr", region)
    repos: list[dict[str, Any]] = []
    with rec.attempt(region, "ecr:DescribeRepositories"):
        for page in ecr.get_paginator("describe_repositories").paginate():
            repos.extend(page.get("repositories", ()))
    for repo in repos:
        name = repo["repositoryName"]
        with rec.attempt(region, "ecr:GetRepositoryPolicy", repo["repositoryArn"]):
            found = _absent(
                partial(ecr.get_repository_policy, repositoryName=name), "RepositoryPolicyNotFoundException"
            )
            if found is not None:
                out.append(_entry("ecr", "repository", name, repo["repositoryArn"], region, found["policyText"]))


# Regional readers by --resources name; s3 and lambda are read by their own functions above.
REGIONAL: dict[str, Reader] = {
    "sqs": _queues,
    "sns": _topics,
    "kms": _keys,
    "secretsmanager": _secrets,
    "ecr": _repositories,
}
