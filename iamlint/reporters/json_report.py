"""JSON output, versioned and described by `schemas/output.schema.json`.

The version is bumped whenever a field changes meaning or disappears; new fields may be added
within a version.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from iamlint.engine import INPUT_ERROR, LintResult
from iamlint.model import Finding, Source
from iamlint.reporters import ReportOptions, splice
from iamlint.ruleset import Rule

OUTPUT_VERSION = "1.0"


def _source(src: Source | None) -> dict[str, Any] | None:
    if src is None:
        return None
    out = {
        "kind": src.kind,
        "name": src.name,
        "logical_id": src.logical_id,
        "construct_path": src.construct_path,
        "arn": src.arn,
        "policy_name": src.policy_name,
        "via": src.via,
        "condition": src.condition,
        "used_by": list(src.used_by) or None,
        "attached_to": list(src.attached_to) or None,
    }
    return {k: v for k, v in out.items() if v is not None}


def finding_dict(f: Finding) -> dict[str, Any]:
    loc = f.location
    location: dict[str, Any] = {"file": loc.file, "line": loc.line, "column": loc.column, "path": loc.path}
    if loc.logical_id:
        location["logical_id"] = loc.logical_id
    if loc.construct_path:
        location["construct_path"] = loc.construct_path
    return {
        "rule": f.rule,
        "name": f.name,
        "severity": f.severity.label,
        "category": f.category,
        "message": f.message,
        "fix": f.fix,
        "error": f.is_error,
        "location": location,
        "statement": {"sid": f.statement_sid, "index": f.statement_index},
        "source": _source(f.source),
        "evidence": {
            "actions": list(f.evidence.actions),
            "resources": list(f.evidence.resources),
            "conditions": list(f.evidence.conditions),
            "notes": list(f.evidence.notes),
        },
    }


def report_dict(result: LintResult, options: ReportOptions, *, findings: bool = True) -> dict[str, Any]:
    """The report; without `findings`, its "findings" list is left empty (the summary still counts
    them) for a caller that writes the findings in pieces (`spliced`)."""
    errors = [
        {"file": f.location.file, "line": f.location.line, "column": f.location.column, "message": f.message}
        for f in result.findings
        if f.rule == INPUT_ERROR
    ]
    return {
        "version": OUTPUT_VERSION,
        "tool": {"name": "iamlint", "version": options.tool_version, "catalog": options.catalog_version},
        "findings": [finding_dict(f) for f in result.findings] if findings else [],
        "errors": errors,
        "summary": {
            "files": result.files,
            "documents": result.documents,
            "findings": len(result.findings),
            "by_severity": result.counts(),
            "errors": sum(1 for f in result.findings if f.is_error),
        },
    }


def render(result: LintResult, rules: Mapping[str, Rule], options: ReportOptions) -> str:
    return "".join(render_parts(result, rules, options))


_BATCH = 256  # findings per piece: few writes, and only a few hundred findings as text at a time


def render_parts(result: LintResult, rules: Mapping[str, Rule], options: ReportOptions) -> Iterator[str]:
    """The report in pieces (`spliced`): the text of `json.dumps(report_dict(...))`, compact
    (the C encoder only runs without indent), and a newline."""
    del rules
    return spliced(report_dict(result, options, findings=False), result.findings)


def spliced(shell: Mapping[str, Any], findings: Sequence[Finding]) -> Iterator[str]:
    """`json.dumps(shell)` with `findings` in its empty "findings" list, in pieces
    (`reporters.splice`): as one dict tree and one string, a large account's report took more
    memory than checking it."""
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    yield from splice(json.dumps(shell, separators=(",", ":")), '"findings":[]', findings,
                      lambda f: dumps(finding_dict(f)), batch=_BATCH)
    yield "\n"
