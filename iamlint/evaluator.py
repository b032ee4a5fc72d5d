"""IAM request evaluation, and the proof that one set of policies grants nothing another does not.

`evaluate` decides a request as IAM does for identity-based policies: an explicit Deny wins, else
any matching Allow allows, else the request is implicitly denied. `contains` proves that every
request `inner` allows, `outer` allows too; the narrower needs that proof before it may show a
proposal. The proof is sound for every action and resource string, not only those the catalogue
knows; where it cannot decide it says so, and a counterexample it offers is one `evaluate` confirms.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import enum
import ipaddress
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from iamlint import globs
from iamlint.catalog import Catalog
from iamlint.model import Condition, PolicyDocument, Statement

STAR, ONE = globs.STAR, globs.ONE
_VAR = "\x00$"  # a policy variable token: _VAR + lower-case key [+ "\x01" + default value]
_PIECE_RE = re.compile(r"\$\{[^}]*\}|.", re.DOTALL)
_VAR_BODY_RE = re.compile(r"\s*([^,']+?)\s*(?:,\s*'((?:[^']|'')*)'\s*)?")
_MAX_STATES = 20_000  # pattern-containment search budget; past it the answer is "cannot prove"
# The same search's budget in steps of the outer automaton: a state costs one step per symbol
# of the alphabet, and each step walks every active state, so a long run of `?` against a long
# run of literals costs far more than its state count (a second per pair, found by fuzzing).
_MAX_WORK = 100_000


@dataclass(slots=True)
class SearchWork:
    """The pattern-containment work one `search_budget` block allows, and has spent so far.

    Work is counted in the same steps as `_MAX_WORK`, so it does not depend on how fast the
    machine is: tests assert on it instead of on elapsed time.
    """

    limit: int
    spent: int = 0  # never more than `limit`: the step that would pass it is not taken
    exhausted: bool = False  # a search inside the block was cut short by this budget


# The open `search_budget` blocks, outermost first; empty outside any (the proofs of
# `iamlint narrow` are never cut short).
_budgets: list[SearchWork] = []


class _OverBudget(Exception):
    """Raised inside `_contains` so that lru_cache keeps no answer computed without budget."""


class search_budget:  # noqa: N801 - used as a function: `with search_budget(work) as meter:`
    """Cap the pattern-containment work `pattern_contains` may do inside the block.

    Each search is bounded on its own, but a rule that compares every pair of statements of a
    policy built for it makes a hundred thousand of them. The engine gives each rule a budget
    on each document or principal; past it, `pattern_contains` answers False ("could not show it"), as it does for one
    search past `_MAX_WORK`. Work done in a nested block counts against every enclosing block
    too (the engine opens one block at a time; tests open an outer one to measure it).

    A class rather than a generator: the engine opens one block per rule and document, fifty
    thousand of them for a folder of templates, and a generator-based one cost a tenth of that run.
    """

    __slots__ = ("meter",)

    def __init__(self, work: int) -> None:
        self.meter = SearchWork(work)

    def __enter__(self) -> SearchWork:
        _budgets.append(self.meter)
        return self.meter

    def __exit__(self, *exc: object) -> None:
        _budgets.pop()


def _charge(cost: int) -> None:
    """Spend `cost` from every open budget, or raise `_OverBudget` when one cannot afford it.

    Once a budget is exhausted every later search in its block stops at its first step.
    """
    for meter in _budgets:
        if meter.exhausted or meter.spent + cost > meter.limit:
            meter.exhausted = True
            raise _OverBudget
    for meter in _budgets:
        meter.spent += cost


_PROBE_ACTIONS = ("s3:GetObject", "ec2:DescribeInstances", "iam:PassRole", "sts:GetCallerIdentity")

_Ctx = Mapping[str, tuple[str, ...]]
_Test = Callable[[str, tuple[str, ...], _Ctx], bool]


class Decision(enum.Enum):
    ALLOW = "allow"
    EXPLICIT_DENY = "explicit-deny"
    IMPLICIT_DENY = "implicit-deny"


@dataclass(frozen=True, slots=True)
class Request:
    action: str  # "s3:GetObject"; matched case-insensitively, as IAM does
    resource: str  # a concrete ARN, or "*" for actions that take no resource
    # Condition keys (case-insensitive) to values; policy variables (${aws:username}) read it too.
    context: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class Evaluation:
    decision: Decision
    allowed_by: tuple[Statement, ...]
    denied_by: tuple[Statement, ...]


@dataclass(frozen=True, slots=True)
class Containment:
    contained: bool
    counterexample: Request | None  # allowed by `inner`, not by `outer` (checked with evaluate)
    reason: str  # empty when contained; starts with "cannot prove" when no counterexample


# -- patterns ---------------------------------------------------------------------------------
@lru_cache(maxsize=65536)
def _tokens(text: str, variables: bool) -> tuple[str, ...]:
    """Literal characters, STAR, ONE and variable tokens. `${*}`, `${?}` and `${$}` are the
    literal characters (IAM User Guide, "Policy elements: Variables and tags"); `<...>`
    placeholders stay literal text, so they match only themselves."""
    out: list[str] = []
    for piece in _PIECE_RE.findall(text) if variables else list(text):
        if piece == "*":
            if not out or out[-1] != STAR:
                out.append(STAR)
        elif piece == "?":
            out.append(ONE)
        elif len(piece) == 1:
            out.append(piece)
        elif piece[2:-1] in ("*", "?", "$"):
            out.append(piece[2])
        elif (m := _VAR_BODY_RE.fullmatch(piece[2:-1])) is not None:
            default = "" if m[2] is None else "\x01" + m[2].replace("''", "'")
            out.append(_VAR + m[1].lower() + default)
        else:
            out.extend(piece)
    return tuple(out)


def policy_variables(text: str) -> list[tuple[str, str, str | None]]:
    """The policy variables in a 2012-10-17 pattern, as IAM reads them: (as written, key,
    default or None). `${*}`, `${?}` and `${$}` are literal characters, not variables."""
    out: list[tuple[str, str, str | None]] = []
    for piece in _PIECE_RE.findall(text):
        if len(piece) > 1 and piece[2:-1] not in ("*", "?", "$"):
            m = _VAR_BODY_RE.fullmatch(piece[2:-1])
            if m is not None:
                out.append((piece, m[1], None if m[2] is None else m[2].replace("''", "'")))
    return out


def _var_value(token: str, ctx: _Ctx) -> str | None:
    # A variable without a single value in the request (absent or multivalued) has no value
    # unless the policy gives a default: the pattern holding it matches nothing.
    key, has_default, default = token[len(_VAR) :].partition("\x01")
    values = ctx.get(key, ())
    if len(values) == 1:
        return values[0]
    return default if has_default else None


@lru_cache(maxsize=16384)
def _regex(source: str) -> re.Pattern[str]:
    return re.compile(source, re.DOTALL)


def _glob(tokens: tuple[str, ...], value: str, ctx: _Ctx, *, arn: bool = False) -> bool:
    """Does `value` match? With `arn`, `*` and `?` stay inside their colon-delimited field in
    the first five fields (ArnLike compares the six fields separately: IAM User Guide,
    "Condition operators", ARN condition operators)."""
    static = _static_regex(tokens, arn)
    if static is not None:
        return static.fullmatch(value) is not None
    source = _regex_source(tokens, ctx, arn)
    return source is not None and _regex(source).fullmatch(value) is not None


@lru_cache(maxsize=65536)
def _static_regex(tokens: tuple[str, ...], arn: bool) -> re.Pattern[str] | None:
    """The compiled pattern, when it holds no variable (most do not)."""
    if any(len(tok) > 1 and tok not in (STAR, ONE) for tok in tokens):
        return None
    source = _regex_source(tokens, {}, arn)
    return None if source is None else _regex(source)


# Not `globs.glob_match`, on purpose: that one reads a pattern's text as written and needs no
# request, which is right for actions and for comparing pattern texts, but a request is decided
# by other rules. Here a policy variable takes the request's value (or its `${key, 'default'}`),
# and one the request does not give a single value makes the pattern match nothing, where
# glob_match keeps `${aws:username}` as literal text; `${*}`, `${?}` and `${$}` are the literal
# characters, where glob_match keeps them as written; variables exist only in 2012-10-17
# policies (`_tokens(..., variables)`); and ArnLike keeps `*` and `?` inside one of the first
# five ARN fields (`arn`). What the two share, turning the atoms into a regex that cannot
# backtrack, is `globs.linear_regex`. Without `${` or `<` (actions, mostly) the two agree.
def _regex_source(tokens: tuple[str, ...], ctx: _Ctx, arn: bool) -> str | None:
    arn = arn and tokens.count(":") >= 5
    parts: list[str] = []
    colons = 0
    for tok in tokens:
        if tok in (STAR, ONE):
            bounded = arn and colons < 5
            parts.append(("[^:]" if bounded else ".") + ("*" if tok == STAR else ""))
        elif len(tok) > 1:
            var = _var_value(tok, ctx)
            if var is None:
                return None
            parts.append(re.escape(var))
        else:
            colons += tok == ":"
            parts.append(re.escape(tok))
    return globs.linear_regex(parts, ("[^:]*", ".*"))  # no catastrophic backtracking


def _fill(tokens: tuple[str, ...], star: str | None, ctx: dict[str, tuple[str, ...]]) -> str:
    """A string the pattern matches: wildcards become `star` (or stay literal when None) and a
    variable takes its value from `ctx`, which gets one ("x") when it has none."""
    out: list[str] = []
    for tok in tokens:
        if tok in (STAR, ONE):
            literal = "*" if tok == STAR else "?"
            out.append(literal if star is None else star if tok == STAR else "x")
        elif len(tok) > 1:
            var = _var_value(tok, ctx)
            if var is None:
                ctx[tok[len(_VAR) :].partition("\x01")[0]] = ("x",)
                var = "x"
            out.append(var)
        else:
            out.append(tok)
    return "".join(out)


def _text(tokens: tuple[str, ...], ctx: _Ctx) -> str | None:
    """The value with variables substituted and wildcards literal (for StringEquals and co)."""
    out: list[str] = []
    for tok in tokens:
        if tok in (STAR, ONE):
            out.append("*" if tok == STAR else "?")
        elif len(tok) > 1:
            var = _var_value(tok, ctx)
            if var is None:
                return None
            out.append(var)
        else:
            out.append(tok)
    return "".join(out)


def pattern_contains(outer: str, inner: str, *, case_sensitive: bool = True) -> bool:
    """Is every string `inner` matches also matched by `outer`, whatever policy variables hold?

    A `${var}` in `inner` stands for any string, the same one wherever that variable appears on
    either side; `<...>` placeholders are literal text. False may mean "could not show it".
    """
    if not case_sensitive:
        outer, inner = outer.lower(), inner.lower()
    try:
        return _contains(_tokens(outer, True), _tokens(inner, True))
    except _OverBudget:
        return False


@lru_cache(maxsize=65536)
def _contains(outer: tuple[str, ...], inner: tuple[str, ...]) -> bool:
    # Explore inner's automaton against the subset automaton of outer; one character not in
    # outer stands for every such character, and a variable is one opaque symbol that only the
    # same variable or a `*` of outer can absorb, so a "yes" holds for every value it takes.
    if outer == (STAR,) or outer == inner:
        return True
    if _has_variable(outer, inner) and _misses_witness(outer, inner):
        return False
    literals = sorted({t for t in outer if len(t) == 1})
    other = next(chr(c) for c in range(1, 0x110000) if chr(c) not in literals)
    alphabet = (*literals, other)
    m, n = len(outer), len(inner)

    def close(states: list[int]) -> frozenset[int]:
        out: set[int] = set()
        while states:
            j = states.pop()
            if j not in out:
                out.add(j)
                if j < m and outer[j] == STAR:
                    states.append(j + 1)
        return frozenset(out)

    def step(states: frozenset[int], symbol: str) -> frozenset[int]:
        nxt = []
        for j in states:
            tok = outer[j] if j < m else None
            if tok == STAR:
                nxt.append(j)
            elif tok == symbol or (tok == ONE and len(symbol) == 1):
                nxt.append(j + 1)
        return close(nxt)

    start = (0, close([0]))
    seen = {start}
    stack = [start]
    work = 0
    while stack:
        i, states = stack.pop()
        cost = len(alphabet) * (len(states) + 1)
        work += cost
        if work > _MAX_WORK:
            return False
        if _budgets:
            _charge(cost)
        if not states or (i == n and m not in states):
            return False  # inner can always be completed, so this is a string outer misses
        if i == n:
            continue
        tok = inner[i]
        if tok == STAR:
            moves = [(i + 1, states), *((i, step(states, a)) for a in alphabet)]
        elif tok == ONE:
            moves = [(i + 1, step(states, a)) for a in alphabet]
        else:
            moves = [(i + 1, step(states, tok))]
        for move in moves:
            if move not in seen:
                if len(seen) > _MAX_STATES:
                    return False
                seen.add(move)
                stack.append(move)
    return True


def _has_variable(outer: tuple[str, ...], inner: tuple[str, ...]) -> bool:
    """Is there a policy variable on either side? `effective.covers` sends every such pair here
    (IAM132's ARNs with ${aws:username}), where `_misses_witness` pays; a pair without one
    comes here only with a `?` in outer, and the search budget's hardening tests rely on such
    pairs (long runs of `?`) still being searched."""
    return any(t.startswith(_VAR) for t in outer) or any(t.startswith(_VAR) for t in inner)


def _misses_witness(outer: tuple[str, ...], inner: tuple[str, ...]) -> bool:
    """Does `outer` miss one string of `inner`'s, a quick proof that it does not contain it?

    The string: inner with each `*` and variable empty and each `?` a character outer never
    spells (there is always one: `_contains` uses it too); outer is read with every variable
    empty too (one value of each). Whenever `_contains` finds outer
    absorbing every string of inner, it absorbs this one the same way (a variable by itself
    or by a `*`, both empty here), so a miss here is a "no" there, found in one pass instead
    of a search over outer's alphabet at every `*` of inner (most pairs with variables that
    IAM132 tries on the managed policies are not contained).
    """
    m = len(outer)

    def close(states: list[int]) -> set[int]:  # a `*` or a variable of outer may match nothing
        out: set[int] = set()
        while states:
            j = states.pop()
            if j not in out:
                out.add(j)
                if j < m and (outer[j] == STAR or outer[j].startswith(_VAR)):
                    states.append(j + 1)
        return out

    states = close([0])
    for tok in inner:
        if tok == STAR or tok.startswith(_VAR):
            continue
        nxt = []
        for j in states:
            if j < m:
                here = outer[j]
                if here == STAR:
                    nxt.append(j)
                elif here == tok or here == ONE:  # inner's `?`: a character outer never spells
                    nxt.append(j + 1)
        states = close(nxt)
        if not states:
            return True
    return m not in states


# -- conditions -------------------------------------------------------------------------------
def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _date(text: str) -> datetime.datetime | None:
    # Dates are ISO 8601 or epoch seconds (IAM User Guide, "Condition operators", Date).
    try:
        return datetime.datetime.fromtimestamp(float(text), tz=datetime.UTC)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        when = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=datetime.UTC)


def _binary(text: str) -> bytes | str:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return text


def _compare(parse: Callable[[str], Any], cmp: Callable[[Any, Any], Any]) -> _Test:
    def test(value: str, pattern: tuple[str, ...], ctx: _Ctx) -> bool:
        text = _text(pattern, ctx)
        a, b = parse(value), None if text is None else parse(text)
        return a is not None and b is not None and bool(cmp(a, b))

    return test


def _ip(value: str, pattern: tuple[str, ...], ctx: _Ctx) -> bool:
    text = _text(pattern, ctx)
    try:
        return text is not None and ipaddress.ip_address(value) in ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False


def _arn(value: str, pattern: tuple[str, ...], ctx: _Ctx) -> bool:
    return _glob(pattern, value, ctx, arn=True)


_ORDERS: dict[str, Callable[[Any, Any], Any]] = {
    "Equals": operator.eq,
    "LessThan": operator.lt,
    "LessThanEquals": operator.le,
    "GreaterThan": operator.gt,
    "GreaterThanEquals": operator.ge,
}
# Positive operators. ArnEquals and ArnLike are the same test (both take wildcards).
_TESTS: dict[str, _Test] = {
    "StringEquals": _compare(str, operator.eq),
    "StringEqualsIgnoreCase": _compare(str.lower, operator.eq),
    "StringLike": lambda v, p, ctx: _glob(p, v, ctx),
    "Bool": _compare(str.lower, operator.eq),
    "BinaryEquals": _compare(_binary, operator.eq),
    "IpAddress": _ip,
    "ArnEquals": _arn,
    "ArnLike": _arn,
    **{f"Numeric{name}": _compare(_number, cmp) for name, cmp in _ORDERS.items()},
    **{f"Date{name}": _compare(_date, cmp) for name, cmp in _ORDERS.items()},
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "NumericNotEquals": "NumericEquals",
    "DateNotEquals": "DateEquals",
    "NotIpAddress": "IpAddress",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


@dataclass(frozen=True, slots=True)
class _Clause:
    qualifier: str  # "", "ForAnyValue" or "ForAllValues"
    base: str  # canonical, without qualifier and IfExists; "" when IAM defines no such operator
    if_exists: bool
    key: str  # lower case: condition key names are case-insensitive
    values: frozenset[tuple[str, ...]]  # OR-ed, so their order does not matter

    @property
    def negated(self) -> bool:
        return self.base in _NEGATED

    @property
    def known(self) -> bool:
        return self.base == "Null" or self.base in _TESTS or self.negated


_CANONICAL = {name.lower(): name for name in (*_TESTS, *_NEGATED, "Null")}
_QUALIFIERS = {"": "", "foranyvalue": "ForAnyValue", "forallvalues": "ForAllValues"}


def _clause(cond: Condition, variables: bool) -> _Clause:
    # Operator names match without regard to case, as IAM does (the same reading as
    # rules/data/condition_operators.yaml); a name IAM does not define gets base "".
    qualifier, sep, rest = cond.operator.partition(":")
    if not sep:
        qualifier, rest = "", cond.operator
    if_exists = rest.lower().endswith("ifexists")
    base = _CANONICAL.get((rest[: -len("IfExists")] if if_exists else rest).lower(), "")
    if qualifier.lower() not in _QUALIFIERS:
        base = ""
    values = frozenset(_tokens(v, variables) for v in cond.values)
    return _Clause(_QUALIFIERS.get(qualifier.lower(), ""), base, if_exists, cond.key.lower(), values)


def _holds(c: _Clause, ctx: _Ctx) -> bool:
    values = ctx.get(c.key, ())
    if c.base == "Null":
        # Null "true" holds when the key is absent, "false" when present (IAM User Guide,
        # "Condition operator to check existence of condition keys").
        return ("false" if values else "true") in {(_text(p, ctx) or "").lower() for p in c.values}
    test = _TESTS.get(_NEGATED.get(c.base, c.base))
    if test is None:
        return False  # an operator IAM does not define never matches
    if not values:
        # A missing key: ...IfExists is true, ForAllValues is true (vacuously, over the empty
        # set), ForAnyValue is false, and a negated operator is true (IAM User Guide, "Condition
        # operators" and "Single-valued vs. multivalued context keys").
        if c.if_exists or c.qualifier == "ForAllValues":
            return True
        return c.negated and c.qualifier != "ForAnyValue"

    def one(value: str) -> bool:
        # Several values of a negated operator are NOR-ed, not OR-ed (IAM User Guide,
        # "Conditions with multiple context keys or values").
        return any(test(value, p, ctx) for p in c.values) != c.negated

    if c.qualifier == "ForAllValues" or (not c.qualifier and c.negated):
        return all(one(v) for v in values)
    return any(one(v) for v in values)


# -- statements and evaluation ----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Pattern:
    text: str  # as globs.patterns_overlap reads it (lower case for actions)
    tokens: tuple[str, ...]
    # Read under policy language 2012-10-17 (`${...}` are variables). The tokens already hold what
    # that means, so two patterns with equal text and tokens are the same pattern (`_TOTAL`).
    variables: bool = field(default=False, compare=False)


@dataclass(frozen=True, slots=True)
class _Set:
    """The strings `patterns` match or, when `negated`, all the others (NotAction, NotResource)."""

    negated: bool
    patterns: tuple[_Pattern, ...]
    # The patterns without wildcard or variable, as the strings they match, and the others:
    # a proposal from thousands of observed objects lists thousands of ARNs, and checking
    # each observed call against each of them one by one took minutes.
    literals: frozenset[str] = field(init=False, compare=False, repr=False)
    wild: tuple[_Pattern, ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        plain = [all(len(t) == 1 for t in p.tokens) for p in self.patterns]  # STAR, ONE, variables: longer
        object.__setattr__(
            self,
            "literals",
            frozenset("".join(p.tokens) for p, is_plain in zip(self.patterns, plain, strict=True) if is_plain),
        )
        object.__setattr__(
            self, "wild", tuple(p for p, is_plain in zip(self.patterns, plain, strict=True) if not is_plain)
        )


@dataclass(frozen=True, slots=True)
class _Stmt:
    source: Statement
    allow: bool
    actions: _Set
    resources: _Set
    clauses: tuple[_Clause, ...]

    @property
    def can_apply(self) -> bool:
        """False when the statement matches no request: an unknown operator, NotAction "*"."""
        empty = any(s.negated and _TOTAL in s.patterns for s in (self.actions, self.resources))
        return not empty and all(c.known for c in self.clauses)


_TOTAL = _Pattern("*", (STAR,))
_COMPILED: dict[int, tuple[PolicyDocument, tuple[_Stmt, ...]]] = {}


def _compile(doc: PolicyDocument) -> tuple[_Stmt, ...]:
    # Keyed by identity: hashing a whole document on every request would cost more than the
    # evaluation. The document is kept with its entry, so its id cannot be reused meanwhile.
    hit = _COMPILED.get(id(doc))
    if hit is not None and hit[0] is doc:
        return hit[1]
    if len(_COMPILED) >= 1024:
        _COMPILED.clear()
    compiled = _compile_statements(doc)
    _COMPILED[id(doc)] = (doc, compiled)
    return compiled


def _compile_statements(doc: PolicyDocument) -> tuple[_Stmt, ...]:
    # Policy variables exist only in policy language 2012-10-17; in older or unversioned
    # documents ${aws:username} is literal text (IAM User Guide, "Policy elements: Version").
    variables = doc.version == "2012-10-17"
    out = []
    for st in doc.statements:
        # Actions match case-insensitively, ARNs case-sensitively (IAM User Guide, "Policy
        # elements: Action" and "Resource"); actions take no policy variables.
        acts = tuple(_Pattern(a.lower(), _tokens(a.lower(), False)) for a in st.action_texts)
        if st.resource_key is None:  # no Resource element: the statement names no resource
            res = _Set(False, (_TOTAL,))
        else:
            pats = tuple(_Pattern(r, _tokens(r, variables), variables) for r in st.resource_texts)
            res = _Set(st.not_resource, pats)
        clauses = tuple(_clause(c, variables) for c in st.conditions)
        out.append(_Stmt(st, st.is_allow, _Set(st.not_action, acts), res, clauses))
    return tuple(out)


def _in_set(s: _Set, value: str, ctx: _Ctx) -> bool:
    return (value in s.literals or any(_glob(p.tokens, value, ctx) for p in s.wild)) != s.negated


def evaluate(policies: Sequence[PolicyDocument], request: Request) -> Evaluation:
    """Decide `request` against identity policies: explicit deny, else allow, else implicit deny."""
    ctx = {k.lower(): (v,) if isinstance(v, str) else tuple(v) for k, v in request.context.items()}
    action = request.action.lower()
    allowed: list[Statement] = []
    denied: list[Statement] = []
    for doc in policies:
        for st in _compile(doc):
            if (
                _in_set(st.actions, action, {})
                and _in_set(st.resources, request.resource, ctx)
                and all(_holds(c, ctx) for c in st.clauses)
            ):
                (allowed if st.allow else denied).append(st.source)
    # An explicit deny overrides any allow (IAM User Guide, "Policy evaluation logic").
    decision = Decision.EXPLICIT_DENY if denied else Decision.ALLOW if allowed else Decision.IMPLICIT_DENY
    return Evaluation(decision, tuple(allowed), tuple(denied))


def contains(outer: Sequence[PolicyDocument], inner: Sequence[PolicyDocument], catalog: Catalog) -> Containment:
    """Is every request `inner` allows also allowed by `outer`? (see `iamlint.containment`)"""
    from iamlint.containment import contains as prove  # noqa: PLC0415 - iamlint.containment imports this module

    return prove(outer, inner, catalog)


# -- judging a request only partly known ------------------------------------------------------
class Verdict(enum.Enum):
    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"  # turns on a condition key, policy variable or `<placeholder>` not known


@dataclass(frozen=True, slots=True)
class StatementVerdict:
    statement: Statement
    verdict: Verdict  # does the statement apply to the request?
    # The statement's Resource patterns that match (or may match) the request's resource, and
    # whether one of them that matches for certain holds no policy variable: only then is the
    # request's own ARN as narrow as the statement's grant on it, whatever the variables hold.
    matched: tuple[str, ...]
    literal_match: bool
    unknown: tuple[str, ...]  # the keys (or placeholders) it turns on


def judge(
    policies: Sequence[PolicyDocument], request: Request, absent: frozenset[str] = frozenset()
) -> list[StatementVerdict]:
    """The statements that name the request's action, each with whether it applies.

    Unlike `evaluate`, a condition key or policy variable missing from `request.context` is not
    taken as absent from the request (which `...IfExists` and negated operators would count as a
    match) but as unknown, unless it is in `absent` (lower case). A `<placeholder>` in a Resource
    (a name only the deployment knows, a parameter whose value was not given) may be anything.
    The narrower asks this of an observed call, whose record shows only part of its context.
    """
    ctx = {k.lower(): (v,) if isinstance(v, str) else tuple(v) for k, v in request.context.items()}
    action = request.action.lower()
    out: list[StatementVerdict] = []
    for doc in policies:
        for st in _compile(doc):
            if not _in_set(st.actions, action, {}):
                continue
            unknown: list[str] = []
            res, matched, literal = _resource_verdict(st.resources, request.resource, ctx, absent, unknown)
            verdicts = [res]
            for c in st.clauses:
                missing = [k for k in (c.key, *_clause_variables(c)) if k not in ctx and k not in absent]
                if missing:
                    unknown.extend(missing)
                    verdicts.append(Verdict.UNKNOWN)
                else:
                    verdicts.append(Verdict.YES if _holds(c, ctx) else Verdict.NO)
            verdict = (
                Verdict.NO
                if Verdict.NO in verdicts
                else Verdict.UNKNOWN
                if Verdict.UNKNOWN in verdicts
                else Verdict.YES
            )
            out.append(StatementVerdict(st.source, verdict, matched, literal, tuple(dict.fromkeys(unknown))))
    return out


def _clause_variables(c: _Clause) -> list[str]:
    return [
        tok[len(_VAR) :].partition("\x01")[0]
        for value in c.values
        for tok in value
        if len(tok) > 1 and tok not in (STAR, ONE) and "\x01" not in tok
    ]


_PLACEHOLDER_RE = re.compile(r"<[^<>]*>")


def _resource_verdict(
    s: _Set, value: str, ctx: _Ctx, absent: frozenset[str], unknown: list[str]
) -> tuple[Verdict, tuple[str, ...], bool]:
    sure: list[str] = []
    maybe: list[str] = []
    literal = False
    for p in s.patterns:
        variables = [tok[len(_VAR) :].partition("\x01") for tok in p.tokens if len(tok) > 1 and tok not in (STAR, ONE)]
        missing = [key for key, has_default, _ in variables if key not in ctx and key not in absent and not has_default]
        if not missing and _glob(p.tokens, value, ctx):
            sure.append(p.text)
            literal |= not variables
            continue
        # What could match once the unknowns are known: each unknown part as `*`.
        loose = _PLACEHOLDER_RE.sub("*", p.text) if globs.is_placeholder(p.text) else p.text
        open_tokens = tuple(
            STAR
            if len(tok) > 1 and tok not in (STAR, ONE) and tok[len(_VAR) :].partition("\x01")[0] in missing
            else tok
            for tok in _tokens(loose, p.variables)
        )
        if (missing or loose != p.text) and _glob(open_tokens, value, ctx):
            maybe.append(p.text)
            unknown.extend(missing or _PLACEHOLDER_RE.findall(p.text))
    if s.negated:
        # NotResource: a sure match excludes the request; a possible one leaves it open.
        verdict = Verdict.NO if sure else Verdict.UNKNOWN if maybe else Verdict.YES
        return verdict, (), verdict is Verdict.YES
    verdict = Verdict.YES if sure else Verdict.UNKNOWN if maybe else Verdict.NO
    return verdict, tuple(sure or maybe), literal
