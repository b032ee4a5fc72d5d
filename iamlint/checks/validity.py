"""Validity against the catalogue: action strings that name no service or no action.

An unknown action grants nothing (in an Allow) or protects nothing (in a Deny); either way the
author meant something else, so Deny statements are checked here too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from iamlint import globs
from iamlint.checks import Hit, RuleContext, check
from iamlint.checks.scope import grant
from iamlint.model import Evidence, PolicyDocument, Severity
from iamlint.ruleset import read_data_table

_ACTION_RE = re.compile(r"^[A-Za-z0-9*?\-_.]+:[A-Za-z0-9*?\-_.]+$")

# How a name the catalogue lacks is reported, by what rules/data/catalog_gaps.yaml knows
# of it: a retired service or an action AWS itself still uses is worth a note, not an alarm.
_GAP_SEVERITY = {
    "retired": Severity.LOW,
    "undocumented": Severity.INFO,
    "renamed": Severity.LOW,
    "legacy": Severity.LOW,
}


def _gaps(ctx: RuleContext) -> tuple[dict[str, Any], dict[str, Any]]:
    cached = ctx.cache.get("catalog_gaps")
    if cached is None:
        table: Any = read_data_table("catalog_gaps.yaml")
        services = {str(e["prefix"]).lower(): e for e in table.get("services", ())}
        actions = {str(e["action"]).lower(): e for e in table.get("actions", ())}
        cached = ctx.cache["catalog_gaps"] = (services, actions)
    return cached


def _known_gap(ctx: RuleContext, text: str) -> tuple[str, Severity | None]:
    """What the gaps table says of an unknown name: (explanation, severity), or ("", None)."""
    services, actions = _gaps(ctx)
    prefix = text.partition(":")[0].lower()
    entry = actions.get(text.lower()) or services.get(prefix)
    if entry is None:
        return "", None
    status = str(entry["status"])
    what = entry.get("name", prefix)
    if status == "retired":
        note = f"; AWS retired {what} ({entry.get('since', 'date unknown')}), so it grants nothing"
    elif status == "renamed":
        note = f"; AWS renamed it to {entry.get('replacement')}"
    elif status == "legacy":
        note = "; a legacy name AWS no longer lists"
        if entry.get("replacement"):
            note += f", replaced by {entry['replacement']}"
    elif status == "undocumented":
        note = "; AWS uses it in its own managed policies but does not document it"
    else:
        return f"; {status}: see {entry.get('source')}", None
    return note + f" ({entry.get('source')})", _GAP_SEVERITY.get(status)


@check("IAM111", pure=True)
def unknown_action(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    cat = ctx.catalog
    for st in doc.statements:
        # Each entry's expansion, worked out once per statement for every rule (`scope.grant`).
        for v, (text, expansion) in zip(st.actions, grant(ctx, st).per_entry, strict=True):
            if text in ("*", "*:*") or globs.is_placeholder(text) or expansion:
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
            gap, severity = _known_gap(ctx, text)
            hint = gap or (f"; did you mean {suggestion!r}?" if suggestion else "")
            yield Hit(
                loc=v.loc,
                statement=st,
                args={"action": text, "problem": problem, "hint": hint},
                evidence=Evidence(
                    actions=(text,), notes=(f"did you mean {suggestion}",) if suggestion and not gap else ()
                ),
                severity=severity,
            )
