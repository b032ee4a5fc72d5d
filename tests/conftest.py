"""Shared helpers for the test suite: lint a document in-process, find fixtures."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from iamlint.engine import Engine, LintConfig, LintResult
from iamlint.model import PolicyKind
from iamlint.policy import parse_policy

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"

# Regenerate golden files with: IAMLINT_UPDATE_GOLDEN=1 make test
UPDATE_GOLDEN = os.environ.get("IAMLINT_UPDATE_GOLDEN") == "1"


@pytest.fixture(scope="session")
def engine() -> Engine:
    return Engine(LintConfig(strict=True))


def lint_doc(engine: Engine, doc: object, kind: PolicyKind = PolicyKind.UNKNOWN) -> LintResult:
    parsed, problems = parse_policy(doc, file="test.json", kind=kind)
    return engine.run([parsed] if parsed is not None else [], problems)


def lint_template(engine: Engine, template: object, file: str = "template.json") -> LintResult:
    """Lint a CloudFormation template given as data, through the template loader."""
    from iamlint.loaders.cloudformation import load_template
    from iamlint.loaders.located import parse_any

    loaded = load_template(parse_any(json.dumps(template, indent=1), file))
    return engine.run(loaded.documents, loaded.problems, loaded.errors)


def rule_ids(result: LintResult) -> set[str]:
    return {f.rule for f in result.findings}


def check_golden(path: Path, actual: str) -> None:
    if UPDATE_GOLDEN or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual)
        if not UPDATE_GOLDEN:
            pytest.fail(f"golden file {path} was missing and has been written; review and commit it")
    assert actual == path.read_text(), f"output differs from {path}; IAMLINT_UPDATE_GOLDEN=1 regenerates"
