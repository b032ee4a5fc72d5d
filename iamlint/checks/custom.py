"""Custom rules: organisation policy written as data, run by one generic check.

A custom rule is a rule file like the built-in ones (validated against the same schema, loaded
from a configured `rules_dirs` folder by `ruleset.load_rule_dir`) plus a `match` block, since
a YAML file cannot carry logic:

    match:
      actions: ["iam:CreateUser", "s3:DeleteBucket*"]  # patterns, matched through the catalogue
      resources: ["arn:aws:s3:::prod-*"]               # optional: only where these may be granted
      effect: Allow                                    # optional, Allow by default

A statement with that effect is reported when it grants any action the patterns name (its own
globs, `*` and NotAction are expanded through the IAM catalogue, so `s3:*` grants
`s3:DeleteBucket`) and, when `resources` is given, when one of its resources may overlap one
of them. The rule's `message` can use `{actions}`, `{resources}` and `{sid}`.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Mapping
from typing import Any

from iamlint.checks import DocumentCheck, Hit, RuleContext
from iamlint.model import Evidence, PolicyDocument, Statement


def has_match(raw: Mapping[str, Any]) -> bool:
    return isinstance(raw.get("match"), Mapping)


def _overlaps(statement_resource: str, pattern: str) -> bool:
    # Either side may be a glob: "*" on the statement overlaps everything, and a statement
    # resource inside the pattern's range overlaps it.
    return fnmatch.fnmatchcase(statement_resource, pattern) or fnmatch.fnmatchcase(pattern, statement_resource)


def match_check(rule_id: str, match: Mapping[str, Any]) -> DocumentCheck:
    patterns = tuple(str(p) for p in match.get("actions", ()))
    resources = tuple(str(p) for p in match.get("resources", ()))
    effect = str(match.get("effect", "Allow"))

    def check(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
        from iamlint.checks.scope import grant  # noqa: PLC0415 - avoids an import cycle

        key = ("custom-rule", rule_id)
        names: list[tuple[str, str]] | None = ctx.cache.get(key)
        if names is None:
            found = {a.key: a.full_name for p in patterns for a in ctx.catalog.expand(p)}
            names = sorted(found.items())
            ctx.cache[key] = names
        for st in doc.statements:
            if st.effect != effect or not _resources_overlap(st, resources):
                continue
            g = grant(ctx, st)
            granted = [full for lower, full in names if g.allows(lower)]
            if not granted:
                continue
            where = st.actions[0].loc if st.actions else st.loc
            yield Hit(
                loc=where,
                statement=st,
                args={"actions": ", ".join(granted), "resources": ", ".join(st.resource_texts), "sid": st.sid or ""},
                evidence=Evidence(actions=tuple(granted), resources=st.resource_texts),
            )

    return check


def _resources_overlap(st: Statement, patterns: tuple[str, ...]) -> bool:
    if not patterns or st.not_resource or st.resource_key is None:
        return True
    return any(_overlaps(r, p) for r in st.resource_texts for p in patterns)
