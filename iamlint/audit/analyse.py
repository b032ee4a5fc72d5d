"""From snapshots to an audit result: findings, principals by worst severity, unused access.

Every account's snapshot goes through the same loader as `iamlint check` (the dump part) plus
the extras: resource policies become resource documents, non-default versions of customer
managed policies become documents of their own (`--all-versions`: any of them can be made the
default again with iam:SetDefaultPolicyVersion), and the workloads that run with a role are
added to its documents' `used_by`. One engine run checks all accounts; each finding belongs to
the account whose snapshot it points into.
"""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from iamlint.audit.coverage import INTERNAL, Gap
from iamlint.audit.snapshot import KEY, AccountSnapshot, release_dump
from iamlint.audit.unused import Unused, from_advisor
from iamlint.engine import Engine, LintConfig, LintResult
from iamlint.loaders import LoadResult, marker_for
from iamlint.model import Finding, InputError, PolicyDocument, PolicyKind, Severity, Source
from iamlint.policy import Problem, parse_policy
from iamlint.ruleset import Rule

PRINCIPAL_KINDS = ("user", "group", "role")
BOUNDARY_VIA = "PermissionsBoundary"
SERVICE_LINKED_PATH = "/aws-service-role/"
# How much one finding adds to a principal's risk score, by severity.
WEIGHTS = {Severity.CRITICAL: 40, Severity.HIGH: 10, Severity.MEDIUM: 3, Severity.LOW: 1, Severity.INFO: 0}


@dataclass(frozen=True, slots=True)
class AnalyseOptions:
    lint: LintConfig = field(default_factory=LintConfig)
    all_versions: bool = False
    proposals: bool = False
    # The caller has no further use for the snapshots' principals and policies: each account's
    # are dropped once its documents are built, so that the raw dump is not held while the
    # engine runs (see `snapshot.release_dump`). Ignored with `proposals`, which reads them again.
    release_dumps: bool = False


@dataclass(frozen=True, slots=True)
class PrincipalRow:
    account: str
    kind: str
    name: str
    arn: str
    service_linked: bool
    counts: Mapping[str, int]  # severity label -> findings
    worst: Severity | None
    score: int
    workloads: tuple[str, ...]
    unused: Unused | None
    observed_calls: int  # CloudTrail management events, when looked up

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}"


@dataclass(frozen=True, slots=True)
class AccountReport:
    account: str
    name: str
    file: str
    read: bool  # False when nothing of the account could be read
    identity_read: bool  # False when GetAccountAuthorizationDetails failed: no principals
    principals: tuple[PrincipalRow, ...]
    findings: tuple[Finding, ...]
    workloads: int
    resource_policies: int
    regions: tuple[str, ...]
    cloudtrail: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class AuditResult:
    lint: LintResult
    accounts: tuple[AccountReport, ...]
    gaps: tuple[Gap, ...]
    rules: Mapping[str, Rule]
    # (account, principal label, narrower Proposal, or why there is none)
    proposals: tuple[tuple[str, str, Any], ...] = ()

    @property
    def complete(self) -> bool:
        return not any(g.incomplete for g in self.gaps)

    def exit_code(self, fail_on: Severity, allow_partial: bool) -> int:
        if self.lint.has_errors or any(g.kind == INTERNAL for g in self.gaps):
            return 2
        if not self.complete and not allow_partial:
            return 2
        return 1 if any(f.severity >= fail_on for f in self.lint.findings) else 0


def _documents(snap: AccountSnapshot, all_versions: bool) -> LoadResult:
    from iamlint.loaders.auth_details import is_auth_details, load_auth_details  # noqa: PLC0415

    result = load_auth_details(snap.located) if is_auth_details(snap.data) else LoadResult(files=1)
    marker = marker_for(snap.located)
    extras = snap.extras
    for i, entry in enumerate(_list(extras, "resource_policies")):
        path = (KEY, "resource_policies", i, "policy")
        source = Source(
            kind=str(entry.get("kind", "resource")),
            name=str(entry.get("name", "")),
            arn=entry.get("arn"),
            via=f"{entry.get('service', '')} resource policy",
        )
        raw = entry.get("policy")
        if isinstance(raw, str):  # what iamlint.audit.resources could not parse is kept as text
            result.problems.append(
                Problem(f"the policy of {source.kind} {source.name} {_why(raw)}", _loc(snap, marker, path))
            )
            continue
        raw = _implied_resource(str(entry.get("service", "")), raw, str(entry.get("arn", "")))
        _add(
            result,
            parse_policy(
                raw, file=snap.file, base=path, marker=marker, kind=PolicyKind.RESOURCE, source=source, name=source.name
            ),
        )
    if all_versions:
        for i, policy in enumerate(_list(snap.data, "Policies")):
            arn = str(policy.get("Arn", ""))
            if ":iam::aws:policy/" in arn:
                continue  # AWS managed: AWS sets the default version, customers cannot
            for j, version in enumerate(policy.get("PolicyVersionList") or ()):
                if (
                    not isinstance(version, Mapping)
                    or version.get("IsDefaultVersion") is True
                    or "Document" not in version
                ):
                    continue
                vid = str(version.get("VersionId", j))
                source = Source(
                    kind="managed-policy",
                    name=str(policy.get("PolicyName", arn)),
                    arn=arn,
                    policy_name=f"{arn} {vid}",
                    via=f"non-default version {vid}",
                )
                _add(
                    result,
                    parse_policy(
                        version["Document"],
                        file=snap.file,
                        base=("Policies", i, "PolicyVersionList", j, "Document"),
                        marker=marker,
                        kind=PolicyKind.IDENTITY,
                        source=source,
                        name=source.name,
                    ),
                )
    labels = _workload_labels(snap)
    if labels:
        result.documents = [_with_workloads(d, labels, _role_arns(snap)) for d in result.documents]
    return result


def _why(text: str) -> str:
    """What is wrong with a policy kept as text, for "the policy of bucket b ...": json.loads's
    reason, or that the snapshot holds it as a string rather than a policy object."""
    try:
        json.loads(text)
    except RecursionError:
        return "is not JSON (nested too deep)"
    except ValueError as exc:
        return f"is not JSON ({exc})"
    return "is a JSON string in the snapshot, not a policy object"


def _implied_resource(service: str, policy: Any, arn: str) -> Any:
    """The policy with the resource it is attached to written out where AWS leaves it implied.

    - KMS key policies say `"Resource": "*"`, which means this key (KMS Developer Guide, "Key
      policies in AWS KMS"); so does a secret's resource policy (Secrets Manager User Guide,
      "Resource-based policies"). Read as every resource, it would be reported as unscoped.
    - ECR repository policies name no Resource at all: the repository is implied (ECR User
      Guide, "Private repository policies").
    The change is made on a copy used for checking; the snapshot keeps what AWS returned.
    """
    if service not in ("kms", "secretsmanager", "ecr") or not arn or not isinstance(policy, Mapping):
        return policy
    statements = policy.get("Statement")
    items = statements if isinstance(statements, list) else [statements]
    fixed = []
    for st in items:
        if isinstance(st, Mapping):
            if service == "ecr":
                implied = "Resource" not in st and "NotResource" not in st
            else:
                implied = st.get("Resource") in ("*", ["*"])
            if implied:
                st = {**st, "Resource": arn}
        fixed.append(st)
    return {**policy, "Statement": fixed if isinstance(statements, list) else fixed[0]}


def _mapping(node: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    found = node.get(key)
    return found if isinstance(found, Mapping) else {}


def _list(node: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    found = node.get(key)
    return [x for x in found if isinstance(x, Mapping)] if isinstance(found, list) else []


def _loc(snap: AccountSnapshot, marker: Any, path: tuple[str | int, ...]) -> Any:
    from iamlint.model import Location  # noqa: PLC0415

    mark = marker(path)
    return Location(snap.file, mark[0] if mark else None, mark[1] if mark else None, path)


def _add(result: LoadResult, parsed: tuple[PolicyDocument | None, list[Problem]]) -> None:
    doc, problems = parsed
    result.problems.extend(problems)
    if doc is not None:
        result.documents.append(doc)


def _role_arns(snap: AccountSnapshot) -> dict[str, str]:
    return {str(r.get("RoleName")): str(r.get("Arn")) for r in _list(snap.data, "RoleDetailList")}


def _workload_labels(snap: AccountSnapshot) -> dict[str, list[str]]:
    """Role ARN -> the workloads that run with it ("function orders", "instance i-0abc")."""
    profiles: dict[str, list[str]] = {}
    for role in _list(snap.data, "RoleDetailList"):
        for profile in _list(role, "InstanceProfileList"):
            profiles.setdefault(str(profile.get("Arn")), []).append(str(role.get("Arn")))
    out: dict[str, list[str]] = {}
    for w in _list(snap.extras, "workloads"):
        label = f"{w.get('kind')} {w.get('name')}"
        roles = list(w.get("roles") or ()) + profiles.get(str(w.get("instance_profile")), [])
        for arn in roles:
            out.setdefault(str(arn), []).append(label)
    return out


def _with_workloads(doc: PolicyDocument, labels: Mapping[str, list[str]], roles: Mapping[str, str]) -> PolicyDocument:
    src = doc.source
    if src is None or doc.kind not in (PolicyKind.IDENTITY, PolicyKind.TRUST):
        return doc
    arns = [src.arn or roles.get(src.name, "")] if src.kind == "role" else []
    if src.kind == "managed-policy" and src.via != BOUNDARY_VIA:
        arns = [roles.get(label[5:], "") for label in src.attached_to if label.startswith("role ")]
    have = set(src.used_by)  # a managed policy may be used by thousands: no scans of the tuple
    added = [label for arn in arns for label in labels.get(arn, ()) if label not in have]
    if not added:
        return doc
    return replace(doc, source=replace(src, used_by=(*src.used_by, *dict.fromkeys(added))))


def _targets(f: Finding) -> list[str]:
    """The principals ("role X") a finding is about; members inherit their groups' findings."""
    src = f.source
    if src is None or src.via == BOUNDARY_VIA:
        return []
    out = [f"{src.kind} {src.name}"] if src.kind in PRINCIPAL_KINDS else []
    out += [label for label in src.attached_to if label.split(" ", 1)[0] in PRINCIPAL_KINDS and label not in out]
    if any(label.startswith("group ") for label in out):
        named = set(out)  # a policy can be attached to thousands of principals: no list scans
        out += [label for label in src.used_by if label.startswith("user ") and label not in named]
    return out


# What forked workers read: set by `analyse` just before the pool starts (fork shares it).
_SHARED: tuple[Engine, Sequence[AccountSnapshot], AnalyseOptions] | None = None


def _check_account(index: int, release: bool = False) -> tuple[list[Finding], int]:
    """One account's findings: its principals are all in its own snapshot (see `principals`)."""
    assert _SHARED is not None
    engine, snapshots, options = _SHARED
    part = _documents(snapshots[index], options.all_versions)
    if release:
        release_dump(snapshots[index])
    return engine.check(part.documents, part.problems, part.errors)


# (kind, name, ARN, service-linked) of each user, group and role, in the dump's order.
_Roster = list[tuple[str, str, str, bool]]


def _roster(snap: AccountSnapshot) -> _Roster:
    out = []
    for kind, key, name_key in (
        ("user", "UserDetailList", "UserName"),
        ("group", "GroupDetailList", "GroupName"),
        ("role", "RoleDetailList", "RoleName"),
    ):
        for entry in _list(snap.data, key):
            out.append(
                (
                    kind,
                    str(entry.get(name_key, "")),
                    str(entry.get("Arn", "")),
                    kind == "role" and str(entry.get("Path", "")).startswith(SERVICE_LINKED_PATH),
                )
            )
    return out


def analyse(
    snapshots: Sequence[AccountSnapshot],
    options: AnalyseOptions,
    errors: Sequence[InputError] = (),
    extra_gaps: Sequence[Gap] = (),
    jobs: int = 1,
) -> AuditResult:
    """Check every account; with `jobs` > 1 and several accounts, one process per account at a time."""
    global _SHARED  # noqa: PLW0603 - handed to forked workers, cleared below
    engine = Engine(options.lint)
    findings, count = engine.check((), (), errors)
    # What the reports need of the dumps, read before they may be dropped.
    rosters = [(_roster(snap), _workload_labels(snap)) for snap in snapshots]
    release = options.release_dumps and not options.proposals
    _SHARED = (engine, snapshots, options)
    try:
        if (
            jobs > 1
            and len(snapshots) > 1
            and not options.lint.strict
            and "fork" in multiprocessing.get_all_start_methods()
        ):
            with multiprocessing.get_context("fork").Pool(min(jobs, len(snapshots))) as pool:
                parts = pool.map(_check_account, range(len(snapshots)))
            for snap in snapshots if release else ():
                release_dump(snap)
        else:
            parts = [_check_account(i, release) for i in range(len(snapshots))]
    finally:
        _SHARED = None
    for part_findings, part_count in parts:
        findings.extend(part_findings)
        count += part_count
    lint = engine.result(findings, count, len(snapshots) + len(errors))
    by_file: dict[str, list[Finding]] = {}
    for f in lint.findings:
        by_file.setdefault(f.location.file, []).append(f)
    gaps = [*extra_gaps]
    accounts = []
    proposals: list[tuple[str, str, Any]] = []
    for snap, (roster, labels) in zip(snapshots, rosters, strict=True):
        gaps.extend(Gap.from_dict(g, snap.account) for g in _list(snap.extras, "coverage"))
        report = _account(snap, by_file.get(snap.file, []), roster, labels)
        accounts.append(report)
        if options.proposals:
            documents = _documents(snap, options.all_versions).documents
            proposals.extend(_proposals(report, documents, gaps))
    return AuditResult(lint, tuple(accounts), tuple(gaps), engine.rules, tuple(proposals))


def _account(
    snap: AccountSnapshot, findings: list[Finding], roster: _Roster, labels: Mapping[str, list[str]]
) -> AccountReport:
    extras = snap.extras
    advisor, trail = _mapping(extras, "access_advisor"), _mapping(extras, "cloudtrail")
    observed = _mapping(trail, "principals")
    hits: dict[str, list[Finding]] = {}
    for f in findings:
        for label in _targets(f):
            hits.setdefault(label, []).append(f)
    rows = []
    for kind, name, arn, service_linked in roster:
        mine = hits.get(f"{kind} {name}", [])
        counts = {s.label: 0 for s in sorted(Severity, reverse=True)}
        for f in mine:
            counts[f.severity.label] += 1
        report = advisor.get(arn)
        rows.append(
            PrincipalRow(
                account=snap.account,
                kind=kind,
                name=name,
                arn=arn,
                service_linked=service_linked,
                counts=counts,
                worst=max((f.severity for f in mine), default=None),
                score=sum(WEIGHTS[f.severity] for f in mine),
                workloads=tuple(labels.get(arn, ())),
                unused=from_advisor(arn, report) if isinstance(report, Mapping) else None,
                observed_calls=sum(int(c.get("count", 0)) for c in observed.get(arn, ()) if isinstance(c, Mapping)),
            )
        )
    ordered = sorted(findings, key=lambda f: (-f.severity, f.rule, f.message))
    return AccountReport(
        account=snap.account,
        name=snap.name,
        file=snap.file,
        read=not extras.get("unread", False),
        identity_read=not extras.get("identity_unread", False),
        principals=tuple(rows),
        findings=tuple(ordered),
        workloads=len(_list(extras, "workloads")),
        resource_policies=len(_list(extras, "resource_policies")),
        regions=tuple(str(r) for r in extras.get("regions") or ()),
        cloudtrail=trail,
    )


def _proposals(report: AccountReport, documents: list[PolicyDocument], gaps: list[Gap]) -> list[tuple[str, str, Any]]:
    from iamlint.audit.unused import propose  # noqa: PLC0415
    from iamlint.catalog import get_catalog  # noqa: PLC0415
    from iamlint.narrow.narrower import NarrowingError  # noqa: PLC0415
    from iamlint.principals import build_principals  # noqa: PLC0415

    wanted = {
        row.label: row.unused
        for row in report.principals
        if row.unused is not None and (row.unused.unused_services or row.unused.unused_actions)
    }
    if not wanted:
        return []
    out = []
    for principal in build_principals(documents):
        unused = wanted.get(principal.label)
        if unused is None:
            continue
        try:
            proposal, why = propose(principal.documents, unused, get_catalog())
        except NarrowingError as exc:  # the proof failed: iamlint's bug, reported, never shown as a proposal
            gaps.append(Gap(report.account, "global", "proposal", INTERNAL, f"{principal.label}: {exc}"))
            continue
        out.append((report.account, principal.label, proposal if proposal is not None else why))
    return out
