"""JSON output, versioned and described by `schemas/output.schema.json`.

The version is bumped whenever a field changes meaning or disappears; new fields may be added
within a version.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from json.encoder import encode_basestring_ascii
from typing import Any

from iamlint.engine import INPUT_ERROR, LintResult
from iamlint.model import Finding, Severity, Source
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
    yield from splice(json.dumps(shell, separators=(",", ":")), '"findings":[]', findings, _FindingText(), batch=_BATCH)
    yield "\n"


class _FindingText:
    """`json.dumps(finding_dict(f), separators=(",", ":"))`, the same text, written directly.

    Most of a finding's text repeats: its rule's fields (name, category, fix) and its source,
    one per document, which findings share (4,790 sources for the 19,448 findings of the
    3,000-role audit); each is encoded once per report. Strings go through the encoder's own
    escaping function, so the text is byte for byte `json.dumps`'s (a test holds them equal).
    """

    __slots__ = ("heads", "sources")

    def __init__(self) -> None:
        self.heads: dict[tuple[str, str, Severity, str, str], tuple[str, str]] = {}
        self.sources: dict[int, tuple[Source | None, str]] = {}  # by id, with the Source kept alive

    def __call__(self, f: Finding) -> str:
        key = (f.rule, f.name, f.severity, f.category, f.fix)
        head = self.heads.get(key)
        if head is None:
            head = self.heads[key] = (
                (
                    f'{{"rule":{_str(f.rule)},"name":{_str(f.name)},"severity":{_str(f.severity.label)},'
                    f'"category":{_str(f.category)},"message":'
                ),
                f',"fix":{_str(f.fix)},"error":',
            )
        src = f.source
        known = self.sources.get(id(src))
        if known is None or known[0] is not src:
            known = self.sources[id(src)] = (src, _DUMPS(_source(src)))
        loc, ev = f.location, f.evidence
        location = (
            f'{{"file":{_str(loc.file)},"line":{_int(loc.line)},"column":{_int(loc.column)},"path":{_str(loc.path)}'
        )
        if loc.logical_id:
            location += f',"logical_id":{_str(loc.logical_id)}'
        if loc.construct_path:
            location += f',"construct_path":{_str(loc.construct_path)}'
        return (
            f'{head[0]}{_str(f.message)}{head[1]}{"true" if f.is_error else "false"},"location":{location}}},'
            f'"statement":{{"sid":{_opt_str(f.statement_sid)},"index":{_int(f.statement_index)}}},'
            f'"source":{known[1]},"evidence":{{"actions":{_strs(ev.actions)},"resources":{_strs(ev.resources)},'
            f'"conditions":{_strs(ev.conditions)},"notes":{_strs(ev.notes)}}}}}'
        )


_DUMPS = json.JSONEncoder(separators=(",", ":")).encode
_str = encode_basestring_ascii  # json.dumps's escaping of a string (ensure_ascii, the default)


def _opt_str(text: str | None) -> str:
    return "null" if text is None else _str(text)


def _int(number: int | None) -> str:
    return "null" if number is None else int.__repr__(number)  # as the encoder writes an int


def _strs(texts: tuple[str, ...]) -> str:
    return f"[{','.join(map(_str, texts))}]"
