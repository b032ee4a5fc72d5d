"""Shared helpers for the test suite: lint a document in-process, find fixtures."""

from __future__ import annotations

import gc
import json
import os
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from iamlint.engine import Engine, LintConfig, LintResult
from iamlint.model import PolicyKind
from iamlint.policy import parse_policy

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"

# Regenerate golden files with: IAMLINT_UPDATE_GOLDEN=1 make test
UPDATE_GOLDEN = os.environ.get("IAMLINT_UPDATE_GOLDEN") == "1"


@pytest.fixture(scope="session")
def engine() -> Engine:
    return Engine(LintConfig(strict=True))


def lint_doc(engine: Engine, doc: object, kind: PolicyKind = PolicyKind.UNKNOWN) -> LintResult:
    parsed, problems = parse_policy(doc, file="test.json", kind=kind)
    return engine.run([parsed] if parsed is not None else [], problems)


def lint_template(engine: Engine, template: object, file: str = "template.json") -> LintResult:
    """Lint a CloudFormation template given as data, through the template loader."""
    from iamlint.loaders.cloudformation import load_template
    from iamlint.loaders.located import parse_any

    loaded = load_template(parse_any(json.dumps(template, indent=1), file))
    return engine.run(loaded.documents, loaded.problems, loaded.errors)


def rule_ids(result: LintResult) -> set[str]:
    return {f.rule for f in result.findings}


def check_golden(path: Path, actual: str) -> None:
    if UPDATE_GOLDEN or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual)
        if not UPDATE_GOLDEN:
            pytest.fail(f"golden file {path} was missing and has been written; review and commit it")
    assert actual == path.read_text(), f"output differs from {path}; IAMLINT_UPDATE_GOLDEN=1 regenerates"


def sam_with_trail(
    tmp_path: Path, policies: str, records: list[dict[str, Any]], parameters: str = ""
) -> tuple[Path, Path]:
    """A SAM template of one function, Fn, with these `Policies` lines, and a CloudTrail file."""
    template = tmp_path / "template.yaml"
    template.write_text(
        'AWSTemplateFormatVersion: "2010-09-09"\nTransform: AWS::Serverless-2016-10-31\n'
        + parameters
        + "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      FunctionName: fn\n"
        "      Handler: app.handler\n      Runtime: python3.12\n      CodeUri: src/\n      Policies:\n"
        + "".join(f"        {line}\n" for line in policies.strip("\n").splitlines())
    )
    trail = tmp_path / "ct.json"
    trail.write_text(json.dumps({"Records": records}))
    return template, trail


def narrow_fn(template: Path, trail: Path, *extra: str) -> Any:
    """`iamlint narrow` of function Fn from the trail, without a workload's unobservable grants."""
    from click.testing import CliRunner

    from iamlint.cli import cli

    return CliRunner().invoke(
        cli, ["narrow", str(template), "--function", "Fn", "--cloudtrail", str(trail), "--workload", "none", *extra]
    )


# The function Fn's role, as the narrowing tests' records and calls name it.
FN_ACCOUNT = "111122223333"


def fn_record(
    source: str, name: str, params: dict[str, Any], region: str = "eu-west-1", error: str | None = None, **extra: Any
) -> dict[str, Any]:
    """A CloudTrail record of a call Fn made with its role (`fn-role`, session `fn`)."""
    rec: dict[str, Any] = {
        "eventVersion": "1.09",
        "eventTime": "2024-05-01T10:00:00Z",
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "requestParameters": params,
        "recipientAccountId": FN_ACCOUNT,
        "eventType": "AwsApiCall",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": "AROAX:fn",
            "accountId": FN_ACCOUNT,
            "arn": f"arn:aws:sts::{FN_ACCOUNT}:assumed-role/fn-role/fn",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "accountId": FN_ACCOUNT,
                    "arn": f"arn:aws:iam::{FN_ACCOUNT}:role/fn-role",
                }
            },
        },
        **extra,
    }
    if error:
        rec["errorCode"], rec["errorMessage"] = error, "x"
    return rec


def fn_call(service: str, op: str, params: dict[str, Any], error: str | None = None) -> Any:
    """The same call, as the narrower reads it (`iamlint.narrow.calls.Call`)."""
    from iamlint.narrow.calls import Call

    return Call(
        service=service,
        operation=op,
        principal=f"arn:aws:sts::{FN_ACCOUNT}:assumed-role/fn-role/fn",
        role_arn=f"arn:aws:iam::{FN_ACCOUNT}:role/fn-role",
        session_name="fn",
        time="2024-05-01T10:00:00Z",
        region="eu-west-1",
        resources=(),
        parameters=params,
        error=error,
        event_source=f"{service}.amazonaws.com",
        account=FN_ACCOUNT,
    )


def proposal_statements(result: Any) -> list[dict[str, Any]]:
    """The Statement list of the proposal `iamlint narrow` printed (JSON, before its report)."""
    text = result.stdout
    return list(json.loads(text[: text.rindex("}") + 1])["Statement"])


def reachable(root: object, wanted: Callable[[object], bool]) -> list[object]:
    """The objects reachable from `root` that `wanted` holds for (not looked into further),
    followed through closures but not through modules, classes or a function's globals: what
    a result still keeps alive."""
    seen: set[int] = set()
    stack, found = [root], []
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if wanted(obj):
            found.append(obj)
        elif isinstance(obj, types.FunctionType):
            for cell in obj.__closure__ or ():
                try:
                    stack.append(cell.cell_contents)
                except ValueError:  # an empty cell
                    pass
        elif not isinstance(obj, (type, types.ModuleType)):
            stack.extend(gc.get_referents(obj))
    return found
