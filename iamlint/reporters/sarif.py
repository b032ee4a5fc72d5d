"""SARIF 2.1.0 output for code scanning (GitHub, Azure DevOps, IDE viewers).

One run; every rule that can report, with its help as text and Markdown and its `helpUri`;
one result per finding with the file relative to the repository root (`%SRCROOT%`), the
region, the CloudFormation logical id and CDK construct path as logical locations, a
`partialFingerprints` entry that survives moved lines (see `iamlint.fingerprints`), the level
mapped from the severity, and `security-severity` so that GitHub ranks the alert. Input errors
(IAM001, IAM002) are results too, so a broken policy is visible where the others are.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from iamlint.engine import LintResult
from iamlint.fingerprints import FINGERPRINT_KEY, fingerprint, relative_path
from iamlint.model import STDIN, Finding, Severity
from iamlint.reporters import ReportOptions, splice
from iamlint.ruleset import Rule

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/iamlint/iamlint"
SRCROOT = "%SRCROOT%"

# GitHub maps security-severity to critical (> 9.0), high (7.0-8.9), medium (4.0-6.9), low.
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "1.0",
}
LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "warning",
    Severity.INFO: "note",
}


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?")) else text + "."


def _help_markdown(rule: Rule) -> str:
    parts = [
        f"**{rule.id} {rule.name}** (severity {rule.severity.label}, category {rule.category})",
        _sentence(rule.summary),
        "### Why",
        rule.rationale.strip(),
        "### Fix",
        rule.fix.strip(),
    ]
    if rule.known_limitations:
        parts += ["### Known limitations", rule.known_limitations.strip()]
    if rule.references:
        parts += ["### References", "\n".join(f"- <{r}>" for r in rule.references)]
    return "\n\n".join(parts)


def _help_text(rule: Rule) -> str:
    parts = [_sentence(rule.summary), f"Why: {rule.rationale.strip()}", f"Fix: {rule.fix.strip()}"]
    if rule.references:
        parts.append("References: " + " ".join(rule.references))
    return "\n\n".join(parts)


# Categories whose findings are about the run, not a policy's risk (an unreadable input, a
# crashed rule, a stale suppression): no "security" tag and no security-severity, so code
# scanning does not count them among the security alerts.
_NOT_SECURITY = frozenset({"input", "internal", "meta"})
# GitHub code scanning rejects a run of more than 25,000 results ("SARIF results exceed hard
# limit" in its documentation); the most severe are kept and the run says so.
MAX_RESULTS = 25_000


def _tags(category: str) -> list[str]:
    return ["iam", category] if category in _NOT_SECURITY else ["security", "iam", category]


def _severity_properties(category: str, severity: Severity) -> dict[str, str]:
    return {} if category in _NOT_SECURITY else {"security-severity": SECURITY_SEVERITY[severity]}


def kept_results(findings: tuple[Finding, ...] | list[Finding]) -> list[Finding]:
    """The findings a SARIF run holds: all, or the MAX_RESULTS most severe in report order."""
    if len(findings) <= MAX_RESULTS:
        return list(findings)
    ranked = sorted(range(len(findings)), key=lambda i: -findings[i].severity.value)[:MAX_RESULTS]
    return [findings[i] for i in sorted(ranked)]


def _invocation(result: LintResult) -> dict[str, Any]:
    """Whether the run read every input and ran every rule, and what was left out of the log."""
    notes: list[dict[str, Any]] = []
    left_out = len(result.findings) - MAX_RESULTS
    if left_out > 0:
        notes.append(
            {
                "level": "warning",
                "message": {
                    "text": (
                        f"{len(result.findings)} findings: GitHub code scanning accepts at most {MAX_RESULTS} results per run, "
                        f"so the {left_out} least severe are left out of this file (the text and JSON reports hold them all)"
                    )
                },
            }
        )
    failed = any(f.category in ("input", "internal") for f in result.findings)
    return {"executionSuccessful": not failed, **({"toolExecutionNotifications": notes} if notes else {})}


def rule_descriptor(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": "".join(part.capitalize() for part in rule.name.split("-")),
        "shortDescription": {"text": _sentence(rule.summary)},
        "fullDescription": {"text": _sentence(rule.rationale)},
        "help": {"text": _help_text(rule), "markdown": _help_markdown(rule)},
        "helpUri": rule.help_uri,
        "defaultConfiguration": {"level": LEVEL[rule.severity]},
        "properties": {
            "tags": _tags(rule.category),
            "precision": "high",
            "problem.severity": "error" if LEVEL[rule.severity] == "error" else "warning",
            **_severity_properties(rule.category, rule.severity),
        },
    }


def _artifact(file: str, root: str) -> dict[str, Any]:
    rel = relative_path(file, root)
    if rel is not None:
        # The file name's own bytes, percent-encoded: a name that is not UTF-8 (kept by Python
        # as surrogate escapes) still names its file.
        return {"uri": quote(os.fsencode(rel)), "uriBaseId": SRCROOT}
    if file in ("-", STDIN):
        return {"uri": "stdin"}
    return {"uri": Path(file).resolve().as_uri()}


def _logical_locations(f: Finding) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    loc, src = f.location, f.source
    cpath = loc.construct_path or (src.construct_path if src else None)
    logical_id = loc.logical_id or (src.logical_id if src else None)
    if cpath:
        out.append({"name": cpath.rsplit("/", 1)[-1], "fullyQualifiedName": cpath, "kind": "module"})
    if logical_id:
        out.append({"name": logical_id, "fullyQualifiedName": f"Resources.{logical_id}", "kind": "resource"})
    return out


def _message(f: Finding) -> str:
    text = _sentence(f.message)
    context = []
    if f.source is not None and f.source.kind != "file":
        context.append(f.source.describe())
    if f.statement_sid:
        context.append(f"Sid {f.statement_sid}")
    if context:
        text += f" In {'; '.join(context)}."
    return text


def result_entry(f: Finding, index: int, root: str, seen: Counter[str] | None = None) -> dict[str, Any]:
    """One result; `seen` counts fingerprints already given, so that two identical statements
    (same grant, same owner) get distinct identities, numbered in order as upload-sarif numbers
    its line hashes: code scanning merges results that share a partial fingerprint."""
    key = fingerprint(f, root)
    if seen is not None:
        seen[key] += 1
        if seen[key] > 1:
            key = f"{key}:{seen[key]}"
    physical: dict[str, Any] = {"artifactLocation": _artifact(f.location.file, root)}
    if f.location.line is not None:
        physical["region"] = {"startLine": f.location.line, "startColumn": f.location.column or 1}
    location: dict[str, Any] = {"physicalLocation": physical}
    logical = _logical_locations(f)
    if logical:
        location["logicalLocations"] = logical
    properties: dict[str, Any] = {
        "severity": f.severity.label,
        **_severity_properties(f.category, f.severity),
        "tags": _tags(f.category),
    }
    if f.evidence.actions:
        properties["actions"] = list(f.evidence.actions)
    if f.evidence.resources:
        properties["resources"] = list(f.evidence.resources)
    if f.evidence.notes:
        properties["notes"] = list(f.evidence.notes)
    return {
        "ruleId": f.rule,
        "ruleIndex": index,
        "level": LEVEL[f.severity],
        "message": {"text": _message(f)},
        "locations": [location],
        "partialFingerprints": {FINGERPRINT_KEY: key},
        "properties": properties,
    }


def sarif_log(
    result: LintResult, rules: Mapping[str, Rule], options: ReportOptions, results: bool = True
) -> dict[str, Any]:
    """The log as one dict; with `results=False`, its results list left empty (`render_parts`)."""
    return _log(result, _rule_index(result, rules), options, results)


def _log(
    result: LintResult, ruled: tuple[dict[str, int], list[dict[str, Any]]], options: ReportOptions, results: bool
) -> dict[str, Any]:
    root = str(Path(options.root).resolve())
    index, descriptors = ruled
    seen: Counter[str] = Counter()
    driver: dict[str, Any] = {
        "name": "iamlint",
        "informationUri": INFORMATION_URI,
        "rules": descriptors,
    }
    if options.tool_version:
        driver["version"] = options.tool_version
        driver["semanticVersion"] = options.tool_version
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "originalUriBaseIds": {SRCROOT: {"uri": Path(root).as_uri() + "/"}},
        "invocations": [_invocation(result)],
        "results": [result_entry(f, index[f.rule], root, seen) for f in kept_results(result.findings)]
        if results
        else [],
        "columnKind": "unicodeCodePoints",
    }
    if options.catalog_version:
        run["properties"] = {"iamCatalog": options.catalog_version}
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}


def _rule_index(result: LintResult, rules: Mapping[str, Rule]) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """Each rule id's index among the descriptors, and the descriptors."""
    ordered = sorted(rules.values(), key=lambda r: r.id)
    index = {r.id: i for i, r in enumerate(ordered)}
    descriptors = [rule_descriptor(r) for r in ordered]
    for f in result.findings:  # a finding of a rule the table lacks (a custom rule) still needs one
        if f.rule not in index:
            index[f.rule] = len(descriptors)
            descriptors.append(_ad_hoc_descriptor(f))
    return index, descriptors


def _ad_hoc_descriptor(f: Finding) -> dict[str, Any]:
    return {
        "id": f.rule,
        "name": "".join(part.capitalize() for part in f.name.split("-")),
        "shortDescription": {"text": _sentence(f.name.replace("-", " "))},
        "fullDescription": {"text": _sentence(f.message)},
        "help": {"text": _sentence(f.fix or f.message), "markdown": _sentence(f.fix or f.message)},
        "helpUri": f"{INFORMATION_URI}/blob/main/docs/rules.md",
        "defaultConfiguration": {"level": LEVEL[f.severity]},
        "properties": {"tags": _tags(f.category), **_severity_properties(f.category, f.severity)},
    }


def render(result: LintResult, rules: Mapping[str, Rule], options: ReportOptions) -> str:
    return json.dumps(sarif_log(result, rules, options), indent=2, ensure_ascii=False) + "\n"


_BATCH = 500  # results turned into text at a time
_RESULTS = '"results": []'
_RESULT_INDENT = " " * 8  # a result's depth: the log, its runs list, the run, its results list


def render_parts(result: LintResult, rules: Mapping[str, Rule], options: ReportOptions) -> Iterator[str]:
    """`render`'s text in pieces, each result turned into text only when its piece is due:
    as one dict tree and one string, a large account's log took twice the memory of checking it."""
    ruled = _rule_index(result, rules)
    shell = json.dumps(_log(result, ruled, options, results=False), indent=2, ensure_ascii=False)
    if not result.findings:
        yield shell + "\n"
        return
    root = str(Path(options.root).resolve())
    index = ruled[0]
    seen: Counter[str] = Counter()
    key = shell.index(_RESULTS)
    key_indent = shell[shell.rindex("\n", 0, key) + 1 : key]

    def encode(f: Finding) -> str:  # indented as json.dumps(..., indent=2) nests it
        text = json.dumps(result_entry(f, index[f.rule], root, seen), indent=2, ensure_ascii=False)
        return _RESULT_INDENT + text.replace("\n", "\n" + _RESULT_INDENT)

    yield from splice(
        shell,
        _RESULTS,
        kept_results(result.findings),
        encode,
        sep=",\n",
        around=("\n", "\n" + key_indent),
        batch=_BATCH,
    )
    yield "\n"
