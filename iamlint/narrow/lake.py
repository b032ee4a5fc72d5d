"""CloudTrail Lake and Event history shapes, normalised to a CloudTrail record.

A CloudTrail record as delivered to S3 has camel-case keys and nested JSON. Other exports differ:
- `aws cloudtrail get-query-results` (CloudTrail Lake) returns `QueryResultRows`, each row a list
  of one-key objects (`[{"eventSource": "s3.amazonaws.com"}, {"eventName": "GetObject"}]`);
- Lake results saved to S3 or downloaded from the console are CSV files (`result_1.csv.gz`);
- in both, struct and map columns (`userIdentity`, `requestParameters`, `resources`) are
  rendered as Java-style text (`{type=AssumedRole, arn=arn:aws:sts::...}`) with field names
  often in lower case, not as JSON;
- `aws cloudtrail lookup-events` (Event history) wraps each record as a JSON string in
  `CloudTrailEvent`; some exports carry it in an `eventJson` column.
`to_record` turns any of these into the S3 shape; keys are matched without regard to case.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import IO, Any

# Canonical spellings of the record fields iamlint reads, by lower-case name.
_FIELDS = {
    name.lower(): name
    for name in (
        "eventVersion",
        "userIdentity",
        "eventTime",
        "eventSource",
        "eventName",
        "awsRegion",
        "sourceIPAddress",
        "userAgent",
        "errorCode",
        "errorMessage",
        "requestParameters",
        "responseElements",
        "additionalEventData",
        "requestID",
        "eventID",
        "readOnly",
        "resources",
        "eventType",
        "managementEvent",
        "recipientAccountId",
        "eventCategory",
        "sharedEventID",
    )
}
# Nested field spellings of userIdentity and resources[], by lower-case name.
_NESTED = {
    name.lower(): name
    for name in (
        "type",
        "principalId",
        "arn",
        "accountId",
        "accessKeyId",
        "userName",
        "sessionContext",
        "sessionIssuer",
        "invokedBy",
        "attributes",
        "creationDate",
        "mfaAuthenticated",
        "webIdFederationData",
        "sourceIdentity",
        "identityProvider",
    )
}
_JSON_WRAPPERS = ("cloudtrailevent", "eventjson")
MAX_CELL_CHARS = 64 << 20
_STRUCTURED = {"useridentity", "requestparameters", "responseelements", "resources"}


def to_record(raw: Any) -> dict[str, Any] | None:
    """A CloudTrail record from any supported row shape, or None if it is not one."""
    if isinstance(raw, list):  # a get-query-results row: one-key objects
        merged: dict[str, Any] = {}
        for cell in raw:
            if not isinstance(cell, dict):
                return None
            merged.update(cell)
        raw = merged
    if not isinstance(raw, dict):
        return None
    if "eventSource" in raw and "eventName" in raw and not isinstance(raw.get("userIdentity"), str):
        return raw  # already the S3-delivery shape: the fast path
    lowered = {str(k).lower(): v for k, v in raw.items()}
    for key in _JSON_WRAPPERS:
        inner = lowered.get(key)
        if isinstance(inner, str):
            try:
                inner = json.loads(inner)
            except (ValueError, RecursionError):  # RecursionError: nested too deep
                return None
        if isinstance(inner, dict):
            return to_record(inner)
    if "eventsource" not in lowered:
        return None
    record: dict[str, Any] = {}
    for key, value in lowered.items():
        name = _FIELDS.get(key, key)
        if value == "":
            value = None  # CSV has no null: an empty cell is an absent field
        elif key in _STRUCTURED and isinstance(value, str):
            value = parse_rendered(value)
        if key == "useridentity" and isinstance(value, dict):
            value = _canonical(value)
        elif key == "resources" and isinstance(value, list):
            value = [_resource(item) for item in value]
        record[name] = value
    return record


def _canonical(node: dict[str, Any]) -> dict[str, Any]:
    """userIdentity with CloudTrail's spellings restored, at every depth."""
    return {_NESTED.get(str(k).lower(), k): _canonical(v) if isinstance(v, dict) else v for k, v in node.items()}


def _resource(item: Any) -> Any:
    if not isinstance(item, dict):
        return item
    out = _canonical(item)
    if "arn" in out:
        out["ARN"] = out.pop("arn")  # resources[] spells it in capitals
    return out


def parse_rendered(text: str) -> Any:
    """A Lake struct/map cell: JSON when it is JSON, else Java-style `{k=v, ...}` text."""
    stripped = text.strip()
    if not stripped or stripped == "null":
        return None
    if stripped[0] in "{[":
        try:
            return json.loads(stripped)
        except (ValueError, RecursionError):  # RecursionError: nested too deep
            pass
        try:
            value, end = _JavaText(stripped).parse(0)
        except ValueError:
            return stripped
        return value if end == len(stripped) else stripped
    return stripped


class _JavaText:
    """Parser for `{a=1, b={c=[x, y]}}`, the way Trino/Java print maps, rows and arrays.

    Values are unquoted, so a value holding `, name=` is ambiguous; the parser splits there,
    which is right for every field iamlint reads (names, ARNs, identifiers).
    """

    def __init__(self, text: str) -> None:
        self.text = text

    def parse(self, pos: int) -> tuple[Any, int]:
        t = self.text
        if t.startswith("{", pos):
            return self._map(pos + 1)
        if t.startswith("[", pos):
            return self._list(pos + 1)
        raise ValueError("expected { or [")

    def _map(self, pos: int) -> tuple[dict[str, Any], int]:
        t, out = self.text, dict[str, Any]()
        if t.startswith("}", pos):
            return out, pos + 1
        while True:
            eq = t.find("=", pos)
            if eq < 0:
                raise ValueError("expected key=value")
            key = t[pos:eq].strip()
            value, pos = self._value(eq + 1, "}")
            out[key] = value
            if t.startswith(", ", pos):
                pos += 2
            elif t.startswith("}", pos):
                return out, pos + 1
            else:
                raise ValueError("expected , or }")

    def _list(self, pos: int) -> tuple[list[Any], int]:
        t, out = self.text, list[Any]()
        if t.startswith("]", pos):
            return out, pos + 1
        while True:
            value, pos = self._value(pos, "]")
            out.append(value)
            if t.startswith(", ", pos):
                pos += 2
            elif t.startswith("]", pos):
                return out, pos + 1
            else:
                raise ValueError("expected , or ]")

    def _value(self, pos: int, closer: str) -> tuple[Any, int]:
        t = self.text
        if t.startswith(("{", "["), pos):
            try:
                return self.parse(pos)
            except ValueError:
                pass  # a scalar that merely starts with a bracket (JSON text in a map value)
        depth, i = 0, pos
        while i < len(t):
            c = t[i]
            if c in "{[":
                depth += 1
            elif c in "}]":
                if depth == 0:
                    break
                depth -= 1
            elif depth == 0 and t.startswith(", ", i) and self._next_is_item(i + 2, closer):
                break
            i += 1
        raw = t[pos:i]
        return (None if raw == "null" else raw), i

    def _next_is_item(self, pos: int, closer: str) -> bool:
        if closer == "]":
            return True
        eq = self.text.find("=", pos)
        return eq > pos and all(c.isalnum() or c in "_-.:" for c in self.text[pos:eq])


def iter_csv_rows(raw: IO[bytes]) -> Iterator[tuple[int, dict[str, str] | str]]:
    """Rows of a Lake CSV export as (line, row); a row that cannot be read is its message."""
    # Lake cells hold whole request parameters; the csv module's limit is process-wide, so it
    # is only ever raised, to the size past which the JSON reader also gives up on a record.
    csv.field_size_limit(max(csv.field_size_limit(), MAX_CELL_CHARS))
    buffered = io.BufferedReader(raw) if isinstance(raw, io.RawIOBase) else raw
    text = io.TextIOWrapper(buffered, encoding="utf-8-sig", newline="")
    reader = csv.DictReader(text)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield reader.line_num, f"invalid CSV: {exc}"
            continue
        yield reader.line_num, {k: v for k, v in row.items() if isinstance(k, str)}
