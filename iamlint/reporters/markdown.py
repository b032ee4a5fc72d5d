"""A Markdown summary for `$GITHUB_STEP_SUMMARY` or a pull-request comment.

Counts by severity, then one table row per finding with a link to the file and line (to the
commit on GitHub when `ReportOptions.link_base` is set, else relative to the root). GitHub
caps a step summary at 1 MiB, so the table stops after `MAX_ROWS` findings and says so.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from iamlint.engine import LintResult
from iamlint.fingerprints import display_path, relative_path
from iamlint.model import Finding, Severity
from iamlint.reporters import ReportOptions
from iamlint.ruleset import Rule

MAX_ROWS = 500
_ICON = {
    Severity.CRITICAL: "🟣",
    Severity.HIGH: "🔴",
    Severity.MEDIUM: "🟠",
    Severity.LOW: "🔵",
    Severity.INFO: "⚪",
}


# What Markdown (GitHub's) would act on in text from the input: a policy's Sid or a resource
# name must not become a link, an image fetched from elsewhere, a mention or emphasis.
_ACTIVE = re.compile(r"([\\`*_\[\]()!|~#@])")


def cell(text: str) -> str:
    """Text safe inside a table cell: one line, no HTML, nothing Markdown acts on."""
    text = _ACTIVE.sub(r"\\\1", " ".join(text.split())).replace("<", "&lt;").replace(">", "&gt;")
    # Nor a bare web address turned into a link (GitHub's autolinks): "https:\/\/", "www\.".
    return text.replace("://", ":\\/\\/").replace("www.", "www\\.")


def _where(f: Finding, root: str, options: ReportOptions) -> str:
    loc = f.location
    shown = display_path(loc.file, root)
    label = shown if loc.line is None else f"{shown}:{loc.line}"
    rel = relative_path(loc.file, root)
    if rel is None:
        return f"<code>{html.escape(label)}</code>"  # a code span would show cell's escapes
    target = quote(os.fsencode(rel))  # the name's own bytes, even when not UTF-8
    if options.link_base:
        target = f"{options.link_base.rstrip('/')}/{target}"
    if loc.line is not None:
        target += f"#L{loc.line}"
    return f"[{cell(label)}]({target})"


def render(result: LintResult, rules: Mapping[str, Rule], options: ReportOptions) -> str:
    root = str(Path(options.root).resolve())
    counts = result.counts()
    total = len(result.findings)
    out = ["## iamlint", ""]
    if total == 0:
        out.append(f"No findings in {result.documents} policies ({result.files} files). ✅")
        return "\n".join(out) + "\n"
    errors = sum(1 for f in result.findings if f.is_error)
    summary = f"**{total} finding{'s' if total != 1 else ''}** in {result.documents} policies ({result.files} files)"
    if errors:
        summary += f", including {errors} input error{'s' if errors != 1 else ''}"
    out += [summary + ".", "", "| severity | findings |", "| --- | ---: |"]
    for sev in sorted(Severity, reverse=True):
        out.append(f"| {_ICON[sev]} {sev.label} | {counts[sev.label]} |")
    out += ["", "| severity | rule | location | message |", "| --- | --- | --- | --- |"]
    for f in result.findings[:MAX_ROWS]:
        rule = rules.get(f.rule)
        rule_cell = f"[{f.rule}]({rule.help_uri})" if rule is not None else f.rule
        out.append(
            f"| {_ICON[f.severity]} {f.severity.label} | {rule_cell} {cell(f.name)} "
            f"| {_where(f, root, options)} | {cell(f.message)} |"
        )
    if total > MAX_ROWS:
        out += ["", f"{total - MAX_ROWS} more findings are not shown; the SARIF or JSON report has them all."]
    return "\n".join(out) + "\n"
