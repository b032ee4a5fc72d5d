"""`iamlint audit --from FILE` against cloudsplaining on the same authorization-details dump.

Usage: ``python bench/audit_scale.py [--roles N] [--repeat N] [--seed S]``

The dump is the one bench/cloudsplaining_compare.py generates (N roles built from AWS's managed
policies in the `moto` package, users in groups, service-linked roles...; reused from that
module, not duplicated). In one run, each command as a fresh process timed from spawn to exit
with its own peak memory (bench/measure.py):

- `iamlint audit --from FILE -f json --html OUT`: the audit with its HTML report;
- `iamlint audit --from FILE -f json`: the audit alone;
- `iamlint check FILE --format json`: the same engine without the audit's analysis;
- `cloudsplaining scan --input-file FILE`: its scan with its HTML report (which it always writes);
- cloudsplaining's analysis alone (`AuthorizationDetails(...).results`), without the report;
- the audit with its HTML report and no rule but IAM001: the floor under the speed target.

Prints wall time, peak memory, the ratios against the targets (10x faster than cloudsplaining,
under a third of its memory), and findings category by category.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cloudsplaining_compare as cs  # the generator and the category mapping, shared
from measure import PY, Run, describe, interleaved

OUT = Path(__file__).resolve().parent / "out" / "audit"
BIN = os.path.dirname(PY)
SPEED_TARGET, MEMORY_TARGET = 10.0, 1 / 3


def _verdict(ours: Run, theirs: Run, what: str) -> str:
    speed, memory = theirs.wall / ours.wall, ours.peak_mb / theirs.peak_mb
    s_ok = "met" if speed >= SPEED_TARGET else "NOT met"
    m_ok = "met" if memory < MEMORY_TARGET else "NOT met"
    return (
        f"  vs {what}: {speed:5.1f}x faster (target {SPEED_TARGET:.0f}x: {s_ok}); "
        f"{memory:4.2f}x its peak memory (target < {MEMORY_TARGET:.2f}: {m_ok})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--roles", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=1, help="runs per command (the median is shown)")
    parser.add_argument("--seed", type=int, default=20261027)
    args = parser.parse_args()

    OUT.mkdir(parents=True, exist_ok=True)
    dump = cs.generate(args.roles, args.seed)
    file = OUT / f"account-{args.roles}-roles.json"
    file.write_text(json.dumps(dump, indent=2))
    print(
        f"{file}: {file.stat().st_size / 1e6:.1f} MB, {len(dump['RoleDetailList'])} roles, "
        f"{len(dump['UserDetailList'])} users, {len(dump['GroupDetailList'])} groups, "
        f"{len(dump['Policies'])} managed policies"
    )

    iamlint = os.path.join(BIN, "iamlint")
    html, cs_dir, bare_out = OUT / "audit.html", OUT / "cloudsplaining", OUT / "cloudsplaining-no-html.json"
    audit_cmd = [iamlint, "audit", "--from", str(file), "-f", "json"]
    commands = {
        "audit + HTML": [*audit_cmd, "--html", str(html)],
        "audit": audit_cmd,
        "check": [iamlint, "check", str(file), "--format", "json"],
        "audit + HTML, input only": [*audit_cmd, "--html", str(OUT / "floor.html"), "--select", "IAM001"],
        "cloudsplaining": [
            os.path.join(BIN, "cloudsplaining"),
            "scan",
            "--input-file",
            str(file),
            "--output",
            str(cs_dir),
            "--skip-open-report",
        ],
        "cs (no HTML)": [PY, "-c", cs.CS_NO_HTML, str(file), str(bare_out)],
    }
    load_before = os.getloadavg()[0]
    med, walls = interleaved(
        commands, args.repeat, lambda name: cs._fresh(cs_dir) if name == "cloudsplaining" else None
    )
    print(f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs\n")
    for name in commands:
        print(describe(name, med[name], walls[name]))
    for name, r in med.items():
        if r.returncode not in (0, 1):
            print(f"{name} failed:\n{r.stderr.decode()[-2000:]}")
            return 1

    print("\nTargets (iamlint audit against cloudsplaining):")
    print("audit with its HTML report")
    print(_verdict(med["audit + HTML"], med["cloudsplaining"], "cloudsplaining scan (with its HTML report)"))
    print("audit alone")
    print(_verdict(med["audit"], med["cs (no HTML)"], "cloudsplaining's analysis alone"))
    print(_verdict(med["audit"], med["cloudsplaining"], "cloudsplaining scan"))
    floor, budget = med["audit + HTML, input only"].wall, med["cloudsplaining"].wall / SPEED_TARGET
    print(
        f"floor: the audit with no rule but IAM001 (start-up, reading the dump into the model, an empty "
        f"report) takes {floor / budget:.0%} of the {SPEED_TARGET:.0f}x budget of {budget:.2f}s"
    )
    overhead = med["audit"].wall / med["check"].wall
    print(
        f"audit / check: {overhead:.2f}x wall, {med['audit'].peak_mb / med['check'].peak_mb:.2f}x memory "
        "(the engine is the same; the rest is the audit's analysis and report)"
    )

    audit = json.loads(med["audit"].stdout)
    check = json.loads(med["check"].stdout)
    key = lambda f: (f["rule"], f["location"]["path"], f["message"])
    same = sorted(map(key, audit["findings"])) == sorted(map(key, check["findings"]))
    print(f"audit and check report the same findings on a plain dump: {same}")
    print(f"HTML report: {html} ({html.stat().st_size / 1e6:.1f} MB)")

    rules, slr = cs.iamlint_counts(audit)
    cats, seen = cs.cloudsplaining_counts(json.loads(bare_out.read_text()))
    print(
        f"\niamlint audit: {audit['summary']['documents']} documents, {len(audit['findings'])} findings "
        f"({slr} on service-linked roles' policies); cloudsplaining: {seen} policies reported"
    )
    print("findings per category: cloudsplaining policies flagged / actions flagged; iamlint documents / findings")
    cs.print_categories(rules, cats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
