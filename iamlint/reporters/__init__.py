"""Reporters: one module per output format behind one small protocol.

A reporter takes the lint result and the rules that ran and returns the whole output as a
string; the CLI decides where it goes. Formats are looked up by name so that `--format` and
`--output FORMAT=PATH` share one table. A reporter module may also offer `render_parts`, the
same text in pieces, so that a large report (an account dump's tens of thousands of findings)
is written without ever being one string.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import import_module
from typing import TypeVar

from iamlint.engine import LintResult
from iamlint.ruleset import Rule


@dataclass(frozen=True, slots=True)
class ReportOptions:
    color: bool = False
    root: str = "."  # paths in the output are relative to this directory where possible
    tool_version: str = ""
    catalog_version: str = ""
    # Where file links in Markdown point: "https://github.com/OWNER/REPO/blob/SHA" in GitHub
    # Actions, else empty (links relative to the root).
    link_base: str = ""


Reporter = Callable[[LintResult, Mapping[str, Rule], ReportOptions], str]

FORMATS: dict[str, str] = {
    "text": "iamlint.reporters.text",
    "json": "iamlint.reporters.json_report",
    "sarif": "iamlint.reporters.sarif",
    "github": "iamlint.reporters.github",
    "markdown": "iamlint.reporters.markdown",
}


PartsReporter = Callable[[LintResult, Mapping[str, Rule], ReportOptions], Iterable[str]]


def get_reporter_parts(name: str) -> PartsReporter:
    """The format's text in pieces (`render_parts`), or whole as one piece."""
    module = import_module(FORMATS[name])
    parts: PartsReporter | None = getattr(module, "render_parts", None)
    if parts is not None:
        return parts
    render: Reporter = module.render
    return lambda result, rules, options: (render(result, rules, options),)


_T = TypeVar("_T")


def splice(
    text: str,
    empty: str,
    items: Sequence[_T],
    encode: Callable[[_T], str],
    *,
    sep: str = ",",
    around: tuple[str, str] = ("", ""),
    batch: int = 256,
) -> Iterator[str]:
    """JSON `text` with `items` in its list written `empty` (`"findings":[]`), in pieces: each item
    is turned into text (`encode`) only when its batch is due, so a report of tens of thousands
    of findings is never one dict tree or one string. `sep` goes between items, `around` inside
    the brackets (an indented list's line breaks)."""
    at = text.index(empty) + len(empty) - 1  # the empty list's closing bracket
    yield text[:at] + around[0]
    for start in range(0, len(items), batch):
        piece = sep.join(encode(item) for item in items[start : start + batch])
        yield piece if start == 0 else sep + piece
    yield around[1] + text[at:]
