"""What iamlint knows about condition keys and operators, answered from the knowledge tables.

A key is looked up in three places: the global key table (`aws:` keys and the few cross-service
keys AWS documents as global), the web identity table (claims of identity providers), and the
catalogue (service keys, including templated ones such as `s3:ExistingObjectTag/<key>` and
`kms:EncryptionContext:${EncryptionContextKey}`). Keys are compared without regard to case, as
IAM does. Nothing here is read at import: the tables load on first use, once per rule context.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from iamlint.catalog import ActionInfo, Catalog
from iamlint.checks import RuleContext
from iamlint.model import Condition
from iamlint.ruleset import read_data_table

_TEMPLATE_PART = re.compile(r"\$\{[^}]*\}|<[^<>]*>")
_SET_PREFIXES = ("forallvalues:", "foranyvalue:")


@dataclass(frozen=True, slots=True)
class KeyInfo:
    key: str  # as documented
    type: str  # String, ARN, Numeric, Date, Bool, IPAddress, Binary
    multivalued: bool
    origin: str  # "global", "web-identity" or the service prefix whose catalogue defines it


@dataclass(frozen=True, slots=True)
class Operator:
    """A condition operator as written, split into its parts."""

    written: str
    base: str | None  # documented base name, None when IAM knows no such operator
    family: str | None
    negated: bool
    wildcards: bool
    if_exists: bool
    set_qualifier: str | None  # "ForAllValues", "ForAnyValue" or None


@lru_cache(maxsize=8192)
def _template_regex(template: str) -> re.Pattern[str]:
    out, pos = [], 0
    for m in _TEMPLATE_PART.finditer(template):
        out.append(re.escape(template[pos : m.start()]))
        out.append(".+")
        pos = m.end()
    out.append(re.escape(template[pos:]))
    return re.compile("".join(out), re.IGNORECASE)


def _split_type(raw: str) -> tuple[str, bool]:
    """Catalogue types: ArrayOfString -> (String, multivalued)."""
    if raw.startswith("ArrayOf"):
        return raw[len("ArrayOf") :], True
    return raw, False


class KeyTable:
    """Exact keys plus templated keys, looked up case-insensitively.

    `canonical` maps a key as written to the catalogue's name for its family
    (`secretsmanager:ResourceTag/team` -> `secretsmanager:ResourceTag/${TagKey}`), applied to
    the keys stored and to the keys asked about, so that the catalogue's own spellings of one
    family (`.../tag-key`, `.../${TagKey}`, `.../<key>`) all meet.
    """

    def __init__(self, canonical: Callable[[str], str] = str.lower) -> None:
        self.canonical = canonical
        self.exact: dict[str, KeyInfo] = {}
        self.templates: list[tuple[re.Pattern[str], KeyInfo]] = []

    def add(self, info: KeyInfo) -> None:
        self.exact.setdefault(self.canonical(info.key), info)
        if _TEMPLATE_PART.search(info.key):
            self.templates.append((_template_regex(info.key), info))

    def get(self, key: str) -> KeyInfo | None:
        found = self.exact.get(self.canonical(key))
        if found is not None:
            return found
        for regex, info in self.templates:
            if regex.fullmatch(key):
                return info
        return None


class ConditionKnowledge:
    """Answers: which key is this, which type and cardinality, does the statement see it."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        table: Any = read_data_table("global_condition_keys.yaml")
        self.global_keys = KeyTable()
        for e in table["global_keys"]:
            self.global_keys.add(KeyInfo(str(e["key"]), str(e["type"]), bool(e["multivalued"]), "global"))
        self.web_identity = KeyTable()
        for e in table["web_identity_keys"]:
            self.web_identity.add(KeyInfo(str(e["key"]), str(e["type"]), bool(e["multivalued"]), "web-identity"))
        ops: Any = read_data_table("condition_operators.yaml")
        self._operators = {str(o["name"]).lower(): o for o in ops["operators"]}
        self.family_types = {str(f["family"]): tuple(f["key_types"]) for f in ops["families"]}
        self.family_values = {str(f["family"]): str(f["values"]) for f in ops["families"]}
        self.key_families = {str(k["key"]).lower(): tuple(k["families"]) for k in ops["key_exceptions"]}
        self._service_tables: dict[str, KeyTable] = {}
        self._canonical: dict[str, str] = {}
        self._action_keys: dict[int, tuple[KeyInfo, ...]] = {}
        self._unassociated: dict[str, tuple[str, ...]] | None = None
        self._operator_of: dict[str, Operator] = {}

    def canonical(self, key: str) -> str:
        """The catalogue's name for a key's family, lower-case (conditionPatterns.json)."""
        # Statements of large policies ask about the same few hundred keys many times.
        found = self._canonical.get(key)
        if found is None:
            found = self._canonical[key] = self._canonical_uncached(key)
        return found

    def _canonical_uncached(self, key: str) -> str:
        for regex, name in self.catalog.condition_patterns(key.partition(":")[0]):
            if regex.fullmatch(key):
                return name.lower()
        return key.lower()

    # -- operators ------------------------------------------------------------------------
    def operator(self, written: str) -> Operator:
        # Asked by a dozen rules for each condition (59,000 times on the managed policies), of
        # a few dozen distinct spellings; an Operator is immutable, so one serves them all.
        found = self._operator_of.get(written)
        if found is None:
            found = self._operator(written)
            if len(self._operator_of) < 4096:  # bounded: the spellings come from the input
                self._operator_of[written] = found
        return found

    def _operator(self, written: str) -> Operator:
        text = written
        qualifier = None
        for prefix in _SET_PREFIXES:
            if text.lower().startswith(prefix):
                qualifier = "ForAllValues" if prefix.startswith("forall") else "ForAnyValue"
                text = text[len(prefix) :]
                break
        if_exists = text.lower().endswith("ifexists")
        if if_exists:
            text = text[: -len("IfExists")]
        entry = self._operators.get(text.lower())
        if entry is None:
            return Operator(written, None, None, False, False, if_exists, qualifier)
        return Operator(
            written,
            str(entry["name"]),
            str(entry["family"]),
            bool(entry["negated"]),
            bool(entry["wildcards"]),
            if_exists,
            qualifier,
        )

    def operator_names(self) -> list[str]:
        return [str(o["name"]) for o in self._operators.values()]

    def families_for(self, info: KeyInfo) -> tuple[str, ...]:
        """Operator families meant for a key of this type."""
        special = self.key_families.get(info.key.lower())
        if special is not None:
            return special
        return tuple(f for f, types in self.family_types.items() if info.type in types and f != "Null")

    # -- keys -----------------------------------------------------------------------------
    def _service_table(self, service: str) -> KeyTable:
        table = self._service_tables.get(service)
        if table is None:
            table = KeyTable(self.canonical)
            for low, typ in self.catalog.service_condition_keys(service).items():
                base, multi = _split_type(typ)
                table.add(KeyInfo(low, base, multi, service))
            self._service_tables[service] = table
        return table

    def _services_defining(self, prefix: str) -> tuple[str, ...]:
        """Catalogue services whose tables hold keys with this prefix."""
        if self.catalog.service_exists(prefix):
            return (prefix.lower(),)
        if self._unassociated is None:
            self._unassociated = {
                pfx.lower(): services for pfx, services in self.catalog.condition_prefix_services().items()
            }
        direct = self._unassociated.get(prefix.lower())
        if direct is not None:
            return direct
        out: list[str] = []
        for pfx, services in self._unassociated.items():
            if _TEMPLATE_PART.search(pfx) and _template_regex(pfx).fullmatch(prefix):
                out.extend(services)
        return tuple(dict.fromkeys(out))

    def lookup(self, key: str) -> KeyInfo | None:
        """The key's documentation, or None when no table knows it."""
        prefix = key.partition(":")[0]
        # The tables hold facts the catalogue lacks (global keys, multivalued claims), so they
        # are asked first.
        info = self.global_keys.get(key)
        if info is not None:
            return info
        if is_host_prefix(prefix):
            info = self.web_identity.get(key)
            if info is not None:
                return info
        for service in self._services_defining(prefix):
            info = self._service_table(service).get(key)
            if info is not None:
                return info
        return None

    def is_global(self, key: str) -> bool:
        return self.global_keys.get(key) is not None

    def web_identity_claim(self, key: str) -> bool:
        return is_host_prefix(key.partition(":")[0]) and self.web_identity.get(key) is not None

    def statement_keys(self, actions: Iterable[ActionInfo]) -> KeyTable:
        """Every key the given actions (and their resource types) can be conditioned on."""
        table = KeyTable(self.canonical)
        seen: set[str] = set()
        for a in actions:
            keys = self._action_keys.get(id(a))  # ActionInfo objects live as long as the catalogue
            if keys is None:
                names = list(a.condition_keys)
                for rt in self.catalog.action_resource_types(a):
                    names.extend(rt.condition_keys)
                keys = self._action_keys[id(a)] = tuple(KeyInfo(k, "String", False, a.service) for k in names)
            for info in keys:
                if info.key not in seen:  # the first action to name a key decides its origin
                    seen.add(info.key)
                    table.add(info)
        return table

    def services_of(self, key: str) -> tuple[str, ...]:
        return self._services_defining(key.partition(":")[0])


def is_host_prefix(prefix: str) -> bool:
    """Identity-provider claims are prefixed with a host (`token.actions.githubusercontent.com`)."""
    return "." in prefix or "/" in prefix


def knowledge(ctx: RuleContext) -> ConditionKnowledge:
    cached = ctx.cache.get("condition_knowledge")
    if cached is None:
        cached = ctx.cache["condition_knowledge"] = ConditionKnowledge(ctx.catalog)
    return cached


def is_variable_or_placeholder(value: str) -> bool:
    return "${" in value or ("<" in value and ">" in value)


def constrains(k: ConditionKnowledge, cond: Condition) -> bool:
    """Does this condition really narrow the requests it admits?

    A negated operator is true when the key is absent (IAM User Guide, condition operators),
    `...IfExists` is true when the key is absent, Null tests presence only, and a value that is
    only a wildcard under a pattern operator matches anything.
    """
    op = k.operator(cond.operator)
    if op.base is None or op.negated or op.if_exists or op.family == "Null":
        return False
    if op.set_qualifier == "ForAllValues":
        return False  # true when the key is absent
    return any(cond.values) and not admits_any_value(k, cond)


def admits_any_value(k: ConditionKnowledge, cond: Condition) -> bool:
    """A pattern operator (StringLike, ArnLike...) with a value that is only wildcards: the
    values are alternatives, so it matches whatever value the key has, when it has one."""
    return k.operator(cond.operator).wildcards and any(v and set(v) <= {"*", "?"} for v in cond.values)
