"""Human-readable output: `file:line:col: ID [severity] message`, a help line, a summary."""

from __future__ import annotations

import re
from collections.abc import Mapping

from iamlint.engine import LintResult
from iamlint.model import Finding, Severity
from iamlint.reporters import ReportOptions
from iamlint.ruleset import Rule

_COLORS = {
    Severity.CRITICAL: "\033[1;35m",
    Severity.HIGH: "\033[1;31m",
    Severity.MEDIUM: "\033[33m",
    Severity.LOW: "\033[36m",
    Severity.INFO: "\033[37m",
}
_RESET = "\033[0m"
_DIM = "\033[2m"
_BOLD = "\033[1m"


# Characters a terminal or a CI log acts on rather than shows: C0/C1 controls (a newline would
# start a line of its own, which GitHub Actions reads as a workflow command such as `::error`;
# ESC starts a terminal escape sequence) and the invisible bidirectional and zero-width marks
# that make text read differently from what it is (CVE-2021-42574, "Trojan Source").
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def printable(text: str) -> str:
    """`text` with every character a terminal would act on shown as its escape (`\\n`, `\\x1b`)."""
    return _UNSAFE.sub(lambda m: repr(m.group())[1:-1], text)


def _paint(text: str, code: str, options: ReportOptions) -> str:
    return f"{code}{text}{_RESET}" if options.color else text


def render_finding(f: Finding, options: ReportOptions) -> str:
    # Every value below can come from the input (file names, Sids, actions, logical ids).
    where = _paint(printable(f.location.render()), _BOLD, options)
    sev = _paint(f"[{f.severity.label}]", _COLORS[f.severity], options)
    lines = [f"{where}: {f.rule} {sev} {printable(f.message)}"]
    context = []
    if f.source is not None and f.source.kind != "file":
        context.append(f.source.describe())
    elif f.location.construct_path:
        context.append(f.location.construct_path)
    if f.statement_sid:
        context.append(f"Sid {f.statement_sid}")
    if context:
        lines.append(_paint(f"  in {printable('; '.join(context))}", _DIM, options))
    if f.fix and not f.is_error:
        lines.append(_paint(f"  help: {printable(f.fix)}", _DIM, options))
    return "\n".join(lines)


def render(result: LintResult, rules: Mapping[str, Rule], options: ReportOptions) -> str:
    del rules
    out = [render_finding(f, options) for f in result.findings]
    counts = result.counts()
    total = len(result.findings)
    errors = sum(1 for f in result.findings if f.is_error)
    parts = [f"{n} {label}" for label, n in counts.items() if n]
    docs = f"{result.documents} polic{'y' if result.documents == 1 else 'ies'}"
    if total == 0:
        summary = f"No findings in {docs}."
    else:
        summary = f"Found {total} finding{'s' if total != 1 else ''} in {docs} ({', '.join(parts)})"
        if errors:
            summary += f"; {errors} input error{'s' if errors != 1 else ''}"
        summary += "."
    if out:
        out.append("")
    out.append(_paint(summary, _BOLD, options))
    return "\n".join(out) + "\n"
