"""Findings on every corpus, as sorted lines, to show that a change (a speed-up) changed none.

Usage:
    python bench/findings_snapshot.py OUT_DIR            # write one file per corpus
    python bench/findings_snapshot.py --compare A B      # the corpora whose findings differ

Each line is one finding: rule, file, line, column, severity, message and evidence, sorted.
Run it before a change and after it, in this tree (PYTHONPATH cannot point it at another
checkout: the editable install maps `iamlint.rules` to this tree's rules/), and compare: every
corpus should say "same" unless the change meant to alter findings.
The corpora are the managed policies bench/managed_policies.py writes, the shared corpus's SAM,
CloudFormation, CDK, account-dump and policy folders, and the rule fixtures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import PY

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
CORPORA = {
    "managed": ROOT / "bench" / "out" / "managed",
    "sam": CORPUS / "sam",
    "cfn": CORPUS / "cfn",
    "cdk": CORPUS / "cdk",
    "auth": CORPUS / "account_auth_details",
    "policies": CORPUS / "policies",
    "fixtures": ROOT / "fixtures" / "rules",
}
IAMLINT = os.path.join(os.path.dirname(PY), "iamlint")


def lines(folder: Path) -> list[str]:
    proc = subprocess.run(
        [IAMLINT, "check", str(folder), "--format", "json", "-j", "1"], capture_output=True, check=False
    )
    report = json.loads(proc.stdout)
    rows = sorted(
        (
            f["rule"],
            f["location"]["file"],
            f["location"].get("line") or 0,
            f["location"].get("column") or 0,
            f["severity"],
            f["message"],
            json.dumps(f.get("evidence"), sort_keys=True),
        )
        for f in report["findings"]
    )
    return [json.dumps(row) for row in rows]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path)
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.compare:
        before, after = args.compare
        differ = 0
        for name in CORPORA:
            a, b = before / f"{name}.txt", after / f"{name}.txt"
            if not a.exists() or not b.exists():
                print(f"{name:<9} missing")
                continue
            old, new = Counter(a.read_text().splitlines()), Counter(b.read_text().splitlines())
            if old == new:
                print(f"{name:<9} same ({new.total()} findings)")
            else:
                differ += 1
                print(f"{name:<9} DIFFERENT: {(old - new).total()} gone, {(new - old).total()} new")
        return 1 if differ else 0
    if args.out is None:
        parser.error("give OUT_DIR, or --compare BEFORE AFTER")
    args.out.mkdir(parents=True, exist_ok=True)
    for name, folder in CORPORA.items():
        if not folder.exists():
            print(f"{name:<9} skipped: {folder} does not exist")
            continue
        found = lines(folder)
        (args.out / f"{name}.txt").write_text("\n".join(found) + "\n")
        print(f"{name:<9} {len(found)} findings")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
