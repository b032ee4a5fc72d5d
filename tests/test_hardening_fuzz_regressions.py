"""Replays every input the fuzzers found (fixtures/fuzz/<target>/) through its target's code.

bench/fuzz/fuzz_loaders.py: bytes -> parse_any -> loader dispatch -> engine (strict); only
ParseError may come out. bench/fuzz/fuzz_policy.py: JSON -> parse_policy -> engine (strict) ->
evaluate. The fuzzers count a run past 20 s as a hang; here the cause of each slow input is
held by a bound on work, never on time (machines are noisy; speed is measured by bench/):
pattern-containment search steps (`evaluator.search_budget`) and the shape of the regular
expressions wildcards compile to. A new crash found by `bench/fuzz/run.sh` goes into the
folder, and is fixed.
"""

from __future__ import annotations

import itertools
import json
import re
import re._parser as regex_parser
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

from iamlint import evaluator, globs
from iamlint.engine import Engine, LintConfig
from iamlint.evaluator import Request, evaluate, pattern_contains, search_budget
from iamlint.loaders.inputs import InputOptions, dispatch
from iamlint.loaders.located import ParseError, parse_any
from iamlint.policy import parse_policy

FUZZ = Path(__file__).resolve().parent.parent / "fixtures" / "fuzz"
LOADER_INPUTS = sorted((FUZZ / "loaders").iterdir())
POLICY_INPUTS = sorted((FUZZ / "policy").iterdir())
# Containment search steps one input may cost in all: ten times the cap of a single search
# (`evaluator._MAX_WORK`); today's inputs take at most one search's worth.
REPLAY_WORK = 1_000_000


@lru_cache(maxsize=1)
def engine() -> Engine:
    return Engine(LintConfig(strict=True))


def test_there_are_regressions_to_replay() -> None:
    assert LOADER_INPUTS and POLICY_INPUTS


@pytest.mark.parametrize("path", LOADER_INPUTS, ids=lambda p: p.name)
def test_loader_target_regressions(path: Path) -> None:
    with search_budget(REPLAY_WORK) as work:
        try:
            located = parse_any(path.read_bytes(), "fuzz.yaml")
        except ParseError as exc:
            assert exc.message
        else:
            loaded = dispatch(located, InputOptions(), explicit=True)
            engine().run(loaded.documents, loaded.problems, loaded.errors, loaded.files)
    assert not work.exhausted, work


@pytest.mark.parametrize("path", POLICY_INPUTS, ids=lambda p: p.name)
def test_policy_target_regressions(path: Path) -> None:
    doc, _ = parse_policy(json.loads(path.read_bytes()), file="fuzz.json")
    assert doc is not None
    with search_budget(REPLAY_WORK) as work:
        engine().run([doc], files=1)
        for action, resource in (("s3:GetObject", "arn:aws:s3:::bucket/key"), ("iam:PassRole", "*")):
            evaluate([doc], Request(action, resource, {"aws:username": ("alice",), "aws:SourceIp": ("10.1.2.3",)}))
    assert not work.exhausted, work


def test_each_containment_search_is_bounded() -> None:
    # The policy target's timeout: one search over long runs of `?` took a second (times the
    # number of statement pairs a rule compares). Each is now capped on its own, at
    # `evaluator._MAX_WORK` search steps; the block's larger budget measures the steps taken
    # and, should that cap go, cuts the runaway short.
    doc = json.loads((FUZZ / "policy" / "slow-containment-question-marks.json").read_bytes())
    patterns = [st["Resource"] for st in doc["Statement"]]
    capped = 0
    for outer, inner in itertools.permutations(patterns, 2):
        with search_budget(10 * evaluator._MAX_WORK) as work:
            pattern_contains(outer + "x", inner + "x")  # not cached by an earlier run
        assert 0 < work.spent <= evaluator._MAX_WORK and not work.exhausted, (outer, inner, work)
        capped += work.spent > evaluator._MAX_WORK // 2
    assert capped  # the input still needs the cap: some search runs up against it


def _backtracking_stars(tree: Any) -> int:
    """Unbounded repeats of a parsed regex outside atomic groups: each may give back what it
    took, and two of them in a row backtrack through every way of splitting the value."""
    count = 0
    for op, arg in tree:
        if op is regex_parser.ATOMIC_GROUP or op is regex_parser.POSSESSIVE_REPEAT:
            continue  # never gives back what it took
        if op in (regex_parser.MAX_REPEAT, regex_parser.MIN_REPEAT):
            count += arg[1] == regex_parser.MAXREPEAT
            count += _backtracking_stars(arg[2])
        elif op is regex_parser.SUBPATTERN:
            count += _backtracking_stars(arg[3])
        elif op is regex_parser.BRANCH:
            count += sum(_backtracking_stars(branch) for branch in arg[1])
    return count


FUZZ_PATTERNS = sorted(
    {
        text
        for path in (*LOADER_INPUTS, *POLICY_INPUTS)
        for text in re.findall(r'"([^"\\]*[*?][^"\\]*)"', path.read_text(errors="replace"))
    }
    | {"a**********b", "*a*a*a*a*b", "a?*a?*a?*a?*b", "arn:aws:s3:::*a*a*a*a*/b*"}
)


@pytest.mark.parametrize("pattern", FUZZ_PATTERNS)
def test_wildcards_compile_to_regexes_that_cannot_backtrack(pattern: str) -> None:
    # The loader target's timeout (regex-backtracking-stars.json): `dy*****...etItem` became
    # `dy.*.*.*...etItem`, whose backtracking grows exponentially with the stars. Every star but
    # the last now sits in an atomic group (`globs.linear_regex`), so a match is linear work.
    compiled = [globs._compile_glob(pattern)]
    tokens = evaluator._tokens(pattern, True)
    compiled += [r for arn in (False, True) if (r := evaluator._static_regex(tokens, arn)) is not None]
    for regex in compiled:
        assert _backtracking_stars(regex_parser.parse(regex.pattern, regex.flags)) <= 1, regex.pattern
