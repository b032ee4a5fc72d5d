"""Size limits on what one policy may ask of the engine: statements, entries, glob expansion.

A policy file is bounded by `--max-file-size`, but a few megabytes of JSON can still hold a
million statements or wildcard patterns, and every rule expands each action pattern against
the IAM catalogue (22,000 actions) and matches it with each resource. Real policies are far
smaller: AWS caps an identity policy at 6,144 (managed) or 10,240 (inline) characters and a
resource policy at 20 KB. A document past a limit is not checked at all; it is reported as an
input error (IAM001) naming the file, the limit and the command-line flag that raises it, and
every other document is still checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from iamlint.globs import has_wildcard
from iamlint.model import InputError, PolicyDocument

if TYPE_CHECKING:  # the CLI imports the defaults; the catalogue is loaded only by the engine
    from iamlint.catalog import Catalog

DEFAULT_MAX_STATEMENTS = 1000
# AWS's own ReadOnlyAccess lists 1,602 actions in one statement and other AWS managed policies
# come close; 10,000 leaves room for a generated policy without letting the list itself become
# the cost (the expansion limit below bounds what wildcards cost).
DEFAULT_MAX_ENTRIES = 10_000
# Catalogue actions the action patterns of one document are matched against: a pattern with a
# wildcard in the service part (`*`, `*:Get*`) costs the whole catalogue, `s3:Get*` the s3
# actions, an exact action one. 2,000,000 is about ninety whole-catalogue patterns.
DEFAULT_MAX_EXPANSION = 2_000_000
# Pattern-containment search work one rule may spend on one document (`evaluator.search_budget`):
# a few seconds at most. Rules that compare every pair of statements can otherwise be made to
# run for hours by a 60 kB policy of long `?` patterns (found by fuzzing). Past it, the rule
# treats the remaining pairs as unproven, which only ever means fewer IAM132-style findings.
DEFAULT_SEARCH_WORK = 5_000_000


@dataclass(frozen=True, slots=True)
class Limits:
    max_statements: int = DEFAULT_MAX_STATEMENTS  # per policy document (--max-statements)
    max_actions: int = DEFAULT_MAX_ENTRIES  # Action or NotAction entries per statement (--max-actions)
    max_resources: int = DEFAULT_MAX_ENTRIES  # Resource or NotResource entries per statement (--max-resources)
    max_expansion: int = DEFAULT_MAX_EXPANSION  # see DEFAULT_MAX_EXPANSION (--max-expansion)
    search_work: int = DEFAULT_SEARCH_WORK  # see DEFAULT_SEARCH_WORK


def over_limit(doc: PolicyDocument, limits: Limits, catalog: Catalog) -> InputError | None:
    """The input error for the first limit `doc` exceeds, or None when it is within all."""
    name = f"policy {doc.name}" if doc.name else "policy"

    def error(message: str) -> InputError:
        where = doc.locate(doc.loc)  # only now: finding the line means scanning the file
        return InputError(where.file, message, where.line, where.column, where.keys)

    if len(doc.statements) > limits.max_statements:
        return error(
            f"{name} has {len(doc.statements)} statements, over the limit of "
            f"{limits.max_statements} (--max-statements); not checked"
        )
    work = 0
    every_action = 0
    for st in doc.statements:
        if len(st.actions) > limits.max_actions:
            return error(
                f"{name}: statement {st.index} has {len(st.actions)} {st.action_key} entries, "
                f"over the limit of {limits.max_actions} (--max-actions); not checked"
            )
        if len(st.resources) > limits.max_resources:
            return error(
                f"{name}: statement {st.index} has {len(st.resources)} {st.resource_key} entries, "
                f"over the limit of {limits.max_resources} (--max-resources); not checked"
            )
        for value in st.actions:
            prefix, sep, action = value.text.partition(":")
            if not sep or has_wildcard(prefix):
                every_action = every_action or len(catalog.expand("*"))
                work += every_action
            elif has_wildcard(action):
                work += len(catalog.actions(prefix.lower())) if catalog.service_exists(prefix.lower()) else 1
            else:
                work += 1
        if work > limits.max_expansion:
            return error(
                f"{name}: its action patterns expand to more than {limits.max_expansion} "
                "catalogue matches (--max-expansion); not checked"
            )
    return None
