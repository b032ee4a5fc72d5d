"""iamlint against other tools' answer keys: parliament's unit tests and cfn_nag's spec templates.

Usage: ``python bench/answer_keys.py [--corpus DIR] [--json OUT]``

Reads (never writes) the public corpus (default /work/shared/corpus, or $IAMLINT_CORPUS):
- expected_outputs/parliament/unit_test_cases.derived.jsonl: policies from parliament's tests
  with the finding ids each test asserts;
- expected_outputs/cfn_nag/labels.derived.jsonl and the spec templates next to it: templates
  with the rule and logical ids each cfn_nag spec asserts, plus the KMS templates named after
  the rule they trigger (kms_key_with_*wildcard_principal), which the derived labels lack.

For every label with an equivalent iamlint rule (answer_key_labels.py), each case the key asserts
something about is one unit: the key says the label is raised (on that resource, for cfn_nag)
or that it is not, and iamlint agrees when it raises one of the equivalent rules there exactly
when the key says so. Prints agreement per label and overall, and every disagreement with the
reason iamlint differs (answer_key_labels.REASONS), marking any disagreement nobody has
explained yet; the exit status is 1 when one is unexplained.

Answer keys are opinions, not truth: a disagreement is often the other tool being wrong, and
the reasons say why. The figures are reported with and without the units whose key is wrong
about the other tool itself (the derived file pairs an assertion with the wrong policy).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from answer_key_labels import (  # bench/ is on sys.path (above)
    CFN_NAG_LABELS,
    CFN_NAG_NAMED,
    CFN_NAG_UNMAPPED,
    PARLIAMENT_COMMUNITY,
    PARLIAMENT_LABELS,
    PARLIAMENT_UNMAPPED,
    REASONS,
)

from iamlint.engine import Engine, LintConfig
from iamlint.loaders import LoadResult
from iamlint.loaders.inputs import InputOptions, dispatch, load_paths
from iamlint.loaders.located import ParseError, parse_any
from iamlint.model import InputError

DEFAULT_CORPUS = Path(os.environ.get("IAMLINT_CORPUS", "/work/shared/corpus"))


@dataclass
class Unit:
    tool: str
    case: str
    label: str
    expected: bool
    actual: bool
    rules: tuple[str, ...]
    raised: tuple[str, ...] = ()

    @property
    def agrees(self) -> bool:
        return self.expected == self.actual

    def reason(self) -> str:
        return REASONS.get((self.tool, self.case, self.label), "UNEXPLAINED")


@dataclass
class Report:
    units: list[Unit] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _engine() -> Engine:
    return Engine(LintConfig())


def _lint(engine: Engine, loaded: LoadResult) -> list[tuple[str, str | None]]:
    """(rule, logical id) of every finding."""
    result = engine.run(loaded.documents, loaded.problems, loaded.errors)
    return [(f.rule, f.location.logical_id) for f in result.findings]


# -- parliament ------------------------------------------------------------------------------

_IDENT = re.compile(r"\b[A-Z][A-Z0-9_]{3,}\b")
_STRING = re.compile(r"\"[^\"]*\"|'[^']*'")


def _exact(assert_source: str) -> bool:
    """Does the assertion give the whole set of ids (not `SOME_SET | {...}`)?"""
    return not _IDENT.search(_STRING.sub("", assert_source))


def _load_policy_text(text: str, name: str) -> LoadResult:
    try:
        located = parse_any(text.encode("utf-8"), name)
    except ParseError as exc:
        return LoadResult(errors=[InputError(name, exc.message, exc.line, exc.column)], files=1)
    return dispatch(located, InputOptions(), explicit=True)


def parliament(corpus: Path, engine: Engine) -> Report:
    report = Report()
    path = corpus / "expected_outputs" / "parliament" / "unit_test_cases.derived.jsonl"
    for line in path.read_text("utf-8").splitlines():
        case = json.loads(line)
        name = f"{case['test']}@{case['line']}"
        expected = case.get("expected_finding_ids")
        if expected is None or case.get("policy") is None:
            report.skipped.append(f"parliament {name}: the test asserts no finding set")
            continue
        raised = {rule for rule, _ in _lint(engine, _load_policy_text(case["policy"], f"{name}.json"))}
        exact = _exact(case.get("assert_source") or "")
        community = bool((case.get("kwargs") or {}).get("include_community_auditors"))
        for label, rules in PARLIAMENT_LABELS.items():
            positive = label in expected
            if not positive and (not exact or (label in PARLIAMENT_COMMUNITY and not community)):
                continue  # the test says nothing about this label
            hit = tuple(sorted(raised & set(rules)))
            report.units.append(Unit("parliament", name, label, positive, bool(hit), rules, hit))
    return report


# -- cfn_nag ---------------------------------------------------------------------------------


def _resources_of(template: Path) -> dict[str, str]:
    located = parse_any(template.read_bytes(), str(template))
    resources = located.data.get("Resources", {}) if isinstance(located.data, dict) else {}
    return {str(k): str(v.get("Type")) for k, v in resources.items() if isinstance(v, dict)}


def _cfn_nag_expectations(corpus: Path) -> list[tuple[str, str, set[str] | None]]:
    """(template, rule class, offending logical ids); None = every inspected resource."""
    out: list[tuple[str, str, set[str] | None]] = []
    path = corpus / "expected_outputs" / "cfn_nag" / "labels.derived.jsonl"
    for line in path.read_text("utf-8").splitlines():
        entry = json.loads(line)
        if "expected_violations" in entry:
            # An integration spec lists every violation of the template: a mapped rule absent
            # from the list is asserted clean on every resource it inspects.
            listed = {v["rule_class"]: set(v["logical_ids"]) for v in entry["expected_violations"]}
            for rule_class in CFN_NAG_LABELS:
                out.append((entry["template"], rule_class, listed.get(rule_class, set())))
        elif "expected_offending_logical_ids" in entry:
            out.append(
                (
                    entry["template"],
                    entry["rule_class"],
                    set(entry["expected_offending_logical_ids"]),
                )
            )
    for template, rule_class, offends in CFN_NAG_NAMED:
        out.append((template, rule_class, None if offends else set()))
    return out


def cfn_nag(corpus: Path, engine: Engine) -> Report:
    report = Report()
    base = corpus / "expected_outputs" / "cfn_nag" / "stelligent__cfn_nag" / "spec" / "test_templates"
    findings: dict[str, list[tuple[str, str | None]]] = {}
    seen: set[tuple[str, str, str]] = set()
    for template, rule_class, offending in _cfn_nag_expectations(corpus):
        if rule_class not in CFN_NAG_LABELS:
            if rule_class not in CFN_NAG_UNMAPPED:
                report.skipped.append(f"cfn_nag {template}: {rule_class} is not an IAM rule")
            continue
        path = base / template
        if not path.exists():
            report.skipped.append(f"cfn_nag {template}: template not in the corpus")
            continue
        if template not in findings:
            findings[template] = _lint(engine, load_paths([str(path)]))
        types, rules = CFN_NAG_LABELS[rule_class]
        for logical_id, rtype in sorted(_resources_of(path).items()):
            if rtype not in types or (template, rule_class, logical_id) in seen:
                continue
            seen.add((template, rule_class, logical_id))
            hit = tuple(sorted({r for r, lid in findings[template] if lid == logical_id and r in rules}))
            expected = offending is None or logical_id in offending
            report.units.append(
                Unit(
                    "cfn_nag",
                    f"{template}#{logical_id}",
                    rule_class,
                    expected,
                    bool(hit),
                    rules,
                    hit,
                )
            )
    return report


# -- report ----------------------------------------------------------------------------------


def _figures(units: Iterable[Unit]) -> tuple[int, int]:
    units = list(units)
    return sum(u.agrees for u in units), len(units)


def summarise(name: str, report: Report) -> dict[str, object]:
    by_label: dict[str, list[Unit]] = defaultdict(list)
    for u in report.units:
        by_label[u.label].append(u)
    agree, total = _figures(report.units)
    valid = [u for u in report.units if not u.reason().startswith("key erratum:")]
    v_agree, v_total = _figures(valid)
    pos_agree, pos_total = _figures(u for u in report.units if u.expected)
    print(
        f"\n== {name}: {agree}/{total} units agree ({100 * agree / max(total, 1):.1f}%); "
        f"without key errata {v_agree}/{v_total} ({100 * v_agree / max(v_total, 1):.1f}%); "
        f"positives found {pos_agree}/{pos_total} ({100 * pos_agree / max(pos_total, 1):.1f}%)"
    )
    for label, units in sorted(by_label.items()):
        a, t = _figures(units)
        pos = sum(u.expected for u in units)
        print(f"  {label:48} {a:3}/{t:<3} agree  ({pos} positive in the key)  -> {', '.join(units[0].rules)}")
    disagreements = [u for u in report.units if not u.agrees]
    print(f"  disagreements ({len(disagreements)}):")
    for u in disagreements:
        said = "raises" if u.expected else "is clean for"
        got = ", ".join(u.raised) if u.raised else "nothing"
        print(f"    - {u.case}: key {said} {u.label}; iamlint raised {got}. {u.reason()}")
    return {
        "agree": agree,
        "units": total,
        "positives_found": pos_agree,
        "positives": pos_total,
        "agree_without_errata": v_agree,
        "units_without_errata": v_total,
        "labels": {
            label: dict(zip(("agree", "units"), _figures(units), strict=True)) for label, units in by_label.items()
        },
        "disagreements": [
            {
                "case": u.case,
                "label": u.label,
                "expected": u.expected,
                "raised": list(u.raised),
                "reason": u.reason(),
            }
            for u in disagreements
        ],
        "skipped": report.skipped,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--json", type=Path, help="also write the figures and disagreements as JSON")
    args = parser.parse_args(argv)
    engine = _engine()
    results = {
        "parliament": summarise("parliament", parliament(args.corpus, engine)),
        "cfn_nag": summarise("cfn_nag", cfn_nag(args.corpus, engine)),
    }
    agree = sum(int(r["agree"]) for r in results.values())  # type: ignore[call-overload]
    total = sum(int(r["units"]) for r in results.values())  # type: ignore[call-overload]
    print(f"\noverall: {agree}/{total} ({100 * agree / max(total, 1):.1f}%)")
    print("labels without an iamlint equivalent:")
    for label, why in {**PARLIAMENT_UNMAPPED, **CFN_NAG_UNMAPPED}.items():
        print(f"  {label}: {why}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    unexplained = sum(1 for r in results.values() for d in r["disagreements"] if d["reason"] == "UNEXPLAINED")  # type: ignore[attr-defined]
    return 1 if unexplained else 0


if __name__ == "__main__":
    raise SystemExit(main())
