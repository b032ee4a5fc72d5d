"""AWS managed policies: the documents behind `arn:aws:iam::aws:policy/...` attachments.

A template that attaches `AdministratorAccess` by ARN grants what that document says, so
iamlint ships a compressed snapshot of every AWS managed policy document and checks the
real grant. The snapshot is generated from the copy inside the `moto` package:

    python -m iamlint.managed --update     # needs moto installed (the test extra)

and records the moto version and the newest policy update date it contains.
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from iamlint.ruleset import package_dir

SNAPSHOT = "aws_managed_policies.json.gz"
_ARN_RE = re.compile(r"^arn:[^:]+:iam::aws:policy(/.*)$")


@dataclass(frozen=True, slots=True)
class ManagedPolicy:
    name: str
    arn: str  # in the aws partition
    document: Any


@lru_cache(maxsize=1)
def _snapshot() -> dict[str, Any]:
    raw = (package_dir("iamlint.data") / SNAPSHOT).read_bytes()
    data: dict[str, Any] = json.loads(gzip.decompress(raw))
    return data


def preload() -> None:
    """Read the snapshot now: a parent about to fork workers shares it with them (iamlint.runner)."""
    _snapshot()


def snapshot_info() -> str:
    meta = _snapshot()["meta"]
    return f"{meta['count']} AWS managed policies from moto {meta['moto']}, newest update {meta['newest']}"


def lookup(arn_or_name: str) -> ManagedPolicy | None:
    """The AWS managed policy with this ARN (any partition) or name, if it exists."""
    policies = _snapshot()["policies"]
    match = _ARN_RE.match(arn_or_name)
    if match:
        path = match.group(1)
        name = path.rsplit("/", 1)[-1]
        entry = policies.get(name)
        if entry is None or entry["path"] + name != path:
            return None
    else:
        name = arn_or_name
        entry = policies.get(name)
        if entry is None:
            return None
    document = json.loads(entry["document"])  # each lookup its own copy
    return ManagedPolicy(name=name, arn=f"arn:aws:iam::aws:policy{entry['path']}{name}", document=document)


def is_aws_managed_arn(text: str) -> bool:
    return bool(_ARN_RE.match(text))


def _update() -> None:  # pragma: no cover - run by hand when moto ships newer policies
    import importlib.metadata  # noqa: PLC0415 - only this maintainers' update needs them
    from pathlib import Path  # noqa: PLC0415 - only this maintainers' update needs them

    from moto.iam.aws_managed_policies import aws_managed_policies_data  # noqa: PLC0415 - only this maintainers' update needs them

    data = json.loads(aws_managed_policies_data)
    # Each document as JSON text: reading the snapshot then decodes 1,582 strings instead of
    # building every document's objects (15 ms instead of 36 ms a process, most of whose runs
    # look up one or two policies).
    policies = {
        name: {"path": entry.get("Path", "/"), "document": json.dumps(entry["Document"], separators=(",", ":"))}
        for name, entry in sorted(data.items())
    }
    newest = max(entry.get("UpdateDate", "") for entry in data.values())[:10]
    out = {
        "meta": {"moto": importlib.metadata.version("moto"), "count": len(policies), "newest": newest},
        "policies": policies,
    }
    target = Path(__file__).resolve().parent / "data" / SNAPSHOT
    payload = json.dumps(out, separators=(",", ":"), sort_keys=True).encode()
    target.write_bytes(gzip.compress(payload, compresslevel=9, mtime=0))
    print(f"wrote {target}: {len(policies)} policies, newest update {newest}")


if __name__ == "__main__":  # pragma: no cover
    import sys

    if sys.argv[1:] != ["--update"]:
        sys.exit("usage: python -m iamlint.managed --update")
    _update()
