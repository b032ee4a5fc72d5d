"""Risk categories of what a principal is granted on every resource, reported separately.

- resource exposure: permissions-management actions of the catalogue (rewriting resource
  policies, ACLs and sharing), other than the IAM ones IAM121 reports;
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

from collections.abc import Iterator
from typing import Any

from iamlint.catalog import PERMISSIONS, TAGGING, WRITE, ActionInfo
from iamlint.checks import Hit, RuleContext, check
from iamlint.checks.effective import Effective, Reach, effective
from iamlint.checks.escalation import grouped_hit, rewrites_identity_policies, unscoped
from iamlint.principals import Principal
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
        raise ValueError(f"settings categories: unknown {', '.join(unknown)} (expected some of: {', '.join(CATEGORIES)})")
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
            raise ValueError(f"settings sensitive_actions must map a category ({', '.join(_TABLE_CATEGORIES)}) to actions")
        for category, patterns in extra.items():
            if category not in _TABLE_CATEGORIES or isinstance(patterns, str):
                raise ValueError(f"settings sensitive_actions: {category!r} is not one of {', '.join(_TABLE_CATEGORIES)}, "
                                 "or its value is not a list of actions")
            for pattern in patterns:
                actions = ctx.catalog.expand(str(pattern))
                if not actions:
                    raise ValueError(f"settings sensitive_actions: {pattern!r} matches no action in the IAM catalogue")
                for a in actions:
                    cached.setdefault(a.key, _TABLE_CATEGORIES[category])
        ctx.cache["risk_sensitive"] = cached
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
    if PERMISSIONS in action.access_levels:
        return RESOURCE_EXPOSURE
    if WRITE in action.access_levels or TAGGING in action.access_levels:
        return INFRASTRUCTURE
    return None


def granted(ctx: RuleContext, eff: Effective, category: str) -> list[tuple[ActionInfo, Reach]]:
    """The actions of one category the principal is granted on every resource."""
    if category in (CREDENTIALS_EXPOSURE, DATA_EXFILTRATION):
        names = [k for k, c in sensitive(ctx).items() if c == category and eff.might_grant(k)]
        candidates = [a for a in (ctx.catalog.action(n) for n in names) if a is not None]
        return [(a, r) for a in candidates if (r := unscoped(eff, a)) is not None]
    return _by_catalogue(ctx, eff).get(category, [])


def _by_catalogue(ctx: RuleContext, eff: Effective) -> dict[str, list[tuple[ActionInfo, Reach]]]:
    """Every granted action of the catalogue-defined categories, sorted in one pass."""
    cached = eff.memo.get("risk_categories")
    if cached is None:
        out: dict[str, list[tuple[ActionInfo, Reach]]] = {}
        for a in eff.candidates():
            category = category_of(ctx, a)
            if category in (RESOURCE_EXPOSURE, INFRASTRUCTURE):
                reach = unscoped(eff, a)
                if reach is not None:
                    out.setdefault(category, []).append((a, reach))
        cached = eff.memo["risk_categories"] = out
    return cached  # type: ignore[return-value]


def _category_check(ctx: RuleContext, principal: Principal, category: str) -> Iterator[Hit]:
    if not enabled(ctx, category):
        return
    eff = effective(ctx, principal)
    if eff.full_admin:
        return  # IAM101 reports it; every category is granted
    found = granted(ctx, eff, category)
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
