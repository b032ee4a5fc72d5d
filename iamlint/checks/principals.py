"""Who a Principal names, and which of a statement's conditions narrow who can act.

Shared by the trust-policy and resource-policy rules: a principal is classified once (anyone,
an account, a role or user, a service, an identity provider) and a statement's conditions are
read against `rules/data/principal_conditions.yaml` to say whether they suppress or only lower a
finding about a broad principal, and which keys were taken into account.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from iamlint import globs
from iamlint.checks import RuleContext
from iamlint.checks.condition_keys import constrains, knowledge
from iamlint.model import Condition, PolicyDocument, PolicyKind, Principal, Statement
from iamlint.ruleset import read_data_table

_ACCOUNT_ID = re.compile(r"^\d{12}$")
# An IAM unique id (AIDA... users, AROA... roles): four letters, then seventeen characters or more
# (21 in all today; IAM User Guide, "IAM identifiers: Unique identifiers").
_UNIQUE_ID = re.compile(r"^A[A-Z]{3}[A-Z0-9]{17,}$")
_IAM_ARN = re.compile(r"^arn:[^:]*:(iam|sts)::([^:]*):(.*)$", re.IGNORECASE)
OWN_ACCOUNT = "<AWS::AccountId>"  # the loader's placeholder for the stack's own account


@dataclass(frozen=True, slots=True)
class Who:
    """A principal, classified."""

    kind: str  # public, account, principal, service, federated, canonical, unknown
    account: str | None  # 12-digit id, OWN_ACCOUNT, or None when not tied to one account
    text: str
    principal: Principal


def classify(p: Principal) -> Who:
    text = p.value.text
    if p.kind == "*" or (p.kind == "AWS" and text == "*"):
        return Who("public", None, text, p)
    if p.kind == "Service":
        return Who("service", None, text, p)
    if p.kind == "Federated":
        return Who("federated", None, text, p)
    if p.kind == "CanonicalUser":
        return Who("canonical", None, text, p)
    if _ACCOUNT_ID.match(text):
        return Who("account", text, text, p)
    if text == OWN_ACCOUNT:
        return Who("account", OWN_ACCOUNT, text, p)
    m = _IAM_ARN.match(text)
    if m is None:
        return Who("unknown", None, text, p)
    account, rest = m.group(2), m.group(3)
    if globs.has_wildcard(account):
        return Who("public", None, text, p)  # any account's principals
    if not _ACCOUNT_ID.match(account) and account != OWN_ACCOUNT:
        # arn:aws:iam::cloudfront:user/... (an origin access identity) and other AWS-owned names
        return Who("principal", None, text, p)
    kind = "account" if rest == "root" else "principal"
    return Who(kind, account, text, p)


def who(st: Statement) -> list[Who]:
    return [classify(p) for p in st.principals]


@dataclass(frozen=True, slots=True)
class Narrowing:
    """What a statement's conditions do to a broad principal."""

    suppressing: tuple[Condition, ...]
    lowering: tuple[Condition, ...]
    # Why conditions on these keys pin no one (`aws:PrincipalArn: arn:aws:iam::*:role/*`).
    open_notes: tuple[str, ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.key for c in (*self.suppressing, *self.lowering)))

    def describe(self) -> str:
        out = ""
        if self.suppressing or self.lowering:
            out = f" (condition on {', '.join(self.keys)} taken into account)"
        return out + "".join(f" ({note})" for note in self.open_notes)


def _table(ctx: RuleContext) -> dict[str, Any]:
    cached = ctx.cache.get("principal_conditions")
    if cached is None:
        raw: Any = read_data_table("principal_conditions.yaml")
        cached = {
            "restricting": {str(e["key"]).lower(): e for e in raw["restricting_keys"]},
            "deputy": frozenset(str(e["key"]).lower() for e in raw["confused_deputy_keys"]),
        }
        ctx.cache["principal_conditions"] = cached
    return cached


def _open_network(cond: Condition) -> bool:
    """An address condition that admits every address (0.0.0.0/0, ::/0) narrows nothing."""
    for v in cond.values:
        try:
            if ipaddress.ip_network(v, strict=False).prefixlen == 0:
                return True
        except ValueError:
            continue
    return False


def _value_pins(how: str, value: str) -> bool:
    """Does one value of a pattern operator (StringLike, ArnLike) name specific principals or
    sources? Values are alternatives, so one that does not opens the whole condition.

    `how` says which part of the value must be free of wildcards (principal_conditions.yaml,
    `pattern`): `literal` the whole value (`o-*`, `vpce-*`, `1111*` pin nothing); `arn-owner` an
    ARN's account field, or for ARNs without one (S3) the resource's first segment
    (`arn:aws:iam::*:role/*` and `arn:aws:s3:::*` pin nothing, `arn:aws:iam::111122223333:role/*`
    pins an account); `path-root` an organization path's first segment (the organization);
    `id-before-colon` a unique id before its `:session` part (`AROA...:*`)."""
    if not globs.has_wildcard(value):
        return True  # template placeholders (`<AWS::AccountId>`) stand for one specific value
    if how == "arn-owner":
        parts = value.split(":", 5)
        if len(parts) < 6:
            return False  # `arn:*`, `arn:aws:iam::*`: the wildcard spans the account
        account, rest = parts[4], parts[5]
        if account:
            return not globs.has_wildcard(account)
        owner = re.split(r"[/:]", rest, maxsplit=1)[0]
        return bool(owner) and not globs.has_wildcard(owner)
    if how == "path-root":
        root = value.split("/", 1)[0]
        return bool(root) and not globs.has_wildcard(root)
    if how == "id-before-colon":
        head, colon, _ = value.partition(":")
        if colon and head and not globs.has_wildcard(head):
            return True
        # A whole unique id then a wildcard (`AROA1234567890EXAMPLE*`): still that one principal.
        return _UNIQUE_ID.match(re.split(r"[*?]", value, maxsplit=1)[0]) is not None
    return False


_PART = {
    "literal": "whole value",
    "arn-owner": "account",
    "path-root": "organization",
    "id-before-colon": "principal id",
}


def open_value(ctx: RuleContext, cond: Condition) -> str | None:
    """Why a constraining condition still pins no one (a note naming the value), or None."""
    k = knowledge(ctx)
    if not k.operator(cond.operator).wildcards:
        return None  # Equals operators compare literally (IAM178 reports stray wildcards)
    entry = _table(ctx)["restricting"].get(cond.key.lower())
    how = (
        str(entry.get("pattern", "literal"))
        if entry is not None
        else "arn-owner"
        if cond.key.lower().endswith("arn")
        else "literal"
    )
    for v in cond.values:
        if not _value_pins(how, v):
            part = _PART[how]
            if how == "arn-owner" and len(fields := v.split(":", 5)) == 6 and not fields[4]:
                part = "resource's name (its ARN has no account field)"
            return f'condition on {cond.key} pins no one: "{v}" leaves the {part} to a wildcard'
    return None


def pins_values(ctx: RuleContext, cond: Condition) -> bool:
    """A condition that constrains, and whose every alternative value pins something."""
    return constrains(knowledge(ctx), cond) and open_value(ctx, cond) is None


def narrowing(ctx: RuleContext, st: Statement, exclude: frozenset[str] = frozenset()) -> Narrowing:
    """The statement's conditions that narrow who can act, split by how much they narrow."""
    table = _table(ctx)["restricting"]
    k = knowledge(ctx)
    suppressing: list[Condition] = []
    lowering: list[Condition] = []
    opened: list[str] = []
    for cond in st.conditions:
        entry = table.get(cond.key.lower())
        if entry is None or cond.key.lower() in exclude:
            continue
        if not constrains(k, cond):
            continue
        if "value" in entry and any(str(v).lower() != str(entry["value"]).lower() for v in cond.values):
            continue  # `AccessedViaMountTarget: "false"` pins nothing; only the table's value does
        note = open_value(ctx, cond)
        if note is not None:
            opened.append(note)
            continue
        if entry["narrows"] == "network" and _open_network(cond):
            continue
        (suppressing if entry["effect"] == "suppress" else lowering).append(cond)
    return Narrowing(tuple(suppressing), tuple(lowering), tuple(opened))


def source_conditions(ctx: RuleContext, st: Statement) -> tuple[Condition, ...]:
    """Conditions that tie a service principal's request to the resource that caused it."""
    deputy = _table(ctx)["deputy"]
    return tuple(c for c in st.conditions if c.key.lower() in deputy and pins_values(ctx, c))


def resource_account(doc: PolicyDocument, st: Statement) -> str | None:
    """The account that owns the resource a statement protects, as far as the policy says.

    A literal account in the statement's resource ARNs wins; a policy from a template belongs
    to the stack's account (OWN_ACCOUNT) when no literal says otherwise; a bare policy file
    with no account in its ARNs gives no answer (None).
    """
    for text in st.resource_texts:
        parts = globs.split_arn(text)
        if len(parts) >= 5 and _ACCOUNT_ID.match(parts[4]):
            return parts[4]
    for text in st.resource_texts:
        if OWN_ACCOUNT in text:
            return OWN_ACCOUNT
    src = doc.source
    if src is not None and src.arn:
        parts = globs.split_arn(src.arn)
        if len(parts) >= 5 and _ACCOUNT_ID.match(parts[4]):
            return parts[4]
    if doc.loc.logical_id is not None or (src is not None and src.logical_id is not None):
        return OWN_ACCOUNT
    return None


def known_accounts(ctx: RuleContext) -> frozenset[str] | None:
    """settings["known_accounts"], or None when not configured."""
    raw = ctx.settings.get("known_accounts")
    if raw is None:
        return None
    if isinstance(raw, (str, int)):
        raw = [raw]
    return frozenset(str(a).strip() for a in raw)


def policy_kind(doc: PolicyDocument) -> PolicyKind:
    """The document's kind, inferred for a bare policy file whose use the loader cannot tell.

    The grammar decides: a statement with a Principal and no Resource is a trust policy
    statement (trust policies have no Resource element); with both it is a resource policy;
    a document without principals is an identity policy.
    """
    if doc.kind is not PolicyKind.UNKNOWN:
        return doc.kind
    with_principal = [st for st in doc.statements if st.principal_key is not None]
    if not with_principal:
        return PolicyKind.IDENTITY
    if all(st.resource_key is None for st in with_principal):
        return PolicyKind.TRUST
    return PolicyKind.RESOURCE


def allows_with_principal(doc: PolicyDocument, kind: PolicyKind) -> Iterator[Statement]:
    """The Allow statements naming a Principal of a document of this kind (trust or resource
    policy); none when the document is of another kind."""
    if policy_kind(doc) is not kind:
        return
    for st in doc.statements:
        if st.is_allow and st.principal_key == "Principal":
            yield st
