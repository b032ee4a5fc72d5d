"""Wildcard matching as IAM does it, for actions and ARNs, including pattern-against-pattern.

IAM patterns use `*` (any run of characters, including none) and `?` (one character). Policy
variables (`${aws:username}`) stand for a value known only at request time, and iamlint's own
placeholders for unresolved template values (`<Ref:Name>`) stand for one specific value we do not
know: for *overlap* questions both may be anything, but neither is ever treated as `*` when the
question is "does this grant everything".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache, wraps
from typing import TypeVar

STAR = "\x00*"
ONE = "\x00?"
# A catalogue variable whose values cannot hold "/" (a bucket or table name): one character,
# then a run of characters, none of them a slash.
ONE_NS = "\x00."
SEG = "\x00+"
_WILD = frozenset((STAR, ONE, ONE_NS, SEG))
_RUNS = frozenset((STAR, SEG))
# Names AWS allows no "/" in (S3 bucket naming rules; DynamoDB naming rules for tables and
# indexes; S3 access point naming rules): `arn:aws:s3:::b/*` names objects, never a bucket.
_NO_SLASH = frozenset(("${BucketName}", "${TableName}", "${IndexName}", "${AccessPointName}"))

_A = TypeVar("_A")
_B = TypeVar("_B")
_R = TypeVar("_R")


def _pair_cache(maxsize: int) -> Callable[[Callable[[_A, _B], _R]], Callable[[_A, _B], _R]]:
    """Cache a pure function of two arguments in a dict keyed by the pair, emptied whole when
    it holds `maxsize` answers. `functools.lru_cache` keeps a linked-list node and a key object
    beside each dict entry (about 200 bytes for two arguments, against 60 for the pair): these
    functions hold 40,000 answers at a large account's peak, and answer most calls from them."""

    def decorate(fn: Callable[[_A, _B], _R]) -> Callable[[_A, _B], _R]:
        table: dict[tuple[_A, _B], _R] = {}

        @wraps(fn)
        def cached(a: _A, b: _B) -> _R:
            key = (a, b)
            try:
                return table[key]
            except KeyError:
                pass
            found = fn(a, b)
            if len(table) >= maxsize:
                table.clear()
            table[key] = found
            return found

        return cached

    return decorate


# ${...} policy variables, and <...> iamlint placeholders for unresolved intrinsics.
_TOKEN_RE = re.compile(r"\$\{[^}]*\}|<[^<>]*>|\*|\?|[^*?$<]+|.", re.DOTALL)


def has_wildcard(text: str) -> bool:
    return "*" in text or "?" in text


def is_placeholder(text: str) -> bool:
    return "<" in text and ">" in text


@lru_cache(maxsize=16384)
def _tokens(pattern: str, template: bool) -> tuple[str, ...]:
    """Split into literal characters and wildcard tokens.

    In an ARN *template* from the catalogue, `${Var}` is a required, non-empty value; in a
    policy, `${...}` and `<...>` are values unknown here. Both are treated as STAR, which is
    the right over-approximation for "could these two match a common string".
    """
    out: list[str] = []
    for tok in _TOKEN_RE.findall(pattern):
        if tok == "*":
            out.append(STAR)
        elif tok == "?":
            out.append(ONE)
        elif tok.startswith("${") and tok.endswith("}"):
            # A catalogue variable (${Region}) is a required, non-empty value: one character
            # then anything. A policy variable may be empty for all we know.
            if template:
                if tok == "${OwnerAccount}":
                    out.append(STAR)  # may be empty: AWS-owned resources (catalog.AWS_OWNED) name no account
                else:
                    out.extend((ONE_NS, SEG) if tok in _NO_SLASH else (ONE, STAR))
            else:
                out.append(STAR)
        elif not template and tok.startswith("<") and tok.endswith(">") and len(tok) > 2:
            out.append(STAR)
        else:
            out.extend(tok)
    # Collapse runs of one kind of run: they mean the same and make the search quadratic.
    collapsed: list[str] = []
    for tok in out:
        if tok in _RUNS and collapsed and collapsed[-1] == tok:
            continue
        collapsed.append(tok)
    return tuple(collapsed)


def patterns_overlap(a: str, b: str, *, b_is_template: bool = False) -> bool:
    """Can glob patterns `a` and `b` match at least one common string? (case-sensitive)"""
    return _overlap(_tokens(a, False), _tokens(b, b_is_template))


@_pair_cache(65536)
def _overlap(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    # Literal heads and tails must agree wherever neither side has a wildcard yet: this
    # settles most pairs (different resource types, different names) without a search.
    for x, y in zip(a, b):
        if x in _WILD or y in _WILD:
            break
        if x != y:
            return False
    else:
        if len(a) == len(b):
            return True
    for x, y in zip(reversed(a), reversed(b)):
        if x in _WILD or y in _WILD:
            break
        if x != y:
            return False
    # Iterative search over (i, j) positions; each state is visited once.
    seen: set[tuple[int, int]] = set()
    stack = [(0, 0)]
    la, lb = len(a), len(b)
    while stack:
        i, j = stack.pop()
        if (i, j) in seen:
            continue
        seen.add((i, j))
        if i == la and j == lb:
            return True
        ta = a[i] if i < la else None
        tb = b[j] if j < lb else None
        if ta in _RUNS:
            stack.append((i + 1, j))  # the run matches nothing more
            if tb is not None and (ta == STAR or tb != "/"):
                stack.append((i, j + 1))  # it swallows b's next token (a SEG never a slash)
        if tb in _RUNS:
            stack.append((i, j + 1))
            if ta is not None and (tb == STAR or ta != "/"):
                stack.append((i + 1, j))
        if ta is None or tb is None or ta in _RUNS or tb in _RUNS:
            continue
        if _one_char(ta, tb):
            stack.append((i + 1, j + 1))
    return False


def _one_char(x: str, y: str) -> bool:
    """Can two single-character tokens (a literal, ONE or ONE_NS) match a common character?"""
    if x == y or x == ONE or y == ONE:
        return True
    if x == ONE_NS:
        return y != "/"
    if y == ONE_NS:
        return x != "/"
    return False


@_pair_cache(131072)
def arn_pattern_overlaps(resource: str, arn_template: str) -> bool:
    """Could the policy resource pattern name an ARN of this catalogue ARN format?

    The first five ARN fields are compared field by field (a `*` in the region field cannot
    reach into the resource part), then the resource part as a whole.
    """
    if resource == "*":
        return True
    r_parts = split_arn(resource)
    t_parts = split_arn(arn_template)
    if len(t_parts) < 6:
        return patterns_overlap(resource, arn_template, b_is_template=True)
    if len(r_parts) < 6:
        # "arn:aws:s3:::*" always has 6 parts; fewer means the last field holds a star that
        # spans colons (e.g. "arn:aws:*"), which can reach every later field.
        return patterns_overlap(resource, arn_template, b_is_template=True)
    for rp, tp in zip(r_parts[:5], t_parts[:5], strict=True):
        if not patterns_overlap(rp, tp, b_is_template=True):
            return False
    return patterns_overlap(r_parts[5], t_parts[5], b_is_template=True)


@lru_cache(maxsize=65536)
def split_arn(text: str) -> list[str]:
    """Split an ARN (or pattern) into at most six fields, on colons outside `${...}` and
    `<...>`: a policy variable or placeholder (`<AWS::Region>`) is one value."""
    if "${" not in text and "<" not in text:
        return text.split(":", 5)
    parts: list[str] = []
    current: list[str] = []
    for tok in _TOKEN_RE.findall(text):
        if len(parts) < 5 and ":" in tok and not tok.startswith(("${", "<")):
            pieces = tok.split(":")
            current.append(pieces[0])
            for piece in pieces[1:]:
                if len(parts) < 5:
                    parts.append("".join(current))
                    current = [piece]
                else:
                    current.append(":" + piece)
        else:
            current.append(tok)
    parts.append("".join(current))
    return parts


@lru_cache(maxsize=16384)
def is_total(resource: str) -> bool:
    """True when a resource pattern matches every ARN whatsoever (`*`, `arn:*`, `arn:*:*`...)."""
    if resource == "*":
        return True
    parts = resource.split(":")
    if parts[0] not in ("arn", "*"):
        return False
    return all(p in ("*", "") for p in parts[1:]) and parts[-1] == "*"


@_pair_cache(16384)
def covers_template(resource: str, arn_template: str) -> bool:
    """Does the resource pattern match *every* ARN of this format (it is effectively `*`)?

    True when every `${Var}` of the template sits under a `*` of the pattern and the literal
    parts agree, e.g. `arn:aws:s3:::*` covers buckets, `arn:aws:dynamodb:*:*:table/*` covers
    tables. A policy variable or placeholder is a specific value, so it never covers.
    """
    if resource == "*":
        return True
    # Substitute each template variable with a value no pattern would contain literally:
    # if the pattern still matches, its wildcards are what matched.
    probe = _PARTITION_RE.sub("aws", arn_template)
    probe = _VARIABLE_RE.sub("\x01q\x01", probe)
    return _fullmatch(resource, probe)


def padded_arn(pattern: str) -> str:
    """`arn:aws:s3:*` as `arn:aws:s3:*:*:*`: a star that ends an ARN pattern matches across the
    colons of the fields after it (IAM User Guide, "IAM JSON policy elements: Resource")."""
    parts = split_arn(pattern)
    if 3 <= len(parts) < 6 and parts[-1] == "*":
        return ":".join([*parts, *["*"] * (6 - len(parts))])
    return pattern


@_pair_cache(32768)  # 19,000 distinct pairs on the managed policies: all kept
def covers_arn_format(pattern: str, arn_format: str) -> bool:
    """Does the ARN pattern name every resource of this ARN format (in its account and
    Region)? A literal account or Region still reaches every resource a principal of that
    account can name: "every table in this account" is every table. (Asked of the same few
    patterns and formats across many policies and principals.)"""
    pattern = padded_arn(pattern)
    p_parts, t_parts = split_arn(pattern), split_arn(arn_format)
    if len(p_parts) < 6 or len(t_parts) < 6:
        return False
    if not p_parts[4] and t_parts[4]:
        return False  # an empty account names AWS-owned resources only (SSM's AWS-* documents)
    # The resource part first: it rules out nineteen pairs in twenty on the managed policies
    # (a bucket pattern against an object format), and is cached by the parts alone, which
    # recur far more than whole pairs; the field-by-field overlap search is the dearer test.
    return covers_template(p_parts[5], t_parts[5]) and arn_pattern_overlaps(pattern, arn_format)


_PARTITION_RE = re.compile(r"\$\{Partition\}")
_VARIABLE_RE = re.compile(r"\$\{[^}]*\}")


@lru_cache(maxsize=4096)
def _compile_glob(pattern: str) -> re.Pattern[str]:
    parts: list[str] = []
    for tok in _TOKEN_RE.findall(pattern):
        if tok == "*":
            parts.append(".*")
        elif tok == "?":
            parts.append(".")
        else:
            parts.append(re.escape(tok))
    return re.compile(linear_regex(parts, (".*",)), re.DOTALL)


def linear_regex(atoms: list[str], stars: tuple[str, ...]) -> str:
    """Regex source for a glob given as regex atoms, matched in linear time with `fullmatch`.

    Joined as written, `*a*a*a*a*b` becomes `.*a.*a.*a.*a.*b`, which backtracks through every
    way of splitting a long value (exponential for `a**********b`; found by fuzzing). The
    pieces between stars have a fixed width, so the leftmost place each middle piece matches
    is always a right choice: every star but the last takes the shortest run that lets its
    piece match and never gives it back (an atomic group). `stars` are the atoms that are
    stars (`.*`, or `[^:]*` where a star stays inside an ARN field).
    """
    head: list[str] = []
    pieces: list[tuple[str, list[str]]] = []  # (star, the fixed-width atoms after it)
    current = head
    for atom in atoms:
        if atom in stars:
            if pieces and not pieces[-1][1] and pieces[-1][0] == atom:
                continue  # a run of one kind of star is that star
            pieces.append((atom, []))
            current = pieces[-1][1]
        else:
            current.append(atom)
    out = "".join(head)
    for i, (star, rest) in enumerate(pieces):
        body = "".join(rest)
        out += f"{star}{body}" if i == len(pieces) - 1 else f"(?>{star}?{body})"
    return out


def glob_match(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    """Does the IAM glob `pattern` match the concrete `value`?"""
    if not case_sensitive:
        pattern, value = pattern.lower(), value.lower()
    return _fullmatch(pattern, value)


def _fullmatch(pattern: str, value: str) -> bool:
    """Does the glob match all of `value`? Star-only patterns (most of them) are matched with
    string searches; a pattern with `?` through its compiled regex."""
    if "?" in pattern or "${" in pattern or "<" in pattern:  # `${*}` and `<...>` are single tokens
        return _compile_glob(pattern).fullmatch(value) is not None
    if "*" not in pattern:
        return pattern == value
    first, *middle, last = pattern.split("*")
    if len(value) < len(first) + len(last) or not value.startswith(first) or not value.endswith(last):
        return False
    # With only stars, the leftmost place of each literal piece is always a right choice.
    pos, end = len(first), len(value) - len(last)
    for piece in middle:
        found = value.find(piece, pos, end)
        if found < 0:
            return False
        pos = found + len(piece)
    return True
