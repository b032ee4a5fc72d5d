"""Reading SAM template nodes the way the SAM translator does.

Small pure functions over raw template data, shared by the SAM loader and its origin map: the
Globals merge rules, what kind of `Policies` entry a node is, and the branches of an `Fn::If`
SAM leaves in place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from iamlint.policy import Path

SAM_PREFIX = "AWS::Serverless::"
NO_VALUE = {"Ref": "AWS::NoValue"}
MISSING: Any = object()  # a key or index the node does not have


def child(node: Any, step: str | int) -> Any:
    if isinstance(node, Mapping) and isinstance(step, str) and step in node:
        return node[step]
    if isinstance(node, list) and type(step) is int and 0 <= step < len(node):
        return node[step]
    return MISSING


def is_intrinsic(node: Any) -> bool:
    if not isinstance(node, Mapping) or len(node) != 1:
        return False
    key = next(iter(node))
    return isinstance(key, str) and (key == "Ref" or key.startswith("Fn::") or key == "Condition")


def token(node: Any) -> str:
    if isinstance(node, Mapping) and not is_intrinsic(node):
        return "dict"
    return "list" if isinstance(node, list) else "primitive"


def merged_path(glob: Any, local: Any, gpath: Path, lpath: Path, path: Path) -> Path | None:
    """The source of `path` in the SAM Globals merge of `glob` (at gpath) into `local` (at lpath).

    SAM's rules: a value only one side has comes from that side; maps merge key by key; lists
    concatenate, Globals items first; otherwise the local value wins.
    """
    if local is MISSING:
        return None if glob is MISSING else (*gpath, *path)
    if glob is MISSING or not path or token(glob) != token(local) or token(local) == "primitive":
        return (*lpath, *path)
    step, rest = path[0], path[1:]
    if token(local) == "dict":
        return merged_path(child(glob, step), child(local, step), (*gpath, step), (*lpath, step), rest)
    if type(step) is int and step < len(glob):
        return (*gpath, *path)
    if type(step) is int:
        return (*lpath, step - len(glob), *rest)
    return (*lpath, *path)


def fn_if(node: Any) -> list[Any] | None:
    """`[condition, value if true, value if false]` when `node` is a well-formed `Fn::If` (the
    one key of its mapping), else None: what every reader of raw template nodes asks."""
    test = node.get("Fn::If") if isinstance(node, Mapping) and len(node) == 1 else None
    return test if isinstance(test, list) and len(test) == 3 and isinstance(test[0], str) else None


def if_branches(node: Any) -> list[tuple[str | None, Any]]:
    """(condition label, value) for each branch of an `Fn::If` SAM leaves in place, or the node."""
    test = fn_if(node)
    if test is None:
        return [(None, node)]
    return [(label, value) for label, value in ((test[0], test[1]), (f"not {test[0]}", test[2])) if value != NO_VALUE]


def sam_type(res: Any) -> str | None:
    rtype = res.get("Type") if isinstance(res, Mapping) else None
    return rtype if isinstance(rtype, str) and rtype.startswith(SAM_PREFIX) else None


def props_of(res: Any) -> Mapping[str, Any]:
    props = res.get("Properties") if isinstance(res, Mapping) else None
    return props if isinstance(props, Mapping) else {}


def lookup_path(node: Any, path: Path) -> Any:
    for step in path:
        node = child(node, step)
    return node


def template_name(node: Any) -> str | None:
    """The policy template an entry uses (`S3ReadPolicy: {...}`), if it is one."""
    if isinstance(node, Mapping) and len(node) == 1 and not is_intrinsic(node):
        name = next(iter(node))
        return name if isinstance(name, str) and name != "Statement" else None
    return None


def same_managed(entry: Any, generated: Any) -> bool:
    """Whether a SAM managed-policy entry (name, ARN, intrinsic) is this generated ARN node."""
    if isinstance(entry, str):
        return isinstance(generated, str) and (
            generated == entry
            or (not entry.startswith("arn:") and generated.startswith("arn:") and generated.endswith(f"/{entry}"))
        )
    sam_if, gen_if = fn_if(entry), fn_if(generated)
    if sam_if is not None and gen_if is not None:
        return sam_if[0] == gen_if[0] and all(same_managed(a, b) for a, b in zip(sam_if[1:], gen_if[1:], strict=True))
    return bool(entry == generated)


def unresolved_names(node: Any) -> list[str]:
    """Managed policy names the translator left as names: it did not know them."""
    if isinstance(node, str):
        # An ARN, or a dynamic reference CloudFormation resolves at deployment.
        return [] if node.startswith(("arn:", "{{resolve:")) else [node]
    branches = fn_if(node)
    if branches is not None:
        return [name for b in branches[1:] for name in unresolved_names(b)]
    return []
