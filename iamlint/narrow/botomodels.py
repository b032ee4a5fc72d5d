"""botocore's and boto3's own service models as lookups for the call recorder and code analysis.

Questions answered here, each from the models botocore ships rather than a copied list:
- which botocore client a client-side-monitoring `Service` (a service id such as
  "CloudWatch Logs"), a JavaScript SDK v3 package (`@aws-sdk/client-cloudwatch-logs`) or a v2
  class (`AWS.CloudWatchLogs`) stands for, and the IAM prefix its signing name maps to;
- the exact operation name behind a Python method (`list_objects_v2` -> `ListObjectsV2`) or a
  JavaScript one (`listObjectsV2`), a paginator or a waiter;
- boto3's resource models (`Table.get_item` -> `GetItem` with `TableName` from the table).
botocore is imported on first use only; each lookup is cached for the process.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from iamlint.narrow.apitable import get_table

# The head of each service-2.json holds its metadata; reading 4 KB of each of the 400-odd
# files takes about 0.1 s, where parsing them all takes 8 s.
_HEAD = 8192
_META = {
    key: re.compile(rb'"' + key.encode() + rb'"\s*:\s*"([^"]+)"')
    for key in ("serviceId", "signingName", "endpointPrefix")
}


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    name: str  # botocore client name, e.g. "logs"
    service_id: str  # e.g. "CloudWatch Logs"
    signing_name: str  # e.g. "logs"; the endpoint prefix when the model names none

    @property
    def iam_prefix(self) -> str:
        return get_table().service_for_host(self.signing_name).iam_prefix


def _loader() -> Any:
    import botocore.loaders  # type: ignore[import-untyped, unused-ignore]  # noqa: PLC0415 - only the recorder and --from-code need it

    return _cached_loader(botocore.loaders)


@cache
def _cached_loader(module: Any) -> Any:
    paths = []
    try:
        import boto3  # type: ignore[import-untyped, unused-ignore]  # noqa: PLC0415 - boto3 ships the resource models

        paths.append(str(Path(boto3.__file__).parent / "data"))
    except ImportError:
        pass
    return module.Loader(extra_search_paths=paths)


@cache
def services() -> dict[str, ServiceInfo]:
    """Every botocore client by name."""
    out: dict[str, ServiceInfo] = {}
    for name in sorted(_names()):
        meta = _one(name)
        if meta is not None:
            out[name] = meta
    return out


def _metadata(loader: Any, name: str) -> ServiceInfo | None:
    try:
        version = loader.determine_latest_version(name, "service-2")
    except Exception:  # noqa: BLE001 - a broken data folder must not stop the others
        return None
    found: dict[str, str] = {}
    for base in loader.search_paths:
        for suffix in ("service-2.json.gz", "service-2.json"):
            path = Path(base) / name / version / suffix
            if path.is_file():
                opener = gzip.open if suffix.endswith(".gz") else open
                with opener(path, "rb") as fh:
                    head = fh.read(_HEAD)
                for key, pattern in _META.items():
                    match = pattern.search(head)
                    if match:
                        found[key] = match.group(1).decode()
                break
        if found:
            break
    if "serviceId" not in found or not ("signingName" in found or "endpointPrefix" in found):
        metadata = loader.load_service_model(name, "service-2")["metadata"]
        found = {k: v for k, v in metadata.items() if isinstance(v, str)}
    return ServiceInfo(name, found["serviceId"], found.get("signingName") or found["endpointPrefix"])


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


@cache
def _by_key() -> dict[str, dict[str, ServiceInfo]]:
    by_id: dict[str, ServiceInfo] = {}
    by_package: dict[str, ServiceInfo] = {}
    by_norm: dict[str, ServiceInfo] = {}
    for info in services().values():
        by_id.setdefault(info.service_id, info)
        # @aws-sdk/client-<x>: the service id in lower case with hyphens (the SDK's codegen).
        by_package.setdefault(re.sub(r"\s+", "-", info.service_id.strip().lower()), info)
        by_norm.setdefault(_norm(info.service_id), info)
    for info in services().values():
        by_norm.setdefault(_norm(info.name), info)
    return {"id": by_id, "package": by_package, "norm": by_norm}


def service(name: str) -> ServiceInfo | None:
    return _one(name) if name in _names() else None


@cache
def _names() -> frozenset[str]:
    return frozenset(_loader().list_available_services("service-2"))


@cache
def _one(name: str) -> ServiceInfo | None:
    return _metadata(_loader(), name)


def _quick(text: str) -> ServiceInfo | None:
    """Most clients are named after their service id: look at that one model before all."""
    for name in (re.sub(r"\s+", "-", text.strip().lower()), _norm(text)):
        info = service(name)
        if info is not None and _norm(info.service_id) == _norm(text):
            return info
    return None


def by_service_id(service_id: str) -> ServiceInfo | None:
    """The client a CSM datagram's `Service` names ("DynamoDB", "CloudWatch Logs")."""
    quick = _quick(service_id)
    if quick is not None:
        return quick
    keys = _by_key()
    return keys["id"].get(service_id) or keys["norm"].get(_norm(service_id))


def by_js_package(package: str) -> ServiceInfo | None:
    """`@aws-sdk/client-secrets-manager` -> secretsmanager."""
    short = package.removeprefix("@aws-sdk/").removeprefix("client-")
    quick = _quick(short)
    if quick is not None:
        return quick
    return _by_key()["package"].get(short) or _by_key()["norm"].get(_norm(short))


def by_v2_class(name: str) -> ServiceInfo | None:
    """`AWS.CloudWatchLogs` -> logs (the v2 SDK names classes after the service id)."""
    return _quick(name) or _by_key()["norm"].get(_norm(name))


@cache
def operations(service_name: str) -> dict[str, str]:
    """Python method name and lower-cased operation name -> operation name."""
    from botocore import xform_name  # type: ignore[import-untyped, unused-ignore]  # noqa: PLC0415

    model = _loader().load_service_model(service_name, "service-2")
    out: dict[str, str] = {}
    for op in model.get("operations", {}):
        out[xform_name(op)] = op
        out.setdefault(op.lower(), op)
    return out


def operation_for(service_name: str, method: str) -> str | None:
    """`list_objects_v2` or `listObjectsV2` -> `ListObjectsV2` (None when not an operation)."""
    try:
        ops = operations(service_name)
    except Exception:  # noqa: BLE001 - an unknown service is simply not a client
        return None
    return ops.get(method) or ops.get(method.lower())


def waiter_operation(service_name: str, waiter: str) -> str | None:
    """`table_exists` / `TableExists` -> the operation the waiter polls (`DescribeTable`)."""
    try:
        model = _loader().load_service_model(service_name, "waiters-2")
    except Exception:  # noqa: BLE001 - services without waiters
        return None
    from botocore import xform_name  # type: ignore[import-untyped, unused-ignore]  # noqa: PLC0415

    for name, spec in model.get("waiters", {}).items():
        if waiter in (name, xform_name(name)):
            op = spec.get("operation")
            return op if isinstance(op, str) else None
    return None


def resource_model(service_name: str) -> dict[str, Any] | None:
    """boto3's resource model of a service (`resources-1.json`), when boto3 has one."""
    return _resource_model(service_name)


@cache
def _resource_model(service_name: str) -> dict[str, Any] | None:
    try:
        model = _loader().load_service_model(service_name, "resources-1")
    except Exception:  # noqa: BLE001 - most services have no resource model
        return None
    return model if isinstance(model, dict) else None


def python_name(name: str) -> str:
    from botocore import xform_name  # type: ignore[import-untyped, unused-ignore]  # noqa: PLC0415

    return str(xform_name(name))
