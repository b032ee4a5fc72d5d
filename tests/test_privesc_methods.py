"""IAM120 on single privilege-escalation methods: exactly a method's actions on "*" raise it,
and the same grant short of any one required action does not.

Each case spells out its actions here rather than reading rules/data/privesc_methods.yaml, so
an edit to the table that changes what a method needs shows up as a failing case.
"""

from __future__ import annotations

import pytest
from conftest import lint_doc

from iamlint.engine import Engine
from iamlint.model import PolicyKind

# method id -> (actions that are required, one action of each any_of group)
METHODS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "states-create-state-machine-passrole": (("iam:PassRole", "states:CreateStateMachine"), ("states:StartExecution",)),
    "states-update-state-machine": (("states:UpdateStateMachine",), ("states:StartSyncExecution",)),
    "states-test-state-passrole": (("iam:PassRole", "states:TestState"), ()),
    "ssm-create-association": (("ssm:CreateAssociation",), ()),
    "scheduler-schedule-passrole": (("iam:PassRole",), ("scheduler:CreateSchedule",)),
}


def _methods(engine: Engine, actions: list[str]) -> set[str]:
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
    result = lint_doc(engine, doc, PolicyKind.IDENTITY)
    return {f.evidence.notes[0] for f in result.findings if f.rule == "IAM120"}


@pytest.mark.parametrize("method_id", sorted(METHODS))
def test_exactly_the_methods_actions_raise_it(engine: Engine, method_id: str) -> None:
    requires, chosen = METHODS[method_id]
    assert method_id in _methods(engine, [*requires, *chosen])


@pytest.mark.parametrize(
    ("method_id", "missing"),
    [
        (method_id, action)
        for method_id, (requires, chosen) in sorted(METHODS.items())
        for action in (*requires, *chosen)
    ],
)
def test_without_one_action_the_method_is_not_raised(engine: Engine, method_id: str, missing: str) -> None:
    requires, chosen = METHODS[method_id]
    assert method_id not in _methods(engine, [a for a in (*requires, *chosen) if a != missing])
