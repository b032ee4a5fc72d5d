"""`effective.covers` answers pattern containment by shortcuts; each must agree with the
automaton of `evaluator.pattern_contains`, which decides it exactly."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from iamlint import evaluator
from iamlint.checks.effective import covers
from iamlint.evaluator import pattern_contains

# A small alphabet makes containment between random patterns common enough to test both answers.
PATTERN = st.text(alphabet="ab*?:/", max_size=8)
ARN = st.builds(
    lambda parts: "arn:" + ":".join(parts), st.lists(st.text(alphabet="ab*?/", max_size=4), min_size=5, max_size=5)
)


@settings(max_examples=3000, deadline=None)
@given(PATTERN, PATTERN)
def test_covers_agrees_with_the_automaton(outer: str, inner: str) -> None:
    assert covers(outer, inner) == pattern_contains(outer, inner)


def _decided(outer: str, inner: str) -> bool:
    """The automaton's answer without its work budget: within it, a search that would take
    longer says False ("not shown"), which is no counterexample to a True from `covers`."""
    saved = evaluator._MAX_WORK, evaluator._MAX_STATES
    evaluator._MAX_WORK, evaluator._MAX_STATES = 10**9, 10**7
    try:
        return bool(evaluator._contains.__wrapped__(evaluator._tokens(outer, True), evaluator._tokens(inner, True)))
    finally:
        evaluator._MAX_WORK, evaluator._MAX_STATES = saved


@settings(max_examples=2000, deadline=None)
@given(ARN, ARN)
def test_covers_on_arns_is_never_wrong_when_it_says_yes(outer: str, inner: str) -> None:
    # Field by field is sufficient, not necessary: a True must hold for every string.
    if covers(outer, inner):
        assert _decided(outer, inner)


def test_a_field_wildcard_that_may_match_a_colon_keeps_the_fields_aligned() -> None:
    # Once failed here: the budgeted automaton gave up ("not shown"), the exact one agrees.
    assert covers("arn:*:??:???:???:*", "arn:*:??:???:???:")
    assert _decided("arn:*:??:???:???:*", "arn:*:??:???:???:")


def test_the_star_only_shortcut_decides_both_ways() -> None:
    assert covers("arn:aws:s3:::bucket-*", "arn:aws:s3:::bucket-a*b")
    assert covers("a*b*c", "a*xb*yc")
    assert not covers("a*b*c", "a*c")  # a-c is inner's and has no b
    assert not covers("ab*", "a*")
    assert covers("*", "a?b*")
    assert not covers("a*", "?*")
