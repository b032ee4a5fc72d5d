"""Condition semantics: operators IAM does not know, keys no action of the statement can see,
operators and values of the wrong type, set operators on the wrong keys, the MFA pattern that
never matches long-term keys, and wildcards under operators that compare literally.

All statements are checked, Deny as well as Allow: a broken condition in a Deny silently
widens what the policy permits. Where the effect matters, the finding says which way the
condition fails (the statement never applies, or always applies) and the severity follows.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import ipaddress
import re
from collections.abc import Iterator

from iamlint import globs
from iamlint.checks import Hit, RuleContext, check, per_action_list
from iamlint.checks.condition_keys import KeyTable, Operator, is_variable_or_placeholder, knowledge
from iamlint.checks.scope import grant
from iamlint.model import Condition, Evidence, PolicyDocument, Severity, Statement

_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
# W3C profile of ISO 8601 (what IAM documents for date conditions), or epoch seconds.
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?)?)?$|^\d+$")
_VARIABLE = re.compile(r"\$\{[^}]*\}")


def _conditions(doc: PolicyDocument) -> Iterator[tuple[Statement, Condition]]:
    for st in doc.statements:
        for cond in st.conditions:
            yield st, cond


def _absent_key_outcome(op: Operator, allow: bool) -> tuple[str, bool]:
    """What a condition on a key that is never in the request does: (explanation, widens access?).

    IAM: a missing key makes a negated operator true and every other operator false, and
    `...IfExists` true (IAM User Guide, condition operators).
    """
    if op.negated or op.if_exists:
        if allow:
            return (
                "the condition is always true, so the Allow applies as if it had no condition",
                True,
            )
        return "the condition is always true, so the Deny applies to every request it names", False
    if allow:
        return "the condition never matches, so the Allow grants nothing", False
    return "the condition never matches, so the Deny never applies and protects nothing", True


@check("IAM170", pure=True)
def unknown_operator(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    k = knowledge(ctx)
    names = k.operator_names()
    for st, cond in _conditions(doc):
        op = k.operator(cond.operator)
        if op.base is not None:
            continue
        bare = cond.operator.split(":", 1)[-1]
        bare = bare[: -len("IfExists")] if bare.lower().endswith("ifexists") else bare
        match = difflib.get_close_matches(bare, names, n=1, cutoff=0.6)
        yield Hit(
            loc=cond.loc,
            statement=st,
            args={
                "operator": cond.operator,
                "hint": f"; did you mean {match[0]!r}?" if match else "",
            },
            evidence=Evidence(conditions=(cond.key,)),
        )


@check("IAM171", pure=True)
def null_with_if_exists(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    k = knowledge(ctx)
    for st, cond in _conditions(doc):
        op = k.operator(cond.operator)
        if op.family == "Null" and op.if_exists:
            yield Hit(
                loc=cond.loc,
                statement=st,
                args={"operator": cond.operator, "key": cond.key},
                evidence=Evidence(conditions=(cond.key,)),
            )


@per_action_list("conditions.statement_keys")
def _statement_keys(ctx: RuleContext, st: Statement) -> tuple[KeyTable, bool, frozenset[str]]:
    """(keys the statement's actions can see, open-ended?, services with unknown actions),
    shared by the statements that list the same actions (the key table of a long list is the
    dear part); never changed once made."""
    g = grant(ctx, st)
    unknown = frozenset(
        text.partition(":")[0].lower() for text, exp in g.per_entry if not exp and text not in ("*", "*:*")
    )
    return knowledge(ctx).statement_keys(g.actions), g.all_actions, unknown


@check("IAM172", pure=True)
def key_not_applicable(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    k = knowledge(ctx)
    for st, cond in _conditions(doc):
        key = cond.key
        if is_variable_or_placeholder(key) or k.is_global(key) or k.web_identity_claim(key):
            continue
        op = k.operator(cond.operator)
        if op.base is None:
            continue  # IAM170 reports the operator; the key may be fine
        seen, open_ended, unknown = _statement_keys(ctx, st)
        if seen.get(key) is not None:
            continue
        services = k.services_of(key)
        if any(s in unknown for s in services) or key.partition(":")[0].lower() in unknown:
            continue  # an unknown action (IAM111) of that service: its keys are unknown too
        known = k.lookup(key)
        if open_ended and known is not None:
            continue  # "*" or NotAction reaches some action that sees the key
        same_service = known is not None and any(a.service == known.origin for a in grant(ctx, st).actions)
        if known is None:
            prefix = key.partition(":")[0]
            if prefix.lower() == "aws":
                problem = "is not an AWS global condition key"
            elif not services:
                problem = f"is not a condition key of any service (no service has the prefix {prefix!r})"
            else:
                problem = f"is not a condition key of {', '.join(services)}"
        elif same_service:
            # The catalogue lists keys per action; AWS's own managed policies use a few keys
            # on actions of the same service that the catalogue does not list them for, so
            # this is reported lower.
            problem = f"is a key of {known.origin}, but the catalogue lists it for none of {', '.join(st.action_texts)}"
        else:
            actions = ", ".join(st.action_texts)
            problem = f"is a key of {known.origin}, but none of the statement's actions ({actions}) supports it"
        effect, widens = _absent_key_outcome(op, st.is_allow)
        severity = Severity.HIGH if widens else Severity.MEDIUM
        if same_service:
            severity = severity.lowered()
        yield Hit(
            loc=cond.loc,
            statement=st,
            args={"key": key, "problem": problem, "effect": effect},
            evidence=Evidence(actions=st.action_texts, conditions=(key,)),
            severity=severity,
        )


@check("IAM173", pure=True)
def operator_type_mismatch(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    k = knowledge(ctx)
    for st, cond in _conditions(doc):
        op = k.operator(cond.operator)
        if op.family is None or op.family == "Null":
            continue
        info = k.lookup(cond.key)
        if info is None:
            continue
        families = k.families_for(info)
        if not families or op.family in families:
            continue
        if op.family == "Arn" and info.type == "String" and all(_arn_like(v) for v in cond.values):
            continue  # ARN operators on a string key that holds ARNs (kms:EncryptionContext:aws:logs:arn)
        yield Hit(
            loc=cond.loc,
            statement=st,
            args={
                "operator": cond.operator,
                "family": op.family,
                "key": cond.key,
                "type": info.type,
                "expected": " or ".join(families),
            },
            evidence=Evidence(conditions=(cond.key,), notes=(f"{cond.key} is {info.type}",)),
        )


def _arn_like(value: str) -> bool:
    return value.startswith("arn:") or set(value) <= {"*", "?"} or is_variable_or_placeholder(value)


def _value_problem(kind: str, value: str) -> str | None:
    if kind == "number" and not _NUMBER.match(value):
        return "is not a number"
    if kind == "date" and not _DATE.match(value):
        return "is not an ISO 8601 date (2024-01-31T12:00:00Z) or epoch seconds"
    if kind == "boolean" and value.lower() not in ("true", "false"):
        return 'is not "true" or "false"'
    if kind == "ip":
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            return "is not an IP address or CIDR range"
    if kind == "base64":
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return "is not base64"
    return None


@check("IAM174", pure=True)
def invalid_value(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    k = knowledge(ctx)
    for st, cond in _conditions(doc):
        op = k.operator(cond.operator)
        if op.family is None:
            continue
        kind = k.family_values.get(op.family, "any")
        if kind == "any":
            continue
        for value in cond.values:
            if is_variable_or_placeholder(value):
                continue
            problem = _value_problem(kind, value)
            if problem is None:
                continue
            yield Hit(
                loc=cond.loc,
                statement=st,
                args={
                    "value": value,
                    "operator": cond.operator,
                    "key": cond.key,
                    "problem": problem,
                },
                evidence=Evidence(conditions=(cond.key,)),
            )


@check("IAM175", pure=True)
def set_operator_on_single_valued(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    k = knowledge(ctx)
    for st, cond in _conditions(doc):
        op = k.operator(cond.operator)
        if op.set_qualifier is None or op.base is None:
            continue
        info = k.lookup(cond.key)
        if info is None or info.multivalued:
            continue
        if op.set_qualifier == "ForAllValues":
            effect = (
                "ForAllValues is true when the key is absent from the request, so the statement also "
                "applies to every request without it"
            )
            severity = Severity.HIGH if st.is_allow and not op.negated else Severity.MEDIUM
        else:
            effect = "ForAnyValue on a single value works like the plain operator but hides the intent"
            severity = Severity.LOW
        yield Hit(
            loc=cond.loc,
            statement=st,
            args={
                "operator": cond.operator,
                "key": cond.key,
                "effect": effect,
                "plain": op.written.split(":", 1)[1],
            },
            evidence=Evidence(conditions=(cond.key,)),
            severity=severity,
        )


@check("IAM176", pure=True)
def multivalued_without_set_operator(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    k = knowledge(ctx)
    for st, cond in _conditions(doc):
        op = k.operator(cond.operator)
        if op.set_qualifier is not None or op.base is None or op.family == "Null":
            continue
        info = k.lookup(cond.key)
        if info is None or not info.multivalued:
            continue
        yield Hit(
            loc=cond.loc,
            statement=st,
            args={"operator": cond.operator, "key": cond.key},
            evidence=Evidence(conditions=(cond.key,)),
        )


@check("IAM177", pure=True)
def mfa_condition_misuse(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    k = knowledge(ctx)
    for st, cond in _conditions(doc):
        op = k.operator(cond.operator)
        if op.family != "Bool" or op.if_exists or cond.key.lower() != "aws:multifactorauthpresent":
            continue
        if "false" not in (v.lower() for v in cond.values):
            continue
        # The key is absent, not false, for requests signed with long-term access keys
        # (IAM User Guide, aws:MultiFactorAuthPresent); Bool false never matches them.
        if st.is_allow:
            problem = (
                "matches only temporary credentials obtained without MFA; requests signed with "
                "long-term access keys carry no MFA key at all, so it never matches them. To require "
                'MFA, allow with "true"'
            )
            severity = None
        else:
            problem = (
                "does not deny requests signed with long-term access keys: for them the key is "
                'absent, and Bool "false" does not match an absent key; use BoolIfExists'
            )
            severity = Severity.HIGH
        yield Hit(
            loc=cond.loc,
            statement=st,
            args={"operator": cond.operator, "problem": problem},
            evidence=Evidence(conditions=(cond.key,)),
            severity=severity,
        )


@check("IAM178", pure=True)
def wildcard_in_equals(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    k = knowledge(ctx)
    for st, cond in _conditions(doc):
        op = k.operator(cond.operator)
        if op.family != "String" or op.wildcards:
            continue
        # ${*} and ${?} are the documented way to write a literal * or ?.
        stray = [v for v in cond.values if globs.has_wildcard(_VARIABLE.sub("", v))]
        if not stray:
            continue
        like = op.base.replace("Equals", "Like").replace("IgnoreCase", "") if op.base else "StringLike"
        yield Hit(
            loc=cond.loc,
            statement=st,
            args={"operator": cond.operator, "key": cond.key, "value": stray[0], "like": like},
            evidence=Evidence(conditions=(cond.key,)),
        )
