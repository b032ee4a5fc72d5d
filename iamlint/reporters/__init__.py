"""Reporters: one module per output format behind one small protocol.

A reporter takes the lint result and the rules that ran and returns the whole output as a
string; the CLI decides where it goes. Formats are looked up by name so that `--format` and
`--output FORMAT=PATH` share one table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import import_module

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


def get_reporter(name: str) -> Reporter:
    module = import_module(FORMATS[name])
    render: Reporter = module.render
    return render
