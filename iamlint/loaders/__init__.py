"""Loaders: one module per input kind, each turning raw input into policy documents.

`load_paths` is the entry point: it finds the inputs (files, directories, stdin), works out
each one's kind by content (or takes `--input-kind`), and hands it to the loader for that kind.
A loader never raises for bad input: it returns documents, problems in otherwise valid
documents, and input errors, so one bad file never stops the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from iamlint.model import InputError, PolicyDocument
from iamlint.policy import Marker, Path, Problem

if TYPE_CHECKING:
    from iamlint.loaders.located import Located
    from iamlint.suppress import Suppression

KINDS = ("auto", "policy", "cloudformation", "sam", "cdk", "authorization-details")


@dataclass(slots=True)
class LoadResult:
    documents: list[PolicyDocument] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    files: int = 0
    skipped: list[str] = field(default_factory=list)  # walked files that hold no IAM input
    # Inline suppressions (template Metadata), applied after the engine by iamlint.suppress.
    suppressions: list[Suppression] = field(default_factory=list)

    def extend(self, other: LoadResult) -> None:
        self.documents.extend(other.documents)
        self.problems.extend(other.problems)
        self.errors.extend(other.errors)
        self.files += other.files
        self.skipped.extend(other.skipped)
        self.suppressions.extend(other.suppressions)


def marker_for(located: Located) -> Marker:
    """Adapt a parsed file's marks to the parser's (line, column) lookups."""

    def mark(path: Path) -> tuple[int, int] | None:
        m = located.mark(path)
        return (m.line, m.column) if m is not None else None

    return mark
