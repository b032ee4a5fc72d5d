"""Suppressions: the stage after the engine that removes findings people have accepted.

Two sources, one shape (`Suppression`):

- inline, in a template resource's `Metadata` (CloudFormation, SAM, and CDK through construct
  metadata, which lands in the synthesized template):

      Metadata:
        iamlint:
          ignore:
            - rule: IAM105
              reason: "ListAllMyBuckets cannot be scoped"
              actions: ["s3:ListAllMyBuckets"]   # optional: only these actions
              resources: ["*"]                   # optional: only these resources

  It covers findings of that resource, of the policies attached to it when it is a role, user
  or group, and of the role it runs with when it is a workload (a Lambda or SAM function) that
  is the only one using that role; so a suppression on a SAM function reaches the role SAM
  generates for it.
- in the configuration, for policy JSON files (which have no metadata): by file glob and
  optionally `sid` or `logical_id` (see `iamlint.config`).

A reason is mandatory: a suppression without one is an input error (IAM001), never silently
honoured. Suppressions are granular: one that lists actions or resources removes only those
from a finding's evidence; what is left is still reported. A suppression that matches nothing
is reported as IAM004 (unused-suppression), so stale ones do not pile up and hide new issues.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from iamlint.model import Evidence, Finding, InputError, Location, PathKey

if TYPE_CHECKING:
    from iamlint.engine import LintResult
    from iamlint.loaders import LoadResult
    from iamlint.loaders.located import Located
    from iamlint.ruleset import Rule

UNUSED = "IAM004"
META_KEY = "iamlint"
_RULE_RE = re.compile(r"^IAM\d{3}$")
_ENTRY_KEYS = {"rule", "reason", "actions", "resources"}


@dataclass(frozen=True, slots=True)
class Suppression:
    rule: str
    reason: str
    location: Location  # where it is written: reported there when unused
    actions: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    file: str | None = None  # inline: the template it is in
    logical_id: str | None = None  # the resource it is attached to (or, from config, limited to)
    paths: tuple[str, ...] = ()  # from config: globs on the file, relative to `base`
    base: str = ""
    sid: str | None = None  # from config: only statements with this Sid

    def describe(self) -> str:
        scope = f"resource {self.logical_id}" if self.logical_id else ", ".join(self.paths) or "all files"
        if self.sid:
            scope += f" Sid {self.sid}"
        limits = [*self.actions, *self.resources]
        return f"{self.rule} on {scope}" + (f" limited to {', '.join(limits)}" if limits else "")


# -- reading inline suppressions --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SuppressionError(InputError):
    """A suppression that cannot be honoured (no reason, unknown key): reported as IAM001."""


def source_suppressions(result: LoadResult, located: Located) -> LoadResult:
    """Replace what a loader read from a generated template by the suppressions of the source.

    The SAM loader checks the translator's output, where a function's Metadata may be copied
    onto the resources generated for it; suppressions are read once, from the file people edit.
    """
    suppressions, errors = template_suppressions(located)
    result.suppressions = suppressions
    result.errors = [e for e in result.errors if not isinstance(e, SuppressionError)] + errors
    return result


def template_suppressions(located: Located) -> tuple[list[Suppression], list[InputError]]:
    """Suppressions in the `Metadata.iamlint` of a template's resources, and what is wrong with them."""
    data = located.data
    resources = data.get("Resources") if isinstance(data, Mapping) else None
    out: list[Suppression] = []
    errors: list[InputError] = []
    if not isinstance(resources, Mapping):
        return out, errors
    for logical_id, res in resources.items():
        meta = res.get("Metadata") if isinstance(res, Mapping) else None
        if not isinstance(meta, Mapping) or META_KEY not in meta:
            continue
        base: tuple[PathKey, ...] = ("Resources", str(logical_id), "Metadata", META_KEY)
        _read_block(located, str(logical_id), meta[META_KEY], base, out, errors)
    return out, errors


def _loc(located: Located, keys: tuple[PathKey, ...], logical_id: str | None = None) -> Location:
    line, col = located.line_column(keys)
    return Location(located.file, line, col, keys, logical_id)


def _read_block(
    located: Located,
    logical_id: str,
    block: Any,
    base: tuple[PathKey, ...],
    out: list[Suppression],
    errors: list[InputError],
) -> None:
    def error(message: str, keys: tuple[PathKey, ...]) -> None:
        loc = _loc(located, keys)
        errors.append(
            SuppressionError(
                located.file, f"suppression in Metadata of {logical_id}: {message}", loc.line, loc.column, keys
            )
        )

    if not isinstance(block, Mapping) or set(block) - {"ignore"} or not isinstance(block.get("ignore"), list):
        error("expected {ignore: [{rule, reason, actions?, resources?}, ...]}", base)
        return
    for i, entry in enumerate(block["ignore"]):
        keys = (*base, "ignore", i)
        parsed = parse_entry(entry)
        if isinstance(parsed, str):
            error(parsed, keys)
            continue
        rule, reason, actions, resources = parsed
        out.append(
            Suppression(
                rule=rule,
                reason=reason,
                location=_loc(located, keys, logical_id),
                actions=actions,
                resources=resources,
                file=located.file,
                logical_id=logical_id,
            )
        )


def parse_entry(entry: Any, extra_keys: Iterable[str] = ()) -> tuple[str, str, tuple[str, ...], tuple[str, ...]] | str:
    """(rule, reason, actions, resources) of one suppression entry, or what is wrong with it."""
    if not isinstance(entry, Mapping):
        return "each entry must be an object with rule and reason"
    unknown = sorted(set(map(str, entry)) - _ENTRY_KEYS - set(extra_keys))
    if unknown:
        return f"unknown key {unknown[0]!r} (expected rule, reason, actions, resources)"
    rule = entry.get("rule")
    if not isinstance(rule, str) or not _RULE_RE.match(rule.strip().upper()):
        return f"'rule' must be a rule id such as IAM105, found {rule!r}"
    reason = entry.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        return f"{rule} is suppressed without a reason: add 'reason' saying why it is acceptable"
    lists: list[tuple[str, ...]] = []
    for key in ("actions", "resources"):
        value = entry.get(key, [])
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            return f"'{key}' must be a list of strings"
        lists.append(tuple(value))
    return rule.strip().upper(), reason.strip(), lists[0], lists[1]


# -- applying ---------------------------------------------------------------------------------


def _matches_any(value: str, patterns: Sequence[str], fold: bool) -> bool:
    if fold:
        value = value.lower()
        return any(fnmatch.fnmatchcase(value, p.lower()) for p in patterns)
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


def _owned_by(f: Finding, logical_id: str) -> bool:
    if f.location.logical_id == logical_id:
        return True
    src = f.source
    if src is None:
        return False
    if src.logical_id == logical_id:
        return True
    if src.kind in ("role", "user", "group") and src.name == logical_id:
        return True  # a policy attached to this principal alone
    # The role of exactly one workload (SAM generates one per function): the workload's
    # suppression reaches it. A shared role is not covered by one of its users.
    return len(src.used_by) == 1 and src.used_by[0].rsplit(" ", 1)[-1] == logical_id


@dataclass(slots=True)
class _Outcome:
    finding: Finding | None  # what is left to report (None: fully suppressed)
    used: bool


def _cover(s: Suppression, f: Finding) -> _Outcome:
    """Apply one suppression whose scope and rule match `f`."""
    if not s.actions and not s.resources:
        return _Outcome(None, True)
    ev = f.evidence
    if (s.actions and not ev.actions) or (s.resources and not ev.resources):
        return _Outcome(f, False)  # the finding does not say which actions or resources: no match
    left_actions = [a for a in ev.actions if not _matches_any(a, s.actions, True)] if s.actions else []
    left_resources = [r for r in ev.resources if not _matches_any(r, s.resources, False)] if s.resources else []
    if s.actions and len(left_actions) == len(ev.actions):
        return _Outcome(f, False)
    if s.resources and len(left_resources) == len(ev.resources):
        return _Outcome(f, False)
    if not left_actions and not left_resources:
        return _Outcome(None, True)
    if left_actions and left_resources:
        # Both only partly covered: what remains is not a rectangle of actions x resources,
        # so the finding is kept whole rather than guessed at.
        note = f"partly covered by a suppression ({s.reason}); reported in full"
        return _Outcome(replace(f, evidence=replace(ev, notes=(*ev.notes, note))), True)
    if left_actions:
        covered = [a for a in ev.actions if a not in left_actions]
        evidence = replace(ev, actions=tuple(left_actions))
        still = left_actions
    else:
        covered = [r for r in ev.resources if r not in left_resources]
        evidence = replace(ev, resources=tuple(left_resources))
        still = left_resources
    evidence = replace(evidence, notes=(*evidence.notes, f"suppressed for {', '.join(covered)}: {s.reason}"))
    message = f"{f.message} (suppressed for {', '.join(covered)}; still reported: {', '.join(still)})"
    return _Outcome(replace(f, evidence=evidence, message=message), True)


Enabled = Callable[[str, str], bool]  # (rule id, file) -> does the rule run there


@dataclass(slots=True)
class Suppressor:
    """Applies suppressions to a lint result and reports the unused ones."""

    rules: Mapping[str, Rule]
    configured: Sequence[Suppression] = ()
    enabled: Enabled = field(default=lambda _rule, _file: True)
    severity: Mapping[str, Any] = field(default_factory=dict)  # overrides (for IAM004)
    glob: Callable[[str, str, str], bool] = field(default=lambda _pattern, _file, _base: False)
    checked: Callable[[Suppression], bool] = field(default=lambda _s: True)  # was its file checked?

    def _in_scope(self, s: Suppression, f: Finding) -> bool:
        if s.rule != f.rule or f.is_error:
            return False
        if s.file is not None and s.file != f.location.file:
            return False
        if s.paths and not any(self.glob(p, f.location.file, s.base) for p in s.paths):
            return False
        if s.sid is not None and f.statement_sid != s.sid:
            return False
        return s.logical_id is None or _owned_by(f, s.logical_id)

    def apply(self, result: LintResult, inline: Sequence[Suppression]) -> LintResult:
        from iamlint.engine import LintResult  # noqa: PLC0415 - type at run time only here

        everything = [*inline, *self.configured]
        used = [False] * len(everything)
        kept: list[Finding] = []
        for f in result.findings:
            current: Finding | None = f
            for i, s in enumerate(everything):
                if current is None:
                    break
                if not self._in_scope(s, current):
                    continue
                outcome = _cover(s, current)
                used[i] = used[i] or outcome.used
                current = outcome.finding
            if current is not None:
                kept.append(current)
        for s, was_used in zip(everything, used, strict=True):
            if was_used or not self.checked(s):
                continue
            where = s.file or s.location.file
            if s.rule in self.rules and not self.enabled(s.rule, where):
                continue  # its rule did not run here, so it could not match
            kept.append(self._unused(s))
        kept.sort(key=lambda f: (f.location.file, f.location.line or 0, f.location.column or 0, f.rule, f.message))
        return LintResult(findings=tuple(kept), documents=result.documents, files=result.files)

    def _unused(self, s: Suppression) -> Finding:
        rule = self.rules[UNUSED]
        why = "no finding matches it" if s.rule in self.rules else f"there is no rule {s.rule}"
        message = rule.render({"suppression": s.describe(), "why": why})
        severity = self.severity.get(UNUSED, rule.severity)
        evidence = Evidence(actions=s.actions, resources=s.resources, notes=(f"reason given: {s.reason}",))
        return Finding(
            rule=rule.id,
            name=rule.name,
            severity=severity,
            category=rule.category,
            message=message,
            fix=rule.fix,
            location=s.location,
            evidence=evidence,
            signature=f"suppression:{s.describe()}",
        )
