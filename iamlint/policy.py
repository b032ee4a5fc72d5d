"""Parse a raw policy document (dicts and lists from JSON or YAML) into the typed model.

Every loader ends here. The parser is lenient where IAM is (string-or-list, the case of
actions, `Version` as a YAML date) and strict where IAM is (Effect spelling, Action with
NotAction, missing elements): each violation becomes a `Problem` with its location, and the
statements that are valid are still returned, so one bad statement never hides the others.
"""

from __future__ import annotations

import datetime
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from operator import attrgetter

from iamlint.model import (
    Condition,
    Location,
    PathKey,
    PolicyDocument,
    PolicyKind,
    Principal,
    Source,
    Statement,
    Value,
    new_location,
    new_statement,
)

_TEXT = attrgetter("text")

Path = tuple[PathKey, ...]
Marker = Callable[[Path], tuple[int, int] | None]

_EFFECTS = ("Allow", "Deny")
_STATEMENT_KEYS = {
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Principal",
    "NotPrincipal",
    "Condition",
}
_PRINCIPAL_KINDS = ("AWS", "Service", "Federated", "CanonicalUser")


@dataclass(frozen=True, slots=True)
class Problem:
    """Why (part of) a policy is not valid IAM, and where."""

    message: str
    loc: Location
    statement_index: int | None = None


@dataclass(slots=True)
class _Ctx:
    file: str
    marker: Marker
    logical_id: str | None
    construct_path: str | None
    problems: list[Problem]

    def loc(self, path: Path) -> Location:
        # No line lookup here: see Location. The document's marker resolves it on demand.
        return new_location(self.file, None, None, path, self.logical_id, self.construct_path)

    def problem(self, message: str, path: Path, index: int | None = None) -> None:
        mark = self.marker(path)
        line, col = mark if mark else (None, None)
        loc = Location(self.file, line, col, path, self.logical_id, self.construct_path)
        self.problems.append(Problem(message, loc, index))


def _no_marks(_path: Path) -> tuple[int, int] | None:
    return None


def looks_like_policy(raw: object) -> bool:
    return isinstance(raw, Mapping) and "Statement" in raw


def parse_policy(
    raw: object,
    *,
    file: str,
    base: Path = (),
    marker: Marker = _no_marks,
    kind: PolicyKind = PolicyKind.UNKNOWN,
    source: Source | None = None,
    name: str | None = None,
    logical_id: str | None = None,
    construct_path: str | None = None,
) -> tuple[PolicyDocument | None, list[Problem]]:
    """Build a PolicyDocument from `raw`, found at JSON path `base` inside `file`."""
    ctx = _Ctx(file, marker, logical_id, construct_path, [])
    if not isinstance(raw, Mapping):
        ctx.problem(f"expected a policy document (an object), found {_kind(raw)}", base)
        return None, ctx.problems
    version = _version(ctx, raw, base)
    for key in raw:
        if key not in ("Version", "Statement", "Id"):
            ctx.problem(f"unknown policy element {key!r} (expected Version, Id, Statement)", base)
    if "Statement" not in raw:
        ctx.problem("policy has no Statement", base)
        return None, ctx.problems
    raw_statements = raw["Statement"]
    spath = (*base, "Statement")
    if isinstance(raw_statements, Mapping):
        items: list[tuple[object, Path]] = [(raw_statements, spath)]
    elif isinstance(raw_statements, list):
        items = [(s, (*spath, i)) for i, s in enumerate(raw_statements)]
    else:
        ctx.problem(f"Statement must be an object or a list, found {_kind(raw_statements)}", spath)
        return None, ctx.problems
    statements = []
    for index, (item, path) in enumerate(items):
        st = _statement(ctx, item, path, index, kind)
        if st is not None:
            statements.append(st)
    doc = PolicyDocument(
        version=version,
        statements=tuple(statements),
        loc=ctx.loc(base),
        kind=kind,
        source=source,
        name=name,
        marker=None if marker is _no_marks else marker,
    )
    return doc, ctx.problems


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
    }.get(type(value), type(value).__name__)


def _version(ctx: _Ctx, raw: Mapping[str, object], base: Path) -> str | None:
    version = raw.get("Version")
    if version is None:
        return None
    if isinstance(version, datetime.date):  # YAML 1.1 reads 2012-10-17 as a date
        return version.isoformat()
    if isinstance(version, str):
        if version not in ("2012-10-17", "2008-10-17"):
            ctx.problem(f"Version must be 2012-10-17 or 2008-10-17, found {version!r}", (*base, "Version"))
        return _shared(version)
    ctx.problem(f"Version must be a string, found {_kind(version)}", (*base, "Version"))
    return None


def _strings(ctx: _Ctx, raw: object, parent: Location, key: str, what: str, index: int) -> tuple[Value, ...]:
    """String-or-list of strings at `key` of the mapping at `parent`, each with its place."""
    if isinstance(raw, str):
        return (Value.item(_shared(raw), parent, key),)
    path = (*parent.keys, key)
    if isinstance(raw, list):
        within = ctx.loc(path)
        if raw and all(type(item) is str for item in raw):  # every list of a valid policy
            return Value.items(map(sys.intern, raw), within)  # as _shared does each one
        out = []
        for i, item in enumerate(raw):
            if isinstance(item, str):
                out.append(Value.item(_shared(item), within, i))
            else:
                ctx.problem(f"{what} entries must be strings, found {_kind(item)}", (*path, i), index)
        if not raw:
            ctx.problem(f"{what} is an empty list", path, index)
        return tuple(out)
    ctx.problem(f"{what} must be a string or a list of strings, found {_kind(raw)}", path, index)
    return ()


def _statement(ctx: _Ctx, raw: object, path: Path, index: int, kind: PolicyKind) -> Statement | None:
    if not isinstance(raw, Mapping):
        ctx.problem(f"a statement must be an object, found {_kind(raw)}", path, index)
        return None
    bad = False
    for key in raw:
        if key not in _STATEMENT_KEYS:
            ctx.problem(f"unknown statement element {key!r}", (*path, key), index)
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        ctx.problem(f"Sid must be a string, found {_kind(sid)}", (*path, "Sid"), index)
        sid = None
    effect = raw.get("Effect")
    if effect not in _EFFECTS:
        found = "nothing" if effect is None else repr(effect)
        ctx.problem(
            f'Effect must be "Allow" or "Deny", found {found}', (*path, "Effect") if effect is not None else path, index
        )
        bad = True

    action_key = _exactly_one(ctx, raw, path, index, "Action", "NotAction", required=True)
    if action_key is None:
        bad = True
    resource_key = _exactly_one(
        ctx,
        raw,
        path,
        index,
        "Resource",
        "NotResource",
        required=kind in (PolicyKind.IDENTITY, PolicyKind.BOUNDARY, PolicyKind.RESOURCE),
    )
    principal_key = _exactly_one(
        ctx,
        raw,
        path,
        index,
        "Principal",
        "NotPrincipal",
        required=kind in (PolicyKind.RESOURCE, PolicyKind.TRUST),
    )
    if kind is PolicyKind.UNKNOWN and resource_key is None and principal_key is None:
        # A bare document without a principal is an identity policy, which needs Resource.
        ctx.problem("statement has neither Resource nor NotResource", path, index)
        bad = True
    if kind in (PolicyKind.IDENTITY, PolicyKind.BOUNDARY) and resource_key is None:
        bad = True
    if bad:
        return None
    assert action_key is not None and effect is not None  # for the type checker
    loc = ctx.loc(path)
    actions = _strings(ctx, raw[action_key], loc, action_key, action_key, index)
    resources: tuple[Value, ...] = ()
    if resource_key is not None:
        resources = _strings(ctx, raw[resource_key], loc, resource_key, resource_key, index)
    principals: tuple[Principal, ...] = ()
    if principal_key is not None:
        principals = _principals(ctx, raw[principal_key], loc, principal_key, index)
    conditions: tuple[Condition, ...] = ()
    if "Condition" in raw:
        conditions = _conditions(ctx, raw["Condition"], (*path, "Condition"), index)
    if not actions:
        return None
    return new_statement(
        index=index,
        effect=_shared(str(effect)),
        sid=sid,
        action_key=action_key,
        actions=actions,
        resource_key=resource_key,
        resources=resources,
        principal_key=principal_key,
        principals=principals,
        conditions=conditions,
        loc=loc,
        action_texts=tuple(map(_TEXT, actions)),
        resource_texts=tuple(map(_TEXT, resources)),
    )


def _exactly_one(
    ctx: _Ctx, raw: Mapping[str, object], path: Path, index: int, a: str, b: str, *, required: bool
) -> str | None:
    if a in raw and b in raw:
        ctx.problem(f"statement has both {a} and {b}; IAM allows only one", (*path, b), index)
        return None
    if a in raw:
        return a
    if b in raw:
        return b
    if required:
        ctx.problem(f"statement has neither {a} nor {b}", path, index)
    return None


def _shared(text: str) -> str:
    """One object for each distinct text of a policy (action, resource, effect, condition): an
    account's policies name the same actions thousands of times (63,000 texts, 14,000
    distinct, in the bench's account)."""
    return sys.intern(text) if type(text) is str else text


def _principals(ctx: _Ctx, raw: object, parent: Location, key: str, index: int) -> tuple[Principal, ...]:
    if raw == "*":
        return (Principal("*", Value.item("*", parent, key)),)
    path = (*parent.keys, key)
    if not isinstance(raw, Mapping):
        ctx.problem(f'Principal must be "*" or an object, found {_kind(raw)}', path, index)
        return ()
    out: list[Principal] = []
    within = ctx.loc(path)
    for kind, value in raw.items():
        if kind not in _PRINCIPAL_KINDS:
            ctx.problem(
                f"unknown principal type {kind!r} (expected {', '.join(_PRINCIPAL_KINDS)})",
                (*path, kind),
                index,
            )
            continue
        for v in _strings(ctx, value, within, kind, f"Principal.{kind}", index):
            out.append(Principal(str(kind), v))
    return tuple(out)


def _condition_value(value: object) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    return None


def _conditions(ctx: _Ctx, raw: object, path: Path, index: int) -> tuple[Condition, ...]:
    if not isinstance(raw, Mapping):
        ctx.problem(f"Condition must be an object, found {_kind(raw)}", path, index)
        return ()
    out: list[Condition] = []
    for op, block in raw.items():
        opath = (*path, op)
        if not isinstance(block, Mapping):
            ctx.problem(f"condition operator {op} must map keys to values", opath, index)
            continue
        for key, values in block.items():
            kpath = (*opath, key)
            items = values if isinstance(values, list) else [values]
            texts = []
            for item in items:
                text = _condition_value(item)
                if text is None:
                    ctx.problem(
                        f"condition value for {key} must be a string, number or boolean, found {_kind(item)}",
                        kpath,
                        index,
                    )
                else:
                    texts.append(_shared(text))
            out.append(Condition(_shared(str(op)), _shared(str(key)), tuple(texts), ctx.loc(kpath)))
    return tuple(out)
