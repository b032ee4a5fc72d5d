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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from iamlint import managed
from iamlint.loaders import LoadResult, marker_for
from iamlint.loaders.cfn_policies import (
    COMPLETED,
    IDENTITY_TYPES,
    SLOTS,
    WORKLOAD_ROLES,
    PolicySlot,
    complete,
    describe_target,
    referenced_id,
    role_names,
    synthesize,
    target_names,
    workload_roles,
)
from iamlint.loaders.intrinsics import IntrinsicError, Resolver, conditions_used
from iamlint.loaders.located import Located
from iamlint.loaders.sam_nodes import NO_VALUE, fn_if
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


def load_template(located: Located, options: TemplateOptions | None = None) -> LoadResult:
    options = options or TemplateOptions()
    result = LoadResult(files=1)
    data = located.data
    if not isinstance(data, Mapping) or not isinstance(data.get("Resources"), Mapping):
        result.errors.append(
            InputError(located.file, "a CloudFormation template needs a Resources section (an object)", 1, 1)
        )
        return result
    result.errors.extend(_not_expanded(located, data))
    _TemplateReader(located, data, options, result).read()
    _read_suppressions(located, result)
    return result


def _not_expanded(located: Located, data: Mapping[str, Any]) -> list[InputError]:
    """What CloudFormation rejects about a template's macros, and SAM resources that nothing
    expands (a SAM template is read by iamlint.loaders.sam, which calls here with the result)."""

    def error(path: Path, message: str) -> InputError:
        return InputError(located.file, message, *located.line_column(path), path)

    out = []
    transform = data.get("Transform")
    names = transform if isinstance(transform, list) else [transform]
    if transform is not None and not all(isinstance(t, (str, Mapping)) for t in names):
        out.append(
            error(
                ("Transform",),
                "Transform must name a macro (AWS::Serverless-2016-10-31) or list them, "
                f"found {type(transform).__name__}",
            )
        )
    for logical_id, res in data["Resources"].items():
        kind = res.get("Type") if isinstance(res, Mapping) else None
        if isinstance(kind, str) and kind.startswith("AWS::Serverless::"):
            out.append(
                error(
                    ("Resources", logical_id, "Type"),
                    f"{logical_id} is a SAM resource ({kind}) in a template without "
                    "Transform: AWS::Serverless-2016-10-31: CloudFormation rejects it, and its policies "
                    "are not checked",
                )
            )
    return out


def _read_suppressions(located: Located, result: LoadResult) -> None:
    """Hook for the suppression stage: `Metadata.iamlint` of each resource (see iamlint.suppress)."""
    from iamlint.suppress import template_suppressions  # noqa: PLC0415 - only templates need it

    suppressions, errors = template_suppressions(located)
    result.suppressions.extend(suppressions)
    result.errors.extend(errors)


class _TemplateReader:
    def __init__(
        self, located: Located, template: Mapping[str, Any], options: TemplateOptions, result: LoadResult
    ) -> None:
        self.located = located
        self.file = located.file
        self.template = template
        self.options = options
        self.result = result
        self.marker = marker_for(located)
        self.resolver = Resolver(template, options.parameters)
        self.resources: Mapping[str, Any] = template["Resources"]
        self.reported: set[Problem] = set()
        self.used_by = self._workloads()
        self.attached_by = self._managed_attachments()

    # -- what runs with which role ---------------------------------------------------------
    def _workloads(self) -> dict[str, list[str]]:
        used: dict[str, list[str]] = {}
        names = role_names(self.resources)
        for logical_id, res in self.resources.items():
            if not isinstance(res, Mapping):
                continue
            spec = WORKLOAD_ROLES.get(str(res.get("Type")))
            props = res.get("Properties")
            if spec is None or not isinstance(props, Mapping):
                continue
            prop, label = spec
            for role in workload_roles(props.get(prop), self.resources, names):
                used.setdefault(role, []).append(f"{label} {logical_id}")
        for group, user in self._memberships():
            member = f"user {user}"
            if member not in used.setdefault(group, []):
                used[group].append(member)
        return used

    def _managed_attachments(self) -> dict[str, list[tuple[str, str]]]:
        """Customer managed policies of this template attached by reference from the other side:
        a role's `ManagedPolicyArns: [!Ref MP]` (SAM writes that for `Policies: [!Ref MP]`), as
        (kind, logical id) per policy, so that the policy's grants count for the role too."""
        out: dict[str, list[tuple[str, str]]] = {}
        for logical_id, res in self.resources.items():
            kind = IDENTITY_TYPES.get(str(res.get("Type"))) if isinstance(res, Mapping) else None
            props = res.get("Properties") if kind is not None else None
            arns = props.get("ManagedPolicyArns") if isinstance(props, Mapping) else None
            for item in _branches(arns):
                policy = referenced_id(item)
                target = self.resources.get(policy) if policy is not None else None
                if isinstance(target, Mapping) and target.get("Type") == "AWS::IAM::ManagedPolicy":
                    entry = (str(kind), str(logical_id))
                    if entry not in out.setdefault(str(policy), []):
                        out[str(policy)].append(entry)
        return out

    def _memberships(self) -> list[tuple[str, str]]:
        """(group, user) logical ids joined in this template: a user's `Groups`, and
        `AWS::IAM::UserToGroupAddition` (which CDK writes for `group.addUser`). A group named
        by a plain string lives outside the template and is not followed."""
        out: list[tuple[str, str]] = []
        for logical_id, res in self.resources.items():
            props = res.get("Properties") if isinstance(res, Mapping) else None
            if not isinstance(props, Mapping):
                continue
            if res.get("Type") == "AWS::IAM::User" and isinstance(props.get("Groups"), list):
                out += [
                    (g, str(logical_id))
                    for item in props["Groups"]
                    if (g := referenced_id(item)) is not None and g in self.resources
                ]
            elif res.get("Type") == "AWS::IAM::UserToGroupAddition" and isinstance(props.get("Users"), list):
                group = referenced_id(props.get("GroupName"))
                if group is not None and group in self.resources:
                    out += [
                        (group, u)
                        for item in props["Users"]
                        if (u := referenced_id(item)) is not None and u in self.resources
                    ]
        return out

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
                self._attached(
                    str(logical_id),
                    res,
                    "role",
                    props["PermissionsBoundary"],
                    (*base, "Properties", "PermissionsBoundary"),
                    PolicyKind.BOUNDARY,
                    "PermissionsBoundary",
                )

    def problem(self, message: str, path: Path) -> None:
        mark = self.marker(path)
        line, col = mark if mark else (None, None)
        found = Problem(message, Location(self.file, line, col, path))
        if found not in self.reported:  # two slots may walk one property (a global table's Replicas)
            self.reported.add(found)
            self.result.problems.append(found)

    def _owner(self, logical_id: str, res: Mapping[str, Any], slot: PolicySlot, props: Mapping[str, Any]) -> Source:
        cpath = self.construct_path(logical_id, res)
        if slot.source_kind in ("role", "user", "group") and slot.target is None:
            return Source(
                kind=slot.source_kind,
                name=logical_id,
                logical_id=logical_id,
                construct_path=cpath,
                used_by=tuple(self.used_by.get(logical_id, ())),
            )
        if slot.kind is PolicyKind.IDENTITY:
            principals = self._attachments(props, slot, logical_id)
            if len(principals) == 1:
                kind, name = principals[0]
                return Source(
                    kind=kind,
                    name=name,
                    logical_id=logical_id,
                    construct_path=cpath,
                    policy_name=_policy_name(props, logical_id),
                    via=f"{res.get('Type')} {logical_id}",
                    used_by=tuple(self.used_by.get(name, ())),
                )
            return Source(
                kind=slot.source_kind,
                name=logical_id,
                logical_id=logical_id,
                construct_path=cpath,
                policy_name=_policy_name(props, logical_id),
                attached_to=tuple(f"{k} {n}" for k, n in principals),
            )
        target = props.get(slot.target) if slot.target else None
        name = describe_target(target) or logical_id
        return Source(kind=slot.source_kind, name=name, logical_id=logical_id, construct_path=cpath)

    def _attachments(
        self, props: Mapping[str, Any], slot: PolicySlot, logical_id: str | None = None
    ) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if slot.target:
            name = describe_target(props.get(slot.target))
            if name:
                out.append((slot.source_kind, name))
            return out
        for prop, kind in (("Roles", "role"), ("Users", "user"), ("Groups", "group")):
            nodes = props.get(prop)
            for node in nodes if isinstance(nodes, list) else []:
                out += [(kind, name) for name in target_names(node) if (kind, name) not in out]
        if logical_id is not None:
            out += [entry for entry in self.attached_by.get(logical_id, ()) if entry not in out]
        return out

    def _slot(
        self, logical_id: str, res: Mapping[str, Any], rtype: str, props: Mapping[str, Any], slot: PolicySlot
    ) -> None:
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
        if slot.within:
            for assume, doc, path, via in self._nested(node, (*base, slot.prop), logical_id, slot):
                self._document(
                    doc, path, slot.kind, replace(owner, via=via), logical_id, res, name=logical_id, assume=assume
                )
            return
        if not slot.inline_list:
            self._document(node, (*base, slot.prop), slot.kind, owner, logical_id, res, name=logical_id)
            return
        for outer, entries, entries_path in self._choices(node, (*base, slot.prop), logical_id):
            if not isinstance(entries, list):
                self.problem(f"{slot.prop} of {logical_id} must be a list of inline policies", entries_path)
                continue
            for i, item in enumerate(entries):
                for assume, entry, path in self._choices(item, (*entries_path, i), logical_id, outer):
                    if not isinstance(entry, Mapping) or "PolicyDocument" not in entry:
                        self.problem(f"inline policy {i} of {logical_id} needs PolicyName and PolicyDocument", path)
                        continue
                    name = entry.get("PolicyName")
                    label = name if isinstance(name, str) else f"{slot.prop}[{i}]"
                    src = replace(owner, policy_name=label, via=f"{slot.prop}[{i}]")
                    self._document(
                        entry["PolicyDocument"],
                        (*path, "PolicyDocument"),
                        slot.kind,
                        src,
                        logical_id,
                        res,
                        name=label,
                        assume=assume,
                    )

    def _nested(
        self,
        node: Any,
        path: Path,
        logical_id: str,
        slot: PolicySlot,
    ) -> list[tuple[dict[str, bool], Any, Path, str]]:
        """The documents `slot.within` a property (a DynamoDB table's `ResourcePolicy.PolicyDocument`,
        each replica's): (the conditions that choose it, the document, its path, the property
        that holds it, as `Replicas[1].ResourcePolicy`)."""
        found: list[tuple[dict[str, bool], Any, Path, str]] = [({}, node, path, slot.prop)]
        for depth, key in enumerate(slot.within):
            last = depth == len(slot.within) - 1
            step: list[tuple[dict[str, bool], Any, Path, str]] = []
            for assume, item, where, via in found:
                for taken, value, at in self._choices(item, where, logical_id, assume):
                    if key == "[]" and isinstance(value, list):
                        step += [(taken, v, (*at, i), f"{via}[{i}]") for i, v in enumerate(value)]
                    elif key == "[]" or not isinstance(value, Mapping):
                        self.problem(f"{via} of {logical_id} must be {'a list' if key == '[]' else 'an object'}", at)
                    elif key in value:
                        step.append((taken, value[key], (*at, key), via if last else f"{via}.{key}"))
                    elif last:
                        self.problem(f"{via} of {logical_id} needs {key}", at)
            found = step
        return found

    def _choices(
        self,
        node: Any,
        path: Path,
        logical_id: str,
        assume: Mapping[str, bool] | None = None,
    ) -> list[tuple[dict[str, bool], Any, Path]]:
        """What a list or list entry wrapped in `Fn::If` stands for under each branch: (the
        conditions assumed, the node, its path). A branch that is `AWS::NoValue` adds nothing.

        Chosen structurally, without resolving the node, so that the policy inside keeps its
        own path (and so its line) for the loader that reads it next.
        """
        out: list[tuple[dict[str, bool], Any, Path]] = []
        todo: list[tuple[dict[str, bool], Any, Path]] = [(dict(assume or {}), node, path)]
        while todo:
            taken, item, where = todo.pop()
            test = fn_if(item)
            if test is None:
                if item != NO_VALUE:
                    out.append((taken, item, where))
                continue
            name = test[0]
            if not self.resolver.defines_condition(name):
                self.problem(
                    f"Fn::If tests condition {name!r}, which the template's Conditions do not define (in {logical_id})",
                    where,
                )
                continue
            if name in taken:  # decided further out: only that branch exists here
                todo.append((taken, test[1 if taken[name] else 2], (*where, "Fn::If", 1 if taken[name] else 2)))
            elif len(taken) >= MAX_CONDITION_SPLIT:
                self.problem(
                    f"{logical_id} uses more than {MAX_CONDITION_SPLIT} conditions around one policy; "
                    f"condition {name} was checked under its true branch only",
                    where,
                )
                todo.append(({**taken, name: True}, test[1], (*where, "Fn::If", 1)))
            else:
                todo.append(({**taken, name: False}, test[2], (*where, "Fn::If", 2)))
                todo.append(({**taken, name: True}, test[1], (*where, "Fn::If", 1)))
        return out

    def _document(
        self,
        node: Any,
        path: Path,
        kind: PolicyKind,
        source: Source,
        logical_id: str,
        res: Mapping[str, Any],
        name: str,
        assume: Mapping[str, bool] | None = None,
    ) -> None:
        """Check a policy once per branch of the conditions it uses; `assume` holds those
        decided around it already (an `Fn::If` choosing the inline policy itself)."""
        seen: set[str] = set()
        try:
            for branch, raw in self._each_branch(node, assume or {}, logical_id, path):
                if isinstance(raw, str):
                    try:
                        raw = json.loads(raw)  # Logs resource policies and ECR hold JSON strings
                    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
                        self.problem(f"policy of {logical_id} is a string that is not JSON: {exc}", path)
                        return
                if res.get("Type") in COMPLETED:  # what AWS reads into the policy: see complete
                    rtype = str(res["Type"])
                    raw = complete(rtype, raw, self.resolver.get_att(logical_id, "Arn"), self.resolver.where())
                key = json.dumps(raw, sort_keys=True, default=str)
                if key in seen:
                    continue  # this branch grants the same as one already checked
                seen.add(key)
                self._parse(raw, path, kind, replace(source, condition=_label(branch)), logical_id, res, name)
        except IntrinsicError as exc:
            self.problem(str(exc), path)

    def _each_branch(
        self, node: Any, outer: Mapping[str, bool], logical_id: str, where: Path
    ) -> Iterator[tuple[dict[str, bool], Any]]:
        """`node` resolved once per branch of the conditions its `Fn::If`s test, beyond those
        `outer` decides (at most MAX_CONDITION_SPLIT in all): (the conditions assumed, the
        value). What the resolver found wrong is reported at `where`, once per branch; an
        IntrinsicError ends the iteration."""
        room = max(0, MAX_CONDITION_SPLIT - len(outer))
        conditions = [c for c in conditions_used(node) if c not in outer][:room]
        for values in itertools.product((True, False), repeat=len(conditions)):
            assume = {**outer, **dict(zip(conditions, values, strict=True))}
            resolver = self.resolver.with_assumptions(assume)
            resolver.problems = []
            value = resolver.resolve(node)
            for message in dict.fromkeys(resolver.problems):
                if "was not split on" not in message:
                    self.problem(f"{message} (in {logical_id})", where)
            yield assume, value

    def _parse(
        self, raw: Any, path: Path, kind: PolicyKind, source: Source, logical_id: str, res: Mapping[str, Any], name: str
    ) -> None:
        file, marker = self.file, self.marker
        if self.options.relocate is not None:
            moved = self.options.relocate(logical_id, path)
            if moved is not None:
                path, marker = moved
        doc, problems = parse_policy(
            raw,
            file=file,
            base=path,
            marker=marker,
            kind=kind,
            source=source,
            name=name,
            logical_id=logical_id,
            construct_path=self.construct_path(logical_id, res),
        )
        self.result.problems.extend(problems)
        if doc is not None:
            self.result.documents.append(doc)

    def _managed_arns(self, logical_id: str, res: Mapping[str, Any], props: Mapping[str, Any], kind: str) -> None:
        arns = props.get("ManagedPolicyArns")
        if arns is None:
            return
        base: Path = ("Resources", logical_id, "Properties", "ManagedPolicyArns")
        for outer, listed, listed_path in self._choices(arns, base, logical_id):
            if not isinstance(listed, list):
                self.problem(f"ManagedPolicyArns of {logical_id} must be a list", listed_path)
                continue
            for i, item in enumerate(listed):
                for assume, node, path in self._choices(item, (*listed_path, i), logical_id, outer):
                    self._attached(
                        logical_id, res, kind, node, path, PolicyKind.IDENTITY, f"ManagedPolicyArns[{i}]", assume
                    )

    def _attached(
        self,
        logical_id: str,
        res: Mapping[str, Any],
        kind: str,
        node: Any,
        path: Path,
        policy_kind: PolicyKind,
        via: str,
        assume: Mapping[str, bool] | None = None,
    ) -> None:
        """An AWS managed policy attached by ARN: check the document it stands for (under the
        conditions `assume`d around it, which its finding names)."""
        found: dict[str, tuple[dict[str, bool], Path]] = {}  # ARN -> conditions it holds under, where
        for chosen, value, where in self._choices(node, path, logical_id, assume):
            try:  # an Fn::If inside the value too (a Sub or Join choosing the partition, say)
                for taken, arn in self._each_branch(value, chosen, logical_id, where):
                    if not isinstance(arn, str):
                        continue
                    if arn in found:  # the same policy either way: keep only what both share
                        before, at = found[arn]
                        found[arn] = ({c: v for c, v in before.items() if taken.get(c) == v}, at)
                    else:
                        found[arn] = (taken, where)
            except IntrinsicError as exc:
                self.problem(str(exc), where)
        for arn, (taken, where) in found.items():
            self._attach_arn(logical_id, res, kind, arn, where, policy_kind, via, taken)

    def _attach_arn(
        self,
        logical_id: str,
        res: Mapping[str, Any],
        kind: str,
        arn: Any,
        path: Path,
        policy_kind: PolicyKind,
        via: str,
        assume: Mapping[str, bool],
    ) -> None:
        if not isinstance(arn, str) or not managed.is_aws_managed_arn(arn):
            return  # a customer managed policy: checked where the template defines it
        policy = managed.lookup(arn)
        if policy is None:
            self.problem(f"{arn} is not an AWS managed policy known to iamlint ({managed.snapshot_info()})", path)
            return
        source = Source(
            kind=kind,
            name=logical_id,
            logical_id=logical_id,
            construct_path=self.construct_path(logical_id, res),
            policy_name=policy.arn,
            via=via,
            condition=_label(assume),
            used_by=tuple(self.used_by.get(logical_id, ())),
        )
        # Every element of the managed document is located at the line that attaches it.
        self._parse(policy.document, path, policy_kind, source, logical_id, res, name=policy.name)


def _alternatives(node: Any) -> list[Any]:
    """A property value, or both branches of its `Fn::If` (nested ones too)."""
    test = fn_if(node)
    if test is None:
        return [node]
    return [x for branch in test[1:] for x in _alternatives(branch)]


def _branches(node: Any) -> list[Any]:
    """The items a list property may hold, whichever way its `Fn::If`s (around or in it) go."""
    return [
        x for value in _alternatives(node) if isinstance(value, list) for item in value for x in _alternatives(item)
    ]


def _label(assume: Mapping[str, bool]) -> str | None:
    """How a finding names the branch it was found in: "IsProd and not UseKms"."""
    return " and ".join(c if v else f"not {c}" for c, v in assume.items()) or None


def _policy_name(props: Mapping[str, Any], logical_id: str) -> str:
    for key in ("PolicyName", "ManagedPolicyName"):
        if isinstance(props.get(key), str):
            return str(props[key])
    return logical_id
