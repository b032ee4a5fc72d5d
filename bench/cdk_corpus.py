"""Run the CDK loader over every cloud assembly in a corpus and say how many load and why others fail.

    python bench/cdk_corpus.py [CORPUS] [--json OUT]

CORPUS defaults to /work/shared/corpus/cdk (read only). Each assembly is found the way
`iamlint check` finds one while walking (`inputs.walk`), loaded with `load_cdk`, and checked by
the engine. Printed: assemblies that load cleanly and those with input errors (grouped by
cause), stacks and documents, how many documents got a construct path and from where
(`aws:cdk:path` in the template, or the stack's metadata), problems in policies, findings by
rule, and the time spent loading.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import sys
import time
from pathlib import Path

from iamlint.engine import Engine, LintConfig
from iamlint.loaders.cdk import load_cdk
from iamlint.loaders.inputs import InputOptions, walk

DEFAULT_CORPUS = "/work/shared/corpus/cdk"


def _cause(message: str) -> str:
    """An error message without its file names and positions, to group errors by cause."""
    return re.sub(r"'[^']*'|\S+\.json\b", "<file>", message)


def _has_path_metadata(template: str) -> bool:
    try:
        data = json.loads(Path(template).read_text())
    except (OSError, ValueError):
        return False
    resources = data.get("Resources") if isinstance(data, dict) else None
    return isinstance(resources, dict) and any(
        isinstance(r, dict) and isinstance(r.get("Metadata"), dict) and "aws:cdk:path" in r["Metadata"]
        for r in resources.values()
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", default=DEFAULT_CORPUS)
    parser.add_argument("--json", dest="json_out", help="also write the figures as JSON here")
    args = parser.parse_args()

    options = InputOptions()
    assemblies = [p for p in walk(args.corpus, options) if os.path.isdir(p)]
    engine = Engine(LintConfig())
    ok, failed = [], []
    causes: collections.Counter[str] = collections.Counter()
    rules: collections.Counter[str] = collections.Counter()
    templates: set[str] = set()
    with_tpl_paths: set[str] = set()
    docs = docs_with_path = problems = 0
    load_seconds = 0.0
    for folder in assemblies:
        start = time.perf_counter()
        loaded = load_cdk(folder, options)
        load_seconds += time.perf_counter() - start
        (failed if loaded.errors else ok).append(folder)
        causes.update(_cause(e.message) for e in loaded.errors)
        problems += len(loaded.problems)
        docs += len(loaded.documents)
        docs_with_path += sum(1 for d in loaded.documents if d.loc.construct_path)
        for d in loaded.documents:
            if d.loc.file not in templates:
                templates.add(d.loc.file)
                if _has_path_metadata(d.loc.file):
                    with_tpl_paths.add(d.loc.file)
        result = engine.run(loaded.documents, loaded.problems, loaded.errors)
        rules.update(f.rule for f in result.findings)

    figures = {
        "corpus": args.corpus,
        "assemblies": len(assemblies),
        "loaded_cleanly": len(ok),
        "with_input_errors": len(failed),
        "error_causes": dict(causes.most_common()),
        "failed": [os.path.relpath(f, args.corpus) for f in failed],
        "templates_with_policies": len(templates),
        "templates_with_aws_cdk_path": len(with_tpl_paths),
        "documents": docs,
        "documents_with_construct_path": docs_with_path,
        "policy_problems": problems,
        "findings_by_rule": dict(sorted(rules.items())),
        "load_seconds": round(load_seconds, 2),
    }
    print(f"corpus: {args.corpus}")
    print(
        f"assemblies found: {len(assemblies)}; loaded without input errors: {len(ok)}; with input errors: {len(failed)}"
    )
    for cause, n in causes.most_common():
        print(f"  {n:4d}  {cause}")
    for f in failed[:20]:
        print(f"  failed: {os.path.relpath(f, args.corpus)}")
    if len(failed) > 20:
        print(f"  ... and {len(failed) - 20} more (all in --json)")
    print(
        f"templates holding policies: {len(templates)} ({len(with_tpl_paths)} carry aws:cdk:path, "
        f"the rest rely on metadata)"
    )
    share = 100 * docs_with_path / docs if docs else 0.0
    print(f"policy documents: {docs}; with a construct path: {docs_with_path} ({share:.1f}%)")
    print(f"problems inside policies (IAM002): {problems}")
    print("findings by rule: " + ", ".join(f"{r} {n}" for r, n in sorted(rules.items())))
    print(f"load time: {load_seconds:.2f} s for {len(assemblies)} assemblies")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
