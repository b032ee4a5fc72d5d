"""Privilege escalation and IAM self-modification, judged on what a principal is really granted.

The methods come from `rules/data/privesc_methods.yaml`; which IAM actions rewrite identity
policies comes from the catalogue's "Permissions management" access level. Both are matched
on the principal's effective grants (`effective`): across all its policies, after its Denies
and within its permissions boundary.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from iamlint import globs
from iamlint.catalog import ActionInfo
from iamlint.checks import Hit, RuleContext, check
from iamlint.checks.effective import Effective, Reach, Scope, action_entry, effective, wildcard_name
from iamlint.model import Condition, Evidence, Statement
from iamlint.principals import Principal
from iamlint.ruleset import read_data_table

PASS_ROLE = "iam:passrole"
# The resource types of IAM that hold identity-based permissions: the subjects of IAM121.
IDENTITY_RESOURCE_TYPES = frozenset({"role", "user", "group", "policy"})


@dataclass(frozen=True, slots=True)
class Method:
    id: str
    name: str
    requires: tuple[str, ...]
    any_of: tuple[tuple[str, ...], ...]
    passrole: bool
    source: str
    services: frozenset[str]  # lower-case services of `requires`, for a quick first test
    # Services of every action the method may use but iam (`requires` and `any_of`): where a
    # passed role goes (ec2 for an instance profile, states for a state machine).
    passed_to: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Escalation:
    method: Method
    grants: tuple[tuple[ActionInfo, Reach], ...]  # each action used, with its broadest grant
    scope: Scope  # the narrowest of the grants the method needs

    @property
    def condition_keys(self) -> tuple[str, ...]:
        """The keys of the conditions on the grants that narrow this method: not an
        iam:PassedToService naming the very service the method passes the role to."""
        return tuple(
            dict.fromkeys(
                c.key
                for a, r in self.grants
                for c in r.conditions
                if not (a.key == PASS_ROLE and _names_method_service(c, self.method))
            )
        )


def _names_method_service(cond: Condition, method: Method) -> bool:
    """`iam:PassedToService: states.amazonaws.com` for a Step Functions method (a label of the
    principal, or its part before a hyphen: ecs-tasks for ecs, tasks.apprunner for apprunner)."""
    if cond.key.lower() != "iam:passedtoservice":
        return False
    wanted = method.passed_to
    for v in cond.values:
        value = v.lower()
        if globs.has_wildcard(value):  # `*.amazonaws.com` admits the method's service too
            if any(globs.glob_match(value, f"{w}.amazonaws.com") for w in wanted):
                return True
        elif any(label in wanted or label.split("-")[0] in wanted for label in value.split(".")):
            return True
    return False


def methods(ctx: RuleContext) -> tuple[Method, ...]:
    cached = ctx.cache.get("privesc_methods")
    if cached is None:
        table: Any = read_data_table("privesc_methods.yaml")
        cached = ctx.cache["privesc_methods"] = tuple(
            Method(
                id=str(m["id"]),
                name=str(m["name"]),
                requires=tuple(str(a) for a in m["requires"]),
                any_of=tuple(tuple(str(a) for a in group) for group in m.get("any_of") or ()),
                passrole=bool(m.get("passrole")),
                source=str(m["source"]),
                services=frozenset(str(a).partition(":")[0].lower() for a in m["requires"]),
                passed_to=frozenset(
                    str(a).partition(":")[0].lower()
                    for a in [*m["requires"], *(x for g in m.get("any_of") or () for x in g)]
                )
                - {"iam"},
            )
            for m in table["methods"]
        )
    return cached


def _actions(ctx: RuleContext, method: Method, group: int) -> tuple[ActionInfo, ...] | None:
    """The method's `requires` (group -1) or `any_of[group]` as catalogue actions: for
    `requires`, None when the catalogue lacks one (the method cannot be granted); for a group
    of `any_of`, the ones it has. Looked up once per run, not once per principal, and only when
    a principal gets that far: a one-file run reads no service's file it does not need."""
    table: dict[tuple[str, int], tuple[ActionInfo, ...] | None] = ctx.cache.setdefault("privesc_actions", {})
    key = (method.id, group)
    if key not in table:
        found = [ctx.catalog.action(name) for name in (method.requires if group < 0 else method.any_of[group])]
        kept = tuple(a for a in found if a is not None)
        table[key] = None if group < 0 and len(kept) < len(found) else kept
    return table[key]


def escalations(ctx: RuleContext, eff: Effective) -> Iterator[Escalation]:
    """Every method of the table the principal's effective grants make possible."""
    for method in methods(ctx):
        chosen: list[tuple[ActionInfo, Reach]] = []
        if not eff.might_grant_services(method.services):
            continue
        required = _actions(ctx, method, -1)
        if required is None:
            continue
        for action in required:
            reach = eff.best(action)
            if reach is None:
                break
            chosen.append((action, reach))
        else:
            for index in range(len(method.any_of)):
                options = [(a, r) for a in _actions(ctx, method, index) or () if (r := eff.best(a)) is not None]
                if not options:
                    break
                chosen.append(max(options, key=lambda o: o[1].rank))
            else:
                passes = [r for a, r in chosen if a.key == PASS_ROLE]
                # PassRole limited to named roles cannot hand an arbitrary (admin) role to the
                # service: the method is then bounded by what those roles may do, which this
                # table cannot judge. A role pattern (role/app-*) still counts.
                if method.passrole and (not passes or passes[0].scope < Scope.PATTERN):
                    continue
                yield Escalation(method, tuple(chosen), min(r.scope for _, r in chosen))


def _statements(principal: Principal, grants: tuple[tuple[ActionInfo, Reach], ...]) -> str:
    """ "iam:PassRole at a.yaml:12; ec2:RunInstances at a.yaml:30", in file order."""
    by_statement: dict[int, tuple[list[str], Statement]] = {}
    for action, reach in grants:
        for st in reach.statements:
            by_statement.setdefault(id(st), ([], st))[0].append(action.full_name)

    def order(entry: tuple[list[str], Statement]) -> tuple[str, int]:
        loc = principal.locate(entry[1].loc, entry[1])
        return (loc.file, loc.line or 0)

    # Statements granting the very same actions are one grant made together (`JointReach`):
    # "ssm:SendCommand at lines 2, 3".
    together: dict[tuple[str, ...], list[Statement]] = {}
    for names, st in sorted(by_statement.values(), key=order):
        together.setdefault(tuple(names), []).append(st)
    return "; ".join(f"{', '.join(names)} at {principal.where_all(sts)}" for names, sts in together.items())


def _narrowing(scope: Scope, reaches: list[Reach], keys: tuple[str, ...]) -> tuple[str, int]:
    """A note for the message and how many levels to lower the severity."""
    notes, steps = [], 0
    if scope < Scope.UNSCOPED:
        # Named resources first: an action that always names a document (ssm:SendCommand) is
        # as narrow as its documents, whatever its instance pattern says.
        shown = sorted(
            {p for r in reaches if r.scope == scope for p in r.resources}, key=lambda p: (wildcard_name(p), p)
        )
        notes.append(f"{scope.phrase}: {', '.join(shown[:4])}{' and more' if len(shown) > 4 else ''}")
        steps += 1 if scope == Scope.PATTERN else 2
    if keys:
        notes.append(f"constrained by condition on {', '.join(keys)}")
        steps += 1
    if not notes:
        return "", 0
    return f" ({'; '.join(notes)}, so reported at lower severity)", steps


@check("IAM120")
def privilege_escalation(ctx: RuleContext, principal: Principal) -> Iterator[Hit]:
    eff = effective(ctx, principal)
    if eff.administrator:
        return  # IAM101 reports it: every method is moot for an administrator
    for esc in escalations(ctx, eff):
        keys = esc.condition_keys
        reaches = [r for _, r in esc.grants]
        note, steps = _narrowing(esc.scope, reaches, keys)
        lead, lead_reach = next(((a, r) for a, r in esc.grants if a.key != PASS_ROLE), esc.grants[0])
        yield Hit(
            loc=principal.locate(action_entry(ctx, lead_reach.statement, lead), lead_reach.statement),
            statement=lead_reach.statement,
            args={
                "principal": principal.label,
                "method": esc.method.name,
                "method_id": esc.method.id,
                "grants": _statements(principal, esc.grants),
                "note": note,
            },
            evidence=Evidence(
                actions=tuple(a.full_name for a, _ in esc.grants),
                resources=tuple(dict.fromkeys(p for r in reaches for p in r.resources)),
                conditions=keys,
                notes=(esc.method.id, esc.method.source),
            ),
            lowered=steps,
        )


def rewrites_identity_policies(action: ActionInfo) -> bool:
    """IAM actions that change what a role, user or group may do (catalogue access level)."""
    return (
        action.service == "iam"
        and action.is_permissions_management
        and any(t.lower() in IDENTITY_RESOURCE_TYPES for t in action.resource_types)
    )


def identity_rewriters(ctx: RuleContext) -> tuple[ActionInfo, ...]:
    """Every action of the catalogue `rewrites_identity_policies` holds for (a few dozen): asking
    the principal about each is cheaper than listing all it is granted."""
    cached = ctx.cache.get("identity_rewriters")
    if cached is None:
        cached = ctx.cache["identity_rewriters"] = tuple(
            a for a in ctx.catalog.expand("iam:*") if rewrites_identity_policies(a)
        )
    return cached


def unscoped(eff: Effective, action: ActionInfo) -> Reach | None:
    best = eff.best(action)
    return best if best is not None and best.scope == Scope.UNSCOPED else None


@check("IAM121")
def self_modifying_iam(ctx: RuleContext, principal: Principal) -> Iterator[Hit]:
    eff = effective(ctx, principal)
    if eff.administrator:
        return
    found = [(a, r) for a in identity_rewriters(ctx) if (r := unscoped(eff, a)) is not None]
    if found:
        yield grouped_hit(ctx, principal, found)


EVIDENCE_LIMIT = 100  # actions listed in a finding's evidence; a count says how many more


def grouped_hit(
    ctx: RuleContext,
    principal: Principal,
    found: list[tuple[ActionInfo, Reach]],
    extra: dict[str, object] | None = None,
) -> Hit:
    """One finding for a set of actions a principal is granted, at the first granting entry."""
    found = sorted(found, key=lambda f: f[0].full_name)
    names = [a.full_name for a, _ in found]
    unique = {id(st): st for _, r in found for st in r.statements}
    located = {key: principal.locate(st.loc, st) for key, st in unique.items()}  # once per statement
    places = {key: (loc.file, loc.line or 0, unique[key].index) for key, loc in located.items()}
    # The earliest statement, its first action (the first of `found` at the earliest place);
    # a joint grant leads from its own statement, the others being listed with it.
    earliest = min(places[id(r.statement)] for _, r in found)
    lead, lead_reach = next(f for f in found if places[id(f[1].statement)] == earliest)
    keys = tuple(dict.fromkeys(c.key for _, r in found for c in r.conditions))
    # Lowered only when every grant is conditioned: one unconditioned grant is enough.
    conditioned = all(r.conditions for _, r in found)
    limit = 6
    examples = ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")
    note = f" (constrained by condition on {', '.join(keys)}, so reported at lower severity)" if conditioned else ""
    if all(not a.supports_resource_scoping for a, _ in found):
        # ecr:GetAuthorizationToken: "*" is the only Resource it takes, so scoping is no fix.
        note += " (no resource can scope these: remove them unless the workload calls them)"
    return Hit(
        loc=principal.locate(action_entry(ctx, lead_reach.statement, lead), lead_reach.statement),
        statement=lead_reach.statement,
        args={
            "principal": principal.label,
            "count": len(names),
            "s": "" if len(names) == 1 else "s",
            "examples": examples,
            "statements": principal.where_all(unique.values(), located=located),
            "note": note,
            **(extra or {}),
        },
        evidence=Evidence(
            actions=tuple(names[:EVIDENCE_LIMIT]),
            resources=tuple(dict.fromkeys(p for _, r in found for p in r.resources)),
            conditions=keys if conditioned else (),
            notes=(f"{len(names) - EVIDENCE_LIMIT} more actions",) if len(names) > EVIDENCE_LIMIT else (),
        ),
        lowered=1 if conditioned else 0,
    )
