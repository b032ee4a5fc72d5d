"""iamlint against parliament on every AWS managed policy shipped in the `moto` package.

Usage: ``python bench/managed_policies.py [--repeat N] [--list-unknown]``

Writes each policy document to bench/out/managed/<name>.json, then in one run:
- iamlint: `iamlint check DIR --format json` as a fresh process;
- parliament: one fresh process that analyses every document with parliament's library,
  catching its exceptions per document (its CLI aborts the whole directory on the first one).
Prints wall time, peak memory, findings per category for each, the ratios, and every
unknown-action / unknown-service finding iamlint reports on AWS's own policies. Three more
iamlint runs show where its time goes: one worker (`-j 1`), and no rule but IAM001 (reading,
the model and the size limits, which expand every action pattern), with one worker and with
every worker: the last is the floor under the 15x target, what is left of it for the rules.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import PY, describe, median_run

OUT = Path(__file__).resolve().parent / "out" / "managed"
SPEED_TARGET = 15.0  # issue #2: at least this many times faster than parliament

PARLIAMENT_SCRIPT = r"""
import collections, json, os, sys
from parliament import analyze_policy_string
root = sys.argv[1]
counts = collections.Counter(); crashes = []
unknown = []
for name in sorted(os.listdir(root)):
    text = open(os.path.join(root, name)).read()
    try:
        policy = analyze_policy_string(text)
    except Exception as exc:
        crashes.append((name, f"{type(exc).__name__}: {exc}"))
        continue
    for finding in policy.findings:
        counts[finding.issue] += 1
        if finding.issue in ("UNKNOWN_ACTION", "UNKNOWN_PREFIX"):
            unknown.append((name, finding.issue, str(finding.detail)[:120]))
print(json.dumps({"counts": counts, "crashes": crashes, "unknown": unknown[:50]}))
"""


def write_corpus() -> int:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    data = json.loads(aws_managed_policies_data)
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.json"):
        old.unlink()
    for name, entry in data.items():
        (OUT / f"{name}.json").write_text(json.dumps(entry["Document"], indent=2))
    return len(data)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--list-unknown", action="store_true", help="print every IAM111 finding")
    args = parser.parse_args()

    count = write_corpus()
    print(f"{count} AWS managed policy documents from moto, written to {OUT}")
    iamlint = [os.path.join(os.path.dirname(PY), "iamlint"), "check", str(OUT), "--format", "json"]
    ours, our_walls = median_run(iamlint, args.repeat)
    theirs, their_walls = median_run([PY, "-c", PARLIAMENT_SCRIPT, str(OUT)], args.repeat)
    print(describe("iamlint", ours, our_walls))
    print(describe("parliament", theirs, their_walls))
    if theirs.returncode != 0:
        print(theirs.stderr.decode()[-2000:])
        return 1
    print(f"speed: iamlint is {theirs.wall / ours.wall:.1f}x faster; memory ratio {ours.peak_mb / theirs.peak_mb:.2f}")
    budget = theirs.wall / SPEED_TARGET
    print(f"target: {SPEED_TARGET:.0f}x faster, i.e. iamlint in {budget:.3f}s or less")
    # Where the time goes: one worker, and reading the files with no rule enabled (IAM001
    # only: parsing, the model, the size limits, which expand every action pattern).
    one, one_walls = median_run([*iamlint, "-j", "1"], args.repeat)
    bare, bare_walls = median_run([*iamlint, "-j", "1", "--select", "IAM001"], args.repeat)
    floor, floor_walls = median_run([*iamlint, "--select", "IAM001"], args.repeat)
    print(describe("iamlint -j1", one, one_walls))
    print(describe("iamlint -j1, input only", bare, bare_walls))
    print(describe("iamlint, input only", floor, floor_walls))
    # The floor: start-up and reading the corpus into the model, with every worker and no rule.
    print(
        f"floor: input alone takes {floor.wall / budget:.0%} of the {SPEED_TARGET:.0f}x budget, "
        f"leaving {max(0.0, budget - floor.wall):.3f}s for every rule"
    )

    report = json.loads(ours.stdout)
    per_rule = collections.Counter(f"{f['rule']} {f['name']}" for f in report["findings"])
    crashes = [f for f in report["findings"] if f["rule"] in ("IAM001", "IAM003")]
    print(
        f"\niamlint: {report['summary']['documents']} documents, {len(report['findings'])} findings, "
        f"{len(crashes)} input errors or rule crashes"
    )
    for rule, n in sorted(per_rule.items()):
        print(f"  {rule:<40} {n:6d}")
    p = json.loads(theirs.stdout)
    print(f"\nparliament: {sum(p['counts'].values())} findings, {len(p['crashes'])} documents crashed it")
    for issue, n in sorted(p["counts"].items()):
        print(f"  {issue:<40} {n:6d}")
    for name, err in p["crashes"]:
        print(f"  crash: {name}: {err[:100]}")

    unknown = [f for f in report["findings"] if f["rule"] == "IAM111"]
    print(f"\niamlint unknown-action/service findings on AWS's own policies: {len(unknown)}")
    for f in unknown if args.list_unknown else unknown[:20]:
        print(f"  {Path(f['location']['file']).name}:{f['location']['line']}: {f['message']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
