"""What a narrowing's proof reaches, and what lies outside it.

The evaluator proves a proposal against the policies iamlint read. Three things in a template
put part of the principal's real permissions outside that proof, and each is said, not hidden:

- an entry of `Policies` or `ManagedPolicyArns` whose content no loaded document stands for: a
  customer managed policy's ARN or name, `!Ref` to a parameter, `!ImportValue`, an AWS managed
  policy iamlint does not know. It may grant what the readable policies do not, so a patch keeps
  it as written and a call "not granted now" may well be granted by it;
- a role used by several workloads (two functions, a function and a state machine): calls of
  one of them are not what the role needs;
- Conditions (`Fn::If`) that make the policy differ per deployment: the proposal is proved
  against each branch, since it may hold for the union of the branches only.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from iamlint.catalog import Catalog
from iamlint.evaluator import contains
from iamlint.model import PolicyDocument
from iamlint.policy import Path

# Resources whose `Policies` (and `ManagedPolicyArns`) attach policies to the principal.
ATTACHING = (
    "AWS::Serverless::Function",
    "AWS::Serverless::StateMachine",
    "AWS::IAM::Role",
    "AWS::IAM::User",
    "AWS::IAM::Group",
)
MAX_BRANCH_CONDITIONS = 6  # 64 deployments to prove against; past that only the union is claimed


@dataclass(frozen=True, slots=True)
class Unread:
    """An attached policy whose content iamlint cannot know."""

    path: Path  # ("Resources", "Fn", "Properties", "Policies", 0)
    value: Any  # the entry as parsed, intrinsic functions in their long form
    text: str  # as a person wrote it: "arn:aws:iam::111122223333:policy/shared", "!Ref PolicyArn"

    def describe(self) -> str:
        where = ".".join(str(k) for k in self.path[1:4]) + "".join(f"[{k}]" for k in self.path[4:])
        return f"{self.text} ({where})"


def unread_entries(template: object, documents: Sequence[PolicyDocument]) -> list[Unread]:
    """Entries attached to the principal of `documents` that no document of theirs was read from."""
    resources = template.get("Resources") if isinstance(template, Mapping) else None
    if not isinstance(resources, Mapping):
        return []
    located = [d.loc.keys for d in documents if d.loc.keys[:1] == ("Resources",)]
    owners = dict.fromkeys(k[1] for k in located if len(k) >= 2)
    out: list[Unread] = []
    for owner in owners:
        res = resources.get(owner)
        props = res.get("Properties") if isinstance(res, Mapping) and res.get("Type") in ATTACHING else None
        if not isinstance(props, Mapping):
            continue
        for key in ("Policies", "ManagedPolicyArns"):
            if key not in props:
                continue
            entries = props[key]
            # SAM accepts one policy as well as a list; a role's properties are lists.
            listed = entries if isinstance(entries, list) else [entries]
            for i, entry in enumerate(listed):
                path: Path = (
                    ("Resources", owner, "Properties", key, i)
                    if isinstance(entries, list)
                    else ("Resources", owner, "Properties", key)
                )
                if not any(k[: len(path)] == path for k in located):
                    out.append(Unread(path, entry, _written(entry)))
    return out


def _written(entry: Any) -> str:
    if isinstance(entry, str):
        return entry
    if isinstance(entry, Mapping) and len(entry) == 1:
        ((key, arg),) = entry.items()
        if key == "Ref" and isinstance(arg, str):
            return f"!Ref {arg}"
        if key in ("Fn::ImportValue", "Fn::Sub") and isinstance(arg, str):
            return f"!{key[4:]} {arg}"
    return json.dumps(entry, sort_keys=False, default=str)


def sharing(documents: Sequence[PolicyDocument], function: str | None, one_session: bool) -> list[str]:
    """The workloads whose calls a proposal for the role of `documents` leaves out.

    Narrowing `--function Reader` reads Reader's calls; `--role R --session s`, one session's.
    Either is not what the role needs when another workload runs with it too.
    """
    users = list(dict.fromkeys(u for d in documents if d.source for u in d.source.used_by))
    if function is not None:
        return [u for u in users if u.split(" ", 1)[-1] != function]
    return users if one_session and len(users) > 1 else []


@dataclass(frozen=True, slots=True)
class Branches:
    """The deployments the template's Conditions make, and in which the proposal is proved."""

    proved: tuple[str, ...]  # "IsProd", "not IsProd and UseKms"
    not_proved: tuple[str, ...]  # where the current policy grants less than the proposal
    too_many: bool = False  # more conditions than MAX_BRANCH_CONDITIONS: no branch was proved


def branches(original: Sequence[PolicyDocument], proposal: PolicyDocument, catalog: Catalog) -> Branches | None:
    """Prove the proposal inside the policy of each deployment; None when no Condition applies."""
    # Each document with what its Condition label assumes ({} for one every deployment has).
    assumed = [(d, _assumptions(d.source.condition) if d.source and d.source.condition else {}) for d in original]
    names = list(dict.fromkeys(c for _, a in assumed for c in a))
    if not names:
        return None
    if len(names) > MAX_BRANCH_CONDITIONS:
        return Branches((), (), too_many=True)
    proved: list[str] = []
    not_proved: list[str] = []
    for values in itertools.product((True, False), repeat=len(names)):
        deployment = dict(zip(names, values, strict=True))
        docs = [d for d, a in assumed if all(deployment[c] == v for c, v in a.items())]
        label = " and ".join(c if v else f"not {c}" for c, v in deployment.items())
        (proved if contains(docs, [proposal], catalog).contained else not_proved).append(label)
    return Branches(tuple(proved), tuple(not_proved))


def _assumptions(label: str) -> dict[str, bool]:
    """ "IsProd and not UseKms" (the CloudFormation loader's label) as {IsProd: True, UseKms: False}."""
    out: dict[str, bool] = {}
    for part in label.split(" and "):
        negated = part.startswith("not ")
        out[part[4:] if negated else part] = not negated
    return out
