"""A small JavaScript/TypeScript tokenizer for `static_js`: names, strings, templates, punctuation.

Enough of the language to find SDK calls reliably, plus the few helpers that read the token
stream (matching brackets, list items, destructuring patterns): comments are dropped, string and template
literals are decoded (a template keeps its `${...}` expressions as token lists), regular
expression literals are skipped, and every token carries its line. TypeScript types are just
more names and punctuation to the analysis.
"""

from __future__ import annotations

from dataclasses import dataclass, field

_PUNCT = (
    "...",
    "===",
    "!==",
    "**=",
    "??=",
    "?.",
    "??",
    "=>",
    "==",
    "!=",
    "&&",
    "||",
    "<=",
    ">=",
    "+=",
    "-=",
    "++",
    "--",
)
# After these a `/` starts a regular expression rather than a division.
_KEYWORDS_BEFORE_EXPR = frozenset(
    {
        "return",
        "typeof",
        "case",
        "do",
        "else",
        "in",
        "of",
        "new",
        "delete",
        "void",
        "throw",
        "instanceof",
        "yield",
        "await",
    }
)
OPEN_BRACKETS = {"(": ")", "{": "}", "[": "]"}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}


@dataclass(frozen=True, slots=True)
class Tok:
    kind: str  # "name" | "str" | "tpl" | "num" | "punct" | "regex"
    text: str  # the name, the decoded string, the punctuation
    line: int
    # For templates: literal pieces and `${...}` expressions, in order.
    parts: tuple[str | tuple[Tok, ...], ...] = field(default=())


class _Lexer:
    def __init__(self, src: str) -> None:
        self.src = src
        self.i = 0
        self.line = 1

    def tokens(self, until_brace: bool = False) -> list[Tok]:
        """Tokens up to the end, or (inside `${...}`) up to the `}` that closes it."""
        out: list[Tok] = []
        depth = 0
        src, n = self.src, len(self.src)
        while self.i < n:
            c = src[self.i]
            if c == "\n":
                self.line += 1
                self.i += 1
            elif c.isspace():
                self.i += 1
            elif src.startswith("//", self.i):
                end = src.find("\n", self.i)
                self.i = n if end < 0 else end
            elif src.startswith("/*", self.i):
                end = src.find("*/", self.i + 2)
                end = n if end < 0 else end + 2
                self.line += src.count("\n", self.i, end)
                self.i = end
            elif c in "'\"":
                out.append(self._string(c))
            elif c == "`":
                out.append(self._template())
            elif c.isdigit():
                start = self.i
                while self.i < n and (src[self.i].isalnum() or src[self.i] in "._"):
                    self.i += 1
                out.append(Tok("num", src[start : self.i], self.line))
            elif c.isalpha() or c in "_$" or ord(c) > 127:
                start = self.i
                while self.i < n and (src[self.i].isalnum() or src[self.i] in "_$" or ord(src[self.i]) > 127):
                    self.i += 1
                out.append(Tok("name", src[start : self.i], self.line))
            elif c == "/" and _regex_allowed(out[-1] if out else None):
                out.append(self._regex())
            else:
                if until_brace and c == "}" and depth == 0:
                    self.i += 1
                    return out
                if c in "{":
                    depth += 1
                elif c == "}":
                    depth -= 1
                text = next((p for p in _PUNCT if src.startswith(p, self.i)), c)
                out.append(Tok("punct", text, self.line))
                self.i += len(text)
        return out

    def _string(self, quote: str) -> Tok:
        line = self.line
        self.i += 1
        chars: list[str] = []
        src, n = self.src, len(self.src)
        while self.i < n and src[self.i] != quote:
            c = src[self.i]
            if c == "\\" and self.i + 1 < n:
                nxt = src[self.i + 1]
                if nxt == "\n":
                    self.line += 1
                else:
                    chars.append(_ESCAPES.get(nxt, nxt))
                self.i += 2
                continue
            if c == "\n":  # an unterminated string: stop at the line's end
                break
            chars.append(c)
            self.i += 1
        self.i += 1
        return Tok("str", "".join(chars), line)

    def _template(self) -> Tok:
        line = self.line
        self.i += 1
        parts: list[str | tuple[Tok, ...]] = []
        chunk: list[str] = []
        src, n = self.src, len(self.src)
        while self.i < n and src[self.i] != "`":
            c = src[self.i]
            if c == "\\" and self.i + 1 < n:
                chunk.append(_ESCAPES.get(src[self.i + 1], src[self.i + 1]))
                self.i += 2
            elif src.startswith("${", self.i):
                if chunk:
                    parts.append("".join(chunk))
                    chunk = []
                self.i += 2
                parts.append(tuple(self.tokens(until_brace=True)))
            else:
                if c == "\n":
                    self.line += 1
                chunk.append(c)
                self.i += 1
        self.i += 1
        if chunk:
            parts.append("".join(chunk))
        text = "".join(p for p in parts if isinstance(p, str))
        return Tok("tpl", text, line, tuple(parts))

    def _regex(self) -> Tok:
        line = self.line
        src, n = self.src, len(self.src)
        start = self.i
        self.i += 1
        in_class = False
        while self.i < n and src[self.i] != "\n":
            c = src[self.i]
            if c == "\\":
                self.i += 2
                continue
            if c == "[":
                in_class = True
            elif c == "]":
                in_class = False
            elif c == "/" and not in_class:
                self.i += 1
                break
            self.i += 1
        while self.i < n and src[self.i].isalpha():
            self.i += 1
        return Tok("regex", src[start : self.i], line)


def _regex_allowed(prev: Tok | None) -> bool:
    if prev is None:
        return True
    if prev.kind == "name":
        return prev.text in _KEYWORDS_BEFORE_EXPR
    if prev.kind == "punct":
        return prev.text not in (")", "]", "}")
    return False


def tokenize(source: str) -> list[Tok]:
    return _Lexer(source).tokens()


# -- reading the token stream ---------------------------------------------------------------


def is_at(toks: list[Tok], i: int, text: str) -> bool:
    return 0 <= i < len(toks) and toks[i].text == text and toks[i].kind in ("punct", "name")


def close_of(toks: list[Tok], i: int) -> int:
    """Index of the bracket that closes the one at i (or the last token)."""
    want = OPEN_BRACKETS.get(toks[i].text) if i < len(toks) else None
    if want is None:
        return i
    depth = 0
    for j in range(i, len(toks)):
        if toks[j].kind != "punct":
            continue
        if toks[j].text in OPEN_BRACKETS:
            depth += 1
        elif toks[j].text in (")", "}", "]"):
            depth -= 1
            if depth == 0:
                return j
    return len(toks) - 1


def skip_to(toks: list[Tok], i: int, stops: frozenset[str]) -> int:
    """The next top-level token at or after i whose text is in `stops`."""
    j = i
    while j < len(toks):
        t = toks[j]
        if t.kind == "punct" and t.text in stops:
            return j
        if t.kind == "punct" and t.text in OPEN_BRACKETS:
            j = close_of(toks, j)
        j += 1
    return j


def item_starts(toks: list[Tok], start: int, close: int) -> list[int]:
    """Where each comma-separated item between start and close begins."""
    out: list[int] = []
    j = start
    while j < close:
        out.append(j)
        j = skip_to(toks, j, frozenset({","}))
        if j >= close:
            break
        j += 1
    return [s for s in out if s < close]


def braced_names(toks: list[Tok]) -> list[tuple[str, str]]:
    """`{ A, B as C, type D }` -> [(A, A), (C, B)]."""
    out: list[tuple[str, str]] = []
    j = 0
    while j < len(toks):
        if toks[j].kind == "name" and toks[j].text != "type":
            if is_at(toks, j + 1, "as") and j + 2 < len(toks):
                out.append((toks[j + 2].text, toks[j].text))
                j += 3
                continue
            out.append((toks[j].text, toks[j].text))
        elif toks[j].text == "type" and j + 1 < len(toks) and toks[j + 1].kind == "name":
            j += 2
            continue
        j += 1
    return out


def destructured(toks: list[Tok]) -> list[tuple[str, str, str | None]]:
    """`A, B: c, D = "x"` -> [(A, A, None), (c, B, None), (D, D, "x")]: (local, key, default)."""
    out: list[tuple[str, str, str | None]] = []
    for s in item_starts(toks, 0, len(toks)):
        key = toks[s]
        if key.kind != "name":
            continue
        local, j = key.text, s + 1
        if is_at(toks, j, ":") and j + 1 < len(toks) and toks[j + 1].kind == "name":
            local, j = toks[j + 1].text, j + 2
        default = toks[j + 1].text if is_at(toks, j, "=") and j + 1 < len(toks) and toks[j + 1].kind == "str" else None
        out.append((local, key.text, default))
    return out
