"""Observed-call readers: log files in, `Call` values (see `calls`) out.

Sources: CloudTrail logs as S3 delivers them (`{"Records": [...]}`, `.json` or `.json.gz`), bare
JSON arrays, JSON lines, CloudTrail Lake exports (get-query-results JSON, saved CSV results),
Event history (`lookup-events`) output, and iamlint's own evidence files (JSON lines written by
`write_evidence_file`). Reading is streamed (see `jsonstream`): memory does not grow with the
input. Bad input never raises: each problem is yielded as an `EvidenceError` and reading goes
on with the next record or, where the file cannot be resynchronised, the next file.
"""

from __future__ import annotations

import io
import json
import os
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iamlint.narrow.apitable import get_table, strip_version
from iamlint.narrow.calls import Call, EvidenceError, matches_principal, session_of
from iamlint.narrow.jsonstream import StreamError, TextWindow, iter_elements, open_binary
from iamlint.narrow.lake import iter_csv_rows, to_record

__all__ = [
    "Call",
    "EvidenceError",
    "ReadStats",
    "matches_principal",
    "read_cloudtrail",
    "read_evidence_file",
    "session_of",
    "write_evidence_file",
]

# What a directory walk reads (`.gz` covers `.json.gz` and Lake's `result_1.csv.gz`).
_READABLE_SUFFIXES = (".json", ".jsonl", ".ndjson", ".csv", ".gz")
# Files that sit next to CloudTrail logs but hold no events: trail digests and Lake result
# signatures (CloudTrail User Guide, "Validating CloudTrail log file integrity").
_NOT_EVENTS = ("CloudTrail-Digest",)
_NOT_EVENT_FILES = ("result_sign.json",)
# Event types that are not API calls made by the principal (CloudTrail record contents).
_NOT_CALLS = {
    "AwsServiceEvent": "service event",
    "AwsConsoleSignIn": "console sign-in",
    "AwsConsoleAction": "console action",
    "AwsCloudTrailInsight": "insight event",
    "AwsVpceEvent": "VPC endpoint event",
}


@dataclass(slots=True)
class ReadStats:
    """Counts kept while reading; pass one in to see what was skipped and why."""

    files: int = 0
    records: int = 0
    calls: int = 0
    errors: int = 0
    forwarded: int = 0  # calls a service made with the principal's credentials, kept
    skipped: Counter[str] = field(default_factory=Counter)


# -- reading CloudTrail --------------------------------------------------------------------


def read_cloudtrail(
    paths: Iterable[str | Path],
    *,
    stats: ReadStats | None = None,
    include_forwarded: bool = True,
) -> Iterator[Call | EvidenceError]:
    """Calls recorded in CloudTrail files and directory trees, streamed.

    Calls made by AWS services themselves are skipped and counted in `stats.skipped`: identity
    type `AWSService`, service events, and service-linked roles acting for their service. Calls a
    service made *on the principal's behalf* (forward access sessions: `invokedBy` set on the
    principal's own identity, e.g. S3 calling `kms:Decrypt` for an SSE-KMS read) need the
    principal's permissions, so they are kept unless `include_forwarded` is False.
    """
    counts = stats if stats is not None else ReadStats()
    if isinstance(paths, str | Path):
        paths = [paths]  # one path, not the characters of one
    for path in _input_files(paths):
        if isinstance(path, EvidenceError):
            counts.errors += 1
            yield path
            continue
        counts.files += 1
        for item in _read_file(path, counts, include_forwarded):
            if isinstance(item, EvidenceError):
                counts.errors += 1
            else:
                counts.calls += 1
            yield item


def _input_files(paths: Iterable[str | Path]) -> Iterator[Path | EvidenceError]:
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _NOT_EVENTS)
                for name in sorted(files):
                    if name.startswith(".") or name in _NOT_EVENT_FILES:
                        continue
                    if name.lower().endswith(_READABLE_SUFFIXES):
                        yield Path(root) / name
        elif path.exists():
            yield path
        else:
            yield EvidenceError(str(path), None, None, "no such file or directory")


def _read_file(path: Path, stats: ReadStats, forwarded: bool) -> Iterator[Call | EvidenceError]:
    name = str(path)
    try:
        with open_binary(path) as raw:
            if path.name.lower().endswith((".csv", ".csv.gz")):
                yield from _read_csv(raw, name, stats, forwarded)
                return
            window = TextWindow(raw)
            for element in iter_elements(window):
                if isinstance(element, StreamError):
                    yield EvidenceError(
                        name,
                        element.index,
                        element.offset,
                        element.message,
                        element.line,
                        element.column,
                    )
                    continue
                stats.records += 1
                record = to_record(element.value)
                if record is None:
                    yield EvidenceError(
                        name,
                        element.index,
                        element.offset,
                        "not a CloudTrail record (no eventSource and eventName)",
                        element.line,
                    )
                    continue
                item = _to_call(record, name, element.index, stats, forwarded)
                if isinstance(item, str):
                    yield EvidenceError(name, element.index, element.offset, item, element.line)
                elif item is not None:
                    yield item
    except OSError as exc:
        yield EvidenceError(name, None, None, f"cannot read: {exc.strerror or exc}")


def _read_csv(raw: Any, name: str, stats: ReadStats, forwarded: bool) -> Iterator[Call | EvidenceError]:
    index = 0
    try:
        for line, row in iter_csv_rows(raw):
            stats.records += 1
            record = to_record(row) if isinstance(row, dict) else None
            if record is None:
                message = row if isinstance(row, str) else "row has no eventSource column"
                yield EvidenceError(name, index, None, message, line)
            else:
                item = _to_call(record, name, index, stats, forwarded)
                if isinstance(item, str):
                    yield EvidenceError(name, index, None, item, line)
                elif item is not None:
                    yield item
            index += 1
    except (EOFError, ValueError, zlib.error) as exc:  # truncated gzip, bad bytes
        yield EvidenceError(name, index, None, f"cannot read: {exc}")


def _to_call(rec: dict[str, Any], file: str, index: int, stats: ReadStats, forwarded: bool) -> Call | str | None:
    """A Call, a message saying what is wrong with the record, or None when skipped."""
    source, name = rec.get("eventSource"), rec.get("eventName")
    if not isinstance(source, str) or not source:
        return "record has no eventSource"
    if not isinstance(name, str) or not name:
        return "record has no eventName"
    kind = rec.get("eventType")
    if kind is not None and not isinstance(kind, str):
        return f"record's eventType is {type(kind).__name__}, expected a string such as AwsApiCall"
    if kind in _NOT_CALLS:
        stats.skipped[_NOT_CALLS[kind]] += 1
        return None
    ui = rec.get("userIdentity")
    if not isinstance(ui, dict):
        return "record has no userIdentity"
    if ui.get("type") == "AWSService":
        stats.skipped["AWS service principal"] += 1
        return None
    role_arn = _issuer_role(ui)
    invoked_by = _str(ui.get("invokedBy"))
    if invoked_by is not None and invoked_by.endswith(_SERVICE_DOMAINS):
        if role_arn is not None and ":role/aws-service-role/" in role_arn:
            stats.skipped["service-linked role"] += 1
            return None
        if not forwarded:
            stats.skipped["invoked by a service"] += 1
            return None
        stats.forwarded += 1
    principal = _str(ui.get("arn")) or _str(ui.get("principalId")) or ""
    params = rec.get("requestParameters")
    if not isinstance(params, dict):
        params = {}
    service = get_table().service_for_host(source)
    api = service.api
    if service.iam_prefix == "s3" and ".s3-control." in str(params.get("Host", "")):
        api = "s3control"  # S3 Control calls are logged under s3.amazonaws.com
    return Call(
        service=service.iam_prefix,
        operation=strip_version(name),
        principal=principal,
        role_arn=role_arn,
        session_name=session_of(principal),
        time=_str(rec.get("eventTime")),
        region=_str(rec.get("awsRegion")),
        resources=_record_arns(rec.get("resources")),
        parameters=params,
        error=_str(rec.get("errorCode")),
        event_source=source,
        source_file=file,
        source_index=index,
        account=_str(rec.get("recipientAccountId")) or _str(ui.get("accountId")),
        api=api,
        invoked_by=invoked_by,
    )


_SERVICE_DOMAINS = (".amazonaws.com", ".amazonaws.com.cn")


def _str(value: Any) -> str | None:
    return value if value.__class__ is str and value else None


def _issuer_role(ui: dict[str, Any]) -> str | None:
    ctx = ui.get("sessionContext")
    issuer = ctx.get("sessionIssuer") if isinstance(ctx, dict) else None
    arn = issuer.get("arn") if isinstance(issuer, dict) else None
    return arn if isinstance(arn, str) and ":role/" in arn else None


def _record_arns(resources: Any) -> tuple[str, ...]:
    if not isinstance(resources, list):
        return ()
    out: list[str] = []
    for item in resources:
        arn = item.get("ARN") if isinstance(item, dict) else None
        if isinstance(arn, str) and arn.startswith("arn:") and arn not in out:
            out.append(arn)
    return tuple(out)


# -- iamlint's evidence files --------------------------------------------------------------

_OPTIONAL_KEYS = (
    "role_arn",
    "session_name",
    "region",
    "account",
    "event_source",
    "api",
    "invoked_by",
)


def write_evidence_file(path: str | Path, calls: Iterable[Call]) -> int:
    """Write calls as JSON lines, replacing `path` atomically (`iamlint.files.write_atomic`:
    never through a link, never over a device); returns the number written."""
    from iamlint.files import write_atomic  # noqa: PLC0415 - only `record` writes evidence

    count = 0

    def lines() -> Iterator[str]:
        nonlocal count
        for call in calls:
            entry: dict[str, Any] = {
                "service": call.service,
                "operation": call.operation,
                "principal": call.principal,
                "resources": list(call.resources),
                "parameters": dict(call.parameters),
                "error": call.error,
                "time": call.time,
            }
            for key in _OPTIONAL_KEYS:
                value = getattr(call, key)
                if value:
                    entry[key] = value
            count += 1
            yield json.dumps(entry, separators=(",", ":"), default=str) + "\n"

    write_atomic(str(path), lines())
    return count


def read_evidence_file(path: str | Path) -> Iterator[Call | EvidenceError]:
    """Calls from a file written by `write_evidence_file` (or by hand in the same format)."""
    name = str(path)
    try:
        with open_binary(Path(path)) as raw:
            lines = io.BufferedReader(raw) if isinstance(raw, io.RawIOBase) else raw
            for index, line in enumerate(lines):
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
                    yield EvidenceError(name, index, None, f"invalid JSON: {exc}", index + 1)
                    continue
                item = _evidence_call(entry, name, index)
                if isinstance(item, str):
                    yield EvidenceError(name, index, None, item, index + 1)
                else:
                    yield item
    except (OSError, EOFError, ValueError, zlib.error) as exc:
        yield EvidenceError(name, None, None, f"cannot read: {exc}")


def _evidence_call(entry: Any, file: str, index: int) -> Call | str:
    if not isinstance(entry, dict):
        return "expected a JSON object"
    for key in ("service", "operation"):
        if not isinstance(entry.get(key), str) or not entry[key]:
            return f"missing or empty {key!r}"
    resources = entry.get("resources") or []
    if not isinstance(resources, list) or not all(isinstance(r, str) for r in resources):
        return "'resources' must be a list of ARN strings"
    params = entry.get("parameters") or {}
    if not isinstance(params, dict):
        return "'parameters' must be an object"
    opt = {k: _str(entry.get(k)) for k in (*_OPTIONAL_KEYS, "principal", "error", "time")}
    principal = opt["principal"] or ""
    return Call(
        service=entry["service"],
        operation=strip_version(entry["operation"]),
        principal=principal,
        role_arn=opt["role_arn"],
        session_name=opt["session_name"] or session_of(principal),
        time=opt["time"],
        region=opt["region"],
        resources=tuple(resources),
        parameters=params,
        error=opt["error"],
        event_source=opt["event_source"] or "",
        source_file=file,
        source_index=index,
        account=opt["account"],
        api=opt["api"],
        invoked_by=opt["invoked_by"],
    )
