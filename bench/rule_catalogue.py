"""The escalation and risk rules on every AWS managed policy, and against cloudsplaining's answers.

Usage: ``python bench/rule_catalogue.py [--answers PATH] [--details]``

1. Runs iamlint on the AWS managed policies (bench/out/managed/*.json when present, written by
   bench/managed_policies.py; else the snapshot iamlint ships) and prints findings per rule and
   severity, then checks three acceptance facts: AdministratorAccess and IAMFullAccess have a
   critical finding, ReadOnlyAccess has no privilege-escalation finding.
2. Runs iamlint on every policy of cloudsplaining's example report
   (examples/files/iam-results-example.json), each document on its own as cloudsplaining
   analyses it, and compares, per policy and per risk label, whether each tool reports it.
   Every disagreement is printed with the reason, worked out from the two tools' evidence.

Exit status 1 when an acceptance fact fails or agreement is under 90%.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iamlint import managed
from iamlint.catalog import get_catalog
from iamlint.engine import Engine, LintConfig
from iamlint.loaders.inputs import InputOptions
from iamlint.model import Finding, PolicyKind
from iamlint.policy import parse_policy
from iamlint.ruleset import read_data_table
from iamlint.runner import check_paths

ROOT = Path(__file__).resolve().parent
MANAGED_DIR = ROOT / "out" / "managed"
ANSWERS = Path(
    "/work/shared/corpus/expected_outputs/cloudsplaining/salesforce__cloudsplaining/examples/files/"
    "iam-results-example.json"
)
OURS = (
    "IAM120",
    "IAM121",
    "IAM122",
    "IAM123",
    "IAM124",
    "IAM125",
    "IAM126",
    "IAM127",
    "IAM130",
    "IAM131",
    "IAM132",
    "IAM133",
)
TARGET = 0.90

# cloudsplaining label -> the iamlint rules that report the same risk. cloudsplaining's
# InfrastructureModification lists every unconstrained write, including permissions management
# and credential actions, which iamlint splits into IAM121/IAM122/IAM123/IAM125.
LABELS: dict[str, tuple[str, ...]] = {
    "PrivilegeEscalation": ("IAM120",),
    "ResourceExposure": ("IAM121", "IAM122"),
    "CredentialsExposure": ("IAM123",),
    "DataExfiltration": ("IAM124",),
    "InfrastructureModification": ("IAM121", "IAM122", "IAM123", "IAM125"),
    "ServiceWildcard": ("IAM103",),
}


# -- part 1: AWS managed policies -------------------------------------------------------------
def managed_corpus(tmp: Path) -> Path:
    if MANAGED_DIR.is_dir() and any(MANAGED_DIR.glob("*.json")):
        return MANAGED_DIR
    from iamlint.managed import _snapshot

    for name, entry in _snapshot()["policies"].items():
        (tmp / f"{name}.json").write_text(json.dumps(json.loads(entry["document"]), indent=2))
    return tmp


def run_managed() -> tuple[list[Finding], int, list[str]]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = managed_corpus(Path(tmp))
        result, _ = check_paths([str(folder)], InputOptions(), LintConfig())
        files = len(list(folder.glob("*.json")))
        return list(result.findings), files, [str(folder)]


def acceptance(findings: Iterable[Finding]) -> list[tuple[str, bool]]:
    by_policy: dict[str, list[Finding]] = collections.defaultdict(list)
    for f in findings:
        by_policy[Path(f.location.file).stem].append(f)

    def critical(name: str) -> bool:
        return any(f.severity.label == "critical" for f in by_policy[name])

    return [
        ("AdministratorAccess has a critical finding", critical("AdministratorAccess")),
        ("IAMFullAccess has a critical finding", critical("IAMFullAccess")),
        (
            "ReadOnlyAccess has no privilege-escalation finding (IAM120)",
            bool(by_policy["ReadOnlyAccess"]) and not any(f.rule == "IAM120" for f in by_policy["ReadOnlyAccess"]),
        ),
    ]


# -- part 2: cloudsplaining's example report --------------------------------------------------
@dataclass
class Case:
    section: str
    name: str
    document: Any
    labels: dict[str, list[Any]]  # label -> cloudsplaining's findings


def answer_cases(path: Path) -> list[Case]:
    data = json.loads(path.read_text())
    out = []
    for section in ("aws_managed_policies", "customer_managed_policies", "inline_policies"):
        for entry in data[section].values():
            if entry.get("is_excluded"):
                continue
            if "PolicyVersionList" in entry:
                doc = next(v["Document"] for v in entry["PolicyVersionList"] if v.get("IsDefaultVersion", True))
            else:
                doc = entry["PolicyDocument"]
            labels = {label: entry[label] for label in LABELS if isinstance(entry.get(label), list)}
            out.append(Case(section, entry["PolicyName"], doc, labels))
    return out


def lint_case(engine: Engine, case: Case) -> list[Finding]:
    doc, problems = parse_policy(case.document, file=f"{case.section}/{case.name}.json", kind=PolicyKind.IDENTITY)
    assert doc is not None, problems
    return list(engine.run([doc], problems).findings)


def _method_actions() -> dict[str, frozenset[str]]:
    table: Any = read_data_table("privesc_methods.yaml")
    return {m["id"]: frozenset(a.lower() for a in m["requires"]) for m in table["methods"]}


def _sensitive(category: set[str]) -> set[str]:
    table: Any = read_data_table("sensitive_actions.yaml")
    return {e["action"].lower() for e in table["actions"] if e["category"] in category}


def _theirs_actions(label: str, items: list[Any]) -> set[str]:
    if label == "PrivilegeEscalation":
        return {a for item in items for a in item["actions"]}
    return {str(i).lower() for i in items}


def reason(label: str, case: Case, theirs: list[Any], ours: list[Finding]) -> str:
    """Why the two tools disagree on one policy and label, from their evidence."""
    cat = get_catalog()
    their = _theirs_actions(label, theirs)
    our = {a.lower() for f in ours for a in f.evidence.actions}
    if label == "ServiceWildcard":
        return "no service wildcard in an Allow statement" if theirs else f"iamlint: {ours[0].message}"
    if theirs and not ours:
        unknown = sorted(a for a in their if cat.action(a) is None)
        if unknown:
            return f"actions no longer in the IAM catalogue: {', '.join(unknown[:5])}"
        if label == "DataExfiltration" or label == "CredentialsExposure":
            listed = _sensitive(
                {"data_exfiltration", "secrets"} if label == "DataExfiltration" else {"credentials_exposure"}
            )
            missing = sorted(a for a in their if a not in listed)
            if missing:
                return f"not in iamlint's table for this category: {', '.join(missing[:6])}"
        levels = collections.Counter(sorted(cat.action(a).access_level for a in their if cat.action(a)))  # type: ignore[union-attr]
        unscopable = sorted(a for a in their if cat.action(a) and not cat.action(a).supports_resource_scoping)  # type: ignore[union-attr]
        if unscopable and len(unscopable) == len(their):
            return (
                f'cloudsplaining counts actions that accept only Resource "*" ({", ".join(unscopable[:4])}); '
                'iamlint does not blame "*" where scoping is impossible'
            )
        reads = sorted(a for a in their if cat.action(a) and cat.action(a).access_level in ("Read", "List"))  # type: ignore[union-attr]
        if label == "InfrastructureModification" and reads and len(reads) == len(their):
            return (
                f"only read actions ({', '.join(reads[:4])}), which cloudsplaining's example configuration "
                "adds to every category through include-actions"
            )
        return f"cloudsplaining lists {', '.join(sorted(their)[:6])} (catalogue access levels now: {dict(levels)})"
    # iamlint reports, cloudsplaining does not.
    if label == "PrivilegeEscalation":
        # Each method names its source; cloudsplaining's list is Rhino Security Labs' 2018-19 one.
        return (
            "; ".join(f"{f.evidence.notes[0]} [{f.severity.label}] from {f.evidence.notes[1]}" for f in ours[:3])
            + ", a method cloudsplaining's list does not have"
        )
    if label in ("DataExfiltration", "CredentialsExposure"):
        return (
            f"iamlint's table (rules/data/sensitive_actions.yaml) lists {', '.join(sorted(our)[:6])}, "
            "which cloudsplaining's shorter list does not"
        )
    newer = sorted(a for a in our if a not in their)
    found = {a: info for a in newer[:4] if (info := cat.action(a)) is not None}
    shown = {a: sorted(info.access_levels) for a, info in found.items()}
    return (
        f"iamlint counts {', '.join(newer[:6])}: the policy's wildcards now expand to these actions, "
        f"whose catalogue access levels are {shown}"
    )


def compare(cases: list[Case], details: bool) -> tuple[int, int]:
    engine = Engine(LintConfig())
    methods = _method_actions()
    agree = total = 0
    per_label: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    disagreements: list[str] = []
    method_hits = [0, 0]
    for case in cases:
        findings = lint_case(engine, case)
        for label, theirs in case.labels.items():
            ours = [f for f in findings if f.rule in LABELS[label]]
            same = bool(theirs) == bool(ours)
            total += 1
            per_label[label][1] += 1
            if same:
                agree += 1
                per_label[label][0] += 1
            else:
                disagreements.append(
                    f"  {case.section}/{case.name} {label}: "
                    f"{'cloudsplaining only' if theirs else 'iamlint only'} — {reason(label, case, theirs, ours)}"
                )
            if label == "PrivilegeEscalation":
                ids = {f.evidence.notes[0] for f in ours if f.evidence.notes}
                for item in theirs:
                    wanted = frozenset(item["actions"])
                    # Their method, as ours: a method of the table whose actions it includes.
                    match = {m for m, acts in methods.items() if acts <= wanted}
                    method_hits[1] += 1
                    method_hits[0] += bool(match & ids)
                    if details:
                        print(
                            f"    {case.name}: {item['type']} -> {sorted(match)} {'found' if match & ids else 'MISSED'}"
                        )
    print(f"\ncloudsplaining example report: {len(cases)} policies, {total} (policy, label) decisions")
    for label, (a, n) in per_label.items():
        print(f"  {label:<28} {'/'.join(LABELS[label]):<28} agreement {a}/{n} ({a / n:.0%})")
    print(f"  {'all labels':<28} {'':<28} agreement {agree}/{total} ({agree / total:.1%})")
    if method_hits[1]:
        print(
            f"  privilege-escalation methods cloudsplaining names that iamlint also reports: "
            f"{method_hits[0]}/{method_hits[1]}"
        )
    print(f"\ndisagreements ({len(disagreements)}):")
    for line in disagreements:
        print(line)
    return agree, total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=Path, default=ANSWERS)
    parser.add_argument("--details", action="store_true", help="print each privilege-escalation method compared")
    args = parser.parse_args()

    findings, files, where = run_managed()
    print(f"AWS managed policies: {files} documents from {where[0]} ({managed.snapshot_info()})")
    counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for f in findings:
        counts[f"{f.rule} {f.name}"][f.severity.label] += 1
    print(f"{'rule':<44} {'total':>6}  by severity")
    for rule in sorted(counts):
        if rule.split()[0] in OURS:
            c = counts[rule]
            print(f"  {rule:<42} {sum(c.values()):6d}  {dict(sorted(c.items()))}")
    policies = collections.Counter(Path(f.location.file).stem for f in findings if f.rule == "IAM120")
    print(f"  policies with a privilege-escalation finding: {len(policies)} of {files}")
    failed = False
    print("\nacceptance:")
    for text, ok in acceptance(findings):
        print(f"  [{'ok' if ok else 'FAILED'}] {text}")
        failed |= not ok

    if args.answers.exists():
        agree, total = compare(answer_cases(args.answers), args.details)
        if agree / total < TARGET:
            print(f"agreement {agree / total:.1%} is under the {TARGET:.0%} target")
            failed = True
    else:
        print(f"\n{args.answers} not found: no comparison with cloudsplaining")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
