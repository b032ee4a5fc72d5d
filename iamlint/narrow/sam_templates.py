"""SAM policy templates: a narrowed grant written as the template it exactly equals.

`- DynamoDBReadPolicy: {TableName: !Ref OrdersTable}` reads better than the statements it stands
for, and SAM users know the templates. A template is used only when it matches exactly. For
each resource name the proposal uses (a table in a table ARN, a topic in a topic ARN), a few
common templates are expanded with that name, from the definitions the SAM translator ships
(`policy_templates.json`) and with the deployment's region and account; the proposal's grants
that the expansion covers must in turn cover the expansion (the evaluator's `contains`, both
ways). The name is written as a reference to the template's own resource when that resource
declares the same name (`TableName: orders` on `OrdersTable`), else as the name itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from iamlint.catalog import Catalog
from iamlint.evaluator import contains
from iamlint.loaders.intrinsics import IntrinsicError, Resolver
from iamlint.model import PolicyDocument, PolicyKind
from iamlint.policy import parse_policy

Item = tuple[str, str]  # (action, resource) of one grant of the proposal

# The templates tried, largest grant first so that CRUD wins over read when both would fit.
CANDIDATES = (
    "DynamoDBCrudPolicy",
    "DynamoDBWritePolicy",
    "DynamoDBReadPolicy",
    "DynamoDBReconfigurePolicy",
    "S3CrudPolicy",
    "S3WritePolicy",
    "S3ReadPolicy",
    "SQSPollerPolicy",
    "SQSSendMessagePolicy",
    "SNSPublishMessagePolicy",
    "KMSDecryptPolicy",
    "StepFunctionsExecutionPolicy",
    "EventBridgePutEventsPolicy",
)
# Resource types whose name a template parameter takes: the property that declares the name,
# and how the name is referred to (CloudFormation User Guide, each type's "Return values").
NAMED_TYPES: dict[str, tuple[str, str, str | None]] = {
    "AWS::DynamoDB::Table": ("TableName", "TableName", None),
    "AWS::Serverless::SimpleTable": ("TableName", "TableName", None),
    "AWS::S3::Bucket": ("BucketName", "BucketName", None),
    "AWS::SQS::Queue": ("QueueName", "QueueName", "QueueName"),
    "AWS::SNS::Topic": ("TopicName", "TopicName", "TopicName"),
    "AWS::StepFunctions::StateMachine": ("StateMachineName", "StateMachineName", "Name"),
    "AWS::Serverless::StateMachine": ("StateMachineName", "Name", "Name"),
    "AWS::Events::EventBus": ("EventBusName", "Name", None),
}
_SUB_VAR = re.compile(r"\$\{([^}]+)\}")


@dataclass(frozen=True, slots=True)
class TemplateUse:
    """One policy template that stands for some of the proposal's grants."""

    name: str  # "DynamoDBReadPolicy"
    parameter: str  # "TableName"
    value: str  # the resource name, "orders"
    reference: dict[str, Any] | None  # {"Ref": "OrdersTable"}, when the template declares that name
    items: tuple[Item, ...]  # the grants it replaces

    def entry(self, *, literal: bool = False) -> dict[str, Any]:
        """The SAM `Policies` entry: `{DynamoDBReadPolicy: {TableName: ...}}`."""
        value: Any = self.value if literal or self.reference is None else self.reference
        return {self.name: {self.parameter: value}}


@lru_cache(maxsize=1)
def _definitions() -> Mapping[str, Any]:
    # The translator's own definitions, so that a match is what SAM really expands.
    from importlib import resources  # noqa: PLC0415

    text = (resources.files("samtranslator") / "policy_templates_data" / "policy_templates.json").read_text("utf-8")
    templates: Mapping[str, Any] = json.loads(text)["Templates"]
    return templates


def _only_parameter(name: str) -> str | None:
    params = _definitions().get(name, {}).get("Parameters", {})
    return next(iter(params)) if len(params) == 1 else None


def _name_patterns(name: str, parameter: str) -> list[re.Pattern[str]]:
    """Regular expressions that read the parameter's value out of an ARN the template grants."""
    out = []
    for sub in _subs(_definitions()[name]["Definition"]):
        text, variables = (sub, {}) if isinstance(sub, str) else (sub[0], sub[1])
        regex, pos = "", 0
        for found in _SUB_VAR.finditer(text):
            regex += re.escape(text[pos : found.start()]).replace(r"\*", ".*")
            var = found.group(1)
            if variables.get(var) == {"Ref": parameter} and "(?P<value>" not in regex:
                regex += "(?P<value>[^:/*]+)"
            else:
                regex += "[^:]*"
            pos = found.end()
        regex += re.escape(text[pos:]).replace(r"\*", ".*")
        if "(?P<value>" in regex:
            out.append(re.compile(regex))
    return out


def _subs(node: Any) -> list[Any]:
    if isinstance(node, Mapping):
        if set(node) == {"Fn::Sub"}:
            return [node["Fn::Sub"]]
        return [s for value in node.values() for s in _subs(value)]
    if isinstance(node, list):
        return [s for value in node for s in _subs(value)]
    return []


def _expand(name: str, parameter: str, value: str, parameters: Mapping[str, str]) -> PolicyDocument | None:
    definition = _replace_ref(_definitions()[name]["Definition"], parameter, value)
    try:
        resolved = Resolver({}, parameters).resolve({"Version": "2012-10-17", **definition})
    except IntrinsicError:
        return None
    doc, problems = parse_policy(resolved, file=f"<{name}>", kind=PolicyKind.IDENTITY)
    return doc if doc is not None and not problems else None


def _replace_ref(node: Any, parameter: str, value: str) -> Any:
    if isinstance(node, Mapping):
        if dict(node) == {"Ref": parameter}:
            return value
        return {k: _replace_ref(v, parameter, value) for k, v in node.items()}
    if isinstance(node, list):
        return [_replace_ref(v, parameter, value) for v in node]
    return node


def item_document(items: Sequence[Item]) -> PolicyDocument:
    """The grants as one identity policy, a statement each, for the evaluator to compare."""
    statements = [{"Effect": "Allow", "Action": a, "Resource": r} for a, r in items]
    doc, _ = parse_policy(
        {"Version": "2012-10-17", "Statement": statements}, file="<proposal>", kind=PolicyKind.IDENTITY
    )
    assert doc is not None  # built from plain strings: always a valid document
    return doc


def declared_names(template: Mapping[str, Any], parameters: Mapping[str, str]) -> dict[tuple[str, str], dict[str, Any]]:
    """(template parameter, resource name) -> the reference to the template's resource that has it."""
    resources = template.get("Resources")
    out: dict[tuple[str, str], dict[str, Any]] = {}
    if not isinstance(resources, Mapping):
        return out
    resolver = Resolver(template, parameters)
    for logical_id, res in resources.items():
        if not isinstance(res, Mapping) or res.get("Type") not in NAMED_TYPES:
            continue
        parameter, prop, attribute = NAMED_TYPES[str(res["Type"])]
        props = res.get("Properties")
        declared = props.get(prop) if isinstance(props, Mapping) else None
        if declared is None:
            continue  # CloudFormation makes up the name: nothing to compare with
        try:
            name = resolver.resolve(declared)
        except IntrinsicError:
            continue
        if isinstance(name, str) and "<" not in name:
            ref = {"Ref": logical_id} if attribute is None else {"Fn::GetAtt": [logical_id, attribute]}
            out.setdefault((parameter, name), ref)
    return out


def match_templates(
    items: Sequence[Item],
    catalog: Catalog,
    parameters: Mapping[str, str],
    names: Mapping[tuple[str, str], dict[str, Any]] | None = None,
) -> tuple[list[TemplateUse], list[Item]]:
    """Templates that exactly equal some of the grants, and the grants left over.

    `parameters` carries the deployment's `AWS::Region` and `AWS::AccountId` (without them a
    template's ARNs hold placeholders and match nothing); `names` comes from `declared_names`.
    """
    left = list(dict.fromkeys(items))
    used: list[TemplateUse] = []
    for name in CANDIDATES:
        parameter = _only_parameter(name) if name in _definitions() else None
        if parameter is None:
            continue
        patterns = _name_patterns(name, parameter)
        values = sorted({m.group("value") for _, r in left for p in patterns if (m := p.fullmatch(r))})
        for value in values:
            expansion = _expand(name, parameter, value, parameters)
            if expansion is None:
                continue
            covered = [item for item in left if contains([expansion], [item_document([item])], catalog).contained]
            if not covered or not contains([item_document(covered)], [expansion], catalog).contained:
                continue
            reference = (names or {}).get((parameter, value))
            used.append(TemplateUse(name, parameter, value, reference, tuple(covered)))
            left = [item for item in left if item not in covered]
    return used, left
