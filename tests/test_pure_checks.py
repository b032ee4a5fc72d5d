"""Pure document checks: declared to read only a document's content, checked once per content.

The engine gives documents of equal content the hits of the first one, moved to their own
place (`iamlint.engine._Checked`). That is only right if the check really reads nothing else,
so this file verifies the declaration two ways: statically, nothing a pure check can call reads
a document's source, file or construct; and by result, a run that shares hits reports exactly
what a run that checks every document reports.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import FIXTURES

from iamlint import engine as engine_module
from iamlint.checks import PURE, load_all
from iamlint.engine import Engine, LintConfig
from iamlint.loaders.cloudformation import load_template
from iamlint.loaders.located import parse_any
from iamlint.ruleset import load_builtin_rules

# Attributes that tell documents of equal content apart: what a pure check must never read.
CONTEXT_ATTRIBUTES = frozenset(
    {
        "source",
        "file",
        "logical_id",
        "construct_path",
        "marker",
        "locate",
        "used_by",
        "attached_to",
        "policy_name",
    }
)
REPEATED = FIXTURES / "sources" / "cfn" / "repeated-policies.yaml"
load_all()  # registers every check, and so fills PURE, before the tests are collected


def _functions_reached(fn: Callable[..., Any]) -> dict[str, types.FunctionType]:
    """The iamlint functions `fn` can call by name, followed transitively: module globals
    (unwrapped from `lru_cache`), functions of the iamlint modules it names (`globs.split_arn`),
    and every method of an iamlint class it names. Calls through an object's attributes
    (`ctx.catalog.expand`) are not followed: those objects are not the document."""
    seen: dict[str, types.FunctionType] = {}
    todo: list[Any] = [fn]
    while todo:
        f = inspect.unwrap(todo.pop()) if callable(todo[-1]) else todo.pop()
        if not isinstance(f, types.FunctionType) or f"{f.__module__}.{f.__qualname__}" in seen:
            continue
        seen[f"{f.__module__}.{f.__qualname__}"] = f
        names = set(_names(f.__code__))
        modules = [
            m
            for n in names
            if isinstance(m := f.__globals__.get(n), types.ModuleType) and m.__name__.startswith("iamlint")
        ]
        for name in names:
            for obj in (f.__globals__.get(name), *(getattr(m, name, None) for m in modules)):
                if _iamlint(obj) and isinstance(obj, type):
                    for member in vars(obj).values():
                        target = member.fget if isinstance(member, property) else member
                        if isinstance(target, (staticmethod, classmethod)):
                            target = target.__func__
                        todo.append(target)
                elif _iamlint(obj) and callable(obj):
                    todo.append(obj)
    return seen


def _iamlint(obj: object) -> bool:
    return str(getattr(obj, "__module__", "") or "").startswith("iamlint")


def _names(code: types.CodeType) -> Iterator[str]:
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _names(const)


def test_pure_checks_are_document_checks() -> None:
    rules = load_builtin_rules()
    assert PURE, "no check is declared pure"
    assert sorted(r for r in PURE if rules[r].scope != "document") == []


@pytest.mark.parametrize("rule_id", sorted(PURE))
def test_a_pure_check_reads_nothing_but_content(rule_id: str) -> None:
    reads = {
        name: attr
        for name, f in _functions_reached(load_all()[rule_id]).items()
        for attr in set(_names(f.__code__)) & CONTEXT_ATTRIBUTES
    }
    assert reads == {}, f"{rule_id} is declared pure but reads context: {reads}"


def test_the_static_check_sees_through_helpers() -> None:
    # A known context check must be caught, through its helper (`_role_account`).
    reached = _functions_reached(load_all()["IAM151"])
    assert any("source" in _names(f.__code__) for f in reached.values())


def _findings(monkeypatch: pytest.MonkeyPatch | None, share: bool) -> list[tuple[object, ...]]:
    if monkeypatch is not None and not share:
        monkeypatch.setattr(engine_module, "_repeated_contents", lambda docs: {})
    loaded = load_template(parse_any(REPEATED.read_bytes(), str(REPEATED)))
    result = Engine(LintConfig(strict=True)).run(loaded.documents, loaded.problems, loaded.errors)
    return [
        (
            f.rule,
            f.location.line,
            f.location.column,
            f.location.keys,
            f.location.logical_id,
            f.message,
            f.severity,
            f.source,
            f.evidence,
            f.statement_index,
            f.signature,
        )
        for f in result.findings
    ]


def test_shared_hits_equal_hits_checked_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    shared = _findings(None, share=True)
    with monkeypatch.context() as m:
        alone = _findings(m, share=False)
    assert shared == alone
    # Each copy reports at its own lines, under its own role.
    by_role: dict[str, list[int]] = {}
    for f in shared:
        if f[0] == "IAM105":
            by_role.setdefault(str(f[4]), []).append(int(f[1]))  # type: ignore[arg-type]
    assert sorted(by_role) == ["ReaderA", "ReaderB", "ReaderC", "Shaped"]
    assert len({lines[0] for lines in by_role.values()}) == 4


def test_equal_documents_are_checked_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    checks = load_all()
    original = checks["IAM105"]

    def counting(ctx: Any, doc: Any) -> Any:
        assert doc.source is None and doc.name is None  # a pure check sees the content only
        calls.append(doc.kind.value)
        return original(ctx, doc)

    monkeypatch.setitem(checks, "IAM105", counting)
    _findings(None, share=True)
    # Four trust policies (one content) and four inline policies: three equal, and one of
    # another shape (a string where the others have a list), so checked on its own.
    assert sorted(calls) == ["identity", "identity", "trust"]


def test_content_keys_tell_shapes_apart() -> None:
    loaded = load_template(parse_any(REPEATED.read_bytes(), str(REPEATED)))
    inline = [d for d in loaded.documents if d.kind.value == "identity"]
    keys = [engine_module._content_key(d) for d in inline]
    assert keys[0] == keys[1] == keys[2]
    assert keys[3] != keys[0]
