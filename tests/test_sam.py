"""The SAM loader: templates translated offline, every finding at the SAM line a person edits.

Fixtures in fixtures/sources/sam/ cover each kind of `Policies` entry (policy templates, managed
policy names and ARNs, inline statements, a single entry instead of a list, conditions), Globals,
a state machine, connectors, a function with its own role, and templates the translator rejects.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import FIXTURES, ROOT, check_golden

from iamlint.cli import cli
from iamlint.engine import Engine
from iamlint.loaders import LoadResult
from iamlint.loaders.cloudformation import TemplateOptions
from iamlint.loaders.inputs import InputOptions, detect_kind, load_paths
from iamlint.loaders.located import parse_any
from iamlint.loaders.sam import load_sam
from iamlint.loaders.sam_nodes import merged_path
from iamlint.model import Finding, PolicyDocument, PolicyKind

SAM = FIXTURES / "sources" / "sam"
ORDERS = SAM / "orders.yaml"
GLOBALS = SAM / "globals.yaml"
STATE_MACHINE = SAM / "state_machine.yaml"
CONNECTORS = SAM / "connectors.yaml"
EXPLICIT_ROLE = SAM / "explicit_role.yaml"
INVALID = SAM / "invalid_policies.yaml"
UNKNOWN = SAM / "unknown_managed.yaml"
CONDITIONAL = SAM / "conditional.yaml"
MINIMAL_JSON = SAM / "minimal.json"
GOLDEN_INPUTS = (ORDERS, GLOBALS, STATE_MACHINE, CONNECTORS, EXPLICIT_ROLE, CONDITIONAL, MINIMAL_JSON)


def _load(path: Path, **parameters: str) -> LoadResult:
    return load_paths([str(path)], InputOptions(parameters=parameters))


def _lint(engine: Engine, path: Path) -> list[Finding]:
    loaded = _load(path)
    return list(engine.run(loaded.documents, loaded.problems, loaded.errors).findings)


def _doc(result: LoadResult, name: str, role: str | None = None) -> PolicyDocument:
    """The one document with this policy name (or template / managed policy name)."""
    found = [
        d
        for d in result.documents
        if d.source is not None and name in (d.name, d.source.policy_name) and (role is None or d.source.name == role)
    ]
    assert len(found) == 1, f"expected one document {name}, found {[(d.name, d.source) for d in found]}"
    return found[0]


def _line(doc: PolicyDocument) -> int | None:
    return doc.locate(doc.loc).line


def _hits(findings: list[Finding], rule: str, line: int) -> list[Finding]:
    return [f for f in findings if f.rule == rule and f.location.line == line]


def normalize(result: LoadResult) -> list[dict[str, Any]]:
    """The documents the loader produced, as plain data for the golden file."""
    out: list[dict[str, Any]] = []
    for doc in result.documents:
        src = doc.source
        assert src is not None
        if src.policy_name and src.policy_name.startswith("arn:aws:iam::aws:policy/"):
            # An AWS managed policy: its document is the shipped snapshot's, which moves on its own.
            out.append(
                {
                    "kind": doc.kind.value,
                    "name": doc.name,
                    "source": src.describe(),
                    "logical_id": src.logical_id,
                    "path": doc.loc.path,
                    "line": _line(doc),
                    "statement_lines": sorted({doc.locate(st.loc).line for st in doc.statements}),
                }
            )
            continue
        out.append(
            {
                "kind": doc.kind.value,
                "name": doc.name,
                "source": src.describe(),
                "logical_id": src.logical_id,
                "path": doc.loc.path,
                "line": _line(doc),
                "statements": [
                    {
                        "effect": st.effect,
                        st.action_key: [f"{a.text} @{doc.locate(a.loc).line}" for a in st.actions],
                        **({st.resource_key: list(st.resource_texts)} if st.resource_key else {}),
                        **({"Principal": [f"{p.kind}:{p.value.text}" for p in st.principals]} if st.principals else {}),
                        "line": doc.locate(st.loc).line,
                    }
                    for st in doc.statements
                ],
            }
        )
    return out


# -- detection and the golden documents -------------------------------------------------------


def test_fixtures_are_detected_as_sam() -> None:
    for path in (*GOLDEN_INPUTS, INVALID, UNKNOWN):
        assert detect_kind(parse_any(path.read_bytes(), str(path)).data) == "sam", path


@pytest.mark.parametrize("path", GOLDEN_INPUTS, ids=lambda p: p.name)
def test_golden_documents(path: Path) -> None:
    result = _load(path)
    assert result.errors == [] and result.problems == []
    assert result.documents
    golden = path.with_name(path.name.rsplit(".", 1)[0] + ".golden.json")
    check_golden(golden, json.dumps(normalize(result), indent=2) + "\n")


# -- Policies entries -------------------------------------------------------------------------


def test_policy_templates_point_at_their_entry() -> None:
    result = _load(ORDERS)
    for name, line, index in (
        ("S3ReadPolicy", 24, 0),
        ("DynamoDBCrudPolicy", 26, 1),
        ("SQSSendMessagePolicy", 28, 2),
        ("TextractPolicy", 30, 3),
    ):
        doc = _doc(result, name)
        assert doc.source is not None
        assert (doc.source.kind, doc.source.name, doc.source.logical_id) == (
            "role",
            "OrdersFunctionRole",
            "OrdersFunction",
        )
        assert doc.source.used_by == ("function OrdersFunction",)
        assert doc.source.via == f"Policies[{index}]"
        assert doc.name == f"OrdersFunctionRolePolicy{index}"  # the inline policy name in the account
        assert doc.kind is PolicyKind.IDENTITY
        # Every generated statement, action and resource is at the entry's line.
        assert _line(doc) == line
        assert {doc.locate(v.loc).line for st in doc.statements for v in (*st.actions, *st.resources)} == {line}
    s3 = _doc(result, "S3ReadPolicy")
    assert "arn:aws:s3:::<ReceiptsBucket>/*" in s3.statements[0].resource_texts


def test_template_with_resource_star_is_flagged_only_where_scoping_is_possible(engine: Engine) -> None:
    findings = _lint(engine, ORDERS)
    textract = [f.rule for f in _hits(findings, "IAM103", 30) + _hits(findings, "IAM105", 30)]
    assert sorted(textract) == ["IAM103", "IAM105"]
    assert all(f.source is not None and f.source.policy_name == "TextractPolicy" for f in _hits(findings, "IAM105", 30))
    # EC2DescribePolicy: Describe actions that cannot be scoped, on "*": nothing to report.
    assert [f for f in findings if f.location.line == 31] == []


def test_inline_statement_action_at_its_own_line_and_column(engine: Engine) -> None:
    findings = _lint(engine, ORDERS)
    (wildcard,) = [f for f in findings if f.rule == "IAM103" and f.location.line == 39]
    assert (wildcard.location.line, wildcard.location.column) == (39, 19)
    assert wildcard.location.path == "$.Resources.OrdersFunction.Properties.Policies[7].Statement[0].Action[1]"
    assert wildcard.location.file == str(ORDERS)
    assert wildcard.source is not None
    assert (wildcard.source.name, wildcard.source.via, wildcard.source.used_by) == (
        "OrdersFunctionRole",
        "Policies[7]",
        ("function OrdersFunction",),
    )
    assert wildcard.statement_sid == "ReadReceipts"
    (pass_role,) = [f for f in findings if f.rule == "IAM109" and f.location.line == 42]
    assert pass_role.location.column == 15 and pass_role.statement_index == 1


def test_managed_policy_name_and_arn_point_at_their_entry(engine: Engine) -> None:
    result = _load(ORDERS)
    dynamo = _doc(result, "AmazonDynamoDBFullAccess")
    assert dynamo.source is not None
    assert (dynamo.source.policy_name, dynamo.source.via) == (
        "arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess",
        "Policies[5]",
    )
    assert _line(dynamo) == 32
    sqs = _doc(result, "AmazonSQSFullAccess")
    assert sqs.source is not None and sqs.source.via == "Policies[6]" and _line(sqs) == 33
    findings = _lint(engine, ORDERS)
    assert {f.evidence.actions for f in _hits(findings, "IAM103", 32)} >= {("dynamodb:*",)}
    assert [f.rule for f in _hits(findings, "IAM103", 33)] == ["IAM103"]


def test_what_sam_adds_points_at_the_function() -> None:
    result = _load(ORDERS)
    basic = _doc(result, "AWSLambdaBasicExecutionRole", role="OrdersFunctionRole")
    assert _line(basic) == 20  # `OrdersFunction:`
    assert basic.source is not None and basic.source.via == "SAM's own addition"
    trust = [
        d for d in result.documents if d.kind is PolicyKind.TRUST and d.source and d.source.name == "OrdersFunctionRole"
    ]
    assert len(trust) == 1 and _line(trust[0]) == 20
    assert trust[0].statements[0].principals[0].value.text == "lambda.amazonaws.com"


def test_what_sam_adds_is_judged_with_the_principal_not_as_a_document(tmp_path: Path, engine: Engine) -> None:
    """A function with no Policies: SAM's AWSLambdaBasicExecutionRole is not the author's choice,
    so its logs:* on "*" is no IAM105 of theirs; it still counts in the role's grants."""
    template = tmp_path / "template.yaml"
    template.write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
        "    Properties:\n      Handler: app.handler\n      Runtime: python3.12\n      CodeUri: src/\n"
    )
    assert _lint(engine, template) == []
    # Nor are X-Ray's and VPC access's, which SAM adds for Tracing and VpcConfig.
    with_props = (
        template.read_text()
        + "      Tracing: Active\n      VpcConfig: {SecurityGroupIds: [sg-1], SubnetIds: [subnet-1]}\n"
    )
    (tmp_path / "traced.yaml").write_text(with_props)
    assert _lint(engine, tmp_path / "traced.yaml") == []
    template.write_text(
        template.read_text() + "      Policies: [{Statement: [{Effect: Allow, Action: iam:PassRole, Resource: '*'},"
        " {Effect: Allow, Action: [lambda:CreateFunction, lambda:InvokeFunction], Resource: '*'}]}]\n"
    )
    assert "IAM120" in {f.rule for f in _lint(engine, template)}


def test_single_policies_value_is_entry_zero() -> None:
    doc = _doc(_load(ORDERS), "AmazonS3ReadOnlyAccess", role="InvoiceFunctionRole")
    assert doc.source is not None and doc.source.via == "Policies"
    assert _line(doc) == 48 and doc.loc.keys[:4] == ("Resources", "InvoiceFunction", "Properties", "Policies")


def test_conditional_entries_are_checked_per_branch() -> None:
    result = _load(CONDITIONAL)
    inline = [d for d in result.documents if d.name == "ExportFunctionRolePolicy0"]
    # The branch SAM leaves out (AWS::NoValue) is not a document.
    assert len(inline) == 1 and inline[0].source is not None and inline[0].source.condition == "IsProd"
    assert inline[0].locate(inline[0].statements[0].actions[0].loc).line == 21
    read = _doc(result, "AmazonS3ReadOnlyAccess")
    full = _doc(result, "AmazonS3FullAccess")
    assert read.source is not None and full.source is not None
    assert (read.source.condition, full.source.condition) == ("IsProd", "not IsProd")
    assert _line(read) == _line(full) == 24


def test_region_parameter_selects_the_partition() -> None:
    result = _load(ORDERS, **{"AWS::Region": "cn-north-1"})
    assert result.errors == []
    dynamo = _doc(result, "AmazonDynamoDBFullAccess")
    assert dynamo.source is not None and dynamo.source.policy_name == "arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess"
    arns = {d.loc.keys for d in result.documents if d.name == "AWSLambdaBasicExecutionRole"}
    assert arns  # loaded from the snapshot although the template's ARN is arn:aws-cn:...


# -- Globals --------------------------------------------------------------------------------


def test_globals_policies_point_at_the_globals_entry() -> None:
    result = _load(GLOBALS)
    dlq = _doc(result, "DeadLetterQueuePolicy", role="PlainFunctionRole")
    assert dlq.source is not None and dlq.source.via == "Globals.Function.DeadLetterQueue" and _line(dlq) == 10
    xray = _doc(result, "AWSXrayWriteOnlyAccess", role="PlainFunctionRole")
    assert (
        xray.source is not None and xray.source.via == "SAM's own addition" and _line(xray) == 8
    )  # at Globals.Function.Tracing
    boundary = _doc(result, "PowerUserAccess", role="PlainFunctionRole")
    assert boundary.kind is PolicyKind.BOUNDARY and _line(boundary) == 9
    api = [d for d in result.documents if d.kind is PolicyKind.RESOURCE and d.name == "ServerlessRestApi"]
    assert len(api) == 1 and _line(api[0]) == 22
    assert api[0].source is not None and api[0].source.via == "Globals.Api.Auth.ResourcePolicy"


def test_trust_policy_merged_from_globals_and_the_function() -> None:
    result = _load(GLOBALS)
    (plain,) = [d for d in result.documents if d.kind is PolicyKind.TRUST and d.name == "PlainFunctionRole"]
    assert [plain.locate(st.loc).line for st in plain.statements] == [16]
    assert plain.source is not None and plain.source.via == "Globals.Function.AssumeRolePolicyDocument"
    (merged,) = [d for d in result.documents if d.kind is PolicyKind.TRUST and d.name == "TrustingFunctionRole"]
    # SAM concatenates the lists: the Globals statement first, then the function's own.
    assert [merged.locate(st.loc).line for st in merged.statements] == [16, 43]
    assert merged.statements[1].principals[0].value.text == "arn:aws:iam::444455556666:root"
    assert merged.locate(merged.statements[1].principals[0].value.loc).line == 45


def test_merged_path_follows_sam_globals_rules() -> None:
    glob = {"Auth": {"Policy": {"Statement": ["g0"]}}, "Tracing": "Active"}
    local = {"Auth": {"Policy": {"Statement": ["l0", "l1"]}}, "Tracing": "PassThrough"}
    g, lp = ("Globals", "Function"), ("Resources", "F", "Properties")
    assert merged_path(glob, local, g, lp, ("Auth", "Policy", "Statement", 0)) == (*g, "Auth", "Policy", "Statement", 0)
    assert merged_path(glob, local, g, lp, ("Auth", "Policy", "Statement", 2)) == (
        *lp,
        "Auth",
        "Policy",
        "Statement",
        1,
    )
    assert merged_path(glob, local, g, lp, ("Tracing",)) == (*lp, "Tracing")  # a scalar: local wins
    assert merged_path(glob, {}, g, lp, ("Tracing",)) == (*g, "Tracing")
    assert merged_path({}, {}, g, lp, ("Tracing",)) is None


# -- state machines, connectors, explicit roles -----------------------------------------------


def test_state_machine_policies() -> None:
    result = _load(STATE_MACHINE)
    invoke = _doc(result, "LambdaInvokePolicy")
    assert invoke.source is not None
    assert invoke.source.used_by == ("state machine FulfilmentMachine",) and invoke.source.via == "Policies[0]"
    assert _line(invoke) == 17
    sns = _doc(result, "AmazonSNSFullAccess")
    assert _line(sns) == 19
    inline = _doc(result, "FulfilmentMachineRolePolicy2")
    assert inline.locate(inline.statements[0].actions[0].loc).line == 22
    xray = _doc(result, "AWSXrayWriteOnlyAccess")
    assert xray.source is not None and xray.source.via == "SAM's own addition" and _line(xray) == 14
    # Local DefinitionUri and CodeUri never reach the disk or fail the translation.
    assert result.errors == []


def test_connectors_point_at_the_connector() -> None:
    result = _load(CONNECTORS)
    embedded = _doc(result, "ReaderToOrdersPolicy")
    assert embedded.source is not None
    assert (embedded.source.via, embedded.source.logical_id, embedded.source.used_by) == (
        "Connectors.ToOrders",
        "Reader",
        ("function Reader",),
    )
    assert _line(embedded) == 25  # Permissions of the embedded connector
    assert {a.text for st in embedded.statements for a in st.actions} >= {"dynamodb:GetItem", "dynamodb:PutItem"}
    queue = _doc(result, "NoticesToInboxQueuePolicy")
    assert queue.kind is PolicyKind.RESOURCE and _line(queue) == 35
    assert queue.source is not None and (queue.source.via, queue.source.logical_id) == (
        "connector NoticesToInbox",
        "NoticesToInbox",
    )


def test_explicit_role_keeps_its_own_location_and_no_role_is_generated(engine: Engine) -> None:
    result = _load(EXPLICIT_ROLE)
    assert {d.source.name for d in result.documents if d.source} == {"AppRole"}
    app = _doc(result, "app")
    assert app.source is not None and app.source.used_by == ("function ApiFunction",)
    assert app.loc.keys == ("Resources", "AppRole", "Properties", "Policies", 0, "PolicyDocument")
    findings = _lint(engine, EXPLICIT_ROLE)
    (wildcard,) = [f for f in findings if f.rule == "IAM103"]
    assert (wildcard.location.line, wildcard.location.column) == (20, 17)


def test_json_template_lines() -> None:
    result = _load(MINIMAL_JSON)
    doc = _doc(result, "PingFunctionRolePolicy0")
    star = doc.statements[0].actions[1]
    assert star.text == "sqs:*"
    assert doc.locate(star.loc).line == 16 and doc.locate(star.loc).column == 47


def test_yaml_aliases_do_not_share_origins() -> None:
    text = (
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  A:\n    Type: AWS::Serverless::Function\n"
        "    Metadata: &meta {BuildMethod: python3.12}\n    Properties: &props\n      Runtime: python3.12\n"
        "      Handler: a.b\n      InlineCode: x\n"
        "      Policies: [{Statement: [{Effect: Allow, Action: s3:GetObject, Resource: '*'}]}]\n"
        "  B:\n    Type: AWS::Serverless::Function\n    Metadata: *meta\n    Properties: *props\n"
    )
    result = load_sam(parse_any(text, "aliases.yaml"))
    assert result.errors == []
    for function in ("A", "B"):
        doc = _doc(result, f"{function}RolePolicy0")
        assert doc.source is not None and doc.source.used_by == (f"function {function}",)
        assert doc.loc.keys == ("Resources", function, "Properties", "Policies", 0)
        assert doc.locate(doc.statements[0].actions[0].loc).line == 10  # where the aliased text is


# -- errors -------------------------------------------------------------------------------


def test_translator_error_is_an_input_error_at_the_resource() -> None:
    result = _load(INVALID)
    assert result.documents == []
    (error,) = result.errors
    assert (error.file, error.line, error.column) == (str(INVALID), 10, 7)
    assert error.keys == ("Resources", "BrokenFunction", "Properties", "Policies")
    assert "BrokenFunction" in error.message and "Policies" in error.message


def test_translator_error_exits_2_and_other_inputs_are_still_checked() -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["check", "--format", "json", str(INVALID), str(MINIMAL_JSON)])
    assert result.exit_code == 2, result.output
    report = json.loads(result.output)
    errors = [f for f in report["findings"] if f["rule"] == "IAM001"]
    assert [(e["location"]["file"], e["location"]["line"]) for e in errors] == [(str(INVALID), 10)]
    others = {
        (f["rule"], f["location"]["line"]) for f in report["findings"] if f["location"]["file"] == str(MINIMAL_JSON)
    }
    assert ("IAM103", 16) in others


def test_unknown_managed_policy_name_is_an_input_error_naming_it() -> None:
    result = _load(UNKNOWN)
    (error,) = result.errors
    assert "TeamReportsAccessPolicy" in error.message
    assert (error.line, error.column) == (11, 11)
    assert error.keys == ("Resources", "ReportsFunction", "Properties", "Policies", 0)
    # The rest of the template is still checked.
    assert _line(_doc(result, "CloudWatchPutMetricPolicy")) == 12


_FUNCTION = (
    "Transform: AWS::Serverless-2016-10-31\nResources:\n  F:\n    Type: AWS::Serverless::Function\n"
    "    Properties:\n      Runtime: python3.12\n      Handler: a.b\n      InlineCode: x\n"
)


@pytest.mark.parametrize(
    "text, line, needle",
    [
        (_FUNCTION + "      Policies:\n        - S3ReadPolicy: {}\n", 10, "BucketName"),
        (_FUNCTION + "      Policies:\n        - NoSuchPolicyTemplate: {}\n", 10, "index 0"),
        (
            (
                "Transform: AWS::Serverless-2016-10-31\nGlobals:\n  Function:\n    Policies: [AmazonS3FullAccess]\n"
                "Resources:\n  F:\n    Type: AWS::Serverless::Function\n"
            ),
            2,
            "Globals",
        ),
        (
            (
                "Transform: AWS::Serverless-2016-10-31\nResources:\n  F:\n    Type: AWS::Serverless::Function\n"
                "    Connectors: 3\n"
            ),
            3,
            "Connectors",
        ),
    ],
    ids=["template-parameter", "unknown-template", "globals-policies", "connectors-type"],
)
def test_translator_errors_are_located(text: str, line: int, needle: str) -> None:
    result = load_sam(parse_any(text, "t.yaml"))
    assert result.errors and result.documents == []
    assert any(needle in e.message for e in result.errors), [e.message for e in result.errors]
    assert result.errors[0].line == line


def test_not_a_template_is_an_input_error() -> None:
    result = load_sam(parse_any("Transform: AWS::Serverless-2016-10-31\nResources: []\n", "t.yaml"))
    assert [(e.line, e.file) for e in result.errors] == [(1, "t.yaml")]


# -- offline and lazy -----------------------------------------------------------------------


def test_translation_never_opens_a_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kw: object) -> None:
        raise AssertionError("the SAM loader tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("AWS_PROFILE", "iamlint-no-such-profile")  # would break a real boto3 Session
    result = load_sam(parse_any(ORDERS.read_bytes(), str(ORDERS)), TemplateOptions())
    assert result.errors == [] and len(result.documents) > 5
    app = (
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  App:\n    Type: AWS::Serverless::Application\n"
        "    Properties:\n      Location:\n        ApplicationId: arn:aws:serverlessrepo:us-east-1:1:applications/x\n"
        "        SemanticVersion: 1.0.0\n"
    )
    assert load_sam(parse_any(app, "app.yaml")).errors == []


def test_importing_iamlint_does_not_import_the_translator() -> None:
    code = (
        "import sys, iamlint, iamlint.cli, iamlint.loaders.inputs, iamlint.loaders.sam\n"
        "bad = [m for m in ('samtranslator', 'boto3', 'botocore') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr


def _fresh_python(code: str) -> subprocess.CompletedProcess[str]:
    """Run `code` in a new interpreter, where nothing has imported boto3 or jsonschema yet."""
    return subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_translating_imports_neither_boto3_nor_jsonschema() -> None:
    code = (
        "import sys\nfrom iamlint.loaders.inputs import load_paths\n"
        f"result = load_paths([{str(ORDERS)!r}])\n"
        "assert len(result.documents) > 5 and not result.errors, result.errors\n"
        "assert 'samtranslator.translator.translator' in sys.modules\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'jsonschema')]\n"
        "assert not bad, bad\n"
        "import jsonschema  # imported later, it is the real package\n"
        "assert jsonschema.validate.__module__ == 'jsonschema.validators'\n"
    )
    proc = _fresh_python(code)
    assert proc.returncode == 0, proc.stderr


def test_a_translator_call_to_aws_is_an_input_error_not_a_request() -> None:
    # Bypassing the loader's placeholders, a serverless-repository application makes the
    # translator ask boto3 for the region's services; through the stand-ins, that is an error.
    code = (
        "from iamlint.loaders import sam\n"
        "app = {'Transform': 'AWS::Serverless-2016-10-31', 'Resources': {'App': {\n"
        "    'Type': 'AWS::Serverless::Application', 'Properties': {'Location': {\n"
        "        'ApplicationId': 'arn:aws:serverlessrepo:us-east-1:1:applications/x', 'SemanticVersion': '1.0.0'}}}}}\n"
        "print(sam._translate(app, {}, 'us-east-1'))\n"
    )
    proc = _fresh_python(code)
    assert proc.returncode == 0, proc.stderr
    assert "OfflineError" in proc.stdout and "boto3." in proc.stdout


_CAPACITY_PROVIDER = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Provider:
    Type: AWS::Serverless::CapacityProvider
    Properties:
      VpcConfig:
        SubnetIds: [subnet-1]
  Handler:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      CodeUri: src/
      CapacityProviderConfig:
        Arn: !GetAtt Provider.Arn
        PerExecutionEnvironmentMaxConcurrency: 10
      Policies:
        - SQSPollerPolicy:
            QueueName: orders
"""


def test_the_import_shortcuts_change_nothing_in_the_translation(tmp_path: Path) -> None:
    """Every SAM fixture, and a capacity provider (which runs a deferred module), gives the same
    output through iamlint.loaders.sam_offline as with the translator imported as is (first,
    with the real packages, so that the loader finds it imported)."""
    # The plain import below needs boto3, a test extra: missing, the subprocess fails and says so.
    folder = tmp_path / "sam"
    shutil.copytree(SAM, folder, ignore=shutil.ignore_patterns("*.golden.json"))
    (folder / "capacity_provider.yaml").write_text(_CAPACITY_PROVIDER)
    plain = "import samtranslator.translator.translator, samtranslator.parser.parser\n"
    outputs = []
    for preload in ("", plain):
        code = (
            f"{preload}import sys\nfrom iamlint.cli import main\n"
            f"main(['check', {str(folder)!r}, '--format', 'json', '--fail-on', 'critical', '-j', '1'])\n"
        )
        proc = _fresh_python(code)
        assert proc.returncode in (1, 2), proc.stderr  # the fixtures include invalid templates
        outputs.append(json.loads(proc.stdout.replace(str(folder), "<folder>")))
    assert len(outputs[0]["findings"]) > 20
    translated = {f["rule"] for f in outputs[0]["findings"] if f["location"]["file"].endswith("capacity_provider.yaml")}
    assert translated and "IAM001" not in translated, translated  # its function's role is checked
    assert outputs[0] == outputs[1]


def test_the_bundled_policy_templates_are_valid() -> None:
    """The check the SAM loader leaves out (iamlint.loaders.sam._share_policy_templates_once),
    made with the translator's own constructor, which the loader's processor must equal."""
    code = (
        "import jsonschema  # first, so that the translator is imported with it\n"
        "from samtranslator.policy_template_processor.processor import PolicyTemplatesProcessor as P\n"
        "from iamlint.loaders import sam\n"
        "templates = P.get_default_policy_templates_json()\n"
        "built = P(templates)  # validates against the bundled schema, or raises\n"
        "sam._share_policy_templates_once()\n"
        "shared = sam._POLICY_TEMPLATES[0].policy_templates\n"
        "assert set(shared) == set(built.policy_templates) and len(shared) > 50\n"
        "for name, template in built.policy_templates.items():\n"
        "    assert vars(shared[name]) == vars(template), name\n"
    )
    proc = _fresh_python(code)
    assert proc.returncode == 0, proc.stderr


def test_translator_warnings_do_not_reach_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    load_sam(parse_any(GLOBALS.read_bytes(), str(GLOBALS)))
    import gc

    gc.collect()  # the translator's metrics object warns when collected unpublished
    assert capfd.readouterr().err == ""
