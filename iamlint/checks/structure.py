"""Document-level validity that the parser accepts but IAM (or the service) rejects or
misreads: malformed resource ARNs, policy variables without Version 2012-10-17, duplicate or
invalid Sids, a Principal in an identity policy, and documents over their size quota.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator
from typing import Any

from iamlint.checks import Hit, RuleContext, check
from iamlint.checks.condition_keys import ConditionKnowledge, is_host_prefix, knowledge
from iamlint.checks.principals import policy_kind
from iamlint.evaluator import policy_variables
from iamlint.model import Evidence, PolicyDocument, PolicyKind, Severity, Statement
from iamlint.ruleset import read_data_table

_PLACEHOLDER_OR_VARIABLE = re.compile(r"<[^<>]*>|\$\{[^}]*\}")
_REGION = re.compile(r"^[a-z0-9-]+$")
_ACCOUNT = re.compile(r"^(\d{12}|aws)$")
_SID = re.compile(r"^[A-Za-z0-9]*$")


def _partitions(ctx: RuleContext) -> re.Pattern[str]:
    cached = ctx.cache.get("arn_partitions")
    if cached is None:
        # aws, aws-cn, aws-us-gov, the isolated aws-iso* partitions and the European
        # Sovereign Cloud (IAM User Guide, IAM identifiers: ARNs).
        cached = ctx.cache["arn_partitions"] = re.compile(r"^(aws|aws-cn|aws-us-gov|aws-iso(-[a-z])?|aws-eusc)$")
    return cached


def arn_problem(ctx: RuleContext, text: str) -> str | None:
    """Why a Resource entry is not a valid ARN (or `*`), or None when it is."""
    if text == "*" or not text:
        return None if text else "is empty"
    bare = _PLACEHOLDER_OR_VARIABLE.sub("", text)
    if not bare or bare == "*":
        return None  # only unresolved template values or variables: nothing to judge
    if _PLACEHOLDER_OR_VARIABLE.match(text):
        return None  # starts with an unresolved value (`!Sub "${Api}/types/*"`): the ARN is in it
    if text.startswith("execute-api:/"):
        return None  # API Gateway's documented shorthand for the API's own ARN in its policy
    if not text.startswith("arn:"):
        if text.lower().startswith("arn:"):
            return 'must start with lower-case "arn:"'
        return 'is neither "*" nor an ARN (arn:partition:service:region:account:resource)'
    # Placeholders (<AWS::Region>) and variables (${aws:username}) may hold colons: stand them
    # in with a marker before splitting, and restore them after.
    held: list[str] = []

    def hold(m: re.Match[str]) -> str:
        held.append(m.group(0))
        return f"\x00{len(held) - 1}\x00"

    def restore(part: str) -> str:
        return re.sub("\x00(\\d+)\x00", lambda m: held[int(m.group(1))], part)

    masked = _PLACEHOLDER_OR_VARIABLE.sub(hold, text).split(":", 5)
    parts = [restore(p) for p in masked] if held else masked  # most ARNs hold neither
    if len(parts) < 6:
        if len(parts) >= 3 and "*" in parts[-1]:
            # `arn:aws:logs:*`: IAM's * also matches colons, so the wildcard stands for the rest.
            parts += ["*"] * (6 - len(parts))
        else:
            return f"has {len(parts)} of the 6 colon-separated parts of an ARN (arn:partition:service:region:account:resource)"
    _, partition, service, region, account, resource = parts

    def loose(part: str) -> bool:  # wildcards, variables and placeholders stand for anything
        return "*" in part or "?" in part or bool(_PLACEHOLDER_OR_VARIABLE.search(part))

    if not loose(partition) and not _partitions(ctx).match(partition):
        return f"names an unknown partition {partition!r} (aws, aws-cn, aws-us-gov, aws-iso...)"
    if not service:
        return "has an empty service"
    if not loose(service) and not re.match(r"^[a-z0-9-]+$", service):
        return f"has an invalid service {service!r}"
    if region and not loose(region) and not _REGION.match(region):
        return f"has an invalid Region {region!r}"
    if account and not loose(account) and not _ACCOUNT.match(account):
        return f"has an invalid account {account!r} (12 digits)"
    if not resource:
        return "has an empty resource part"
    return None


@check("IAM180", pure=True)
def invalid_arn(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    for st in doc.statements:
        for v in st.resources:
            problem = arn_problem(ctx, v.text)
            if problem is None:
                continue
            yield Hit(
                loc=v.loc,
                statement=st,
                args={"resource": v.text, "element": st.resource_key, "problem": problem},
                evidence=Evidence(resources=(v.text,)),
            )


def _variable_uses(st: Statement) -> Iterator[tuple[str, Any]]:
    for v in st.resources:
        if "${" in v.text:
            yield v.text, v.loc
    for cond in st.conditions:
        for value in cond.values:
            if "${" in value:
                yield value, cond.loc


@check("IAM181", pure=True)
def variables_need_version(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    del ctx
    if doc.version == "2012-10-17":
        return
    for st in doc.statements:
        for text, loc in _variable_uses(st):
            yield Hit(
                loc=loc,
                statement=st,
                args={"value": text, "version": doc.version or "no Version"},
                evidence=Evidence(notes=(f"Version: {doc.version or 'missing'}",)),
            )
            return  # one finding per document: the fix is one line


def _variable_problem(k: ConditionKnowledge, key: str) -> tuple[str, str] | None:
    """Why IAM can never give this variable a value (after "is"/"are"), and the fix; None when
    it names a key."""
    if ":" not in key or "::" in key:
        # `${AWS::AccountId}`, `${MyBucket}`: CloudFormation substitutes these only inside
        # Fn::Sub; in any other string IAM receives them as written.
        problem = (
            "CloudFormation syntax that IAM receives as written (CloudFormation substitutes ${...} only inside "
            "Fn::Sub, and writes `${!Name}` there as ${Name})"
        )
        return problem, "write it inside !Sub (Fn::Sub), without a `!`"
    prefix = key.partition(":")[0]
    if is_host_prefix(prefix) or k.lookup(key) is not None:
        return None  # an identity provider's claim (its names are the provider's), or a known key
    if prefix.lower() == "aws":
        names = [info.key for info in k.global_keys.exact.values()]
        match = difflib.get_close_matches(key, names, n=1, cutoff=0.7)
        hint = f"did you mean ${{{match[0]}}}?" if match else "use a global key from the IAM User Guide"
        return "not an AWS global condition key", hint
    services = k.services_of(key)
    if not services:
        return f"no condition key (no service has the prefix {prefix!r})", "use a key the request has"
    return f"not a condition key of {', '.join(services)}", "use a key the request has"


@check("IAM186", pure=True)
def unknown_variable(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    if doc.version != "2012-10-17":
        return  # variables are literal text under 2008-10-17 (IAM181)
    k = knowledge(ctx)
    for st in doc.statements:
        for text, loc, where in dict.fromkeys(_variable_places(k, st)):
            groups: dict[tuple[str, str], list[str]] = {}
            defaults: list[str] = []
            for written, key, default in policy_variables(text):
                found = _variable_problem(k, key)
                if found is not None and written not in groups.get(found, ()):
                    groups.setdefault(found, []).append(written)
                    if default is not None:
                        defaults.append(f"{written} is always its default '{default}'")
            for (problem, hint), names in groups.items():
                them = "them" if len(names) > 1 else "it"
                effect, severity = _never_matches(where, st.is_allow)
                yield Hit(
                    loc=loc,
                    statement=st,
                    args={
                        "value": text,
                        "variables": " and ".join((", ".join(names[:-1]), names[-1])) if len(names) > 1 else names[0],
                        "is": "are" if len(names) > 1 else "is",
                        "problem": problem,
                        "effect": "; ".join(defaults) if defaults else f"no request gives {them} a value, so {effect}",
                        "hint": hint,
                    },
                    evidence=Evidence(resources=(text,) if text in st.resource_texts else ()),
                    severity=severity,
                )


def _variable_places(k: ConditionKnowledge, st: Statement) -> Iterator[tuple[str, Any, str]]:
    """Each value holding `${`, with where it is: "Resource", "NotResource", or a condition
    ("condition" or "negated condition", whose operator is true when the value does not match)."""
    for v in st.resources:
        if "${" in v.text:
            yield v.text, v.loc, st.resource_key or "Resource"
    for cond in st.conditions:
        where = "negated condition" if k.operator(cond.operator).negated else "condition"
        for value in cond.values:
            if "${" in value:
                yield value, cond.loc, where


def _never_matches(where: str, allow: bool) -> tuple[str, Severity | None]:
    """What a value that matches nothing does to the statement, and the severity that deserves
    (None: the rule's medium). Wider than written is high; narrower than written, medium."""
    if where == "Resource":
        return ("this entry allows nothing", None) if allow else ("this entry never denies anything", Severity.HIGH)
    if where == "NotResource":
        return (
            ("the exclusion excludes nothing: the statement allows its actions on every resource", Severity.HIGH)
            if allow
            else ("the exclusion excludes nothing: the statement denies its actions on every resource", None)
        )
    if where == "negated condition":
        return (
            (
                "the condition holds for every request that has the key: the statement allows more than written",
                Severity.HIGH,
            )
            if allow
            else (
                "the condition holds for every request that has the key: the statement denies more than written",
                None,
            )
        )
    return (
        ("the condition never holds: the statement allows nothing", None)
        if allow
        else ("the condition never holds: the statement never denies anything", Severity.HIGH)
    )


@check("IAM182", pure=True)
def duplicate_sid(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    del ctx
    first: dict[str, Statement] = {}
    for st in doc.statements:
        if not st.sid:
            continue
        if st.sid in first:
            yield Hit(
                loc=st.loc,
                statement=st,
                args={"sid": st.sid, "first": first[st.sid].index},
                evidence=Evidence(notes=(f"Sid {st.sid}",)),
            )
        else:
            first[st.sid] = st


@check("IAM183", pure=True)
def invalid_sid(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    del ctx
    # The A-Z, a-z, 0-9 rule is IAM's; SQS, SNS and other services accept other characters.
    if policy_kind(doc) not in (PolicyKind.IDENTITY, PolicyKind.BOUNDARY, PolicyKind.TRUST):
        return
    for st in doc.statements:
        if st.sid and not _SID.match(st.sid):
            bad = sorted({ch for ch in st.sid if not ch.isascii() or not ch.isalnum()})
            yield Hit(
                loc=st.loc,
                statement=st,
                args={"sid": st.sid, "chars": " ".join(repr(c) for c in bad)},
                evidence=Evidence(notes=(f"Sid {st.sid}",)),
            )


@check("IAM184", pure=True)
def principal_in_identity_policy(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    del ctx
    if doc.kind not in (PolicyKind.IDENTITY, PolicyKind.BOUNDARY):
        return
    for st in doc.statements:
        if st.principal_key is not None:
            loc = st.principals[0].value.loc if st.principals else st.loc
            yield Hit(
                loc=loc,
                statement=st,
                args={"element": st.principal_key, "kind": doc.kind.value},
                evidence=Evidence(notes=(st.principal_key,)),
            )


# -- size --------------------------------------------------------------------------------


def _one_or_list(values: list[str]) -> str | list[str]:
    return values[0] if len(values) == 1 else values


def rebuilt(doc: PolicyDocument) -> dict[str, Any]:
    """The document as JSON again, from its parsed statements (intrinsics already resolved)."""
    statements = []
    for st in doc.statements:
        out: dict[str, Any] = {}
        if st.sid is not None:
            out["Sid"] = st.sid
        out["Effect"] = st.effect
        if st.principal_key is not None:
            if len(st.principals) == 1 and st.principals[0].kind == "*":
                out[st.principal_key] = "*"
            else:
                grouped: dict[str, list[str]] = {}
                for p in st.principals:
                    grouped.setdefault(p.kind, []).append(p.value.text)
                out[st.principal_key] = {k: _one_or_list(v) for k, v in grouped.items()}
        out[st.action_key] = _one_or_list(list(st.action_texts))
        if st.resource_key is not None:
            out[st.resource_key] = _one_or_list(list(st.resource_texts))
        if st.conditions:
            block: dict[str, dict[str, Any]] = {}
            for c in st.conditions:
                block.setdefault(c.operator, {})[c.key] = _one_or_list(list(c.values))
            out["Condition"] = block
        statements.append(out)
    result: dict[str, Any] = {}
    if doc.version is not None:
        result["Version"] = doc.version
    result["Statement"] = statements
    return result


def policy_size(doc: PolicyDocument, unit: str) -> int:
    text = json.dumps(rebuilt(doc), separators=(",", ":"), ensure_ascii=False)
    if unit == "characters":
        if text.isascii():
            # json.dumps escapes every ASCII control character, so the space is the only
            # white space left: counted without copying the text.
            return len(text) - text.count(" ")
        return len(re.sub(r"\s", "", text))  # IAM does not count white space
    return len(text.encode("utf-8"))


def _quotas(ctx: RuleContext) -> list[dict[str, Any]]:
    cached = ctx.cache.get("policy_quotas")
    if cached is None:
        raw: Any = read_data_table("policy_quotas.yaml")
        cached = ctx.cache["policy_quotas"] = list(raw["quotas"])
    return cached


def _quota_for(ctx: RuleContext, doc: PolicyDocument) -> dict[str, Any] | None:
    kind = policy_kind(doc).value
    src = doc.source
    standalone = src is None or src.kind == "file"
    for q in _quotas(ctx):
        applies = q["applies"]
        if applies["kind"] != kind:
            continue
        if standalone and applies.get("standalone"):
            return q
        if not standalone and src is not None and src.kind in applies.get("source_kinds", ()):
            return q
    return None


@check("IAM185")
def policy_too_large(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    src = doc.source
    if src is not None and src.policy_name and src.policy_name.startswith("arn:aws:iam::aws:policy/"):
        return  # AWS managed policies are AWS's to size
    quota = _quota_for(ctx, doc)
    if quota is None:
        return
    size = policy_size(doc, str(quota["unit"]))
    limit = int(quota["limit"])
    if size <= limit:
        return
    note = ""
    if quota.get("adjustable"):
        most = quota.get("adjustable_to")
        note = f"; the quota can be raised through Service Quotas{f' up to {most}' if most else ''}"
    if quota.get("aggregate"):
        note += "; the quota holds for all such policies together"
    yield Hit(
        loc=doc.loc,
        args={
            "size": size,
            "unit": quota["unit"],
            "limit": limit,
            "what": quota["what"],
            "note": note,
        },
        evidence=Evidence(notes=(f"quota {quota['id']}: {limit} {quota['unit']}", str(quota["source"]))),
    )
