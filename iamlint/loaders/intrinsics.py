"""CloudFormation intrinsic functions, resolved as far as a template alone allows.

What the template decides is resolved: pseudo parameters with fixed values, parameters (from
`--parameters`, a parameter file, or their defaults), `Sub`, `Join`, `Select`, `Split`,
`FindInMap`, `Base64`, `ToJsonString`. What only a deployment knows becomes an explicit
placeholder in angle brackets: `<AWS::AccountId>`, `<ImportValue:SharedBucket>`. `Ref` and
`GetAtt .Arn` on a resource become the ARN its type would have, with the logical id as the
name (`arn:aws:dynamodb:<AWS::Region>:<AWS::AccountId>:table/<OrdersTable>`), so rules can
still tell a table ARN from `*`. A placeholder is one specific unknown value: never `*`.

`Fn::If` is resolved under an explicit assumption about each condition; the caller resolves
a policy once per combination of the conditions it uses (see `conditions_used`).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from iamlint.loaders.sam_nodes import fn_if
from iamlint.ruleset import read_data_table

NO_VALUE = object()  # Ref AWS::NoValue: the property is removed
MAX_DEPTH = 64  # nesting of intrinsic functions; deeper is refused as hostile input
# Work one top-level `resolve` may do. YAML aliases make a template a graph: a value used twice
# is walked twice, so a few lines can stand for billions of nodes (aliases in Join trees, a
# FindInMap that finds itself twice). Real policies take a few hundred nodes and kilobytes.
MAX_NODES = 200_000  # values visited
MAX_TEXT = 4_000_000  # characters built by Join, Sub, Split, Base64, ToJsonString

_PSEUDO_FIXED = {
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
}
_PSEUDO_UNKNOWN = ("AWS::AccountId", "AWS::Region", "AWS::StackName", "AWS::StackId", "AWS::NotificationARNs")
_SUB_VAR = re.compile(r"\$\{([^}]*)\}")


class IntrinsicError(Exception):
    """A function used wrongly (bad arguments): reported, then a placeholder."""


class NestingError(IntrinsicError):
    """Functions nested absurdly deep: the whole value is given up, not just the innermost."""


class BudgetError(NestingError):
    """Resolution past MAX_NODES or MAX_TEXT: the whole value is given up, like deep nesting."""


@dataclass(slots=True)
class Resolver:
    template: Mapping[str, Any]
    parameters: Mapping[str, str] = field(default_factory=dict)  # user-supplied values
    assume: Mapping[str, bool] = field(default_factory=dict)  # condition name -> branch taken
    problems: list[str] = field(default_factory=list)
    _resources: Mapping[str, Any] = field(init=False, repr=False)
    _params: Mapping[str, Any] = field(init=False, repr=False)
    _mappings: Mapping[str, Any] = field(init=False, repr=False)
    _nodes: int = field(default=0, init=False, repr=False)  # spent by the current resolve()
    _text: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        self._resources = _mapping(self.template.get("Resources"))
        self._params = _mapping(self.template.get("Parameters"))
        self._mappings = _mapping(self.template.get("Mappings"))

    def with_assumptions(self, assume: Mapping[str, bool]) -> Resolver:
        return Resolver(self.template, self.parameters, assume, self.problems)

    # -- entry point --------------------------------------------------------------------
    def resolve(self, node: Any, depth: int = 0) -> Any:
        if depth == 0:
            self._nodes = self._text = 0
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise BudgetError(
                f"resolving takes more than {MAX_NODES} steps (aliases or mappings "
                "that repeat a value over and over): refusing the value"
            )
        if depth > MAX_DEPTH:
            raise NestingError(f"values or intrinsic functions nested more than {MAX_DEPTH} deep")
        if isinstance(node, list):
            out = []
            for item in node:
                value = self.resolve(item, depth + 1)
                if value is not NO_VALUE:
                    out.append(value)
            return out
        if isinstance(node, Mapping):
            if len(node) == 1:
                ((key, arg),) = node.items()
                if key == "Ref" or (isinstance(key, str) and key.startswith("Fn::")):
                    try:
                        return self._function(key, arg, depth)
                    except NestingError as exc:
                        if depth > 0:
                            raise
                        self.problems.append(f"{key}: {exc}")
                        return f"<{key}>"
                    except IntrinsicError as exc:
                        self.problems.append(f"{key}: {exc}")
                        return f"<{key}>"
            out_map = {}
            for key, value in node.items():
                resolved = self.resolve(value, depth + 1)
                if resolved is not NO_VALUE:
                    out_map[key] = resolved
            return out_map
        return node

    # -- functions ----------------------------------------------------------------------
    def _function(self, name: str, arg: Any, depth: int) -> Any:
        if name == "Ref":
            return self._ref(self._scalar(arg, depth, name))
        handler = _HANDLERS.get(name)
        if handler is None:
            return f"<{name}>"
        return handler(self, arg, depth)

    def _scalar(self, arg: Any, depth: int, what: str) -> str:
        value = self.resolve(arg, depth + 1)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            raise IntrinsicError(f"expected a string argument, found {type(value).__name__}")
        return value

    def charge(self, chars: int) -> None:
        """Count characters about to be built; BudgetError past MAX_TEXT (checked before building)."""
        self._text += chars
        if self._text > MAX_TEXT:
            raise BudgetError(f"intrinsic functions build more than {MAX_TEXT} characters: refusing the value")

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in _PSEUDO_FIXED:
            return self.parameters.get(name, _PSEUDO_FIXED[name])
        if name == "AWS::StackId" and name not in self.parameters:
            # Shaped like a real stack id, so that the common Split/Select idioms that
            # take it apart (CDK uses them for unique names) find the parts they expect.
            uuid = "-".join(f"<AWS::StackId:{i}>" for i in range(1, 6))
            return f"arn:aws:cloudformation:{self._ref('AWS::Region')}:{self._ref('AWS::AccountId')}:stack/{self._ref('AWS::StackName')}/{uuid}"
        if name in _PSEUDO_UNKNOWN:
            return self.parameters.get(name, f"<{name}>")
        if name in self._params:
            return self._parameter(name)
        resource = self._resources.get(name)
        if isinstance(resource, Mapping):
            return resource_ref(name, str(resource.get("Type", "")), self.where())
        raise IntrinsicError(f"Ref to {name!r}, which is neither a parameter nor a resource")

    def _parameter(self, name: str) -> Any:
        spec = _mapping(self._params.get(name))
        ptype = str(spec.get("Type", "String"))
        if name in self.parameters:
            value: Any = self.parameters[name]
        elif "Default" in spec:
            value = spec["Default"]
        else:
            return f"<Ref:{name}>"
        if "List" in ptype or ptype == "CommaDelimitedList":
            return [v.strip() for v in str(value).split(",")] if isinstance(value, str) else value
        if isinstance(value, (list, dict)):
            self.charge(_text_size(value, MAX_TEXT - self._text))
            return json.dumps(value)
        return value if isinstance(value, str) else str(value)

    def get_att(self, logical_id: str, attribute: str) -> str:
        resource = self._resources.get(logical_id)
        if not isinstance(resource, Mapping):
            raise IntrinsicError(f"GetAtt on {logical_id!r}, which is not a resource of this template")
        return resource_attribute(logical_id, str(resource.get("Type", "")), attribute, self.where())

    def where(self) -> Where:
        return Where(str(self._ref("AWS::Partition")), str(self._ref("AWS::Region")), str(self._ref("AWS::AccountId")))

    def defines_condition(self, name: str) -> bool:
        """Is `name` in the template's Conditions? CloudFormation rejects an Fn::If on any other."""
        return name in _mapping(self.template.get("Conditions"))

    def condition(self, name: str) -> bool:
        if name in self.assume:
            return self.assume[name]
        # Conditions the caller did not split on: take the first branch, and say so.
        self.problems.append(f"condition {name} was not split on; its true branch was used")
        return True


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text_size(value: Any, limit: int) -> int:
    """About how many characters `value` takes as JSON; stops counting past `limit`."""
    total = 0
    stack = [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item) + 3
        elif isinstance(item, Mapping):
            total += 2
            for key, inner in item.items():
                total += len(str(key)) + 4
                stack.append(inner)
        elif isinstance(item, list):
            total += 2 + len(item)
            stack.extend(item)
        else:
            total += 8
    return total


def _fn_get_att(r: Resolver, arg: Any, depth: int) -> Any:
    if isinstance(arg, str):
        logical_id, _, attribute = arg.partition(".")
    elif isinstance(arg, list) and len(arg) == 2:
        logical_id = r._scalar(arg[0], depth, "Fn::GetAtt")
        attribute = r._scalar(arg[1], depth, "Fn::GetAtt")
    else:
        raise IntrinsicError("expects LogicalId.Attribute or [LogicalId, Attribute]")
    return r.get_att(logical_id, attribute)


def _fn_sub(r: Resolver, arg: Any, depth: int) -> Any:
    variables: Mapping[str, Any] = {}
    if isinstance(arg, list):
        if len(arg) != 2 or not isinstance(arg[0], str) or not isinstance(arg[1], Mapping):
            raise IntrinsicError("expects a string, or [string, {variables}]")
        text, variables = arg[0], arg[1]
    elif isinstance(arg, str):
        text = arg
    else:
        raise IntrinsicError("expects a string, or [string, {variables}]")

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("!"):
            return "${" + name[1:] + "}"  # ${!Literal} is the escape for a literal ${Literal}
        if name in variables:
            value = r.resolve(variables[name], depth + 1)
        elif "." in name and not name.startswith("AWS::"):
            logical_id, _, attribute = name.partition(".")
            value = r.get_att(logical_id, attribute)
        elif ":" in name and not name.startswith("AWS::"):
            return match.group(0)  # an IAM policy variable such as ${aws:username}
        else:
            try:
                value = r._ref(name)
            except IntrinsicError:
                r.problems.append(f"Fn::Sub: unknown variable ${{{name}}}")
                return f"<Sub:{name}>"
        if value is NO_VALUE:
            return ""
        if isinstance(value, list):
            r.charge(_text_size(value, MAX_TEXT))
            return ",".join(map(str, value))
        out = str(value)
        r.charge(len(out))
        return out

    r.charge(len(text))
    return _SUB_VAR.sub(replace, text)


def _fn_join(r: Resolver, arg: Any, depth: int) -> Any:
    if not isinstance(arg, list) or len(arg) != 2:
        raise IntrinsicError("expects [delimiter, [values]]")
    delimiter = r._scalar(arg[0], depth, "Fn::Join")
    values = r.resolve(arg[1], depth + 1)
    if not isinstance(values, list):
        raise IntrinsicError("expects a list of values to join")
    for v in values:  # charged before anything is built
        r.charge(len(delimiter) + (len(v) if isinstance(v, str) else _text_size(v, MAX_TEXT)))
    return delimiter.join(
        v if isinstance(v, str) else json.dumps(v) if isinstance(v, (list, dict)) else str(v) for v in values
    )


def _fn_select(r: Resolver, arg: Any, depth: int) -> Any:
    if not isinstance(arg, list) or len(arg) != 2:
        raise IntrinsicError("expects [index, [values]]")
    index_text = r._scalar(arg[0], depth, "Fn::Select")
    values = r.resolve(arg[1], depth + 1)
    if isinstance(values, str) and values.startswith("<"):
        return f"<Select:{index_text}:{values[1:-1]}>"
    if not isinstance(values, list):
        raise IntrinsicError("expects a list to select from")
    try:
        index = int(index_text)
    except ValueError:
        raise IntrinsicError(f"index {index_text!r} is not a number") from None
    if not 0 <= index < len(values):
        if any(isinstance(v, str) and "<" in v for v in values):
            # The list came from splitting an unresolved value: its real length is unknown.
            return f"<Select:{index}>"
        raise IntrinsicError(f"index {index} is out of range for a list of {len(values)}")
    return values[index]


def _fn_split(r: Resolver, arg: Any, depth: int) -> Any:
    if not isinstance(arg, list) or len(arg) != 2:
        raise IntrinsicError("expects [delimiter, string]")
    delimiter = r._scalar(arg[0], depth, "Fn::Split")
    text = r._scalar(arg[1], depth, "Fn::Split")
    if not delimiter:
        raise IntrinsicError("the delimiter is empty")
    r.charge(len(text))
    return text.split(delimiter)


def _fn_find_in_map(r: Resolver, arg: Any, depth: int) -> Any:
    if not isinstance(arg, list) or len(arg) not in (3, 4):
        raise IntrinsicError("expects [MapName, TopKey, SecondKey]")
    keys = [r._scalar(a, depth, "Fn::FindInMap") for a in arg[:3]]
    node: Any = r._mappings
    for key in keys:
        if isinstance(key, str) and key.startswith("<"):
            return f"<FindInMap:{'.'.join(keys)}>"
        if not isinstance(node, Mapping) or key not in node:
            if len(arg) == 4 and isinstance(arg[3], Mapping) and "DefaultValue" in arg[3]:
                return r.resolve(arg[3]["DefaultValue"], depth + 1)
            raise IntrinsicError(f"no key {key!r} in mapping {keys[0]!r}")
        node = node[key]
    return r.resolve(node, depth + 1)


def _fn_if(r: Resolver, arg: Any, depth: int) -> Any:
    if not isinstance(arg, list) or len(arg) != 3 or not isinstance(arg[0], str):
        raise IntrinsicError("expects [ConditionName, value if true, value if false]")
    if not r.defines_condition(arg[0]):
        raise IntrinsicError(f"tests condition {arg[0]!r}, which the template's Conditions do not define")
    branch = arg[1] if r.condition(arg[0]) else arg[2]
    return r.resolve(branch, depth + 1)


def _fn_base64(r: Resolver, arg: Any, depth: int) -> Any:
    text = r._scalar(arg, depth, "Fn::Base64")
    r.charge(len(text) * 2)
    return base64.b64encode(text.encode()).decode()


def _fn_import(r: Resolver, arg: Any, depth: int) -> Any:
    return f"<ImportValue:{r._scalar(arg, depth, 'Fn::ImportValue')}>"


def _fn_to_json(r: Resolver, arg: Any, depth: int) -> Any:
    value = r.resolve(arg, depth + 1)
    if value is NO_VALUE:  # found by property-based testing: json.dumps raised TypeError
        raise IntrinsicError("expects a value, found Ref AWS::NoValue")
    r.charge(_text_size(value, MAX_TEXT))
    return json.dumps(value, separators=(",", ":"))


def _fn_length(r: Resolver, arg: Any, depth: int) -> Any:
    value = r.resolve(arg, depth + 1)
    if not isinstance(value, list):
        raise IntrinsicError("expects a list")
    return len(value)


def _fn_get_azs(r: Resolver, arg: Any, depth: int) -> Any:
    region = r._scalar(arg, depth, "Fn::GetAZs") if arg not in ("", None) else "<AWS::Region>"
    return [f"<AZ:{region}:{i}>" for i in range(3)]


_HANDLERS = {
    "Fn::GetAtt": _fn_get_att,
    "Fn::Sub": _fn_sub,
    "Fn::Join": _fn_join,
    "Fn::Select": _fn_select,
    "Fn::Split": _fn_split,
    "Fn::FindInMap": _fn_find_in_map,
    "Fn::If": _fn_if,
    "Fn::Base64": _fn_base64,
    "Fn::ImportValue": _fn_import,
    "Fn::ToJsonString": _fn_to_json,
    "Fn::Length": _fn_length,
    "Fn::GetAZs": _fn_get_azs,
}


def conditions_used(node: Any, limit: int = 4096) -> list[str]:
    """Names of the conditions `Fn::If` tests inside `node`, in first-use order."""
    found: dict[str, None] = {}
    stack = [node]
    seen = 0
    while stack and seen < limit:
        item = stack.pop()
        seen += 1
        if isinstance(item, Mapping):
            test = fn_if(item)
            if test is not None:
                found.setdefault(test[0], None)
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))
    return list(found)


# -- what Ref and GetAtt return for a resource type ---------------------------------------


def _arn_table() -> Mapping[str, Any]:
    return _cached_table()


_TABLE: dict[str, Any] = {}


def _cached_table() -> Mapping[str, Any]:
    if not _TABLE:
        from iamlint.catalog import get_catalog  # noqa: PLC0415 - read on first use only

        catalog = get_catalog()
        raw = read_data_table("cfn_resource_arns.yaml")
        for entry in raw["types"]:
            rt = catalog.resource_types(entry["service"]).get(str(entry["resource"]).lower())
            if rt is not None:  # the catalogue's ARN format, never a copy of it
                _TABLE[entry["type"]] = {**entry, "arn": rt.arn}
    return _TABLE


@dataclass(frozen=True, slots=True)
class Where:
    """The partition, region and account a stack is deployed to, as far as they are known."""

    partition: str = "aws"
    region: str = "<AWS::Region>"
    account: str = "<AWS::AccountId>"


def _arn_for(logical_id: str, entry: Mapping[str, Any], where: Where) -> str:
    arn = str(entry["arn"])
    arn = arn.replace("${Partition}", where.partition).replace("${Region}", where.region)
    arn = arn.replace("${Account}", where.account)
    return re.sub(r"\$\{[^}]*\}", f"<{logical_id}>", arn)


def resource_ref(logical_id: str, resource_type: str, where: Where | None = None) -> str:
    """What `Ref` returns for a resource: its name, ARN, URL or id, as the type defines."""
    where = where or Where()
    entry = _arn_table().get(resource_type)
    if entry is None:
        return f"<{logical_id}>"
    ref = entry.get("ref", "name")
    if ref == "arn":
        return _arn_for(logical_id, entry, where)
    if ref == "url":
        return f"https://sqs.{where.region}.amazonaws.com/{where.account}/<{logical_id}>"
    return f"<{logical_id}>"


def resource_attribute(logical_id: str, resource_type: str, attribute: str, where: Where | None = None) -> str:
    where = where or Where()
    entry = _arn_table().get(resource_type)
    if entry is not None and attribute in ("Arn", *entry.get("arn_attributes", ())):
        return _arn_for(logical_id, entry, where)
    if entry is not None and attribute in entry.get("name_attributes", ()):
        return f"<{logical_id}>"
    return f"<{logical_id}.{attribute}>"
