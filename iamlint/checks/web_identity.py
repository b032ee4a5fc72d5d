"""Web identity (OIDC) trust: which provider a statement trusts and how much its claims pin.

The provider comes from the Federated principal (`arn:aws:iam::...:oidc-provider/<host>` or a
bare host such as `cognito-identity.amazonaws.com`), or, when a template only references the
provider resource, from the host prefix of the statement's condition keys. What each provider
must pin is data (`rules/data/web_identity_providers.yaml`), including how a subject value is
built, from which iamlint judges what a wildcard in it admits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from iamlint.checks import RuleContext
from iamlint.checks.condition_keys import (
    admits_any_value,
    is_host_prefix,
    is_variable_or_placeholder,
    knowledge,
)
from iamlint.checks.scope import grant
from iamlint.model import Condition, Severity, Statement
from iamlint.ruleset import read_data_table

_FIELD = re.compile(r"\{(owner|name)\}")


@dataclass(frozen=True, slots=True)
class Provider:
    name: str
    hosts: tuple[re.Pattern[str], ...]
    subject: tuple[str, ...]
    subject_format: str | None
    owner_label: str
    name_label: str
    rest_label: str
    audience: str
    audience_value: str
    no_subject: Severity
    no_audience: Severity
    why_subject: str
    why_audience: str


def providers(ctx: RuleContext) -> tuple[Provider, ...]:
    cached = ctx.cache.get("web_identity_providers")
    if cached is None:
        raw: Any = read_data_table("web_identity_providers.yaml")
        cached = tuple(
            Provider(
                name=str(e["name"]),
                hosts=tuple(re.compile(h, re.IGNORECASE) for h in e["hosts"]),
                subject=tuple(str(s) for s in e["subject"]),
                subject_format=e.get("subject_format"),
                owner_label=str(e["owner_label"]),
                name_label=str(e["name_label"]),
                rest_label=str(e.get("rest_label", "value")),
                audience=str(e["audience"]),
                audience_value=str(e["audience_value"]),
                no_subject=Severity.parse(str(e["no_subject"])),
                no_audience=Severity.parse(str(e["no_audience"])),
                why_subject=str(e["why_subject"]),
                why_audience=str(e["why_audience"]),
            )
            for e in raw["providers"]
        )
        ctx.cache["web_identity_providers"] = cached
    return cached


@dataclass(frozen=True, slots=True)
class WebTrust:
    """One Allow statement of a trust policy that trusts an identity provider."""

    statement: Statement
    provider: Provider
    host: str | None  # None when neither the principal nor the keys name it
    principal_text: str
    claims: tuple[tuple[str, Condition], ...]  # (claim, condition) for conditions on the host

    def conditions_on(self, claim: str) -> list[Condition]:
        return [c for name, c in self.claims if name.lower() == claim.lower()]


def _host_of(principal: str) -> str | None:
    if "oidc-provider/" in principal:
        host = principal.split("oidc-provider/", 1)[1]
        return None if is_variable_or_placeholder(host) else host
    if principal.startswith("arn:") or is_variable_or_placeholder(principal):
        return None
    return principal


def _claim(key: str) -> tuple[str, str]:
    """(prefix, claim): the claim is what follows the last colon (`...:sub`)."""
    prefix, _, claim = key.rpartition(":")
    return prefix, claim


def web_trusts(ctx: RuleContext, st: Statement) -> list[WebTrust]:
    """The identity providers an Allow statement trusts, with the conditions on their claims."""
    if not st.is_allow:
        return []
    federated = [p for p in st.principals if p.kind == "Federated" and "saml-provider/" not in p.value.text]
    if not federated:
        return []
    g = grant(ctx, st)
    if not (g.allows("sts:assumerolewithwebidentity") or g.allows("sts:assumerole")):
        return []
    out = []
    for p in federated:
        host = _host_of(p.value.text)
        if host is None:
            for cond in st.conditions:
                prefix, _ = _claim(cond.key)
                if is_host_prefix(prefix) and not is_variable_or_placeholder(prefix):
                    host = prefix
                    break
        provider = next(
            (pr for pr in providers(ctx) if host is None or any(h.fullmatch(host) for h in pr.hosts)),
            # The table ends with the generic provider (`.+`); a host its pattern cannot match
            # (empty, or holding a newline) is that provider's too, not a StopIteration.
            providers(ctx)[-1],
        )
        claims = []
        for cond in st.conditions:
            prefix, claim = _claim(cond.key)
            if host is None or prefix.lower() == host.lower() or is_variable_or_placeholder(prefix):
                claims.append((claim, cond))
        out.append(WebTrust(st, provider, host, p.value.text, tuple(claims)))
    return out


def pins(ctx: RuleContext, cond: Condition) -> bool:
    """Does a condition on a claim admit only the listed values?

    `...IfExists` is accepted: the subject and audience claims are in every token. Negated
    operators, Null and a value that is only wildcards (values are alternatives) are not.
    """
    op = knowledge(ctx).operator(cond.operator)
    if op.base is None or op.negated or op.family == "Null" or not cond.values:
        return False
    return not admits_any_value(knowledge(ctx), cond)


@dataclass(frozen=True, slots=True)
class Breadth:
    level: str  # "any", "owner", "all-refs"
    value: str
    detail: str


def subject_breadth(ctx: RuleContext, trust: WebTrust, cond: Condition, claim: str) -> Breadth | None:
    """The broadest thing one of a pattern condition's values admits, or None if all are narrow.

    A value that is only a wildcard pins nothing: `pins` rejects it, so IAM153 reports the
    missing subject and this function leaves it alone.
    """
    op = knowledge(ctx).operator(cond.operator)
    if not op.wildcards or op.negated:
        return None  # an Equals operator compares literally (IAM178 reports stray wildcards)
    primary = claim.lower() == trust.provider.subject[0].lower()
    worst: Breadth | None = None
    rank = {"any": 3, "owner": 2, "all-refs": 1}
    for value in cond.values:
        if set(value) <= {"*", "?"} or is_variable_or_placeholder(value):
            continue
        b = _breadth(trust.provider, value, claim if not primary else None)
        if b is not None and (worst is None or rank[b.level] > rank[worst.level]):
            worst = b
    return worst


def _breadth(pr: Provider, value: str, other_claim: str | None) -> Breadth | None:
    cut = min((i for i, ch in enumerate(value) if ch in "*?"), default=-1)
    if cut < 0:
        return None
    prefix = value[:cut]
    if pr.subject_format is None or other_claim is not None:
        if prefix == "":
            what = other_claim or f"{pr.name_label} of any {pr.owner_label}"
            return Breadth("any", value, f"any {what}")
        return None
    owner_re, name_re, name_is_last = _field_patterns(pr.subject_format)
    if not owner_re.match(prefix):
        return Breadth("any", value, f"every {pr.name_label} of every {pr.owner_label}")
    owner = owner_re.match(prefix).group(1)  # type: ignore[union-attr]
    full = name_re.match(prefix)
    if full is None or name_is_last:
        started = prefix[owner_re.match(prefix).end() :]  # type: ignore[union-attr]
        extra = f" whose name starts with {started!r}" if started else ""
        return Breadth("owner", value, f"every {pr.name_label} of {pr.owner_label} {owner!r}{extra}")
    if full.end() == len(prefix):
        return Breadth("all-refs", value, f"every {pr.rest_label} of {owner}/{full.group(2)}")
    return None


def _field_patterns(fmt: str) -> tuple[re.Pattern[str], re.Pattern[str], bool]:
    """Regexes matching a literal prefix that fixes {owner}, and one that fixes {owner} and {name}.

    A field is fixed when the prefix holds it and the literal text that follows it; the last
    field of a format with no trailing literal is fixed only by a value without wildcards.
    """
    pieces = _FIELD.split(fmt)  # literal, field, literal, field, literal
    regex = "^" + re.escape(pieces[0])
    patterns: dict[str, str] = {}
    name_is_last = False
    for i in range(1, len(pieces), 2):
        field, after = pieces[i], pieces[i + 1]
        stop = re.escape(after[0]) if after else ""
        regex += f"([^*?{stop}]+)" + re.escape(after)
        patterns[field] = regex
        if field == "name" and not after:
            name_is_last = True
    return (
        re.compile(patterns["owner"], re.IGNORECASE),
        re.compile(patterns["name"], re.IGNORECASE),
        name_is_last,
    )
