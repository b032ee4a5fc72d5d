"""Resource policies: grants to anyone, to AWS services without a source condition, to
everyone but a NotPrincipal list, and write access for other accounts.

What a grant exposes (read, write, permissions management) comes from the catalogue's access
levels; which conditions narrow the principal comes from `principals.narrowing`. Every finding
says what resource it is about and which conditions were taken into account.
"""

from __future__ import annotations

from collections.abc import Iterator

from iamlint import globs
from iamlint.catalog import ActionInfo
from iamlint.checks import Hit, RuleContext, check
from iamlint.checks.grants import secret_actions
from iamlint.checks.principals import (
    OWN_ACCOUNT,
    allows_with_principal,
    known_accounts,
    narrowing,
    resource_account,
    source_conditions,
    who,
)
from iamlint.checks.scope import describe_actions, grant
from iamlint.model import Evidence, PolicyDocument, PolicyKind, Severity, Statement

# How findings name what a resource policy protects, by the owner kind the loaders record.
_SOURCE_LABELS = {
    "bucket": "S3 bucket",
    "access-point": "S3 access point",
    "queue": "SQS queue",
    "topic": "SNS topic",
    "key": "KMS key",
    "function": "Lambda function",
    "layer": "Lambda layer",
    "secret": "Secrets Manager secret",
    "repository": "ECR repository",
    "registry": "ECR registry",
    "table": "DynamoDB table",
    "stream": "DynamoDB stream",
    "file-system": "EFS file system",
    "rest-api": "API Gateway REST API",
    "event-bus": "EventBridge event bus",
    "log-resource-policy": "CloudWatch Logs resource policy",
    "domain": "OpenSearch domain",
    "backup-vault": "Backup vault",
}


def _resource_allows(doc: PolicyDocument) -> Iterator[Statement]:
    return allows_with_principal(doc, PolicyKind.RESOURCE)


def _what(ctx: RuleContext, doc: PolicyDocument, st: Statement) -> str:
    src = doc.source
    if src is not None and src.kind in _SOURCE_LABELS:
        return f"{_SOURCE_LABELS[src.kind]} {src.name}"
    # A bare policy file: name the resource type of its ARNs from the catalogue, preferring
    # the types the granted actions apply to, and among those the most specific ARN format.
    granted = grant(ctx, st).actions
    for text in st.resource_texts:
        parts = globs.split_arn(text)
        if len(parts) < 6 or not ctx.catalog.service_exists(parts[2]):
            continue
        service = parts[2].lower()
        types = [rt for a in granted if a.service == service for rt in ctx.catalog.action_resource_types(a)]
        types = types or list(ctx.catalog.resource_types(service).values())
        matching = [rt for rt in types if globs.arn_pattern_overlaps(text, rt.arn)]
        if matching:
            best = max(matching, key=lambda rt: len(rt.arn))
            return f"{ctx.catalog.service_name(service)} {best.name} {text}"
    return "resource " + (", ".join(st.resource_texts) or "(unnamed)")


def _exposure(ctx: RuleContext, st: Statement) -> tuple[str, Severity, tuple[str, ...]]:
    """What the statement lets a principal do: (description, severity for anyone, actions)."""
    g = grant(ctx, st)
    if g.all_actions:
        how = "every action except " + ", ".join(st.action_texts) if st.not_action else "every action"
        return (
            f"{how} (including writes and permission changes)",
            Severity.CRITICAL,
            st.action_texts,
        )
    actions = list(g.actions)
    perms = [a for a in actions if a.is_permissions_management]
    writes = [a for a in actions if a.is_write and not a.is_permissions_management]
    if perms:
        return (
            f"permissions management ({describe_actions(perms)})",
            Severity.CRITICAL,
            _names(perms),
        )
    if writes:
        return f"write access ({describe_actions(writes)})", Severity.CRITICAL, _names(writes)
    secrets = secret_actions(ctx)
    revealing = [a for a in actions if a.key in secrets]
    if revealing:
        # Anyone may read the secret values or credentials: as grave as a public write.
        return f"reads of secrets or credentials ({describe_actions(revealing)})", Severity.CRITICAL, _names(revealing)
    if actions:
        return f"read access ({describe_actions(actions)})", Severity.HIGH, _names(actions)
    return f"{', '.join(st.action_texts)}", Severity.HIGH, st.action_texts


def _names(actions: list[ActionInfo]) -> tuple[str, ...]:
    return tuple(sorted(a.full_name for a in actions))


@check("IAM160")
def public_resource(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    for st in _resource_allows(doc):
        public = [w for w in who(st) if w.kind == "public"]
        if not public:
            continue
        n = narrowing(ctx, st)
        if n.suppressing:
            continue  # aws:SourceVpce, aws:PrincipalOrgID...: not open to the world
        exposure, severity, actions = _exposure(ctx, st)
        yield Hit(
            loc=public[0].principal.value.loc,
            statement=st,
            args={
                "what": _what(ctx, doc, st),
                "principal": public[0].text,
                "exposure": exposure,
                "conditions": n.describe(),
            },
            evidence=Evidence(actions=actions, resources=st.resource_texts, conditions=n.keys),
            severity=severity.lowered() if n.lowering else severity,
        )


@check("IAM161")
def service_without_source(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    for st in _resource_allows(doc):
        services = [w for w in who(st) if w.kind == "service"]
        if not services or source_conditions(ctx, st):
            continue
        n = narrowing(ctx, st)
        if n.suppressing:
            continue  # a source or organization condition of another spelling already pins it
        for w in services:
            yield Hit(
                loc=w.principal.value.loc,
                statement=st,
                args={
                    "service": w.text,
                    "what": _what(ctx, doc, st),
                    "actions": ", ".join(st.action_texts),
                },
                evidence=Evidence(actions=st.action_texts, resources=st.resource_texts),
            )


@check("IAM162", pure=True)
def allow_not_principal(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    del ctx
    for st in doc.statements:
        if not st.is_allow or st.principal_key != "NotPrincipal" or not st.principals:
            continue
        excluded = ", ".join(p.value.text for p in st.principals)
        yield Hit(
            loc=st.principals[0].value.loc,
            statement=st,
            args={"excluded": excluded, "actions": ", ".join(st.action_texts)},
            evidence=Evidence(actions=st.action_texts, resources=st.resource_texts),
        )


@check("IAM163")
def cross_account_write(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    known = known_accounts(ctx) or frozenset()
    for st in _resource_allows(doc):
        owner = resource_account(doc, st)
        if owner is None:
            continue  # a bare file that names no account: "another account" is unknowable
        others = [w for w in who(st) if w.account not in (None, OWN_ACCOUNT, owner)]
        if not others:
            continue
        g = grant(ctx, st)
        if g.all_actions:
            writes: tuple[str, ...] = (
                ("every action except " + ", ".join(st.action_texts),) if st.not_action else ("every action",)
            )
            perms = True
        else:
            wrote = [a for a in g.actions if a.is_write]
            if st.resource_key == "Resource" and st.resource_texts:
                # A write that applies to none of the statement's resources grants nothing
                # (s3:PutObject on the bucket's own ARN); IAM112 reports that instead.
                wrote = [a for a in wrote if any(ctx.catalog.resource_matches(a, r) for r in st.resource_texts)]
            if not wrote:
                continue
            writes = _names(wrote)
            perms = any(a.is_permissions_management for a in wrote)
        n = narrowing(ctx, st, exclude=frozenset({"aws:sourceip", "aws:vpcsourceip"}))
        for w in others:
            severity = Severity.HIGH if perms else Severity.MEDIUM
            notes = [f"account {w.account}"]
            if w.account in known:
                severity = Severity.LOW
                notes.append("a known account (settings known_accounts)")
            elif n.suppressing or n.lowering:
                severity = severity.lowered()
            yield Hit(
                loc=w.principal.value.loc,
                statement=st,
                args={
                    "principal": w.text,
                    "account": w.account,
                    "kind": "permissions-management" if perms else "write",
                    "what": _what(ctx, doc, st),
                    "examples": ", ".join(writes[:6]) + (f" and {len(writes) - 6} more" if len(writes) > 6 else ""),
                    "owner": "the stack's account" if owner == OWN_ACCOUNT else f"account {owner}",
                    "conditions": n.describe(),
                },
                evidence=Evidence(
                    actions=writes,
                    resources=st.resource_texts,
                    conditions=n.keys,
                    notes=tuple(notes),
                ),
                severity=severity,
            )
