"""CloudFormation templates (YAML or JSON): every policy they carry, at the line a person edits.

Identity policies (inline, `AWS::IAM::Policy`, managed policies and AWS managed policies
attached by ARN), trust policies, permissions boundaries and resource policies are all read,
with intrinsic functions resolved (`intrinsics`) and each policy's owner recorded: the role,
user, group or resource it applies to, and the workloads that run with a role. A policy using
`Fn::If` is checked once per branch, and findings in a branch name the condition.

The same loader reads the templates of CDK assemblies and the SAM translator's output; those
callers pass construct paths or an origin map so that findings point at their sources.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from iamlint import managed
from iamlint.loaders import LoadResult, marker_for
from iamlint.loaders.cfn_policies import IDENTITY_TYPES, SLOTS, WORKLOAD_ROLES, PolicySlot, referenced_id, synthesize
from iamlint.loaders.intrinsics import IntrinsicError, Resolver, conditions_used
from iamlint.loaders.located import Located
from iamlint.model import InputError, Location, PolicyKind, Source
from iamlint.policy import Marker, Path, Problem, parse_policy

MAX_CONDITION_SPLIT = 4  # a policy using more conditions is checked under their first branches


@dataclass(frozen=True, slots=True)
class TemplateOptions:
    parameters: Mapping[str, str] = field(default_factory=dict)
    # Logical id -> construct path, for CDK templates whose resources lack aws:cdk:path.
    construct_paths: Mapping[str, str] = field(default_factory=dict)
    # Re-maps generated locations to their source (SAM): (logical id, path) -> (file path, marker).
    relocate: Callable[[str, Path], tuple[Path, Marker] | None] | None = None


def is_template(data: object) -> bool:
    return isinstance(data, Mapping) and (
        isinstance(data.get("Resources"), Mapping) or "AWSTemplateFormatVersion" in data
    )


def load_template(located: Located, options: TemplateOptions | None = None) -> LoadResult:
    options = options or TemplateOptions()
    result = LoadResult(files=1)
    data = located.data
    if not isinstance(data, Mapping) or not isinstance(data.get("Resources"), Mapping):
        result.errors.append(InputError(located.file, "a CloudFormation template needs a Resources section (an object)", 1, 1))
        return result
    _TemplateReader(located, data, options, result).read()
    _read_suppressions(located, result)
    return result


def _read_suppressions(located: Located, result: LoadResult) -> None:
    """Hook for the suppression stage: `Metadata.iamlint` of each resource (see iamlint.suppress)."""
    from iamlint.suppress import template_suppressions  # noqa: PLC0415 - only templates need it

    suppressions, errors = template_suppressions(located)
    result.suppressions.extend(suppressions)
    result.errors.extend(errors)


class _TemplateReader:
    def __init__(self, located: Located, template: Mapping[str, Any], options: TemplateOptions, result: LoadResult) -> None:
        self.located = located
        self.file = located.file
        self.template = template
        self.options = options
        self.result = result
        self.marker = marker_for(located)
        self.resolver = Resolver(template, options.parameters)
        self.resources: Mapping[str, Any] = template["Resources"]
        self.used_by = self._workloads()

    # -- what runs with which role ---------------------------------------------------------
    def _workloads(self) -> dict[str, list[str]]:
        used: dict[str, list[str]] = {}
        for logical_id, res in self.resources.items():
            if not isinstance(res, Mapping):
                continue
            spec = WORKLOAD_ROLES.get(str(res.get("Type")))
            props = res.get("Properties")
            if spec is None or not isinstance(props, Mapping):
                continue
            prop, label = spec
            nodes = props.get(prop)
            for node in nodes if isinstance(nodes, list) else [nodes]:
                role = referenced_id(node)
                if role is not None:
                    used.setdefault(role, []).append(f"{label} {logical_id}")
        return used

    def construct_path(self, logical_id: str, res: Mapping[str, Any]) -> str | None:
        meta = res.get("Metadata")
        if isinstance(meta, Mapping) and isinstance(meta.get("aws:cdk:path"), str):
            return str(meta["aws:cdk:path"])
        return self.options.construct_paths.get(logical_id)

    # -- reading --------------------------------------------------------------------------
    def read(self) -> None:
        for logical_id, res in self.resources.items():
            base: Path = ("Resources", str(logical_id))
            if not isinstance(res, Mapping):
                self.problem(f"resource {logical_id} must be an object", base)
                continue
            rtype = res.get("Type")
            props = res.get("Properties", {})
            if not isinstance(rtype, str):
                self.problem(f"Type of {logical_id} must be a string such as AWS::IAM::Role", (*base, "Type"))
                continue
            if not isinstance(props, Mapping):
                self.problem(f"Properties of {logical_id} must be an object", (*base, "Properties"))
                continue
            for slot in SLOTS.get(str(rtype), ()):
                self._slot(str(logical_id), res, str(rtype), props, slot)
            if rtype in IDENTITY_TYPES:
                self._managed_arns(str(logical_id), res, props, IDENTITY_TYPES[str(rtype)])
            if rtype == "AWS::IAM::Role" and "PermissionsBoundary" in props:
                self._attached(str(logical_id), res, "role", props["PermissionsBoundary"],
                               (*base, "Properties", "PermissionsBoundary"), PolicyKind.BOUNDARY, "PermissionsBoundary")

    def problem(self, message: str, path: Path) -> None:
        mark = self.marker(path)
        line, col = mark if mark else (None, None)
        self.result.problems.append(Problem(message, Location(self.file, line, col, path)))

    def _owner(self, logical_id: str, res: Mapping[str, Any], slot: PolicySlot, props: Mapping[str, Any]) -> Source:
        cpath = self.construct_path(logical_id, res)
        if slot.source_kind in ("role", "user", "group") and slot.target is None:
            return Source(kind=slot.source_kind, name=logical_id, logical_id=logical_id, construct_path=cpath,
                          used_by=tuple(self.used_by.get(logical_id, ())))
        if slot.kind is PolicyKind.IDENTITY:
            principals = self._attachments(props, slot)
            if len(principals) == 1:
                kind, name = principals[0]
                return Source(kind=kind, name=name, logical_id=logical_id, construct_path=cpath,
                              policy_name=_policy_name(props, logical_id), via=f"{res.get('Type')} {logical_id}",
                              used_by=tuple(self.used_by.get(name, ())))
            return Source(kind=slot.source_kind, name=logical_id, logical_id=logical_id, construct_path=cpath,
                          policy_name=_policy_name(props, logical_id),
                          attached_to=tuple(f"{k} {n}" for k, n in principals))
        target = props.get(slot.target) if slot.target else None
        name = _describe_target(target) or logical_id
        return Source(kind=slot.source_kind, name=name, logical_id=logical_id, construct_path=cpath)

    def _attachments(self, props: Mapping[str, Any], slot: PolicySlot) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if slot.target:
            name = _describe_target(props.get(slot.target))
            if name:
                out.append((slot.source_kind, name))
            return out
        for prop, kind in (("Roles", "role"), ("Users", "user"), ("Groups", "group")):
            nodes = props.get(prop)
            for node in nodes if isinstance(nodes, list) else []:
                name = _describe_target(node)
                if name:
                    out.append((kind, name))
        return out

    def _slot(self, logical_id: str, res: Mapping[str, Any], rtype: str, props: Mapping[str, Any], slot: PolicySlot) -> None:
        base: Path = ("Resources", logical_id, "Properties")
        owner = self._owner(logical_id, res, slot, props)
        if not slot.prop:
            doc = synthesize(rtype, props)
            if doc is not None:
                self._document(doc, base, slot.kind, owner, logical_id, res, name=logical_id)
            return
        if slot.prop not in props:
            return
        node = props[slot.prop]
        if not slot.inline_list:
            self._document(node, (*base, slot.prop), slot.kind, owner, logical_id, res, name=logical_id)
            return
        if not isinstance(node, list):
            self.problem(f"{slot.prop} of {logical_id} must be a list of inline policies", (*base, slot.prop))
            return
        for i, entry in enumerate(node):
            path = (*base, slot.prop, i)
            if not isinstance(entry, Mapping) or "PolicyDocument" not in entry:
                self.problem(f"inline policy {i} of {logical_id} needs PolicyName and PolicyDocument", path)
                continue
            name = entry.get("PolicyName")
            label = name if isinstance(name, str) else f"{slot.prop}[{i}]"
            src = replace(owner, policy_name=label, via=f"{slot.prop}[{i}]")
            self._document(entry["PolicyDocument"], (*path, "PolicyDocument"), slot.kind, src, logical_id, res, name=label)

    def _document(self, node: Any, path: Path, kind: PolicyKind, source: Source, logical_id: str,
                  res: Mapping[str, Any], name: str) -> None:
        conditions = conditions_used(node)[:MAX_CONDITION_SPLIT]
        seen: set[str] = set()
        for values in itertools.product((True, False), repeat=len(conditions)):
            assume = dict(zip(conditions, values, strict=True))
            resolver = self.resolver.with_assumptions(assume)
            resolver.problems = []
            try:
                raw = resolver.resolve(node)
            except IntrinsicError as exc:
                self.problem(str(exc), path)
                return
            for message in resolver.problems:
                if "was not split on" not in message:
                    self.problem(f"{message} (in {logical_id})", path)
            if isinstance(raw, str):
                try:
                    raw = json.loads(raw)  # Logs resource policies and ECR hold JSON strings
                except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
                    self.problem(f"policy of {logical_id} is a string that is not JSON: {exc}", path)
                    return
            key = json.dumps(raw, sort_keys=True, default=str)
            if key in seen:
                continue  # this branch grants the same as one already checked
            seen.add(key)
            label = " and ".join(c if v else f"not {c}" for c, v in assume.items()) or None
            self._parse(raw, path, kind, replace(source, condition=label), logical_id, res, name)

    def _parse(self, raw: Any, path: Path, kind: PolicyKind, source: Source, logical_id: str,
               res: Mapping[str, Any], name: str) -> None:
        file, marker = self.file, self.marker
        if self.options.relocate is not None:
            moved = self.options.relocate(logical_id, path)
            if moved is not None:
                path, marker = moved
        doc, problems = parse_policy(raw, file=file, base=path, marker=marker, kind=kind, source=source, name=name,
                                     logical_id=logical_id, construct_path=self.construct_path(logical_id, res))
        self.result.problems.extend(problems)
        if doc is not None:
            self.result.documents.append(doc)

    def _managed_arns(self, logical_id: str, res: Mapping[str, Any], props: Mapping[str, Any], kind: str) -> None:
        arns = props.get("ManagedPolicyArns")
        if arns is None:
            return
        base: Path = ("Resources", logical_id, "Properties", "ManagedPolicyArns")
        if not isinstance(arns, list):
            self.problem(f"ManagedPolicyArns of {logical_id} must be a list", base)
            return
        for i, node in enumerate(arns):
            self._attached(logical_id, res, kind, node, (*base, i), PolicyKind.IDENTITY, f"ManagedPolicyArns[{i}]")

    def _attached(self, logical_id: str, res: Mapping[str, Any], kind: str, node: Any, path: Path,
                  policy_kind: PolicyKind, via: str) -> None:
        """An AWS managed policy attached by ARN: check the document it stands for."""
        try:
            arn = self.resolver.resolve(node)
        except IntrinsicError as exc:
            self.problem(str(exc), path)
            return
        if not isinstance(arn, str) or not managed.is_aws_managed_arn(arn):
            return  # a customer managed policy: checked where the template defines it
        policy = managed.lookup(arn)
        if policy is None:
            self.problem(f"{arn} is not an AWS managed policy known to iamlint ({managed.snapshot_info()})", path)
            return
        source = Source(kind=kind, name=logical_id, logical_id=logical_id,
                        construct_path=self.construct_path(logical_id, res), policy_name=policy.arn, via=via,
                        used_by=tuple(self.used_by.get(logical_id, ())))
        # Every element of the managed document is located at the line that attaches it.
        self._parse(policy.document, path, policy_kind, source, logical_id, res, name=policy.name)


def _policy_name(props: Mapping[str, Any], logical_id: str) -> str:
    for key in ("PolicyName", "ManagedPolicyName"):
        if isinstance(props.get(key), str):
            return str(props[key])
    return logical_id


def _describe_target(node: Any) -> str | None:
    names: list[str] = []
    stack = [node]
    while stack:  # a loop, not recursion: lists in lists may nest a thousand levels deep
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, str):
            names.append(item)
        elif (ref := referenced_id(item)) is not None:
            names.append(ref)
    return ", ".join(n for n in names if n) or None
