"""Rule logic, bound to rule ids: each check is a pure function that yields hits.

A check never renders a message or decides a final severity: it says where (a location and a
statement), with which message arguments and evidence. The engine turns hits into findings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from iamlint.catalog import Catalog
from iamlint.model import Evidence, Location, PolicyDocument, Severity, Statement


@dataclass(frozen=True, slots=True)
class Hit:
    loc: Location
    statement: Statement | None = None
    args: Mapping[str, object] = field(default_factory=dict)
    evidence: Evidence = field(default_factory=Evidence)
    severity: Severity | None = None  # overrides the rule's default when the check knows better


@dataclass(slots=True)
class RuleContext:
    catalog: Catalog
    settings: Mapping[str, Any] = field(default_factory=dict)
    cache: dict[object, Any] = field(default_factory=dict)


DocumentCheck = Callable[[RuleContext, PolicyDocument], Iterable[Hit]]

REGISTRY: dict[str, DocumentCheck] = {}


def check(rule_id: str) -> Callable[[DocumentCheck], DocumentCheck]:
    """Register the logic of rule `rule_id` (its YAML file holds everything else)."""

    def register(fn: DocumentCheck) -> DocumentCheck:
        if rule_id in REGISTRY:
            raise RuntimeError(f"rule {rule_id} has two checks: {REGISTRY[rule_id]} and {fn}")
        REGISTRY[rule_id] = fn
        return fn

    return register


def load_all() -> dict[str, DocumentCheck]:
    """Import every check module so that each registers its rules."""
    from iamlint.checks import grants, validity  # noqa: F401, PLC0415 - imported to register

    return REGISTRY
