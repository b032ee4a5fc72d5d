"""Fuzz target: JSON-like values -> parse_policy -> engine (strict) -> evaluator.

The input is read as JSON when it is JSON, else decoded by `atheris.FuzzedDataProvider` into
a nested value built from IAM's vocabulary, so that mutations reach the parser's and the
rules' branches instead of dying in the tokenizer. `parse_policy` must return a document
and/or problems for any value, the engine must not crash a rule, and `evaluate` must decide
any request. Run: `bench/fuzz/run.sh policy`.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import atheris
from _common import keep_crashes

with atheris.instrument_imports(include=["iamlint"]):
    from iamlint.engine import Engine, LintConfig
    from iamlint.evaluator import Request, evaluate
    from iamlint.policy import parse_policy

    # Inside the block: the engine imports the checks, and containment, lazily.
    ENGINE = Engine(LintConfig(strict=True))
WORDS = (
    "Version",
    "2012-10-17",
    "2008-10-17",
    "Statement",
    "Sid",
    "Effect",
    "Allow",
    "Deny",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Principal",
    "NotPrincipal",
    "Condition",
    "AWS",
    "Service",
    "Federated",
    "*",
    "s3:*",
    "s3:GetObject",
    "iam:PassRole",
    "iam:*User*",
    "arn:aws:s3:::bucket/*",
    "arn:aws:iam::111122223333:role/r",
    "${aws:username}",
    "${*}",
    "StringEquals",
    "StringLike",
    "ForAllValues:StringLike",
    "ForAnyValue:StringEquals",
    "IpAddress",
    "10.0.0.0/8",
    "ArnLike",
    "Bool",
    "NumericLessThan",
    "DateGreaterThan",
    "aws:SourceIp",
    "aws:PrincipalOrgID",
    "s3:prefix",
    "lambda.amazonaws.com",
    "true",
    "?",
    "NullIfExists",
    "StringNotEqualsIfExists",
    "kms:Decrypt",
    "sts:AssumeRole",
    "",
)


def _value(fdp: atheris.FuzzedDataProvider, depth: int) -> Any:
    kind = fdp.ConsumeIntInRange(0, 9 if depth < 6 else 5)
    if kind <= 2:
        return WORDS[fdp.ConsumeIntInRange(0, len(WORDS) - 1)]
    if kind == 3:
        return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 24))
    if kind == 4:
        return fdp.PickValueInList([None, True, False, 0, -1, 10**30, 1.5, float("nan")])
    if kind == 5:
        return fdp.ConsumeInt(4)
    if kind <= 7:
        return {
            WORDS[fdp.ConsumeIntInRange(0, len(WORDS) - 1)]: _value(fdp, depth + 1)
            for _ in range(fdp.ConsumeIntInRange(0, 5))
        }
    return [_value(fdp, depth + 1) for _ in range(fdp.ConsumeIntInRange(0, 5))]


def _document(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        fdp = atheris.FuzzedDataProvider(data)
        return {"Version": "2012-10-17", "Statement": _value(fdp, 0)}


def one_input(data: bytes) -> None:
    raw = _document(data)
    doc, _problems = parse_policy(raw, file="fuzz.json")
    if doc is None:
        return
    ENGINE.run([doc], files=1)
    for action, resource in (("s3:GetObject", "arn:aws:s3:::bucket/key"), ("iam:PassRole", "*")):
        evaluate([doc], Request(action, resource, {"aws:username": ("alice",), "aws:SourceIp": ("10.1.2.3",)}))


def main() -> None:
    atheris.Setup(sys.argv, keep_crashes(one_input))
    atheris.Fuzz()


if __name__ == "__main__":
    main()
