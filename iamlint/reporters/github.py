"""GitHub Actions workflow commands: one `::error`, `::warning` or `::notice` line per finding.

GitHub turns each line into an annotation on the file and line of a pull request. Values are
escaped as the runner expects (toolkit `command.ts`): in the message `%`, CR and LF; in the
properties also `:` and `,`. Paths are relative to the repository root, as GitHub wants them.

Reference: https://docs.github.com/actions/reference/workflows-and-actions/workflow-commands
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from iamlint.engine import LintResult
from iamlint.fingerprints import display_path
from iamlint.model import Finding, Severity
from iamlint.reporters import ReportOptions
from iamlint.ruleset import Rule

COMMAND = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "warning",
    Severity.INFO: "notice",
}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(f: Finding, root: str) -> str:
    props = [f"file={escape_property(display_path(f.location.file, root))}"]
    if f.location.line is not None:
        props.append(f"line={f.location.line}")
        props.append(f"col={f.location.column or 1}")
    props.append(f"title={escape_property(f'{f.rule} {f.name}')}")
    message = f"[{f.severity.label}] {f.message}"
    if f.source is not None and f.source.kind != "file":
        message += f"\nin {f.source.describe()}"
    if f.fix and not f.is_error:
        message += f"\nhelp: {f.fix}"
    return f"::{COMMAND[f.severity]} {','.join(props)}::{escape_data(message)}"


def render(result: LintResult, rules: Mapping[str, Rule], options: ReportOptions) -> str:
    del rules
    root = str(Path(options.root).resolve())
    # GitHub shows only the first 10 error and 10 warning annotations of a step: the most severe
    # come first (input errors among the highs), each severity in report order (sorted is stable).
    ordered = sorted(result.findings, key=lambda f: -f.severity.value)
    lines = [command(f, root) for f in ordered]
    counts = ", ".join(f"{n} {label}" for label, n in result.counts().items() if n) or "none"
    lines.append(f"iamlint: {len(result.findings)} finding(s) ({counts}) in {result.documents} policies.")
    return "\n".join(lines) + "\n"
