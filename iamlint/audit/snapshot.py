"""Snapshots: what an audit read from one account, saved so it can be analysed again offline.

A snapshot is a `get-account-authorization-details` dump (`UserDetailList`, `GroupDetailList`,
`RoleDetailList`, `Policies`, as the AWS CLI prints them, all pages merged), so `iamlint check
SNAPSHOT` reads it like any dump, plus everything else under one `iamlint` key, which the dump
loader ignores:

    "iamlint": {
      "snapshot": "1",                       # this format's version
      "tool": "iamlint 0.1.0", "collected_at": "2026-11-29T04:27:26+00:00",
      "account": {"id": "123456789012", "name": "prod", "partition": "aws"},
      "regions": ["eu-west-1"],
      "options": {"resources": ["s3"], "access_advisor": true, "cloudtrail_days": 7},
      "workloads": [{"kind": "function", "name", "arn", "region", "roles": [role ARNs], ...}],
      "resource_policies": [{"service": "s3", "kind": "bucket", "name", "arn", "region", "policy"}],
      "access_advisor": {"<principal ARN>": {"status", "completed", "services": [...]}},
      "cloudtrail": {"days": 7, "events": N, "principals": {"<ARN>": [{"source", "name", "count", ...}]}},
      "coverage": [{"region", "operation", "kind", "message", "resource"}]
    }

One account per file. An audit of several accounts saves a directory with one file per account
(`<account id>.json`); `iamlint check DIR` and `iamlint audit --from DIR` read them all.
"""

from __future__ import annotations

import datetime
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from iamlint import __version__
from iamlint.files import write_atomic
from iamlint.loaders.located import Located, Mark, ParseError, parse_json
from iamlint.model import InputError

KEY = "iamlint"
VERSION = "1"
AUTH_KEYS = ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")
_ACCOUNT_IN_ARN = re.compile(r"^arn:[^:]+:iam::(\d{12}):")


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    account: str
    name: str
    file: str  # the saved file, or "aws:<account>" when the audit saved nothing
    located: Located

    @property
    def data(self) -> Mapping[str, Any]:
        return self.located.data if isinstance(self.located.data, Mapping) else {}

    @property
    def extras(self) -> Mapping[str, Any]:
        found = self.data.get(KEY)
        return found if isinstance(found, Mapping) else {}


def release_dump(snap: AccountSnapshot) -> None:
    """Drop the dump part of `snap` (principals and policies), keeping the extras and the file's
    marks, for a caller that has built what it needs from it: a large account's parsed dump is
    tens of megabytes. `snap.data` then holds only the `iamlint` key."""
    data = snap.located.data
    if isinstance(data, Mapping):
        snap.located.data = {KEY: data[KEY]} if KEY in data else {}


def new(account: str, name: str, partition: str, regions: Sequence[str], options: Mapping[str, Any]) -> dict[str, Any]:
    """An empty snapshot for one account, filled in by the collectors."""
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat()
    return {
        **{key: [] for key in AUTH_KEYS},
        KEY: {
            "snapshot": VERSION,
            "tool": f"iamlint {__version__}",
            "collected_at": now,
            "account": {"id": account, "name": name, "partition": partition},
            "regions": list(regions),
            "options": dict(options),
            "workloads": [],
            "resource_policies": [],
            "access_advisor": {},
            "cloudtrail": {},
            "coverage": [],
        },
    }


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"cannot save {type(value).__name__} in a snapshot")


def to_json(data: Mapping[str, Any]) -> str:
    """The file's text: indented by one space, so that findings point at a readable line."""
    return json.dumps(data, indent=1, default=_plain, ensure_ascii=False) + "\n"


def _unmarked(data: Any, label: str) -> Located:
    def no_index() -> tuple[Any, None, Any]:
        return None, None, lambda _raw: Mark(1, 1)

    return Located(data, label, no_index)


def in_memory(data: Mapping[str, Any], account: str, name: str) -> AccountSnapshot:
    """A snapshot that was not saved: located at "aws:<account>", without lines."""
    plain = json.loads(json.dumps(data, default=_plain))  # dates as the saved file has them
    return AccountSnapshot(account, name, f"aws:{account}", _unmarked(plain, f"aws:{account}"))


def save(path: str, snapshots: Sequence[tuple[str, str, Mapping[str, Any]]]) -> list[AccountSnapshot]:
    """Write one file (one account) or a directory of `<account>.json` files, each atomically.

    Returns the snapshots as read back from the written text, so findings point at its lines."""
    if len(snapshots) == 1 and not os.path.isdir(path):
        targets = [path]
    else:
        if os.path.exists(path) and not os.path.isdir(path):
            raise SnapshotError(
                f"{path}: {len(snapshots)} accounts are saved as a directory of files, "
                "but this is a file; name a directory"
            )
        os.makedirs(path, exist_ok=True)
        targets = [os.path.join(path, f"{account}.json") for account, _, _ in snapshots]
    out = []
    for target, (account, name, data) in zip(targets, snapshots, strict=True):
        text = to_json(data)
        write_atomic(target, text)
        out.append(AccountSnapshot(account, name, target, parse_json(text, target)))
    return out


# Parts of the `iamlint` section that are left out whole when something in them is wrong: an
# item of these lists or an entry of these maps (one principal's CloudTrail calls).
_LISTS = ("workloads", "resource_policies", "coverage")
_MAPS = ("access_advisor",)


def check_extras(located: Located) -> list[InputError]:
    """The ways a snapshot's `iamlint` section breaks `schemas/snapshot.schema.json`, each with
    its line; the parts at fault are removed from the data, so that the analysis reads only
    what it can trust and the rest of the account (and the run) is still audited."""
    data = located.data
    if not isinstance(data, dict) or KEY not in data:
        return []  # a plain authorization-details dump
    extras = data[KEY]
    if not isinstance(extras, dict):
        line, column = located.line_column((KEY,))
        del data[KEY]
        return [
            InputError(
                located.file,
                f"{KEY}: expected an object (the audit's extras), found {type(extras).__name__}; left out",
                line,
                column,
            )
        ]
    from iamlint.schemas import violations  # noqa: PLC0415 - jsonschema only for snapshots

    errors: list[InputError] = []
    units: set[tuple[str | int, ...]] = set()
    for path, message in violations("snapshot", extras):
        unit = _unit(path)
        line, column = located.line_column((KEY, *path))
        errors.append(
            InputError(
                located.file,
                f"{_dotted((KEY, *path))}: {message}; {_dotted((KEY, *unit))} is left out of the analysis",
                line,
                column,
            )
        )
        units.add(unit)
    for unit in sorted(units, key=len):
        if any(unit[:n] in units for n in range(1, len(unit))):
            continue  # inside a part that goes anyway
        parent: Any = extras
        for step in unit[:-1]:
            parent = parent[step]
        if isinstance(parent, list) and isinstance(unit[-1], int):
            parent[unit[-1]] = _GONE  # marked, then dropped below: indexes stay valid meanwhile
        else:
            del parent[unit[-1]]
    for key in _LISTS:
        if isinstance(extras.get(key), list):
            extras[key] = [item for item in extras[key] if item is not _GONE]
    return errors


_GONE = object()


def _unit(path: tuple[str | int, ...]) -> tuple[str | int, ...]:
    head = path[:1]
    if not head:
        return ()
    if head[0] in _LISTS or head[0] in _MAPS:
        return path[:2]
    if head[0] == "cloudtrail" and path[1:2] == ("principals",) and len(path) >= 3:
        return path[:3]
    if head[0] == "cloudtrail" and len(path) >= 2:
        return path[:2]
    return head


def _dotted(path: tuple[str | int, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(path))


class SnapshotError(Exception):
    """A snapshot cannot be written where the user asked."""


def _files(path: str) -> Iterator[str]:
    if os.path.isdir(path):
        for name in sorted(os.listdir(path)):
            full = os.path.join(path, name)
            if name.endswith(".json") and os.path.isfile(full):
                yield full
    else:
        yield path


def account_of(data: Mapping[str, Any]) -> str:
    """The account a dump describes: from the extras, else from the first ARN in it."""
    extras = data.get(KEY)
    if isinstance(extras, Mapping):
        acct = extras.get("account")
        if isinstance(acct, Mapping) and isinstance(acct.get("id"), str):
            return str(acct["id"])
    for key in AUTH_KEYS:
        items = data.get(key)
        for item in items if isinstance(items, list) else ():
            arn = item.get("Arn") if isinstance(item, Mapping) else None
            match = _ACCOUNT_IN_ARN.match(arn) if isinstance(arn, str) else None
            if match:
                return match.group(1)
    return "unknown"


def load(paths: Sequence[str], max_bytes: int) -> tuple[list[AccountSnapshot], list[InputError]]:
    """Snapshots (or plain authorization-details dumps) from files and directories."""
    from iamlint.loaders.auth_details import is_auth_details  # noqa: PLC0415
    from iamlint.loaders.inputs import InputOptions, read_input  # noqa: PLC0415

    snapshots: list[AccountSnapshot] = []
    errors: list[InputError] = []
    options = InputOptions(max_bytes=max_bytes)
    for path in paths:
        files = list(_files(path))
        if not files:
            errors.append(InputError(path, "no snapshot (.json) files in this directory"))
        for file in files:
            raw = read_input(file, options)
            if isinstance(raw, InputError):
                errors.append(raw)
                continue
            if len(raw) > max_bytes:
                errors.append(InputError(file, f"file is over the {max_bytes}-byte limit (--max-file-size)"))
                continue
            try:
                located = parse_json(raw, file)
            except ParseError as exc:
                errors.append(InputError(file, exc.message, exc.line, exc.column))
                continue
            data = located.data
            if not isinstance(data, Mapping) or not (is_auth_details(data) or isinstance(data.get(KEY), Mapping)):
                errors.append(
                    InputError(
                        file,
                        "expected an iamlint snapshot or a get-account-authorization-details "
                        "dump (UserDetailList, RoleDetailList, Policies...)",
                        1,
                        1,
                    )
                )
                continue
            errors.extend(check_extras(located))
            extras = data.get(KEY)
            name = ""
            if isinstance(extras, Mapping) and isinstance(extras.get("account"), Mapping):
                name = str(extras["account"].get("name") or "")
            snapshots.append(AccountSnapshot(account_of(data), name, file, located))
    return snapshots, errors
