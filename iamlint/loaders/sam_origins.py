"""Where each part of a translated SAM template comes from in the SAM source.

The SAM translator turns `OrdersFunction` into an `AWS::Lambda::Function`, an `OrdersFunctionRole`
and more; the CloudFormation loader reads those. This module maps every path of the translated
template back to the SAM text that produced it, for the loader's relocation hook and for the
line of any problem it reports:

- the generated role of a function or state machine: inline policy `<Id>RolePolicy<N>` is entry
  N of the SAM `Policies` (statement by statement for an inline policy; at the entry for a policy
  template), a managed policy ARN is the entry that names it; what SAM adds itself points at what
  made it add it (the function for `AWSLambdaBasicExecutionRole`, `Tracing`, `VpcConfig`,
  `DeadLetterQueue`, `Events`), and `Globals` values at the Globals entry;
- resources generated for an event or a connector: that event or connector;
- resources that were not SAM resources: themselves, one to one.

Generated resources are recognised by the origin marker (`iamlint:origin`) that `sam.load_sam`
puts in each SAM resource's `Metadata` and the translator copies. Three shapes of the translated
template that the CloudFormation loader would not read are rewritten first: an `Fn::If` around
an inline policy (moved inside its document), an `Fn::If` between managed policy ARNs (one entry
per branch, labelled with the condition), and the resource policy SAM writes into an API's
OpenAPI body (`x-amazon-apigateway-policy`, checked as the API's `Policy`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from iamlint.loaders import LoadResult
from iamlint.loaders.located import Located, Mark
from iamlint.loaders.sam_nodes import (
    MISSING,
    NO_VALUE,
    SAM_PREFIX,
    child,
    fn_if,
    if_branches,
    lookup_path,
    merged_path,
    props_of,
    sam_type,
    same_managed,
    template_name,
    unresolved_names,
)
from iamlint.model import InputError, Source
from iamlint.policy import Marker, Path
from iamlint.principals import ADDED_BY_SAM

ORIGIN_KEY = "iamlint:origin"
# What SAM adds to a generated role by itself, and the property that makes it do so.
_ADDED_MANAGED = (
    (re.compile(r"AWSLambdaBasic(Durable)?Execution"), None),
    (re.compile(r"(?i)xray"), "Tracing"),
    (re.compile(r"AWSLambdaVPCAccessExecutionRole"), "VpcConfig"),
)
_INVOKE_CONFIG_POLICY = re.compile(r"(SQS|SNS|S3|EventBridge|Lambda)Policy$")

Resolve = Callable[[Path], Path]


@dataclass(frozen=True, slots=True)
class Origin:
    """The SAM source of a generated node: its path, and how paths below it map."""

    base: Path
    resolve: Resolve = field(compare=False)  # a path below the generated node -> its source path
    owner: str  # the SAM logical id a person edits
    via: str | None = None
    policy_name: str | None = None
    condition: str | None = None  # the branch of an `Fn::If` this node was taken from


def _exact(base: Path, owner: str, via: str | None = None, policy_name: str | None = None) -> Origin:
    return Origin(base, lambda rest: (*base, *rest), owner, via, policy_name)


def _anchor(base: Path, owner: str, via: str | None = None, policy_name: str | None = None) -> Origin:
    return Origin(base, lambda _rest: base, owner, via, policy_name)


class _TranslatedTemplate(Located):
    """The translated template, whose marks are those of the SAM source it came from."""

    __slots__ = ("_origins",)

    def __init__(self, data: object, file: str, origins: Origins) -> None:
        super().__init__(data, file, _no_index)
        self._origins = origins

    def mark(self, path: Path) -> Mark | None:
        return self._origins.source_mark(path)


def _no_index() -> Any:
    return (None, None, None)  # never read: _TranslatedTemplate.mark does not use an index


class Origins:
    """Paths of one translated SAM template, mapped back to its source."""

    def __init__(self, located: Located, source: Mapping[str, Any], translated: dict[str, Any], region: str) -> None:
        self.located = located
        self.source = source
        self.template = translated
        self.region = region
        self.sources: Mapping[str, Any] = source["Resources"]
        self.slots: dict[Path, Origin] = {}
        # (generated logical id, source path, how the loader says it was attached) -> origin
        self.relocated: dict[tuple[str, Path, str | None], Origin] = {}
        self.split_entries: set[Path] = set()  # rewritten `Fn::If` inline policies (see _split_if)
        self.split_documents: set[tuple[str, Path]] = set()  # the same, as loaded documents' keys
        self.errors: list[InputError] = []
        self._build()

    # -- the loader's hooks ----------------------------------------------------------------
    def translated_located(self) -> Located:
        return _TranslatedTemplate(self.template, self.located.file, self)

    def lookup(self, path: Path) -> tuple[Origin | None, Path]:
        for k in range(len(path), 1, -1):
            origin = self.slots.get(path[:k])
            if origin is not None:
                return origin, path[k:]
        return None, path  # outside generated resources: the same path in the source

    def source_path(self, path: Path) -> Path:
        origin, rest = self.lookup(path)
        return path if origin is None else origin.resolve(rest)

    def source_mark(self, path: Path) -> Mark | None:
        return self.located.mark(self.source_path(path))

    def relocate(self, logical_id: str, path: Path) -> tuple[Path, Marker] | None:
        origin, rest = self.lookup(path)
        if origin is None:
            return None
        nominal = origin.resolve(rest)
        self.relocated[(logical_id, nominal, _attachment(path))] = origin
        if path in self.split_entries:
            self.split_documents.add((logical_id, nominal))

        def marker(sub: Path) -> tuple[int, int] | None:
            below = sub[len(nominal) :] if sub[: len(nominal)] == nominal else None
            mark = self.located.mark(origin.resolve((*rest, *below)) if below is not None else sub)
            return (mark.line, mark.column) if mark else None

        return nominal, marker

    def finish(self, result: LoadResult) -> None:
        """Give the loaded documents and problems their SAM provenance."""
        documents = []
        for doc in result.documents:
            key = (doc.loc.logical_id or "", doc.loc.keys)
            via = doc.source.via if doc.source else None
            origin = self.relocated.get((*key, via if via and _ATTACHMENT.fullmatch(via) else None))
            if origin is None:
                documents.append(doc)
                continue
            if not doc.statements and key in self.split_documents:
                continue  # the branch of a conditional policy that SAM leaves out
            documents.append(replace(doc, source=_provenance(doc.source, origin)))
        result.documents[:] = documents
        bases = {nominal for _, nominal, _ in self.relocated}
        for i, problem in enumerate(result.problems):
            keys = problem.loc.keys
            if any(keys[: len(b)] == b for b in bases):
                continue  # already a source path
            result.problems[i] = replace(problem, loc=replace(problem.loc, keys=self.source_path(keys)))
        result.errors.extend(self.errors)

    # -- building the map -------------------------------------------------------------------
    def _build(self) -> None:
        for rid, res in self.template.get("Resources", {}).items():
            if not isinstance(res, dict):
                continue
            marker = _origin_marker(res)
            if marker is None:
                if rid not in self.sources or sam_type(self.sources[rid]):
                    self.slots[("Resources", rid)] = self._unmarked(rid)
                continue  # a plain CloudFormation resource: one to one
            self.slots[("Resources", rid)] = self._generated(rid, marker)
            if len(marker) != 2:
                continue  # made by an embedded connector
            sam_id = str(marker[1])
            kind = sam_type(self.sources.get(sam_id))
            if (
                res.get("Type") == "AWS::IAM::Role"
                and rid == f"{sam_id}Role"
                and kind in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine")
            ):
                self._role(rid, res, sam_id)
        for rid, res in self.template.get("Resources", {}).items():
            if isinstance(res, dict) and res.get("Type") == "AWS::ApiGateway::RestApi":
                self._api_policy(rid, res)

    def _generated(self, rid: str, marker: Path) -> Origin:
        if len(marker) == 4:  # ("Resources", source, "Connectors", name)
            return self._connector(marker, f"{marker[1]}", f"Connectors.{marker[3]}")
        sam_id = str(marker[1])
        res = self.sources.get(sam_id)
        if sam_type(res) == "AWS::Serverless::Connector":
            return self._connector(marker, sam_id, f"connector {sam_id}")
        events = props_of(res).get("Events")
        if rid != sam_id and rid.startswith(sam_id) and isinstance(events, Mapping):
            rest = rid[len(sam_id) :]
            names = sorted((str(e) for e in events if rest.startswith(str(e))), key=len, reverse=True)
            if names:
                return _anchor(("Resources", sam_id, "Properties", "Events", names[0]), sam_id, f"Events.{names[0]}")
        return _anchor(("Resources", sam_id), sam_id)

    def _connector(self, marker: Path, owner: str, via: str) -> Origin:
        node = self.sources.get(str(marker[1]))
        for step in marker[2:]:
            node = child(node, step)
        if child(child(node, "Properties"), "Permissions") is not MISSING:
            return _anchor((*marker, "Properties", "Permissions"), owner, via)
        return _anchor(marker, owner, via)

    def _unmarked(self, rid: str) -> Origin:
        """Resources SAM makes for the template as a whole: the implicit APIs, CodeDeploy."""
        for prefix, event_type in (("ServerlessRestApi", "Api"), ("ServerlessHttpApi", "HttpApi")):
            if rid.startswith(prefix):
                found = self._implicit_api_event(event_type, ())
                if found:
                    return _anchor(found, str(found[1]), f"implicit {event_type} of {found[1]}")
        if rid.startswith(("CodeDeploy", "ServerlessDeployment")):
            for sam_id, res in self.sources.items():
                if "DeploymentPreference" in props_of(res):
                    return _anchor(("Resources", sam_id, "Properties", "DeploymentPreference"), str(sam_id))
        return _anchor(("Resources",), rid)

    def _implicit_api_event(self, event_type: str, below: Path) -> Path | None:
        """The first function event on the implicit API (with `below` in it, if given)."""
        api_key = "RestApiId" if event_type == "Api" else "ApiId"
        for sam_id, res in self.sources.items():
            events = props_of(res).get("Events")
            if not isinstance(events, Mapping):
                continue
            for name, event in events.items():
                props = props_of(event)
                if child(event, "Type") != event_type or api_key in props:
                    continue
                node: Any = props
                for step in below:
                    node = child(node, step)
                if node is not MISSING:
                    return ("Resources", sam_id, "Properties", "Events", name, "Properties", *below)
        return None

    # -- a function's or state machine's role -----------------------------------------------
    def _prop(self, sam_id: str, path: Path, exact: bool) -> Origin | None:
        """A property of a SAM resource, as merged with its Globals section."""
        res = self.sources.get(sam_id)
        section = str(sam_type(res))[len(SAM_PREFIX) :]
        globals_ = self.source.get("Globals")
        glob = child(globals_, section) if isinstance(globals_, Mapping) else MISSING
        local = props_of(res) if isinstance(res, Mapping) and "Properties" in res else MISSING
        gpath: Path = ("Globals", section)
        lpath: Path = ("Resources", sam_id, "Properties")
        base = merged_path(glob, local, gpath, lpath, path)
        if base is None or (lookup_path(self.source, base) is MISSING):
            return None
        via = ".".join(str(s) for s in base[:2] + path) if base[0] == "Globals" else ".".join(str(s) for s in path)
        if not exact:
            return _anchor(base, sam_id, via)
        return Origin(base, lambda rest: merged_path(glob, local, gpath, lpath, (*path, *rest)) or base, sam_id, via)

    def _role(self, rid: str, role: dict[str, Any], sam_id: str) -> None:
        props = role.get("Properties")
        if not isinstance(props, dict):
            return
        rbase: Path = ("Resources", rid, "Properties")
        default = _anchor(("Resources", sam_id), sam_id, ADDED_BY_SAM)
        self.slots[(*rbase, "AssumeRolePolicyDocument")] = (
            self._prop(sam_id, ("AssumeRolePolicyDocument",), True) or default
        )
        boundary = self._prop(sam_id, ("PermissionsBoundary",), True)
        if boundary is not None:
            self.slots[(*rbase, "PermissionsBoundary")] = boundary
        policies = props.get("Policies")
        policies = policies if isinstance(policies, list) else []
        for i, entry in enumerate(policies):
            entry = self._split_if(entry, (*rbase, "Policies", i), policies, i)
            name = entry.get("PolicyName") if isinstance(entry, dict) else None
            found = re.fullmatch(re.escape(rid) + r"Policy(\d+)", name) if isinstance(name, str) else None
            origin = self._entry(sam_id, int(found.group(1))) if found else self._added_inline(sam_id, name)
            self.slots[(*rbase, "Policies", i, "PolicyDocument")] = origin
            self.slots[(*rbase, "Policies", i)] = _anchor(origin.base, origin.owner, origin.via, origin.policy_name)
        arns = props.get("ManagedPolicyArns")
        if not isinstance(arns, list):
            return
        # Each branch of a conditional ARN is checked, labelled with its condition.
        attached = [
            (value, replace(origin, condition=label) if label else origin)
            for node in arns
            for origin in [self._managed(sam_id, node)]
            for label, value in if_branches(node)
        ]
        props["ManagedPolicyArns"] = [value for value, _ in attached]
        for i, (node, origin) in enumerate(attached):
            self.slots[(*rbase, "ManagedPolicyArns", i)] = origin
            for name in unresolved_names(node):
                mark = self.located.mark(origin.base)
                self.errors.append(
                    InputError(
                        self.located.file,
                        f"managed policy {name!r} of {sam_id} is not an AWS managed policy the SAM translator knows "
                        f"in the partition of {self.region}; iamlint does not ask IAM: write the policy's ARN",
                        mark.line if mark else None,
                        mark.column if mark else None,
                        origin.base,
                    )
                )

    def _split_if(self, entry: Any, path: Path, policies: list[Any], i: int) -> Any:
        """`Fn::If` around an inline policy, as SAM writes it, moved inside the policy document.

        The loader checks a document once per branch of each condition it uses; a branch that
        SAM leaves out (`AWS::NoValue`) becomes an empty document, dropped after loading.
        """
        branches = fn_if(entry) if isinstance(entry, dict) else None
        if branches is None:
            return entry
        names = [b.get("PolicyName") for b in branches[1:] if isinstance(b, dict) and "PolicyDocument" in b]
        if not names or not all(isinstance(b, dict) and ("PolicyDocument" in b or b == NO_VALUE) for b in branches[1:]):
            return entry
        empty = {"Version": "2012-10-17", "Statement": []}
        docs = [b.get("PolicyDocument", empty) for b in branches[1:]]
        policies[i] = {"PolicyName": names[0], "PolicyDocument": {"Fn::If": [branches[0], *docs]}}
        self.split_entries.add(path + ("PolicyDocument",))
        return policies[i]

    def _entry(self, sam_id: str, n: int) -> Origin:
        """Entry n of the SAM resource's Policies."""
        node = props_of(self.sources.get(sam_id)).get("Policies")
        base: Path = ("Resources", sam_id, "Properties", "Policies")
        if isinstance(node, list):
            if n >= len(node):
                return _anchor(("Resources", sam_id), sam_id, ADDED_BY_SAM)
            base, node, via = (*base, n), node[n], f"Policies[{n}]"
        else:
            via = "Policies"
        if isinstance(node, Mapping) and "Statement" in node:
            return _exact(base, sam_id, via)
        branches = fn_if(node)
        if branches is not None:
            kept = [k for k in (1, 2) if branches[k] != NO_VALUE]
            if len(kept) == 1 and isinstance(branches[kept[0]], Mapping) and "Statement" in branches[kept[0]]:
                return _exact((*base, "Fn::If", kept[0]), sam_id, via)
            names = [template_name(branches[k]) for k in kept]
            return _anchor(base, sam_id, via, " or ".join(n for n in names if n) or None)
        return _anchor(base, sam_id, via, template_name(node))

    def _added_inline(self, sam_id: str, name: Any) -> Origin:
        """An inline policy SAM adds for a property: dead-letter queue, destinations, events."""
        if name == "DeadLetterQueuePolicy":
            found = self._prop(sam_id, ("DeadLetterQueue",), False)
            if found:
                return found
        if isinstance(name, str) and _INVOKE_CONFIG_POLICY.search(name):
            found = self._prop(sam_id, ("EventInvokeConfig",), False)
            if found:
                return found
        return self._events(sam_id)

    def _events(self, sam_id: str) -> Origin:
        if "Events" in props_of(self.sources.get(sam_id)):
            return _anchor(("Resources", sam_id, "Properties", "Events"), sam_id, "Events")
        return _anchor(("Resources", sam_id), sam_id, ADDED_BY_SAM)

    def _managed(self, sam_id: str, node: Any) -> Origin:
        """The SAM entry that names this managed policy ARN, or what made SAM add it."""
        policies = props_of(self.sources.get(sam_id)).get("Policies")
        entries = policies if isinstance(policies, list) else [policies]
        for n, entry in enumerate(entries):
            if entry is not None and same_managed(entry, node):
                return self._entry(sam_id, n)
        name = node.rsplit("/", 1)[-1] if isinstance(node, str) else ""
        for pattern, prop in _ADDED_MANAGED:
            if pattern.search(name):
                # Added because of the property (Tracing, VpcConfig), but SAM's choice of policy:
                # located at the property, marked as SAM's own addition.
                found = self._prop(sam_id, (prop,), False) if prop else None
                return (
                    replace(found, via=ADDED_BY_SAM) if found else _anchor(("Resources", sam_id), sam_id, ADDED_BY_SAM)
                )
        return self._events(sam_id)

    # -- API resource policies --------------------------------------------------------------
    def _api_policy(self, rid: str, res: dict[str, Any]) -> None:
        """The resource policy SAM writes into an API's OpenAPI body, checked as `Policy`."""
        props = res.get("Properties")
        if not isinstance(props, dict):
            return
        body = props.get("Body")
        if not isinstance(body, dict) or "x-amazon-apigateway-policy" not in body or "Policy" in props:
            return
        props["Policy"] = body["x-amazon-apigateway-policy"]
        slot = self.slots.get(("Resources", rid))
        sam_id = slot.owner if slot else rid
        origin: Origin | None = None
        if sam_type(self.sources.get(sam_id)) == "AWS::Serverless::Api":
            origin = self._prop(sam_id, ("Auth", "ResourcePolicy"), False)
            written = ("Resources", sam_id, "Properties", "DefinitionBody", "x-amazon-apigateway-policy")
            if origin is None and lookup_path(self.source, written) is not MISSING:
                origin = _exact(written, sam_id, "DefinitionBody")
        elif rid == "ServerlessRestApi":
            globals_path = ("Globals", "Api", "Auth", "ResourcePolicy")
            if lookup_path(self.source, globals_path) is not MISSING:
                origin = _anchor(globals_path, rid, "Globals.Api.Auth.ResourcePolicy")
            else:
                found = self._implicit_api_event("Api", ("Auth", "ResourcePolicy"))
                origin = _anchor(found, str(found[1]), "Events") if found else None
        if origin is not None:
            self.slots[("Resources", rid, "Properties", "Policy")] = origin


def _provenance(source: Source | None, origin: Origin) -> Source | None:
    if source is None:
        return None
    return replace(
        source,
        logical_id=origin.owner,
        via=origin.via if origin.via is not None else source.via,
        policy_name=origin.policy_name or source.policy_name,
        condition=origin.condition or source.condition,
    )


# How the CloudFormation loader names an inline policy or managed ARN of a role in Source.via.
_ATTACHMENT = re.compile(r"(Policies|ManagedPolicyArns)\[\d+\]")


def _attachment(path: Path) -> str | None:
    """The loader's Source.via for the document at this generated path, when it names one."""
    if len(path) >= 5 and path[0] == "Resources" and path[2] == "Properties" and type(path[4]) is int:
        if path[3] == "ManagedPolicyArns" and len(path) == 5:
            return f"ManagedPolicyArns[{path[4]}]"
        if path[3] == "Policies" and path[5:] == ("PolicyDocument",):
            return f"Policies[{path[4]}]"
    return None


def _origin_marker(res: Mapping[str, Any]) -> Path | None:
    meta = res.get("Metadata")
    marker = meta.get(ORIGIN_KEY) if isinstance(meta, Mapping) else None
    if isinstance(marker, list) and len(marker) in (2, 4) and all(isinstance(s, str) for s in marker):
        return tuple(marker)
    return None
