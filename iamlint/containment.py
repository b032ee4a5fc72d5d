"""Policy containment: the proof that one set of policies grants nothing another does not.

`contains(outer, inner)` proves that every request `inner` allows, `outer` allows too; the
narrower needs that proof before it may show a proposal. The proof is sound for every action
and resource string, not only those the catalogue knows; where it cannot decide it says so,
and a counterexample it offers is one `evaluate` confirms. Request evaluation itself, and the
compiled forms of patterns and conditions this module reasons about, live in `evaluator`.
"""

from __future__ import annotations

import datetime
import ipaddress
import itertools
from collections.abc import Sequence

from iamlint import globs
from iamlint.catalog import Catalog
from iamlint.evaluator import (
    _NEGATED,
    _PROBE_ACTIONS,
    STAR,
    Containment,
    Decision,
    Request,
    _Clause,
    _compile,
    _contains,
    _date,
    _fill,
    _number,
    _Pattern,
    _Set,
    _Stmt,
    _text,
    evaluate,
)
from iamlint.model import PolicyDocument, Statement


def _items(s: _Set) -> tuple[_Set, ...]:
    """The parts of a set proved one at a time: each pattern, or the complement as a whole."""
    return (s,) if s.negated else tuple(_Set(False, (p,)) for p in s.patterns)


def _overlap(a: _Pattern, b: _Pattern) -> bool:
    # globs reads variables and placeholders as `*`: an over-approximation, safe for "could meet".
    return globs.patterns_overlap(a.text, b.text)


def _covers(outer: _Set, inner: _Set) -> bool:
    """Is every string of `inner` (a pattern or a complement) in `outer`?"""
    if not inner.negated:
        if outer.negated:
            return not any(_overlap(o, p) for o in outer.patterns for p in inner.patterns)
        return all(any(_contains(o.tokens, p.tokens) for o in outer.patterns) for p in inner.patterns)
    if outer.negated:  # all but Z lies within all but Y when each y lies within some z
        return all(any(_contains(z.tokens, y.tokens) for z in inner.patterns) for y in outer.patterns)
    return any(o.tokens == (STAR,) for o in outer.patterns)


def _meets(a: _Set, b: _Set) -> bool:
    """Could `a` and `b` share a string? True when unsure."""
    if a.negated and b.negated:
        return True
    if a.negated:
        a, b = b, a
    if b.negated:
        return any(not any(_contains(z.tokens, p.tokens) for z in b.patterns) for p in a.patterns)
    return any(_overlap(p, q) for p in a.patterns for q in b.patterns)


def _implies(d: _Clause, c: _Clause) -> bool:
    """Does clause `d` holding make clause `c` hold? Syntactic, so it may miss some."""
    if (d.key, d.qualifier, d.base) != (c.key, c.qualifier, c.base) or not c.known:
        return False
    if d.if_exists and not c.if_exists:
        return False
    # More values make a positive operator weaker (OR-ed) and a negated one stronger (NOR-ed).
    return c.values <= d.values if c.negated else d.values <= c.values


def _null_values(c: _Clause) -> set[str]:
    return {(_text(p, {}) or "").lower() for p in c.values}


def _requires_key(c: _Clause) -> bool:
    """Does the clause hold only when its key is in the request?"""
    if c.base == "Null":
        return _null_values(c) == {"false"}
    if not c.known or c.if_exists:
        return False
    return c.qualifier == "ForAnyValue" or (not c.qualifier and not c.negated)


def _disjoint(deny: tuple[_Clause, ...], allow: tuple[_Clause, ...]) -> bool:
    """Can no request satisfy both blocks? Finds plain contradictions only: a key required
    absent and present, or a negated test of values whose positive test the other requires."""
    for c in deny:
        for d in allow:
            if c.key != d.key:
                continue
            for x, y in ((c, d), (d, c)):
                if x.base == "Null" and _null_values(x) == {"true"} and _requires_key(y):
                    return True
                if (
                    not x.qualifier
                    and not y.qualifier
                    and _NEGATED.get(x.base) == y.base
                    and not y.if_exists
                    and y.values <= x.values
                ):
                    return True
    return False


def _applies_to_all(s: _Stmt, acts: _Set, res: _Set, clauses: tuple[_Clause, ...]) -> bool:
    """Does `s` apply to every request of the cell (acts x res) that satisfies `clauses`?"""
    return (
        _covers(s.actions, acts)
        and _covers(s.resources, res)
        and all(any(_implies(d, c) for d in clauses) for c in s.clauses)
    )


def _name(st: Statement) -> str:
    return f"statement {st.sid!r}" if st.sid else f"statement {st.index} of {st.loc.file}"


def _describe(s: _Set) -> str:
    texts = ", ".join(p.text for p in s.patterns)
    return f"anything but {texts}" if s.negated else texts


def _failure(
    st: _Stmt,
    acts: _Set,
    res: _Set,
    grants: list[_Stmt],
    denies: list[_Stmt],
    inner_denies: list[_Stmt],
) -> tuple[str, _Stmt | None] | None:
    """Why the cell of inner Allow `st` is not proved inside outer (and the outer Deny at
    fault, if that is why), or None when it is proved."""
    if any(_applies_to_all(e, acts, res, st.clauses) for e in inner_denies):
        return None  # inner denies the whole cell: it allows nothing there
    where = f"{_describe(acts)} on {_describe(res)}"
    if not any(_applies_to_all(g, acts, res, st.clauses) for g in grants):
        reason = f"{_name(st.source)} allows {where}; no outer Allow grants it under conditions"
        return f"{reason} the same or weaker", None
    for deny in denies:
        if not (_meets(deny.actions, acts) and _meets(deny.resources, res)):
            continue
        if _disjoint(deny.clauses, st.clauses):
            continue
        # Inner Denies that repeat this one (as wide, conditions no stronger) keep inner out of
        # what it denies; only the parts of it that meet the cell need repeating.
        parts = [
            (a, r) for a in _items(deny.actions) if _meets(a, acts) for r in _items(deny.resources) if _meets(r, res)
        ]
        if not all(any(_applies_to_all(e, a, r, deny.clauses) for e in inner_denies) for a, r in parts):
            return (
                f"outer {_name(deny.source)} denies {where}, which {_name(st.source)} allows",
                deny,
            )
    return None


def _example_value(c: _Clause, ctx: dict[str, tuple[str, ...]]) -> str | None:
    pattern = min(c.values)
    if c.base in ("StringLike", "ArnLike", "ArnEquals"):
        return _fill(pattern, "x", ctx)
    text = _fill(pattern, None, ctx)
    step = 1 if c.base.endswith("GreaterThan") else -1 if c.base.endswith("LessThan") else 0
    if c.base.startswith("Numeric"):
        number = _number(text)
        return None if number is None else repr(number + step)
    if c.base.startswith("Date"):
        when = _date(text)
        return None if when is None else (when + datetime.timedelta(seconds=step)).isoformat()
    if c.base == "IpAddress":
        try:
            return str(ipaddress.ip_network(text, strict=False).network_address)
        except ValueError:
            return None
    return text


def _witness(clauses: tuple[_Clause, ...], ctx: dict[str, tuple[str, ...]]) -> None:
    """Put into `ctx` values under which the clauses hold, where a simple choice does it."""
    for c in sorted(clauses, key=lambda c: c.base == "Null"):
        if c.key in ctx or not c.known:
            continue
        if c.base == "Null":
            if _null_values(c) == {"false"}:
                ctx[c.key] = ("x",)
        elif c.negated:
            # A missing key satisfies a negated operator, except under ForAnyValue.
            if c.qualifier == "ForAnyValue" and not c.if_exists:
                ctx[c.key] = ("iamlint-probe",)
        elif not c.if_exists and c.qualifier != "ForAllValues":
            value = _example_value(c, ctx)
            if value is not None:
                ctx[c.key] = (value,)


def _patterns(own: _Set, others: list[_Set]) -> list[_Pattern]:
    """Patterns to draw examples for a cell from: its own, then those of outer statements that
    meet it, so that an example can land on the lines those statements draw."""
    pats = [*(() if own.negated else own.patterns)]
    pats += [p for o in others for p in o.patterns if _meets(_Set(False, (p,)), own)]
    # "*" filled in would read "x": callers try "*" itself.
    return [p for p in pats if p.tokens != (STAR,)]


def _refute(
    outer: Sequence[PolicyDocument],
    inner: Sequence[PolicyDocument],
    catalog: Catalog,
    cell: tuple[_Stmt, _Set, _Set],
    failure: tuple[str, _Stmt | None],
    outs: list[_Stmt],
    inner_denies: list[_Stmt],
) -> Containment:
    """Look for a request in the failed cell that inner allows and outer does not."""
    st, acts, res = cell
    reason, deny = failure
    ctx: dict[str, tuple[str, ...]] = {}
    _witness(st.clauses + (deny.clauses if deny else ()), ctx)
    others = [*([deny] if deny is not None else []), *outs, *inner_denies]
    stars = ("x", "", "iamlint-probe")
    pats = _patterns(res, [o.resources for o in others])
    resources = [_fill(p.tokens, star, ctx) for star in stars for p in pats][:9]
    resources = list(dict.fromkeys([*resources, "*", "arn:aws:s3:::iamlint-probe"]))
    # A second context also defeats the conditions of outer Allows and inner Denies, where it
    # simply can (a missing key already defeats most positive operators).
    defeat = dict(ctx)
    for c in (c for o in [*(o for o in outs if o.allow), *inner_denies] for c in o.clauses):
        if c.key not in defeat and (c.base == "Null" or c.negated or c.if_exists or c.qualifier == "ForAllValues"):
            defeat[c.key] = (_text(min(c.values), ctx) or "x",) if c.negated else ("iamlint-probe",)
    # The cell's own actions, then those other statements name; real ones (the catalogue's
    # expansion, when the service is spelt out) before wildcards filled in.
    actions: dict[str, str] = {}
    for group in (_patterns(acts, []), _patterns(acts, [o.actions for o in others])):
        for p in group:
            if not globs.has_wildcard(p.text.partition(":")[0]):
                for info in catalog.expand(p.text)[:4]:
                    actions.setdefault(info.full_name.lower(), info.full_name)
        for name in (_fill(p.tokens, star, {}) for star in stars for p in group):
            actions.setdefault(name.lower(), name)
        for name in _PROBE_ACTIONS:
            actions.setdefault(name.lower(), name)
    actions.setdefault("iamlint:probe", "iamlint:Probe")
    for action, resource, context in itertools.product(
        list(actions.values())[:24], resources, (ctx, defeat) if defeat != ctx else (ctx,)
    ):
        request = Request(action, resource, dict(context))
        if (
            evaluate(inner, request).decision is Decision.ALLOW
            and evaluate(outer, request).decision is not Decision.ALLOW
        ):
            wild = acts.negated or globs.has_wildcard(acts.patterns[0].text)
            if wild and catalog.action(action) is None:
                reason += f"; {action} is not in the IAM catalogue, but the wildcard covers it"
            return Containment(False, request, reason)
    return Containment(False, None, f"cannot prove containment: {reason}")


def contains(outer: Sequence[PolicyDocument], inner: Sequence[PolicyDocument], catalog: Catalog) -> Containment:
    """Is every request `inner` allows also allowed by `outer`? Never True when it is not.

    Each inner Allow is cut into cells: one action pattern (or the NotAction complement) times
    one resource pattern (or the NotResource complement). A cell is proved when one outer Allow
    covers its actions and resources with conditions the cell's own imply, and each outer Deny
    that could meet it either cannot hold together with the cell's conditions or is repeated
    by an inner Deny; a cell an inner Deny covers whole allows nothing and needs no proof.
    Containment is over all strings, so `s3:Get*` is not inside a list of
    today's Get actions: AWS may add one. Counterexamples are confirmed with `evaluate`.
    """
    outs = [st for doc in outer for st in _compile(doc) if st.can_apply]
    ins = [st for doc in inner for st in _compile(doc) if st.can_apply]
    grants = [s for s in outs if s.allow]
    denies = [s for s in outs if not s.allow]
    inner_denies = [s for s in ins if not s.allow]
    unproved: list[Containment] = []
    for st in (s for s in ins if s.allow):
        for acts in _items(st.actions):
            for res in _items(st.resources):
                failure = _failure(st, acts, res, grants, denies, inner_denies)
                if failure is None:
                    continue
                if len(unproved) >= 8:  # bound the search; the first reason is reported
                    return unproved[0]
                found = _refute(outer, inner, catalog, (st, acts, res), failure, outs, inner_denies)
                if found.counterexample is not None:
                    return found
                unproved.append(found)
    return unproved[0] if unproved else Containment(True, None, "")
