"""Static analysis of function code (`iamlint narrow --from-code`): Python, JavaScript/TypeScript,
the template wiring, and the proposals it leads to."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import FIXTURES, ROOT, check_golden

from iamlint.cli import cli
from iamlint.narrow import botomodels, static_js, static_python
from iamlint.narrow.codecalls import CodeCall, EnvRef, Text
from iamlint.narrow.js_lexer import tokenize
from iamlint.narrow.static import BASIS, analyse_template

CODE = FIXTURES / "sources" / "code"
TEMPLATE = CODE / "template.yaml"


def _python(source: str, modules: dict[str, str] | None = None) -> list[CodeCall]:
    found: dict[str, static_python.Module | None] = {}

    def load(name: str, level: int, importer: Path) -> static_python.Module | None:
        if name not in (modules or {}):
            return None
        if name not in found:
            analyzer = static_python.Analyzer(textwrap.dedent(modules[name]), Path(f"{name}.py"), f"{name}.py", load)
            found[name] = analyzer.run()
            calls.extend(analyzer.calls)
        return found[name]

    calls: list[CodeCall] = []
    analyzer = static_python.Analyzer(textwrap.dedent(source), Path("app.py"), "app.py", load)
    analyzer.run()
    return calls + analyzer.calls


def _js(source: str) -> list[CodeCall]:
    analyzer = static_js.Analyzer(textwrap.dedent(source), Path("app.ts"), "app.ts", lambda spec, importer: None)
    analyzer.run()
    return analyzer.calls


def _ops(calls: list[CodeCall]) -> list[tuple[int, str, str]]:
    return [(c.line, c.service, c.operation) for c in calls]


def _env(name: str, default: str | None = None) -> Text:
    return Text((EnvRef(name, default),))


# -- botocore's models ------------------------------------------------------------------------


def test_models_name_operations_and_services_exactly() -> None:
    assert botomodels.operation_for("s3", "list_objects_v2") == "ListObjectsV2"
    assert botomodels.operation_for("s3", "listObjectsV2") == "ListObjectsV2"
    assert botomodels.operation_for("rds", "describe_db_instances") == "DescribeDBInstances"
    assert botomodels.operation_for("s3", "upload_file") is None  # injected by boto3, not an operation
    assert botomodels.waiter_operation("dynamodb", "table_exists") == "DescribeTable"
    assert botomodels.waiter_operation("s3", "ObjectExists") == "HeadObject"
    for service_id, name, prefix in (
        ("CloudWatch Logs", "logs", "logs"),
        ("SFN", "stepfunctions", "states"),
        ("CloudWatch", "cloudwatch", "cloudwatch"),
        ("DynamoDB", "dynamodb", "dynamodb"),
    ):
        info = botomodels.by_service_id(service_id)
        assert info is not None and (info.name, info.iam_prefix) == (name, prefix)
    for package, name in (
        ("@aws-sdk/client-s3", "s3"),
        ("@aws-sdk/client-cloudwatch-logs", "logs"),
        ("@aws-sdk/client-sfn", "stepfunctions"),
        ("@aws-sdk/client-eventbridge", "events"),
        ("@aws-sdk/client-secrets-manager", "secretsmanager"),
    ):
        info = botomodels.by_js_package(package)
        assert info is not None and info.name == name
    for cls, name in (("S3", "s3"), ("CloudWatchLogs", "logs"), ("StepFunctions", "stepfunctions")):
        info = botomodels.by_v2_class(cls)
        assert info is not None and info.name == name


# -- Python -----------------------------------------------------------------------------------


def test_python_clients_resources_paginators_and_environment() -> None:
    calls = _python("""
        import os
        import boto3
        from boto3 import client as make_client

        TABLE = os.environ["TABLE_NAME"]
        BUCKET = os.getenv("BUCKET_NAME", "fallback")
        QUEUE = os.environ.get("QUEUE_URL") or "https://sqs.us-east-1.amazonaws.com/111122223333/q"
        s3 = boto3.client("s3")
        table = boto3.resource("dynamodb").Table(TABLE)

        def handler(event, context):
            table.get_item(Key={"id": event["id"]})
            s3.put_object(Bucket=BUCKET, Key=f"in/{event['id']}.json", Body=b"x")
            pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="in/")
            make_client("sqs").send_message(QueueUrl=QUEUE, MessageBody="m")
            with table.batch_writer() as batch:
                batch.put_item(Item={})
            return pages
    """)
    assert _ops(calls) == [
        (13, "dynamodb", "GetItem"),
        (14, "s3", "PutObject"),
        (15, "s3", "ListObjectsV2"),
        (16, "sqs", "SendMessage"),
        (17, "dynamodb", "BatchWriteItem"),
    ]
    assert calls[0].params["TableName"] == _env("TABLE_NAME")
    assert calls[1].params["Bucket"] == _env("BUCKET_NAME", "fallback")
    assert calls[1].params["Key"] == Text(("in/", None, ".json"))
    assert calls[2].params["Prefix"] == Text.of("in/")
    assert calls[3].params["QueueUrl"] == _env("QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/111122223333/q")
    assert calls[4].params["RequestItems"] == {_env("TABLE_NAME"): []}


def test_python_resource_model_methods() -> None:
    calls = _python("""
        import boto3
        s3 = boto3.resource("s3")
        bucket = s3.Bucket("media")

        def handler(event, context):
            bucket.Object("static/logo.png").get()
            s3.Object("media", "a.txt").put(Body=b"")
            for obj in bucket.objects.filter(Prefix="tmp/"):
                pass
            bucket.objects.filter(Prefix="old/").delete()
            bucket.upload_file("/tmp/x", "uploads/x")
            boto3.resource("sqs").Queue("https://sqs.eu-west-1.amazonaws.com/111122223333/jobs").send_message(MessageBody="x")
            boto3.resource("dynamodb").Table("Orders").wait_until_exists()
            s3.meta.client.head_bucket(Bucket="media")
    """)
    assert [(c.operation, c.how) for c in calls] == [
        ("GetObject", "Object.get"),
        ("PutObject", "Object.put"),
        ("ListObjects", "Bucket.objects.filter"),
        ("ListObjects", "Bucket.objects.filter"),
        ("DeleteObjects", "Bucket.objects.delete"),
        ("PutObject", "Bucket.upload_file"),
        ("SendMessage", "Queue.send_message"),
        ("DescribeTable", "Table.wait_until_exists"),
        ("HeadBucket", "client head_bucket"),
    ]
    assert calls[0].params == {"Bucket": Text.of("media"), "Key": Text.of("static/logo.png")}
    assert calls[1].params["Key"] == Text.of("a.txt")
    assert calls[3].params == {"Bucket": Text.of("media"), "Prefix": Text.of("old/")}
    assert calls[5].params["Key"] == Text.of("uploads/x")
    assert calls[6].params["QueueUrl"] == Text.of("https://sqs.eu-west-1.amazonaws.com/111122223333/jobs")
    assert calls[7].params["TableName"] == Text.of("Orders")


def test_python_sessions_helpers_classes_and_local_modules() -> None:
    calls = _python(
        """
        import boto3
        from boto3.session import Session
        from db import orders

        def _secrets():
            return Session().client("secretsmanager")

        class Store:
            def __init__(self):
                self.s3 = boto3.session.Session(region_name="eu-west-1").client(service_name="s3")

            def save(self, key):
                self.s3.copy({"Bucket": "src", "Key": key}, "dst", key)
                return self.s3.generate_presigned_url("get_object", Params={"Bucket": "dst", "Key": "k"})

        def handler(event, context):
            orders.delete_item(Key={})
            _secrets().get_secret_value(SecretId="prod/db")
            boto3.client("dynamodb").get_waiter("table_exists")
    """,
        modules={
            "db": """
        import os, boto3
        orders = boto3.resource("dynamodb").Table(os.environ["ORDERS"])
        def scan():
            return orders.scan()
    """
        },
    )
    ops = [(c.file, c.operation) for c in calls]
    assert ops == [
        ("db.py", "Scan"),
        ("app.py", "CopyObject"),
        ("app.py", "GetObject"),
        ("app.py", "DeleteItem"),
        ("app.py", "GetSecretValue"),
        ("app.py", "DescribeTable"),
    ]
    assert calls[0].params["TableName"] == _env("ORDERS")
    assert calls[3].params["TableName"] == _env("ORDERS")
    assert calls[1].params["CopySource"] == {Text.of("Bucket"): Text.of("src"), Text.of("Key"): Text.unknown()}
    assert calls[2].how == "presigned URL for GetObject"


def test_python_ignores_what_is_not_an_sdk_call() -> None:
    calls = _python("""
        import boto3, json
        class Fake:
            def put_object(self, **kw):
                return kw
        fake = Fake()
        def handler(event, context):
            fake.put_object(Bucket="b")
            json.loads("{}")
            boto3.client("s3").not_an_operation()
            boto3.client(event["service"]).get_object(Bucket="b", Key="k")
    """)
    assert calls == []


# -- JavaScript / TypeScript ----------------------------------------------------------------------


def test_js_sdk_v3_commands_document_client_and_paginators() -> None:
    calls = _js("""
        import { S3Client, GetObjectCommand, paginateListObjectsV2 } from "@aws-sdk/client-s3";
        import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
        import { DynamoDBDocumentClient, GetCommand as Get, BatchWriteCommand, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
        import * as sfn from "@aws-sdk/client-sfn";
        const { SNSClient, PublishCommand } = require("@aws-sdk/client-sns");
        import type { Handler } from "aws-lambda";

        const s3 = new S3Client({});
        const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({}));
        const TABLE: string = process.env.TABLE_NAME!;
        const { BUCKET = "media", MACHINE } = process.env;
        const re = /\\/not-a-comment\\//g; // new GetObjectCommand({ Bucket: "in-a-comment" })

        export const handler: Handler = async (event) => {
          const params = { TableName: TABLE, Key: { id: event.id } };
          await ddb.send(new Get(params));
          await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: `in/${event.id}.json` }));
          for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: BUCKET, Prefix: "in/" })) {}
          await ddb.send(new BatchWriteCommand({ RequestItems: { [TABLE]: [] } }));
          await new sfn.SFNClient({}).send(new sfn.StartExecutionCommand({ stateMachineArn: MACHINE }));
          await new SNSClient({}).send(new PublishCommand({ TopicArn: process.env["TOPIC_ARN"] ?? "arn:aws:sns:us-east-1:111122223333:t", Message: "x" }));
          return "a/b" + 1 / 2;
        };
    """)
    assert _ops(calls) == [
        (17, "dynamodb", "GetItem"),
        (18, "s3", "GetObject"),
        (19, "s3", "ListObjectsV2"),
        (20, "dynamodb", "BatchWriteItem"),
        (21, "stepfunctions", "StartExecution"),
        (22, "sns", "Publish"),
    ]
    assert calls[0].params["TableName"] == _env("TABLE_NAME")
    assert calls[1].params == {"Bucket": _env("BUCKET", "media"), "Key": Text(("in/", None, ".json"))}
    assert calls[2].params["Prefix"] == Text.of("in/")
    assert calls[4].params["stateMachineArn"] == _env("MACHINE")
    assert calls[5].params["TopicArn"] == _env("TOPIC_ARN", "arn:aws:sns:us-east-1:111122223333:t")


def test_js_aggregated_and_v2_clients() -> None:
    calls = _js("""
        const AWS = require("aws-sdk");
        import { S3 } from "@aws-sdk/client-s3";
        const legacy = new AWS.DynamoDB.DocumentClient();
        const sqs = new AWS.SQS({ region: "eu-west-1" });
        const s3 = new S3({});
        class Repo {
          private logs = new AWS.CloudWatchLogs();
          async run() {
            await legacy.query({ TableName: "Orders" }).promise();
            await sqs.sendMessage({ QueueUrl: process.env.QUEUE_URL, MessageBody: "x" }).promise();
            await s3.listObjectsV2({ Bucket: "media" });
            await this.logs.putLogEvents({ logGroupName: "/app", logStreamName: "s", logEvents: [] }).promise();
            await legacy.notAMethod({});
          }
        }
    """)
    assert _ops(calls) == [
        (10, "dynamodb", "Query"),
        (11, "sqs", "SendMessage"),
        (12, "s3", "ListObjectsV2"),
        (13, "logs", "PutLogEvents"),
    ]
    assert calls[1].params["QueueUrl"] == _env("QUEUE_URL")


def test_lexer_tells_regexes_templates_and_comments_apart() -> None:
    toks = tokenize("const a = b / c; const r = /x\\/y[/]/g; /* new X() */ const t = `p/${q + `r`}`;\n// z")
    kinds = [(t.kind, t.text) for t in toks]
    assert ("punct", "/") in kinds and ("regex", "/x\\/y[/]/g") in kinds
    assert not any(t.text == "X" for t in toks)
    template = next(t for t in toks if t.kind == "tpl")
    assert template.parts[0] == "p/" and isinstance(template.parts[1], tuple)


# -- the template wiring --------------------------------------------------------------------------


def _as_json(results: list[Any]) -> str:
    out = []
    for result in results:
        out.append(
            {
                "function": result.function,
                "files": result.files,
                "problems": result.problems,
                "calls": [
                    {
                        "where": c.event_source,
                        "service": c.service,
                        "api": c.api,
                        "operation": c.operation,
                        "parameters": dict(c.parameters),
                        "resources": list(c.resources),
                        "time": c.time,
                        "error": c.error,
                    }
                    for c in result.calls
                ],
            }
        )
    return json.dumps(out, indent=1, sort_keys=True) + "\n"


def test_fixture_template_calls_golden() -> None:
    results = analyse_template(TEMPLATE, {})
    check_golden(CODE / "calls.golden.json", _as_json(results))
    orders = next(r for r in results if r.function == "OrdersFunction")
    where = {c.event_source: c for c in orders.calls}
    put = where[BASIS + "orders/app.py:21"]
    assert (put.operation, put.parameters["Bucket"], put.parameters["Key"]) == (
        "PutObject",
        "<ReceiptsBucket>",
        "receipts/*.json",
    )
    send = where[BASIS + "orders/app.py:22"]
    assert send.resources == ("arn:aws:sqs:<AWS::Region>:<AWS::AccountId>:<EventsQueue>",)
    assert all(c.time is None and c.error is None for c in orders.calls)
    reports = next(r for r in results if r.function == "ReportsFunction")
    assert reports.files == ["reports/keys.ts", "reports/app.ts"]


def test_parameters_make_arns_concrete() -> None:
    results = analyse_template(
        TEMPLATE, {"AWS::Region": "eu-west-1", "AWS::AccountId": "111122223333"}, function="OrdersFunction"
    )
    query = next(c for c in results[0].calls if c.operation == "Query")
    assert query.resources == ("arn:aws:dynamodb:eu-west-1:111122223333:table/<OrdersTable>",)
    assert (query.region, query.account) == ("eu-west-1", "111122223333")


def test_missing_code_and_bad_syntax_are_reported(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(:\n")
    (tmp_path / "template.yaml").write_text(
        textwrap.dedent("""
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Broken:
            Type: AWS::Serverless::Function
            Properties: {Runtime: python3.12, CodeUri: src/, Handler: app.handler, Policies: AmazonS3ReadOnlyAccess}
          Missing:
            Type: AWS::Serverless::Function
            Properties: {Runtime: nodejs20.x, CodeUri: nowhere/, Handler: index.handler}
          Inline:
            Type: AWS::Lambda::Function
            Properties:
              Runtime: python3.12
              Handler: index.handler
              Role: arn:aws:iam::111122223333:role/r
              Code:
                ZipFile: |
                  import boto3
                  def handler(event, context):
                      boto3.client("s3").list_buckets()
    """)
    )
    results = {r.function: r for r in analyse_template(tmp_path / "template.yaml", {})}
    assert results["Broken"].problems == ["src/app.py:1: cannot parse: invalid syntax"]
    assert "does not exist" in results["Missing"].problems[0]
    assert [(c.operation, c.source_file, c.source_index) for c in results["Inline"].calls] == [
        ("ListBuckets", "Inline (inline code)", 3)
    ]


def test_calls_chosen_at_run_time_are_said_and_kept_methods_are_followed(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(
        textwrap.dedent("""
        import boto3
        s3 = boto3.client("s3")
        table = boto3.resource("dynamodb").Table("orders")

        def handler(event, context):
            op = getattr(s3, "delete_object")
            op(Bucket="in-bucket", Key="old")
            put = table.put_item
            put(Item={})
            getattr(s3, event["op"])(Bucket="in-bucket")
            boto3.client(event["svc"]).list_queues()
    """)
    )
    (tmp_path / "template.yaml").write_text(
        textwrap.dedent("""
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties: {Runtime: python3.12, CodeUri: src/, Handler: app.handler, Policies: AmazonS3FullAccess}
    """)
    )
    [result] = analyse_template(tmp_path / "template.yaml", {})
    assert {(c.service, c.operation) for c in result.calls} >= {("s3", "DeleteObject"), ("dynamodb", "PutItem")}
    assert [p.split(": ", 1)[0] for p in result.problems] == ["src/app.py:11", "src/app.py:12"]
    shown = CliRunner().invoke(cli, ["narrow", str(tmp_path / "template.yaml"), "--from-code"])
    assert shown.exit_code == 2 and "2 call sites or files could not be analysed" in shown.stderr
    assert "s3:DeleteObject" in shown.stdout


def test_handlers_that_cannot_be_read_as_source_are_problems_not_crashes_or_empty_proposals(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    js_call = (
        b"import { S3Client, GetObjectCommand } from '@aws-sdk/client-s3';\n"
        b"export const handler = async () => new S3Client({}).send(new GetObjectCommand({Bucket: 'b', Key: 'k'}));\n"
    )
    (src / "bom.mjs").write_bytes(b"\xef\xbb\xbf" + js_call)
    (src / "bompy.py").write_bytes(
        b"\xef\xbb\xbfimport boto3\ndef handler(e, c):\n    boto3.client('s3').list_buckets()\n"
    )
    (src / "binary.mjs").write_bytes(b"\x7fELF\x00\x00" + js_call)
    (src / "cut.mjs").write_bytes(b"export const handler = async () => {};\nnew")
    (tmp_path / "outside.py").write_text("def handler(e, c):\n    pass\n")
    (src / "linked.py").symlink_to(tmp_path / "outside.py")
    functions = {
        "Bom": ("nodejs20.x", "bom.handler"),
        "BomPy": ("python3.12", "bompy.handler"),
        "Binary": ("nodejs20.x", "binary.handler"),
        "Cut": ("nodejs20.x", "cut.handler"),
        "Dot": ("python3.12", ".handler"),
        "Up": ("python3.12", "../outside.handler"),
        "Linked": ("python3.12", "linked.handler"),
    }
    resources = {
        name: {
            "Type": "AWS::Serverless::Function",
            "Properties": {"Runtime": runtime, "CodeUri": "src/", "Handler": handler},
        }
        for name, (runtime, handler) in functions.items()
    }
    (tmp_path / "template.yaml").write_text(
        json.dumps({"Transform": "AWS::Serverless-2016-10-31", "Resources": resources})
    )
    results = {r.function: r for r in analyse_template(tmp_path / "template.yaml", {})}
    assert [c.operation for c in results["Bom"].calls] == ["GetObject"]  # a BOM is valid source
    assert [c.operation for c in results["BomPy"].calls] == ["ListBuckets"]
    assert not results["Binary"].calls and "NUL bytes" in results["Binary"].problems[0]
    assert not results["Binary"].files  # no proposal can rest on it
    assert "cannot analyse" in results["Cut"].problems[0]
    assert "names no module file" in results["Dot"].problems[0]
    assert "names no module file" in results["Up"].problems[0]
    assert "leads outside the code folder" in results["Linked"].problems[0]


# -- the command ----------------------------------------------------------------------------------


def _document(stdout: str) -> Any:
    return json.loads(stdout[: stdout.rindex("}") + 1])


def _grants(document: dict[str, Any]) -> set[tuple[str, str]]:
    out = set()
    for st in document["Statement"]:
        actions = [st["Action"]] if isinstance(st["Action"], str) else st["Action"]
        resources = [st["Resource"]] if isinstance(st["Resource"], str) else st["Resource"]
        out.update((a, r) for a in actions for r in resources)
    return out


def test_narrow_from_code_proposes_one_policy_per_function() -> None:
    os.chdir(ROOT)
    result = CliRunner().invoke(cli, ["narrow", str(TEMPLATE), "--from-code", "--explain"])
    assert result.exit_code == 0, result.output
    proposals = _document(result.stdout)
    assert set(proposals) == {"OrdersFunction", "ReportsFunction"}
    table = "arn:aws:dynamodb:<AWS::Region>:<AWS::AccountId>:table/<OrdersTable>"
    orders = _grants(proposals["OrdersFunction"])
    assert {
        ("dynamodb:PutItem", table),
        ("dynamodb:Query", table),
        ("dynamodb:DeleteItem", table),
        ("s3:PutObject", "arn:aws:s3:::<ReceiptsBucket>/receipts/*.json"),
        ("s3:ListBucket", "arn:aws:s3:::<ReceiptsBucket>"),
        ("sqs:SendMessage", "arn:aws:sqs:<AWS::Region>:<AWS::AccountId>:<EventsQueue>"),
        ("logs:PutLogEvents", "*"),
    } <= orders
    assert not any(
        a.startswith(("kms:", "secretsmanager:")) or a in ("s3:DeleteObject", "dynamodb:Scan") for a, _ in orders
    )
    reports = _grants(proposals["ReportsFunction"])
    assert ("s3:GetObject", "arn:aws:s3:::<ReceiptsBucket>/templates/report.html") in reports
    assert ("s3:PutObject", "arn:aws:s3:::<ReceiptsBucket>/*") in reports  # the key is computed
    assert ("dynamodb:Scan", table) in reports and ("dynamodb:PutItem", table) not in reports
    assert (
        "s3:PutObject  arn:aws:s3:::<ReceiptsBucket>/receipts/*.json  1  -  -  static analysis of orders/app.py:21"
        in result.stderr
    )
    assert "static analysis of reports/app.ts:15" in result.stderr
    assert result.stderr.count("proved:") == 2


def test_narrow_from_code_one_function() -> None:
    result = CliRunner().invoke(
        cli,
        [
            "narrow",
            str(TEMPLATE),
            "--from-code",
            "--function",
            "ReportsFunction",
            "--parameter",
            "AWS::Region=eu-west-1",
        ],
    )
    assert result.exit_code == 0, result.output
    document = _document(result.stdout)
    assert document["Version"] == "2012-10-17"
    assert ("dynamodb:GetItem", "arn:aws:dynamodb:eu-west-1:<AWS::AccountId>:table/<OrdersTable>") in _grants(document)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--from-code", "--function", "NoSuchFunction"], "no function NoSuchFunction"),
        (["--from-code", "--evidence", "x.jsonl"], "needs --function"),
    ],
)
def test_narrow_from_code_errors(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["narrow", str(TEMPLATE), *args])
    assert result.exit_code == 2 and message in result.output


def test_javascript_calls_chosen_at_run_time_are_said(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "index.mjs").write_text(
        textwrap.dedent("""
        import AWS from "aws-sdk";
        const legacy = new AWS.S3();
        export const handler = async (event) => {
          await legacy.getObject({ Bucket: "b", Key: "k" }).promise();
          await legacy[event.op]({ Bucket: "b" }).promise();
        };
    """)
    )
    (tmp_path / "template.yaml").write_text(
        textwrap.dedent("""
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties: {Runtime: nodejs20.x, CodeUri: src/, Handler: index.handler, Policies: AmazonS3FullAccess}
    """)
    )
    [result] = analyse_template(tmp_path / "template.yaml", {})
    assert [(c.service, c.operation) for c in result.calls] == [("s3", "GetObject")]
    assert [p.split(": ", 1)[0] for p in result.problems] == ["src/index.mjs:6"]


def test_javascript_commands_and_clients_chosen_at_run_time_are_said() -> None:
    source = """
    import * as s3 from "@aws-sdk/client-s3";
    import { S3Client, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
    import { DeleteCommand } from "@aws-sdk/lib-dynamodb";
    const client = new S3Client({});
    const commands = { get: GetObjectCommand, put: PutObjectCommand, remove: DeleteCommand };
    const shapes = { today: Date };
    const AWS = require("aws-sdk");
    export const handler = async (event) => {
      await client.send(new GetObjectCommand({ Bucket: "b", Key: "k" }));
      await client.send(new s3[event.name]({ Bucket: "b" }));
      await client.send(new commands[event.op]({ Bucket: "b", Key: "k" }));
      const legacy = new AWS[event.service]();
      await legacy.getObject({ Bucket: "b", Key: "k" }).promise();
      return new shapes[event.kind]();
    };
    """
    analyzer = static_js.Analyzer(textwrap.dedent(source), Path("app.mjs"), "app.mjs", lambda spec, importer: None)
    analyzer.run()
    assert _ops(analyzer.calls) == [(10, "s3", "GetObject")]
    assert analyzer.unresolved == [
        "app.mjs:11: an AWS command chosen at run time (new s3[...]): not seen, so the proposal may lack it",
        (
            "app.mjs:12: an AWS command chosen at run time (new commands[...], one of dynamodb:DeleteItem, "
            "s3:GetObject, s3:PutObject): not seen, so the proposal may lack it"
        ),
        (
            "app.mjs:13: an AWS SDK client for a service chosen at run time (new AWS[...]): its calls are "
            "not seen, so the proposal may lack them"
        ),
    ]
