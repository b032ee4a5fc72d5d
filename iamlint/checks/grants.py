"""Over-broad grants: wildcards in actions and resources, NotAction/NotResource, PassRole,
sensitive access on `*`, and resources that no granted action applies to.

Only Allow statements grant anything; Deny statements are never reported here. Every decision
about what an action can be scoped to comes from the catalogue.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from iamlint import globs
from iamlint.catalog import ResourceType
from iamlint.checks import Hit, RuleContext, check, per_action_list
from iamlint.checks.effective import everything_by
from iamlint.checks.principals import policy_kind
from iamlint.checks.scope import all_but_listed, describe_actions, excludes_every_resource, grant
from iamlint.model import Evidence, PolicyDocument, PolicyKind, Severity, Statement
from iamlint.ruleset import read_data_table


def _allows(doc: PolicyDocument) -> Iterator[Statement]:
    # Trust policies grant sts:AssumeRole* to a principal; their wildcards are trust rules.
    # A permissions boundary grants nothing: it caps what identity policies grant.
    if doc.kind in (PolicyKind.TRUST, PolicyKind.BOUNDARY):
        return
    for st in doc.statements:
        # `NotResource: "*"` excludes every resource: the statement grants nothing to be broad.
        if st.is_allow and not excludes_every_resource(st):
            yield st


def _scoping(doc: PolicyDocument) -> Iterator[Statement]:
    """Allow statements whose Resource element chooses among many resources.

    In a resource policy (a key policy, a bucket policy) the policy is attached to the
    resource, and "Resource": "*" means that resource itself (AWS KMS Developer Guide, "Key
    policies"): resource-scoping rules do not apply there.
    """
    if doc.kind is PolicyKind.RESOURCE:
        return
    yield from _allows(doc)


def _star_resources(st: Statement) -> tuple[str, ...]:
    return tuple(r for r in st.resource_texts if globs.is_total(r))


def _is_full_admin(ctx: RuleContext, st: Statement) -> bool:
    """Every action on every resource, or on every resource but those NotResource lists (the
    principal can give itself the rest; IAM108 reports the NotResource as such)."""
    g = grant(ctx, st)
    if st.not_resource:  # not "NotResource: *" (nothing) nor an empty list
        return g.all_actions and not st.not_action and all_but_listed(st)
    return g.all_actions and g.star_resource


@check("IAM101", pure=True)
def full_admin(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    if policy_kind(doc) is PolicyKind.RESOURCE:
        return  # "*" in a resource policy is the resource itself: IAM102/IAM107 report it
    for st in _allows(doc):
        if not _is_full_admin(ctx, st):
            continue
        if st.not_resource:
            how = "every action"
            what = f"administrator access, on everything but {', '.join(st.resource_texts)}"
            where = next(v.loc for v in st.actions if v.text in ("*", "*:*"))
        elif st.not_action:
            # PowerUserAccess: administrator but for what it names (IAM, Organizations).
            how = f"every action except {', '.join(st.action_texts)}"
            what = "administrator access apart from those"
            where = st.actions[0].loc
        else:
            how, what = "every action", "full administrator access"
            where = next(v.loc for v in st.actions if v.text in ("*", "*:*"))
        yield Hit(
            loc=where,
            statement=st,
            args={"how": how, "what": what},
            evidence=Evidence(actions=st.action_texts, resources=_star_resources(st)),
        )


@check("IAM102", pure=True)
def action_wildcard(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    resource_policy = policy_kind(doc) is PolicyKind.RESOURCE
    for st in _allows(doc):
        if st.not_action or (_is_full_admin(ctx, st) and not resource_policy):
            continue
        for v in st.actions:
            if v.text in ("*", "*:*"):
                yield Hit(loc=v.loc, statement=st, evidence=Evidence(actions=(v.text,), resources=st.resource_texts))


@check("IAM103", pure=True)
def service_wildcard(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    for st in _allows(doc):
        if st.not_action:
            continue
        for v in st.actions:
            prefix, sep, name = v.text.partition(":")
            if not sep or name != "*" or prefix == "*" or not ctx.catalog.service_exists(prefix):
                continue
            actions = ctx.catalog.expand(v.text)
            perms = [a for a in actions if a.is_permissions_management]
            detail = f", {len(perms)} of them permissions management" if perms else ""
            yield Hit(
                loc=v.loc,
                statement=st,
                args={"action": v.text, "service": prefix.lower(), "count": len(actions), "detail": detail},
                evidence=Evidence(actions=(v.text,), resources=st.resource_texts),
            )


@check("IAM104", pure=True)
def write_glob(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    for st in _allows(doc):
        if st.not_action:
            continue
        for v in st.actions:
            _, sep, name = v.text.partition(":")
            if not sep or not globs.has_wildcard(name) or name == "*":
                continue
            expansion = ctx.catalog.expand(v.text)
            writes = [a for a in expansion if a.is_write]
            if not writes or len(expansion) == 1:
                continue  # one action (SAM's "sqs:SendMessage*"): the glob grants what it names
            perms = [a for a in writes if a.is_permissions_management]
            shown = perms or writes
            yield Hit(
                loc=v.loc,
                statement=st,
                args={
                    "action": v.text,
                    "count": len(expansion),
                    "writes": len(writes),
                    "kind": "permissions-management" if perms else "write",
                    "examples": describe_actions(shown),
                },
                evidence=Evidence(actions=tuple(sorted(a.full_name for a in writes)), resources=st.resource_texts),
                # Plain Write reach: a level below the default, which is set for
                # permissions-management reach.
                severity=None if perms else Severity.MEDIUM,
            )


@check("IAM105", pure=True)
def resource_star(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    for st in _scoping(doc):
        if st.not_action or st.resource_key != "Resource":
            continue
        g = grant(ctx, st)
        if g.all_actions or not g.star_resource:
            continue
        scopable = [a for a in g.actions if a.supports_resource_scoping]
        if not scopable:
            continue  # only actions that accept nothing but "*": not a finding
        star = next(v for v in st.resources if globs.is_total(v.text))
        unscopable = len(g.actions) - len(scopable)
        yield Hit(
            loc=star.loc,
            statement=st,
            args={
                "resource": star.text,
                "count": len(scopable),
                "examples": describe_actions(scopable),
                "unscopable": unscopable,
            },
            evidence=Evidence(actions=tuple(sorted(a.full_name for a in scopable)), resources=(star.text,)),
        )


@check("IAM106", pure=True)
def resource_everything(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    for st in _scoping(doc):
        if st.resource_key != "Resource":
            continue
        g = grant(ctx, st)
        if g.all_actions or st.not_action:
            continue
        for v in st.resources:
            if v.text == "*" or globs.is_total(v.text) and v.text == "*":
                continue
            if globs.is_total(v.text):
                yield Hit(
                    loc=v.loc,
                    statement=st,
                    args={"resource": v.text, "what": "every resource"},
                    evidence=Evidence(resources=(v.text,)),
                )
                continue
            covered = _covered_types(ctx, st, v.text)
            if covered:
                yield Hit(
                    loc=v.loc,
                    statement=st,
                    args={"resource": v.text, "what": "every " + covered[0]},
                    evidence=Evidence(resources=(v.text,)),
                )


def _covered_types(ctx: RuleContext, st: Statement, resource: str) -> list[str]:
    """Resource types (of the granted actions) of which `resource` matches every instance."""
    resource = globs.padded_arn(resource)
    parts = globs.split_arn(resource)
    if len(parts) < 6 or parts[0] != "arn" or not globs.has_wildcard(parts[5]):
        return []
    by_service = _types_by_service(ctx, st)
    service = parts[2]
    if globs.has_wildcard(service):
        candidates = [rt for types in by_service.values() for rt in types]
    else:
        candidates = list(by_service.get(service.lower(), ()))
    names: dict[str, None] = {}
    for rt in candidates:
        if globs.covers_arn_format(resource, rt.arn):
            names.setdefault(rt.name, None)
    if not names:
        return []
    ordered = sorted(names, key=str.lower)
    shown = ", ".join(ordered[:8]) + (f" and {len(ordered) - 8} more types" if len(ordered) > 8 else "")
    return [f"{service} {shown}"]


@per_action_list("grants.types_by_service")
def _types_by_service(ctx: RuleContext, st: Statement) -> dict[str, tuple[ResourceType, ...]]:
    """The resource types of the statement's actions, by the service their ARNs name, which is
    not always the action's (ssm:SendCommand runs on ec2 instances, kafka-cluster:* on kafka
    clusters, topics and groups). Shared by the statements that list the same actions, as
    their expansion is (`scope._expansion`)."""
    out: dict[str, dict[str, ResourceType]] = {}
    types_of = ctx.catalog.action_resource_types
    for a in grant(ctx, st).actions:
        for rt in types_of(a):
            parts = globs.split_arn(rt.arn)
            service = parts[2].lower() if len(parts) > 2 else a.service
            out.setdefault(service, {})[rt.name] = rt
    return {svc: tuple(types.values()) for svc, types in out.items()}


@check("IAM107", pure=True)
def allow_not_action(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    del ctx
    yield from _allow_except(doc, action=True)


@check("IAM108", pure=True)
def allow_not_resource(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    del ctx
    yield from _allow_except(doc, action=False)


def _allow_except(doc: PolicyDocument, *, action: bool) -> Iterator[Hit]:
    """Allow statements with NotAction (`action`) or NotResource: everything but a list."""
    for st in _allows(doc):
        values, texts = (st.actions, st.action_texts) if action else (st.resources, st.resource_texts)
        if (st.not_action if action else st.not_resource) and values:
            yield Hit(
                loc=values[0].loc,
                statement=st,
                args={"excluded": ", ".join(texts)},
                evidence=Evidence(actions=st.action_texts, resources=st.resource_texts),
            )


@check("IAM109", pure=True)
def pass_role(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    for st in _allows(doc):
        if _is_full_admin(ctx, st):
            continue
        g = grant(ctx, st)
        if not g.allows("iam:passrole"):
            continue
        has_service = any(c.key.lower() == "iam:passedtoservice" for c in st.conditions)
        every = _every_resource_of(ctx, "iam:PassRole", st.resource_texts) if st.resource_key == "Resource" else ()
        star = bool(every)  # "*", or arn:aws:iam::*:role/* and the like
        if not star and has_service:
            continue
        passrole = ctx.catalog.action("iam:PassRole")
        if (
            not star
            and st.resource_key == "Resource"
            and passrole is not None
            and not any(ctx.catalog.resource_matches(passrole, r) for r in st.resource_texts)
        ):
            continue  # names no role (an S3 ARN, say): passes nothing; IAM112 reports the mismatch
        entry = next(
            (v for v in st.actions if any(a.key == "iam:passrole" for a in ctx.catalog.expand(v.text))),
            st.actions[0],
        )
        if star:
            problem = f'on every role (Resource "{every[0]}")'
            if not has_service:
                problem += " to any service (no iam:PassedToService condition)"
        else:
            problem = "to any service (no iam:PassedToService condition)"
        yield Hit(
            loc=entry.loc,
            statement=st,
            args={"problem": problem},
            evidence=Evidence(actions=("iam:PassRole",), resources=st.resource_texts),
            severity=None if star else Severity.MEDIUM,
        )


def secret_actions(ctx: RuleContext) -> dict[str, tuple[str, str]]:
    """Lower-case action -> (category, spelling) of the actions that return secrets or credentials."""
    cached = ctx.cache.get("sensitive_actions")
    if cached is None:
        table: Any = read_data_table("sensitive_actions.yaml")
        # Data-exfiltration reads (s3:GetObject on "*") are a risk category of their own;
        # this rule is about secrets and credentials.
        cached = {
            str(e["action"]).lower(): (str(e["category"]), str(e["action"]))
            for e in table["actions"]
            if e["category"] in ("secrets", "credentials_exposure")
        }
        ctx.cache["sensitive_actions"] = cached
    return cached


def _scopable(ctx: RuleContext, name: str) -> bool:
    action = ctx.catalog.action(name)
    return action is None or action.supports_resource_scoping


@check("IAM110", pure=True)
def sensitive_on_star(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    table = secret_actions(ctx)
    for st in _scoping(doc):
        if st.resource_key != "Resource" or _is_full_admin(ctx, st):
            continue
        g = grant(ctx, st)
        # A statement of named actions grants the table's entries it names, found by one set
        # intersection rather than a lookup per entry of the table; taken in the table's order
        # (which decides the resource reported first).
        shared = None if g.all_actions else table.keys() & g.named
        if shared is not None and not shared:
            continue
        hits: dict[str, list[str]] = {}
        where: dict[str, None] = {}
        for name, (category, spelled) in table.items():
            # "*" is no choice for an action no resource can scope (ecr:GetAuthorizationToken):
            # granting it at all is the principal-level risk IAM123 and IAM124 weigh.
            if not (g.allows(name) if shared is None else name in shared) or not _scopable(ctx, name):
                continue
            every = _every_resource_of(ctx, name, st.resource_texts)
            if every:
                hits.setdefault(category, []).append(spelled)
                where.update(dict.fromkeys(every))
        if not hits:
            continue
        first = next(iter(where))
        entry = next(v for v in st.resources if v.text == first)
        names = sorted(n for group in hits.values() for n in group)
        quoted = [f'"{w}"' for w in where]
        shown = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
        yield Hit(
            loc=entry.loc,
            statement=st,
            args={
                "resource": f"Resource {shown} grants" if len(quoted) == 1 else f"Resources {shown} grant",
                "categories": ", ".join(sorted(c.replace("_", " ") for c in hits)),
                "examples": ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else ""),
            },
            evidence=Evidence(actions=tuple(names), resources=tuple(where)),
        )


def _every_resource_of(ctx: RuleContext, name: str, resources: tuple[str, ...]) -> tuple[str, ...]:
    """The entries of `resources` that reach every resource the action applies to (`*`, or
    `arn:aws:secretsmanager:*:*:secret:*` for GetSecretValue), or () (effective.everything_by:
    an action that always names several kinds of resource must reach every one of each)."""
    action = ctx.catalog.action(name)
    if action is None:
        return tuple(r for r in resources if globs.is_total(r))[:1]
    usable = tuple(r for r in resources if globs.is_total(r) or ctx.catalog.resource_matches(action, r))
    return everything_by(ctx, action, usable) if usable else ()


@check("IAM112", pure=True)
def resource_mismatch(ctx: RuleContext, doc: PolicyDocument) -> Iterator[Hit]:
    cat = ctx.catalog
    for st in _allows(doc):
        if st.not_action or st.resource_key != "Resource":
            continue
        # Only ARNs are compared with the catalogue's formats: API Gateway resource policies
        # use the "execute-api:/stage/GET/path" shorthand.
        resources = st.resource_texts
        if not resources or any(globs.is_total(r) for r in resources):
            continue  # no valid resource left (IAM002 reports why), or "*"
        if not all(r.startswith("arn:") for r in resources):
            continue
        for text, expansion in grant(ctx, st).per_entry:
            if not expansion or text in ("*", "*:*"):
                continue
            # One action that applies to one of the resources is enough: stop there.
            if any(cat.resource_matches(a, r) for a in expansion for r in resources):
                continue
            entry = next(v for v in st.actions if v.text == text)
            needs = sorted({rt.arn for a in expansion for rt in cat.action_resource_types(a)})
            yield Hit(
                loc=entry.loc,
                statement=st,
                args={
                    "action": text,
                    "resources": ", ".join(resources),
                    "needs": ", ".join(needs[:3]) if needs else '"*" (the action cannot be scoped)',
                },
                evidence=Evidence(actions=(text,), resources=resources),
            )
