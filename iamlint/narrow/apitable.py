"""The irregular API-to-IAM table (`rules/data/api_iam_irregular.yaml`) as typed lookups.

Three questions are answered here, for both the evidence readers and the mapping:
- which IAM prefix and botocore client a CloudTrail event source or signing name stands for
  (`monitoring.amazonaws.com` is CloudWatch, `email` is SES);
- which actions an operation needs when it is not simply `<prefix>:<Operation>`;
- which operations no identity policy controls (`sts:GetCallerIdentity`).
The table is read on first use, never at import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

TABLE = "api_iam_irregular.yaml"

# CloudTrail event names of some services carry the API version after the operation:
# Lambda's `UpdateFunctionCode20150331v2`, CloudFront's `CreateDistribution2020_05_31`
# (AWS Lambda Developer Guide, "Logging AWS Lambda API calls using AWS CloudTrail").
_VERSION_SUFFIX = re.compile(r"^(?P<op>[A-Za-z][A-Za-z0-9]*?[A-Za-z])(?:\d{8}|\d{4}_\d{2}_\d{2})(?:v\d+)?$")
_SERVICE_DOMAIN = re.compile(r"\.amazonaws\.com(?:\.cn)?$|\.amazonaws-us-gov\.com$|\.api\.aws$")


@dataclass(frozen=True, slots=True)
class Conditional:
    when: str  # prose from the table, e.g. "a versionId is given"
    actions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Irregular:
    service: str  # IAM prefix of the actions
    api: str  # botocore client the operation belongs to
    operation: str  # with any CloudTrail version suffix removed
    actions: tuple[str, ...]
    conditional: tuple[Conditional, ...]
    source: str
    notes: str | None
    on_copy_source: tuple[str, ...] = ()  # actions authorised on the object a copy reads


@dataclass(frozen=True, slots=True)
class NoPermission:
    api: str
    operation: str
    action: str | None
    source: str
    notes: str | None


@dataclass(frozen=True, slots=True)
class ServiceName:
    """What a CloudTrail event source host (or signing name) stands for."""

    host: str  # e.g. "monitoring"
    iam_prefix: str  # e.g. "cloudwatch"
    api: str  # botocore client name, e.g. "cloudwatch"


def strip_version(event_name: str) -> str:
    """`UpdateFunctionCode20150331v2` -> `UpdateFunctionCode`; other names unchanged."""
    match = _VERSION_SUFFIX.match(event_name)
    return match.group("op") if match else event_name


def event_source_host(event_source: str) -> str:
    """`monitoring.amazonaws.com` -> `monitoring` (also for China and GovCloud domains)."""
    return _SERVICE_DOMAIN.sub("", event_source.strip().lower())


class ApiTable:
    """Typed lookups over the irregular table."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.irregular_entries = tuple(_irregular(e) for e in raw.get("operations") or ())
        self.no_permission_entries = tuple(
            NoPermission(
                api=e["api"],
                operation=e["operation"],
                action=e.get("action"),
                source=e["source"],
                notes=e.get("notes"),
            )
            for e in raw.get("no_permission_needed") or ()
        )
        self._hosts: dict[str, ServiceName] = {}
        self._seen: dict[str, ServiceName] = {}
        self._client_prefix: dict[str, str] = {}
        for entry in raw.get("signing_names") or ():
            name, prefix, client = entry["name"], entry["iam_prefix"], entry["boto3_client"]
            self._client_prefix.setdefault(client, prefix)
            # Where the name is itself the IAM prefix (`rds`, `apigateway`) several clients
            # share it, and the host keeps its own name as the client name.
            api = name if name == prefix else client
            self._hosts.setdefault(name.lower(), ServiceName(name, prefix, api))
        self._irregular: dict[tuple[str, str], Irregular] = {}
        for op in self.irregular_entries:  # first by client name ...
            self._irregular.setdefault((op.api, op.operation), op)
        for op in self.irregular_entries:  # ... then by IAM prefix where that is free
            self._irregular.setdefault((op.service, op.operation), op)
        self._no_permission: dict[tuple[str, str], NoPermission] = {}
        for np in self.no_permission_entries:
            self._no_permission.setdefault((np.api, np.operation), np)
            prefix = self._client_prefix.get(np.api)
            if prefix is not None:
                self._no_permission.setdefault((prefix, np.operation), np)

    def service_for_host(self, host: str) -> ServiceName:
        """The IAM prefix and client for an event source host or signing name."""
        cached = self._seen.get(host)
        if cached is None:
            key = event_source_host(host)
            cached = self._hosts.get(key) or ServiceName(key, key, key)
            if len(self._seen) < 4096:  # event sources are few; a hostile log cannot grow this
                self._seen[host] = cached
        return cached

    def irregular(self, api: str | None, prefix: str, operation: str) -> Irregular | None:
        if api:
            found = self._irregular.get((api, operation))
            if found is not None:
                return found
        return self._irregular.get((prefix, operation))

    def no_permission(self, api: str | None, prefix: str, operation: str) -> NoPermission | None:
        if api:
            found = self._no_permission.get((api, operation))
            if found is not None:
                return found
        return self._no_permission.get((prefix, operation))


def _irregular(entry: dict[str, Any]) -> Irregular:
    return Irregular(
        service=entry["service"],
        api=entry.get("api", entry["service"]),
        operation=strip_version(entry["operation"]),
        actions=tuple(entry.get("actions") or ()),
        conditional=tuple(
            Conditional(when=c["when"], actions=tuple(c["actions"])) for c in entry.get("conditional") or ()
        ),
        source=entry["source"],
        notes=entry.get("notes"),
        on_copy_source=tuple(entry.get("on_copy_source") or ()),
    )


@cache
def get_table() -> ApiTable:
    """The shipped table, read once per process on first use."""
    from iamlint.ruleset import read_data_table  # noqa: PLC0415 - keeps PyYAML off the import path

    raw = read_data_table(TABLE)
    if not isinstance(raw, dict):
        raise TypeError(f"{TABLE}: expected a mapping at the top level")
    return ApiTable(raw)
