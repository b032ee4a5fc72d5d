"""What a principal is effectively granted: its Allows, less its Denies, within its boundary.

IAM evaluates identity policies as: an explicit Deny in any applicable policy wins; else an
Allow in an identity policy allows, provided the permissions boundary (if any) allows too.
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html

`Effective.reaches(action)` answers, for one action, which Allow statements still grant it
and on which resources: resource patterns a Deny covers are removed, a Deny with NotResource
narrows the grant to its exceptions, and a boundary narrows it to the boundary's resources.
Patterns are compared as sets of strings (`evaluator.pattern_contains`), so the answer holds
for every ARN, not just those the catalogue can list.

Approximations, all in the direction of reporting: a Deny with a Condition removes nothing
(it denies only some requests); a boundary Allow with a Condition counts as allowing; the
intersection of two overlapping patterns is taken to be the narrower-looking one.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from iamlint import globs
from iamlint.catalog import ActionInfo, ResourceType
from iamlint.checks import RuleContext, per_subject
from iamlint.checks.scope import all_but_listed, excludes_every_resource, grant
from iamlint.evaluator import pattern_contains
from iamlint.model import Condition, Location, Statement
from iamlint.principals import Principal
from iamlint.ruleset import read_data_table


class Scope(enum.IntEnum):
    """How much of an action's resources a grant reaches."""

    SPECIFIC = 0  # named resources only (policy variables such as ${aws:username} included)
    PATTERN = 1  # wildcard patterns: some resources, not all
    UNSCOPED = 2  # every resource the action applies to ("*", NotResource, "table/*")

    @property
    def phrase(self) -> str:
        return {
            Scope.SPECIFIC: "only on named resources",
            Scope.PATTERN: "only on resources matching a pattern",
            Scope.UNSCOPED: "on every resource",
        }[self]


@dataclass(frozen=True, slots=True)
class Reach:
    """One Allow statement's effective grant of one action."""

    statement: Statement
    resources: tuple[str, ...]  # what survives denies and the boundary
    except_resources: bool  # `resources` are exceptions: the grant is everything but them
    scope: Scope
    conditions: tuple[Condition, ...]  # conditions of the statement that narrow the grant

    @property
    def statements(self) -> tuple[Statement, ...]:
        """The statements that make this grant: one, or several for a `JointReach`."""
        return (self.statement,)

    @property
    def rank(self) -> tuple[int, int]:
        """Broadest first: unscoped, then unconditioned."""
        return (int(self.scope), 0 if self.conditions else 1)


@dataclass(frozen=True, slots=True)
class JointReach(Reach):
    """Several unconditioned Allow statements' grant together (`Effective.best`): each resource
    of one request allowed by a different statement, reaching what none reaches alone. A class
    of its own, so that the hundred thousand plain reaches of a large account carry no field
    for it."""

    also: tuple[Statement, ...] = ()  # the statements besides `statement`

    @property
    def statements(self) -> tuple[Statement, ...]:
        return (self.statement, *self.also)


# A resource set: patterns, or (when the flag is set) everything except the patterns.
_Res = tuple[tuple[str, ...], bool]


class Effective:
    """The effective grants of one principal, computed lazily, one action at a time."""

    def __init__(self, ctx: RuleContext, principal: Principal) -> None:
        self.ctx = ctx
        self.principal = principal
        self.allows = [st for _, st in principal.statements() if st.is_allow and st.resource_key is not None]
        boundary_statements = [st for doc in principal.boundaries for st in doc.statements]
        denies = [st for _, st in principal.statements() if not st.is_allow]
        denies += [st for st in boundary_statements if not st.is_allow]
        self.denies = [st for st in denies if not st.conditions and st.resource_key is not None]
        self.conditional_denies = [st for st in denies if st.conditions]
        self.boundaries = [
            [st for st in doc.statements if st.is_allow and st.resource_key is not None] for doc in principal.boundaries
        ]
        self._reaches: dict[str, tuple[Reach, ...]] = {}
        self._joint: dict[str, Reach | None] | None = None  # made when first needed: rarely
        self._candidates: tuple[ActionInfo, ...] | None = None
        self._by_type: dict[int, dict[tuple[Any, ...], Reach | None]] = {}
        self.memo: dict[str, object] = {}  # answers rules derive from these grants, shared by them
        # Which Allow statements can name an action: those listing it (each with the names it
        # lists), and the open-ended ones (Action "*", NotAction), so that a question about
        # one action skips the others. Rules ask about a few hundred actions at most, so each
        # question reads the short list of statements rather than indexing every name first.
        self._naming: dict[str, list[tuple[Statement, frozenset[str] | tuple[str, ...]]]] = {}  # by lower-case service
        self._open: list[Statement] = []
        for st in self.allows:
            g = grant(ctx, st)
            if g.all_actions:
                self._open.append(st)
            else:
                for service in g.services:
                    self._naming.setdefault(service, []).append((st, g.named))
        self._services = self._naming.keys()
        self._full_admin: bool | None = None

    @property
    def plain(self) -> bool:
        """No unconditional Deny and no boundary: each Allow grants what it says."""
        return not self.denies and not self.boundaries

    def reach_in(self, st: Statement, action: ActionInfo) -> Reach | None:
        """What one of the principal's Allow statements effectively grants of `action`."""
        return self._reach(st, action)

    def might_grant_any(self, by_service: dict[str, tuple[str, ...]]) -> list[str]:
        """A cheap first answer for a table of actions (lower-case service -> its lower-case
        `service:Action` names): the names left out are certainly not granted.

        Rules ask about tables of actions from dozens of services; answering from the services
        alone spares reading those services' catalogue files for a principal that touches two.
        """
        if self._open:
            return [name for names in by_service.values() for name in names]
        return [name for service in sorted(self._services & by_service.keys()) for name in by_service[service]]

    def might_grant_services(self, services: frozenset[str]) -> bool:
        """A cheap first answer for needing one action of each of these (lower-case) services:
        False means certainly not all granted."""
        return bool(self._open) or services <= self._services

    def might_grant_any_service(self, services: frozenset[str]) -> bool:
        """A cheap first answer for needing one action of any of these (lower-case) services."""
        return bool(self._open) or not services.isdisjoint(self._services)

    def might_join(self, action: ActionInfo) -> bool:
        """A cheap first answer for `best`'s joint grants: False when fewer than two statements
        can grant `action` at all."""
        return len(self._naming.get(action.service, ())) + len(self._open) >= 2

    @property
    def full_admin(self) -> bool:
        """Allow "*" on "*" with nothing to take any of it away: every question is answered.

        A Deny with a Condition does not count (it removes nothing here, see the module's
        docstring), so an administrator who must use MFA is still an administrator."""
        if self._full_admin is None:
            self._full_admin = self.plain and any(
                g.all_actions and not g.not_action and g.star_resource and not g.constraints
                for g in (grant(self.ctx, st) for st in self._open)
            )
        return self._full_admin

    @property
    def administrator(self) -> bool:
        """`full_admin`, or "*" on every resource but those a NotResource lists: IAM101 reports
        both, and the risk rules would only list every category the principal has anyway."""
        return self.full_admin or (
            self.plain
            and any(
                g.all_actions and not g.not_action and all_but_listed(st) and not g.constraints
                for st, g in ((st, grant(self.ctx, st)) for st in self._open)
            )
        )

    def reaches(self, action: ActionInfo) -> tuple[Reach, ...]:
        """Every statement that effectively grants `action`, broadest first."""
        cached = self._reaches.get(action.key)
        if cached is None:
            key = action.key
            statements = [st for st, named in self._naming.get(key.partition(":")[0], ()) if key in named]
            found = [r for st in (*statements, *self._open) if (r := self._reach(st, action)) is not None]
            if len(found) > 1:
                found.sort(key=lambda r: r.rank, reverse=True)
            cached = self._reaches[action.key] = tuple(found)
        return cached

    def best(self, action: ActionInfo) -> Reach | None:
        """The broadest grant of `action`: one statement's, or several statements' together.

        A request names several resources when the action has more than one type (ssm:SendCommand
        a document and instances), and IAM allows it when each of them is allowed, by any Allow
        statement. So a statement naming AWS-RunShellScript and another naming instance/*
        together run any command on every instance, though neither does alone.
        """
        found = self.reaches(action)
        if not found:
            return None
        if len(found) > 1 and (found[0].scope < Scope.UNSCOPED or found[0].conditions) and joinable(self.ctx, action):
            if self._joint is None:
                self._joint = {}
            key = action.key
            if key not in self._joint:
                self._joint[key] = _joint(self.ctx, action, found)
            joint = self._joint[key]
            if joint is not None:
                return joint
        return found[0]

    def denied(self, action: ActionInfo, resource: str) -> bool:
        """Does an unconditional Deny cover `action` on every ARN `resource` matches?

        Subtracting a Deny from an Allow's patterns cannot always be written as patterns
        ("*" less one bucket), so questions about one resource ask this directly.
        """
        for deny in self.denies:
            if not grant(self.ctx, deny).allows(action.key):
                continue
            if deny.resource_key == "Resource":
                if _contained(resource, deny.resource_texts):
                    return True
            elif not any(globs.patterns_overlap(resource, x) for x in deny.resource_texts):
                return True
        return False

    def candidates(self) -> tuple[ActionInfo, ...]:
        """Every catalogue action some Allow statement names (each once), worked out once."""
        if self._candidates is None:
            seen: dict[str, ActionInfo] = {}
            for st in self.allows:
                g = grant(self.ctx, st)
                for a in every_action(self.ctx) if g.all_actions else g.actions:
                    if a.key not in seen and g.allows(a.key):
                        seen[a.key] = a
            self._candidates = tuple(seen.values())
        return self._candidates

    # -- one statement ---------------------------------------------------------------------
    def _reach(self, st: Statement, action: ActionInfo) -> Reach | None:
        g = grant(self.ctx, st)
        if not g.allows(action.key):
            return None
        if not self.plain:
            return self._reach_uncached(st, action)
        # Without Denies or a boundary, what a statement grants an action depends only on the
        # action's resource types (large policies ask this of thousands of actions that share
        # a handful of them), and not on who holds the statement: the answers are kept with
        # the statement and shared by every principal holding it.
        table = self._by_type.get(id(st))
        if table is None:
            table = self._by_type[id(st)] = _reach_table(self.ctx, st)
        key = action.shape  # (service, resource types, required types), one tuple per shape
        try:
            return table[key]
        except KeyError:
            found = self._reach_uncached(st, action)
            if found is not None:
                # One statement reaches most actions the same way: keep one object per way.
                found = table.setdefault((found.resources, found.except_resources, found.scope), found)
            table[key] = found
            return found

    def _reach_uncached(self, st: Statement, action: ActionInfo) -> Reach | None:
        g = grant(self.ctx, st)
        cat = self.ctx.catalog
        res: _Res | None
        if st.not_resource:
            if excludes_every_resource(st):
                return None  # every resource but all of them: nothing
            res = (st.resource_texts, True)
        else:
            # A pattern that cannot name a resource of this action grants nothing for it.
            usable = tuple(r for r in st.resource_texts if cat.resource_matches(action, r))
            if len(usable) == len(st.resource_texts):
                usable = st.resource_texts  # the statement's own tuple, not a copy
            res = (usable, False) if usable else None
        for deny in self.denies:
            if res is None:
                return None
            if grant(self.ctx, deny).allows(action.key):
                res = _minus(res, deny)
        for statements in self.boundaries:
            if res is None:
                return None
            res = _within(res, [b for b in statements if grant(self.ctx, b).allows(action.key)])
        if res is None:
            return None
        patterns, excepted = res
        return Reach(
            statement=st,
            resources=patterns,
            except_resources=excepted,
            scope=self._scope(action, res),
            conditions=g.constraints,
        )

    def _scope(self, action: ActionInfo, res: _Res) -> Scope:
        patterns, excepted = res
        if excepted:
            return Scope.UNSCOPED
        return scope_of(self.ctx, action, patterns)


@per_subject
def _reach_table(ctx: RuleContext, st: Statement) -> dict[tuple[Any, ...], Reach | None]:
    """A statement's reach by (service, resource types), for principals without Denies or a
    boundary: the same for each of them. The table also holds each distinct reach under
    (resources, except_resources, scope), so that equal answers are one object."""
    del ctx, st  # empty at first: `Effective._reach` fills it in
    return {}


def _joint(ctx: RuleContext, action: ActionInfo, found: tuple[Reach, ...]) -> Reach | None:
    """The grant on every resource that `found`'s unconditioned statements make together, when
    none makes it alone; else None. Asked only of a `joinable` action: only a resource that runs
    any code given, named in one statement while its targets are in another (run_any_code.yaml),
    is reached this way, since a required type a statement does not name is already left to the
    others (`everything_by`)."""
    parts = [r for r in found if not r.conditions and not r.except_resources]
    if len(parts) < 2:
        return None
    patterns = tuple(dict.fromkeys(p for r in parts for p in r.resources))
    if not everything_by(ctx, action, patterns):
        return None
    return JointReach(
        statement=parts[0].statement,
        resources=patterns,
        except_resources=False,
        scope=Scope.UNSCOPED,
        conditions=(),
        also=tuple(dict.fromkeys(r.statement for r in parts[1:] if r.statement is not parts[0].statement)),
    )


def joinable(ctx: RuleContext, action: ActionInfo) -> bool:
    """Can statements reach together what none reaches alone (`_joint`)? Only where a type every
    request names has resources that run any code given on targets the action also names:
    ssm:SendCommand's documents and instances."""
    if action.service not in joinable_services(ctx):
        return False  # answered without reading the action's resource types
    table: dict[tuple[Any, ...], bool] = ctx.cache.setdefault("joinable_by_shape", {})
    found = table.get(action.shape)
    if found is None:
        types = ctx.catalog.action_resource_types(action)
        names = {t.name for t in types}
        found = table[action.shape] = any(
            names & targets for rt in _required(action, types) for _, targets in _run_any_code(ctx, rt)
        )
    return found


def joinable_services(ctx: RuleContext) -> frozenset[str]:
    """The services of the resources in run_any_code.yaml: the only ones with `joinable` actions."""
    cached: frozenset[str] | None = ctx.cache.get("joinable_services")
    if cached is None:
        cached = ctx.cache["joinable_services"] = frozenset(
            globs.split_arn(arn)[2].lower() for arn, _ in _run_any_code_entries(ctx)
        )
    return cached


def scope_of(ctx: RuleContext, action: ActionInfo, patterns: tuple[str, ...]) -> Scope:
    """How far Resource `patterns` reach for `action`: every resource, a pattern, named ones."""
    return Scope.UNSCOPED if everything_by(ctx, action, patterns) else _narrower_scope(ctx, action, patterns)


def everything_by(ctx: RuleContext, action: ActionInfo, patterns: tuple[str, ...]) -> tuple[str, ...]:
    """The entries of `patterns` that together reach every resource `action` applies to, or ().

    Every resource a request names must be allowed. When the action always names a resource of
    some types (ssm:SendCommand a document), the grant reaches everything only if it reaches
    every resource of each of those it names: instance/* with one named document runs that
    document only, unless the document runs any command given (run_any_code.yaml). A required
    type the statement does not name at all is left to other statements
    (ec2:CreateNetworkInterface's network interface in one, its subnet in another).
    """
    if not action.supports_resource_scoping:
        return tuple(patterns) or ("*",)
    total = tuple(p for p in patterns if globs.is_total(p))
    if total:
        return total[:1]
    types = ctx.catalog.action_resource_types(action)
    required = _required(action, types)
    if required:
        named = [rt for rt in required if any(globs.arn_pattern_overlaps(p, rt.arn) for p in patterns)]
        by: list[str] = []
        for rt in named:
            covering = [p for p in patterns if _covers_type(ctx, p, rt, patterns, types)]
            if not covering:
                return ()
            by += [p for p in covering if p not in by]
        return tuple(by)
    return tuple(p for p in patterns if any(_covers_type(ctx, p, rt, patterns, types) for rt in types))[:1]


def _narrower_scope(ctx: RuleContext, action: ActionInfo, patterns: tuple[str, ...]) -> Scope:
    required = _required(action, ctx.catalog.action_resource_types(action))
    if required:  # how far it reaches the resources every request names
        patterns = (
            tuple(p for p in patterns if any(globs.arn_pattern_overlaps(p, rt.arn) for rt in required)) or patterns
        )
    return Scope.PATTERN if any(wildcard_name(p) for p in patterns) else Scope.SPECIFIC


def _required(action: ActionInfo, types: tuple[ResourceType, ...]) -> list[ResourceType]:
    needed = {n.lower() for n in action.required_types}
    return [rt for rt in types if rt.name.lower() in needed]


def _covers_type(
    ctx: RuleContext, pattern: str, rt: ResourceType, patterns: tuple[str, ...], types: tuple[ResourceType, ...]
) -> bool:
    """Does `pattern` reach every resource of the type? A document that runs any command given
    does, where the statement also reaches every target it runs on (instance/*): with one named
    instance, or the instances left to another statement, it runs on those only."""
    if globs.covers_arn_format(pattern, rt.arn):
        return True
    for arn, targets in _run_any_code(ctx, rt):
        if globs.arn_pattern_overlaps(pattern, arn) and any(
            t.name in targets and any(globs.covers_arn_format(p, t.arn) for p in patterns) for t in types
        ):
            return True
    return False


def _run_any_code_entries(ctx: RuleContext) -> tuple[tuple[str, frozenset[str]], ...]:
    """Every run_any_code.yaml entry: (ARN pattern, its targets), read once per run."""
    entries: tuple[tuple[str, frozenset[str]], ...] | None = ctx.cache.get("run_any_code")
    if entries is None:
        raw: Any = read_data_table("run_any_code.yaml")
        entries = ctx.cache["run_any_code"] = tuple(
            (str(e["arn"]), frozenset(str(t) for t in e["targets"])) for e in raw["resources"]
        )
    return entries


def _run_any_code(ctx: RuleContext, rt: ResourceType) -> tuple[tuple[str, frozenset[str]], ...]:
    """The run_any_code.yaml entries that name resources of this type: (ARN, its targets)."""
    table: dict[str, tuple[tuple[str, frozenset[str]], ...]] = ctx.cache.setdefault("run_any_code_by_type", {})
    found = table.get(rt.arn)
    if found is None:
        found = table[rt.arn] = tuple(e for e in _run_any_code_entries(ctx) if globs.arn_pattern_overlaps(e[0], rt.arn))
    return found


def every_action(ctx: RuleContext) -> tuple[ActionInfo, ...]:
    cached = ctx.cache.get("every_action")
    if cached is None:
        cached = ctx.cache["every_action"] = ctx.catalog.expand("*")
    return cached


def wildcard_name(pattern: str) -> bool:
    """Does the resource part of an ARN pattern (or the pattern) hold a wildcard?"""
    parts = globs.split_arn(pattern)
    return globs.has_wildcard(parts[5] if len(parts) == 6 else pattern)


def covers(outer: str, inner: str, *, case_sensitive: bool = True) -> bool:
    """Does pattern `outer` match every string `inner` matches? A True is always right; a
    False may mean "not shown".

    `evaluator.pattern_contains` decides it; this answers the common shapes without its
    automaton: equal patterns, a literal outer (which contains only itself), a literal inner
    (one string, matched as a glob), and two six-field ARNs, compared field by field (which
    suffices: each inner field inside the outer one puts every inner ARN inside outer, since
    the colons between fields are literal on both sides and each field is a glob over all
    characters, colons included). Policy variables always take the full proof.
    """
    if not case_sensitive:
        outer, inner = outer.lower(), inner.lower()
    if outer == inner or outer == "*":
        return True
    if "${" in outer or "${" in inner:
        return pattern_contains(outer, inner)
    if outer.startswith("arn:") and inner.startswith("arn:"):
        o_parts, i_parts = globs.split_arn(outer), globs.split_arn(inner)
        if len(o_parts) == len(i_parts) == 6:
            return all(_covers_text(o, i) for o, i in zip(o_parts, i_parts, strict=True))
    return _covers_text(outer, inner)


def _covers_text(outer: str, inner: str) -> bool:
    if outer == inner or outer == "*":
        return True
    if not globs.has_wildcard(outer):
        return False
    if not globs.has_wildcard(inner):
        return globs.glob_match(outer, inner)
    # Necessary conditions, cheap: inner's strings start with its literal head and end with
    # its literal tail, so outer's head and tail must be theirs.
    o_head, o_tail = _WILD_RE.split(outer, 1)[0], _WILD_RE.split(outer)[-1]
    i_head, i_tail = _WILD_RE.split(inner, 1)[0], _WILD_RE.split(inner)[-1]
    if not i_head.startswith(o_head) or not i_tail.endswith(o_tail):
        return False
    if "?" not in outer and _WITNESS not in outer:
        # Without `?` in outer, only outer's `*` can match a character outer never spells out.
        # So outer covers inner exactly when it matches inner with every wildcard replaced by
        # such a character: that string is one of inner's, and in any match of it each of
        # those characters lies inside a `*` of outer, which matches whatever inner puts there.
        return globs.glob_match(outer, _WILD_RE.sub(_WITNESS, inner))
    return pattern_contains(outer, inner)


_WITNESS = "\x00"  # a character no policy pattern uses (checked before it is relied on)


_WILD_RE = re.compile(r"[*?]")


def _contained(inner: str, outers: Iterable[str]) -> bool:
    return any(covers(o, inner) for o in outers)


def _intersect(patterns: tuple[str, ...], limits: tuple[str, ...]) -> tuple[str, ...]:
    """Patterns of `patterns` that lie inside `limits`, or else the parts of `limits` they meet."""
    out: dict[str, None] = {}
    for p in patterns:
        if _contained(p, limits):
            out.setdefault(p, None)
            continue
        for limit in limits:
            if globs.patterns_overlap(p, limit):
                out.setdefault(limit, None)
    return tuple(out)


def _minus(res: _Res, deny: Statement) -> _Res | None:
    patterns, excepted = res
    denied = deny.resource_texts
    if deny.resource_key == "Resource":
        if any(globs.is_total(d) for d in denied):
            return None
        if excepted:
            return (patterns + denied, True)
        kept = tuple(p for p in patterns if not _contained(p, denied))
        return (kept, False) if kept else None
    # Deny with NotResource: everything but its exceptions is denied.
    if excepted:
        kept = tuple(x for x in denied if not _contained(x, patterns))
    else:
        kept = _intersect(patterns, denied)
    return (kept, False) if kept else None


def _within(res: _Res, boundary: list[Statement]) -> _Res | None:
    """The part of `res` a permissions boundary also allows."""
    if not boundary:
        return None
    limits: list[str] = []
    for st in boundary:
        if st.resource_key == "NotResource" or any(globs.is_total(r) for r in st.resource_texts):
            return res
        limits.extend(st.resource_texts)
    patterns, excepted = res
    if excepted:
        kept = tuple(b for b in limits if not _contained(b, patterns))
    else:
        kept = _intersect(patterns, tuple(limits))
    return (kept, False) if kept else None


def effective(ctx: RuleContext, principal: Principal) -> Effective:
    """The principal's effective grants, shared by every rule that looks at it in this run."""
    # One slot: the engine runs every rule on one principal before moving to the next, and
    # keeping each principal's answers for the whole run would only cost memory.
    cached = ctx.subjects.get("effective")
    if cached is not None and cached[0] is principal:
        return cached[1]  # type: ignore[no-any-return]
    result = Effective(ctx, principal)
    ctx.subjects["effective"] = (principal, result)
    return result


def action_entry(ctx: RuleContext, st: Statement, action: ActionInfo) -> Location:
    """The Action entry of `st` that grants `action` (the statement itself for NotAction)."""
    if st.not_action:
        return st.actions[0].loc if st.actions else st.loc
    for text, expansion in grant(ctx, st).per_entry:
        if text in ("*", "*:*") or any(a.key == action.key for a in expansion):
            return next(v.loc for v in st.actions if v.text == text)
    return st.loc
