"""Organisation guardrails: actions and resources that no principal may ever be granted.

The lists come from the run's settings (`forbidden_actions`: action patterns such as
`iam:CreateUser` or `organizations:*`; `forbidden_resources`: ARN patterns). Each is judged on
the principal's effective grants, so an Allow that a Deny or the boundary takes away is no
violation, and an administrator is one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from iamlint import globs
from iamlint.catalog import ActionInfo
from iamlint.checks import Hit, RuleContext, check
from iamlint.checks.effective import Reach, action_entry, covers, effective
from iamlint.model import Evidence, Location, Statement
from iamlint.principals import Principal


def _patterns(ctx: RuleContext, key: str) -> tuple[str, ...]:
    raw = ctx.settings.get(key)
    if raw is None:
        return ()
    if isinstance(raw, str) or not isinstance(raw, Sequence) or not all(isinstance(p, str) and p for p in raw):
        raise ValueError(f"settings {key} must be a list of non-empty strings")
    return tuple(raw)


def _by_statement(found: list[tuple[ActionInfo, Reach]]) -> dict[int, tuple[Statement, list[tuple[ActionInfo, Reach]]]]:
    out: dict[int, tuple[Statement, list[tuple[ActionInfo, Reach]]]] = {}
    for action, reach in found:
        st = reach.statement
        out.setdefault(id(st), (st, []))[1].append((action, reach))
    return out


def _names(found: list[tuple[ActionInfo, Reach]], limit: int = 6) -> tuple[list[str], str]:
    names = sorted({a.full_name for a, _ in found})
    shown = ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")
    return names, shown


@check("IAM126")
def forbidden_action(ctx: RuleContext, principal: Principal) -> Iterator[Hit]:
    patterns = _patterns(ctx, "forbidden_actions")
    if not patterns:
        return
    eff = effective(ctx, principal)
    for pattern in patterns:
        actions = ctx.catalog.expand(pattern)
        if not actions:
            raise ValueError(f"settings forbidden_actions: {pattern!r} matches no action in the IAM catalogue")
        found = [(a, r) for a in actions for r in eff.reaches(a)]
        for st, grants in _by_statement(found).values():
            names, shown = _names(grants)
            lead = grants[0][0]
            yield Hit(
                loc=principal.locate(action_entry(ctx, st, lead), st),
                statement=st,
                args={"principal": principal.label, "pattern": pattern, "actions": shown, "where": principal.where(st)},
                evidence=Evidence(actions=tuple(names), resources=st.resource_texts, notes=(f"forbidden: {pattern}",)),
            )


def _reaches_resource(reach: Reach, resource: str) -> bool:
    if reach.except_resources:
        return not any(covers(x, resource) for x in reach.resources)
    return any(globs.patterns_overlap(p, resource) for p in reach.resources)


def _resource_entry(st: Statement, resource: str) -> Location:
    for v in st.resources:
        if st.not_resource or globs.patterns_overlap(v.text, resource):
            return v.loc
    return st.loc


@check("IAM127")
def forbidden_resource(ctx: RuleContext, principal: Principal) -> Iterator[Hit]:
    patterns = _patterns(ctx, "forbidden_resources")
    if not patterns:
        return
    eff = effective(ctx, principal)
    cat = ctx.catalog
    for resource in patterns:
        parts = globs.split_arn(resource)
        if len(parts) < 6 or parts[0] != "arn":
            raise ValueError(
                f"settings forbidden_resources: {resource!r} is not an ARN pattern (arn:partition:service:region:account:resource)"
            )
        service = parts[2].lower()
        found = [
            (a, r)
            for a in eff.candidates()
            if (globs.has_wildcard(service) or a.service == service) and cat.resource_matches(a, resource)
            if not eff.denied(a, resource)
            for r in eff.reaches(a)
            if _reaches_resource(r, resource)
        ]
        for st, grants in _by_statement(found).values():
            names, shown = _names(grants)
            yield Hit(
                loc=principal.locate(_resource_entry(st, resource), st),
                statement=st,
                args={
                    "principal": principal.label,
                    "resource": resource,
                    "actions": shown,
                    "where": principal.where(st),
                },
                evidence=Evidence(actions=tuple(names), resources=st.resource_texts, notes=(f"forbidden: {resource}",)),
            )
