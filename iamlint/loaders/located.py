"""Parse YAML and JSON into plain Python data that remembers where each key and item came from.

Every loader reads its input through here. YAML is read the way CloudFormation reads it: YAML 1.1
scalars (PyYAML's SafeLoader rules, which cfn-lint, the SAM translator and the AWS CLI share) except
that timestamps stay strings, short-form intrinsic tags become their long form (`!Ref X` is
`{"Ref": "X"}`), and what CloudFormation rejects is refused: duplicate keys, merge keys (`<<`),
several documents, unknown tags. Anchors and aliases are accepted within a node budget; an aliased
value is the same Python object at each use, so treat the data as read-only.

Speed: YAML goes through libyaml's event stream with our own builder (`located_yaml`), which keeps
each key's and item's mark at little cost. JSON goes through `json.loads`; its positions are only
scanned for when `mark()` is first called, as most files never need one.
"""

from __future__ import annotations

import codecs
import gc
import json
import re
import sys
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from typing import Any, TypeAlias

__all__ = ["Located", "Mark", "ParseError", "parse_any", "parse_json", "parse_yaml"]

Path: TypeAlias = tuple[str | int, ...]
# Marks of one container's entries (key -> mark, or one mark per item) and the same for the
# containers among its values. A raw mark is a libyaml mark (YAML) or a character offset (JSON).
Shadow: TypeAlias = tuple[dict[str, Any] | list[Any], dict[str | int, Any]]


@dataclass(frozen=True, slots=True)
class Mark:
    """A position in a source file, both numbers 1-based; the column counts characters."""

    line: int
    column: int


class ParseError(Exception):
    """Input that cannot be read: which file, where, what was expected and what was found."""

    def __init__(self, file: str, line: int | None, column: int | None, message: str) -> None:
        # Passing every field to Exception keeps the error picklable (multiprocessing runs).
        super().__init__(file, line, column, message)
        self.file = file
        self.line = line
        self.column = column
        self.message = message

    def __str__(self) -> str:
        if self.line is None:
            return f"{self.file}: {self.message}"
        return f"{self.file}:{self.line}:{self.column or 1}: {self.message}"


# (raw mark of the root, Shadow of the root, raw mark -> Mark)
_Index: TypeAlias = tuple[Any, Shadow | None, Callable[[Any], Mark]]


_UNKNOWN = object()
_STEP_TYPES = frozenset((str, int))


class Located:
    """Parsed data plus the way back from a path in it to a line and column in the file."""

    __slots__ = ("_index", "_load_index", "_recent", "data", "file")
    data: object  # dict (insertion-ordered), list, str, int, float, bool or None
    file: str
    RECENT = 4096  # marks remembered, the earliest-found dropped first: rules ask for the same few places in bursts

    def __init__(self, data: object, file: str, load_index: Callable[[], _Index]) -> None:
        self.data = data
        self.file = file
        self._load_index = load_index
        self._index: _Index | None = None
        self._recent: dict[Path, Mark | None] = {}  # oldest first

    def mark(self, path: Path) -> Mark | None:
        """Where the node at `path` is: the key for a mapping entry, the start for a list item.

        When the path leaves the document, the deepest node it reaches stands in. A short-form
        tag stands for the whole function (`!GetAtt A.B` for `("Fn::GetAtt", 1)` as well).
        """
        # Only paths of exact str and int steps are remembered or looked up: True == 1 and
        # 1.0 == 1 as dict keys, but `_mark` reads neither as a list index.
        if not _STEP_TYPES.issuperset(map(type, path)):  # one C call, not a generator per step
            return self._mark(path)
        recent = self._recent
        found = recent.get(path, _UNKNOWN)
        if found is _UNKNOWN:
            found = recent[path] = self._mark(path)
            if len(recent) > self.RECENT:
                del recent[next(iter(recent))]
        return found  # type: ignore[return-value]

    def line_column(self, path: Path) -> tuple[int | None, int | None]:
        """`mark(path)` as (line, column), both None when the path has no place."""
        mark = self.mark(path)
        return (mark.line, mark.column) if mark is not None else (None, None)

    def _mark(self, path: Path) -> Mark | None:
        if self._index is None:
            self._index = self._load_index()
            # The loader may hold the whole text, which the index no longer needs (a large
            # JSON file's index keeps it compressed: `located_json.lazy_index`).
            self._load_index = _indexed
        best, shadow, to_mark = self._index
        for step in path:
            if shadow is None:
                break
            marks, kids = shadow
            if isinstance(marks, dict):
                if not isinstance(step, str) or step not in marks:
                    break
                best = marks[step]
            elif type(step) is int and 0 <= step < len(marks):  # a bool is an int, not an index
                best = marks[step]
            else:
                break
            shadow = kids.get(step)
        return None if best is None else to_mark(best)

    def __repr__(self) -> str:
        return f"Located(file={self.file!r}, data={type(self.data).__name__})"


def _indexed() -> _Index:
    raise AssertionError("the index is loaded once")


def parse_yaml(text: str | bytes, file: str) -> Located:
    """One YAML document as CloudFormation reads it, with the mark of every key and item."""
    # Imported here so that reading JSON never pays for importing PyYAML.
    from iamlint.loaders import located_yaml  # noqa: PLC0415 - reading JSON never pays for importing PyYAML

    data, root_mark, root_shadow = located_yaml.build(_decode(text, file), file)
    index: _Index = (root_mark, root_shadow, located_yaml.to_mark)
    return Located(data, file, lambda: index)


def parse_any(text: str | bytes, file: str) -> Located:
    """JSON when the first non-blank character opens an object or array, YAML otherwise."""
    decoded = _decode(text, file)
    if decoded.lstrip(" \t\r\n")[:1] in ("{", "["):
        return parse_json(decoded, file)
    return parse_yaml(decoded, file)


# ---------------------------------------------------------------------------------------- input


@contextmanager
def collector_paused() -> Iterator[None]:
    """Hold off the cyclic garbage collector while a document's containers are built.

    Building keeps every container it allocates, so the collector would rescan that growing heap
    again and again (about 40% of the time on a 1 MB template), while nothing built here can form
    a reference cycle. The collector is left as it was found (off if the caller had it off).
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _decode(text: str | bytes, file: str) -> str:
    """Text without a byte-order mark; bytes are UTF-8 unless a UTF-16/32 BOM says otherwise."""
    if isinstance(text, str):
        return text.removeprefix("\ufeff")
    encoding, body = "utf-8", bytes(text)
    if body.startswith(codecs.BOM_UTF8):
        body = body[3:]
    elif body.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        encoding = "utf-32"  # checked before UTF-16: the UTF-32-LE BOM starts like UTF-16-LE's
    elif body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    try:
        return body.decode(encoding)
    except UnicodeDecodeError as err:
        before = body[: err.start].decode(encoding, "replace")
        line_start = before.rfind("\n") + 1
        raise ParseError(
            file,
            before.count("\n") + 1,
            len(before) - line_start + 1,
            f"expected {encoding} text, found bytes {body[err.start : err.end]!r} ({err.reason})",
        ) from None


# ----------------------------------------------------------------------------------------- JSON


class _DuplicateKeyError(Exception):
    pass


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _DuplicateKeyError
    return result


def parse_json(text: str | bytes, file: str) -> Located:
    """JSON through `json.loads`; positions are read when `mark()` asks, one container at a time
    (`located_json`)."""
    source = _decode(text, file)
    try:
        data = json.loads(source, object_pairs_hook=_unique_pairs)
    except json.JSONDecodeError as err:
        found = source[err.pos : err.pos + 12].split("\n", 1)[0]
        what = f"found {found!r}" if found else "found the end of the file"
        raise ParseError(file, err.lineno, err.colno, f"{err.msg}, {what}") from None
    except _DuplicateKeyError:
        raise _json_duplicate(source, file) from None
    except RecursionError:
        raise _too_deep(source, file) from None
    except ValueError:  # integers past Python's digit limit (the only ValueError json.loads leaves)
        raise huge_number(source, file) from None
    return Located(data, file, lambda: _lazy_json_index(source))


DEEP = 100  # levels of nesting: no policy or template comes near (a SAM template: about 12)


def _too_deep(source: str, file: str) -> ParseError:
    """Where JSON text json.loads found nested too deep for it first goes past `DEEP` levels."""
    depth = 0
    for found in re.finditer(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', source):
        char = found.group()[0]
        if char in "[{":
            depth += 1
            if depth > DEEP:
                mark = _offset_converter(source)(found.start())
                return ParseError(
                    file,
                    mark.line,
                    mark.column,
                    f"nesting deeper than {DEEP} levels starts here; no policy or template needs it",
                )
        elif char in "]}":
            depth -= 1
    return ParseError(file, None, None, "nesting too deep for a policy or template")


def huge_number(source: str, file: str) -> ParseError:
    """Where the number past Python's digit limit for integers is (JSON or YAML text)."""
    limit = sys.get_int_max_str_digits()
    found = re.search(rf"\d{{{limit + 1},}}", source)
    if found is None:
        return ParseError(file, None, None, f"a number of over {limit} digits; no policy or template needs one")
    mark = _offset_converter(source)(found.start())
    return ParseError(
        file,
        mark.line,
        mark.column,
        f"a number of {len(found.group())} digits, over the {limit}-digit limit; no policy or template needs one",
    )


def _lazy_json_index(source: str) -> _Index:
    # The index a path at a time (`located_json`): a large dump's full index is tens of megabytes.
    from iamlint.loaders import located_json  # noqa: PLC0415 - it imports this module

    return located_json.lazy_index(source)


# After json.loads accepted the text, each match is a string, a bracket or a bare literal;
# commas, colons and blanks fall between the matches.
_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[{}\[\]]|[^\s{}\[\],:"]+')


def _scan_json(source: str, *, until_duplicate: bool = False) -> tuple[_Index, tuple[str, int, int] | None]:
    """Offsets of every key and item by container; the first duplicate key, if any.

    `until_duplicate` stops at the first duplicate key: json.loads refuses a duplicate as soon
    as its object closes, so the text after it may be anything (unbalanced brackets, bad
    escapes) and must not be scanned.
    """
    with collector_paused():
        return _scan_tokens(source, until_duplicate)


def _scan_tokens(source: str, until_duplicate: bool = False) -> tuple[_Index, tuple[str, int, int] | None]:
    root: list[Any] = []
    root_kids: dict[str | int, Any] = {}
    marks: Any = root
    kids = root_kids
    is_map = False
    key: str | None = None
    stack: list[tuple[bool, Any, dict[str | int, Any]]] = []
    duplicate = None
    for match in _JSON_TOKEN.finditer(source):
        token = match.group()
        first = token[0]
        if first == "}" or first == "]":
            is_map, marks, kids = stack.pop()
            continue
        step: str | int
        if is_map:
            if key is None:
                key = json.loads(token) if "\\" in token else token[1:-1]
                if key in marks and duplicate is None:
                    duplicate = (key, marks[key], match.start())
                    if until_duplicate:
                        break
                marks[key] = match.start()
                continue
            step, key = key, None
        else:
            step = len(marks)
            marks.append(match.start())
        if first == "{" or first == "[":
            shadow: Shadow = ({}, {}) if first == "{" else ([], {})
            kids[step] = shadow
            stack.append((is_map, marks, kids))
            marks, kids = shadow
            is_map = first == "{"
    return (root[0] if root else None, root_kids.get(0), _offset_converter(source)), duplicate


def _offsets(source: str) -> str:
    """The array type code for offsets into `source`: 4 bytes each while they fit."""
    return "i" if len(source) < 2**31 else "q"


# Lines per kept line start in `_offset_converter`.
_LINES_PER_START = 32

# Text holding characters `start` to `end` (exclusive) of a file, and the offset it starts at:
# all of it (`whole_text`), or a few blocks of a large file kept compressed (`located_json`).
Window: TypeAlias = Callable[[int, int], tuple[str, int]]


def whole_text(source: str) -> Window:
    """The window onto text kept whole: the text itself, from offset 0."""
    whole = (source, 0)

    def window(start: int, end: int) -> tuple[str, int]:
        return whole

    return window


def _offset_converter(source: str, window: Window | None = None) -> Callable[[Any], Mark]:
    """Offset into `source` -> Mark, reading the text through `window` (by default `source`
    itself, which the converter then keeps)."""
    # The start of every 32nd line, in an array: a Python list of ints takes up to ten times the
    # memory on a large file, and a start per line was still 1.15 MB for the bench's 3,000-role
    # dump (290,000 lines), kept through the whole run. The lines between are counted in the
    # text near the offset: a few hundred characters per mark.
    every = _LINES_PER_START
    starts = array(_offsets(source), [0])
    starts.extend(found.end() for found in islice(re.finditer("\n", source), every - 1, None, every))
    text_at = window or whole_text(source)

    def to_mark(offset: Any) -> Mark:
        block = bisect_right(starts, offset) - 1
        line_start = starts[block]
        low = max(line_start - 1, 0)  # the newline that ends the line before, if any
        text, base = text_at(low, max(offset, low + 1))
        line = block * every + 1 + text.count("\n", line_start - base, offset - base)
        newline = text.rfind("\n", low - base, offset - base)
        return Mark(line, offset - (newline + base if newline >= 0 else -1))

    return to_mark


def _json_duplicate(source: str, file: str) -> ParseError:
    (_, _, to_mark), duplicate = _scan_json(source, until_duplicate=True)
    if duplicate is None:  # the scanner and json disagree: still refuse, without a place
        return ParseError(file, None, None, "duplicate key in an object")
    key, first, second = duplicate
    was, now = to_mark(first), to_mark(second)
    return ParseError(
        file,
        now.line,
        now.column,
        f"duplicate key {key!r}: expected unique keys, found it again (first at line {was.line}, column {was.column})",
    )
