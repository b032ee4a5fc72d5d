"""Validity against the catalogue: action strings that name no service or no action.

An unknown action grants nothing (in an Allow) or protects nothing (in a Deny); either way the
author meant something else, so Deny statements are checked here too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from iamlint import globs
from iamlint.checks import Hit, RuleContext, check
from iamlint.model import Evidence, PolicyDocument

_ACTION_RE = re.compile(r"^[A-Za-z0-9*?\-_.]+:[A-Za-z0-9*?\-_.]+$")


@check("IAM111")
def unknown_action(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    cat = ctx.catalog
    for st in doc.statements:
        for v in st.actions:
            text = v.text
            if text in ("*", "*:*") or globs.is_placeholder(text) or cat.expand(text):
                continue  # names at least one action: valid
            problem: str | None = None
            suggestion: str | None = None
            if not _ACTION_RE.match(text):
                problem = 'is not of the form "service:Action"'
            else:
                prefix, _, name = text.partition(":")
                if globs.has_wildcard(prefix):
                    if not cat.expand(text):
                        problem = "matches no action of any service"
                elif not cat.service_exists(prefix):
                    problem = f"names an unknown service {prefix!r}"
                    suggestion = cat.suggest_action(text) or cat.suggest_service(prefix)
                elif not cat.expand(text):
                    what = "pattern matches no" if globs.has_wildcard(name) else "is not an"
                    problem = f"{what} action of service {prefix.lower()!r}"
                    if not globs.has_wildcard(name):
                        suggestion = cat.suggest_action(text)
            if problem is None:
                continue
            hint = f"; did you mean {suggestion!r}?" if suggestion else ""
            yield Hit(
                loc=v.loc,
                statement=st,
                args={"action": text, "problem": problem, "hint": hint},
                evidence=Evidence(actions=(text,), notes=(f"did you mean {suggestion}",) if suggestion else ()),
            )
