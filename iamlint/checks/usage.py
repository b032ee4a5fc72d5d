"""Usage: actions a principal is granted and was never seen using (IAM140).

The evidence is observed calls (`iamlint check --evidence/--cloudtrail`), summarised by the CLI
with `usage_settings` into the run's settings under `observed_usage`: one entry per caller (a
role and session, or a user) with the IAM actions its calls needed. Without that entry the rule
reports nothing. A principal is compared with the callers named like it: a role by its name or
logical id, or the name CloudFormation makes from it (`<stack>-<LogicalId>-<suffix>`), also
through the session name of a function that runs with it; a user by its name. When the calls
were selected as one principal's (`--session`, `--role-arn`), they are that principal's whatever
its name in the template.

What CloudTrail cannot show is never reported as unused (`rules/data/unobservable_actions.yaml`,
the table the narrower keeps such grants by): what Lambda's runtime does with a function's role,
and data events of a kind the evidence holds none of (a trail records S3 object reads, DynamoDB
item calls or SQS messages only when its event selectors ask for them).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from iamlint.checks import Hit, RuleContext, check
from iamlint.checks.effective import effective
from iamlint.model import Evidence, Statement
from iamlint.principals import Principal
from iamlint.ruleset import read_data_table

if TYPE_CHECKING:
    from iamlint.catalog import Catalog
    from iamlint.narrow.calls import Call

SETTING = "observed_usage"
LISTED = 25  # unused actions listed in a finding's evidence
SHOWN = 6  # ... and in its message
# CloudFormation names a resource without an explicit name `<stack>-<LogicalId>-<suffix>`.
_GENERATED = "{stack}-{name}-[A-Za-z0-9]{{8,}}"


def usage_settings(calls: Iterable[Call], catalog: Catalog, *, selected: bool) -> dict[str, Any]:
    """The `observed_usage` setting: who called, needing which actions, and which data events.

    Denied calls used nothing; calls that failed for another reason (throttled, not found)
    passed authorization, so they count as use. `selected`: the calls were chosen as one
    principal's (`--session`, `--role-arn`).
    """
    from iamlint.narrow.mapping import iam_actions  # noqa: PLC0415 - only with evidence

    kinds = _data_event_kinds()
    callers: dict[tuple[str, str, str], dict[str, Any]] = {}
    seen_kinds: set[str] = set()
    for call in calls:
        if call.denied:
            continue
        actions = iam_actions(call, catalog).actions
        role = _last(_ROLE, call.role_arn or "") or _last(_ASSUMED, call.principal)
        key = (role, call.session_name or "", _last(_USER, call.principal))
        entry = callers.setdefault(key, {"calls": 0, "actions": set()})
        entry["calls"] += 1
        entry["actions"].update(actions)
        seen_kinds.update(kinds[a.lower()] for a in actions if a.lower() in kinds)
    out = []
    for (role_name, session, user_name), entry in sorted(callers.items()):
        item: dict[str, Any] = {"calls": entry["calls"], "actions": sorted(entry["actions"])}
        for name, value in (("role", role_name), ("session", session), ("user", user_name)):
            if value:
                item[name] = value
        out.append(item)
    return {"selected": selected, "callers": out, "data_events": sorted(seen_kinds)}


# The caller's names in its ARNs (IAM User Guide, "IAM identifiers"); paths are dropped.
_ROLE = re.compile(r"arn:[^:]+:iam::[^:]*:role/(?:.*/)?([^/]+)")
_ASSUMED = re.compile(r"arn:[^:]+:sts::[^:]*:assumed-role/([^/]+)/.*")
_USER = re.compile(r"arn:[^:]+:iam::[^:]*:user/(?:.*/)?([^/]+)")


def _last(pattern: re.Pattern[str], arn: str) -> str:
    found = pattern.fullmatch(arn)
    return found.group(1) if found else ""


def _data_event_kinds() -> dict[str, str]:
    """Data-event action (lower case) -> the kind of resource its events are recorded for."""
    table = read_data_table("unobservable_actions.yaml")
    return {str(a).lower(): str(e["resource"]) for e in table["data_events"] for a in e["actions"]}


def _workload_actions(workload: str) -> frozenset[str]:
    table = read_data_table("unobservable_actions.yaml")
    return frozenset(str(a).lower() for e in table["workloads"].get(workload, ()) for a in e["actions"])


def _usage(ctx: RuleContext) -> Mapping[str, Any] | None:
    raw = ctx.settings.get(SETTING)
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or not isinstance(raw.get("callers"), list):
        raise TypeError(f"settings {SETTING} must be a mapping with a list of callers")
    for caller in raw["callers"]:
        if not isinstance(caller, Mapping) or not isinstance(caller.get("actions"), list):
            raise TypeError(f"settings {SETTING}: each caller needs a list of actions")
    return raw


def _workloads(principal: Principal) -> set[str]:
    labels = set(principal.source.used_by)
    for doc in principal.documents:
        if doc.source is not None:
            labels.update(doc.source.used_by)
    return {label.split(" ", 1)[1] for label in labels if label.startswith("function ")}


def _named_like(value: str, names: Iterable[str]) -> bool:
    return any(value == n or re.fullmatch(_GENERATED.format(stack=".+", name=re.escape(n)), value) for n in names)


def _callers(principal: Principal, usage: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The callers whose calls are this principal's."""
    callers: list[Mapping[str, Any]] = usage["callers"]
    names = {principal.name, *((principal.source.logical_id,) if principal.source.logical_id else ())}
    workloads = _workloads(principal)
    if principal.kind == "role":
        found = [
            c
            for c in callers
            if _named_like(str(c.get("role", "")), names) or _named_like(str(c.get("session", "")), workloads)
        ]
    elif principal.kind == "user":
        found = [c for c in callers if c.get("user") in names]
    else:
        found = []
    if found or not usage.get("selected") or principal.kind == "group":
        return found
    return callers  # the calls were selected as one principal's, and this is the one checked


def _unobservable(principal: Principal, usage: Mapping[str, Any]) -> frozenset[str]:
    seen = set(usage.get("data_events") or ())
    out = {action for action, kind in _data_event_kinds().items() if kind not in seen}
    if _workloads(principal):
        out |= _workload_actions("lambda")
    return frozenset(out)


@check("IAM140")
def granted_never_used(ctx: RuleContext, principal: Principal) -> Iterator[Hit]:
    usage = _usage(ctx)
    if usage is None:
        return  # no evidence, nothing to compare with
    callers = _callers(principal, usage)
    if not callers:
        return
    used = {str(a).lower() for c in callers for a in c["actions"]}
    unobservable = _unobservable(principal, usage)
    calls = sum(int(c.get("calls", 0)) for c in callers)
    eff = effective(ctx, principal)
    granted: dict[int, tuple[Statement, list[str]]] = {}
    for action in eff.candidates():
        for reach in eff.reaches(action):
            granted.setdefault(id(reach.statement), (reach.statement, []))[1].append(action.full_name)
    for st, actions in granted.values():
        names = sorted(set(actions))
        unused = [a for a in names if a.lower() not in used and a.lower() not in unobservable]
        if not unused:
            continue
        shown = ", ".join(unused[:SHOWN]) + (f" and {len(unused) - SHOWN} more" if len(unused) > SHOWN else "")
        notes = [f"unused: {len(unused)} of the {len(names)} granted actions, in {calls} allowed observed calls"]
        if len(unused) > LISTED:
            notes.append(f"the first {LISTED} are listed")
        skipped = sorted(a for a in names if a.lower() in unobservable and a.lower() not in used)
        if skipped:
            notes.append(
                f"not counted, CloudTrail cannot show their use here: {', '.join(skipped[:SHOWN])}"
                + (f" and {len(skipped) - SHOWN} more" if len(skipped) > SHOWN else "")
            )
        yield Hit(
            loc=principal.locate(st.loc, st),
            statement=st,
            args={
                "principal": principal.label,
                "count": f"{len(unused)} action{'s' if len(unused) != 1 else ''}",
                "actions": shown,
                "calls": calls,
            },
            evidence=Evidence(actions=tuple(unused[:LISTED]), notes=tuple(notes)),
        )
