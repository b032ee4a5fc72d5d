"""Resource ARNs of an observed call, from its record and its request parameters.

ARNs come from three places: the record's own `resources[]`, ARN-valued parameters (`topicArn`),
and the catalogue's ARN formats filled in with values from the parameters (`bucketName` and `key`
into `arn:${Partition}:s3:::${BucketName}/${ObjectName}`). Each ARN is then attached to the
actions whose resource types it fits. Only what the evidence shows is built; an unknown value
leaves the resource out rather than guessing.

Parameter names are matched without regard to case, so CloudTrail's `requestParameters`
(`bucketName`, `queueUrl`) and botocore's (`Bucket`, `QueueUrl`) both work.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache, partial
from urllib.parse import unquote, urlsplit

from iamlint.catalog import ActionInfo, Catalog
from iamlint.narrow.calls import Call

Vars = dict[str, list[str]]
_CONTEXT = frozenset({"Partition", "Region", "Account", "OwnerAccount"})
_VAR = re.compile(r"\$\{([^}]+)\}")
_MAX_PER_TEMPLATE = 64
# SQS queue URLs: https://sqs.<region>.amazonaws.com/<acct>/<name>, the legacy
# https://<region>.queue.amazonaws.com/... and https://queue.amazonaws.com/... (us-east-1).
_SQS_HOST = re.compile(r"^(?:sqs\.([a-z0-9-]+)|([a-z0-9-]+)\.queue|queue)\.amazonaws\.com(?:\.cn)?$")


def partition_of(region: str | None, principal: str = "") -> str:
    """The ARN partition: from the caller's ARN when it has one, else from the region."""
    if principal.startswith("arn:"):
        return principal.split(":", 2)[1]
    if region:
        for prefix, partition in (
            ("cn-", "aws-cn"),
            ("us-gov-", "aws-us-gov"),
            ("us-isob-", "aws-iso-b"),
            ("us-iso-", "aws-iso"),
            ("eusc-", "aws-eusc"),
        ):
            if region.startswith(prefix):
                return partition
    return "aws"


def attach_resources(
    call: Call, actions: Sequence[ActionInfo], catalog: Catalog
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """For each action, the ARNs of this call that fit one of its resource types."""
    variables: Vars = {"Partition": [partition_of(call.region, call.principal)]}
    if call.region:
        variables["Region"] = [call.region]
    if call.account:
        variables["Account"] = [call.account]
    if "Account" in variables:  # a resource type AWS also owns instances of (catalog.AWS_OWNED)
        variables["OwnerAccount"] = variables["Account"]
    direct: list[str] = list(call.resources)
    for key, value in call.parameters.items():
        # ARN-valued parameters (topicArn, policyArn, stateMachineArn...): kept only for actions
        # whose ARN formats they fit, so a role ARN passed to CreateFunction is not taken for
        # the function.
        if isinstance(value, str) and value.startswith("arn:") and key.lower().endswith("arn"):
            direct.append(value)
    extractor = _EXTRACTORS.get(call.service)
    if extractor is not None:
        extractor(_Params(call.parameters), variables, direct)
    out: list[tuple[str, tuple[str, ...]]] = []
    for action in actions:
        types = catalog.action_resource_types(action)
        filled = [(set(_VAR.findall(t.arn)), _fill(t.arn, variables)) for t in types]
        found: list[str] = []
        for names, arns in filled:
            # The most specific format wins: with an indexName, Query is authorised on the
            # index ARN, not on the table's.
            if any(names < other for other, more in filled if more):
                continue
            found.extend(a for a in arns if a not in found)
        for rtype in types:
            pattern = _template_regex(rtype.arn)
            found.extend(a for a in direct if a not in found and pattern.fullmatch(a))
        out.append((action.full_name, tuple(found)))
    return tuple(out)


def _fill(template: str, variables: Vars) -> list[str]:
    names = _VAR.findall(template)
    if not names or _CONTEXT.issuperset(names) or any(n not in variables for n in names):
        return []  # only build from what the parameters name, never a bare account ARN
    unique = list(dict.fromkeys(names))
    out: list[str] = []
    for combo in itertools.product(*(variables[n] for n in unique)):
        values = dict(zip(unique, combo, strict=True))
        out.append(_VAR.sub(partial(_value_of, values), template))
        if len(out) >= _MAX_PER_TEMPLATE:
            break
    return out


def _value_of(values: dict[str, str], match: re.Match[str]) -> str:
    return values[match.group(1)]


@lru_cache(maxsize=4096)
def _template_regex(template: str) -> re.Pattern[str]:
    """A regex for concrete ARNs of a catalogue ARN format.

    Variables in the first five fields cannot cross a colon. In the resource part a variable
    takes any run of characters (names may hold `/` and `:`, and a qualified Lambda ARN is an
    ARN of the function), except a bucket name, which never holds `/`: so an object ARN is not
    taken for its bucket's.
    """
    head, _, resource = _split(template)
    parts = [re.escape(p) if not p.startswith("${") else "[^:]*" for p in _tokens(head)]
    for tok in _tokens(resource):
        if not tok.startswith("${"):
            parts.append(re.escape(tok))
        elif tok.endswith("BucketName}"):
            parts.append("[^/]+")
        else:
            parts.append(".+")
    return re.compile("".join(parts))


def _split(template: str) -> tuple[str, str, str]:
    fields = template.split(":", 5)
    if len(fields) < 6:
        return "", "", template
    return ":".join(fields[:5]) + ":", ":", fields[5]


def _tokens(text: str) -> list[str]:
    return [t for t in re.split(r"(\$\{[^}]+\})", text) if t]


class _Params:
    """Case-insensitive access to request parameters."""

    def __init__(self, params: Mapping[str, object]) -> None:
        self._raw = params
        self._lower = {k.lower(): v for k, v in params.items() if isinstance(k, str)}

    def get(self, *names: str) -> object:
        for name in names:
            value = self._raw.get(name)
            if value is None:
                value = self._lower.get(name.lower())
            if value is not None:
                return value
        return None

    def text(self, *names: str) -> str | None:
        value = self.get(*names)
        return value if isinstance(value, str) and value else None

    def texts(self, *names: str) -> list[str]:
        value = self.get(*names)
        if isinstance(value, str) and value:
            return [value]
        if isinstance(value, list):
            return [v for v in value if isinstance(v, str) and v]
        return []


def _add(variables: Vars, name: str, values: Iterable[str]) -> None:
    for value in values:
        bucket = variables.setdefault(name, [])
        if value not in bucket:
            bucket.append(value)


def _name_or_arn(value: str, name: str, variables: Vars, direct: list[str]) -> None:
    if value.startswith("arn:"):
        direct.append(value)
    else:
        _add(variables, name, [value])


# -- per-service parameter extractors -------------------------------------------------------


def _s3(p: _Params, v: Vars, direct: list[str]) -> None:
    _add(v, "BucketName", p.texts("bucketName", "Bucket"))
    _add(v, "ObjectName", p.texts("key"))
    direct.extend(_copy_source(p, v["Partition"][0]))


def _copy_source(p: _Params, partition: str) -> list[str]:
    """The ARN of the object an S3 copy reads: "bucket/key?versionId=..." (URL-encoded)."""
    source = p.text("x-amz-copy-source", "CopySource")
    path = unquote(source.split("?", 1)[0]).lstrip("/") if source else ""
    return [f"arn:{partition}:s3:::{path}"] if "/" in path else []


def copy_objects(call: Call) -> tuple[list[str], list[str]]:
    """The ARNs of the objects an S3 copy (CopyObject, UploadPartCopy) reads and writes, as `_s3`
    finds them, so that the actions authorised on each can be told apart."""
    p, partition = _Params(call.parameters), partition_of(call.region, call.principal)
    written = [
        f"arn:{partition}:s3:::{bucket}/{key}"
        for bucket in p.texts("bucketName", "Bucket")
        for key in p.texts("key", "Key")
    ]
    return _copy_source(p, partition), written


def _dynamodb(p: _Params, v: Vars, direct: list[str]) -> None:
    for table in p.texts("tableName", "TableName"):
        _name_or_arn(table, "TableName", v, direct)
    items = p.get("requestItems")
    if isinstance(items, Mapping):  # BatchGetItem / BatchWriteItem: keyed by table
        for table in items:
            if isinstance(table, str):
                _name_or_arn(table, "TableName", v, direct)
    transact = p.get("transactItems")
    if isinstance(transact, list):
        for item in transact:
            for op in item.values() if isinstance(item, Mapping) else ():
                name = _Params(op).text("tableName") if isinstance(op, Mapping) else None
                if name:
                    _name_or_arn(name, "TableName", v, direct)
    _add(v, "IndexName", p.texts("indexName"))


def _sqs(p: _Params, v: Vars, direct: list[str]) -> None:
    url = p.text("queueUrl")
    if not url:
        return
    parts = urlsplit(url)
    path = [s for s in parts.path.split("/") if s]
    match = _SQS_HOST.match(parts.hostname or "")
    if len(path) != 2 or not match:
        return
    region = match.group(1) or match.group(2) or ("us-east-1" if not v.get("Region") else None)
    if region:
        v["Region"] = [region]
    v["Account"], v["QueueName"] = [path[0]], [path[1]]


def _sns(p: _Params, v: Vars, direct: list[str]) -> None:
    for arn in p.texts("topicArn", "targetArn", "resourceArn"):
        if arn.startswith("arn:"):
            direct.append(arn)
    _add(v, "TopicName", p.texts("name", "Name"))  # CreateTopic names the topic it makes


def _lambda(p: _Params, v: Vars, direct: list[str]) -> None:
    name = p.text("functionName")
    if not name:
        return
    qualifier = p.text("qualifier")
    if name.startswith("arn:"):  # arn:aws:lambda:<region>:<acct>:function:<name>[:<qualifier>]
        direct.append(f"{name}:{qualifier}" if qualifier and name.count(":") == 6 else name)
        return
    fields = name.split(":")
    if len(fields) >= 3 and fields[1] == "function":  # partial ARN: 123456789012:function:f
        v["Account"] = [fields[0]]
        fields = fields[2:]
    # A qualified invocation is authorised on the qualified ARN (function:f:alias), which the
    # catalogue's function format covers when FunctionName carries the qualifier.
    suffix = fields[1] if len(fields) > 1 else qualifier
    _add(v, "FunctionName", [f"{fields[0]}:{suffix}" if suffix else fields[0]])


def _ssm(p: _Params, v: Vars, direct: list[str]) -> None:
    for name in p.texts("name") + p.texts("names"):
        if name.startswith("arn:"):
            direct.append(name)
        else:
            # The ARN holds the name without its leading slash (SSM User Guide, "Working with
            # parameter hierarchies"): /app/db -> parameter/app/db, app -> parameter/app.
            _add(v, "ParameterNameWithoutLeadingSlash", [name.removeprefix("/")])


def _secretsmanager(p: _Params, v: Vars, direct: list[str]) -> None:
    for secret in p.texts("secretId", "SecretId") + p.texts("secretIdList"):
        if secret.startswith("arn:"):
            direct.append(secret)
        else:
            # A secret's ARN ends in "-" and six random characters; a policy names a secret by
            # name with `-??????` (Secrets Manager User Guide, "Permissions reference").
            _add(v, "SecretId", [f"{secret}-??????"])


def _kms(p: _Params, v: Vars, direct: list[str]) -> None:
    for key in p.texts("keyId", "KeyId", "targetKeyId", "destinationKeyId"):
        if key.startswith("arn:"):
            direct.append(key)
        elif key.startswith("alias/"):
            _add(v, "Alias", [key.removeprefix("alias/")])
        else:
            _add(v, "KeyId", [key])
    for alias in p.texts("aliasName"):
        _add(v, "Alias", [alias.removeprefix("alias/")])


def _kinesis(p: _Params, v: Vars, direct: list[str]) -> None:
    _add(v, "StreamName", p.texts("streamName"))
    direct.extend(a for a in p.texts("streamARN") if a.startswith("arn:"))


def _logs(p: _Params, v: Vars, direct: list[str]) -> None:
    _add(v, "LogGroupName", p.texts("logGroupName"))
    _add(v, "LogStreamName", p.texts("logStreamName"))
    for ident in p.texts("logGroupIdentifier", "logGroupArn"):
        # A log group's ARN as DescribeLogGroups shows it ends in ":*"; IAM matches without it.
        _name_or_arn(ident.removesuffix(":*"), "LogGroupName", v, direct)


def _states(p: _Params, v: Vars, direct: list[str]) -> None:
    for arn in p.texts("stateMachineArn", "executionArn", "activityArn", "mapRunArn"):
        if arn.startswith("arn:"):
            direct.append(arn)


def _events(p: _Params, v: Vars, direct: list[str]) -> None:
    buses = p.texts("eventBusName")
    entries = p.get("entries")
    if isinstance(entries, list):  # PutEvents: each entry names its bus, else "default"
        for entry in entries:
            bus = _Params(entry).text("eventBusName") if isinstance(entry, Mapping) else None
            buses.append(bus or "default")
    for bus in buses:
        _name_or_arn(bus, "EventBusName", v, direct)


_EXTRACTORS: dict[str, Callable[[_Params, Vars, list[str]], None]] = {
    "s3": _s3,
    "dynamodb": _dynamodb,
    "sqs": _sqs,
    "sns": _sns,
    "lambda": _lambda,
    "ssm": _ssm,
    "secretsmanager": _secretsmanager,
    "kms": _kms,
    "kinesis": _kinesis,
    "logs": _logs,
    "states": _states,
    "events": _events,
}
