"""iamlint's SAM expansion against the SAM translator's own answer key, and the SAM corpus load rate.

Usage: ``python bench/sam_answer_key.py [--corpus DIR] [--verbose]``

1. Answer key: `expected_outputs/sam_translator/` holds the translator's test inputs with the
   CloudFormation it must produce, per partition (aws, aws-cn, aws-us-gov). For each input whose
   functions or state machines declare `Policies`, the statements iamlint checks (documents from
   `load_sam`) are compared with the statements of the expected output's generated roles: every
   inline policy and every managed policy ARN, each branch of a condition separately, after
   resolving intrinsics the same way on both sides. Inputs the translator must reject are
   checked to be input errors with the translator's messages. Prints agreement counts and every
   mismatch with its reason.
2. Corpus: runs `load_sam` over every SAM template under `corpus/sam/` and prints the load rate
   and each failure with its input errors.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from iamlint import managed
from iamlint.loaders import LoadResult
from iamlint.loaders.cloudformation import TemplateOptions
from iamlint.loaders.inputs import detect_kind
from iamlint.loaders.intrinsics import NO_VALUE, IntrinsicError, Resolver, conditions_used
from iamlint.loaders.located import ParseError, parse_any
from iamlint.loaders.sam import load_sam
from iamlint.model import PolicyKind, Statement
from iamlint.policy import parse_policy

CORPUS = Path("/work/shared/corpus")
PARTITIONS = (
    ("aws", "", "us-east-1"),
    ("aws-cn", "aws-cn", "cn-north-1"),
    ("aws-us-gov", "aws-us-gov", "us-gov-west-1"),
)
SAM_ROLE_TYPES = ("AWS::Serverless::Function", "AWS::Serverless::StateMachine")

Variant = tuple[tuple[Any, ...], ...]  # one document's normalised statements, sorted
COMPARED: collections.Counter[str] = collections.Counter()
UNKNOWN_ARN: Variant = (("not in iamlint's managed policy snapshot",),)
# Where iamlint departs from the translator on purpose.
UNKNOWN_NAME = "is not an AWS managed policy the SAM translator knows"
DELIBERATE_UNKNOWN_NAME = (
    "a managed policy name the translator's bundled map lacks is an input error in iamlint "
    "(the translator would ask IAM, or pass the name through)"
)
DELIBERATE_LOCAL_URI = (
    "a DefinitionUri/CodeUri that is not an s3:// URI is a local file `sam package` uploads: "
    "iamlint substitutes a placeholder instead of rejecting it"
)


def normalise(statements: tuple[Statement, ...]) -> Variant:
    out = []
    for st in statements:
        conditions = tuple(sorted((c.operator, c.key, tuple(sorted(c.values))) for c in st.conditions))
        out.append(
            (
                st.effect,
                st.action_key,
                tuple(sorted(st.action_texts)),
                st.resource_key,
                tuple(sorted(st.resource_texts)),
                conditions,
            )
        )
    return tuple(sorted(out))


# -- the expected side: read straight from the translator's expected output --------------------


def _branches(node: Any) -> Iterator[tuple[dict[str, bool], Any]]:
    """(assumption, value) for each branch of an `Fn::If` around a list entry, or the entry."""
    test = node.get("Fn::If") if isinstance(node, Mapping) and len(node) == 1 else None
    if isinstance(test, list) and len(test) == 3 and isinstance(test[0], str):
        for value, branch in ((True, test[1]), (False, test[2])):
            if branch != {"Ref": "AWS::NoValue"}:
                yield {test[0]: value}, branch
        return
    yield {}, node


def _variants(resolver: Resolver, doc: Any, assume: dict[str, bool]) -> set[Variant]:
    out = set()
    names = [c for c in conditions_used(doc) if c not in assume]
    for values in itertools.product((True, False), repeat=len(names)):
        r = resolver.with_assumptions({**assume, **dict(zip(names, values, strict=True))})
        raw = r.resolve(doc)
        if raw is NO_VALUE:
            continue
        parsed, _ = parse_policy(raw, file="expected", kind=PolicyKind.IDENTITY)
        if parsed is not None:
            out.add(normalise(parsed.statements))
    return out


def expected_policies(template: Mapping[str, Any], roles: set[str], region: str) -> dict[tuple[str, str], set[Variant]]:
    resolver = Resolver(template, {"AWS::Region": region})
    found: dict[tuple[str, str], set[Variant]] = collections.defaultdict(set)
    for rid in roles:
        props = template["Resources"][rid].get("Properties", {})
        for entry in props.get("Policies") or []:
            for assume, policy in _branches(entry):
                found[(rid, str(policy["PolicyName"]))] |= _variants(resolver, policy["PolicyDocument"], assume)
        for node in props.get("ManagedPolicyArns") or []:
            for assume, arn_node in _branches(node):
                try:
                    arn = resolver.with_assumptions(assume).resolve(arn_node)
                except IntrinsicError:
                    continue
                if not isinstance(arn, str) or not managed.is_aws_managed_arn(arn):
                    continue  # a customer managed policy: not a document of this template
                policy = managed.lookup(arn)
                if policy is None:
                    found[("*", arn)].add(UNKNOWN_ARN)
                    continue
                parsed, _ = parse_policy(policy.document, file=policy.name, kind=PolicyKind.IDENTITY)
                if parsed is not None:
                    found[(rid, policy.name)].add(normalise(parsed.statements))
    return found


# -- iamlint's side ------------------------------------------------------------------------


def our_policies(result: LoadResult, roles: set[str]) -> tuple[dict[tuple[str, str], set[Variant]], list[str]]:
    found: dict[tuple[str, str], set[Variant]] = collections.defaultdict(set)
    for problem in result.problems:
        arn, _, rest = problem.message.partition(" ")
        if rest.startswith("is not an AWS managed policy known to iamlint"):
            found[("*", arn)].add(UNKNOWN_ARN)
    docs = result.documents
    unlocated = []
    for doc in docs:
        rid = doc.loc.logical_id or ""
        if doc.kind is not PolicyKind.IDENTITY or rid not in roles:
            continue
        found[(rid, doc.name or "")].add(normalise(doc.statements))
        for st in doc.statements:
            if doc.locate(st.loc).line is None:
                unlocated.append(f"{rid}/{doc.name} statement {st.index}")
    return found, unlocated


def generated_roles(sam: Mapping[str, Any], template: Mapping[str, Any]) -> set[str]:
    out = set()
    for sam_id, res in sam.get("Resources", {}).items():
        rid = f"{sam_id}Role"
        if (
            isinstance(res, Mapping)
            and res.get("Type") in SAM_ROLE_TYPES
            and template.get("Resources", {}).get(rid, {}).get("Type") == "AWS::IAM::Role"
        ):
            out.add(rid)
    return out


def declares_policies(sam: Mapping[str, Any]) -> bool:
    return any(
        isinstance(res, Mapping) and res.get("Type") in SAM_ROLE_TYPES and "Policies" in (res.get("Properties") or {})
        for res in sam.get("Resources", {}).values()
    )


def _show(variants: set[Variant]) -> str:
    parts = []
    for variant in sorted(variants, key=repr):
        parts.append(
            "; ".join(
                f"{s[0]} {','.join(s[2])[:80]} on {','.join(s[4])[:100]}" if len(s) == 6 else str(s[0]) for s in variant
            )
            or "(empty)"
        )
    return " | ".join(parts)


def compare_case(name: str, part_dir: str, region: str) -> tuple[str, list[str]]:
    """('agree' | 'mismatch' | 'error-agree' | 'error-mismatch' | 'skip', reasons)."""
    base = CORPUS / "expected_outputs" / "sam_translator"
    src = base / "input" / f"{name}.yaml"
    out = base / "output" / part_dir / f"{name}.json"
    if not out.exists():
        return "skip", []
    expected = json.loads(out.read_text())
    located = parse_any(src.read_bytes(), str(src))
    result = load_sam(located, TemplateOptions(parameters={"AWS::Region": region}))
    if "errorMessage" in expected:
        wanted = sorted(e["errorMessage"] for e in expected.get("errors", [])) or [expected["errorMessage"]]
        ours = sorted(e.message.removeprefix("SAM translator: ") for e in result.errors)
        if not result.errors and "is not a valid S3 Uri" in expected["errorMessage"]:
            return "error-deliberate", [DELIBERATE_LOCAL_URI]
        if not result.errors:
            return "error-mismatch", ["the translator must reject it; iamlint loaded it without an input error"]
        if ours != wanted and not any(w in expected["errorMessage"] for w in ours):
            return "error-agree", [f"messages differ: ours {ours} vs expected {wanted}"]
        return "error-agree", []
    policy_case = declares_policies(located.data)  # type: ignore[arg-type]
    unexpected = [e for e in result.errors if UNKNOWN_NAME not in e.message]
    prefix = "" if policy_case else "other-"
    if unexpected:
        return prefix + "mismatch", [f"input error: {e.render()}" for e in unexpected]
    roles = generated_roles(located.data, expected)  # type: ignore[arg-type]
    if not roles:
        return "skip", []
    want = expected_policies(expected, roles, region)
    have, unlocated = our_policies(result, roles)
    COMPARED["policies"] += len(set(want) | set(have))
    COMPARED["statements"] += sum(len(v) for variants in want.values() for v in variants)
    reasons = [f"no source line for {u}" for u in unlocated]
    for key in sorted(set(want) | set(have)):
        if want.get(key, set()) != have.get(key, set()):
            reasons.append(
                f"{key[0]} policy {key[1]}: expected {_show(want.get(key, set())) or 'nothing'}; "
                f"iamlint {_show(have.get(key, set())) or 'nothing'}"
            )
    if reasons:
        return prefix + "mismatch", reasons
    if result.errors:
        return prefix + "agree-deliberate", [f"{DELIBERATE_UNKNOWN_NAME}: {e.render()}" for e in result.errors]
    return prefix + "agree", []


def answer_key(verbose: bool) -> None:
    inputs = sorted(p.stem for p in (CORPUS / "expected_outputs" / "sam_translator" / "input").glob("*.yaml"))
    tally: collections.Counter[str] = collections.Counter()
    per_partition: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    notes: list[str] = []
    for name in inputs:
        for partition, part_dir, region in PARTITIONS:
            outcome, reasons = compare_case(name, part_dir, region)
            tally[outcome] += 1
            per_partition[partition][outcome] += 1
            if reasons and (verbose or not outcome.endswith("agree-deliberate") or partition == "aws"):
                notes.extend(f"  [{outcome}] {name} ({partition}): {r}" for r in reasons)
    print("== SAM translator answer key ==")
    for partition, counts in [*per_partition.items(), ("total", tally)]:
        agree = counts["agree"] + counts["agree-deliberate"]
        rejected = counts["error-agree"]
        print(
            f"  {partition:10s} policy cases agree {agree}/{agree + counts['mismatch']} "
            f"({counts['agree-deliberate']} with a deliberate difference), "
            f"error cases rejected {rejected}/{rejected + counts['error-mismatch'] + counts['error-deliberate']} "
            f"({counts['error-deliberate']} accepted on purpose)"
        )
    other = tally["other-agree"] + tally["other-agree-deliberate"]
    print(f"  other cases with generated roles (no Policies) agree {other}/{other + tally['other-mismatch']}")
    print(
        f"  compared {COMPARED['policies']} role policies ({COMPARED['statements']} expected statements); "
        f"inputs x partitions without generated roles or expected output: {tally['skip']}"
    )
    for note in notes:
        print(note)


def corpus(root: Path) -> None:
    files = sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml", ".json", ".template"))
    loaded = 0
    failures: list[str] = []
    documents = 0
    problems: collections.Counter[str] = collections.Counter()
    start = time.perf_counter()
    for path in files:
        rel = path.relative_to(root)
        try:
            located = parse_any(path.read_bytes(), str(rel))
        except ParseError as exc:
            failures.append(f"  {exc}")
            continue
        if detect_kind(located.data) != "sam":
            failures.append(f"  {rel}: not detected as a SAM template")
            continue
        result = load_sam(located)
        documents += len(result.documents)
        for problem in result.problems:
            problems[problem.message] += 1
        if result.errors:
            failures.extend(f"  {e.render()}" for e in result.errors)
        else:
            loaded += 1
    elapsed = time.perf_counter() - start
    print(f"== SAM corpus ({root}) ==")
    print(
        f"  loaded {loaded}/{len(files)} ({100 * loaded / max(1, len(files)):.1f}%), {documents} documents, "
        f"{elapsed:.1f} s ({1000 * elapsed / max(1, len(files)):.0f} ms per template)"
    )
    print("  failures:" if failures else "  failures: none")
    for line in failures:
        print(line)
    if problems:
        print("  problems in loaded templates:")
        for message, count in problems.most_common():
            print(f"    {count:3d} {message}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS / "sam")
    parser.add_argument("--verbose", action="store_true", help="also list reasons for cases that agree")
    args = parser.parse_args()
    answer_key(args.verbose)
    corpus(args.corpus)


if __name__ == "__main__":
    main()
