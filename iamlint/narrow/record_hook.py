"""Loaded into a Python program that `iamlint record` runs: writes down each botocore API call.

`iamlint record` copies this file into a private folder next to a two-line `sitecustomize.py`
and puts that folder first on the child's PYTHONPATH, so Python's `site` module loads it at
start-up (Python docs, "site - Site-specific configuration hook"). Nothing is imported then:
a finder waits for the program to import `botocore.client` and wraps
`BaseClient._make_api_call`, through which every client call goes (resource objects,
paginators and waiters included), once per call whatever its retries. Each call becomes one
JSON line, appended to the file named by IAMLINT_RECORD_FILE: client, signing name, operation,
region, time, outcome and the request parameters minus the data they carry (object bodies,
items, message bodies, secret values), which no IAM decision depends on.

A `sitecustomize` the environment already had is run after this one, as if nothing had
shadowed it. The file stands alone on purpose, standard library only and Python 3.8 syntax:
the recorded program may run under another interpreter or virtual environment without iamlint.
Recording must never break the program: any failure here is swallowed.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
from typing import Any

ENV_FILE = "IAMLINT_RECORD_FILE"
TARGET = "botocore.client"

# Parameters that carry data rather than name a resource or choose an action.
_DATA_KEYS = frozenset(
    k.lower()
    for k in (
        "Body",
        "Item",
        "Items",
        "Key",
        "Keys",
        "ExpressionAttributeValues",
        "AttributeUpdates",
        "Expected",
        "ExclusiveStartKey",
        "Parameters",
        "MessageBody",
        "MessageAttributes",
        "MessageSystemAttributes",
        "Message",
        "Subject",
        "SecretString",
        "SecretBinary",
        "Value",
        "Payload",
        "ClientContext",
        "Data",
        "Records",
        "Detail",
        "Plaintext",
        "CiphertextBlob",
        "SSECustomerKey",
        "CopySourceSSECustomerKey",
        "Metadata",
        "Content",
        "Document",
        "Blob",
        "Bytes",
        "Text",
        "Input",
        "Output",
        "Definition",
        "ZipFile",
    )
)
# Secrets by any name.
_SECRET_WORDS = ("password", "token", "secretaccesskey", "privatekey", "passphrase", "credential")
_MAX_TEXT = 2048
_MAX_ITEMS = 100
_MAX_DEPTH = 6


def install(site_file: str) -> None:
    """Called by the generated sitecustomize: hook botocore, then run the shadowed one."""
    try:
        if os.environ.get(ENV_FILE):
            module = sys.modules.get(TARGET)
            if module is not None:
                _patch(module)
            else:
                sys.meta_path.insert(0, _Finder())
    except Exception:  # noqa: BLE001, S110 - recording must never break the program
        pass
    _chain(os.path.dirname(os.path.abspath(site_file)))


def _chain(own_dir: str) -> None:
    import importlib.machinery  # noqa: PLC0415 - only when chaining
    import importlib.util  # noqa: PLC0415 - only when chaining

    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != own_dir]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


class _Finder:
    """Meta path finder that hands out `botocore.client` with a loader that patches it."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != TARGET:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _PatchingLoader(spec.loader)
        return spec


class _PatchingLoader:
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def create_module(self, spec: Any) -> Any:
        return self._inner.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._inner.exec_module(module)
        sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _Finder)]
        try:
            _patch(module)
        except Exception:  # noqa: BLE001, S110 - recording must never break the program
            pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _patch(module: Any) -> None:
    base = module.BaseClient
    original = base._make_api_call
    if getattr(original, "_iamlint_recorded", False):
        return

    def _make_api_call(self: Any, operation_name: str, api_params: Any) -> Any:
        started = _now()
        try:
            result = original(self, operation_name, api_params)
        except Exception as exc:
            _safe_write(self, operation_name, api_params, _error_code(exc), started)
            raise
        _safe_write(self, operation_name, api_params, None, started)
        return result

    _make_api_call._iamlint_recorded = True  # type: ignore[attr-defined]
    _make_api_call.__wrapped__ = original  # type: ignore[attr-defined]
    base._make_api_call = _make_api_call


def _now() -> str:
    # datetime.UTC is Python 3.11+; the recorded program may run an older Python.
    now = datetime.datetime.now(datetime.timezone.utc)  # noqa: UP017
    return now.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = (response.get("Error") or {}).get("Code")
        if isinstance(code, str) and code:
            return code
    return type(exc).__name__


def _safe_write(client: Any, operation: str, params: Any, error: str | None, started: str) -> None:
    try:
        model = client.meta.service_model
        entry = {
            "service": model.service_name,
            "signing_name": model.signing_name,
            "service_id": str(model.service_id),
            "operation": operation,
            "region": client.meta.region_name,
            "endpoint": client.meta.endpoint_url,
            "time": started,
            "parameters": _clean(params, 0),
            "error": error,
            "pid": os.getpid(),
        }
        line = (json.dumps(entry, separators=(",", ":"), default=str) + "\n").encode("utf-8")
        fd = os.open(os.environ[ENV_FILE], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)  # one write per line: appends from several processes do not mix
        finally:
            os.close(fd)
    except Exception:  # noqa: BLE001, S110 - recording must never break the program
        pass


def _clean(value: Any, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        return None
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str) or _is_data(key, item):
                continue
            cleaned = _clean(item, depth + 1)
            if cleaned is not None:
                out[key] = cleaned
        return out
    if isinstance(value, (list, tuple)):
        items = [_clean(v, depth + 1) for v in list(value)[:_MAX_ITEMS]]
        return [v for v in items if v is not None]
    if isinstance(value, str):
        return value if len(value) <= _MAX_TEXT else None
    if isinstance(value, (bool, int, float)):
        return value
    return None  # bytes, files, streams, datetimes: data, not names


def _is_data(key: str, value: Any) -> bool:
    lower = key.lower()
    if any(word in lower for word in _SECRET_WORDS):
        return True
    if lower in _DATA_KEYS:
        # S3's `Key` is the object's name and decides its ARN; DynamoDB's `Key` is item data.
        return not (lower == "key" and isinstance(value, str))
    return False
