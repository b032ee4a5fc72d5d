"""The answer-key comparison (bench/answer_keys.py) stays in step with the rule set: every
iamlint rule it maps a label to exists, every explained disagreement names a mapped label, and
the reading of parliament's assertions is right."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from conftest import ROOT

from iamlint.ruleset import load_builtin_rules


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("answer_keys", ROOT / "bench" / "answer_keys.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["answer_keys"] = module
    spec.loader.exec_module(module)
    return module


def test_mapped_rules_exist() -> None:
    bench = _bench()
    rules = set(load_builtin_rules())
    mapped = {r for rs in bench.PARLIAMENT_LABELS.values() for r in rs}
    mapped |= {r for _, rs in bench.CFN_NAG_LABELS.values() for r in rs}
    assert mapped and mapped <= rules, sorted(mapped - rules)
    assert not set(bench.PARLIAMENT_LABELS) & set(bench.PARLIAMENT_UNMAPPED)
    assert not set(bench.CFN_NAG_LABELS) & set(bench.CFN_NAG_UNMAPPED)


def test_reasons_name_mapped_labels() -> None:
    bench = _bench()
    for tool, case, label in bench.REASONS:
        labels = bench.PARLIAMENT_LABELS if tool == "parliament" else bench.CFN_NAG_LABELS
        assert label in labels, (tool, case, label)
        assert ("@" in case) if tool == "parliament" else ("#" in case)


def test_exact_assertions() -> None:
    bench = _bench()
    assert bench._exact('assert_equal(policy.finding_ids, set(["RESOURCE_STAR"]))')
    assert bench._exact("assert policy.finding_ids == set()")
    assert not bench._exact('assert_equal(policy.finding_ids, S3_STAR_FINDINGS | {"NOTRESOURCE_WITH_ALLOW"})')


def test_named_templates_cover_their_rule() -> None:
    bench = _bench()
    for template, rule_class, _ in bench.CFN_NAG_NAMED:
        assert rule_class in bench.CFN_NAG_LABELS
        assert Path(template).suffix in (".json", ".yml", ".yaml")
