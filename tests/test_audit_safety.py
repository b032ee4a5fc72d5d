"""The audit only reads: every operation it can call is on the allowlist, and each one reads.

Three independent views must agree: the allowlist (`clients.ALLOWED`), the calls written in the
audit package's source (found by parsing it), and the permissions table (`permissions.NEEDS`),
whose IAM actions are checked against iamlint's own API-to-IAM mapping. The recorded calls of a
full moto-backed run are checked in test_audit_live.py. The minimal auditor policy is generated
from the table, equal to docs/auditor-policy.json, and clean under `iamlint check`.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import botocore.session
from botocore import xform_name
from click.testing import CliRunner
from conftest import ROOT

from iamlint.audit.clients import ALLOWED, READ_ONLY_BECAUSE, READ_VERBS
from iamlint.audit.permissions import DEFAULT_FEATURES, NEEDS, SCOPED, auditor_policy, features
from iamlint.catalog import get_catalog
from iamlint.cli import cli
from iamlint.narrow.calls import Call
from iamlint.narrow.mapping import iam_actions

AUDIT = ROOT / "iamlint" / "audit"
POLICY = ROOT / "docs" / "auditor-policy.json"
ALL_OPS = {f"{svc}:{op}" for svc, ops in ALLOWED.items() for op in ops}
_SESSION = botocore.session.get_session()


def test_every_allowed_operation_exists_and_reads() -> None:
    for service, operations in ALLOWED.items():
        model = _SESSION.get_service_model(service)
        for op in operations:
            assert op in model.operation_names, f"{service}:{op} is not an operation of {service}"
            key = f"{service}:{op}"
            assert op.startswith(READ_VERBS) or key in READ_ONLY_BECAUSE, f"{key} is neither a read verb nor justified"
    # Every justification is for an operation on the list whose name does not say it reads.
    assert all(k in ALL_OPS and not k.split(":")[1].startswith(READ_VERBS) for k in READ_ONLY_BECAUSE)
    assert all(len(why) > 40 for why in READ_ONLY_BECAUSE.values())


def _calls_in_source() -> tuple[set[str], set[str], set[str]]:
    """(client method names used, paginator names, services clients are made for) in the package."""
    methods: set[str] = set()
    paginators: set[str] = set()
    services: set[str] = set()
    operation_names = {xform_name(op) for svc in ALLOWED for op in _SESSION.get_service_model(svc).operation_names}
    for path in sorted(AUDIT.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            # A client method named without being called here (`partial(s3.get_bucket_policy, ...)`).
            if isinstance(node, ast.Attribute) and node.attr in operation_names:
                methods.add(node.attr)
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            name = node.func.attr
            literal = node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else None
            if name == "get_paginator":
                assert isinstance(literal, str), f"{path.name}:{node.lineno}: paginator name must be a literal"
                paginators.add(literal)
            elif name == "client" and path.name != "clients.py":
                assert isinstance(literal, str), f"{path.name}:{node.lineno}: client service must be a literal"
                services.add(literal)
            elif name in operation_names:
                methods.add(name)
    return methods, paginators, services


def test_every_call_in_the_source_is_allowed_and_every_allowed_call_is_made() -> None:
    methods, paginators, services = _calls_in_source()
    assert services <= set(ALLOWED), services - set(ALLOWED)
    found: set[str] = set()
    for name in methods | paginators:
        owners = {
            f"{svc}:{op}"
            for svc in ALLOWED
            for op in _SESSION.get_service_model(svc).operation_names
            if xform_name(op) == name
        }
        allowed = owners & ALL_OPS
        assert allowed, f"{name}() is called in iamlint/audit but {sorted(owners)} is not on the allowlist"
        found |= allowed
    # HeadBucket is only sent by botocore's S3 redirector, never by the audit's own code.
    assert ALL_OPS - found == {"s3:HeadBucket"}


def test_only_the_factory_creates_clients() -> None:
    for path in sorted(AUDIT.glob("*.py")):
        text = path.read_text()
        if path.name != "clients.py":
            assert "import boto3" not in text and "from boto3" not in text, path.name
            assert "session.client(" not in text and "boto3.client(" not in text, path.name


def test_the_permissions_table_matches_the_allowlist_and_iamlints_own_mapping() -> None:
    assert set(NEEDS) == ALL_OPS
    catalog = get_catalog()
    for key, (action, _feature) in NEEDS.items():
        service, op = key.split(":")
        prefix = _SESSION.get_service_model(service).signing_name  # "states" for stepfunctions
        mapped = iam_actions(
            Call(
                service=prefix,
                operation=op,
                principal="",
                role_arn=None,
                session_name=None,
                time=None,
                region=None,
                resources=(),
                parameters={},
                api=service,
            ),
            catalog,
        )
        if action is None:
            assert key in ("sts:GetCallerIdentity", "s3:HeadBucket"), key
            continue
        assert catalog.action(action) is not None, action
        assert action in mapped.actions, f"{key}: table says {action}, mapping says {mapped.actions}"
        info = catalog.action(action)
        # Actions that accept resources are scoped (AssumeRole: to the audit role, in its own statement).
        scoped = action in SCOPED or action == "sts:AssumeRole"
        assert info is not None and scoped == info.supports_resource_scoping, action


def test_docs_auditor_policy_is_the_generated_minimal_policy() -> None:
    assert json.loads(POLICY.read_text()) == auditor_policy(DEFAULT_FEATURES)
    printed = CliRunner().invoke(cli, ["audit", "--print-policy"])
    assert printed.exit_code == 0 and json.loads(printed.stdout) == auditor_policy(DEFAULT_FEATURES)
    granted = {
        a
        for st in auditor_policy(DEFAULT_FEATURES)["Statement"]
        for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])
    }
    needed = {a for a, feature in NEEDS.values() if a and feature in DEFAULT_FEATURES}
    assert granted == needed


def test_docs_auditor_policy_is_clean() -> None:
    result = CliRunner().invoke(cli, ["check", str(POLICY), "--format", "json", "--fail-on", "low"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["summary"]["documents"] == 1
    assert [f for f in report["findings"] if f["severity"] != "info"] == []


def test_opt_in_features_print_the_permissions_they_need() -> None:
    wanted = features(
        workloads=("lambda", "ec2", "ecs", "stepfunctions"),
        resources=("s3", "kms", "lambda"),
        access_advisor=True,
        org=True,
        regions=True,
        cloudtrail=True,
    )
    policy = auditor_policy(wanted, "audit-reader")
    granted = {
        a for st in policy["Statement"] for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])
    }
    assert {
        "ecs:DescribeTaskDefinition",
        "iam:GenerateServiceLastAccessedDetails",
        "kms:GetKeyPolicy",
        "s3:GetBucketPolicy",
        "lambda:GetPolicy",
        "states:DescribeStateMachine",
    } <= granted
    assert "sqs:GetQueueAttributes" not in granted
    assert any(st["Resource"] == "arn:aws:iam::*:role/audit-reader" for st in policy["Statement"])
    printed = CliRunner().invoke(cli, ["audit", "--print-policy", "--access-advisor", "--resources", "s3"])
    assert "iam:GenerateServiceLastAccessedDetails" in printed.stdout and "s3:GetBucketPolicy" in printed.stdout


def test_check_never_imports_boto3() -> None:
    code = (
        "import sys\nfrom iamlint.cli import main\ntry:\n    main(['check', sys.argv[1]])\nexcept SystemExit:\n"
        "    pass\nprint(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'moto')))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(POLICY)], check=False, capture_output=True, text=True, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_templates_ship_with_the_package() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert '"iamlint.audit.templates"' in text and '"iamlint.audit.templates" = ["*.html", "*.css", "*.js"]' in text
    assert {p.name for p in (AUDIT / "templates").iterdir()} >= {"report.html", "report.css", "report.js"}
    assert Path(AUDIT / "__init__.py").exists()
