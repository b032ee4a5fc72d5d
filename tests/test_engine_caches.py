"""What rules derive about statements and principals: shared while a check runs, dropped after.

`RuleContext.subjects` holds answers keyed by a statement's or principal's id. They are shared
by every principal holding a statement (a managed policy attached to hundreds of roles), and
emptied after each `Engine.check`, so that a worker's later batches, or an audit's reports,
do not keep the model of what was checked before alive.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from iamlint.checks import conditions, grants, hygiene, load_all
from iamlint.checks.effective import Effective
from iamlint.engine import Engine, LintConfig
from iamlint.loaders.cloudformation import load_template
from iamlint.loaders.located import parse_any
from iamlint.principals import build_principals

TEMPLATE = {
    "Resources": {
        "Shared": {
            "Type": "AWS::IAM::ManagedPolicy",
            "Properties": {
                "Roles": [{"Ref": "A"}, {"Ref": "B"}],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": ["s3:*"], "Resource": "*"}],
                },
            },
        },
        **{
            name: {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "lambda.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    }
                },
            }
            for name in ("A", "B")
        },
    }
}


def _documents() -> list[Any]:
    return load_template(parse_any(json.dumps(TEMPLATE, indent=1), "template.json")).documents


def test_holders_of_one_statement_share_its_reach() -> None:
    engine = Engine(LintConfig(strict=True))
    roles = [p for p in build_principals(_documents()) if p.kind == "role"]
    assert sorted(p.name for p in roles) == ["A", "B"]
    action = engine.ctx.catalog.action("s3:PutBucketPolicy")
    assert action is not None
    first, second = (Effective(engine.ctx, p).best(action) for p in roles)
    assert first is not None and first is second  # worked out once, for both roles


def test_answers_about_subjects_are_dropped_after_a_check(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = Engine(LintConfig(strict=True))
    seen: list[int] = []
    checks = load_all()
    original = checks["IAM122"]

    def watching(ctx: Any, principal: Any) -> Any:
        yield from original(ctx, principal)
        seen.append(len(ctx.subjects))

    monkeypatch.setitem(checks, "IAM122", watching)
    findings, _ = engine.check(_documents())
    assert any(f.rule == "IAM122" for f in findings)
    assert seen and max(seen) > 0  # the rules did keep answers while the check ran
    assert engine.ctx.subjects == {}


def test_answers_only_document_rules_ask_for_are_dropped_before_principal_rules(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An account's memory peaks during the principal rules: the tables only document rules read
    # (condition keys per Action list, resource types per service, hygiene's entry index) must
    # be gone by then, and a later question is answered again, the same way.
    engine = Engine(LintConfig(strict=True))
    at_principal_rules: list[set[object]] = []
    entries_cached: list[int] = []
    checks = load_all()
    original = checks["IAM122"]

    def watching(ctx: Any, principal: Any) -> Any:
        at_principal_rules.append(set(ctx.subjects))
        entries_cached.append(hygiene._entries.cache_info().currsize)
        yield from original(ctx, principal)

    monkeypatch.setitem(checks, "IAM122", watching)
    documents = _documents()
    shared = next(d for d in documents if d.statements and d.statements[0].action_texts == ("s3:*",))
    statement = shared.statements[0]
    before = (conditions._statement_keys(engine.ctx, statement), grants._types_by_service(engine.ctx, statement))
    assert {"conditions.statement_keys", "grants.types_by_service"} <= set(engine.ctx.subjects)
    findings, _ = engine.check(documents)
    assert any(f.rule == "IAM122" for f in findings)
    assert at_principal_rules and entries_cached
    for names in at_principal_rules:
        assert "conditions.statement_keys" not in names and "grants.types_by_service" not in names
        assert "iamlint.checks.scope.grant" in names  # what principal rules share is kept
    assert entries_cached == [0] * len(entries_cached)
    after = (conditions._statement_keys(engine.ctx, statement), grants._types_by_service(engine.ctx, statement))
    assert after[0][1:] == before[0][1:] and after[1] == before[1]
    assert after[0][0] is not before[0][0]  # worked out again, not kept through the check
