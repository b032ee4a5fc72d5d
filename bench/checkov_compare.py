"""iamlint against checkov on the corpus's SAM and CloudFormation templates, in one run.

Usage: ``python bench/checkov_compare.py [--checkov PATH] [--corpus DIR] [--single N]``

checkov pins its own dependencies, so it lives in a separate virtual environment:
``python3 -m venv /tmp/checkov-venv && /tmp/checkov-venv/bin/pip install checkov``.

For each template set (corpus/sam, corpus/cfn) both tools run over the whole folder as fresh
processes, `--repeat` rounds (default 3) with the tools alternated, and each one's median run is
reported; then both run on N single templates, as a pre-commit hook would. Printed:
wall time, peak memory, ratios, and which IAM problems each finds: checkov's IAM check ids
(CKV_AWS_*) on the templates, and iamlint's rules, template by template.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import PY, describe, interleaved, run

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
IAMLINT = os.path.join(os.path.dirname(PY), "iamlint")


def _checkov_results(stdout: bytes) -> list[dict[str, object]]:
    try:
        data = json.loads(stdout or b"[]")
    except ValueError:
        return []
    reports = data if isinstance(data, list) else [data]
    out: list[dict[str, object]] = []
    for report in reports:
        results = report.get("results", {}) if isinstance(report, dict) else {}
        out.extend(results.get("failed_checks", []))
    return out


def _iam_checks(failed: list[dict[str, object]]) -> collections.Counter[str]:
    counts: collections.Counter[str] = collections.Counter()
    for check in failed:
        name = str(check.get("check_name", ""))
        if "IAM" in name or "policy" in name.lower() or "privilege" in name.lower() or "role" in name.lower():
            counts[f"{check.get('check_id')} {name[:70]}"] += 1
    return counts


def compare(folder: Path, checkov: str, single: int, repeat: int) -> None:
    print(f"\n== {folder.name}: {sum(1 for _ in folder.rglob('*') if _.is_file())} files ==")
    commands = {
        "iamlint": [IAMLINT, "check", str(folder), "--format", "json"],
        "iamlint -j1": [IAMLINT, "check", str(folder), "--format", "json", "-j", "1"],
        "checkov": [checkov, "-d", str(folder), "--framework", "cloudformation", "--quiet", "--compact", "-o", "json"],
    }
    medians, walls = interleaved(commands, repeat)
    ours, one, theirs = medians["iamlint"], medians["iamlint -j1"], medians["checkov"]
    for name in commands:
        print(describe(name, medians[name], walls[name]))
    print(
        f"speed: iamlint is {theirs.wall / ours.wall:.1f}x faster on the folder "
        f"({theirs.wall / one.wall:.1f}x in one process, as checkov runs)"
    )
    report = json.loads(ours.stdout)
    rules = collections.Counter(f"{f['rule']} {f['name']}" for f in report["findings"])
    print("iamlint findings:", ", ".join(f"{k} {v}" for k, v in sorted(rules.items())))
    print("checkov IAM-related failed checks:")
    for name, n in sorted(_iam_checks(_checkov_results(theirs.stdout)).items()):
        print(f"  {n:5d}  {name}")
    templates = sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml", ".json", ".template"))[:single]
    if not templates:
        return
    ours_total = theirs_total = 0.0
    for path in templates:
        ours_total += run([IAMLINT, "check", str(path), "--format", "json"]).wall
        theirs_total += run(
            [checkov, "-f", str(path), "--framework", "cloudformation", "--quiet", "--compact", "-o", "json"]
        ).wall
    n = len(templates)
    print(
        f"per template (mean of {n}, one process each): iamlint {ours_total / n:.3f}s, checkov {theirs_total / n:.3f}s "
        f"-> {theirs_total / ours_total:.1f}x"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkov", default="/tmp/checkov-venv/bin/checkov")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--single", type=int, default=5, help="single-template runs per set")
    parser.add_argument("--repeat", type=int, default=3, help="folder runs per tool (the median is reported)")
    args = parser.parse_args()
    if not os.path.exists(args.checkov):
        print(f"checkov not found at {args.checkov}; see this script's docstring", file=sys.stderr)
        return 2
    for name in ("sam", "cfn"):
        compare(args.corpus / name, args.checkov, args.single, args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
