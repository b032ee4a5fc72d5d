"""Principals: every policy that applies to one role, user or group of a run, joined up.

Loaders emit documents one at a time, each naming its owner (`Source`). Principal-level rules
need the union: a role's inline policies, the shared and managed policies attached to it, its
trust policy and permissions boundary; a user's own policies and those of its groups. Names
are unique only inside one template or account dump, so documents are grouped per file.

- A document owned by a role, user or group (`Source.kind`) belongs to that principal; a shared
  policy belongs to every principal in `Source.attached_to` ("role HandlerRole").
- A document that applies to a group also applies to the group's members: the users named
  "user X" in `Source.used_by` (the authorization-details loader records memberships there).
  A group with known members is not reported on its own, since a group cannot sign in: its
  grants are reported on each member, together with the member's own denies and boundary.
- A permission-granting document attached to no known principal (a bare policy file, an
  unattached managed policy) is a principal of its own, kind "policy", so that what it would
  grant is still analysed.
- Documents of one policy that differ by CloudFormation condition (`Fn::If` branches) are
  alternatives: each combination of branches is a principal of its own, up to
  `MAX_VARIANTS`; past that, all branches are joined (which can only over-report).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace

from iamlint.globs import glob_match
from iamlint.model import Location, PolicyDocument, PolicyKind, Source, Statement

PRINCIPAL_KINDS = ("role", "user", "group")
STANDALONE = "policy"
MAX_VARIANTS = 8
# Source.via of a service-linked role's documents (authorization-details loader): AWS owns
# these roles and their policies, so there is nothing for a principal-level finding to change.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/using-service-linked-roles.html
SERVICE_LINKED = "service-linked"
# Source.via of the managed policies the SAM translator attaches by itself (basic execution,
# X-Ray for Tracing, VPC access for VpcConfig): the template's author did not choose them.
ADDED_BY_SAM = "SAM's own addition"

_Key = tuple[str, str, str]  # (file, kind, name)


def added_by_sam(doc: PolicyDocument | None) -> bool:
    """Is this one of the managed policies the SAM translator attached by itself?"""
    return doc is not None and doc.source is not None and doc.source.via == ADDED_BY_SAM


@dataclass(frozen=True, slots=True)
class Principal:
    """One role, user or group (or a standalone policy) and every document that applies to it."""

    kind: str  # role, user, group, or "policy" for a document attached to no known principal
    name: str
    file: str
    source: Source  # what findings about the principal as a whole are reported against
    documents: tuple[PolicyDocument, ...]  # identity policies: its own, shared and inherited
    trust: tuple[PolicyDocument, ...] = ()
    boundaries: tuple[PolicyDocument, ...] = ()
    groups: tuple[str, ...] = ()  # groups whose policies a user inherits
    _owners: Mapping[int, PolicyDocument] = field(default_factory=dict, compare=False, repr=False)

    @property
    def label(self) -> str:
        """How messages name the principal: "role HandlerRole", "policy admin.json"."""
        return f"{self.kind} {self.name}"

    def statements(self) -> Iterator[tuple[PolicyDocument, Statement]]:
        for doc in self.documents:
            for st in doc.statements:
                yield doc, st

    def owner(self, st: Statement) -> PolicyDocument | None:
        """The document (identity or boundary) a statement of this principal comes from
        (looked up in a table of the whole run's statements, `build_principals`)."""
        return self._owners.get(id(st))

    def locate(self, loc: Location, st: Statement) -> Location:
        """`loc`, an element of `st`, with its line and column filled in."""
        doc = self.owner(st)
        return doc.locate(loc) if doc is not None else loc

    def where_all(
        self, statements: Iterable[Statement], limit: int = 4, located: Mapping[int, Location] | None = None
    ) -> str:
        """Where several statements are, in file order: "line 12", "lines 12, 40 and 2 more".
        `located`: each statement's located `loc` by id, when the caller has them already (a
        grouped finding names hundreds of statements; each is located once)."""
        placed = [
            (st, located[id(st)] if located is not None and id(st) in located else self.locate(st.loc, st))
            for st in statements
        ]
        placed.sort(key=lambda p: (p[1].file, p[1].line or 0, p[0].index))
        places = list(dict.fromkeys(self._where(st, loc) for st, loc in placed))
        shown = ", ".join(places[:limit]) + (f" and {len(places) - limit} more" if len(places) > limit else "")
        if len(places) > 1 and all(p.startswith("line ") for p in places[:limit]):
            shown = "lines " + shown.replace("line ", "")
        return shown

    def where(self, st: Statement) -> str:
        """Where a statement is, for messages that name several: "line 12" in the principal's
        file (findings are located in it already), "file:12" elsewhere."""
        return self._where(st, self.locate(st.loc, st))

    def _where(self, st: Statement, loc: Location) -> str:
        if loc.file != self.file:
            return f"{loc.file}:{loc.line}" if loc.line is not None else loc.file
        return f"line {loc.line}" if loc.line is not None else f"statement {st.index}"


@dataclass(slots=True)
class _Parts:
    documents: list[PolicyDocument] = field(default_factory=list)
    trust: list[PolicyDocument] = field(default_factory=list)
    boundaries: list[PolicyDocument] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)  # the principal's own documents' owners


def _parse_label(label: str) -> tuple[str, str] | None:
    kind, sep, name = label.partition(" ")
    if not sep or kind not in PRINCIPAL_KINDS:
        return None
    return kind, name


def _targets(src: Source | None) -> list[tuple[str, str]]:
    """The principals a document's owner says it applies to."""
    if src is None:
        return []
    out: dict[tuple[str, str], None] = {}  # ordered, and linear for a policy attached to thousands
    if src.kind in PRINCIPAL_KINDS:
        out[(src.kind, src.name)] = None
    for label in src.attached_to:
        parsed = _parse_label(label)
        if parsed is not None:
            out.setdefault(parsed, None)
    return list(out)


def _grants_to_a_principal(doc: PolicyDocument) -> bool:
    """Identity documents, and bare ones whose statements name no principal."""
    if doc.kind is PolicyKind.IDENTITY:
        return True
    if doc.kind is not PolicyKind.UNKNOWN:
        return False
    return bool(doc.statements) and all(st.principal_key is None for st in doc.statements)


def build_principals(documents: Iterable[PolicyDocument]) -> list[Principal]:
    """Every principal the documents of one run describe, in a stable order."""
    parts: dict[_Key, _Parts] = {}
    standalone: list[PolicyDocument] = []

    def at(file: str, kind: str, name: str) -> _Parts:
        key = (file, kind, name)
        found = parts.get(key)
        if found is None:
            found = parts[key] = _Parts()
        return found

    # Which document each statement comes from: one table for the run, shared by every
    # principal (a statement belongs to one document; a table per principal repeated a managed
    # policy's statements for each of the hundreds of roles it is attached to).
    owners: dict[int, PolicyDocument] = {}
    for doc in documents:
        for st in doc.statements:
            owners[id(st)] = doc
        file, src = doc.loc.file, doc.source
        if doc.kind is PolicyKind.TRUST:
            if src is not None and src.kind == "role":
                at(file, "role", src.name).trust.append(doc)
            continue
        if doc.kind is PolicyKind.BOUNDARY:
            for kind, name in _targets(src):
                at(file, kind, name).boundaries.append(doc)
            continue
        if not _grants_to_a_principal(doc):
            continue
        targets = _targets(src)
        if not targets:
            standalone.append(doc)
            continue
        for kind, name in targets:
            p = at(file, kind, name)
            p.documents.append(doc)
            if src is not None and src.kind == kind and src.name == name:
                p.sources.append(src)
        groups = [name for kind, name in targets if kind == "group"]
        if groups and src is not None:
            for label in src.used_by:
                member = _parse_label(label)
                if member is not None and member[0] == "user":
                    m = at(file, "user", member[1])
                    m.documents.append(doc)
                    m.groups.extend(g for g in groups if g not in m.groups)

    with_members = {(file, "group", g) for (file, _, _), p in parts.items() for g in p.groups}
    out: list[Principal] = []
    for (file, kind, name), p in parts.items():
        if (file, kind, name) in with_members:
            continue
        if any(
            d.source is not None and d.source.kind == kind and d.source.via == SERVICE_LINKED
            for d in (*p.trust, *p.documents)
        ):
            continue
        out.extend(_variants(file, kind, name, p, owners))
    for doc in standalone:
        src = doc.source or Source(kind="file", name=doc.loc.file)
        out.extend(
            _variants(doc.loc.file, STANDALONE, doc.name or src.name, _Parts(documents=[doc], sources=[src]), owners)
        )
    return out


def _principal_source(kind: str, name: str, p: _Parts) -> Source:
    if kind == STANDALONE:
        return p.sources[0]
    own = p.sources[0] if p.sources else None
    if own is None:
        return Source(kind=kind, name=name)
    # The principal, not one of its policies: drop what names a single policy.
    return Source(
        kind=kind,
        name=name,
        logical_id=own.logical_id,
        construct_path=own.construct_path,
        arn=own.arn,
        used_by=own.used_by,
    )


def _variants(file: str, kind: str, name: str, p: _Parts, owners: Mapping[int, PolicyDocument]) -> list[Principal]:
    """One principal per combination of Fn::If branches of its documents."""
    base = _principal_source(kind, name, p)
    by_policy: dict[tuple[object, ...], list[PolicyDocument]] = {}
    for doc in _unique(p.documents):
        by_policy.setdefault((doc.loc.file, doc.loc.keys, doc.name), []).append(doc)
    fixed = [docs[0] for docs in by_policy.values() if len(docs) == 1]
    choices = [docs for docs in by_policy.values() if len(docs) > 1]
    count = 1
    for docs in choices:
        count *= len(docs)
    if not choices or count > MAX_VARIANTS:
        combos: list[tuple[PolicyDocument, ...]] = [tuple(d for docs in choices for d in docs)]
        labels: list[str | None] = [None]
    else:
        combos = list(itertools.product(*choices))
        labels = [
            " and ".join(dict.fromkeys(d.source.condition for d in combo if d.source and d.source.condition)) or None
            for combo in combos
        ]
    out = []
    trust, boundaries = tuple(_unique(p.trust)), tuple(_unique(p.boundaries))
    fixed_ids = {id(d) for d in fixed}
    for combo, label in zip(combos, labels, strict=True):
        chosen = fixed_ids | {id(d) for d in combo}
        applied = tuple(d for d in _unique(p.documents) if id(d) in chosen)
        source = replace(base, condition=label) if label else base
        out.append(
            Principal(
                kind=kind,
                name=name,
                file=file,
                source=source,
                documents=applied,
                trust=trust,
                boundaries=boundaries,
                groups=tuple(p.groups),
                _owners=owners,
            )
        )
    return out


def _unique(docs: Iterable[PolicyDocument]) -> list[PolicyDocument]:
    """Documents in order, each once (a shared policy may reach a user twice, via two groups)."""
    seen: set[int] = set()
    out = []
    for doc in docs:
        if id(doc) not in seen:
            seen.add(id(doc))
            out.append(doc)
    return out


def standalone(doc: PolicyDocument) -> Principal:
    """A principal holding only `doc`: what the document grants on its own."""
    src = doc.source or Source(kind="file", name=doc.loc.file)
    owners = {id(st): doc for st in doc.statements}
    return _variants(doc.loc.file, STANDALONE, doc.name or src.name, _Parts(documents=[doc], sources=[src]), owners)[0]


def compute_services(principal: Principal, services: frozenset[str]) -> tuple[str, ...]:
    """The service principals among `services` (lower case) that the role's trust policy lets
    assume it: sts:AssumeRole allowed to `{"Service": ...}`. Conditions are not weighed, since
    AWS services seldom satisfy anything but a source condition, which limits who triggers
    the workload, not what runs there."""
    found: dict[str, None] = {}
    for doc in principal.trust:
        for st in doc.statements:
            if not st.is_allow or st.principal_key != "Principal" or not _assumes(st):
                continue
            for p in st.principals:
                value = p.value.text.lower()
                if p.kind == "Service" and value in services:
                    found.setdefault(value, None)
    return tuple(found)


def _assumes(st: Statement) -> bool:
    hits = any(glob_match(t, "sts:AssumeRole", case_sensitive=False) for t in st.action_texts)
    return not hits if st.not_action else hits
