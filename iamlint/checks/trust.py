"""Trust policies: who can assume a role, and whether the conditions really pin them down.

Only Allow statements of trust policies are read (a bare policy file counts when its
statements have a Principal and no Resource). Conditions are understood through
`principals.narrowing` and the web identity provider table; every finding names the
conditions it took into account.
"""

from __future__ import annotations

from collections.abc import Iterator

from iamlint.checks import Hit, RuleContext, check
from iamlint.checks.principals import (
    OWN_ACCOUNT,
    Narrowing,
    allows_with_principal,
    known_accounts,
    narrowing,
    policy_kind,
    who,
)
from iamlint.checks.scope import grant
from iamlint.checks.web_identity import WebTrust, pins, subject_breadth, web_trusts
from iamlint.model import Evidence, PolicyDocument, PolicyKind, Severity, Statement


def _trust_allows(doc: PolicyDocument) -> Iterator[Statement]:
    return allows_with_principal(doc, PolicyKind.TRUST)


def _role_account(doc: PolicyDocument) -> str | None:
    src = doc.source
    if src is not None and src.arn and src.arn.count(":") >= 5:
        account = src.arn.split(":")[4]
        if account.isdigit():
            return account
    if doc.loc.logical_id is not None:
        return OWN_ACCOUNT
    return None


def _lowered(severity: Severity, n: Narrowing) -> Severity | None:
    return severity.lowered() if n.lowering else None


@check("IAM150", pure=True)
def trust_any_principal(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    for st in _trust_allows(doc):
        n = narrowing(ctx, st)
        if n.suppressing:
            continue  # e.g. aws:PrincipalOrgID: not anyone any more
        for w in who(st):
            if w.kind != "public":
                continue
            yield Hit(
                loc=w.principal.value.loc,
                statement=st,
                args={
                    "principal": w.text,
                    "actions": ", ".join(st.action_texts),
                    "conditions": n.describe(),
                },
                evidence=Evidence(actions=st.action_texts, conditions=n.keys),
                severity=_lowered(Severity.CRITICAL, n),
            )


@check("IAM151")
def trust_cross_account(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    own = _role_account(doc)
    for st in _trust_allows(doc):
        n = narrowing(ctx, st)
        # Any pinning condition answers the rule; sts:ExternalId is the one AWS documents
        # for third parties, so it counts fully here even though it only lowers IAM150.
        if n.suppressing or any(c.key.lower() == "sts:externalid" for c in n.lowering):
            continue
        for w in who(st):
            if w.kind != "account" or w.account in (None, OWN_ACCOUNT, own):
                continue
            yield Hit(
                loc=w.principal.value.loc,
                statement=st,
                args={"account": w.account, "principal": w.text, "conditions": n.describe()},
                evidence=Evidence(actions=st.action_texts, conditions=n.keys, notes=(f"account {w.account}",)),
                severity=_lowered(Severity.MEDIUM, n),
            )


@check("IAM152", pure=True)
def unknown_account(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    known = known_accounts(ctx)
    if known is None or policy_kind(doc) not in (PolicyKind.TRUST, PolicyKind.RESOURCE):
        return
    for st in doc.statements:
        if not st.is_allow or st.principal_key != "Principal":
            continue
        for w in who(st):
            if w.account is None or w.account == OWN_ACCOUNT or w.account in known:
                continue
            n = narrowing(ctx, st)
            yield Hit(
                loc=w.principal.value.loc,
                statement=st,
                args={
                    "account": w.account,
                    "principal": w.text,
                    "what": "assume this role" if policy_kind(doc) is PolicyKind.TRUST else "use this resource",
                    "conditions": n.describe(),
                },
                evidence=Evidence(actions=st.action_texts, conditions=n.keys, notes=(f"account {w.account}",)),
                severity=Severity.MEDIUM if n.suppressing or n.lowering else None,
            )


def _web(ctx: RuleContext, doc: PolicyDocument) -> Iterator[WebTrust]:
    for st in _trust_allows(doc):
        yield from web_trusts(ctx, st)


def _provider_label(t: WebTrust) -> str:
    return f"{t.provider.name} ({t.host})" if t.host else t.provider.name


@check("IAM153", pure=True)
def web_identity_no_subject(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    for t in _web(ctx, doc):
        pinned = [c for claim in t.provider.subject for c in t.conditions_on(claim) if pins(ctx, c)]
        if pinned:
            continue
        principal = next(p for p in t.statement.principals if p.value.text == t.principal_text)
        claim = f"{t.host or '<provider>'}:{t.provider.subject[0]}"
        yield Hit(
            loc=principal.value.loc,
            statement=t.statement,
            args={"provider": _provider_label(t), "claim": claim, "why": t.provider.why_subject},
            evidence=Evidence(actions=t.statement.action_texts, notes=(t.provider.name,)),
            severity=t.provider.no_subject,
        )


_LEVEL_SEVERITY = {"owner": Severity.MEDIUM, "all-refs": Severity.LOW}


@check("IAM154", pure=True)
def web_identity_broad_subject(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    for t in _web(ctx, doc):
        for claim in t.provider.subject:
            for cond in t.conditions_on(claim):
                b = subject_breadth(ctx, t, cond, claim)
                if b is None:
                    continue
                yield Hit(
                    loc=cond.loc,
                    statement=t.statement,
                    args={
                        "provider": _provider_label(t),
                        "key": cond.key,
                        "value": b.value,
                        "detail": b.detail,
                    },
                    evidence=Evidence(actions=t.statement.action_texts, conditions=(cond.key,), notes=(b.level,)),
                    severity=t.provider.no_subject if b.level == "any" else _LEVEL_SEVERITY[b.level],
                )


@check("IAM155", pure=True)
def web_identity_no_audience(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    for t in _web(ctx, doc):
        pr = t.provider
        if pr.audience in pr.subject:
            continue  # the audience is the subject for this provider: IAM153 reports it
        if any(pins(ctx, c) for c in t.conditions_on(pr.audience)):
            continue
        principal = next(p for p in t.statement.principals if p.value.text == t.principal_text)
        yield Hit(
            loc=principal.value.loc,
            statement=t.statement,
            args={
                "provider": _provider_label(t),
                "claim": f"{t.host or '<provider>'}:{pr.audience}",
                "expected": pr.audience_value,
                "why": pr.why_audience,
            },
            evidence=Evidence(actions=t.statement.action_texts, notes=(pr.name,)),
            severity=pr.no_audience,
        )


@check("IAM156", pure=True)
def cognito_guest_access(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    for t in _web(ctx, doc):
        if t.host is None or not t.host.lower().startswith("cognito-identity."):
            continue
        if any(pins(ctx, c) for c in t.conditions_on("amr")):
            continue
        principal = next(p for p in t.statement.principals if p.value.text == t.principal_text)
        yield Hit(
            loc=principal.value.loc,
            statement=t.statement,
            args={"claim": f"{t.host}:amr"},
            evidence=Evidence(actions=t.statement.action_texts, conditions=tuple(c.key for _, c in t.claims)),
        )


@check("IAM157", pure=True)
def trust_broad_action(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    for st in _trust_allows(doc):
        g = grant(ctx, st)
        if st.not_action:
            what = f"every action except {', '.join(st.action_texts)} (NotAction)"
        elif g.all_actions:
            what = 'every action ("*")'
        elif any(v.text.lower() == "sts:*" for v in st.actions):
            what = 'every STS action ("sts:*")'
        else:
            continue
        yield Hit(
            loc=st.actions[0].loc,
            statement=st,
            args={"what": what},
            evidence=Evidence(actions=st.action_texts),
        )
