"""Risk categories of what a principal is granted on every resource, reported separately.

- resource exposure: permissions-management actions of the catalogue (rewriting resource
  policies, ACLs and sharing), other than the IAM ones IAM121 reports and the reads the
  catalogue files there too (`Get...`, `Describe...Permissions`);
- credentials exposure and data exfiltration: the actions `rules/data/sensitive_actions.yaml`
  lists under those categories ("secrets" reads count as exfiltration);
- infrastructure modification: the catalogue's Write and Tagging actions not in any of the above.

Each is judged on the principal's effective grants and counts only grants that reach every
resource of the action. Catalogue-defined categories count only actions that accept
resource-level scoping, since for the others "*" is not a choice; the knowledge-table
categories count every listed action, since granting it at all is the risk.

`settings["categories"]` lists the enabled categories (default: all of them).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import repeat
from typing import Any

from iamlint.catalog import PERMISSIONS, TAGGING, WRITE, ActionInfo
from iamlint.checks import Hit, RuleContext, check, per_subject
from iamlint.checks.effective import Effective, Reach, Scope, effective, every_action, joinable, joinable_services
from iamlint.checks.escalation import grouped_hit, rewrites_identity_policies, unscoped
from iamlint.checks.scope import grant
from iamlint.model import Statement
from iamlint.principals import Principal, added_by_sam
from iamlint.ruleset import read_data_table

RESOURCE_EXPOSURE = "resource_exposure"
CREDENTIALS_EXPOSURE = "credentials_exposure"
DATA_EXFILTRATION = "data_exfiltration"
INFRASTRUCTURE = "infrastructure_modification"
CATEGORIES = (RESOURCE_EXPOSURE, CREDENTIALS_EXPOSURE, DATA_EXFILTRATION, INFRASTRUCTURE)
# sensitive_actions.yaml category -> risk category
_TABLE_CATEGORIES = {
    "credentials_exposure": CREDENTIALS_EXPOSURE,
    "data_exfiltration": DATA_EXFILTRATION,
    "secrets": DATA_EXFILTRATION,
}


def enabled(ctx: RuleContext, category: str) -> bool:
    chosen = ctx.settings.get("categories")
    if chosen is None:
        return True
    if isinstance(chosen, str) or not all(isinstance(c, str) for c in chosen):
        raise ValueError(f"settings categories must be a list of names from: {', '.join(CATEGORIES)}")
    unknown = sorted(set(chosen) - set(CATEGORIES))
    if unknown:
        raise ValueError(
            f"settings categories: unknown {', '.join(unknown)} (expected some of: {', '.join(CATEGORIES)})"
        )
    return category in chosen


def sensitive(ctx: RuleContext) -> dict[str, str]:
    """Lower-case action -> risk category, from the sensitive-actions table and the actions
    `settings["sensitive_actions"]` adds ({"secrets": ["ssm:GetParametersByPath"]}, globs
    expanded through the catalogue)."""
    cached = ctx.cache.get("risk_sensitive")
    if cached is None:
        table: Any = read_data_table("sensitive_actions.yaml")
        cached = {str(e["action"]).lower(): _TABLE_CATEGORIES[str(e["category"])] for e in table["actions"]}
        extra = ctx.settings.get("sensitive_actions") or {}
        if not isinstance(extra, dict):
            raise ValueError(
                f"settings sensitive_actions must map a category ({', '.join(_TABLE_CATEGORIES)}) to actions"
            )
        for category, patterns in extra.items():
            if category not in _TABLE_CATEGORIES or isinstance(patterns, str):
                raise ValueError(
                    f"settings sensitive_actions: {category!r} is not one of {', '.join(_TABLE_CATEGORIES)}, "
                    "or its value is not a list of actions"
                )
            for pattern in patterns:
                actions = ctx.catalog.expand(str(pattern))
                if not actions:
                    raise ValueError(f"settings sensitive_actions: {pattern!r} matches no action in the IAM catalogue")
                for a in actions:
                    cached.setdefault(a.key, _TABLE_CATEGORIES[category])
        ctx.cache["risk_sensitive"] = cached
    return cached


def _sensitive_by_service(ctx: RuleContext, category: str) -> dict[str, tuple[str, ...]]:
    """The sensitive actions of one category, by lower-case service."""
    key = ("risk_sensitive_by_service", category)
    cached = ctx.cache.get(key)
    if cached is None:
        table: dict[str, list[str]] = {}
        for name, c in sensitive(ctx).items():
            if c == category:
                table.setdefault(name.partition(":")[0], []).append(name)
        cached = ctx.cache[key] = {service: tuple(names) for service, names in table.items()}
    return cached


def category_of(ctx: RuleContext, action: ActionInfo) -> str | None:
    """The one risk category an action belongs to, if any (worked out once per action)."""
    table: dict[str, str | None] | None = ctx.cache.get("risk_category_of")
    if table is None:
        table = ctx.cache["risk_category_of"] = {}
    try:
        return table[action.key]
    except KeyError:
        found = table[action.key] = _category_of(ctx, action)
        return found


def _category_of(ctx: RuleContext, action: ActionInfo) -> str | None:
    listed = sensitive(ctx).get(action.key)
    if listed is not None:
        return listed
    if rewrites_identity_policies(action):
        return None  # IAM121
    if not action.supports_resource_scoping:
        return None
    if PERMISSIONS in action.access_levels and not _reads(action):
        return RESOURCE_EXPOSURE
    if WRITE in action.access_levels or TAGGING in action.access_levels:
        return None if action.key in _telemetry_writes(ctx) else INFRASTRUCTURE
    return None


def _telemetry_writes(ctx: RuleContext) -> frozenset[str]:
    """Writes that only add a workload's own logs (rules/data/telemetry_writes.yaml)."""
    cached = ctx.cache.get("risk_telemetry_writes")
    if cached is None:
        table: Any = read_data_table("telemetry_writes.yaml")
        cached = ctx.cache["risk_telemetry_writes"] = frozenset(str(e["action"]).lower() for e in table["actions"])
    return cached


# The catalogue files some reads under Permissions management (billing:GetResourcePolicy,
# quicksight:DescribeTopicPermissions, secretsmanager:ValidateResourcePolicy): by their verb
# they change nobody's access, so they are no resource exposure.
_READ_VERBS = re.compile(r"(Get|Describe|List|Search|View|Validate)[A-Z]")


def _reads(action: ActionInfo) -> bool:
    return _READ_VERBS.match(action.name) is not None


def granted(ctx: RuleContext, eff: Effective, category: str) -> list[tuple[ActionInfo, Reach]]:
    """The actions of one category the principal is granted on every resource."""
    if category in (CREDENTIALS_EXPOSURE, DATA_EXFILTRATION):
        names = eff.might_grant_any(_sensitive_by_service(ctx, category))
        candidates = [a for a in (ctx.catalog.action(n) for n in names) if a is not None]
        return [(a, r) for a in candidates if (r := unscoped(eff, a)) is not None]
    return _by_catalogue(ctx, eff).get(category, [])


def _by_catalogue(ctx: RuleContext, eff: Effective) -> dict[str, list[tuple[ActionInfo, Reach]]]:
    """Every granted action of the catalogue-defined categories, sorted in one pass."""
    cached = eff.memo.get("risk_categories")
    if cached is None:
        cached = eff.memo["risk_categories"] = _by_statement(ctx, eff) if eff.plain else _by_action(ctx, eff)
    return cached  # type: ignore[return-value]


def _by_action(ctx: RuleContext, eff: Effective) -> dict[str, list[tuple[ActionInfo, Reach]]]:
    out: dict[str, list[tuple[ActionInfo, Reach]]] = {}
    for a in eff.candidates():
        category = category_of(ctx, a)
        if category in (RESOURCE_EXPOSURE, INFRASTRUCTURE):
            reach = unscoped(eff, a)
            if reach is not None:
                out.setdefault(category, []).append((a, reach))
    return out


def _by_statement(ctx: RuleContext, eff: Effective) -> dict[str, list[tuple[ActionInfo, Reach]]]:
    """`_by_action`'s answer for a principal with no Deny and no boundary, where each statement
    grants what it says whoever holds it: its unscoped actions of these categories are worked
    out once per statement and shared by every principal holding it (an account attaches one
    managed policy to hundreds of roles). Each action takes the reach `Effective.best` would:
    the first unconditioned one in statement order (statements naming it, then open ones),
    else the first conditioned one."""
    chosen: dict[str, tuple[ActionInfo, Reach, str]] = {}
    naming = [st for st in eff.allows if not grant(ctx, st).all_actions]
    open_ended = [st for st in eff.allows if grant(ctx, st).all_actions]
    for st in (*naming, *open_ended):
        actions, reaches, categories = _unscoped_in_statement(ctx, st, eff)
        each_reach = repeat(reaches) if isinstance(reaches, Reach) else reaches
        for a, reach, category in zip(actions, each_reach, categories):
            kept = chosen.get(a.key)
            if kept is None or (kept[1].conditions and not reach.conditions):
                chosen[a.key] = (a, reach, category)
    # What several statements may grant together that none grants alone (`Effective.best`),
    # for the few actions where that can happen: their answer is `_by_action`'s. An action one
    # statement already grants on every resource, unconditioned, has nothing to gain.
    if eff.might_grant_any_service(joinable_services(ctx)):
        for a, category in _joinable_category_actions(ctx):
            kept = chosen.get(a.key)
            if kept is not None and not kept[1].conditions or not eff.might_join(a):
                continue
            if (joint := unscoped(eff, a)) is not None:
                chosen[a.key] = (a, joint, category)
    out: dict[str, list[tuple[ActionInfo, Reach]]] = {}
    for a, reach, category in chosen.values():
        out.setdefault(category, []).append((a, reach))
    return out


def _joinable_category_actions(ctx: RuleContext) -> tuple[tuple[ActionInfo, str], ...]:
    """The actions of these categories that statements can reach together (`joinable`): a
    handful (ssm:SendCommand), asked of each principal after its statements one by one."""
    cached = ctx.cache.get("risk_joinable_category_actions")
    if cached is None:
        cached = ctx.cache["risk_joinable_category_actions"] = tuple(
            (a, c)
            for service in sorted(joinable_services(ctx))
            for a in ctx.catalog.actions(service).values()
            if joinable(ctx, a) and (c := category_of(ctx, a)) in (RESOURCE_EXPOSURE, INFRASTRUCTURE)
        )
    return cached


# The reach is one Reach when every action shares it (see `_unscoped_in_statement`).
_Unscoped = tuple[tuple[ActionInfo, ...], tuple[Reach, ...] | Reach, tuple[str, ...]]


@per_subject
def _unscoped_in_statement(ctx: RuleContext, st: Statement, eff: Effective) -> _Unscoped:
    """The statement's unscoped actions of the catalogue-defined categories, each with its
    reach and category, as three parallel tuples (a third of the memory of a tuple per action:
    a large account keeps a hundred thousand of them). `eff` is any holder's without Deny or
    boundary (`_by_statement`): the answer is the same for each of them.

    Most of those entries come from a few open-ended statements (Action "*", NotAction), each
    granting thousands of actions with one and the same Reach: then the reach is that one
    Reach rather than a tuple repeating it, and when nothing of the catalogue's list was left
    out its tuples of actions and categories are returned themselves rather than copied
    (1.1 MB of peak memory on the bench's 3,000-role audit)."""
    g = grant(ctx, st)
    actions: list[ActionInfo] = []
    reaches: list[Reach] = []
    categories: list[str] = []
    pool: tuple[tuple[ActionInfo, ...], tuple[str, ...]] | None = None
    if g.all_actions:
        allows = g.allows
        pool = _catalogue_category_actions(ctx)
        candidates = [(a, c) for a, c in zip(*pool) if allows(a.key)]
    else:  # an Action list: every action it expands to is granted
        candidates = [(a, c) for a in g.actions if (c := category_of(ctx, a)) in (RESOURCE_EXPOSURE, INFRASTRUCTURE)]
    # No Deny, no boundary: a reach is the same for every holder, and for every action the
    # statement grants of one shape (`Effective._reach` keeps it by shape): asked once per
    # shape here, not once per action through the whole lookup (ten thousand for an open
    # statement, in a few thousand shapes).
    by_shape: dict[tuple[Any, ...], Reach | None] = {}
    for a, category in candidates:
        try:
            reach = by_shape[a.shape]
        except KeyError:
            reach = by_shape[a.shape] = eff.reach_in(st, a)
        if reach is not None and reach.scope == Scope.UNSCOPED:
            actions.append(a)
            reaches.append(reach)
            categories.append(category)
    shared: tuple[Reach, ...] | Reach = tuple(reaches)
    if reaches and all(r is reaches[0] for r in reaches):
        shared = reaches[0]
    if pool is not None and len(actions) == len(pool[0]):  # kept in order, so the very same list
        return pool[0], shared, pool[1]
    return tuple(actions), shared, tuple(categories)


def _catalogue_category_actions(ctx: RuleContext) -> tuple[tuple[ActionInfo, ...], tuple[str, ...]]:
    """Every action of the catalogue-defined categories and, in a parallel tuple, its category,
    in catalogue order: what an open-ended statement (Action "*", NotAction) may grant of them,
    sorted out once rather than once per such statement among 22,000 actions. Two tuples
    rather than a pair per action: a fifth of the memory."""
    cached = ctx.cache.get("risk_catalogue_category_actions")
    if cached is None:
        pairs = [(a, c) for a in every_action(ctx) if (c := category_of(ctx, a)) in (RESOURCE_EXPOSURE, INFRASTRUCTURE)]
        cached = ctx.cache["risk_catalogue_category_actions"] = (tuple(a for a, _ in pairs), tuple(c for _, c in pairs))
    return cached


def _category_check(ctx: RuleContext, principal: Principal, category: str) -> Iterator[Hit]:
    if not enabled(ctx, category):
        return
    eff = effective(ctx, principal)
    if eff.administrator:
        return  # IAM101 reports it; every category is granted
    # What SAM attaches by itself (the VPC access policy's network-interface writes on "*")
    # is not the template's choice: a category it alone grants is not reported.
    found = granted(ctx, eff, category)
    if any(added_by_sam(doc) for doc in principal.documents):  # a template's role; never an account's
        found = [(a, r) for a, r in found if not added_by_sam(principal.owner(r.statement))]
    if found:
        yield grouped_hit(ctx, principal, found)


@check("IAM122")
def resource_exposure(ctx: RuleContext, principal: Principal) -> Iterator[Hit]:
    yield from _category_check(ctx, principal, RESOURCE_EXPOSURE)


@check("IAM123")
def credentials_exposure(ctx: RuleContext, principal: Principal) -> Iterator[Hit]:
    yield from _category_check(ctx, principal, CREDENTIALS_EXPOSURE)


@check("IAM124")
def data_exfiltration(ctx: RuleContext, principal: Principal) -> Iterator[Hit]:
    yield from _category_check(ctx, principal, DATA_EXFILTRATION)


@check("IAM125")
def infrastructure_modification(ctx: RuleContext, principal: Principal) -> Iterator[Hit]:
    yield from _category_check(ctx, principal, INFRASTRUCTURE)
