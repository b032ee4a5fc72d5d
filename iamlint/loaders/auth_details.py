"""`aws iam get-account-authorization-details` dumps: every policy of an account, each checked once.

A dump lists users, groups and roles with their inline policies, the managed policies attached to
them, their permissions boundaries and (for roles) trust policies, plus the managed policies
themselves with all their versions. This loader turns it into policy documents:

- inline and trust policies are checked where they are, owned by their principal;
- each managed policy is checked once, at its default version in the dump's `Policies` list (or,
  for an AWS managed policy the dump leaves out, from iamlint's snapshot), with the principals it
  is attached to in `Source.attached_to`; a policy attached to nobody is still checked;
- `Source.used_by` records who gets a policy without holding it directly: the members of a group,
  the instance profiles of a role, so that principal-level rules can join them up later.

Documents may be objects (the CLI's output) or strings: JSON, or URL-encoded JSON as the raw API
returns them (RFC 3986). Every element is located at its JSON path in the dump; elements of a
string document are located at the string. Shapes that the API never returns become problems at
their path, and the rest of the dump is still read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from iamlint.loaders import LoadResult, marker_for
from iamlint.loaders.located import Located
from iamlint.model import InputError, Location, PolicyKind, Source
from iamlint.policy import Path, Problem, parse_policy

# (list key, principal kind, name key, inline policy list key)
_PRINCIPALS = (
    ("UserDetailList", "user", "UserName", "UserPolicyList"),
    ("GroupDetailList", "group", "GroupName", "GroupPolicyList"),
    ("RoleDetailList", "role", "RoleName", "RolePolicyList"),
)
# Roles that AWS creates for a service and that only the service can change.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/using-service-linked-roles.html
SERVICE_LINKED_PATH = "/aws-service-role/"
SERVICE_LINKED = "service-linked"
BOUNDARY_VIA = "PermissionsBoundary"


def is_auth_details(data: object) -> bool:
    """True for the output of `get-account-authorization-details` (whole or filtered)."""
    if not isinstance(data, Mapping) or "Statement" in data:
        return False
    if any(isinstance(data.get(key), list) for key, *_ in _PRINCIPALS):
        return True
    # `Policies` alone: a dump made with --filter LocalManagedPolicy or AWSManagedPolicy. An
    # empty list qualifies; `aws iam list-policies` output (no documents) does not.
    policies = data.get("Policies")
    return isinstance(policies, list) and all(isinstance(p, Mapping) and "PolicyVersionList" in p for p in policies)


def load_auth_details(located: Located) -> LoadResult:
    result = LoadResult(files=1)
    if not isinstance(located.data, Mapping):
        result.errors.append(InputError(located.file, "an authorization-details dump must be an object", 1, 1))
        return result
    _DumpReader(located, located.data, result).read()
    return result


@dataclass(slots=True)
class _Managed:
    """A managed policy and everything attached to it, gathered before it is checked once."""

    arn: str
    name: str
    document: Any  # the raw document: an object or a (URL-encoded) JSON string
    path: Path  # the document in the dump or, from the snapshot, its first attachment
    attached_to: list[str] = field(default_factory=list)
    service_linked: list[bool] = field(default_factory=list)  # per entry of attached_to
    boundary_of: list[str] = field(default_factory=list)
    used_by: dict[str, None] = field(default_factory=dict)  # an ordered set


def _what(value: object) -> str:
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return "nothing" if value is None else type(value).__name__


class _DumpReader:
    def __init__(self, located: Located, data: Mapping[str, Any], result: LoadResult) -> None:
        self.file = located.file
        self.data = data
        self.result = result
        self.marker = marker_for(located)
        self.managed: dict[str, _Managed] = {}  # by ARN, in the dump's order, then snapshot's
        self.missing: dict[str, list[tuple[str, Path]]] = {}  # ARN -> (principal, attachment)

    def problem(self, message: str, path: Path) -> None:
        mark = self.marker(path)
        line, col = mark if mark else (None, None)
        self.result.problems.append(Problem(message, Location(self.file, line, col, path)))

    def read(self) -> None:
        if self.data.get("IsTruncated") is True:
            self.problem(
                "the dump is one page of several (IsTruncated is true): principals and policies on "
                "later pages are missing; let the AWS CLI paginate (drop --max-items)",
                ("IsTruncated",),
            )
        self._read_policies()
        lists = {key: self._top_list(key) for key, *_ in _PRINCIPALS}
        members = self._memberships(lists["UserDetailList"], lists["GroupDetailList"])
        for key, kind, name_key, inline_key in _PRINCIPALS:
            for i, entry in enumerate(lists[key]):
                self._principal(entry, (key, i), kind, name_key, inline_key, members)
        self._check_managed()
        self._report_missing()

    def _top_list(self, key: str) -> list[Any]:
        node = self.data.get(key)
        if node is None or isinstance(node, list):
            return node or []
        self.problem(f"{key} must be a list, found {_what(node)}", (key,))
        return []

    def _entries(self, owner: Mapping[str, Any], key: str, path: Path, who: str) -> list[tuple[Any, Path]]:
        """The items of the list `owner[key]`; a lone object is read as a one-item list."""
        node = owner.get(key)
        kpath = (*path, key)
        if node is None:
            return []
        if isinstance(node, list):
            return [(item, (*kpath, i)) for i, item in enumerate(node)]
        if isinstance(node, Mapping):
            self.problem(f"{key} of {who} must be a list, found an object (read as a one-item list)", kpath)
            return [(node, kpath)]
        self.problem(f"{key} of {who} must be a list, found {_what(node)}", kpath)
        return []

    # -- managed policies -----------------------------------------------------------------
    def _read_policies(self) -> None:
        for item, path in self._entries(self.data, "Policies", (), "the dump"):
            if not isinstance(item, Mapping) or not isinstance(item.get("Arn"), str):
                self.problem(f"a managed policy must be an object with an Arn, found {_what(item)}", path)
                continue
            arn = str(item["Arn"])
            if arn in self.managed:
                self.problem(f"managed policy {arn} is listed twice; the first entry is checked", path)
                continue
            found = self._default_version(item, path, arn)
            if found is not None:
                name = item.get("PolicyName")
                name = name if isinstance(name, str) else arn.rsplit("/", 1)[-1]
                self.managed[arn] = _Managed(arn, name, found[0], found[1])

    def _default_version(self, item: Mapping[str, Any], path: Path, arn: str) -> tuple[Any, Path] | None:
        """The document of the version in force: the one marked IsDefaultVersion."""
        versions = self._entries(item, "PolicyVersionList", path, f"managed policy {arn}")
        default_id = item.get("DefaultVersionId")
        chosen = None
        for version, vpath in versions:
            if not isinstance(version, Mapping):
                self.problem(f"a policy version must be an object, found {_what(version)}", vpath)
            elif version.get("IsDefaultVersion") is True:
                chosen = (version, vpath)
                break
            elif chosen is None and default_id is not None and version.get("VersionId") == default_id:
                chosen = (version, vpath)
        if chosen is None:
            self.problem(f"managed policy {arn} has no default version in its PolicyVersionList", path)
            return None
        version, vpath = chosen
        if "Document" not in version:
            self.problem(f"the default version of managed policy {arn} has no Document", vpath)
            return None
        return version["Document"], (*vpath, "Document")

    def _attach(
        self,
        arn: str,
        principal: str,
        path: Path,
        *,
        service_linked: bool = False,
        used_by: tuple[str, ...] = (),
        boundary: bool = False,
    ) -> None:
        policy = self.managed.get(arn)
        if policy is None:
            from iamlint import managed  # noqa: PLC0415 - only for dumps: keeps detecting a policy file cheap

            known = managed.lookup(arn) if managed.is_aws_managed_arn(arn) else None
            if known is None:
                self.missing.setdefault(arn, []).append((principal, path))
                return
            # Not in the dump (filtered out): AWS's document, located at the first attachment.
            policy = self.managed[arn] = _Managed(arn, known.name, known.document, path)
        if boundary:
            policy.boundary_of.append(principal)
        else:
            policy.attached_to.append(principal)
            policy.service_linked.append(service_linked)
        policy.used_by.update(dict.fromkeys(used_by))

    def _check_managed(self) -> None:
        for policy in self.managed.values():
            source = Source(
                kind="managed-policy",
                name=policy.name,
                arn=policy.arn,
                policy_name=policy.arn,
                used_by=tuple(policy.used_by),
            )
            if policy.attached_to or not policy.boundary_of:  # unattached ones are checked too
                only_slr = bool(policy.service_linked) and all(policy.service_linked)
                attached = replace(
                    source, attached_to=tuple(policy.attached_to), via=SERVICE_LINKED if only_slr else None
                )
                self._document(policy.document, policy.path, PolicyKind.IDENTITY, attached, policy.name)
            if policy.boundary_of:
                bounding = replace(source, attached_to=tuple(policy.boundary_of), used_by=(), via=BOUNDARY_VIA)
                self._document(policy.document, policy.path, PolicyKind.BOUNDARY, bounding, policy.name)

    def _report_missing(self) -> None:
        from iamlint import managed  # noqa: PLC0415 - see _attach

        for arn, uses in self.missing.items():
            principal, path = uses[0]
            more = f" and {len(uses) - 1} more" if len(uses) > 1 else ""
            if managed.is_aws_managed_arn(arn):
                why = (
                    f"is neither in the dump's Policies list nor among the AWS managed policies "
                    f"iamlint knows ({managed.snapshot_info()})"
                )
            elif "Policies" not in self.data:
                why = "is not in the dump, which has no Policies list (made with --filter?)"
            else:
                why = "is not in the dump's Policies list"
            self.problem(f"managed policy {arn}, attached to {principal}{more}, {why}, so it was not checked", path)

    # -- principals -----------------------------------------------------------------------
    def _memberships(self, users: list[Any], groups: list[Any]) -> dict[str, list[str]]:
        """Group name -> its members ("user Alice"), from the users' GroupList."""
        known = {g["GroupName"] for g in groups if isinstance(g, Mapping) and isinstance(g.get("GroupName"), str)}
        check_known = "GroupDetailList" in self.data
        members: dict[str, list[str]] = {}
        for i, user in enumerate(users):
            if not isinstance(user, Mapping) or not isinstance(user.get("UserName"), str):
                continue  # reported when the user is read
            label = f"user {user['UserName']}"
            for group, gpath in self._entries(user, "GroupList", ("UserDetailList", i), label):
                if not isinstance(group, str):
                    self.problem(f"GroupList entries of {label} must be group names, found {_what(group)}", gpath)
                elif check_known and group not in known:
                    self.problem(
                        f"{label} is a member of group {group}, which is not in the dump's "
                        "GroupDetailList, so its policies were not checked",
                        gpath,
                    )
                else:
                    members.setdefault(group, []).append(label)
        return members

    def _principal(
        self, entry: object, path: Path, kind: str, name_key: str, inline_key: str, members: Mapping[str, list[str]]
    ) -> None:
        if not isinstance(entry, Mapping):
            self.problem(f"a {kind} entry must be an object, found {_what(entry)}", path)
            return
        name = entry.get(name_key)
        if not isinstance(name, str):
            self.problem(f"{kind} entry has no {name_key}", path)
            name = f"{path[0]}[{path[1]}]"
        label = f"{kind} {name}"
        arn = entry.get("Arn") if isinstance(entry.get("Arn"), str) else None
        role_path = entry.get("Path")
        service_linked = kind == "role" and isinstance(role_path, str) and role_path.startswith(SERVICE_LINKED_PATH)
        via = SERVICE_LINKED if service_linked else None
        used_by: tuple[str, ...] = ()
        if kind == "group":
            used_by = tuple(members.get(name, ()))
        elif kind == "role":
            used_by = self._instance_profiles(entry, path, label)
        owner = Source(kind=kind, name=name, arn=arn, via=via, used_by=used_by)

        for item, ipath in self._entries(entry, inline_key, path, label):
            if not isinstance(item, Mapping) or "PolicyDocument" not in item:
                self.problem(f"inline policy of {label} needs PolicyName and PolicyDocument", ipath)
                continue
            pname = item.get("PolicyName")
            pname = pname if isinstance(pname, str) else f"{inline_key}[{ipath[-1]}]"
            source = Source(kind=kind, name=name, arn=arn, policy_name=pname, via=via, used_by=used_by)
            self._document(item["PolicyDocument"], (*ipath, "PolicyDocument"), PolicyKind.IDENTITY, source, pname)

        for item, apath in self._entries(entry, "AttachedManagedPolicies", path, label):
            if not isinstance(item, Mapping) or not isinstance(item.get("PolicyArn"), str):
                self.problem(f"an attached managed policy of {label} needs a PolicyArn", apath)
                continue
            self._attach(
                str(item["PolicyArn"]), label, (*apath, "PolicyArn"), service_linked=service_linked, used_by=used_by
            )

        boundary = entry.get("PermissionsBoundary")
        if boundary is not None:
            bpath = (*path, "PermissionsBoundary")
            if isinstance(boundary, Mapping) and isinstance(boundary.get("PermissionsBoundaryArn"), str):
                self._attach(
                    str(boundary["PermissionsBoundaryArn"]), label, (*bpath, "PermissionsBoundaryArn"), boundary=True
                )
            else:
                self.problem(f"PermissionsBoundary of {label} needs a PermissionsBoundaryArn", bpath)

        if kind == "role":
            if "AssumeRolePolicyDocument" in entry:
                self._document(
                    entry["AssumeRolePolicyDocument"],
                    (*path, "AssumeRolePolicyDocument"),
                    PolicyKind.TRUST,
                    owner,
                    "AssumeRolePolicyDocument",
                )
            else:
                self.problem(f"{label} has no AssumeRolePolicyDocument", path)

    def _instance_profiles(self, role: Mapping[str, Any], path: Path, label: str) -> tuple[str, ...]:
        out = []
        for item, ppath in self._entries(role, "InstanceProfileList", path, label):
            name = item.get("InstanceProfileName") if isinstance(item, Mapping) else None
            if isinstance(name, str):
                out.append(f"instance profile {name}")
            else:
                self.problem(f"instance profile of {label} has no InstanceProfileName", ppath)
        return tuple(out)

    # -- documents ------------------------------------------------------------------------
    def _document(self, node: Any, path: Path, kind: PolicyKind, source: Source, name: str) -> None:
        raw = self._decode(node, path, source)
        if raw is None:
            return
        doc, problems = parse_policy(
            raw, file=self.file, base=path, marker=self.marker, kind=kind, source=source, name=name
        )
        self.result.problems.extend(problems)
        if doc is not None:
            self.result.documents.append(doc)

    def _decode(self, node: Any, path: Path, source: Source) -> Any:
        """The document as data: the CLI prints objects, the raw API URL-encoded JSON."""
        if not isinstance(node, str):
            return node
        text = node.strip()
        if not text.startswith(("{", "[")):
            from urllib.parse import unquote  # noqa: PLC0415 - rare: only the raw API encodes documents

            text = unquote(text)  # RFC 3986 percent-encoding: "+" stays a plus sign
        try:
            return json.loads(text)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
            self.problem(
                f"policy of {source.kind} {source.name} is a string that is neither JSON nor URL-encoded JSON ({exc})",
                path,
            )
            return None
