"""Policy hygiene: AWS managed policies in use, policies on users, redundant statements and entries.

None of these grants more by itself (except what a managed policy grants, which sets its
severity); they make policies harder to review and drift out of the author's control.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from iamlint import globs, managed
from iamlint.checks import Hit, RuleContext, check, for_document_rules
from iamlint.checks.effective import covers, effective
from iamlint.checks.escalation import escalations, rewrites_identity_policies, unscoped
from iamlint.checks.scope import grant
from iamlint.model import Condition, Evidence, PolicyDocument, PolicyKind, Severity, Statement
from iamlint.principals import ADDED_BY_SAM, PRINCIPAL_KINDS, SERVICE_LINKED, standalone


def _owners(doc: PolicyDocument) -> list[str]:
    src = doc.source
    if src is None:
        return []
    out = [f"{src.kind} {src.name}"] if src.kind in PRINCIPAL_KINDS else []
    out += [a for a in src.attached_to if a not in out]
    return out


@check("IAM130")
def aws_managed_policy(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    src = doc.source
    if doc.kind is not PolicyKind.IDENTITY or src is None or not src.policy_name:
        return
    if not managed.is_aws_managed_arn(src.policy_name) or src.via in (SERVICE_LINKED, ADDED_BY_SAM):
        return
    owners = _owners(doc)
    if not owners:
        return  # in an account dump but attached to nothing: grants nobody anything
    severity, grants = _managed_grant(ctx, doc)
    yield Hit(
        loc=doc.loc,
        args={"policy": src.policy_name, "owners": ", ".join(owners), "grants": grants},
        evidence=Evidence(notes=(src.policy_name,)),
        severity=severity,
    )


def _managed_grant(ctx: RuleContext, doc: PolicyDocument) -> tuple[Severity | None, str]:
    """How much the attached document grants: its severity and a phrase for the message."""
    for st in doc.statements:
        g = grant(ctx, st)
        if st.is_allow and g.all_actions and not g.not_action and g.star_resource:
            return Severity.CRITICAL, ", which grants full administrator access"
    eff = effective(ctx, standalone(doc))
    methods = [e.method.id for e in escalations(ctx, eff)]
    iam = [a for a in eff.candidates() if rewrites_identity_policies(a) and unscoped(eff, a)]
    if methods or iam:
        what = (
            f"{len(methods)} privilege-escalation methods ({', '.join(methods[:3])}{', ...' if len(methods) > 3 else ''})"
            if methods
            else f"rewriting any identity policy ({iam[0].full_name})"
        )
        return Severity.HIGH, f", which allows {what}"
    return None, ""


@check("IAM131")
def user_policy(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    del ctx
    if doc.kind is not PolicyKind.IDENTITY or doc.source is None:
        return
    users = [o for o in _owners(doc) if o.startswith("user ")]
    if users:
        src = doc.source
        yield Hit(
            loc=doc.loc,
            args={"policy": src.policy_name or doc.name or src.name, "users": ", ".join(users)},
            evidence=Evidence(notes=tuple(users)),
        )


def _label(st: Statement) -> str:
    return f"{st.sid!r}" if st.sid else f"#{st.index}"


def _same_condition(a: Condition, b: Condition) -> bool:
    return a.operator == b.operator and a.key.lower() == b.key.lower() and set(a.values) == set(b.values)


class _Entries:
    """Action entries of one statement, indexed so that "which entry covers this one?" does
    not compare every pair: only an equal entry, or one with a wildcard in the same service
    (or in its service part), can cover an action pattern."""

    __slots__ = ("exact", "lower", "services", "wild", "wild_service")

    def __init__(self, texts: tuple[str, ...]) -> None:
        self.lower = [t.lower() for t in texts]
        self.exact: dict[str, list[int]] = {}
        self.wild: dict[str, list[int]] = {}
        self.wild_service: list[int] = []
        self.services: set[str] = set()  # services of the entries without a wildcard in theirs
        # Once per statement of every document, over each of its entries (a list of a
        # thousand actions is common): the wildcard tests are written out, not called.
        exact, wild, services = self.exact, self.wild, self.services
        for i, t in enumerate(self.lower):
            same = exact.get(t)
            if same is None:
                exact[t] = [i]
            else:
                same.append(i)
            service, sep, name = t.partition(":")
            if not sep or "*" in service or "?" in service:
                self.wild_service.append(i)
                continue
            services.add(service)
            if "*" in name or "?" in name:
                wild.setdefault(service, []).append(i)

    def may_cover(self, other: _Entries) -> bool:
        """A cheap necessary condition for covering every entry of `other`: each of its
        services is one of these entries' (or these have an entry with a wildcard service)."""
        return bool(self.wild_service) or (not other.wild_service and other.services <= self.services)

    def covering(self, text: str, before: int | None = None) -> int | None:
        """An entry that covers `text`: an equal one (only those before index `before`, when
        given), else a wider one."""
        t = text.lower()
        for i in self.exact.get(t, ()):
            if before is None or i < before:
                return i
        # Entries with a wildcard in the name, then in the service (most lists have neither).
        for wider in (self.wild.get(t.partition(":")[0], ()), self.wild_service):
            for i in wider:
                if self.lower[i] != t and covers(self.lower[i], t):
                    return i
        return None


@for_document_rules
@lru_cache(maxsize=1024)
def _entries(texts: tuple[str, ...]) -> _Entries:
    """Indexed once for IAM132 and IAM133 alike (and for every document that repeats them)."""
    return _Entries(texts)


def _covers(outer: Statement, inner: Statement, entries: _Entries, inner_entries: _Entries) -> bool:
    """Does `outer` apply to every request `inner` applies to (same effect)?

    Proved on the patterns as written, for every string they match, so an action AWS adds
    later cannot break it; a case the proof cannot settle is answered False. `entries` and
    `inner_entries` index the two statements' Action entries.
    """
    if outer.effect != inner.effect or outer.principal_key or inner.principal_key:
        return False
    if outer.not_action or inner.not_action or not inner.actions:
        return False
    if not entries.may_cover(inner_entries):
        return False
    if not all(entries.covering(i) is not None for i in inner.action_texts):
        return False
    if not _resources_cover(outer, inner):
        return False
    # `inner` must be at least as constrained: every condition of `outer` is one of its own.
    return all(any(_same_condition(o, i) for i in inner.conditions) for o in outer.conditions)


def _resources_cover(outer: Statement, inner: Statement) -> bool:
    if outer.resource_key is None or inner.resource_key is None:
        return False
    if outer.resource_key == "Resource":
        if inner.not_resource:
            return any(globs.is_total(o) for o in outer.resource_texts)
        return all(any(covers(o, i) for o in outer.resource_texts) for i in inner.resource_texts)
    if inner.resource_key == "Resource":  # outer: everything except its exceptions
        return not any(globs.patterns_overlap(i, x) for i in inner.resource_texts for x in outer.resource_texts)
    # Both NotResource: inner excludes at least what outer excludes.
    return all(any(covers(i, o) for i in inner.resource_texts) for o in outer.resource_texts)


@check("IAM132", pure=True)
def redundant_statement(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    del ctx
    if doc.kind in (PolicyKind.TRUST, PolicyKind.RESOURCE):
        return  # statements that name principals: containment would need principal sets too
    # Only Allow statements: a Deny that repeats another is belt and braces, and harmless.
    # `_covers` holds only between statements without a principal and with Action entries.
    statements = [st for st in doc.statements if st.is_allow and not st.principal_key and not st.not_action]
    entries = [_entries(st.action_texts) for st in statements]
    # Which statements may cover one of a service (`_Entries.may_cover`): a document of a
    # hundred statements over as many services would otherwise try every pair.
    wild = {i for i, e in enumerate(entries) if e.wild_service}
    by_service: dict[str, set[int]] = {}
    for i, e in enumerate(entries):
        for service in e.services:
            by_service.setdefault(service, set()).add(i)
    for n, inner in enumerate(statements):
        inner_entries = entries[n]
        if not inner.actions:
            continue
        if inner_entries.wild_service:
            candidates = wild
        else:
            candidates = set.intersection(*(by_service[s] for s in inner_entries.services)) | wild
        for m in sorted(candidates):  # in document order: the first that covers is named
            outer = statements[m]
            if m == n or not _covers(outer, inner, entries[m], inner_entries):
                continue
            duplicate = _covers(inner, outer, inner_entries, entries[m])
            if duplicate and outer.index > inner.index:
                continue  # the later of two equal statements is the one reported
            yield Hit(
                loc=inner.loc,
                statement=inner,
                args={
                    "statement": _label(inner),
                    "relation": "repeats" if duplicate else "is covered by",
                    "other": _label(outer),
                },
                evidence=Evidence(
                    actions=inner.action_texts,
                    resources=inner.resource_texts,
                    notes=(f"covered by statement {_label(outer)}",),
                ),
            )
            break


@check("IAM133", pure=True)
def duplicate_action(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    del ctx
    for st in doc.statements:
        entries = _entries(st.action_texts)
        if not entries.wild and not entries.wild_service and len(entries.exact) == len(entries.lower):
            continue  # distinct entries, none wider than another: nothing repeats or covers
        for j, inner in enumerate(st.actions):
            # Of two equal entries, the later one is reported.
            i = entries.covering(inner.text, before=j)
            if i is None:
                continue
            outer = st.actions[i]
            same = entries.lower[i] == entries.lower[j]
            yield Hit(
                loc=inner.loc,
                statement=st,
                args={
                    "entry": inner.text,
                    "other": outer.text,
                    "key": st.action_key,
                    "relation": "repeats" if same else "is already covered by",
                },
                evidence=Evidence(actions=(inner.text, outer.text)),
            )
