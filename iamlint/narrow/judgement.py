"""Judging an observed call against the current policy with what its record shows, and no more.

IAM decides a request with its context as well as its action and resource (IAM User Guide,
"Policy evaluation logic" and "AWS global condition context keys"). A CloudTrail record shows
part of that context: the region, the caller, the time, and some request parameters that
services expose as condition keys (`s3:prefix` is ListObjects' `prefix`). The rest
(`aws:SecureTransport`, `aws:PrincipalTag/...`, `aws:SourceIp` as a VPC endpoint saw it) is
unknown, which is not the same as absent: the narrower must not judge a grant that turns on it.
`judge_call` says whether the original allows a call (yes, no, or cannot tell) and which grant
keeps it allowed: the call's own ARN, under the allowing statement's conditions if it has any.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from iamlint import globs
from iamlint.evaluator import Request, StatementVerdict, Verdict, judge, policy_variables
from iamlint.model import PolicyDocument, Statement
from iamlint.narrow.calls import Call

Context = dict[str, tuple[str, ...]]
# A condition block as the original wrote it: (operator, key, values) per condition.
ConditionBlock = tuple[tuple[str, str, tuple[str, ...]], ...]
# One request the proposal must allow: the ARN as the call used it, its context, the keys it lacks.
Check = tuple[str, Context, frozenset[str]]
# A grant that keeps a call allowed: a Resource pattern, its conditions, and the NotResource
# exclusions when it is kept from a NotResource statement (then the pattern is "*").
Grant = tuple[str, ConditionBlock, tuple[str, ...]]

# S3 list operations' parameters that are condition keys of s3:ListBucket and
# s3:ListBucketVersions (Amazon S3 User Guide, "Condition key examples": s3:prefix,
# s3:delimiter, s3:max-keys). CloudTrail records them under these names in requestParameters.
_S3_LIST_KEYS = ("prefix", "delimiter", "max-keys")
_S3_LIST_ACTIONS = frozenset({"s3:listbucket", "s3:listbucketversions"})


def request_context(call: Call, action: str) -> tuple[Context, frozenset[str]]:
    """(known condition keys and their values, keys known to be absent), keys in lower case."""
    ctx: Context = {}
    absent: set[str] = set()
    if call.region:
        ctx["aws:requestedregion"] = (call.region,)
    account = _principal_account(call)
    if account:
        ctx["aws:principalaccount"] = (account,)
    if call.role_arn:
        # For a role session aws:PrincipalArn is the role's ARN, not the session's, and
        # aws:username is absent (IAM User Guide, "AWS global condition context keys").
        ctx["aws:principalarn"] = (call.role_arn,)
        ctx["aws:principaltype"] = ("AssumedRole",)
        absent.add("aws:username")
    elif ":user/" in call.principal:
        ctx["aws:principalarn"] = (call.principal,)
        ctx["aws:principaltype"] = ("User",)
        ctx["aws:username"] = (call.principal.rsplit("/", 1)[-1],)
    if call.time:
        ctx["aws:currenttime"] = (call.time,)
    ctx["aws:viaawsservice"] = ("true" if call.invoked_by else "false",)
    service = action.split(":", 1)[0].lower()
    if action.lower() in _S3_LIST_ACTIONS:
        for name in _S3_LIST_KEYS:
            value = call.parameters.get(name)
            if isinstance(value, str | int) and not isinstance(value, bool):
                ctx[f"s3:{name}"] = (str(value),)
            else:
                absent.add(f"s3:{name}")  # the request did not send it
    elif service == "s3":
        absent.update(f"s3:{name}" for name in _S3_LIST_KEYS)  # only list requests carry them
    return ctx, frozenset(absent)


def _principal_account(call: Call) -> str | None:
    fields = call.principal.split(":", 5)
    if len(fields) == 6 and fields[4].isdigit():
        return fields[4]
    return call.account


def policy_keys(original: Sequence[PolicyDocument]) -> frozenset[str]:
    """The condition keys and policy variables (lower case) the original's decisions read."""
    out: set[str] = set()
    for doc in original:
        variables = doc.version == "2012-10-17"
        for st in doc.statements:
            for cond in st.conditions:
                out.add(cond.key.lower())
                if variables:
                    out.update(key.lower() for v in cond.values for _, key, _ in policy_variables(v))
            if variables:
                out.update(key.lower() for r in st.resource_texts for _, key, _ in policy_variables(r))
    return frozenset(out)


def judge_call(
    original: Sequence[PolicyDocument], action: str, resource: str, literal: bool, ctx: Context, absent: frozenset[str]
) -> tuple[Verdict, list[Grant], str]:
    """Does the original allow this observed request, and what grant keeps it allowed?

    YES: the grants are the request's own ARN (escaped), unconditional when a statement without
    conditions allows it, else under each allowing statement's conditions; a statement that
    allows it only through a policy variable is kept with its Resource as written. UNKNOWN: the
    grants are the statements that may allow it, for this action, with what they turn on. NO:
    no Allow applies, or a Deny does.
    """
    verdicts = [
        _unsure_of_exclusions(v, resource) if not literal else v
        for v in judge(original, Request(action, resource, ctx), absent)
    ]
    own = escape_arn(resource) if literal else resource  # `resource` is a pattern when not literal

    def grants_of(found: list[StatementVerdict]) -> list[Grant]:
        """Each statement's grant: the request's own ARN, the statement's matching patterns, or
        a NotResource statement as written (every resource but those it lists)."""
        out: list[Grant] = []
        for v in found:
            if v.statement.resource_key == "NotResource":
                out.append(("*", condition_block(v.statement), tuple(v.statement.resource_texts)))
            else:
                out += [
                    (own if v.literal_match else pattern, condition_block(v.statement), ())
                    for pattern in ([resource] if v.literal_match else v.matched)
                ]
        return list(dict.fromkeys(out))

    denying = [v for v in verdicts if not v.statement.is_allow and v.verdict is Verdict.YES]
    if denying:
        # A Deny of only some deployments (inside one branch of the template's Fn::If) did not
        # stop a call that succeeded: it was made where that branch is not taken.
        branch_only = {id(st) for d in original if d.source is not None and d.source.condition for st in d.statements}
        one_branch = all(id(v.statement) in branch_only for v in denying)
        if literal and not one_branch:
            return Verdict.NO, [], ""
        # Else `resource` is a pattern standing for resources the record does not name (a batch
        # delete's keys): a Deny matching the pattern may cover all of them or none.
        maybe = [v for v in verdicts if v.statement.is_allow and v.verdict is not Verdict.NO]
        if not maybe:
            return Verdict.NO, [], ""
        grants = grants_of(maybe)
        why = (
            "cannot be judged from the evidence: turns on which deployment made it (a Deny in one Fn::If "
            "branch applies to it)"
            if one_branch
            else "cannot be judged from the evidence: turns on which resources it used (a Deny covers some of them)"
        )
        return Verdict.UNKNOWN, grants, why
    allowing = [v for v in verdicts if v.statement.is_allow and v.verdict is Verdict.YES]
    if allowing:
        if any(v.literal_match and not v.statement.conditions for v in allowing):
            return Verdict.YES, [(own, (), ())], ""
        return Verdict.YES, grants_of(allowing), ""
    maybe = [v for v in verdicts if v.statement.is_allow and v.verdict is Verdict.UNKNOWN]
    if not maybe:
        return Verdict.NO, [], ""
    turns_on = ", ".join(dict.fromkeys(k for v in maybe for k in v.unknown)) or "which resources it used"
    return Verdict.UNKNOWN, grants_of(maybe), f"cannot be judged from the evidence: turns on {turns_on}"


def _unsure_of_exclusions(v: StatementVerdict, pattern: str) -> StatementVerdict:
    """A NotResource Allow judged for a pattern (the resources a record does not name): the
    resources it stands for may fall in the exclusions, unless none overlaps it."""
    st = v.statement
    if (
        st.is_allow
        and st.resource_key == "NotResource"
        and v.verdict is Verdict.YES
        and any(globs.patterns_overlap(r, pattern) for r in st.resource_texts)
    ):
        return dataclasses.replace(v, verdict=Verdict.UNKNOWN)
    return v


def allows(policies: Sequence[PolicyDocument], action: str, check: Check) -> bool:
    """Do `policies` allow the observed request for certain: an Allow applies, and no Deny does?

    As the original was judged: with the context the record shows and what it does not show
    unknown. A Deny that turns on an unknown key (`aws:SecureTransport`) did not apply to a call
    that succeeded, since the original has it too; only one that applies for certain denies.
    """
    resource, ctx, absent = check
    verdicts = judge(policies, Request(action, resource, ctx), absent)
    return not any(v.verdict is Verdict.YES and not v.statement.is_allow for v in verdicts) and any(
        v.verdict is Verdict.YES and v.statement.is_allow for v in verdicts
    )


def condition_block(st: Statement) -> ConditionBlock:
    """A statement's Condition as the proposal carries it: (operator, key, values) each."""
    return tuple((c.operator, c.key, tuple(c.values)) for c in st.conditions)


_SPECIAL = re.compile(r"[*?$]")


def escape_arn(arn: str) -> str:
    """An ARN as a 2012-10-17 policy writes it to mean exactly that ARN: `*`, `?` and `$` are
    wildcards or start a variable there, and `${*}`, `${?}`, `${$}` are the characters (IAM
    User Guide, "IAM policy elements: Variables and tags", "Special characters")."""
    return _SPECIAL.sub(lambda m: "${" + m.group(0) + "}", arn)
