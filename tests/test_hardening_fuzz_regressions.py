"""Replays every input the fuzzers found (fixtures/fuzz/<target>/) through its target's code.

bench/fuzz/fuzz_loaders.py: bytes -> parse_any -> loader dispatch -> engine (strict); only
ParseError may come out. bench/fuzz/fuzz_policy.py: JSON -> parse_policy -> engine (strict) ->
evaluate. Hangs count as failures: each input must finish well inside the fuzzers' 20 s
timeout. A new crash found by `bench/fuzz/run.sh` goes into the folder, and is fixed.
"""

from __future__ import annotations

import itertools
import json
import time
from functools import lru_cache
from pathlib import Path

import pytest

from iamlint.engine import Engine, LintConfig
from iamlint.evaluator import Request, evaluate, pattern_contains
from iamlint.loaders.inputs import InputOptions, dispatch
from iamlint.loaders.located import ParseError, parse_any
from iamlint.policy import parse_policy

FUZZ = Path(__file__).resolve().parent.parent / "fixtures" / "fuzz"
LOADER_INPUTS = sorted((FUZZ / "loaders").iterdir())
POLICY_INPUTS = sorted((FUZZ / "policy").iterdir())
SECONDS = 10.0


@lru_cache(maxsize=1)
def engine() -> Engine:
    return Engine(LintConfig(strict=True))


def test_there_are_regressions_to_replay() -> None:
    assert LOADER_INPUTS and POLICY_INPUTS


@pytest.mark.parametrize("path", LOADER_INPUTS, ids=lambda p: p.name)
def test_loader_target_regressions(path: Path) -> None:
    started = time.monotonic()
    try:
        located = parse_any(path.read_bytes(), "fuzz.yaml")
    except ParseError as exc:
        assert exc.message
    else:
        loaded = dispatch(located, InputOptions(), explicit=True)
        engine().run(loaded.documents, loaded.problems, loaded.errors, loaded.files)
    assert time.monotonic() - started < SECONDS


@pytest.mark.parametrize("path", POLICY_INPUTS, ids=lambda p: p.name)
def test_policy_target_regressions(path: Path) -> None:
    started = time.monotonic()
    doc, _ = parse_policy(json.loads(path.read_bytes()), file="fuzz.json")
    assert doc is not None
    engine().run([doc], files=1)
    for action, resource in (("s3:GetObject", "arn:aws:s3:::bucket/key"), ("iam:PassRole", "*")):
        evaluate([doc], Request(action, resource, {"aws:username": ("alice",), "aws:SourceIp": ("10.1.2.3",)}))
    assert time.monotonic() - started < SECONDS


def test_each_containment_search_is_bounded() -> None:
    # The policy target's timeout: one search over long runs of `?` took a second (times the
    # number of statement pairs a rule compares). Each is now capped on its own.
    doc = json.loads((FUZZ / "policy" / "slow-containment-question-marks.json").read_bytes())
    patterns = [st["Resource"] for st in doc["Statement"]]
    for outer, inner in itertools.permutations(patterns, 2):
        started = time.monotonic()
        pattern_contains(outer + "x", inner + "x")  # not cached by an earlier run
        assert time.monotonic() - started < 0.5, (outer, inner)
