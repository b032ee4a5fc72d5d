"""Streamed JSON: the records of a large document, or of concatenated documents, one at a time.

CloudTrail delivers `{"Records": [...]}` files that may be gzip-compressed and, once merged by
users, reach gigabytes. Loading one with `json.load` costs several times its size in memory, so
this module keeps a sliding window of decoded text, walks the outer object and array by hand,
and lets the C decoder (`json.JSONDecoder.raw_decode`) read each element. Memory stays bounded
by the chunk size plus the largest single record, however long the file is.

Shapes recognised, decided by the first value of the file:
- an object holding a container key (`Records`, `QueryResultRows`, `Events`) whose array is
  streamed element by element; other keys are read and dropped;
- a bare array, streamed element by element;
- one or more objects one after another (JSON lines, or concatenated documents), each a record.
"""

from __future__ import annotations

import codecs
import io
import json
import re
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

CHUNK = 1 << 20
# No CloudTrail record comes near this (AWS caps a whole delivered file's record well below);
# past it a value is reported as invalid instead of growing the window without bound.
MAX_VALUE_CHARS = 64 << 20
CONTAINER_KEYS = ("Records", "QueryResultRows", "Events")
GZIP_MAGIC = b"\x1f\x8b"

_WS = re.compile(r"[ \t\n\r]*")


class StreamError(Exception):
    """Invalid or truncated input; `offset` counts characters of the decompressed text."""

    def __init__(self, message: str, offset: int, line: int, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.line = line
        self.column = column
        self.index: int | None = None  # the record being read, when known


@dataclass(frozen=True, slots=True)
class Element:
    """One record-sized value and where it started."""

    value: Any
    index: int
    offset: int
    line: int


@contextmanager
def open_binary(path: Path) -> Iterator[IO[bytes]]:
    """Open a file for reading, decompressing gzip streams (detected by magic, not by name)."""
    with path.open("rb") as fh:
        magic = fh.read(2)
        fh.seek(0)
        yield cast(IO[bytes], Gunzip(fh)) if magic == GZIP_MAGIC else fh


class Gunzip(io.RawIOBase):
    """A gzip stream that hands out all it could decompress before failing.

    `gzip.GzipFile` raises on a truncated file without returning the last megabyte it did
    decompress; this reader yields every complete byte first, then raises `EOFError`. Output is
    produced a chunk at a time (`max_length`), so a highly compressed file cannot balloon in
    memory, and concatenated members (what `cat a.gz b.gz` makes) are read in turn.
    """

    def __init__(self, fh: IO[bytes], chunk: int = CHUNK) -> None:
        super().__init__()
        self._fh = fh
        self._chunk = chunk
        self._dec = zlib.decompressobj(wbits=31)
        self._input = b""
        self._in_member = False
        self._out = b""
        self._out_pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self._out_pos >= len(self._out):
            self._out, self._out_pos = self._decompress(), 0
            if not self._out:
                return 0
        n = min(len(buffer), len(self._out) - self._out_pos)
        buffer[:n] = self._out[self._out_pos : self._out_pos + n]
        self._out_pos += n
        return n

    def _decompress(self) -> bytes:
        while True:
            if not self._input:
                self._input = self._fh.read(self._chunk)
                if not self._input:
                    if self._in_member:
                        raise EOFError("the gzip stream ends before its end-of-stream marker")
                    return b""
            if not self._in_member:
                self._input = self._input.lstrip(b"\0")  # padding between members
                if not self._input:
                    continue
                self._dec = zlib.decompressobj(wbits=31)
                self._in_member = True
            out = self._dec.decompress(self._input, self._chunk)
            if self._dec.eof:
                self._input, self._in_member = self._dec.unused_data, False
            else:
                self._input = self._dec.unconsumed_tail
            if out:
                return out


class TextWindow:
    """A sliding window of decoded text over a binary stream."""

    def __init__(self, raw: IO[bytes], chunk: int = CHUNK) -> None:
        self._raw = raw
        self._chunk = chunk
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._json = json.JSONDecoder()
        self.buf = ""
        self.pos = 0
        self._base = 0  # characters dropped from the front of buf
        self._lines = 0  # newlines in buf[:_counted] and in the dropped characters
        self._counted = 0
        self.eof = False
        self._started = False

    # -- positions ------------------------------------------------------------------------
    @property
    def offset(self) -> int:
        return self._base + self.pos

    def line_at(self, pos: int) -> int:
        """1-based line of buf[pos]; counted incrementally, as positions only move forward."""
        if pos >= self._counted:
            self._lines += self.buf.count("\n", self._counted, pos)
            self._counted = pos
            return self._lines + 1
        return self._lines - self.buf.count("\n", pos, self._counted) + 1

    def error(self, message: str, pos: int | None = None) -> StreamError:
        at = self.pos if pos is None else pos
        line = self.line_at(at)
        newline = self.buf.rfind("\n", 0, at)
        if newline >= 0:
            column: int | None = at - newline
        else:  # the line began before the window, unless it is the first line
            column = self._base + at + 1 if line == 1 else None
        return StreamError(message, self._base + at, line, column)

    # -- reading --------------------------------------------------------------------------
    def fill(self) -> bool:
        """Read one more chunk; False at end of input. May move `pos` (the window slides)."""
        if self.eof:
            return False
        try:
            data = self._raw.read(self._chunk)
        except EOFError as exc:  # gzip stream cut short
            self.eof = True
            raise self.error(f"truncated compressed stream: {exc}", len(self.buf)) from None
        except (OSError, ValueError, zlib.error) as exc:  # bad header, corrupt data
            self.eof = True
            raise self.error(f"cannot decompress: {exc}", len(self.buf)) from None
        try:
            text = self._decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            self.eof = True
            raise self.error(f"not UTF-8 text: {exc.reason}", len(self.buf)) from None
        if not self._started:
            self._started = True
            text = text.removeprefix("\ufeff")
        if self.pos:
            self.line_at(self.pos)
            self._counted -= self.pos
            self._base += self.pos
            self.buf = self.buf[self.pos :]
            self.pos = 0
        self.buf += text
        if not data:
            self.eof = True
        return bool(data) or bool(text)

    def peek(self) -> str | None:
        """The next non-whitespace character (not consumed), or None at end of input."""
        while True:
            end = _WS.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if end < len(self.buf):
                self.pos = end
                return self.buf[end]
            self.pos = end
            if not self.fill():
                return None

    def expect(self, char: str) -> None:
        found = self.peek()
        if found != char:
            shown = "end of input" if found is None else repr(found)
            raise self.error(f"expected {char!r}, found {shown}")
        self.pos += 1

    def value(self) -> Any:
        """Decode the JSON value at the current position (after whitespace)."""
        if self.peek() is None:
            raise self.error("unexpected end of input")
        while True:
            try:
                obj, end = self._json.raw_decode(self.buf, self.pos)
            except RecursionError:
                raise self.error("invalid JSON: nested too deep to be a record") from None
            except json.JSONDecodeError as exc:
                if self.eof or not self._incomplete(exc):
                    raise self.error(f"invalid JSON: {exc.msg.removesuffix(' at')}", exc.pos) from None
                pending = len(self.buf) - self.pos
                if pending > MAX_VALUE_CHARS:
                    raise self.error("value too large to be one record") from None
                # Double the pending text before retrying, so a large value is decoded a
                # logarithmic number of times, not once per chunk.
                while len(self.buf) - self.pos < 2 * pending and self.fill():
                    pass
                continue
            if end == len(self.buf) and isinstance(obj, int | float) and self.fill():
                continue  # a number may go on in the next chunk
            self.pos = end
            return obj

    def _incomplete(self, exc: json.JSONDecodeError) -> bool:
        # Text cut by the window fails near its end; a real syntax error fails earlier. An
        # unterminated string reports where the string *starts*, so it is always retried.
        return exc.msg.startswith("Unterminated string") or exc.pos >= len(self.buf) - 32

    def skip_line(self) -> bool:
        """Move past the next newline (error recovery for JSON lines); False at end of input."""
        while True:
            nl = self.buf.find("\n", self.pos)
            if nl >= 0:
                self.pos = nl + 1
                return True
            self.pos = len(self.buf)
            if not self.fill():
                return False


def iter_elements(window: TextWindow) -> Iterator[Element | StreamError]:
    """Yield the records of one file (see the module docstring for the shapes)."""
    index = 0
    lines_mode: bool | None = None  # decided by the first top-level value
    while True:
        in_document = False  # inside a container array or a bare array
        try:
            first = window.peek()
            if first is None:
                return
            start, line = window.offset, window.line_at(window.pos)
            if first == "[" and not lines_mode:
                in_document = True
                window.pos += 1
                for element in _array(window, index):
                    index += 1
                    yield element
                lines_mode = False
            elif first != "{" or lines_mode:
                value = window.value()
                yield Element(value, index, start, line)
                index += 1
            else:
                for item in _object(window, index, start, line):
                    if item.index == -1:  # the object itself: not a container
                        yield Element(item.value, index, item.offset, item.line)
                    else:
                        in_document = True
                        yield item
                    index += 1
                if lines_mode is None:
                    lines_mode = not in_document
        except StreamError as exc:
            exc.index = index
            yield exc
            if in_document or lines_mode is False:
                return  # inside one large document there is no safe place to resume
            index += 1
            try:
                if not window.skip_line():
                    return
            except StreamError as again:
                yield again
                return


def _array(window: TextWindow, index: int) -> Iterator[Element]:
    """Stream the elements of the array whose `[` was just consumed."""
    if window.peek() == "]":
        window.pos += 1
        return
    while True:
        start, line = window.offset, window.line_at(window.pos)
        yield Element(window.value(), index, start, line)
        index += 1
        sep = window.peek()
        if sep == ",":
            window.pos += 1
        elif sep == "]":
            window.pos += 1
            return
        else:
            shown = "end of input" if sep is None else repr(sep)
            raise window.error(f"expected ',' or ']' in array, found {shown}")


def _object(window: TextWindow, index: int, start: int, line: int) -> Iterator[Element]:
    """Walk a top-level object: stream container arrays, or yield the object itself.

    The object itself is yielded with index -1 when it holds no container key.
    """
    window.expect("{")
    collected: dict[str, Any] = {}
    found = False
    if window.peek() == "}":
        window.pos += 1
    else:
        while True:
            key = window.value()
            if not isinstance(key, str):
                raise window.error("expected a string key")
            window.expect(":")
            if key in CONTAINER_KEYS and window.peek() == "[":
                window.pos += 1
                found = True
                for element in _array(window, index):
                    index += 1
                    yield element
            else:
                collected[key] = window.value()
            sep = window.peek()
            if sep == ",":
                window.pos += 1
                continue
            if sep == "}":
                window.pos += 1
                break
            shown = "end of input" if sep is None else repr(sep)
            raise window.error(f"expected ',' or '}}' in object, found {shown}")
    if not found:
        yield Element(collected, -1, start, line)
