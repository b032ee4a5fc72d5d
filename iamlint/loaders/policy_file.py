"""Bare policy documents: one document, a list of documents, or a map of names to documents.

Also the shapes the AWS CLI prints for a single policy (`get-policy-version`,
`get-role-policy` and friends), so that `aws iam ... > policy.json` can be checked as is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from iamlint.loaders import LoadResult, marker_for
from iamlint.loaders.located import Located
from iamlint.model import InputError, PolicyKind, Source
from iamlint.policy import Path, looks_like_policy, parse_policy

# AWS CLI output that wraps one document: key path to the document.
_CLI_WRAPPERS: tuple[tuple[str, ...], ...] = (
    ("PolicyVersion", "Document"),  # aws iam get-policy-version
    ("PolicyDocument",),  # get-role-policy, get-user-policy, get-group-policy
    ("Policy",),  # some resource-policy getters return {"Policy": {...}}
    ("Role", "AssumeRolePolicyDocument"),  # aws iam get-role: the trust policy
)
# AWS CLI output that holds one resource policy as a JSON string: `aws s3api get-bucket-policy`,
# `kms get-key-policy`, `lambda get-policy` ({"Policy": "..."}), `secretsmanager
# get-resource-policy` ({"ResourcePolicy": "..."}), `sqs get-queue-attributes` and `sns
# get-topic-attributes` ({"Attributes": {"Policy": "..."}}), `ecr get-repository-policy`
# ({"policyText": "..."}). Its elements are located at the string.
_STRING_WRAPPERS: tuple[tuple[str, ...], ...] = (
    ("Policy",),
    ("ResourcePolicy",),
    ("Attributes", "Policy"),
    ("policyText",),
)


def is_policy_shape(data: object) -> bool:
    """True when `data` holds one or more policy documents in a shape this loader reads."""
    return _documents(data) is not None


def _documents(data: object) -> list[tuple[object, Path, str | None]] | None:
    if looks_like_policy(data) or _statementless_policy(data):
        return [(data, (), None)]
    if isinstance(data, list) and data and all(looks_like_policy(d) for d in data):
        return [(d, (i,), f"[{i}]") for i, d in enumerate(data)]
    if isinstance(data, Mapping) and data:
        for wrapper in _CLI_WRAPPERS:
            node: object = data
            for key in wrapper:
                node = node.get(key) if isinstance(node, Mapping) else None
            if looks_like_policy(node):
                return [(node, wrapper, None)]
        for wrapper in _STRING_WRAPPERS:
            node = data
            for key in wrapper:
                node = node.get(key) if isinstance(node, Mapping) else None
            if isinstance(node, str) and node.lstrip().startswith("{"):
                try:
                    inner = json.loads(node)
                except (ValueError, RecursionError):
                    continue  # not a policy after all; the shape is reported as unknown
                if looks_like_policy(inner):
                    return [(inner, wrapper, None)]
        if all(looks_like_policy(v) for v in data.values()):
            return [(v, (str(k),), str(k)) for k, v in data.items()]
    return None


def _statementless_policy(data: object) -> bool:
    """A document with a policy Version but no Statement: a policy that lost its statements.

    Read as a policy so that the parser reports the missing Statement (a malformed policy),
    rather than as an unknown input shape.
    """
    return (
        isinstance(data, Mapping)
        and data.get("Version") in ("2012-10-17", "2008-10-17")
        and set(data) <= {"Version", "Id"}
    )


def describe_shape(data: object) -> str:
    if isinstance(data, Mapping):
        keys = ", ".join(list(map(str, data))[:5])
        return f"an object with keys {keys}" if keys else "an empty object"
    if isinstance(data, list):
        return f"a list of {len(data)} items" if data else "an empty list"
    return f"a {type(data).__name__} value"


def load_policy_file(located: Located, explicit: bool = True) -> LoadResult:
    result = LoadResult(files=1)
    docs = _documents(located.data)
    if docs is None:
        if explicit:
            result.errors.append(
                InputError(
                    file=located.file,
                    message=(
                        "unknown input shape: expected a policy document (an object with "
                        "Statement), a list of documents, a map of names to documents, a "
                        f"CloudFormation/SAM template or an authorization-details dump; found "
                        f"{describe_shape(located.data)}"
                    ),
                    line=1,
                    column=1,
                )
            )
        else:
            result.skipped.append(located.file)
        return result
    marker = marker_for(located)
    for raw, base, name in docs:
        source = Source(kind="file", name=located.file if name is None else f"{located.file}{_suffix(name)}")
        doc, problems = parse_policy(
            raw,
            file=located.file,
            base=base,
            marker=marker,
            kind=PolicyKind.UNKNOWN,
            source=source,
            name=name,
        )
        result.problems.extend(problems)
        if doc is not None:
            result.documents.append(doc)
    return result


def _suffix(name: str) -> str:
    return name if name.startswith("[") else f"#{name}"
