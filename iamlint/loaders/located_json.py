"""Marks of JSON text read one container at a time, as paths reach them (`located.parse_json`).

A large file (an account dump of tens of megabytes) has hundreds of thousands of keys, and
findings point into a small share of them. `located._scan_json` indexes every key and item of a
file at once (42 MB on the bench's 3,000-role dump); here one pass pairs the brackets (two
arrays of offsets), a container's keys and items are read when a path enters it, and only large
containers and the last few thousand small ones read are kept (5 MB for the same findings).
The text itself is read through a window (`located.Window`): the whole text, or for a large
file the few compressed blocks a container or mark needs (`_Blocks`). The marks are the same
as the full scan's.
"""

from __future__ import annotations

import json
import re
import sys
import zlib
from array import array
from bisect import bisect_left
from typing import Any

from iamlint.loaders.located import (
    _JSON_TOKEN,
    Shadow,
    Window,
    _Index,
    _offset_converter,
    _offsets,
    collector_paused,
    whole_text,
)

# Each match runs to the next bracket outside a string and captures it: one match per bracket,
# the strings between (most of a policy's text) skipped inside the regex engine rather than
# matched one at a time (a quarter of the time on the bench's managed policies).
_NEXT_BRACKET = re.compile(r'[^"{}\[\]]*+(?:"[^"\\]*+(?:\\.[^"\\]*+)*+"[^"{}\[\]]*+)*+([{}\[\]])')


def lazy_index(source: str) -> _Index:
    """The index `located._scan_json` gives, built one container at a time as paths reach it.

    Text of `BLOCKED_FROM` characters or more is then kept compressed (`_Blocks`), and the
    caller should let go of it: the bench's 3,000-role dump is 9.3 MB of text, held to the end
    of the run for the findings' lines, and 1.4 MB compressed.
    """
    found = _JSON_TOKEN.search(source)
    if found is None or source[found.start()] not in "{[":
        return (None if found is None else found.start()), None, _offset_converter(source)
    # The text json.loads accepted ends with the root's closing bracket and blanks: up to that
    # bracket every match succeeds, so no search restarts inside a string (or, over a long
    # blank tail, at every character of it).
    end = len(source.rstrip(" \t\r\n"))
    with collector_paused():
        opens, closes = array(_offsets(source)), array(_offsets(source))
        stack: list[int] = []
        for match in _NEXT_BRACKET.finditer(source, 0, end):
            at = match.start(1)
            first = source[at]
            if first == "{" or first == "[":
                stack.append(len(opens))
                opens.append(at)
                closes.append(0)
            else:
                closes[stack.pop()] = at
    start = found.start()
    shadows = _JsonShadows(whole_text(source), opens, closes)
    if len(source) < BLOCKED_FROM:
        return start, shadows.of(start), _offset_converter(source)
    # The few large containers (the root, a dump's lists of roles and policies) are read now,
    # from the whole text: read later, each would need its whole text back at once.
    for i, (at, close) in enumerate(zip(opens, closes)):
        if close - at >= _Blocks.EARLY:
            shadows.early[at] = shadows.of(at, i)
    blocks = _Blocks(source)
    shadows.window = blocks.window
    return start, shadows.cached(start)[0], _offset_converter(source, blocks.window)


# Text from this many characters on is kept compressed once indexed (see `lazy_index`).
BLOCKED_FROM = 2 * 1024 * 1024


class _Blocks:
    """Text kept as zlib-compressed blocks of `SIZE` characters, the last `CACHED` read kept
    whole: the marks of a run's findings come in bursts from a few places of the file (on the
    bench's 3,000-role dump, 1,800 blocks are read again for 12,700 marks and 27,500 containers).
    """

    __slots__ = ("blocks", "recent")
    SIZE = 16384
    CACHED = 32
    EARLY = 256 * 1024  # containers of this many characters or more are read before compressing

    def __init__(self, source: str) -> None:
        size = self.SIZE
        # "surrogatepass": a str from JSON text may hold a lone surrogate, which decodes back.
        self.blocks = [
            zlib.compress(source[i : i + size].encode("utf-8", "surrogatepass"), 1) for i in range(0, len(source), size)
        ]
        self.recent: dict[int, str] = {}  # oldest first

    def _block(self, n: int) -> str:
        recent = self.recent
        found = recent.pop(n, None)
        if found is None:
            found = zlib.decompress(self.blocks[n]).decode("utf-8", "surrogatepass")
            if len(recent) >= self.CACHED:
                del recent[next(iter(recent))]
        recent[n] = found
        return found

    def window(self, start: int, end: int) -> tuple[str, int]:
        """Text holding characters `start` to `end` (exclusive), and the offset it starts at."""
        size = self.SIZE
        first, last = start // size, max(end - 1, start) // size
        if first == last:
            return self._block(first), first * size
        return "".join([self._block(n) for n in range(first, last + 1)]), first * size


class _JsonShadows:
    """Reads the shadow (marks of the entries, and the same for nested containers) of one
    container of JSON text on demand; `_LazyKids` calls back here when a path goes deeper.

    Shadows of large containers (the lists of roles and policies of a dump) are kept; small
    ones (a role, a statement), cheap to read again, only the `RECENT` read most lately (the
    earliest read is dropped first, whether asked for since or not): marks are
    asked for in bursts, a document's findings together. On the bench's 3,000-role dump this
    holds 5 MB instead of 16 MB (42 MB for the whole index at once) for 100,000 marks.
    """

    __slots__ = ("closes", "early", "opens", "recent", "window")
    KEEP = 64  # entries from which a container's shadow is kept for good
    RECENT = 2048

    def __init__(self, window: Window, opens: array[int], closes: array[int]) -> None:
        self.window, self.opens, self.closes = window, opens, closes  # the text, whole or in blocks
        self.recent: dict[int, Shadow] = {}  # by offset, oldest first
        self.early: dict[int, Shadow] = {}  # large containers read before compressing, by offset

    def cached(self, start: int) -> tuple[Shadow, bool]:
        """The shadow of the container at `start`, and whether to keep it for good."""
        recent = self.recent
        found = recent.get(start)
        if found is not None:
            return found, False
        if self.early:
            found = self.early.pop(start, None)
            if found is not None:
                return found, True
        found = self.of(start)
        if len(found[0]) >= self.KEEP:
            return found, True
        recent[start] = found
        if len(recent) > self.RECENT:
            del recent[next(iter(recent))]
        return found, False

    def _end(self, start: int) -> int:
        """The offset just past the container opening at `start`."""
        i = bisect_left(self.opens, start)
        return self.closes[i] + 1

    def of(self, start: int, i: int | None = None) -> Shadow:
        """Offsets of the container's keys (interned: the same few keys recur in every
        statement) or items (an array), and its nested containers, read when reached.
        `i` is the container's place in `opens`, when the caller knows it."""
        if i is None:
            i = bisect_left(self.opens, start)
        close = self.closes[i]
        source, base = self.window(start, close + 1)
        token, code = _JSON_TOKEN, self.opens.typecode  # offsets into the whole text
        is_map = source[start - base] == "{"
        if not is_map and (i + 1 == len(self.opens) or self.opens[i + 1] > close):
            # No container inside (an Action or Resource list, the most read): every token
            # up to the close is an item, read without stepping through them one by one.
            if base:
                return array(
                    code, [m.start() + base for m in token.finditer(source, start + 1 - base, close - base)]
                ), _NO_KIDS  # type: ignore[return-value]
            return array(code, map(_START, token.finditer(source, start + 1, close))), _NO_KIDS  # type: ignore[return-value]
        keys: dict[str, int] = {}
        items: array[int] = array(code)
        kids: dict[str | int, Any] = _NO_KIDS
        pos = start + 1 - base
        step: str | int
        # One match per entry (a key and the start of its value, or an item), not per token:
        # no match is the closing bracket. A nested container is stepped over whole.
        entry = _MAP_ENTRY.match if is_map else _LIST_ITEM.match
        while (match := entry(source, pos)) is not None:
            if is_map:
                text = match.group(1)
                step = sys.intern(json.loads(text) if "\\" in text else text[1:-1])
                keys[step] = match.start(1) + base
            else:
                step = len(items)
                items.append(match.start(1) + base)
            at = match.start(2)
            if at < 0:
                pos = match.end()
                continue
            at += base
            if kids is _NO_KIDS:
                kids = _LazyKids(self)
            kids.starts[step] = at  # type: ignore[attr-defined]
            pos = self._end(at) - base
        return (keys if is_map else items), kids  # type: ignore[return-value]  # an array of offsets is a list to `mark`


_START = re.Match.start
# After json.loads accepted the text: from just past an opening bracket or an entry, the next
# entry with its separators and blanks, group 2 set when its value opens a container.
_STRING = r'"[^"\\]*(?:\\.[^"\\]*)*"'
_MAP_ENTRY = re.compile(rf'[\s,]*({_STRING})\s*:\s*(?:{_STRING}|[^\s{{}}\[\],:"]+|([{{\[]))')
_LIST_ITEM = re.compile(rf'[\s,]*({_STRING}|[^\s{{}}\[\],:"]+|([{{\[]))')
_NO_KIDS: dict[str | int, Any] = {}  # shared by every container without nested ones: never written


class _LazyKids(dict):  # type: ignore[type-arg]
    """The shadows of a container's nested containers, each read when `get` reaches it."""

    __slots__ = ("shadows", "starts")

    def __init__(self, shadows: _JsonShadows) -> None:
        super().__init__()
        self.shadows = shadows
        self.starts: dict[str | int, int] = {}

    def get(self, step: Any, default: Any = None) -> Any:
        found = dict.get(self, step)
        if found is None:
            start = self.starts.get(step)
            if start is None:
                return default
            found, keep = self.shadows.cached(start)
            if keep:
                self[step] = found
        return found
