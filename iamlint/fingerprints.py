"""Stable identities for findings: statement signatures, fingerprints and the repository root.

A fingerprint must survive edits that do not change what is granted (moving a statement,
adding lines above it, reformatting) and change when the grant changes. It is therefore built
from the rule, the file relative to the repository root, the resource that owns the policy
(CDK construct path, else CloudFormation logical id), the statement's signature (its effect and
normalized actions, resources and principals) and the finding's evidence, with actions named as
the policy writes them (never the catalogue's expansion of a glob, which changes as AWS adds
actions), never from line numbers. SARIF's `partialFingerprints` and the baseline both use it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path, PurePosixPath

from iamlint import globs
from iamlint.model import STDIN, Finding, Statement

FINGERPRINT_KEY = "iamlint/v2"  # v1 hashed the catalogue's expansion of globs


def statement_signature(st: Statement) -> str:
    """A short hash of what a statement grants: effect, actions, resources, principals.

    Actions are compared case-insensitively and in any order, as IAM does; resources keep
    their case (ARNs are case-sensitive) but not their order. Conditions are left out on
    purpose, so that narrowing a baselined statement with a condition keeps it matched.
    """
    canon = {
        "effect": st.effect,
        "action_key": st.action_key,
        "actions": sorted({a.lower() for a in st.action_texts or tuple(v.text for v in st.actions)}),
        "resource_key": st.resource_key,
        "resources": sorted(set(st.resource_texts or tuple(v.text for v in st.resources))),
        "principal_key": st.principal_key,
        "principals": sorted({f"{p.kind}:{p.value.text}" for p in st.principals}),
    }
    return _hash(canon)[:16]


# json.dumps with any option makes a new encoder each call, a good part of hashing a statement
# (one per statement with findings: 10,000 on the 3,000-role audit); this one is reused.
_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def _hash(value: object) -> str:
    text = _ENCODE(value)
    # surrogatepass: a lone surrogate (a "\udcff" escape in the policy, an undecodable byte in a
    # file name) hashes as itself instead of raising; valid text hashes as before.
    import hashlib  # noqa: PLC0415 - only runs with findings pay for importing it

    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def find_root(start: str | None = None) -> str:
    """The git work tree holding `start` (default: the current directory), else `start`."""
    here = Path(os.path.abspath(start or os.getcwd()))
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return str(folder)
    return str(here)


def relative_path(file: str, root: str) -> str | None:
    """`file` relative to `root` with forward slashes, or None when it lies outside."""
    if file in ("-", STDIN):
        return None
    absolute = os.path.abspath(file)
    try:
        rel = os.path.relpath(absolute, root)
    except ValueError:  # pragma: no cover - another drive on Windows
        return None
    if rel == ".." or rel.startswith(".." + os.sep):
        return None
    return PurePosixPath(*Path(rel).parts).as_posix()


def display_path(file: str, root: str) -> str:
    """The path a person or a CI system should see: relative to the root when inside it."""
    rel = relative_path(file, root)
    return rel if rel is not None else file


def owner_of(f: Finding) -> str:
    """The resource a finding belongs to: construct path, else logical id, else empty."""
    loc, src = f.location, f.source
    return (
        loc.construct_path
        or (src.construct_path if src else None)
        or loc.logical_id
        or (src.logical_id if src else None)
        or ""
    )


def _written(f: Finding) -> list[str]:
    """The evidence's actions as the policy writes them: an action a glob of the statement
    grants is named by that glob (the first that grants it), so a newer IAM catalogue that adds
    actions to `s3:*` (AWS adds some every week) leaves the fingerprint alone. What a NotAction
    statement grants is all catalogue; its signature already names the statement."""
    written = f.written_actions
    if written is None:
        return sorted(f.evidence.actions)
    if not written:
        return []
    name = _namer(written)
    return sorted({name(a) for a in f.evidence.actions})


@lru_cache(maxsize=4096)
def _namer(written: tuple[str, ...]) -> Callable[[str], str]:
    """action -> the entry of `written` that grants it; shared by a statement's findings, whose
    evidence lists the same thousands of actions rule after rule."""
    memo = {w.lower(): w for w in written}
    # Globs by the service they name (`ec2:Describe*` is asked only about ec2 actions); a glob
    # whose service part is itself a wildcard (`*`, `s*:Get*`) about every action.
    by_service: dict[str, list[tuple[str, str]]] = {}
    anywhere: list[tuple[str, str]] = []
    for w in written:
        low = w.lower()
        if globs.has_wildcard(low):
            service, colon, _ = low.partition(":")
            if colon and not globs.has_wildcard(service):
                by_service.setdefault(service, []).append((w, low))
            else:
                anywhere.append((w, low))
    order = {w: i for i, w in enumerate(written)}

    def name(action: str) -> str:
        low = action.lower()
        found = memo.get(low)
        if found is None:
            candidates = [w for w, p in by_service.get(low.partition(":")[0], ()) if globs.glob_match(p, low)]
            candidates += [w for w, p in anywhere if globs.glob_match(p, low)]
            # The first entry in the statement that grants it; else another statement of the
            # principal grants it, and it is named as the catalogue names it.
            found = memo[low] = min(candidates, key=order.__getitem__) if candidates else action
        return found

    return name


def fingerprint(f: Finding, root: str) -> str:
    """The stable identity of a finding (see the module docstring)."""
    parts: dict[str, object] = {
        "rule": f.rule,
        "file": display_path(f.location.file, root),
        "owner": owner_of(f),
        "actions": _written(f),
        "resources": sorted(f.evidence.resources),
    }
    if f.signature:
        parts["statement"] = f.signature
    else:
        # No statement (input errors, malformed documents): the JSON path is the most stable
        # handle there is, and the message says what is wrong.
        parts["path"] = [str(k) for k in f.location.keys]
        parts["message"] = f.message
    return _hash(parts)[:32]
