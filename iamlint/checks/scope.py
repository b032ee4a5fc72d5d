"""What one statement grants, worked out once per statement through the catalogue.

Checks share these answers (expanded actions, whether a resource is `*`, which conditions
really narrow the grant) through `RuleContext.subjects`, so a statement is expanded once
however many rules look at it, and statements listing the same actions share one expansion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from iamlint import globs
from iamlint.catalog import ActionInfo
from iamlint.checks import RuleContext, per_subject
from iamlint.checks.condition_keys import admits_any_value, knowledge
from iamlint.model import Condition, Statement
from iamlint.ruleset import read_data_table


@dataclass(frozen=True, slots=True)
class Grant:
    """The actions a statement names, expanded, and the shape of its resources."""

    # Lower-case full names the Action/NotAction entries expand to: a set, or for a few names a
    # tuple (see `_expansion`); ask it only `in`.
    named: frozenset[str] | tuple[str, ...]
    actions: tuple[ActionInfo, ...]  # what an Action statement grants; empty for "*" and NotAction
    per_entry: tuple[tuple[str, tuple[ActionInfo, ...]], ...]  # each entry -> its expansion
    all_actions: bool  # Action "*" (or "*:*"), or NotAction: open-ended
    star_resource: bool  # Resource "*" (or a pattern that matches every ARN)
    constraints: tuple[Condition, ...]  # conditions that really narrow the grant
    not_action: bool
    services: frozenset[str] = frozenset()  # lower-case prefixes of `named`

    def allows(self, full_name: str) -> bool:
        """Does the statement name this action (lower-case `service:action`) as granted?

        Answered without expanding "*" or NotAction to the whole catalogue, which would
        read every service's file.
        """
        if self.not_action:
            return full_name not in self.named
        return self.all_actions or full_name in self.named


_Expansion = tuple[
    frozenset[str] | tuple[str, ...],
    tuple[ActionInfo, ...],
    tuple[tuple[str, tuple[ActionInfo, ...]], ...],
    frozenset[str],
    bool,
]


_FEW_NAMES = 8


def _expansion(ctx: RuleContext, texts: tuple[str, ...]) -> _Expansion:
    """What a list of Action entries expands to, shared by the statements that list the same
    entries (an account repeats a policy in many roles; `ec2:*` alone names 700 actions)."""
    key = ("expansion", texts)
    cached = ctx.subjects.get(key)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    shared: _Shared | None = ctx.subjects.get("expansion_parts")
    if shared is None:
        shared = ctx.subjects["expansion_parts"] = ({}, {})
    entries, service_sets = shared
    all_actions = any(t in ("*", "*:*") for t in texts)
    per_entry = tuple(entries.get(t) or _entry(ctx, entries, t) for t in texts)
    # The catalogue holds one ActionInfo per key, so a later entry naming an action again
    # stores the same object where the first put it: the first-named order is kept.
    seen = {a.key: a for _, exp in per_entry for a in exp}
    actions = tuple(seen.values())
    services = frozenset([a.service for a in actions])
    # A few names are kept in a tuple: a frozenset of up to 4 takes 216 bytes and of 5 to 8 728,
    # a tuple 56 + 8 per name, and finding a name among 8 is about as quick either way
    # (0.5 MB on the bench's 3,000-role dump, where 2,100 of 2,900 distinct lists name 8 or fewer).
    named = tuple(seen) if len(seen) <= _FEW_NAMES else frozenset(seen)
    found = (named, actions, per_entry, service_sets.setdefault(services, services), all_actions)
    ctx.subjects[key] = found
    return found


# Parts that many lists of entries have in common, kept once for the check: each entry with its
# expansion (the bench's 3,000-role dump lists 31,000 entries, 12,000 distinct, in 2,900
# distinct lists) and each set of services (600 distinct).
_Shared = tuple[dict[str, tuple[str, tuple[ActionInfo, ...]]], dict[frozenset[str], frozenset[str]]]


def _entry(
    ctx: RuleContext, entries: dict[str, tuple[str, tuple[ActionInfo, ...]]], text: str
) -> tuple[str, tuple[ActionInfo, ...]]:
    found = entries[text] = (text, () if text in ("*", "*:*") else ctx.catalog.expand(text))
    return found


def excludes_every_resource(st: Statement) -> bool:
    """`NotResource` holding a pattern for every ARN (`"*"`): the statement names no resource."""
    return st.not_resource and any(globs.is_total(r) for r in st.resource_texts)


def all_but_listed(st: Statement) -> bool:
    """`NotResource` with a list that leaves resources over: every resource but those."""
    return st.not_resource and bool(st.resource_texts) and not excludes_every_resource(st)


@per_subject
def grant(ctx: RuleContext, st: Statement) -> Grant:
    """What the statement's Action or NotAction entries grant, from the catalogue."""
    named, actions, per_entry, services, all_actions = _expansion(ctx, st.action_texts)
    star_resource = st.resource_key == "Resource" and any(globs.is_total(r) for r in st.resource_texts)
    open_ended = all_actions or st.not_action
    return Grant(
        named=named,
        actions=() if open_ended else actions,
        per_entry=per_entry,
        all_actions=open_ended,
        star_resource=star_resource,
        constraints=narrowing_conditions(ctx, st.conditions),
        not_action=st.not_action,
        services=services,
    )


def _weak_keys(ctx: RuleContext) -> frozenset[str]:
    cached = ctx.cache.get("weak_condition_keys")
    if cached is None:
        table: Any = read_data_table("weak_conditions.yaml")
        cached = frozenset(str(e["key"]).lower() for e in table["keys"])
        ctx.cache["weak_condition_keys"] = cached
    return cached


# Keys "always included in the request context" (IAM User Guide, "AWS global condition context
# keys", the Availability of each), and iam:PassedToService, which every iam:PassRole to a
# service carries (IAM User Guide, "IAM and AWS STS condition context keys").
_ALWAYS_PRESENT = frozenset(
    {
        "aws:principalarn",
        "aws:principalaccount",
        "aws:principaltype",
        "aws:userid",
        "aws:requestedregion",
        "aws:securetransport",
        "aws:currenttime",
        "aws:epochtime",
        "iam:passedtoservice",
    }
)


# Keys that name the caller: a pattern that names no owner (principal_conditions.yaml) narrows nothing.
_WHO = frozenset({"aws:principalarn", "aws:principalaccount", "aws:userid", "aws:principalorgid"})


def _names_no_one(ctx: RuleContext, cond: Condition) -> bool:
    """Does a pattern value match every caller (`arn:aws:iam::*`, `arn:*:iam::*:*`)? In an
    identity policy the callers are its holders, so a name pattern (`role/deployer-*`) still
    narrows them, whatever account it leaves open; only a value that names nothing at all does
    not."""
    if not knowledge(ctx).operator(cond.operator).wildcards:
        return False
    for v in cond.values:
        fields = globs.padded_arn(v).split(":", 5) if v.startswith("arn:") else [v]
        if len(fields) == 6 and set(fields[5]) <= {"*"} and (not fields[4] or set(fields[4]) <= {"*"}):
            return True
    return False


def narrowing_conditions(ctx: RuleContext, conditions: tuple[Condition, ...]) -> tuple[Condition, ...]:
    """Conditions that limit *which resources or requests* a grant covers.

    Transport and session conditions (TLS, MFA, time of day) make a grant harder to use, but
    every resource stays reachable, so they do not lower the severity of a wildcard.
    A `...IfExists` operator does not narrow when the key may be absent, so it does not count;
    nor does a negated operator (`StringNotEquals aws:ResourceTag/env: prod` leaves every other
    resource);
    nor does "*" on a key every request carries (`StringLike iam:PassedToService "*"`). On
    other keys "*" still narrows: `ec2:ResourceTag/fleet-id: "*"` asks that the tag exist.
    """
    weak = _weak_keys(ctx)
    k = knowledge(ctx)
    out = []
    for cond in conditions:
        if cond.operator.endswith("IfExists") or cond.base_operator == "Null":
            continue
        op = k.operator(cond.operator)
        if op.negated:
            continue  # true for every value but those listed, and when the key is absent
        if cond.key.lower() in weak:
            continue
        if cond.key.lower() in _ALWAYS_PRESENT and admits_any_value(knowledge(ctx), cond):
            continue  # "*" matches whatever value the key has, and it always has one
        if cond.key.lower() in _WHO and _names_no_one(ctx, cond):
            continue  # `aws:PrincipalArn: arn:aws:iam::*` matches every caller
        out.append(cond)
    return tuple(out)


def describe_actions(actions: tuple[ActionInfo, ...] | list[ActionInfo], limit: int = 6) -> str:
    names = sorted(a.full_name for a in actions)
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + f" and {len(names) - limit} more"
