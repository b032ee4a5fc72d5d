"""Machine-readable audit output: JSON in `check`'s versioned schema, and proposal files.

The JSON is `iamlint.reporters.json_report.report_dict` unchanged, so whatever reads `iamlint
check --format json` reads it; reads that failed are listed in its `errors` array (file
`aws:<account>` or the snapshot, message naming the region, permission and reason), which is
where that schema puts input that could not be read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from iamlint import __version__
from iamlint.audit.analyse import AuditResult

_UNSAFE = re.compile(r"[^A-Za-z0-9._+=@-]+")


def report_options() -> Any:
    from iamlint.catalog import get_catalog  # noqa: PLC0415
    from iamlint.reporters import ReportOptions  # noqa: PLC0415

    return ReportOptions(tool_version=__version__, catalog_version=get_catalog().data_version())


def audit_dict(result: AuditResult, *, findings: bool = True) -> dict[str, Any]:
    from iamlint.reporters.json_report import report_dict  # noqa: PLC0415

    out = report_dict(result.lint, report_options(), findings=findings)
    files = {a.account: a.file for a in result.accounts}
    for gap in result.gaps:
        if gap.incomplete:
            out["errors"].append(
                {
                    "file": files.get(gap.account, f"aws:{gap.account}"),
                    "line": None,
                    "column": None,
                    "message": f"not read: {gap.render()}",
                }
            )
    return out


def audit_json_parts(result: AuditResult) -> Iterator[str]:
    """The text of `audit_dict(result)` in pieces (`json_report.spliced`): a large account has
    tens of thousands of findings, and the text alone is tens of megabytes."""
    from iamlint.reporters.json_report import spliced  # noqa: PLC0415

    return spliced(audit_dict(result, findings=False), result.lint.findings)


def proposal_files(result: AuditResult) -> list[tuple[str, str]]:
    """(file name, text): `<account>-<kind>-<name>.json`, the policy, and `.evidence.json` next to it."""
    out = []
    for account, label, proposal in result.proposals:
        if isinstance(proposal, str):
            continue  # no proposal, and why: shown in the HTML report
        stem = _UNSAFE.sub("_", f"{account}-{label.replace(' ', '-')}")
        evidence = {
            "principal": label,
            "account": account,
            "basis": "IAM Access Advisor: granted services never used, and tracked actions never used, are "
            "left out; every other granted action is kept at the resources it is granted on",
            "kept_actions": proposal.kept_actions,
            "granted_actions": proposal.original_actions,
            "removed_per_service": proposal.removed,
            "proved": "the proposal allows nothing the current policies do not (iamlint.evaluator.contains)",
        }
        out.append((f"{stem}.json", json.dumps(proposal.document, indent=2) + "\n"))
        out.append((f"{stem}.evidence.json", json.dumps(evidence, indent=2) + "\n"))
    return out
