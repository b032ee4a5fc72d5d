"""Granted but unused: Access Advisor's answer per principal, and proposals without the unused part.

Access Advisor lists every service a principal's policies allow. A service it never
authenticated to within the tracking period (up to 400 days) is unused; for services with
action-level tracking, a tracked action never used is unused. Untracked actions of a used
service are never called unused: nothing says whether they were used.

Proposals go through the narrower (`iamlint.narrow.narrower.narrow`) as if every action that
may have been used had been observed: every granted action except those of services never used
and tracked actions never used. Services Access Advisor does not report on are kept whole:
nothing shows them unused. The narrower keeps each action at the resources the current policy
grants it on and proves the proposal allows nothing the current policies do not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from iamlint.catalog import Catalog
from iamlint.globs import glob_match
from iamlint.model import PolicyDocument, PolicyKind

MAX_KEPT = 3000  # past this, a proposal listing each action is no policy anyone would attach


@dataclass(frozen=True, slots=True)
class Unused:
    arn: str
    status: str  # COMPLETED, FAILED
    granted_services: tuple[str, ...]
    unused_services: tuple[str, ...]  # namespaces never authenticated to in the tracking period
    tracked_actions: int  # actions with action-level data, over all used services
    unused_actions: tuple[str, ...]  # "s3:PutBucketPolicy": tracked, granted, never used
    last_used: str | None  # the most recent authentication to any service

    @property
    def used_services(self) -> tuple[str, ...]:
        return tuple(s for s in self.granted_services if s not in self.unused_services)

    @property
    def amount(self) -> int:
        """How much unused access, for ranking: services weigh more than single actions."""
        return 10 * len(self.unused_services) + len(self.unused_actions)


def from_advisor(arn: str, report: Mapping[str, Any]) -> Unused:
    granted: list[str] = []
    unused: list[str] = []
    unused_actions: list[str] = []
    tracked = 0
    last: str | None = None
    for entry in report.get("services") or ():
        if not isinstance(entry, Mapping):
            continue
        namespace = str(entry.get("ServiceNamespace", ""))
        granted.append(namespace)
        when = entry.get("LastAuthenticated")
        if not when:
            unused.append(namespace)
            continue
        last = max(last or str(when), str(when))
        for action in entry.get("TrackedActionsLastAccessed") or ():
            tracked += 1
            if isinstance(action, Mapping) and not action.get("LastAccessedTime"):
                unused_actions.append(f"{namespace}:{action.get('ActionName')}")
    return Unused(
        arn, str(report.get("status", "")), tuple(granted), tuple(unused), tracked, tuple(unused_actions), last
    )


def _granted(docs: Sequence[PolicyDocument], catalog: Catalog) -> dict[str, list[str]]:
    """Service -> actions some Allow statement names (NotAction: all it does not name)."""
    patterns = [(st.not_action, st.action_texts) for d in docs for st in d.statements if st.is_allow]
    services: set[str] = set()
    for not_action, texts in patterns:
        if not_action or any(t.split(":", 1)[0] in ("*", "") or "*" in t.split(":", 1)[0] for t in texts):
            services.update(catalog.services())  # a wildcard in the service part: any service
        else:
            services.update(t.split(":", 1)[0].lower() for t in texts)
    out: dict[str, list[str]] = {}
    for service in sorted(services):
        for info in catalog.actions(service).values():
            for not_action, texts in patterns:
                named = any(glob_match(p, info.full_name, case_sensitive=False) for p in texts)
                if named != not_action:
                    out.setdefault(service, []).append(info.full_name)
                    break
    return out


def propose(docs: Sequence[PolicyDocument], unused: Unused, catalog: Catalog) -> tuple[Any, str]:
    """(a narrower `Proposal` without the unused access, "") or (None, why there is none)."""
    from iamlint.narrow.calls import Call  # noqa: PLC0415 - only with --proposals
    from iamlint.narrow.narrower import narrow  # noqa: PLC0415

    identity = [d for d in docs if d.kind is PolicyKind.IDENTITY]
    if not identity:
        return None, "no identity policy"
    never_services = {s.lower() for s in unused.unused_services}
    never_actions = {a.lower() for a in unused.unused_actions}
    kept: list[str] = []
    for service, actions in _granted(identity, catalog).items():
        if service in never_services:
            continue
        # Used, or not in Access Advisor's report at all: nothing shows it unused, so it stays.
        kept.extend(a for a in actions if a.lower() not in never_actions)
    if not kept:
        return None, "it used none of the services it is granted in the tracking period: detach its policies"
    if len(kept) > MAX_KEPT:
        return None, (
            f"it would keep {len(kept)} actions one by one (its policies grant whole services Access "
            "Advisor did not report on); remove the services never used instead"
        )
    calls = []
    for action in kept:
        prefix, name = action.split(":", 1)
        calls.append(
            Call(
                service=prefix,
                operation=name,
                principal=unused.arn,
                role_arn=None,
                session_name=None,
                time=None,
                region=None,
                resources=(),
                parameters={},
                event_source="access-advisor",
            )
        )
    return narrow(identity, calls, catalog, trail_has_data_events=True), ""
