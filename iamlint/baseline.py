"""Baselines: accept the findings a project has today, report only new ones.

`--baseline-write FILE` records every current finding by its fingerprint (see
`iamlint.fingerprints`: rule, file relative to the repository root, owning resource, what the
statement grants, evidence; never line numbers), with enough context for a reviewer to read
the file. `--baseline FILE` then drops findings whose fingerprint is recorded, each recorded
entry matching at most as many findings as it was recorded for. Moving a statement or adding
lines above it keeps it matched; changing what it grants makes it new. Input errors are never
baselined: a file that cannot be read must not pass.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from iamlint.fingerprints import display_path, fingerprint, owner_of
from iamlint.model import Finding

FORMAT_VERSION = 2  # 1: fingerprints changed with the IAM catalogue (fingerprints.py)


class BaselineError(Exception):
    """A baseline file is missing, unreadable or not a baseline."""


@dataclass(frozen=True, slots=True)
class Baseline:
    counts: Counter[str]

    def filter(self, findings: Iterable[Finding], root: str) -> tuple[list[Finding], int]:
        """(findings not in the baseline, how many were matched)."""
        left = Counter(self.counts)
        out: list[Finding] = []
        matched = 0
        for f in findings:
            if f.is_error:
                out.append(f)
                continue
            key = fingerprint(f, root)
            if left[key] > 0:
                left[key] -= 1
                matched += 1
            else:
                out.append(f)
        return out, matched


def render_baseline(findings: Iterable[Finding], root: str) -> str:
    entries = []
    for f in findings:
        if f.is_error:
            continue
        entries.append(
            {
                "fingerprint": fingerprint(f, root),
                "rule": f.rule,
                "file": display_path(f.location.file, root),
                "owner": owner_of(f) or None,
                "sid": f.statement_sid,
                "message": f.message,
            }
        )
    entries.sort(key=lambda e: (e["file"] or "", e["rule"] or "", e["owner"] or "", e["fingerprint"] or ""))
    doc = {"version": FORMAT_VERSION, "tool": "iamlint", "findings": entries}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def read_baseline(path: str) -> Baseline:
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except FileNotFoundError:
        raise BaselineError(f"{path}: baseline file not found (create it with --baseline-write)") from None
    except OSError as exc:
        raise BaselineError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        raise BaselineError(f"{path}: not valid JSON: {exc}") from None
    version = doc.get("version") if isinstance(doc, dict) else None
    # `type(...) is int`: true == 1 in Python, and a baseline saying "version": true is not one.
    if type(version) is int and version == 1:
        raise BaselineError(
            f"{path}: a version 1 baseline, whose fingerprints changed whenever the IAM catalogue did; "
            "write it again with --baseline-write (version 2 names globs as written)"
        )
    if type(version) is not int or version != FORMAT_VERSION or not isinstance(doc.get("findings"), list):
        raise BaselineError(f"{path}: not an iamlint baseline (expected version {FORMAT_VERSION} with a findings list)")
    counts: Counter[str] = Counter()
    for i, entry in enumerate(doc["findings"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("fingerprint"), str):
            raise BaselineError(f"{path}: findings[{i}] has no fingerprint")
        counts[entry["fingerprint"]] += 1
    return Baseline(counts)
