"""`iamlint narrow --diff/--apply`: the proposal written into the template, and nothing else changed.

Golden diffs (fixtures/narrow/*.diff; IAMLINT_UPDATE_GOLDEN=1 regenerates them) for the demo's SAM
function and for a CloudFormation role. A patch is applied to a copy: only the `Policies` block
differs, the patched template loads, and its policies stay inside the original ones and keep
every observed call. SAM policy templates are used only when they match exactly.
"""

from __future__ import annotations

import difflib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import FIXTURES, ROOT, check_golden

from iamlint.catalog import get_catalog
from iamlint.cli import cli
from iamlint.evaluator import contains
from iamlint.loaders.inputs import InputOptions, load_paths
from iamlint.loaders.located import parse_yaml
from iamlint.model import PolicyDocument, PolicyKind
from iamlint.narrow.calls import Call, matches_principal
from iamlint.narrow.command import _select
from iamlint.narrow.evidence import read_cloudtrail, read_evidence_file
from iamlint.narrow.narrower import Evidence, Proposal, narrow
from iamlint.narrow.patch import PatchError, patch_template
from iamlint.narrow.sam_templates import match_templates

DEMO = FIXTURES / "demo"
CFN = FIXTURES / "narrow" / "cfn-role.yaml"
CFN_EVIDENCE = FIXTURES / "narrow" / "cfn-role.evidence.jsonl"
PARAMS = {"AWS::Region": "eu-west-1", "AWS::AccountId": "111122223333"}
DEMO_ARGS = [
    "--function",
    "OrdersFunction",
    "--cloudtrail",
    "fixtures/demo/cloudtrail",
    "--session",
    "orders-fn",
    "--all-data-events",
]
CFN_ARGS = [
    "--role",
    "WorkerRole",
    "--evidence",
    "fixtures/narrow/cfn-role.evidence.jsonl",
    "--session",
    "orders-worker",
]


def _narrow(args: list[str], *extra: str) -> Any:
    return CliRunner().invoke(cli, ["narrow", *args, *extra])


def _identity(docs: list[PolicyDocument]) -> list[PolicyDocument]:
    return [d for d in docs if d.kind in (PolicyKind.IDENTITY, PolicyKind.UNKNOWN)]


def _changed_lines(before: str, after: str) -> tuple[int, int]:
    """The range of lines of `before` that differ from `after` (first, last + 1)."""
    a, b = before.splitlines(keepends=True), after.splitlines(keepends=True)
    ops = [op for op in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes() if op[0] != "equal"]
    return ops[0][1], ops[-1][2]


def _block_of(text: str, key: int) -> range:
    """The lines of the YAML block whose key is on line `key` (0-based), by indentation."""
    lines = text.splitlines()
    indent = len(lines[key]) - len(lines[key].lstrip())
    end = key
    for i in range(key + 1, len(lines)):
        stripped = lines[i].strip()
        depth = len(lines[i]) - len(lines[i].lstrip())
        if stripped and not stripped.startswith("#"):
            if depth < indent or (depth == indent and not stripped.startswith("-")):
                break
            end = i
    return range(key, end + 1)


# -- golden diffs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "target", "args"),
    [
        ("demo-template.diff", "fixtures/demo/template.yaml", DEMO_ARGS),
        ("cfn-role.diff", "fixtures/narrow/cfn-role.yaml", CFN_ARGS),
    ],
)
def test_diff_golden(monkeypatch: pytest.MonkeyPatch, name: str, target: str, args: list[str]) -> None:
    monkeypatch.chdir(ROOT)
    before = (ROOT / target).read_bytes()
    result = _narrow([target, *args], "--diff")
    assert result.exit_code == 0, result.output
    check_golden(FIXTURES / "narrow" / name, result.stdout)
    assert (ROOT / target).read_bytes() == before, "--diff without --apply writes nothing"
    assert "nothing written" in result.stderr and "proved" in result.stderr


def test_demo_diff_uses_exact_sam_templates_and_leaves_sam_additions_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = _narrow(["fixtures/demo/template.yaml", *DEMO_ARGS], "--diff")
    added = [line[1:] for line in result.stdout.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert "        - SNSPublishMessagePolicy:" in added and "        - KMSDecryptPolicy:" in added
    # The SQS grant is sqs:SendMessage only; SQSSendMessagePolicy would add SendMessageBatch.
    assert not any("SQSSendMessagePolicy" in line for line in added)
    # Log writes stay with the AWSLambdaBasicExecutionRole policy SAM attaches anyway.
    assert not any("logs:" in line for line in added)
    assert (
        "left in place: arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole (SAM's own addition)"
        in result.stderr
    )


# -- --apply on a copy -------------------------------------------------------------------------


def _observed(evidence: Any, **principal: str) -> list[Call]:
    return [c for c in evidence if isinstance(c, Call) and matches_principal(c, **principal)]


@pytest.mark.parametrize("case", ["demo", "cfn"])
def test_apply_changes_only_the_block_and_stays_inside_the_original(tmp_path: Path, case: str) -> None:
    if case == "demo":
        shutil.copytree(DEMO, tmp_path / "demo")
        template = tmp_path / "demo" / "template.yaml"
        args = [
            str(template),
            "--function",
            "OrdersFunction",
            "--cloudtrail",
            str(DEMO / "cloudtrail"),
            "--session",
            "orders-fn",
        ]
        calls = _observed(read_cloudtrail([DEMO / "cloudtrail"]), session="orders-fn")
        function, role, workload = "OrdersFunction", None, "lambda"
    else:
        template = tmp_path / "cfn-role.yaml"
        shutil.copy(CFN, template)
        args = [str(template), "--role", "WorkerRole", "--evidence", str(CFN_EVIDENCE), "--session", "orders-worker"]
        calls = _observed(read_evidence_file(CFN_EVIDENCE), session="orders-worker")
        function, role, workload = None, "WorkerRole", None
    before = template.read_text()
    shown = _narrow(args, "--diff").stdout

    result = _narrow(args, "--apply")
    assert result.exit_code == 0, result.output
    assert "patched" in result.stderr
    after = template.read_text()
    assert after != before
    # Only the Policies block changed: everything above and below it is byte for byte the same.
    key = next(i for i, line in enumerate(before.splitlines()) if line.strip().startswith("Policies:"))
    first, last = _changed_lines(before, after)
    assert set(range(first, last)) <= set(_block_of(before, key))
    assert before.splitlines(keepends=True)[:key] == after.splitlines(keepends=True)[:key]
    end = _block_of(before, key)[-1] + 1
    rest = before.splitlines(keepends=True)[end:]
    assert after.endswith("".join(rest)) and (rest or case == "demo")  # the demo ends with its Policies
    # --diff showed exactly what --apply wrote.
    assert shown.count("\n+") > 0 and all(
        line[1:] in after.splitlines()
        for line in shown.splitlines()
        if line.startswith("+") and not line.startswith("+++")
    )

    # The patched template loads, and its policies are inside the original ones and keep the calls.
    original = _select(
        load_paths([str(CFN if case == "cfn" else DEMO / "template.yaml")], InputOptions(parameters=PARAMS)).documents,
        function,
        role,
    )
    loaded = load_paths([str(template)], InputOptions(parameters=PARAMS))
    assert not loaded.errors
    patched = _identity(_select(loaded.documents, function, role))
    assert patched and contains(_identity(original), patched, get_catalog()).contained
    proposal = narrow(original, calls, get_catalog(), workload=workload)
    kept = narrow(patched, calls, get_catalog(), workload=workload)
    # Every call the original allowed, the patched template allows (the others it never did).
    assert {(e.action, e.resource) for e in kept.not_granted} == {(e.action, e.resource) for e in proposal.not_granted}
    assert {(e.action, e.resource) for e in kept.evidence if e.basis == "observed"} == {
        (e.action, e.resource) for e in proposal.evidence if e.basis == "observed"
    }


def _record(service: str, operation: str, **parameters: str) -> str:
    return json.dumps(
        {
            "service": service,
            "operation": operation,
            "principal": "arn:aws:sts::111122223333:assumed-role/orders-worker-role/orders-worker",
            "region": "eu-west-1",
            "account": "111122223333",
            "parameters": parameters,
            "time": "2026-11-01T10:00:00Z",
        }
    )


def _grouping(statements: list[tuple[str | None, Any, Any]]) -> list[tuple[str | None, list[str], list[str]]]:
    def listed(value: Any) -> list[str]:
        return sorted(value) if isinstance(value, (list, tuple)) else [value]

    return [(sid, listed(actions), listed(resources)) for sid, actions, resources in statements]


def test_printed_proposal_and_applied_patch_group_and_name_statements_alike(tmp_path: Path) -> None:
    # Actions used on the same set of several resources share a statement; an action used on
    # only one of them gets its own. The printed proposal and the written patch must agree.
    template = tmp_path / "cfn-role.yaml"
    shutil.copy(CFN, template)
    evidence = tmp_path / "calls.jsonl"
    evidence.write_text(
        "\n".join(
            [
                _record("dynamodb", "GetItem", tableName="orders"),
                _record("dynamodb", "GetItem", tableName="customers"),
                _record("dynamodb", "Query", tableName="orders"),
                _record("dynamodb", "Query", tableName="customers"),
                _record("dynamodb", "UpdateItem", tableName="orders"),
                _record("s3", "GetObject", bucketName="orders-inbox", key="a.json"),
                _record("s3", "GetObject", bucketName="orders-inbox", key="b.json"),
                _record("sqs", "SendMessage", queueUrl="https://sqs.eu-west-1.amazonaws.com/111122223333/jobs"),
            ]
        )
        + "\n"
    )
    # --workload none: WorkerRole is a function's role, whose log writes would be kept, and its
    # attached managed policy already gives them, so the patch would not repeat them.
    args = [
        str(template),
        "--role",
        "WorkerRole",
        "--evidence",
        str(evidence),
        "--session",
        "orders-worker",
        "--workload",
        "none",
    ]

    shown = _narrow(args)
    assert shown.exit_code == 0, shown.output
    printed = _grouping([(st["Sid"], st["Action"], st["Resource"]) for st in json.loads(shown.stdout)["Statement"]])
    applied = _narrow(args, "--apply")
    assert applied.exit_code == 0, applied.output
    loaded = load_paths([str(template)], InputOptions(parameters=PARAMS))
    assert not loaded.errors
    block = ("Resources", "WorkerRole", "Properties", "Policies")  # the managed policy is not the patch's
    written = _grouping(
        [
            (st.sid, st.action_texts, st.resource_texts)
            for doc in _identity(_select(loaded.documents, None, "WorkerRole"))
            if doc.loc.keys[:4] == block
            for st in doc.statements
            if st.is_allow
        ]
    )

    table = "arn:aws:dynamodb:eu-west-1:111122223333:table/"
    assert printed[0] == ("Dynamodb1", ["dynamodb:GetItem", "dynamodb:Query"], [table + "customers", table + "orders"])
    assert printed[1] == ("Dynamodb2", ["dynamodb:UpdateItem"], [table + "orders"])
    assert (
        "S3Stmt3",
        ["s3:GetObject"],
        ["arn:aws:s3:::orders-inbox/a.json", "arn:aws:s3:::orders-inbox/b.json"],
    ) in printed
    assert written == printed


def test_apply_keeps_crlf_line_endings(tmp_path: Path) -> None:
    template = tmp_path / "cfn-role.yaml"
    template.write_bytes(CFN.read_bytes().replace(b"\n", b"\r\n"))
    result = _narrow(
        [str(template), *CFN_ARGS[:2], "--evidence", str(CFN_EVIDENCE), "--session", "orders-worker", "--apply"]
    )
    assert result.exit_code == 0, result.output
    data = template.read_bytes()
    assert data.count(b"\n") == data.count(b"\r\n") and b"sqs:SendMessage" in data


def test_json_template_shows_the_proposal_and_writes_nothing(tmp_path: Path) -> None:
    shutil.copytree(DEMO, tmp_path / "demo")
    yaml_template = tmp_path / "demo" / "template.yaml"
    template = tmp_path / "demo" / "template.json"
    template.write_text(json.dumps(parse_yaml(yaml_template.read_text(), "t").data, indent=2))
    yaml_template.unlink()
    before = template.read_text()
    args = [
        str(template),
        "--function",
        "OrdersFunction",
        "--cloudtrail",
        str(DEMO / "cloudtrail"),
        "--session",
        "orders-fn",
    ]
    shown = _narrow(args, "--diff")
    assert shown.exit_code == 0, shown.output
    assert "only YAML templates can be patched in place" in shown.stderr
    document = json.loads(shown.stdout)
    assert any(st["Action"] == "sqs:SendMessage" for st in document["Statement"])
    applied = _narrow(args, "--apply")
    assert applied.exit_code == 2 and "only YAML templates" in applied.stderr
    assert template.read_text() == before


def test_apply_refuses_a_symbolic_link(tmp_path: Path) -> None:
    real = tmp_path / "real.yaml"
    shutil.copy(CFN, real)
    link = tmp_path / "link.yaml"
    link.symlink_to(real)
    result = _narrow(
        [str(link), "--role", "WorkerRole", "--evidence", str(CFN_EVIDENCE), "--session", "orders-worker", "--apply"]
    )
    assert result.exit_code == 2 and "symbolic link" in result.stderr
    assert real.read_bytes() == CFN.read_bytes() and link.is_symlink()


def test_diff_needs_one_principal() -> None:
    result = _narrow([str(CFN), "--evidence", str(CFN_EVIDENCE), "--diff"])
    assert result.exit_code == 2 and "--function or --role" in result.output


def test_grant_on_a_name_only_the_deployment_knows_is_not_rewritten(tmp_path: Path) -> None:
    # The queue is named by !GetAtt: the observed queue `jobs` may be it, so nothing is rewritten.
    template = tmp_path / "t.yaml"
    template.write_text(
        CFN.read_text()
        .replace(
            'Resource: !Sub "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:jobs"',
            "Resource: !GetAtt JobsQueue.Arn",
        )
        .replace("  WorkerRole:\n", "  JobsQueue:\n    Type: AWS::SQS::Queue\n\n  WorkerRole:\n")
    )
    before = template.read_text()
    result = _narrow(
        [
            str(template),
            "--role",
            "WorkerRole",
            "--evidence",
            str(CFN_EVIDENCE),
            "--session",
            "orders-worker",
            "--apply",
        ]
    )
    assert result.exit_code == 2 and "a name only the deployment knows" in result.stderr
    assert "<JobsQueue>" in result.stderr and template.read_text() == before


def test_diff_through_the_console_script() -> None:
    script = Path(sys.executable).with_name("iamlint")  # the console script installed with the package
    result = subprocess.run(
        [str(script), "narrow", "fixtures/narrow/cfn-role.yaml", *CFN_ARGS, "--diff"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("--- a/fixtures/narrow/cfn-role.yaml\n+++ b/fixtures/narrow/cfn-role.yaml\n")


# -- SAM policy templates ----------------------------------------------------------------------

TABLE = "arn:aws:dynamodb:eu-west-1:111122223333:table/orders"
READ = ("dynamodb:GetItem", "dynamodb:Scan", "dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:DescribeTable")
SAM_TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  OrdersTable:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: orders
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
  Reader:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      InlineCode: "def handler(event, context): pass"
      Policies:
        - AmazonDynamoDBFullAccess
        - AmazonSQSFullAccess
      Timeout: 5
"""


def _items(actions: tuple[str, ...], resources: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(a, r) for a in actions for r in resources]


def _proposal(items: list[tuple[str, str]]) -> Proposal:
    statements = [{"Effect": "Allow", "Action": a, "Resource": r} for a, r in items]
    return Proposal(
        document={"Version": "2012-10-17", "Statement": statements},
        evidence=tuple(Evidence(a, r, 1) for a, r in items if "*" not in r),
        removed={},
        kept_actions=0,
        original_actions=0,
        denied=(),
        unmapped=(),
        not_granted=(),
    )


def test_template_matches_only_when_exact() -> None:
    exact = _items(READ, (TABLE, TABLE + "/index/*"))
    used, left = match_templates(exact, get_catalog(), PARAMS)
    assert [(u.name, u.value) for u in used] == [("DynamoDBReadPolicy", "orders")] and left == []
    # One action short of the template: no template, the grants stay as they are.
    used, left = match_templates(exact[2:], get_catalog(), PARAMS)
    assert used == [] and left == exact[2:]
    # Without the deployment's region and account the expansion cannot be compared.
    assert match_templates(exact, get_catalog(), {})[0] == []


def test_sam_patch_refers_to_the_templates_own_resource(tmp_path: Path) -> None:
    template = tmp_path / "t.yaml"
    template.write_text(SAM_TEMPLATE)
    loaded = load_paths([str(template)], InputOptions(parameters=PARAMS))
    original = _select(loaded.documents, "Reader", None)
    items = _items(READ, (TABLE, TABLE + "/index/*")) + [("sqs:SendMessage", "arn:aws:sqs:eu-west-1:111122223333:jobs")]
    patch = patch_template(
        str(template),
        SAM_TEMPLATE,
        original,
        _proposal(items),
        select=lambda docs: _select(docs, "Reader", None),
        parameters=PARAMS,
        catalog=get_catalog(),
    )
    assert [u.name for u in patch.templates] == ["DynamoDBReadPolicy"]
    new_block = patch.after.split("      Policies:\n", 1)[1].split("      Timeout: 5\n", 1)[0]
    assert "        - DynamoDBReadPolicy:\n            TableName: !Ref OrdersTable\n" in new_block
    assert "sqs:SendMessage" in new_block and "dynamodb:GetItem" not in new_block
    assert patch.after.endswith("      Timeout: 5\n") and patch.after.startswith(
        SAM_TEMPLATE.split("      Policies:")[0]
    )


def test_patch_that_would_grant_more_is_refused(tmp_path: Path) -> None:
    # A proposal that is not inside the original (hand-made here; narrow never returns one).
    template = tmp_path / "t.yaml"
    template.write_text(SAM_TEMPLATE)
    original = _select(load_paths([str(template)], InputOptions(parameters=PARAMS)).documents, "Reader", None)
    with pytest.raises(PatchError, match="grant more"):
        patch_template(
            str(template),
            SAM_TEMPLATE,
            original,
            _proposal([("kms:Decrypt", "*")]),
            select=lambda docs: _select(docs, "Reader", None),
            parameters=PARAMS,
            catalog=get_catalog(),
        )


def test_policies_that_depend_on_a_condition_are_not_rewritten(tmp_path: Path) -> None:
    evidence = tmp_path / "calls.jsonl"
    evidence.write_text(
        json.dumps(
            {
                "service": "s3",
                "operation": "GetObject",
                "principal": "arn:aws:sts::111122223333:assumed-role/r/export",
                "region": "eu-west-1",
                "account": "111122223333",
                "parameters": {"bucketName": "exports-prod", "key": "a.csv"},
                "time": "2026-11-01T10:00:00Z",
            }
        )
        + "\n"
    )
    template = FIXTURES / "sources" / "sam" / "conditional.yaml"
    result = _narrow([str(template), "--function", "ExportFunction", "--evidence", str(evidence), "--diff"])
    assert result.exit_code == 2 and "depend on conditions (IsProd" in result.stderr
    assert json.loads(result.stdout)["Statement"], "the proposal is still shown"
