"""iamlint against cloudsplaining on a large generated `get-account-authorization-details` dump.

Usage: ``python bench/cloudsplaining_compare.py [--roles N] [--repeat N] [--seed S]``

Writes bench/out/auth_details/account-<N>-roles.json: N roles with trust policies and 1-4 attached
managed policies (AWS managed and customer managed, the customer ones copies of AWS documents), some
inline policies, a few service-linked roles, users in groups and unattached customer policies. Every
document is a real AWS managed policy document from the `moto` package. AWS managed policies are
drawn from a pool of 400 with a skewed popularity, as in real accounts, and only those attached
appear in the dump's Policies list, as the API does.

Then, in one run, each as a fresh process timed from spawn to exit with its own peak memory:
- iamlint: `iamlint check FILE --format json`;
- cloudsplaining: `cloudsplaining scan --input-file FILE --output DIR --skip-open-report` (its HTML
  report cannot be turned off);
- cloudsplaining without HTML: its analysis alone (`AuthorizationDetails(...).results`), for a
  figure that does not charge it for the report.
Prints wall time, peak memory, ratios, and findings category by category.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import shutil
import sys
import zlib
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import PY, describe, interleaved

OUT = Path(__file__).resolve().parent / "out" / "auth_details"
ACCOUNT = "111122223333"
BIN = os.path.dirname(PY)

CATEGORIES = (
    # cloudsplaining category, iamlint rules that check the same thing, how close they are.
    # cloudsplaining flags policies; iamlint's IAM120-IAM125 judge each principal on everything
    # it holds (one finding per principal and category), so the counts are of different things.
    (
        "PrivilegeEscalation",
        ("IAM120", "IAM121", "IAM109"),
        "IAM120 escalation methods per principal, IAM121 rewriting identity policies, IAM109 PassRole",
    ),
    ("DataExfiltration", ("IAM124",), "per principal, on every resource"),
    ("ResourceExposure", ("IAM122",), "per principal; permissions-management actions on every resource"),
    ("InfrastructureModification", ("IAM125",), "per principal; Write/Tagging actions on every resource"),
    ("CredentialsExposure", ("IAM123",), "per principal, on every resource"),
    ("ServiceWildcard", ("IAM103", "IAM102", "IAM101"), "per statement: IAM103 service:*, IAM102/IAM101 for *"),
)


def print_categories(rules: dict[str, tuple[int, int]], cats: dict[str, tuple[int, int]]) -> None:
    """The category table both comparison scripts print, and the rules outside any category."""
    print(f"  {'cloudsplaining category':<28} {'cloudsplaining':>16}  {'iamlint rule':<14} {'iamlint':>15}  note")
    for category, equivalents, note in CATEGORIES:
        policies, actions = cats[category]
        left = f"{policies:6d} / {actions:7d}"
        for k, rule in enumerate(equivalents):
            d, n = rules.get(rule, (0, 0))
            print(
                f"  {category if k == 0 else '':<28} {left if k == 0 else '':>16}  {rule:<14} "
                f"{d:6d} / {n:6d}  {note if k == 0 else ''}"
            )
    mapped = {r for _, eq, _ in CATEGORIES for r in eq}
    print(
        "iamlint rules without a cloudsplaining category: "
        + ", ".join(f"{r} {rules[r][1]}" for r in sorted(set(rules) - mapped))
    )


CS_NO_HTML = r"""
import json, sys
from cloudsplaining.scan.authorization_details import AuthorizationDetails
from cloudsplaining.shared.exclusions import DEFAULT_EXCLUSIONS
from cloudsplaining.shared.validation import check_authorization_details_schema
with open(sys.argv[1], encoding="utf-8") as fh:
    cfg = json.load(fh)
check_authorization_details_schema(cfg)
results = AuthorizationDetails(cfg, exclusions=DEFAULT_EXCLUSIONS).results
with open(sys.argv[2], "w", encoding="utf-8") as fh:
    json.dump(results, fh, default=str)
"""

_TRUSTS = (
    "ec2.amazonaws.com",
    "lambda.amazonaws.com",
    "ecs-tasks.amazonaws.com",
    "states.amazonaws.com",
    "glue.amazonaws.com",
    "codebuild.amazonaws.com",
)


# -- the generated account ----------------------------------------------------------------


def _trust(rng: random.Random, service: str | None = None) -> dict[str, Any]:
    if service is None and rng.random() < 0.15:
        statement: dict[str, Any] = {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "sts:AssumeRole",
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        }
    else:
        statement = {
            "Effect": "Allow",
            "Principal": {"Service": service or rng.choice(_TRUSTS)},
            "Action": "sts:AssumeRole",
        }
    return {"Version": "2012-10-17", "Statement": [statement]}


def _policy_entry(name: str, arn: str, path: str, document: Any, old: Any | None) -> dict[str, Any]:
    versions = [
        {"Document": document, "VersionId": "v2", "IsDefaultVersion": True, "CreateDate": "2026-01-02T00:00:00+00:00"}
    ]
    if old is not None:  # an older version, not in force: neither tool should report it
        versions.append(
            {"Document": old, "VersionId": "v1", "IsDefaultVersion": False, "CreateDate": "2025-01-02T00:00:00+00:00"}
        )
    return {
        "PolicyName": name,
        "PolicyId": f"ANPA{zlib.crc32(arn.encode()):016d}",
        "Arn": arn,
        "Path": path,
        "DefaultVersionId": "v2",
        "AttachmentCount": 0,
        "PermissionsBoundaryUsageCount": 0,
        "IsAttachable": True,
        "CreateDate": "2025-01-02T00:00:00+00:00",
        "UpdateDate": "2026-01-02T00:00:00+00:00",
        "PolicyVersionList": versions,
    }


def generate(roles: int, seed: int) -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data  # only to generate

    rng = random.Random(seed)
    aws = json.loads(aws_managed_policies_data)
    names = sorted(aws)
    slr_names = [n for n in names if aws[n]["Path"] == "/aws-service-role/"]
    general = [n for n in names if aws[n]["Path"] != "/aws-service-role/"]
    pool = rng.sample(general, min(400, len(general)))
    weights = [1 / (i + 1) ** 0.8 for i in range(len(pool))]
    small = [n for n in general if len(json.dumps(aws[n]["Document"])) < 1500]

    def aws_arn(name: str) -> str:
        return f"arn:aws:iam::aws:policy{aws[name]['Path']}{name}"

    customer = []
    for i in range(max(10, roles // 8)):
        src = rng.choice(general)
        name = f"cust-{i:04d}-{src}"[:128]
        old = aws[rng.choice(small)]["Document"] if rng.random() < 0.2 else None
        customer.append(_policy_entry(name, f"arn:aws:iam::{ACCOUNT}:policy/{name}", "/", aws[src]["Document"], old))
    attachable = customer[: int(len(customer) * 0.95)]  # the rest stays unattached
    used_aws: dict[str, None] = {}

    def attachments(n: int) -> list[dict[str, str]]:
        out: dict[str, str] = {}
        while len(out) < n:
            if rng.random() < 0.6:
                name = rng.choices(pool, weights)[0]
                used_aws[name] = None
                out[aws_arn(name)] = name
            else:
                entry = rng.choice(attachable)
                out[entry["Arn"]] = entry["PolicyName"]
        return [{"PolicyName": name, "PolicyArn": arn} for arn, name in out.items()]

    def inline(prefix: str, chance: float) -> list[dict[str, Any]]:
        count = rng.choice((1, 1, 2)) if rng.random() < chance else 0
        return [
            {"PolicyName": f"{prefix}-inline-{k}", "PolicyDocument": aws[rng.choice(small)]["Document"]}
            for k in range(count)
        ]

    group_names = [f"group-{g:03d}" for g in range(max(5, roles // 100))]
    groups = [
        {
            "Path": "/",
            "GroupName": g,
            "GroupId": f"AGPA{i:017d}",
            "Arn": f"arn:aws:iam::{ACCOUNT}:group/{g}",
            "CreateDate": "2025-01-02T00:00:00+00:00",
            "GroupPolicyList": inline(g, 0.3),
            "AttachedManagedPolicies": attachments(rng.randint(1, 3)),
        }
        for i, g in enumerate(group_names)
    ]
    users = []
    for u in range(max(10, roles // 10)):
        name = f"user-{u:04d}"
        users.append(
            {
                "Path": "/",
                "UserName": name,
                "UserId": f"AIDA{u:017d}",
                "Arn": f"arn:aws:iam::{ACCOUNT}:user/{name}",
                "CreateDate": "2025-01-02T00:00:00+00:00",
                "GroupList": rng.sample(group_names, rng.randint(0, 2)),
                "Tags": [],
                "UserPolicyList": inline(name, 0.2),
                "AttachedManagedPolicies": attachments(rng.randint(0, 2)),
            }
        )
    role_list = []
    for r in range(roles):
        if rng.random() < 0.03:  # a service-linked role with its AWS policy
            policy = rng.choice(slr_names)
            service = f"{policy.lower()[:12]}.amazonaws.com"
            name, path = f"AWSServiceRoleFor{policy[:40]}{r}", f"/aws-service-role/{service}/"
            used_aws[policy] = None
            attached = [{"PolicyName": policy, "PolicyArn": aws_arn(policy)}]
            trust, policies = _trust(rng, service), []
        else:
            name, path = f"role-{r:05d}", rng.choice(("/", "/", "/app/"))
            trust, attached, policies = _trust(rng), attachments(rng.randint(1, 4)), inline(name, 0.3)
        arn = f"arn:aws:iam::{ACCOUNT}:role{path}{name}"
        profiles = []
        if trust["Statement"][0]["Principal"].get("Service") == "ec2.amazonaws.com":
            profiles = [
                {
                    "Path": "/",
                    "InstanceProfileName": name,
                    "InstanceProfileId": f"AIPA{r:017d}",
                    "Arn": f"arn:aws:iam::{ACCOUNT}:instance-profile/{name}",
                    "CreateDate": "2025-01-02T00:00:00+00:00",
                    "Roles": [],
                }
            ]
        role_list.append(
            {
                "Path": path,
                "RoleName": name,
                "RoleId": f"AROA{r:017d}",
                "Arn": arn,
                "CreateDate": "2025-01-02T00:00:00+00:00",
                "AssumeRolePolicyDocument": trust,
                "InstanceProfileList": profiles,
                "RolePolicyList": policies,
                "AttachedManagedPolicies": attached,
                "Tags": [],
                "RoleLastUsed": {},
            }
        )
    aws_entries = [_policy_entry(n, aws_arn(n), aws[n]["Path"], aws[n]["Document"], None) for n in used_aws]
    return {
        "UserDetailList": users,
        "GroupDetailList": groups,
        "RoleDetailList": role_list,
        "Policies": customer + aws_entries,
    }


# -- reading the two reports --------------------------------------------------------------


def iamlint_counts(report: dict[str, Any]) -> tuple[dict[str, tuple[int, int]], int]:
    """Per rule: (documents with a finding, findings); and findings on service-linked sources."""
    docs: dict[str, set[tuple[str, ...]]] = collections.defaultdict(set)
    count: collections.Counter[str] = collections.Counter()
    service_linked = 0
    for f in report["findings"]:
        src = f.get("source") or {}
        docs[f["rule"]].add((src.get("kind", ""), src.get("name", ""), src.get("policy_name", "")))
        count[f["rule"]] += 1
        service_linked += src.get("via") == "service-linked"
    return {rule: (len(docs[rule]), count[rule]) for rule in count}, service_linked


def cloudsplaining_counts(results: dict[str, Any]) -> tuple[dict[str, tuple[int, int]], int]:
    """Per category: (policies with a finding, actions or methods flagged); policies reported.

    Its exclusions drop principals and policies from the results altogether."""
    flagged: collections.Counter[str] = collections.Counter()
    items: collections.Counter[str] = collections.Counter()
    seen = 0
    for section in ("aws_managed_policies", "customer_managed_policies", "inline_policies"):
        for policy in results.get(section, {}).values():
            seen += 1
            for category, *_ in CATEGORIES:
                found = (policy.get(category) or {}).get("findings") or []
                flagged[category] += bool(found)
                items[category] += len(found)
    return {c: (flagged[c], items[c]) for c, *_ in CATEGORIES}, seen


def _cloudsplaining_results(out_dir: Path) -> dict[str, Any]:
    found = sorted(out_dir.glob("iam-findings-*.json"))
    if not found:
        raise SystemExit(f"cloudsplaining wrote no iam-findings-*.json in {out_dir}")
    data: dict[str, Any] = json.loads(found[0].read_text())
    return data


def _fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--roles", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20261027)
    args = parser.parse_args()

    OUT.mkdir(parents=True, exist_ok=True)
    dump = generate(args.roles, args.seed)
    file = OUT / f"account-{args.roles}-roles.json"
    file.write_text(json.dumps(dump, indent=2))
    print(
        f"{file}: {file.stat().st_size / 1e6:.1f} MB, {len(dump['RoleDetailList'])} roles, "
        f"{len(dump['UserDetailList'])} users, {len(dump['GroupDetailList'])} groups, "
        f"{len(dump['Policies'])} managed policies"
    )

    # Interleaved, so that load from other processes on the machine falls on all three alike.
    cs_dir = OUT / "cloudsplaining"
    bare_out = OUT / "cloudsplaining-no-html.json"
    commands = {
        "iamlint": [os.path.join(BIN, "iamlint"), "check", str(file), "--format", "json"],
        "cloudsplaining": [
            os.path.join(BIN, "cloudsplaining"),
            "scan",
            "--input-file",
            str(file),
            "--output",
            str(cs_dir),
            "--skip-open-report",
        ],
        "cs (no HTML)": [PY, "-c", CS_NO_HTML, str(file), str(bare_out)],
    }
    load_before = os.getloadavg()[0]
    medians, walls = interleaved(
        commands, args.repeat, lambda name: _fresh(cs_dir) if name == "cloudsplaining" else None
    )
    print(f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs")
    ours, theirs, bare = medians["iamlint"], medians["cloudsplaining"], medians["cs (no HTML)"]
    for name in commands:
        print(describe(name, medians[name], walls[name]))
    for name, r in (("iamlint", ours), ("cloudsplaining", theirs), ("cs (no HTML)", bare)):
        if r.returncode not in (0, 1):
            print(f"{name} failed:\n{r.stderr.decode()[-2000:]}")
            return 1
    for name, other in (("cloudsplaining", theirs), ("cloudsplaining without HTML", bare)):
        speed = other.wall / ours.wall
        faster = f"iamlint is {speed:.1f}x faster" if speed >= 1 else f"iamlint is {1 / speed:.1f}x SLOWER"
        print(f"vs {name}: {faster}; iamlint uses {ours.peak_mb / other.peak_mb:.2f}x its peak memory")

    report = json.loads(ours.stdout)
    rules, slr = iamlint_counts(report)
    cs_results = _cloudsplaining_results(cs_dir)
    cats, seen = cloudsplaining_counts(cs_results)
    bare_cats, _ = cloudsplaining_counts(json.loads(bare_out.read_text()))
    dropped = len(dump["RoleDetailList"]) - len(cs_results.get("roles", {}))
    assert bare_cats == cats, "cloudsplaining's scan and its bare analysis disagree"
    errors = [f for f in report["findings"] if f.get("error")]
    print(
        f"\niamlint: {report['summary']['documents']} documents checked, {len(report['findings'])} findings "
        f"({slr} on service-linked roles' policies), {len(errors)} input errors or rule crashes"
    )
    print(
        f"cloudsplaining: {seen} distinct policies reported (inline ones deduplicated by content); its default "
        f"exclusions dropped {dropped} of {len(dump['RoleDetailList'])} roles and every AdministratorAccess, "
        "*ServiceRolePolicy and service-role policy"
    )
    print(
        "\nfindings per category: cloudsplaining policies flagged / actions flagged;"
        " iamlint documents flagged / findings"
    )
    print_categories(rules, cats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
