"""The narrower: the least-privilege policy that keeps every observed call working.

Input: a principal's current identity policies and the calls it was seen making. Output: a
proposal whose every line has evidence (the calls that needed it), or is kept from the
original because CloudTrail cannot observe it or because the call's record does not show
what the original's decision turns on (see `judgement`), and two guarantees checked by the evaluator
before anything is shown: every observed successful call is allowed by the proposal, and the
proposal allows nothing the original did not. If either check fails, that is iamlint's bug:
`NarrowingError` is raised instead of returning a proposal.
"""

from __future__ import annotations

import collections
import dataclasses
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from iamlint import globs
from iamlint.catalog import Catalog
from iamlint.evaluator import Request, Verdict, contains, judge
from iamlint.evaluator import pattern_contains as contains_pattern
from iamlint.model import PolicyDocument, PolicyKind
from iamlint.narrow.arns import partition_of
from iamlint.narrow.calls import Call
from iamlint.narrow.judgement import (
    Check,
    ConditionBlock,
    allows,
    condition_block,
    escape_arn,
    judge_call,
    policy_keys,
    request_context,
)
from iamlint.narrow.mapping import MappedCall, iam_actions
from iamlint.policy import parse_policy
from iamlint.ruleset import read_data_table

GENERALIZE = ("none", "prefix", "resource")


class NarrowingError(Exception):
    """The proposal failed its own proof: a bug in iamlint, reported, never shown as output."""


@dataclass(slots=True)
class Evidence:
    """What one (action, resource) line of the proposal rests on."""

    action: str
    resource: str
    count: int = 0
    first: str | None = None
    last: str | None = None
    example: str = ""  # an operation and resource as observed
    basis: str = "observed"  # observed | not observable | passed role | kept: ...
    # The Condition of the original statement this grant keeps: a call the original allowed
    # only under a condition is granted under the same one, never unconditionally.
    condition: ConditionBlock = ()
    # The observed requests this line must allow, as the calls made them (`resource` is how the
    # proposal writes it: a key holding `*` is written `${*}`). Checked by the proof.
    checks: list[Check] = field(default_factory=list, repr=False)
    # A grant kept from a NotResource statement: on every resource but these (`resource` is "*").
    not_resource: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Proposal:
    document: dict[str, Any]
    evidence: tuple[Evidence, ...]
    removed: dict[str, int]  # service -> actions granted before and not kept
    kept_actions: int
    original_actions: int
    denied: tuple[tuple[Call, MappedCall], ...]  # failed calls and what they would need, on what
    unmapped: tuple[tuple[Call, str], ...]
    not_granted: tuple[Evidence, ...]  # observed, but the current policy does not allow it
    notes: tuple[str, ...] = field(default_factory=tuple)
    # Observed, and named by a statement of the current policy whose decision turns on what the
    # evidence does not show (a condition key, a policy variable, a parameter's value): that
    # statement is kept for the action (basis "kept: ..."), and `basis` here says what it turns on.
    undecided: tuple[Evidence, ...] = ()
    # Failed calls whose error shows neither a denial nor an authorised request (throttling,
    # service errors): not counted as use, and listed so that nothing is dropped silently.
    uncounted: tuple[Call, ...] = ()

    @property
    def conditional(self) -> bool:
        """Does the proposal keep conditions or grants it could not judge from the original?"""
        return bool(self.undecided) or any(e.condition for e in self.evidence)


def _unobservable_table() -> dict[str, Any]:
    return read_data_table("unobservable_actions.yaml")  # type: ignore[no-any-return]


def narrow(
    original: Sequence[PolicyDocument],
    calls: Iterable[Call],
    catalog: Catalog,
    *,
    generalize: str = "none",
    workload: str | None = None,  # "lambda" keeps what Lambda's runtime does unseen
    # True: the calls show every data event (they come from code); otherwise each kind of data
    # event counts as recorded once one of its calls is seen.
    trail_has_data_events: bool | None = None,
) -> Proposal:
    identity = [_as_2012(d) for d in original if d.kind in (PolicyKind.IDENTITY, PolicyKind.UNKNOWN)]
    observed: dict[tuple[str, str, ConditionBlock, tuple[str, ...]], Evidence] = {}
    not_granted: dict[tuple[str, str], Evidence] = {}
    undecided: dict[tuple[str, str], Evidence] = {}
    denied: list[tuple[Call, MappedCall]] = []
    unmapped: list[tuple[Call, str]] = []
    uncounted: list[Call] = []
    # (kind of data event, a read?) -> the resources the evidence shows such events recorded
    # for: trails select data events per resource, and as reads, writes or both.
    recorded: dict[tuple[str, bool], list[str]] = collections.defaultdict(list)
    data_events = _data_event_kinds()
    keys = policy_keys(identity)
    for call in calls:
        mapped = iam_actions(call, catalog)
        # A record of any outcome shows that the trail records this kind of data event for
        # this resource; trails select them per bucket, table or function, not per service.
        for a in mapped.actions:
            if a.lower() in data_events:
                recorded[(data_events[a.lower()], _reads(catalog, a))].extend(
                    mapped.resources_for(a) or mapped.resources
                )
        if call.denied:
            denied.append((call, mapped))
            continue
        if not call.authorised:
            uncounted.append(call)  # throttled, a service error: shows nothing about permissions
            continue
        if not mapped.actions:
            unmapped.append((call, mapped.unmapped_reason or "no IAM action"))
            continue
        for action, used_on in _needs(call, mapped):
            known, absent = request_context(call, action)
            # Another service's key is unknown, not absent: Lambda adds lambda:SourceFunctionArn
            # and EC2 ec2:SourceInstanceARN to every request made with their role's credentials.
            ctx = {k: v for k, v in known.items() if k in keys}
            for resource, literal in _resources_for(action, used_on, identity, catalog, call):
                literal = literal and not call.wildcards
                check: Check = (resource, ctx, absent)
                verdict, grants, why = judge_call(identity, action, resource, literal, ctx, absent)
                if verdict is Verdict.NO:
                    _note(not_granted, (action, resource), Evidence(action, resource), call, resource)
                    continue
                if verdict is Verdict.UNKNOWN:
                    _note(undecided, (action, resource), Evidence(action, resource, basis=why), call, resource)
                for granted, condition, excepted in grants:
                    basis = "observed" if verdict is Verdict.YES else f"kept: {why}"
                    ev = _note(
                        observed,
                        (action, granted, condition, excepted),
                        Evidence(action, granted, basis=basis, condition=condition, not_resource=excepted),
                        call,
                        resource,
                    )
                    if verdict is Verdict.YES and check not in ev.checks:
                        ev.checks.append(check)

    kept = list(observed.values())
    kept = _generalize(kept, generalize, identity)
    kept.extend(
        _unobservable(
            identity, catalog, {e.action.lower() for e in kept}, workload, None if trail_has_data_events else recorded
        )
    )
    document = _document(kept)
    proposal_doc = _parse(document)
    if not contains(identity, [proposal_doc], catalog).contained:
        # A grant kept from the original (not observable, or used on no resource the evidence
        # names) can reach into a hole that one of the original's Deny statements cuts; the
        # proposal repeats those Denies, so the hole stays (found by the property tests).
        document["Statement"].extend(_denies(identity, kept))
        proposal_doc = _parse(document)
    _prove(identity, proposal_doc, [e for e in kept if e.basis == "observed"], catalog)
    original_actions, removed = _removed(identity, kept, catalog)
    return Proposal(
        document=document,
        evidence=tuple(sorted(kept, key=lambda e: (e.action, e.resource))),
        removed=removed,
        kept_actions=len({e.action.lower() for e in kept}),
        original_actions=original_actions,
        denied=tuple(denied),
        unmapped=tuple(unmapped),
        not_granted=tuple(not_granted.values()),
        undecided=tuple(undecided.values()),
        uncounted=tuple(uncounted),
    )


def _as_2012(doc: PolicyDocument) -> PolicyDocument:
    """The document in policy language 2012-10-17, meaning the same.

    Without `Version: 2012-10-17` (or with 2008-10-17) `${aws:userid}` is literal text, not a
    policy variable (IAM User Guide, "IAM JSON policy elements: Version"). The proposal is a
    2012-10-17 document, so text copied from such a policy (a grant kept as written, a Deny, a
    condition's values) would start to mean a variable there: `$` is written `${$}` instead.
    `*` and `?` are wildcards in both versions and stay as they are.
    """
    if doc.version == "2012-10-17":
        return doc

    def escape(texts: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(t.replace("$", "${$}") for t in texts)

    statements = tuple(
        dataclasses.replace(
            st,
            resource_texts=escape(st.resource_texts),
            conditions=tuple(dataclasses.replace(c, values=escape(c.values)) for c in st.conditions),
        )
        for st in doc.statements
    )
    return dataclasses.replace(doc, version="2012-10-17", statements=statements)


# S3 object reads whose 404 (NoSuchKey) shows the caller may list the bucket.
_READS_404_NEEDS_LIST = frozenset({"GetObject", "HeadObject", "GetObjectAttributes"})


def _needs(call: Call, mapped: MappedCall) -> list[tuple[str, tuple[str, ...]]]:
    """(action, resources it was used on) for each action the call needed."""
    out = [(action, mapped.resources_for(action) or mapped.resources or _bucket_of(call)) for action in mapped.actions]
    if call.service == "s3" and call.error == "NoSuchKey" and call.operation in _READS_404_NEEDS_LIST:
        buckets = tuple(
            dict.fromkeys(
                r.split("/", 1)[0] for r in mapped.resources if r.startswith("arn:") and ":::" in r and "/" in r
            )
        )
        if buckets:
            out.append(("s3:ListBucket", buckets))
    return out


def _bucket_of(call: Call) -> tuple[str, ...]:
    """The bucket an S3 call names when its record names no object (DeleteObjects logs no keys):
    what it used lies inside that bucket (`_resources_for`), nowhere else."""
    bucket = call.parameters.get("bucketName") if call.service == "s3" else None
    if not isinstance(bucket, str) or not bucket or "/" in bucket:
        return ()
    return (f"arn:{partition_of(call.region, call.principal)}:s3:::{bucket}",)


def _note(seen: dict[Any, Evidence], key: Any, new: Evidence, call: Call, resource: str) -> Evidence:
    """The evidence line for `key` (made from `new` the first time), with `call` counted in."""
    ev = seen.get(key)
    if ev is None:
        ev = seen[key] = new
        ev.example = f"{call.operation} {resource}"
    ev.count += 1
    if call.time:
        ev.first = min(ev.first or call.time, call.time)
        ev.last = max(ev.last or call.time, call.time)
    return ev


def _resources_for(
    action: str, resources: tuple[str, ...], original: Sequence[PolicyDocument], catalog: Catalog, call: Call
) -> list[tuple[str, bool]]:
    """The resources the call used `action` on, each with whether it is an ARN the call named
    (True) or a pattern standing for what the evidence does not name (False)."""
    info = catalog.action(action)
    if info is not None and not info.supports_resource_scoping:
        return [("*", False)]
    usable = [(r, True) for r in resources if info is None or catalog.resource_matches(info, r)]
    if usable:
        return usable
    # A resource that holds what the action names (DeleteObjects names its bucket, not its keys):
    # whatever the call used lies inside it, and nowhere else.
    inside = [
        escape_arn(r) + "/*"
        for r in resources
        if info is not None and catalog.resource_matches(info, escape_arn(r) + "/*")
    ]
    if inside:
        return [(p, False) for p in dict.fromkeys(inside)]
    # The evidence names no resource this action applies to: keep what the original grants
    # the action on, so the workload keeps working and the proposal stays inside the original.
    out: list[str] = []
    for doc in original:
        for st in doc.statements:
            if (
                st.is_allow
                and st.resource_key == "Resource"
                and not st.not_action
                and any(globs.glob_match(a, action, case_sensitive=False) for a in st.action_texts)
            ):
                out.extend(r for r in st.resource_texts if _could_be_where(r, call))
    return [(r, False) for r in sorted(set(out)) or ["*"]]


def _could_be_where(pattern: str, call: Call) -> bool:
    """Could the pattern name a resource where the call was made? A literal Region or account
    other than the call's cannot (a topic in eu-west-1 for a call in us-east-1)."""
    fields = pattern.split(":", 5)
    if len(fields) < 6:
        return True
    for field_, value in ((fields[3], call.region), (fields[4], call.account)):
        if (
            value
            and field_
            and not globs.has_wildcard(field_)
            and "<" not in field_
            and "$" not in field_
            and field_ != value
        ):
            return False
    return True


def _generalize(kept: list[Evidence], how: str, original: Sequence[PolicyDocument]) -> list[Evidence]:
    """Merge object paths under one pattern, never beyond what the original allows.

    `prefix`: the keys seen in one bucket (or other path-shaped resource) become their
    longest common `/`-bounded prefix followed by `*`; a single key stays exact. `resource`:
    every key seen in a bucket becomes `bucket/*`. Names of tables, queues and functions are
    never widened.
    """
    if how == "none":
        return kept
    groups: dict[tuple[str, str], list[Evidence]] = collections.defaultdict(list)
    out: list[Evidence] = []
    for ev in kept:
        parts = globs.split_arn(ev.resource)
        if (
            len(parts) < 6
            or parts[2] != "s3"
            or "/" not in parts[5]
            or globs.has_wildcard(ev.resource)
            or ev.condition
            or ev.basis != "observed"
        ):
            out.append(ev)  # conditional grants keep their own statements
            continue
        groups[(ev.action, ":".join(parts[:5]) + ":" + parts[5].split("/", 1)[0])].append(ev)
    for (action, container), evs in groups.items():
        keys = [globs.split_arn(e.resource)[5].split("/", 1)[1] for e in evs]
        if how == "prefix":
            if len(evs) == 1:
                out.extend(evs)
                continue
            common = _common_prefix(keys)
            pattern = f"{container}/{common}*"
        else:
            pattern = f"{container}/*"
        if not _allowed_pattern(original, action, pattern):
            out.extend(evs)  # the pattern would reach past the original grant
            continue
        first = min((e.first for e in evs if e.first), default=None)
        last = max((e.last for e in evs if e.last), default=None)
        merged = Evidence(action, pattern, sum(e.count for e in evs), first, last, evs[0].example)
        merged.checks = [c for e in evs for c in e.checks]
        out.append(merged)
    return out


def _common_prefix(keys: list[str]) -> str:
    """The longest run of whole path segments every key starts with ("2026/11/")."""
    split = [k.split("/")[:-1] for k in keys]  # the last segment is the object's own name
    common: list[str] = []
    for segments in zip(*split, strict=False):
        if len(set(segments)) != 1:
            break
        common.append(segments[0])
    return "".join(f"{s}/" for s in common)


def _allowed_pattern(original: Sequence[PolicyDocument], action: str, pattern: str) -> bool:
    doc = _parse({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": pattern}]})
    from iamlint.catalog import get_catalog  # noqa: PLC0415

    return contains(original, [doc], get_catalog()).contained


def _data_event_kinds() -> dict[str, str]:
    """Data-event action (lower case) -> the kind of resource it is logged for ("S3 objects")."""
    table = _unobservable_table()
    return {str(a).lower(): str(e["resource"]) for e in table["data_events"] for a in e["actions"]}


def _reads(catalog: Catalog, action: str) -> bool:
    """Is the action a read (List or Read access level), as a read-only data-event selector sees it?"""
    info = catalog.action(action)
    return info is not None and not info.is_write  # is_write counts Permissions management


def _unobservable(
    original: Sequence[PolicyDocument],
    catalog: Catalog,
    kept: set[str],
    workload: str | None,
    recorded: dict[tuple[str, bool], list[str]] | None,
) -> list[Evidence]:
    """Grants CloudTrail cannot show being used, kept from the original instead of removed.

    `recorded`: per kind of data event, the resources the evidence shows such events recorded
    for (None: the calls show every data event). A grant of a data event on a resource none of
    them falls in is kept: trails select data events per resource type, and within one per
    bucket, table or function (CloudTrail User Guide, "Logging data events"), so an event on
    one bucket says nothing about another.
    """
    table = _unobservable_table()
    out: list[Evidence] = []
    if workload:
        for entry in table["workloads"].get(workload, ()):
            for action in entry["actions"]:
                info = catalog.action(str(action))
                if info is None or info.key in kept:
                    continue
                out.extend(_kept(original, info.full_name, f"not observable: {entry['why']}"))
    if recorded is None:
        return out  # the calls show every data event
    for entry in table["data_events"]:
        kind = str(entry["resource"])
        for action in entry["actions"]:
            info = catalog.action(str(action))
            if info is None:
                continue
            reads = _reads(catalog, info.full_name)
            seen = recorded.get((kind, reads), [])
            what = "read" if reads else "write"
            why = f"not observable: a data event; the evidence shows no {kind} {what} data event being recorded" + (
                " for all of this grant's resources" if seen else ""
            )
            for ev in _kept(original, info.full_name, why):
                # A statement's other resources (its table, for s3:GetObject) grant this action nothing.
                if not catalog.resource_matches(info, ev.resource):
                    continue
                if not _shown_logged(ev, seen) and ev not in out:
                    out.append(ev)
    return out


def _shown_logged(grant: Evidence, seen: list[str]) -> bool:
    """Do the recorded data events show the trail logging every resource the grant reaches? Only
    when it stays within an S3 folder, table, function, queue, topic or stream one of them was on:
    an event on one bucket says nothing of another, so a grant on "*" is never shown logged."""
    if grant.not_resource:
        return False  # everything but a few: never within one container
    return any(contains_pattern(container, grant.resource) for arn in seen for container in _containers(arn))


def _containers(arn: str) -> tuple[str, ...]:
    """What a data event's resource shows logged: the folder of an S3 object (selectors may name
    a bucket or a prefix in it), a bucket itself for a listing, else the resource and what lies
    under it (a table's indexes and streams)."""
    fields = arn.split(":", 5)
    if len(fields) == 6 and fields[2] == "s3":
        if "/" not in fields[5]:
            return (escape_arn(arn),)  # a listing shows the bucket's listings logged, not its objects
        return (f"{':'.join(fields[:5])}:{escape_arn(fields[5].rsplit('/', 1)[0])}/*",)
    return (escape_arn(arn), escape_arn(arn) + "/*")


def _kept(original: Sequence[PolicyDocument], action: str, basis: str) -> list[Evidence]:
    """The original's grants of `action`, as written, to keep unobserved: per Resource pattern
    (one no Deny certainly takes back), with the statement's conditions; a NotResource
    statement's grant with its exclusions."""
    out: list[Evidence] = []
    for doc in original:
        for st in doc.statements:
            if not st.is_allow or st.resource_key is None:
                continue
            matched = any(globs.glob_match(a, action, case_sensitive=False) for a in st.action_texts)
            if matched == st.not_action:
                continue
            condition = condition_block(st)
            if st.not_resource:
                grants = [
                    Evidence(action, "*", basis=basis, condition=condition, not_resource=tuple(st.resource_texts))
                ]
            else:
                # An unconditional grant a Deny takes back on the whole pattern is not kept; the
                # proof adds the original's Denies where a kept grant reaches into one.
                grants = [
                    Evidence(action, r, basis=basis, condition=condition)
                    for r in st.resource_texts
                    if condition or not _denied(original, action, r)
                ]
            out.extend(g for g in grants if g not in out)
    return out


def _denied(original: Sequence[PolicyDocument], action: str, pattern: str) -> bool:
    """Does a Deny take back `action` on `pattern`, for certain (probed on one ARN it matches)?"""
    verdicts = judge(original, Request(action, _probe(pattern)))
    return any(v.verdict is Verdict.YES and not v.statement.is_allow for v in verdicts)


def _probe(pattern: str) -> str:
    """A resource the 2012-10-17 pattern matches: wildcards as `x`, `${*}`, `${?}`, `${$}` as the
    characters they stand for (`${$}{aws:userid}` is the literal text a Version-less policy meant)."""
    return re.sub(r"\$\{([*?$])\}|[*?]", lambda m: m.group(1) or "x", pattern)


def _document(kept: list[Evidence]) -> dict[str, Any]:
    """The proposal: plain grants, then each kept condition block (and NotResource exclusion)
    with the grants it guards."""
    statements = allow_statements((ev.action, ev.resource) for ev in kept if not ev.condition and not ev.not_resource)
    guarded: dict[tuple[ConditionBlock, tuple[str, ...]], list[tuple[str, str]]] = collections.defaultdict(list)
    for ev in kept:
        if ev.condition or ev.not_resource:
            guarded[(ev.condition, ev.not_resource)].append((ev.action, ev.resource))
    for (condition, excluded), grants in guarded.items():
        block: dict[str, dict[str, Any]] = {}
        for operator, key, values in condition:
            block.setdefault(operator, {})[key] = list(values) if len(values) != 1 else values[0]
        for st in allow_statements(grants):
            name = st["Sid"].rstrip("0123456789")
            st["Sid"] = f"{name}{len(statements) + 1}"
            if excluded:
                del st["Resource"]
                st["NotResource"] = list(excluded) if len(excluded) != 1 else excluded[0]
            statements.append({**st, "Condition": block} if block else st)
    return {"Version": "2012-10-17", "Statement": statements}


def allow_statements(grants: Iterable[tuple[str, str]], write: Callable[[str], Any] = str) -> list[dict[str, Any]]:
    """Allow statements for (action, resource) grants: one per set of resources, actions sorted.

    The Sid is the first action's service and the statement's number ("Dynamodb1", "S32").
    The proposal `iamlint narrow` prints and the patch `--diff/--apply` writes are both made
    here, so they group and name statements alike; `write` is how a resource is written (the
    patch puts the deployment's partition, region and account back as pseudo parameters).
    """
    resources_of: dict[str, set[str]] = collections.defaultdict(set)
    for action, resource in grants:
        resources_of[action].add(resource)
    by_resources: dict[tuple[str, ...], set[str]] = collections.defaultdict(set)
    for action, used_on in resources_of.items():
        by_resources[tuple(sorted(used_on))].add(action)
    statements: list[dict[str, Any]] = []
    for resources, actions in sorted(by_resources.items(), key=lambda kv: sorted(kv[1])):
        ordered = sorted(actions)
        service = ordered[0].split(":", 1)[0]
        name = "".join(p.capitalize() for p in service.replace("-", " ").split())
        # A Sid is letters and digits only: "S3" and 4 would read as "S34".
        sid = f"{name}{'Stmt' if name[-1:].isdigit() else ''}{len(statements) + 1}"
        written = [write(r) for r in resources]
        statements.append(
            {
                "Sid": sid,
                "Effect": "Allow",
                "Action": ordered if len(ordered) > 1 else ordered[0],
                "Resource": written if len(written) > 1 else written[0],
            }
        )
    return statements


def _denies(original: Sequence[PolicyDocument], kept: list[Evidence]) -> list[dict[str, Any]]:
    """The original's Deny statements that can apply to a kept action, as written."""
    actions = {e.action for e in kept}
    out: list[dict[str, Any]] = []
    for doc in original:
        for st in doc.statements:
            if st.is_allow or not any(
                any(globs.glob_match(a, action, case_sensitive=False) for a in st.action_texts) != st.not_action
                for action in actions
            ):
                continue
            statement: dict[str, Any] = {"Effect": "Deny", st.action_key: list(st.action_texts)}
            if st.sid:
                statement = {"Sid": st.sid, **statement}
            if st.resource_key is not None:
                statement[st.resource_key] = list(st.resource_texts)
            if st.conditions:
                block: dict[str, dict[str, list[str]]] = {}
                for cond in st.conditions:
                    block.setdefault(cond.operator, {})[cond.key] = list(cond.values)
                statement["Condition"] = block
            if statement not in out:
                out.append(statement)
    return out


def _parse(document: dict[str, Any]) -> PolicyDocument:
    doc, problems = parse_policy(document, file="<proposal>", kind=PolicyKind.IDENTITY)
    if doc is None or problems:
        raise NarrowingError(f"the proposal is not a valid policy: {[p.message for p in problems]}")
    return doc


def _prove(
    original: Sequence[PolicyDocument], proposal: PolicyDocument, observed: list[Evidence], catalog: Catalog
) -> None:
    # Each observed request is judged as the original was: with the context its record shows,
    # and what it does not show unknown, so an Allow must apply for certain and no Deny may.
    for ev in observed:
        for check in observed_checks(ev):
            if not allows([proposal], ev.action, check):
                raise NarrowingError(f"the proposal denies an observed call: {ev.action} on {check[0]}")
    proof = contains(original, [proposal], catalog)
    if not proof.contained:
        raise NarrowingError(f"the proposal grants more than the original: {proof.reason}")


def observed_checks(ev: Evidence) -> list[Check]:
    """The observed requests an evidence line stands for, as the proof judges them."""
    return ev.checks or [(ev.resource, {}, frozenset())]


def _removed(original: Sequence[PolicyDocument], kept: list[Evidence], catalog: Catalog) -> tuple[int, dict[str, int]]:
    granted: set[str] = set()
    for doc in original:
        for st in doc.statements:
            if not st.is_allow:
                continue
            if st.not_action or any(t in ("*", "*:*") for t in st.action_texts):
                granted.update(a.key for a in catalog.expand("*"))
                continue
            for text in st.action_texts:
                granted.update(a.key for a in catalog.expand(text))
    kept_keys = {e.action.lower() for e in kept}
    removed: collections.Counter[str] = collections.Counter(k.split(":", 1)[0] for k in granted - kept_keys)
    return len(granted), dict(sorted(removed.items()))
