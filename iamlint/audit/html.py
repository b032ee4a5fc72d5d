"""The HTML report: one self-contained file, nothing fetched (no scripts, fonts or styles).

The page is assembled from `templates/report.html`, `report.css` and `report.js` (package data),
all inlined. Summary, charts (inline SVG, see `charts`), accounts and coverage are rendered
here, so they read without script; the findings and principals tables are built in the browser
from JSON embedded in the page, so that tens of thousands of rows stay searchable, sortable and
paged. Each finding links to its rule's documentation (`Rule.help_uri`).

The findings table's state lives in the URL fragment (`#q=...&severity=high&sort=rule&dir=asc`),
so a filtered, sorted view can be shared as a link.
"""

from __future__ import annotations

import datetime
import json
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from html import escape
from importlib import resources
from typing import Any

from iamlint import __version__
from iamlint.audit import charts
from iamlint.audit.analyse import AuditResult, PrincipalRow
from iamlint.model import Finding, Severity

_SEVERITIES = [s.label for s in sorted(Severity, reverse=True)]


def _template(name: str) -> str:
    return (resources.files("iamlint.audit") / "templates" / name).read_text("utf-8")


def _who(f: Finding) -> str:
    src = f.source
    return f"{src.kind} {src.name}" if src is not None else ""


def _finding_rows(result: AuditResult, accounts: dict[str, str], findings: Sequence[Finding]) -> list[dict[str, Any]]:
    rows = []
    for f in findings:
        rule = result.rules.get(f.rule)
        src = f.source
        rows.append(
            {
                "severity": f.severity.label,
                "rank": int(f.severity),
                "rule": f.rule,
                "name": f.name,
                "help": rule.help_uri if rule is not None else "",
                "category": f.category,
                "account": accounts.get(f.location.file, ""),
                "who": _who(f),
                "message": f.message,
                "policy": (src.policy_name or "") if src is not None else "",
                "where": f.location.render(),
                "path": f.location.path if f.location.keys else "",
                # The evidence, unless the message already names it.
                "actions": ""
                if all(a in f.message for a in f.evidence.actions[:3])
                else ", ".join(f.evidence.actions[:12]) + (" \u2026" if len(f.evidence.actions) > 12 else ""),
            }
        )
    return rows


def _principal_rows(result: AuditResult) -> list[dict[str, Any]]:
    rows = []
    for account in result.accounts:
        for p in account.principals:
            u = p.unused
            rows.append(
                {
                    "account": p.account,
                    "principal": p.label,
                    "kind": p.kind + (" (service-linked)" if p.service_linked else ""),
                    "severity": p.worst.label if p.worst is not None else "none",
                    "rank": int(p.worst) if p.worst is not None else -1,
                    "score": p.score,
                    "findings": sum(p.counts.values()),
                    "unused": len(u.unused_services) if u else -1,
                    "granted": len(u.granted_services) if u else -1,
                    "unusedActions": len(u.unused_actions) if u else -1,
                    "unusedList": ", ".join(u.unused_services[:20]) if u else "",
                    "workloads": ", ".join(p.workloads[:6]) + (" \u2026" if len(p.workloads) > 6 else ""),
                    "calls": p.observed_calls,
                }
            )
    return rows


def _script_safe(text: str) -> str:
    # "</" cannot end the script element early once "<" is escaped; U+2028/9 are legal in JSON.
    # Each replaced character stands alone, so pieces of a text can be made safe one by one.
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


_ROWS_PER_PIECE = 256


def _data_parts(result: AuditResult, accounts: dict[str, str]) -> Iterator[str]:
    """The page's data, `{"findings": [...], "principals": [...]}` as JSON made safe inside a
    script element, in pieces: tens of thousands of finding rows are never all in memory at
    once, as dicts or as text."""
    dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    yield '{"findings":['
    findings = result.lint.findings
    for start in range(0, len(findings), _ROWS_PER_PIECE):
        rows = _finding_rows(result, accounts, findings[start : start + _ROWS_PER_PIECE])
        yield ("," if start else "") + _script_safe(",".join(dumps(row) for row in rows))
    yield '],"principals":' + _script_safe(dumps(_principal_rows(result))) + "}"


def _cards(result: AuditResult, principals: list[PrincipalRow]) -> str:
    counts = result.lint.counts()
    chips = "".join(f'<span class="chip sev-{k}">{v} {k}</span>' for k, v in counts.items())
    unused = sum(len(p.unused.unused_services) for p in principals if p.unused)
    gaps = sum(g.incomplete for g in result.gaps)
    coverage = (
        '<span class="badge ok">complete</span>'
        if not gaps
        else f'<span class="badge bad">incomplete: {gaps} failed reads</span>'
    )
    cards = [
        ("Accounts", str(len(result.accounts)), ""),
        ("Principals", str(len(principals)), f"{sum(p.worst is not None for p in principals)} with findings"),
        ("Findings", str(len(result.lint.findings)), chips),
        (
            "Unused services",
            str(unused),
            f"over {sum(p.unused is not None for p in principals)} principals with Access Advisor data",
        ),
        ("Coverage", "", coverage),
    ]
    return "".join(
        f'<div class="card"><div class="card-title">{t}</div><div class="card-value">{v}</div>'
        f'<div class="card-note">{n}</div></div>'
        for t, v, n in cards
    )


def _charts(result: AuditResult, principals: list[PrincipalRow]) -> str:
    by_category = Counter(f.category for f in result.lint.findings)
    risky = sorted((p for p in principals if p.score and not p.service_linked), key=lambda p: (-p.score, p.label))[:12]
    names = {a.account: a.name or a.account for a in result.accounts}

    def label(p: PrincipalRow) -> str:
        return f"{p.label} ({names[p.account]})" if len(names) > 1 else p.label

    risky_rows = [(label(p), dict(p.counts), p.score) for p in risky]
    unused = sorted(
        (p for p in principals if p.unused and p.unused.amount),
        key=lambda p: (-(p.unused.amount if p.unused else 0), p.label),
    )[:12]
    unused_rows = [
        (label(p), len(p.unused.used_services), len(p.unused.unused_services), len(p.unused.unused_actions))
        for p in unused
        if p.unused
    ]
    figures = [
        charts.severity_chart(result.lint.counts()),
        charts.category_chart(dict(by_category)),
        charts.principals_chart(risky_rows),
        charts.unused_chart(unused_rows),
    ]
    titles = [
        "Findings by severity",
        "Findings by category",
        "Riskiest principals (score: critical 40, high 10, medium 3, low 1)",
        "Unused access per principal (IAM Access Advisor)",
    ]
    return "".join(
        f'<figure class="panel"><figcaption>{escape(t)}</figcaption>{svg}</figure>'
        for t, svg in zip(titles, figures, strict=True)
    )


def _accounts_table(result: AuditResult) -> str:
    gaps = Counter(g.account for g in result.gaps if g.incomplete)
    rows = []
    for a in result.accounts:
        worst = Counter(p.worst.label if p.worst is not None else "none" for p in a.principals)
        total = max(1, len(a.principals))
        bar = "".join(
            f'<span class="seg sev-{k}" style="width:{100 * worst[k] / total:.1f}%" '
            f'title="{worst[k]} principals, worst {k}"></span>'
            for k in [*_SEVERITIES, "none"]
            if worst[k]
        )
        status = (
            "not read"
            if not a.read
            else "identity not read"
            if not a.identity_read
            else f"{gaps[a.account]} failed reads"
            if gaps[a.account]
            else "complete"
        )
        rows.append(
            f"<tr><td>{escape(a.account)}</td><td>{escape(a.name)}</td><td>{len(a.principals)}</td>"
            f'<td><div class="stack">{bar}</div></td><td>{len(a.findings)}</td><td>{a.workloads}</td>'
            f'<td>{a.resource_policies}</td><td class="{"bad" if gaps[a.account] or not a.read else "ok"}">'
            f'{escape(status)}</td><td class="mono">{escape(a.file)}</td></tr>'
        )
    return "".join(rows)


def _coverage(result: AuditResult) -> str:
    gaps = [g for g in result.gaps if g.incomplete]
    notes = [g for g in result.gaps if not g.incomplete]
    if not gaps and not notes:
        return '<p class="ok">Complete: every read succeeded.</p>'
    head = (
        '<p class="bad">Incomplete: the reads below failed, so what they would have shown is missing from this '
        "report.</p>"
        if gaps
        else '<p class="ok">Complete.</p>'
    )
    rows = "".join(
        f'<tr><td>{escape(g.account)}</td><td>{escape(g.region)}</td><td class="mono">{escape(g.operation)}</td>'
        f'<td><span class="kind">{escape(g.kind)}</span></td><td class="mono">{escape(g.resource)}</td>'
        f"<td>{escape(g.message)}</td></tr>"
        for g in [*gaps, *notes]
    )
    return (
        f'{head}<table class="plain"><thead><tr><th>Account</th><th>Region</th><th>Permission</th><th>Why</th>'
        f"<th>Resource</th><th>Detail</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _proposals(result: AuditResult) -> str:
    if not result.proposals:
        return ""
    items = []
    for account, label, p in result.proposals:
        if isinstance(p, str):
            items.append(
                f"<details><summary>{escape(account)} {escape(label)}: no proposal, {escape(p)}</summary></details>"
            )
            continue
        removed = ", ".join(f"{svc} {n}" for svc, n in sorted(p.removed.items(), key=lambda kv: -kv[1])[:10])
        items.append(
            f"<details><summary>{escape(account)} {escape(label)}: keeps {p.kept_actions} of "
            f"{p.original_actions} granted actions (removes {escape(removed)})</summary>"
            f"<pre>{escape(json.dumps(p.document, indent=2))}</pre></details>"
        )
    return (
        '<section id="proposals"><h2>Proposals without the unused access</h2><p>From Access Advisor data, '
        "through the narrower: every action that may have been used is kept at the resources it is granted "
        "on, and each proposal is proved to allow nothing the current policies do not.</p>"
        + "".join(items)
        + "</section>"
    )


def render_html(result: AuditResult, *, api_calls: int | None = None) -> str:
    return "".join(render_html_parts(result, api_calls=api_calls))


def render_html_parts(result: AuditResult, *, api_calls: int | None = None) -> Iterator[str]:
    """The page in pieces, in order (`render_html` joins them); the embedded data is made as
    it is written."""
    from iamlint.catalog import get_catalog  # noqa: PLC0415

    accounts = {a.file: a.account for a in result.accounts}
    principals = [p for a in result.accounts for p in a.principals]
    trail = [a for a in result.accounts if a.cloudtrail.get("days")]
    trail_note = ""
    if trail:
        events = sum(int(a.cloudtrail.get("events", 0)) for a in trail)
        trail_note = (
            f"<li>CloudTrail event history: {events:,} events over the last {trail[0].cloudtrail['days']} "
            "days. LookupEvents returns <strong>management events only</strong>: data events (S3 object "
            "reads and writes, DynamoDB item calls, Lambda invocations, SQS messages) never appear, so a "
            "principal's calls column undercounts what it does.</li>"
        )
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    calls = f", {api_calls:,} read-only API calls" if api_calls is not None else ""
    replacements: dict[str, str | Iterator[str]] = {
        "@CSS@": _template("report.css"),
        "@JS@": _template("report.js"),
        "@DATA@": _data_parts(result, accounts),
        "@SUBTITLE@": escape(
            f"{len(result.accounts)} account{'s' if len(result.accounts) != 1 else ''}{calls}; "
            f"generated {now} by iamlint {__version__}, IAM catalogue {get_catalog().data_version()}"
        ),
        "@CARDS@": _cards(result, principals),
        "@CHARTS@": _charts(result, principals),
        "@ACCOUNTS@": _accounts_table(result),
        "@COVERAGE@": _coverage(result),
        "@PROPOSALS@": _proposals(result),
        "@TRAIL@": trail_note,
    }
    # One pass over the template: text inserted for one marker is never searched for another.
    template = _template("report.html")
    at = 0
    for marker in re.finditer(r"@[A-Z]+@", template):
        yield template[at : marker.start()]
        inserted = replacements[marker.group()]
        if isinstance(inserted, str):
            yield inserted
        else:
            yield from inserted
        at = marker.end()
    yield template[at:]
