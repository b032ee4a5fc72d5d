"""`iamlint record`: a Python child against moto's server, both channels, and the narrowing that
follows from what was recorded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from iamlint.catalog import get_catalog
from iamlint.cli import cli
from iamlint.evaluator import Decision, Request, evaluate
from iamlint.model import PolicyKind
from iamlint.narrow import record_hook
from iamlint.narrow.calls import Call
from iamlint.narrow.evidence import read_evidence_file, write_evidence_file
from iamlint.narrow.narrower import narrow
from iamlint.narrow.record import RecordError, merge, record
from iamlint.policy import parse_policy

ACCOUNT = "123456789012"  # moto's default account
BUCKET_KEY = "arn:aws:s3:::receipts/2026/a.txt"
TABLE = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/Orders"
QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs"

CHILD = """
import sys
import boto3

s3 = boto3.client("s3")
s3.create_bucket(Bucket="receipts")
s3.put_object(Bucket="receipts", Key="2026/a.txt", Body=b"secret body")
s3.get_object(Bucket="receipts", Key="2026/a.txt")["Body"].read()
ddb = boto3.resource("dynamodb")
ddb.create_table(TableName="Orders", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                 AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
ddb.Table("Orders").put_item(Item={"id": "1", "card": "4111-1111"})
sqs = boto3.client("sqs")
url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
sqs.send_message(QueueUrl=url, MessageBody="private message")
try:
    s3.get_object(Bucket="receipts", Key="missing")
except s3.exceptions.NoSuchKey:
    pass
sys.exit(3)
"""


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture()
def child_env(endpoint: str, tmp_path: Path) -> dict[str, str]:
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10).close()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IAMLINT_"))}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=endpoint,
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
    )
    return env


def _child(tmp_path: Path, body: str = CHILD) -> list[str]:
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(body))
    return [sys.executable, str(script)]


def _broad() -> Any:
    doc, problems = parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["s3:*", "dynamodb:*", "sqs:*"], "Resource": "*"}],
        },
        file="role.json",
        kind=PolicyKind.IDENTITY,
    )
    assert doc is not None and not problems
    return doc


def _by_op(calls: tuple[Call, ...] | list[Call]) -> dict[str, list[Call]]:
    out: dict[str, list[Call]] = {}
    for call in calls:
        out.setdefault(call.operation, []).append(call)
    return out


def test_record_python_child_with_parameters_then_narrow(tmp_path: Path, child_env: dict[str, str]) -> None:
    # A sitecustomize the environment already has must still run (the hook shadows it by name).
    own = tmp_path / "own-site"
    own.mkdir()
    (own / "sitecustomize.py").write_text(f"open({str(tmp_path / 'ran')!r}, 'w').close()\n")
    env = {**child_env, "PYTHONPATH": str(own)}
    result = record(_child(tmp_path), env=env)

    assert result.exit_code == 3
    assert (tmp_path / "ran").exists()
    ops = _by_op(result.calls)
    assert [c.parameters for c in ops["PutObject"]] == [{"Bucket": "receipts", "Key": "2026/a.txt"}]
    gets = ops["GetObject"]
    assert [(c.parameters["Key"], c.error) for c in gets] == [("2026/a.txt", None), ("missing", "NoSuchKey")]
    assert ops["PutItem"][0].parameters == {"TableName": "Orders"}  # the item itself is data, not recorded
    send = ops["SendMessage"][0]
    assert send.resources == (QUEUE,) and "MessageBody" not in send.parameters
    assert all(
        (c.service, c.region, c.account, c.time is not None) == (c.api, "us-east-1", ACCOUNT, True)
        for c in result.calls
    )
    # Every call was heard on both channels; the hook's record superseded each datagram.
    assert result.from_hook == len(result.calls) == 8 and result.superseded == 8 and result.from_csm == 0

    evidence = tmp_path / "evidence.jsonl"
    write_evidence_file(evidence, result.calls)
    text = evidence.read_text()
    assert "secret body" not in text and "4111" not in text and "private message" not in text
    assert "testing" not in text  # neither the access key nor anything else from the datagrams
    calls = [c for c in read_evidence_file(evidence) if isinstance(c, Call)]
    assert len(calls) == 8

    proposal = narrow([_broad()], calls, get_catalog(), trail_has_data_events=True)  # a recording sees every call
    kept = {(e.action, e.resource) for e in proposal.evidence}
    assert {
        ("s3:GetObject", BUCKET_KEY),
        ("s3:PutObject", BUCKET_KEY),
        ("dynamodb:PutItem", TABLE),
        ("sqs:SendMessage", QUEUE),
        ("s3:CreateBucket", "arn:aws:s3:::receipts"),
    } <= kept
    proposed, problems = parse_policy(proposal.document, file="p.json", kind=PolicyKind.IDENTITY)
    assert proposed is not None and not problems
    assert evaluate([proposed], Request("s3:GetObject", "arn:aws:s3:::receipts/other")).decision is not Decision.ALLOW


def test_record_command_csm_only_passes_the_exit_code(
    tmp_path: Path, child_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in child_env.items():
        monkeypatch.setenv(key, value)
    out = tmp_path / "csm.jsonl"
    result = CliRunner().invoke(cli, ["record", "--no-python-hook", "-o", str(out), "--", *_child(tmp_path)])
    assert result.exit_code == 3, result.output
    calls = [c for c in read_evidence_file(out) if isinstance(c, Call)]
    assert [(c.service, c.operation) for c in calls] == [
        ("s3", "CreateBucket"),
        ("s3", "PutObject"),
        ("s3", "GetObject"),
        ("dynamodb", "CreateTable"),
        ("dynamodb", "PutItem"),
        ("sqs", "CreateQueue"),
        ("sqs", "SendMessage"),
        ("s3", "GetObject"),
    ]
    assert all(not c.parameters and c.region == "us-east-1" for c in calls)
    assert calls[-1].error == "NoSuchKey" and calls[0].error is None
    assert "0 with parameters" not in result.stderr and "8 from client-side monitoring only" in result.stderr


def test_record_console_script_then_narrow(tmp_path: Path, child_env: dict[str, str]) -> None:
    iamlint = Path(sys.executable).with_name("iamlint")
    out = tmp_path / "calls.jsonl"
    body = """
        import boto3
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="media")
        s3.put_object(Bucket="media", Key="in/x.txt", Body=b"x")
        boto3.client("dynamodb").list_tables()
    """
    done = subprocess.run(
        [str(iamlint), "record", "--output", str(out), "--", *_child(tmp_path, body)],
        env=child_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "3 calls written" in done.stderr
    policy = tmp_path / "policy.json"
    policy.write_text(
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": ["s3:*", "dynamodb:*"], "Resource": "*"}],
            }
        )
    )
    result = CliRunner().invoke(cli, ["narrow", str(policy), "--evidence", str(out)])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout[: result.stdout.rindex("}") + 1])
    grants = {
        (a, st["Resource"])
        for st in document["Statement"]
        for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])
    }
    assert ("s3:PutObject", "arn:aws:s3:::media/in/x.txt") in grants
    assert ("dynamodb:ListTables", "*") in grants


def test_record_unknown_command() -> None:
    with pytest.raises(RecordError) as info:
        record(["iamlint-no-such-command-here"])
    assert info.value.exit_code == 127
    result = CliRunner().invoke(cli, ["record", "--", "iamlint-no-such-command-here"])
    assert result.exit_code == 127 and "command not found" in result.stderr


# -- merging the channels, without a child -----------------------------------------------------------


def _hook(op: str, service: str = "s3", signing: str = "s3", **params: Any) -> bytes:
    return json.dumps(
        {
            "service": service,
            "signing_name": signing,
            "operation": op,
            "region": "eu-west-1",
            "time": "2026-11-01T10:00:00.000Z",
            "parameters": params,
            "error": None,
        }
    ).encode()


def _datagram(service: str, api: str, **extra: Any) -> bytes:
    entry = {
        "Version": 1,
        "ClientId": "iamlint-record",
        "Type": "ApiCall",
        "Service": service,
        "Api": api,
        "Timestamp": 1793527200000,
        "Region": "eu-west-1",
        "FinalHttpStatusCode": 200,
        "AccessKey": "AKIAEXAMPLE",
        "SessionToken": "token",
        **extra,
    }
    return json.dumps(entry).encode()


def test_merge_hook_supersedes_datagrams_and_keeps_the_rest() -> None:
    hooked = [_hook("GetObject", Bucket="b", Key="k"), _hook("PutMetricData", "cloudwatch", "monitoring"), b"not json"]
    datagrams = [
        _datagram("S3", "GetObject"),
        json.dumps({"Type": "ApiCallAttempt", "Service": "S3", "Api": "GetObject"}).encode(),
        _datagram("CloudWatch", "PutMetricData"),
        _datagram("CloudWatch Logs", "PutLogEvents"),  # from a child the hook could not see
        _datagram("SFN", "StartExecution", FinalHttpStatusCode=400, FinalAwsException="AccessDeniedException"),
        b"\xff",
    ]
    result = merge(hooked, datagrams, exit_code=0, account="111122223333")
    assert (result.from_hook, result.from_csm, result.superseded, result.unreadable) == (2, 2, 2, 2)
    by_op = _by_op(result.calls)
    assert by_op["GetObject"][0].parameters == {"Bucket": "b", "Key": "k"}
    assert (by_op["PutMetricData"][0].service, by_op["PutMetricData"][0].api) == ("cloudwatch", "cloudwatch")
    logs = by_op["PutLogEvents"][0]
    assert (logs.service, logs.api, logs.parameters, logs.time) == ("logs", "logs", {}, "2026-11-01T10:00:00.000Z")
    sfn = by_op["StartExecution"][0]
    assert (sfn.service, sfn.api, sfn.error, sfn.denied) == ("states", "stepfunctions", "AccessDeniedException", True)
    assert all(c.account == "111122223333" for c in result.calls)
    assert "AKIAEXAMPLE" not in repr(result.calls) and "token" not in repr(result.calls)


def test_hook_keeps_names_and_drops_data() -> None:
    params = {
        "Bucket": "b",
        "Key": "k",
        "Body": b"data",
        "SSECustomerKey": "secret",
        "TableName": "t",
        "Item": {"id": {"S": "1"}},
        "ExpressionAttributeValues": {":v": {"S": "x"}},
        "TransactItems": [{"Put": {"TableName": "t2", "Item": {}}}],
        "RequestItems": {"t3": {"Keys": [{"id": {"S": "1"}}]}},
        "SecretId": "prod/db",
        "SecretString": "hunter2",
        "Password": "p",
        "ContinuationToken": "c",
        "Tagging": "a=b",
    }
    cleaned = record_hook._clean(params, 0)
    assert cleaned == {
        "Bucket": "b",
        "Key": "k",
        "TableName": "t",
        "TransactItems": [{"Put": {"TableName": "t2"}}],
        "RequestItems": {"t3": {}},
        "SecretId": "prod/db",
        "Tagging": "a=b",
    }
    assert record_hook._clean({"Key": {"id": {"S": "1"}}}, 0) == {}  # DynamoDB's Key is item data


def test_a_command_killed_by_a_signal_exits_as_a_shell_reports_it() -> None:
    from iamlint.narrow.record import _run

    code = "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"
    assert _run([sys.executable, "-c", code], dict(os.environ), None) == 128 + 15
    assert _run([sys.executable, "-c", "raise SystemExit(3)"], dict(os.environ), None) == 3
