"""The rule engine: runs the selected checks over policy documents and renders findings.

Checks yield hits; the engine owns everything users configure or see: which rules run,
message text, severity (rule default, the check's own judgement, conditions that narrow a
wildcard, roles that compute services assume, user overrides), crash isolation, ordering,
and the exit status.

Rules run at one of two scopes (the `scope` of their YAML file): `document` rules see one
policy document at a time; `principal` rules see every policy that applies to one role, user
or group of the inputs checked together (`iamlint.principals`). Principals are joined within
one file, so a batch of files can be checked on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from iamlint.catalog import get_catalog
from iamlint.checks import PURE, ByIdentity, Hit, RuleContext, document_rules_done, load_all
from iamlint.evaluator import search_budget
from iamlint.fingerprints import statement_signature
from iamlint.limits import Limits, over_limit
from iamlint.model import (
    Evidence,
    Finding,
    InputError,
    Location,
    PathKey,
    PolicyDocument,
    Severity,
    Source,
    Statement,
    Value,
    new_finding,
)
from iamlint.policy import Problem
from iamlint.principals import Principal, added_by_sam, build_principals, compute_services
from iamlint.ruleset import Rule, load_builtin_rules, read_data_table

INPUT_ERROR = "IAM001"
MALFORMED = "IAM002"
RULE_CRASH = "IAM003"
ERROR_RULES = frozenset({INPUT_ERROR, MALFORMED, RULE_CRASH})
UNUSED_SUPPRESSION = "IAM004"  # reported by the suppression stage (iamlint.suppress), not a check
META_RULES = frozenset({UNUSED_SUPPRESSION})


@dataclass(frozen=True, slots=True)
class LintConfig:
    select: tuple[str, ...] = ()  # ids or prefixes; empty = all
    ignore: tuple[str, ...] = ()
    severity: Mapping[str, Severity] = field(default_factory=dict)  # per-rule overrides
    fail_on: Severity = Severity.LOW
    strict: bool = False  # let a crashing rule raise (tests)
    settings: Mapping[str, Any] = field(default_factory=dict)  # rule settings (known accounts...)
    custom_rules: tuple[Rule, ...] = ()  # data-only rules from the configuration's rules_dirs
    limits: Limits = field(default_factory=Limits)  # documents past them are input errors (iamlint.limits)


@dataclass(frozen=True, slots=True)
class LintResult:
    findings: tuple[Finding, ...]
    documents: int
    files: int

    @property
    def has_errors(self) -> bool:
        return any(f.is_error for f in self.findings)

    def exit_code(self, fail_on: Severity) -> int:
        if self.has_errors:
            return 2
        return 1 if any(f.severity >= fail_on for f in self.findings) else 0

    def counts(self) -> dict[str, int]:
        out = {s.label: 0 for s in sorted(Severity, reverse=True)}
        for f in self.findings:
            out[f.severity.label] += 1
        return out


_V = TypeVar("_V")


class RuleCrash(Exception):
    """Raised in strict mode when a check fails."""


def _matches(rule_id: str, patterns: Sequence[str]) -> bool:
    return any(rule_id.upper().startswith(p.upper()) for p in patterns)


class Engine:
    def __init__(self, config: LintConfig | None = None, rules: Mapping[str, Rule] | None = None) -> None:
        self.config = config or LintConfig()
        self.rules = dict(rules) if rules is not None else load_builtin_rules()
        checks = load_all()
        missing = sorted(set(checks) - set(self.rules))
        if missing:
            raise RuntimeError(f"checks without a rule file: {', '.join(missing)}")
        self.checks = checks
        if self.config.custom_rules:
            self._add_custom_rules()
        self.ctx = RuleContext(catalog=get_catalog(), settings=self.config.settings)
        self._signatures = ByIdentity()  # each statement's signature, emptied after each `check`
        # Pure checks' hits by document content, for documents whose file holds several
        # (`check_document`); emptied after each `check`.
        self._by_content: dict[tuple[object, ...], _Checked] = {}
        self._repeated: dict[int, tuple[object, ...]] = {}  # document id -> its content, when repeated
        self._shared: dict[object, object] = {}  # values findings share (`_once`); emptied after each `check`

    def _add_custom_rules(self) -> None:
        """Custom rules carry a `match` block instead of code (iamlint.checks.custom)."""
        from iamlint.checks.custom import match_check  # noqa: PLC0415

        self.checks = dict(self.checks)  # never add to the shared registry
        for rule in self.config.custom_rules:
            if rule.id in self.rules:
                raise RuntimeError(f"{rule.file}: custom rule {rule.id} reuses the id of a built-in rule")
            self.rules[rule.id] = rule
            self.checks[rule.id] = match_check(rule.id, rule.raw["match"])

    def enabled(self, rule_id: str) -> bool:
        if rule_id in ERROR_RULES or rule_id in META_RULES:
            return True
        cfg = self.config
        if cfg.select and not _matches(rule_id, cfg.select):
            return False
        return not (cfg.ignore and _matches(rule_id, cfg.ignore))

    def run(
        self,
        documents: Iterable[PolicyDocument],
        problems: Iterable[Problem] = (),
        errors: Iterable[InputError] = (),
        files: int = 0,
    ) -> LintResult:
        findings, count = self.check(documents, problems, errors)
        return self.result(findings, count, files)

    def check(
        self,
        documents: Iterable[PolicyDocument],
        problems: Iterable[Problem] = (),
        errors: Iterable[InputError] = (),
    ) -> tuple[list[Finding], int]:
        """Findings for these inputs, unordered; `result` merges batches into one result."""
        try:
            return self._check(documents, problems, errors)
        finally:
            self._signatures.clear()  # holds the statements alive otherwise
            self.ctx.subjects.clear()
            self._by_content.clear()
            self._repeated.clear()
            self._shared.clear()

    def _check(
        self,
        documents: Iterable[PolicyDocument],
        problems: Iterable[Problem],
        errors: Iterable[InputError],
    ) -> tuple[list[Finding], int]:
        findings: list[Finding] = []
        for err in errors:
            loc = Location(err.file, err.line, err.column, err.keys)
            findings.append(
                self._finding(self.rules[INPUT_ERROR], Hit(loc=loc, args={"message": err.message}), None, True)
            )
        for problem in problems:
            hit = Hit(loc=problem.loc, args={"message": problem.message})
            f = self._finding(self.rules[MALFORMED], hit, None, True)
            findings.append(f if problem.statement_index is None else _with_index(f, problem.statement_index))
        docs = []
        for doc in documents:
            refused = over_limit(doc, self.config.limits, self.ctx.catalog)
            if refused is None:
                docs.append(doc)
            else:
                loc = Location(refused.file, refused.line, refused.column, refused.keys)
                findings.append(
                    self._finding(self.rules[INPUT_ERROR], Hit(loc=loc, args={"message": refused.message}), None, True)
                )
        document_rules = self._rules_of_scope("document")
        if any(rule_id in PURE for rule_id, _ in document_rules):
            self._repeated = _repeated_contents(docs)
        for doc in docs:
            if added_by_sam(doc):
                # AWSLambdaBasicExecutionRole and the like, which SAM attaches itself: the
                # template cannot change them (short of its own Role), so they are judged only
                # as part of the principal's grants below.
                continue
            findings.extend(self.check_document(doc, document_rules))
        # The pure checks' hits by content serve only the documents above: not kept through the
        # principal rules, where a large account's caches and findings peak.
        self._by_content.clear()
        self._repeated.clear()
        document_rules_done(self.ctx)
        principal_rules = [r for r, _ in self._rules_of_scope("principal")]
        raising = {r for r, rule in self.rules.items() if rule.raise_for_compute_roles and self.enabled(r)}
        if principal_rules or raising:
            principals = build_principals(docs)
            for principal in principals:
                findings.extend(self.check_principal(principal, principal_rules))
            if raising:
                self._shared.clear()  # the messages of raised findings are replaced: let the old ones go
                findings = self._raise_for_compute_roles(findings, principals, raising)
        return findings, len(docs)

    def result(self, findings: Iterable[Finding], documents: int, files: int) -> LintResult:
        unique: dict[tuple[object, ...], Finding] = {}
        for f in findings:
            key = _key(f)
            kept = unique.get(key)
            if kept is None:
                unique[key] = f
            elif kept.source is not None and f.source is not None and kept.source.condition != f.source.condition:
                # Reported under both branches of an Fn::If: it does not depend on the condition.
                unique[key] = replace(kept, source=replace(kept.source, condition=None))
        ordered = sorted(unique.values(), key=_order)
        return LintResult(findings=tuple(ordered), documents=documents, files=files)

    def _rules_of_scope(self, scope: str) -> list[tuple[str, Callable[..., Iterable[Hit]]]]:
        """The enabled checks of one scope, in registry order."""
        return [(r, fn) for r, fn in self.checks.items() if self.rules[r].scope == scope and self.enabled(r)]

    def check_document(
        self, doc: PolicyDocument, rules: Sequence[tuple[str, Callable[..., Iterable[Hit]]]] | None = None
    ) -> list[Finding]:
        """Findings of the document-scope rules (all enabled ones by default) on one document."""
        out: list[Finding] = []
        key = self._repeated.get(id(doc))
        checked = self._by_content.get(key) if key is not None else None
        content: PolicyDocument | None = None
        finding = self._finding
        for rule_id, fn in self._rules_of_scope("document") if rules is None else rules:
            pure = rule_id in PURE
            hits: list[Hit] | None = None
            if pure and checked is not None:
                known = checked.hits.get(rule_id)
                if known is not None:
                    if not known:  # most rules on most repeated documents (146,000 on the 3,000-role audit)
                        continue
                    hits = checked.moved(rule_id, doc)  # None when a hit cannot be moved: check again
            if hits is None:
                subject = doc
                if pure:
                    if content is None:
                        content = PolicyDocument(doc.version, doc.statements, doc.loc, doc.kind)
                    subject = content
                hits, crash = self._run_rule(rule_id, fn, subject)
                if pure and key is not None and crash is None:
                    if checked is None:
                        checked = self._by_content[key] = _Checked(doc)
                    checked.hits.setdefault(rule_id, hits)
            else:
                crash = None
            if crash is not None:
                hit = Hit(loc=doc.loc, args={"message": f"rule {rule_id} crashed: {crash}"})
                out.append(finding(self.rules[RULE_CRASH], hit, doc, True))
                continue
            if hits:  # most rules find nothing: no generator is made and run for them
                rule = self.rules[rule_id]
                out.extend([finding(rule, hit, doc, False) for hit in hits])
        return out

    def _run_rule(
        self, rule_id: str, fn: Callable[..., Iterable[Hit]], subject: PolicyDocument | Principal
    ) -> tuple[list[Hit], str | None]:
        """The rule's hits on one document or principal, or else what it crashed with: one
        rule's bug must not hide the others (except with --strict, where it stops the run)."""
        try:
            with search_budget(self.config.limits.search_work):  # iamlint.limits
                return list(fn(self.ctx, subject)), None
        except Exception as exc:
            if self.config.strict:
                where = (
                    subject.loc.render()
                    if isinstance(subject, PolicyDocument)
                    else f"{subject.label} in {subject.file}"
                )
                raise RuleCrash(f"{rule_id} crashed on {where}") from exc
            import traceback  # noqa: PLC0415 - only a crash needs it

            return [], "".join(traceback.format_exception_only(type(exc), exc)).strip()

    def check_principal(self, principal: Principal, rule_ids: Iterable[str] | None = None) -> list[Finding]:
        """Findings of the principal-scope rules (all enabled ones by default) on one principal."""
        if rule_ids is None:
            rule_ids = [r for r, _ in self._rules_of_scope("principal")]
        out: list[Finding] = []
        anchor = principal.documents[0] if principal.documents else None
        for rule_id in rule_ids:
            rule = self.rules[rule_id]
            hits, crash = self._run_rule(rule_id, self.checks[rule_id], principal)
            if crash is not None:
                loc = anchor.loc if anchor is not None else Location(principal.file)
                hit = Hit(loc=loc, args={"message": f"rule {rule_id} crashed on {principal.label}: {crash}"})
                out.append(self._finding(self.rules[RULE_CRASH], hit, anchor, True, source=principal.source))
                continue
            for hit in hits:
                # Located in the document the statement comes from; reported against the principal.
                doc = principal.owner(hit.statement) if hit.statement is not None else None
                out.append(self._finding(rule, hit, doc or anchor, False, source=principal.source))
        return out

    def _compute_services(self) -> frozenset[str]:
        cached = self.ctx.cache.get("compute_services")
        if cached is None:
            table: Any = read_data_table("compute_services.yaml")
            cached = self.ctx.cache["compute_services"] = frozenset(
                str(e["principal"]).lower() for e in table["services"]
            )
        return cached

    def _raise_for_compute_roles(
        self, findings: list[Finding], principals: Sequence[Principal], raising: set[str]
    ) -> list[Finding]:
        """Findings on a role that a compute service can assume are raised one level: whatever
        runs there (a function, an instance, a build) holds the role's permissions."""
        services = self._compute_services()
        roles: dict[tuple[str, str], tuple[str, ...]] = {}
        for p in principals:
            if p.kind == "role" and p.trust:
                found = compute_services(p, services)
                if found:
                    roles[(p.file, p.name)] = found
        if not roles:
            return findings
        # Replaced in place: a copy of the list would hold every raised finding twice, with
        # both messages, at the moment a large account's memory peaks.
        for i, f in enumerate(findings):
            if f.rule in raising and f.source is not None and f.rule not in self.config.severity:
                hit = [
                    (name, roles[(f.location.file, name)])
                    for name in _roles_of(f.source)
                    if (f.location.file, name) in roles
                ]
                if hit:
                    names = ", ".join(name for name, _ in hit)
                    svcs = ", ".join(dict.fromkeys(s for _, found in hit for s in found))
                    findings[i] = replace(
                        f,
                        severity=f.severity.raised(),
                        message=f"{f.message} (raised one level: role {names} can be assumed by {svcs}, "
                        "so code running there holds these permissions)",
                    )
        return findings

    def _finding(
        self, rule: Rule, hit: Hit, doc: PolicyDocument | None, is_error: bool, source: Source | None = None
    ) -> Finding:
        severity = hit.severity if hit.severity is not None else rule.severity
        if hit.lowered:
            severity = severity.lowered(hit.lowered)
        message = rule.render(hit.args)
        evidence = hit.evidence
        st = hit.statement
        if st is not None and rule.condition_lowers and st.is_allow:
            from iamlint.checks.scope import grant  # noqa: PLC0415 - avoids an import cycle

            narrowing = grant(self.ctx, st).constraints
            if narrowing:
                keys = tuple(dict.fromkeys(c.key for c in narrowing))
                severity = severity.lowered()
                message += f" (constrained by condition on {', '.join(keys)}, so reported at lower severity)"
                evidence = Evidence(
                    actions=evidence.actions,
                    resources=evidence.resources,
                    conditions=keys,
                    notes=evidence.notes,
                )
        override = self.config.severity.get(rule.id)
        if override is not None:
            severity = override
        return new_finding(
            rule=rule.id,
            name=rule.name,
            severity=severity,
            category=rule.category,
            message=self._once(message),
            fix=rule.fix,
            location=self._once(doc.locate(hit.loc) if doc is not None else hit.loc),
            statement_index=st.index if st is not None else None,
            statement_sid=st.sid if st is not None else None,
            source=source if source is not None else doc.source if doc is not None else None,
            evidence=self._shared_evidence(evidence),
            is_error=is_error,
            signature=self._signature(st) if st is not None else "",  # for baselines and SARIF
            written_actions=None if st is None else st.action_texts if st.action_key == "Action" else (),
        )

    def _once(self, value: _V) -> _V:
        """`value`, or the equal one a finding of this check holds already: findings repeat
        their places, messages and evidence (on the bench's 3,000-role dump, 19,000 findings
        hold 9,000 distinct places, 15,000 distinct messages and 7,500 distinct evidences)."""
        return self._shared.setdefault(value, value)  # type: ignore[return-value]

    def _shared_evidence(self, evidence: Evidence) -> Evidence:
        found = self._shared.get(evidence)
        if found is None:
            once = self._once
            found = once(
                Evidence(
                    once(evidence.actions), once(evidence.resources), once(evidence.conditions), once(evidence.notes)
                )
            )
        return found  # type: ignore[return-value]

    def _signature(self, st: Statement) -> str:
        # Hashed once per statement: a statement of a thousand actions can carry dozens of findings.
        found: str | None = self._signatures.get(id(st))
        if found is None:
            found = self._signatures.put(st, statement_signature(st))
        return found


class _NotMovable(Exception):
    """A location outside its document's part of the file: its hits are not moved."""


def _relative(loc: Location, base: Location) -> tuple[PathKey, ...]:
    """`loc`'s path below the document at `base`, for an element not yet given a line."""
    n = len(base.keys)
    if (
        loc.line is not None
        or loc.file != base.file
        or loc.keys[:n] != base.keys
        or loc.logical_id != base.logical_id
        or loc.construct_path != base.construct_path
    ):
        raise _NotMovable
    return loc.keys[n:]


def _value_place(value: Value, base: Location) -> tuple[tuple[PathKey, ...], PathKey | None]:
    """A value's place below the document: (its own path and None, or its list's or
    mapping's path and its index or key), as `Value.anchor` gives it."""
    where, index = value.anchor
    return _relative(where, base), index


def _content_key(doc: PolicyDocument) -> tuple[object, ...] | None:
    """Everything of a document a pure check can read, with each element's path below the
    document: equal keys mean equal hits, at the same places relative to each document.
    None when an element lies outside the document's part of the file."""
    base = doc.loc
    try:
        parts: list[object] = [doc.kind, doc.version]
        for st in doc.statements:
            parts.append(
                (
                    st.index,
                    st.effect,
                    st.sid,
                    st.action_key,
                    st.resource_key,
                    st.principal_key,
                    _relative(st.loc, base),
                    tuple((v.text, *_value_place(v, base)) for v in st.actions),
                    tuple((v.text, *_value_place(v, base)) for v in st.resources),
                    tuple((p.kind, p.value.text, *_value_place(p.value, base)) for p in st.principals),
                    tuple((c.operator, c.key, c.values, _relative(c.loc, base)) for c in st.conditions),
                )
            )
    except _NotMovable:
        return None
    return tuple(parts)


def _repeated_contents(docs: Sequence[PolicyDocument]) -> dict[int, tuple[object, ...]]:
    """The content key of each document whose content another document of the run repeats.

    Only files holding several documents are looked at (a folder of policy files rarely
    repeats one). A document's texts, which it holds as tuples already, are compared first:
    only documents whose texts repeat get a full key (which lists every element's path), and
    only repeated keys are kept, each once.
    """
    per_file: dict[str, int] = {}
    for doc in docs:
        per_file[doc.loc.file] = per_file.get(doc.loc.file, 0) + 1
    by_texts: dict[tuple[object, ...], list[PolicyDocument]] = {}
    for doc in docs:
        if per_file[doc.loc.file] > 1:
            texts = (doc.kind, doc.version, *((st.action_texts, st.resource_texts) for st in doc.statements))
            by_texts.setdefault(texts, []).append(doc)
    out: dict[int, tuple[object, ...]] = {}
    for group in by_texts.values():
        if len(group) < 2:
            continue
        by_key: dict[tuple[object, ...], list[PolicyDocument]] = {}
        for doc in group:
            key = _content_key(doc)
            if key is not None:
                by_key.setdefault(key, []).append(doc)
        for key, same in by_key.items():
            if len(same) > 1:
                out.update((id(doc), key) for doc in same)
    return out


class _Checked:
    """The pure checks' hits on the first document of one content, and how to move them to
    another document of the same content (its statements, its place in its file)."""

    __slots__ = ("first", "hits", "positions")

    def __init__(self, first: PolicyDocument) -> None:
        self.first = first
        self.hits: dict[str, list[Hit]] = {}
        self.positions = {id(st): i for i, st in enumerate(first.statements)}

    def moved(self, rule_id: str, doc: PolicyDocument) -> list[Hit] | None:
        try:
            return [self._move(hit, doc) for hit in self.hits[rule_id]]
        except _NotMovable:
            return None

    def _move(self, hit: Hit, doc: PolicyDocument) -> Hit:
        rel = _relative(hit.loc, self.first.loc)
        base = doc.loc
        loc = Location(base.file, None, None, base.keys + rel, base.logical_id, base.construct_path)
        st = hit.statement
        if st is not None:
            position = self.positions.get(id(st))
            if position is None:
                raise _NotMovable
            st = doc.statements[position]
        return replace(hit, loc=loc, statement=st)


def _roles_of(source: Source) -> list[str]:
    """The roles a finding's owner is or is attached to."""
    names = [source.name] if source.kind == "role" else []
    for label in source.attached_to:
        kind, _, name = label.partition(" ")
        if kind == "role" and name not in names:
            names.append(name)
    return names


def _with_index(f: Finding, index: int) -> Finding:
    return replace(f, statement_index=index)


def _key(f: Finding) -> tuple[object, ...]:
    # The same input named twice (a file and its directory) must not report twice.
    loc = f.location
    src = (f.source.kind, f.source.name, f.source.policy_name) if f.source else None
    return (f.rule, loc.file, loc.keys, loc.line, f.message, src)


def _order(f: Finding) -> tuple[object, ...]:
    loc = f.location
    return (loc.file, loc.line or 0, loc.column or 0, f.rule, f.message)
