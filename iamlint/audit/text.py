"""The terminal summary of an audit: per account, principals by worst severity, the top findings,
unused access; then coverage, and one closing line. The full list of findings is in the JSON
and HTML reports (or `--findings`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from iamlint.audit.analyse import AccountReport, AuditResult, PrincipalRow
from iamlint.model import Finding, Severity

_SEVERITIES = [s.label for s in sorted(Severity, reverse=True)]


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else many or word + 's'}"


def _who(f: Finding) -> str:
    src = f.source
    if src is None:
        return f.location.file
    return f"{src.kind} {src.name}"


def _short(names: Sequence[str], limit: int = 6) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _account(report: AccountReport, top: int) -> list[str]:
    title = f"Account {report.account}" + (f" ({report.name})" if report.name else "")
    lines = [title, "  " + report.file]
    if not report.read:
        return [*lines, "  not read: see coverage below", ""]
    if not report.identity_read:
        lines.append("  identity not read: users, groups, roles and their policies are missing (see coverage)")
    kinds = Counter(p.kind for p in report.principals)
    slr = sum(p.service_linked for p in report.principals)
    lines.append(
        f"  {_plural(kinds['user'], 'user')}, {_plural(kinds['group'], 'group')}, "
        f"{_plural(kinds['role'], 'role')} ({slr} service-linked), {_plural(report.workloads, 'workload')}, "
        f"{_plural(report.resource_policies, 'resource policy', 'resource policies')}"
        + (f"; regions {', '.join(report.regions)}" if report.regions else "")
    )
    worst = Counter(p.worst.label if p.worst is not None else "none" for p in report.principals)
    lines.append(
        "  principals by worst severity: "
        + ", ".join(f"{label} {worst[label]}" for label in _SEVERITIES)
        + f", no findings {worst['none']}"
    )
    risky = sorted(
        (p for p in report.principals if p.score and not p.service_linked), key=lambda p: (-p.score, p.label)
    )[:top]
    if risky:
        lines.append("  riskiest principals:")
        lines.extend(f"    {_row(p)}" for p in risky)
    if report.findings:
        lines.append(f"  top findings ({len(report.findings)} in all):")
        for f in report.findings[:top]:
            lines.append(f"    [{f.severity.label}] {f.rule} {_who(f)}: {f.message}")
    unused = sorted(
        (p for p in report.principals if p.unused and p.unused.amount),
        key=lambda p: (-(p.unused.amount if p.unused else 0), p.label),
    )
    with_data = sum(p.unused is not None for p in report.principals)
    if with_data:
        lines.append(
            f"  unused access (IAM Access Advisor, {_plural(with_data, 'principal')} with data; "
            "tracking period up to 400 days):"
        )
        for p in unused[:top]:
            u = p.unused
            assert u is not None
            text = f"    {p.label}: {len(u.unused_services)} of {len(u.granted_services)} granted services never used"
            if u.unused_services:
                text += f" ({_short(u.unused_services)})"
            if u.unused_actions:
                text += f"; {_plural(len(u.unused_actions), 'tracked action')} never used"
            lines.append(text)
        if not unused:
            lines.append("    every granted service was used")
    trail = report.cloudtrail
    if trail.get("days"):
        who = trail.get("principals") or {}
        lines.append(
            f"  CloudTrail event history, last {trail['days']} days: {trail.get('events', 0)} events by "
            f"{_plural(len(who), 'principal')} (MANAGEMENT events only: data events such as S3 object "
            "reads, DynamoDB item calls or Lambda invocations are not in LookupEvents)"
        )
    return [*lines, ""]


def _row(p: PrincipalRow) -> str:
    counts = ", ".join(f"{n} {label}" for label, n in p.counts.items() if n)
    extra = f"; used by {_short(p.workloads, 3)}" if p.workloads else ""
    return f"{p.label} (score {p.score}: {counts}){extra}"


def render(result: AuditResult, *, top: int = 5, api_calls: int | None = None) -> str:
    lines = []
    n = len(result.accounts)
    head = f"iamlint audit: {_plural(n, 'account')}"
    if api_calls is not None:
        head += f", {_plural(api_calls, 'read-only API call')}"
    lines += [head, ""]
    for report in result.accounts:
        lines.extend(_account(report, top))
    gaps = [g for g in result.gaps if g.incomplete]
    notes = [g for g in result.gaps if not g.incomplete]
    if gaps:
        lines.append(f"Coverage: INCOMPLETE, {_plural(len(gaps), 'read')} failed (account region permission: why):")
        lines.extend(f"  {g.render()}" for g in gaps)
    else:
        lines.append("Coverage: complete: every read succeeded.")
    lines.extend(f"  note: {g.render()}" for g in notes)
    counts = result.lint.counts()
    total = len(result.lint.findings)
    parts = ", ".join(f"{k} {v}" for k, v in counts.items() if v)
    lines.append("")
    lines.append(
        f"Found {_plural(total, 'finding')} in {_plural(result.lint.documents, 'policy', 'policies')}"
        + (f" ({parts})" if parts else "")
        + "."
    )
    return "\n".join(lines) + "\n"
