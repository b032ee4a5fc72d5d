"""The typed policy model shared by every stage: documents, statements, provenance, findings.

Loaders build these from raw input; everything after the loaders works on these frozen values
only. Every element keeps where it came from (file, line, column, JSON path, and for templates
the logical id and CDK construct path), so that a finding can point at the line a person edits.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields, replace
from operator import attrgetter
from typing import Any, TypeVar

_D = TypeVar("_D")


def _pickled_by_fields(cls: type[_D]) -> type[_D]:
    """Pickle as the constructor and its field values, in order.

    Worker processes send their findings to the parent (`runner.check_paths`): 11,666 of them,
    with their locations, sources and evidence, on the managed-policy bench. A slotted
    dataclass pickles its state with a per-field loop and loads it with one setattr per field;
    the constructor's arguments, read by one attrgetter, take half the time both ways.
    """
    own = fields(cls)  # type: ignore[arg-type]
    if len(own) < 2 or not all(f.init for f in own):  # attrgetter gives a tuple for two names or more
        raise TypeError(f"{cls.__name__}: every field must be a constructor argument, two or more")
    values = attrgetter(*(f.name for f in own))

    def __reduce__(self: Any) -> tuple[object, ...]:
        return cls, values(self)

    cls.__reduce__ = __reduce__  # type: ignore[method-assign]
    return cls


class Severity(enum.IntEnum):
    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(s.name.lower() for s in cls)
            raise ValueError(f"unknown severity {text!r} (expected one of: {names})") from None

    @property
    def label(self) -> str:
        return self.name.lower()

    def lowered(self, steps: int = 1) -> Severity:
        return Severity(max(Severity.INFO, self - steps))

    def raised(self, steps: int = 1) -> Severity:
        return Severity(min(Severity.CRITICAL, self + steps))


class PolicyKind(enum.Enum):
    IDENTITY = "identity"  # attached to a user, group or role
    RESOURCE = "resource"  # on a bucket, queue, key, function...
    TRUST = "trust"  # a role's AssumeRolePolicyDocument
    BOUNDARY = "boundary"  # a permissions boundary
    UNKNOWN = "unknown"  # a bare document whose use we cannot tell


PathKey = str | int


def render_path(keys: tuple[PathKey, ...]) -> str:
    """A JSON path for people: $.Statement[0].Action[2]."""
    out = "$"
    for key in keys:
        out += f"[{key}]" if isinstance(key, int) else f".{key}"
    return out


# The file name findings give standard input (`-`), unless --stdin-filename names its file.
STDIN = "<stdin>"


@_pickled_by_fields
@dataclass(frozen=True, slots=True)
class Location:
    """Where an element is. Loaders fill `keys` (the path from the file's root); line and
    column are looked up only for elements a finding points at, since that lookup needs a
    scan of the file that most runs never pay for."""

    file: str
    line: int | None = None
    column: int | None = None
    keys: tuple[PathKey, ...] = ()
    logical_id: str | None = None  # CloudFormation logical id, when from a template
    construct_path: str | None = None  # CDK construct path, when known

    @property
    def path(self) -> str:
        return render_path(self.keys)

    def render(self) -> str:
        if self.line is None:
            return self.file
        return f"{self.file}:{self.line}:{self.column or 1}"


_LOCATION_SLOTS = tuple(
    Location.__dict__[name].__set__ for name in ("file", "line", "column", "keys", "logical_id", "construct_path")
)


def new_location(
    file: str,
    line: int | None,
    column: int | None,
    keys: tuple[PathKey, ...],
    logical_id: str | None,
    construct_path: str | None,
) -> Location:
    """`Location(...)` with every field given, for the places that make one per policy element
    (the parser) or per finding: the dataclass __init__ sets each of the six slots with
    object.__setattr__, which looks the name up every time; here each slot is set through its
    own descriptor (as `Value.item` does)."""
    set_file, set_line, set_column, set_keys, set_logical_id, set_construct_path = _LOCATION_SLOTS
    loc = object.__new__(Location)
    set_file(loc, file)
    set_line(loc, line)
    set_column(loc, column)
    set_keys(loc, keys)
    set_logical_id(loc, logical_id)
    set_construct_path(loc, construct_path)
    return loc


@_pickled_by_fields
@dataclass(frozen=True, slots=True)
class Source:
    """What a policy belongs to (a role, a function, a bucket...) and how it got there."""

    kind: str  # "file", "role", "user", "group", "function", "state-machine", "bucket", ...
    name: str
    logical_id: str | None = None
    construct_path: str | None = None
    arn: str | None = None
    policy_name: str | None = None  # inline policy name or managed policy ARN
    via: str | None = None  # how it was attached, e.g. "SAM Policies[1]" or "ManagedPolicyArns"
    condition: str | None = None  # CloudFormation condition (Fn::If) this branch depends on
    used_by: tuple[str, ...] = ()  # workloads that run with this role ("function OrdersFunction")
    attached_to: tuple[str, ...] = ()  # principals a shared policy is attached to ("role A")

    def describe(self) -> str:
        text = f"{self.kind} {self.name}"
        if self.construct_path:
            text += f" ({self.construct_path})"
        if self.attached_to:
            text += f" attached to {_some(self.attached_to)}"
        if self.used_by:
            text += f" used by {_some(self.used_by)}"
        if self.policy_name:
            text += f", policy {self.policy_name}"
        if self.via:
            text += f", via {self.via}"
        if self.condition:
            text += f", when condition {self.condition}"
        return text


def _some(names: tuple[str, ...], limit: int = 5) -> str:
    """A list for people: a large account attaches one policy to thousands of principals."""
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"


class Value:
    """One string from a policy (an action, a resource, a principal) and where it is.

    Immutable, compared and hashed by (text, loc) like the other model values. An item of a
    list keeps its list's location and its index rather than a location of its own, and a lone
    string its mapping's location and its key (`Value.item`); its own is made when asked for:
    a large account's policies hold a hundred thousand values, and findings point at a few of
    them.
    """

    __slots__ = ("_index", "_where", "text")
    text: str
    _where: Location  # the value's own location, or its list's or mapping's
    _index: PathKey | None  # its index in that list or key in that mapping, if any

    def __init__(self, text: str, loc: Location) -> None:
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "_where", loc)
        object.__setattr__(self, "_index", None)

    @classmethod
    def item(cls, text: str, within: Location, step: PathKey) -> Value:
        """Item `step` of the list at `within`, or the string at key `step` of the mapping
        there (a statement's lone Action: 22,000 on the bench's 3,000-role dump)."""
        # Made for every entry of every policy (68,000 on the managed-policy bench): the slots
        # are set through their own descriptors, which object.__setattr__ would look up by
        # name each time.
        value = object.__new__(cls)
        _set_text(value, text)
        _set_where(value, within)
        _set_index(value, step)
        return value

    @classmethod
    def items(cls, texts: Iterable[str], within: Location) -> tuple[Value, ...]:
        """`Value.item(text, within, i)` for each of `texts` in turn, `i` from 0: the parser
        makes a whole list's at once, without a call per entry."""
        new = object.__new__
        out = []
        for index, text in enumerate(texts):
            value = new(cls)
            _set_text(value, text)
            _set_where(value, within)
            _set_index(value, index)
            out.append(value)
        return tuple(out)

    @property
    def anchor(self) -> tuple[Location, PathKey | None]:
        """The value's own location and None, or its list's location and its index, or its
        mapping's location and its key: what `loc` is made from, without making it."""
        return self._where, self._index

    @property
    def loc(self) -> Location:
        where, index = self._where, self._index
        if index is None:
            return where
        return new_location(where.file, None, None, (*where.keys, index), where.logical_id, where.construct_path)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Value is immutable: cannot set {name}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Value):
            return NotImplemented
        return self.text == other.text and self.loc == other.loc

    def __hash__(self) -> int:
        return hash((self.text, self.loc))

    def __repr__(self) -> str:
        return f"Value(text={self.text!r}, loc={self.loc!r})"

    def __reduce__(self) -> tuple[object, ...]:
        return (Value, (self.text, self.loc))


_set_text = Value.__dict__["text"].__set__
_set_where = Value.__dict__["_where"].__set__
_set_index = Value.__dict__["_index"].__set__


@dataclass(frozen=True, slots=True)
class Principal:
    kind: str  # "*" for the bare wildcard, else AWS, Service, Federated, CanonicalUser
    value: Value


@dataclass(frozen=True, slots=True)
class Condition:
    operator: str  # as written, e.g. "ForAnyValue:StringLikeIfExists"
    key: str
    values: tuple[str, ...]
    loc: Location

    @property
    def base_operator(self) -> str:
        """The operator without set qualifier and IfExists suffix."""
        op = self.operator.split(":", 1)[-1]
        return op.removesuffix("IfExists")


@dataclass(frozen=True, slots=True)
class Statement:
    index: int
    effect: str  # "Allow" or "Deny" (validated by the parser)
    sid: str | None
    action_key: str  # "Action" or "NotAction"
    actions: tuple[Value, ...]
    resource_key: str | None  # "Resource", "NotResource" or None (trust policies)
    resources: tuple[Value, ...]
    principal_key: str | None  # "Principal", "NotPrincipal" or None
    principals: tuple[Principal, ...]
    conditions: tuple[Condition, ...]
    loc: Location
    # The texts of `actions` and `resources`, kept once because every rule reads them.
    action_texts: tuple[str, ...] = ()
    resource_texts: tuple[str, ...] = ()

    @property
    def is_allow(self) -> bool:
        return self.effect == "Allow"

    @property
    def not_action(self) -> bool:
        return self.action_key == "NotAction"

    @property
    def not_resource(self) -> bool:
        return self.resource_key == "NotResource"


_STATEMENT_SLOTS = tuple(
    Statement.__dict__[name].__set__
    for name in (
        "index",
        "effect",
        "sid",
        "action_key",
        "actions",
        "resource_key",
        "resources",
        "principal_key",
        "principals",
        "conditions",
        "loc",
        "action_texts",
        "resource_texts",
    )
)


def new_statement(
    *,
    index: int,
    effect: str,
    sid: str | None,
    action_key: str,
    actions: tuple[Value, ...],
    resource_key: str | None,
    resources: tuple[Value, ...],
    principal_key: str | None,
    principals: tuple[Principal, ...],
    conditions: tuple[Condition, ...],
    loc: Location,
    action_texts: tuple[str, ...],
    resource_texts: tuple[str, ...],
) -> Statement:
    """`Statement(...)` with every field given, for the parser (10,462 statements on the
    3,000-role audit): each of the thirteen slots set through its own descriptor rather than
    by object.__setattr__, which looks the name up every time (as `Value.item` does)."""
    (
        set_index,
        set_effect,
        set_sid,
        set_action_key,
        set_actions,
        set_resource_key,
        set_resources,
        set_principal_key,
        set_principals,
        set_conditions,
        set_loc,
        set_action_texts,
        set_resource_texts,
    ) = _STATEMENT_SLOTS
    st = object.__new__(Statement)
    set_index(st, index)
    set_effect(st, effect)
    set_sid(st, sid)
    set_action_key(st, action_key)
    set_actions(st, actions)
    set_resource_key(st, resource_key)
    set_resources(st, resources)
    set_principal_key(st, principal_key)
    set_principals(st, principals)
    set_conditions(st, conditions)
    set_loc(st, loc)
    set_action_texts(st, action_texts)
    set_resource_texts(st, resource_texts)
    return st


@dataclass(frozen=True, slots=True)
class PolicyDocument:
    version: str | None
    statements: tuple[Statement, ...]
    loc: Location
    kind: PolicyKind = PolicyKind.UNKNOWN
    source: Source | None = None
    name: str | None = None  # inline policy name, managed policy name or file name
    # Looks up line and column for a path in the document's file (see Location).
    marker: Callable[[tuple[PathKey, ...]], tuple[int, int] | None] | None = field(
        default=None, compare=False, repr=False
    )

    def locate(self, loc: Location) -> Location:
        """`loc` with its line and column filled in, when they can be found."""
        if loc.line is not None or self.marker is None:
            return loc
        mark = self.marker(loc.keys)
        if mark is None:
            return loc
        return new_location(loc.file, mark[0], mark[1], loc.keys, loc.logical_id, loc.construct_path)


@_pickled_by_fields
@dataclass(frozen=True, slots=True)
class Evidence:
    actions: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    conditions: tuple[str, ...] = ()  # condition keys taken into account
    notes: tuple[str, ...] = ()


@_pickled_by_fields
@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    name: str
    severity: Severity
    category: str
    message: str
    fix: str
    location: Location
    statement_index: int | None = None
    statement_sid: str | None = None
    source: Source | None = None
    evidence: Evidence = field(default_factory=Evidence)
    is_error: bool = False  # input or internal errors: exit 2 whatever the severity
    # What the statement grants, hashed (fingerprints.statement_signature): lets baselines and
    # SARIF fingerprints follow a statement that moves. Empty when there is no statement.
    signature: str = ""
    # The statement's Action entries as written (empty for NotAction; None without a statement),
    # so that fingerprints name a glob rather than the catalogue's expansion of it.
    written_actions: tuple[str, ...] | None = None

    def with_severity(self, severity: Severity) -> Finding:
        return replace(self, severity=severity)


_FINDING_FIELDS = (
    "rule",
    "name",
    "severity",
    "category",
    "message",
    "fix",
    "location",
    "statement_index",
    "statement_sid",
    "source",
    "evidence",
    "is_error",
    "signature",
    "written_actions",
)
_FINDING_SLOTS = tuple(Finding.__dict__[name].__set__ for name in _FINDING_FIELDS)


def new_finding(
    *,
    rule: str,
    name: str,
    severity: Severity,
    category: str,
    message: str,
    fix: str,
    location: Location,
    statement_index: int | None,
    statement_sid: str | None,
    source: Source | None,
    evidence: Evidence,
    is_error: bool,
    signature: str,
    written_actions: tuple[str, ...] | None,
) -> Finding:
    """`Finding(...)` with every field given, for the engine, which makes one per hit (19,448 on
    the 3,000-role audit): the dataclass __init__ sets each of the fourteen slots with
    object.__setattr__, which looks the name up every time; here each slot is set through its
    own descriptor (as `Value.item` does)."""
    (
        set_rule,
        set_name,
        set_severity,
        set_category,
        set_message,
        set_fix,
        set_location,
        set_index,
        set_sid,
        set_source,
        set_evidence,
        set_is_error,
        set_signature,
        set_written,
    ) = _FINDING_SLOTS
    finding = object.__new__(Finding)
    set_rule(finding, rule)
    set_name(finding, name)
    set_severity(finding, severity)
    set_category(finding, category)
    set_message(finding, message)
    set_fix(finding, fix)
    set_location(finding, location)
    set_index(finding, statement_index)
    set_sid(finding, statement_sid)
    set_source(finding, source)
    set_evidence(finding, evidence)
    set_is_error(finding, is_error)
    set_signature(finding, signature)
    set_written(finding, written_actions)
    return finding


@dataclass(frozen=True, slots=True)
class InputError:
    """An input that could not be read or understood at all."""

    file: str
    message: str
    line: int | None = None
    column: int | None = None
    keys: tuple[PathKey, ...] = ()

    def render(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}:{self.column or 1}"
        return f"{where}: {self.message}"
