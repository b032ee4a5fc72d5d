"""Load the whole shared corpus and report, per folder, what loads, what fails and why,
and the findings per rule.

Usage: ``python bench/corpus.py [--corpus ../shared/corpus] [--failures]``

Every SAM template, CloudFormation template, CDK assembly and authorization dump under the
corpus is given to iamlint as one input each, exactly as `iamlint check` would see it.
The corpus is read in place and never copied into the project.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from pathlib import Path

from iamlint.engine import Engine, LintConfig
from iamlint.loaders.inputs import InputOptions, expand_inputs, load_input

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
FOLDERS = ("sam", "cfn", "cdk", "account_auth_details", "policies")


def folder_inputs(root: Path) -> list[tuple[str, bool]]:
    options = InputOptions()
    return expand_inputs([str(root)], options)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--failures", action="store_true", help="print every load failure")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        print(f"no corpus at {args.corpus}", file=sys.stderr)
        return 2
    engine = Engine(LintConfig())
    options = InputOptions()
    total_rules: collections.Counter[str] = collections.Counter()
    for folder in FOLDERS:
        root = args.corpus / folder
        if not root.is_dir():
            continue
        start = time.perf_counter()
        inputs = folder_inputs(root)
        loaded_ok = failed = skipped = documents = 0
        failures: list[str] = []
        rules: collections.Counter[str] = collections.Counter()
        for path, _ in inputs:
            result = load_input(path, options, explicit=False)
            if result.skipped and not result.documents and not result.errors:
                skipped += 1
                continue
            findings, count = engine.check(result.documents, result.problems, result.errors)
            documents += count
            if result.errors:
                failed += 1
                failures.extend(f"{os.path.relpath(e.file, args.corpus)}: {e.message}" for e in result.errors)
            else:
                loaded_ok += 1
            rules.update(f.rule for f in findings)
        took = time.perf_counter() - start
        considered = loaded_ok + failed
        rate = 100.0 * loaded_ok / considered if considered else 0.0
        print(
            f"{folder:<22} {loaded_ok:4d} loaded, {failed:3d} failed ({rate:5.1f}%), {skipped:4d} skipped "
            f"(not IAM input), {documents:5d} policies, {took:6.2f}s"
        )
        for line in failures if args.failures else failures[:10]:
            print(f"    failed: {line[:220]}")
        if len(failures) > 10 and not args.failures:
            print(f"    ... {len(failures) - 10} more (--failures lists them)")
        total_rules.update(rules)
        print("    findings: " + ", ".join(f"{r} {n}" for r, n in sorted(rules.items())))
    print("\nfindings per rule over the corpus:")
    for rule_id, n in sorted(total_rules.items()):
        name = engine.rules[rule_id].name if rule_id in engine.rules else "?"
        print(f"  {rule_id} {name:<32} {n:6d}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
