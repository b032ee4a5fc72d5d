"""Rule logic, bound to rule ids: each check is a pure function that yields hits.

A check never renders a message or decides a final severity: it says where (a location and a
statement), with which message arguments and evidence. The engine turns hits into findings.

A rule's `scope` in its YAML file says what its check receives: `document` checks get one
`PolicyDocument`; `principal` checks get one `iamlint.principals.Principal` (every policy that
applies to one role, user or group of the run, with its trust policy and boundary).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, Concatenate, ParamSpec, TypeVar

from iamlint.catalog import Catalog
from iamlint.model import Evidence, Location, PolicyDocument, Severity, Statement


@dataclass(frozen=True, slots=True)
class Hit:
    loc: Location
    statement: Statement | None = None
    args: Mapping[str, object] = field(default_factory=dict)
    evidence: Evidence = field(default_factory=Evidence)
    severity: Severity | None = None  # overrides the rule's default when the check knows better
    lowered: int = 0  # levels below that severity (the grant is narrowed, so less is at stake)


@dataclass(slots=True)
class RuleContext:
    catalog: Catalog
    settings: Mapping[str, Any] = field(default_factory=dict)
    # Answers that hold for the whole run: tables read from rules/data, catalogue queries.
    cache: dict[object, Any] = field(default_factory=dict)
    # Answers about what is being checked: about a statement or principal (keyed by its id,
    # stored with the object itself to guard against a reused id), and anything derived from
    # this check's model (expansions of its action lists, the current principal's grants).
    # Emptied after each `Engine.check`, so that a worker's batches, or an audit's reports, do
    # not carry the last batch's model and its derived tables.
    subjects: dict[object, Any] = field(default_factory=dict)


_S = TypeVar("_S")
_R = TypeVar("_R")
_P = ParamSpec("_P")


def per_subject(fn: Callable[Concatenate[RuleContext, _S, _P], _R]) -> Callable[Concatenate[RuleContext, _S, _P], _R]:
    """`fn(ctx, subject, ...)` worked out once per subject (a statement, a document) until the
    engine empties `ctx.subjects`: the answer must depend on nothing but the subject and the
    run's settings (further arguments may help work it out, never change it).

    Answers are kept by the subject's id, and the subjects themselves in a list beside them: an
    id is reused once its object dies, and a kept subject cannot die. One table per function,
    not a (function, id) key and a (subject, answer) pair per answer: a large account's rules
    keep tens of thousands of answers, and those two tuples were most of their memory."""
    name = f"{fn.__module__}.{fn.__qualname__}"

    @wraps(fn)
    def cached(ctx: RuleContext, subject: _S, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        table = ctx.subjects.get(name)
        if table is None:
            table = ctx.subjects[name] = ByIdentity()
        key = id(subject)
        found = table.get(key, _MISSING)
        if found is not _MISSING:
            return found  # type: ignore[no-any-return]
        return table.put(subject, fn(ctx, subject, *args, **kwargs))  # type: ignore[no-any-return]

    return cached


_MISSING = object()


class ByIdentity(dict[int, Any]):
    """Answers by their subject's id, with the subjects beside them (`per_subject`, and the
    engine's statement signatures): an id is reused once its object dies, and a kept subject
    cannot die. A list beside the table rather than a (subject, answer) pair per entry: a large
    account keeps tens of thousands of answers."""

    __slots__ = ("kept",)

    def __init__(self) -> None:
        super().__init__()
        self.kept: list[object] = []

    def put(self, subject: object, answer: Any) -> Any:
        self[id(subject)] = answer
        self.kept.append(subject)
        return answer

    def clear(self) -> None:
        super().clear()
        self.kept.clear()


# What only document rules ask, dropped by `document_rules_done` before the principal rules
# run, when a large account's memory peaks: tables in `ctx.subjects` (by name) and
# `functools.lru_cache` functions. Anything dropped is worked out again if asked for later.
_DOCUMENT_ANSWERS: set[str] = set()
_DOCUMENT_CACHES: list[Callable[[], None]] = []
_F = TypeVar("_F", bound=Callable[..., Any])


def for_document_rules(fn: _F) -> _F:
    """Mark a `functools.lru_cache` function as asked by document rules only (see
    `document_rules_done`); for answers about statements, see `per_action_list`."""
    _DOCUMENT_CACHES.append(fn.cache_clear)  # type: ignore[attr-defined]
    return fn


def per_action_list(
    name: str,
) -> Callable[[Callable[[RuleContext, Statement], _R]], Callable[[RuleContext, Statement], _R]]:
    """`fn(ctx, st)` worked out once per Action/NotAction list, for document rules only: the
    answer must depend on nothing but the statement's action key and entries, so statements
    listing the same ones share it (an account repeats a policy's lists in many documents).
    Kept in `ctx.subjects` under `name` and dropped by `document_rules_done`."""
    _DOCUMENT_ANSWERS.add(name)

    def decorate(fn: Callable[[RuleContext, Statement], _R]) -> Callable[[RuleContext, Statement], _R]:
        @wraps(fn)
        def cached(ctx: RuleContext, st: Statement) -> _R:
            table = ctx.subjects.get(name)
            if table is None:
                table = ctx.subjects[name] = {}
            key = (st.action_key, st.action_texts)
            found = table.get(key, _MISSING)
            if found is _MISSING:
                found = table[key] = fn(ctx, st)
            return found  # type: ignore[no-any-return]

        return cached

    return decorate


def document_rules_done(ctx: RuleContext) -> None:
    """Drop the answers only document rules use: the engine calls this between the document
    and the principal rules of a check."""
    for name in _DOCUMENT_ANSWERS:
        ctx.subjects.pop(name, None)
    for clear in _DOCUMENT_CACHES:
        clear()


DocumentCheck = Callable[[RuleContext, PolicyDocument], Iterable[Hit]]
# (ctx, subject): the subject is a PolicyDocument or a Principal, as the rule's scope says.
Check = Callable[[RuleContext, Any], Iterable[Hit]]
_C = TypeVar("_C", bound=Check)

REGISTRY: dict[str, Check] = {}
# Document checks whose hits follow from the document's content alone (see `check`).
PURE: set[str] = set()


def check(rule_id: str, *, pure: bool = False) -> Callable[[_C], _C]:
    """Register the logic of rule `rule_id` (its YAML file holds everything else).

    `pure=True` declares that a document check reads nothing of the document but its kind,
    version and statements: not its source, name or file. The engine then checks each
    distinct content of a file once and gives identical documents (a role's trust policy
    repeated for every role of a template, an inline policy copied into a hundred roles) the
    same hits, moved to their own place. A pure check is handed the document without its
    source and name, and `tests/test_pure_checks.py` verifies that nothing it calls reads them.
    """

    def register(fn: _C) -> _C:
        if rule_id in REGISTRY:
            raise RuntimeError(f"rule {rule_id} has two checks: {REGISTRY[rule_id]} and {fn}")
        REGISTRY[rule_id] = fn
        if pure:
            PURE.add(rule_id)
        return fn

    return register


def load_all() -> dict[str, Check]:
    """Import every check module so that each registers its rules."""
    from iamlint.checks import (  # noqa: F401, PLC0415 - imported to register their checks
        conditions,
        escalation,
        grants,
        guardrails,
        hygiene,
        resource_policies,
        risk,
        structure,
        trust,
        usage,
        validity,
    )

    return REGISTRY
