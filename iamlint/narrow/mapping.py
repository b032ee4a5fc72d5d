"""API-to-IAM mapping: the actions (and resource ARNs) an observed call needed.

In order:
1. operations no identity policy controls (`sts:GetCallerIdentity`) map to no action, with the
   table's reason;
2. irregular operations from `rules/data/api_iam_irregular.yaml` (`ListObjectsV2` needs
   `s3:ListBucket`, `CopyObject` needs two actions), with conditional actions added when the
   recorded parameters show the condition;
3. `<prefix>:<Operation>` when the catalogue has that action (about nine calls in ten);
4. API Gateway management calls, authorised by the HTTP verb they use;
5. otherwise unmapped, with the reason. A call is never dropped silently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from iamlint.catalog import Catalog, get_catalog
from iamlint.narrow.apitable import Conditional, Irregular, get_table, strip_version
from iamlint.narrow.arns import attach_resources, copy_objects
from iamlint.narrow.calls import Call

# API Gateway's management API is authorised as apigateway:<HTTP verb> on the resource path
# (API Gateway Developer Guide, "Control access for invoking an API" and "...managing an API").
# The verb follows from the operation's first word; botocore's models agree for every operation
# of apigateway and apigatewayv2 (tests/test_mapping.py checks), except `Import*` and `Tag*`,
# whose verb differs between the two APIs and which are left unmapped.
_HTTP_VERBS = {
    "Get": "GET",
    "List": "GET",
    "Export": "GET",
    "Create": "POST",
    "Generate": "POST",
    "Reject": "POST",
    "Test": "POST",
    "Preview": "POST",
    "Publish": "POST",
    "Put": "PUT",
    "Reimport": "PUT",
    "Update": "PATCH",
    "Delete": "DELETE",
    "Flush": "DELETE",
    "Untag": "DELETE",
    "Disable": "DELETE",
    "Reset": "DELETE",
}
_FIRST_WORD = re.compile(r"^[A-Z][a-z]+")


@dataclass(frozen=True, slots=True)
class MappedCall:
    """The IAM side of one call: what it needed, on what, and why we think so."""

    actions: tuple[str, ...]  # exact catalogue spelling, e.g. "s3:GetObject"
    resources: tuple[str, ...]  # ARNs (or `-??????` secret patterns) the evidence names
    unmapped_reason: str | None  # set when `actions` is empty
    basis: str = ""  # how the actions were found: "irregular: <source>", "same-named action"...
    action_resources: tuple[tuple[str, tuple[str, ...]], ...] = ()  # resources per action

    @property
    def mapped(self) -> bool:
        return bool(self.actions)

    def resources_for(self, action: str) -> tuple[str, ...]:
        for name, arns in self.action_resources:
            if name == action:
                return arns
        return ()


def iam_actions(call: Call, catalog: Catalog | None = None) -> MappedCall:
    """Map one observed call to the IAM actions it needed and the resources they were used on."""
    catalog = catalog if catalog is not None else get_catalog()
    table = get_table()
    prefix = call.service.lower()
    operation = strip_version(call.operation)
    exempt = table.no_permission(call.api, prefix, operation)
    if exempt is not None:
        why = exempt.notes or "no identity policy can allow or deny this operation"
        return MappedCall((), (), f"no permission needed: {why} ({exempt.source})", "no-permission")
    if not catalog.service_exists(prefix):
        where = f" (event source {call.event_source})" if call.event_source else ""
        return MappedCall((), (), f"unknown IAM service prefix {prefix!r}{where}")
    irregular = table.irregular(call.api, prefix, operation)
    if irregular is not None:
        names, reason = _irregular_actions(irregular, call.parameters)
        basis = f"irregular: {irregular.source}"
    else:
        names, reason, basis = _regular_actions(prefix, operation, catalog)
    infos = [info for info in (catalog.action(n) for n in names) if info is not None]
    if not infos:
        return MappedCall((), (), reason or f"no catalogue action for {prefix}:{operation}", basis)
    per_action = attach_resources(call, infos, catalog)
    if irregular is not None and irregular.on_copy_source:
        per_action = _split_copy(per_action, irregular.on_copy_source, call)
    roles = passed_roles(call)
    if roles:
        per_action += (("iam:PassRole", roles),)
        basis += "; iam:PassRole for the role ARN in the parameters"
    resources: list[str] = []
    for _, arns in per_action:
        resources.extend(a for a in arns if a not in resources)
    actions = tuple(dict.fromkeys(name for name, _ in per_action))
    return MappedCall(actions, tuple(resources), None, basis, per_action)


def _split_copy(
    per_action: tuple[tuple[str, tuple[str, ...]], ...], on_source: tuple[str, ...], call: Call
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """A copy reads one object and writes another (S3 User Guide, "Required permissions" of
    CopyObject): the actions on the source get only the source's ARN, the others every ARN
    but it (unless the copy writes onto itself). Unchanged when the source is not known."""
    read, written = copy_objects(call)
    sources = set(read)
    if not sources:
        return per_action
    out = []
    for name, arns in per_action:
        if name in on_source:
            out.append((name, tuple(a for a in arns if a in sources)))
        else:
            out.append((name, tuple(a for a in arns if a not in sources or (a in written))))
    return tuple(out)


# Parameters through which a call hands a role to a service (Lambda `Role`, Step Functions
# `roleArn`, ECS `taskRoleArn`, CodeBuild `serviceRole`...). Passing a role needs iam:PassRole
# on it, which CloudTrail never records as a call of its own (IAM User Guide, "Grant a user
# permissions to pass a role to an AWS service").
_ROLE_PARAMS = frozenset(
    {
        "role",
        "rolearn",
        "executionrolearn",
        "taskrolearn",
        "servicerole",
        "servicerolearn",
        "iamrolearn",
        "datasourcerolearn",
        "jobrolearn",
    }
)


def passed_roles(call: Call) -> tuple[str, ...]:
    """IAM role ARNs the call passes to a service, which need iam:PassRole."""
    if call.service in ("iam", "sts"):
        return ()  # these take roles as their subject, not as something handed over
    out: list[str] = []
    for key, value in call.parameters.items():
        if (
            isinstance(key, str)
            and key.lower() in _ROLE_PARAMS
            and isinstance(value, str)
            and value.startswith("arn:")
            and value.split(":", 5)[2:3] == ["iam"]
            and ":role/" in value
            and value not in out
        ):
            out.append(value)
    return tuple(out)


def _regular_actions(prefix: str, operation: str, catalog: Catalog) -> tuple[list[str], str | None, str]:
    info = catalog.action(f"{prefix}:{operation}")
    if info is not None:
        return [info.full_name], None, "same-named action"
    if prefix == "apigateway":
        word = _FIRST_WORD.match(operation)
        verb = _HTTP_VERBS.get(word.group(0)) if word else None
        if verb is not None:
            return [f"apigateway:{verb}"], None, "API Gateway HTTP verb"
        return [], f"the HTTP verb of apigateway operation {operation!r} is not known", ""
    reason = (
        f"no action {prefix}:{operation} in the IAM catalogue ({_data_version(catalog)}) "
        "and no irregular mapping for it"
    )
    return [], reason, ""


@lru_cache(maxsize=4)
def _data_version(catalog: Catalog) -> str:
    return catalog.data_version()  # reads a file: once per catalogue, not once per call


def _irregular_actions(entry: Irregular, params: Mapping[str, object]) -> tuple[list[str], str | None]:
    names = list(entry.actions)
    unknown: list[Conditional] = []
    for branch in entry.conditional:
        holds = condition_holds(branch.when, params)
        if holds:
            names.extend(a for a in branch.actions if a not in names)
        elif holds is None:
            unknown.append(branch)
    if names:
        return names, None
    choices = "; ".join(f"{', '.join(b.actions)} when {b.when}" for b in entry.conditional)
    return [], (
        f"{entry.api}:{entry.operation} needs different actions depending on its input "
        f"({choices}) and the recorded parameters do not show which"
    )


# -- conditions of the irregular table -------------------------------------------------------

_PARTIQL = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE)\b", re.IGNORECASE)
_TRANSACT = re.compile(r"contains an? (Put|Update|Delete|ConditionCheck)\b")


def condition_holds(when: str, params: Mapping[str, object]) -> bool | None:
    """Does a table condition (prose such as "a versionId is given") hold for these parameters?

    None when the condition is not one iamlint can read from parameters.
    """
    text = when.lower()
    if "version" in text:
        return _has_key(params, "versionid") or _mentions(params, "versionId=")
    if "acl" in text:
        return any(key == "x-amz-acl" or key.startswith("x-amz-grant-") for key in _keys(params))
    if "tag" in text:
        return any("tagging" in key for key in _keys(params))
    transact = _TRANSACT.search(when)
    if transact is not None:
        items = _get_ci(params, "transactItems")
        if not isinstance(items, list):
            return None
        return _has_key(items, transact.group(1).lower())
    partiql = _PARTIQL.search(when)
    if partiql is not None and "statement" in text:
        statements = _statements(params)
        if not statements:
            return None
        verb = partiql.group(1).upper()
        return any(s.lstrip().upper().startswith(verb) for s in statements)
    return None


def _get_ci(params: Mapping[str, object], key: str) -> object:
    lower = key.lower()
    for k, v in params.items():
        if isinstance(k, str) and k.lower() == lower:
            return v
    return None


def _keys(node: object) -> list[str]:
    out: list[str] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            out.extend(k.lower() for k in item if isinstance(k, str))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return out


def _has_key(node: object, lower_key: str) -> bool:
    return lower_key in _keys(node)


def _mentions(node: object, text: str) -> bool:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, str) and text in item:
            return True
        if isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _statements(params: Mapping[str, object]) -> list[str]:
    out: list[str] = []
    single = _get_ci(params, "statement")
    if isinstance(single, str):
        out.append(single)
    for key in ("statements", "transactStatements"):
        many = _get_ci(params, key)
        if isinstance(many, list):
            for item in many:
                inner = _get_ci(item, "statement") if isinstance(item, Mapping) else None
                if isinstance(inner, str):
                    out.append(inner)
    return out
