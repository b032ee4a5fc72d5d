"""End to end: a proposal from `narrow`, enforced by moto's IAM, keeps the workload working and no more.

moto runs in server mode on 127.0.0.1 with IAM authorization enforced. Enforcement is switched on
through the server's `/moto-api/reset-auth` endpoint, which sets the no-auth budget
(`INITIAL_NO_AUTH_ACTION_COUNT`) of the running server and resets its request counter; it is what
`moto.core.set_initial_no_auth_action_count` calls in server mode. The environment variable would
not do here: moto reads it once, when `moto.settings` is first imported, which in a test run may
already have happened. Setup (resources, users, keys) runs with the budget unlimited, then the
budget is set to 0 and every request must be signed by a user whose policies allow it.

The story: a user `app` holds a broad original policy and runs a workload (S3 GetObject and
PutObject, DynamoDB GetItem and PutItem, SQS SendMessage, SNS Publish). Its calls are written as
CloudTrail records, read back with iamlint's CloudTrail reader, and narrowed. The proposal is
attached to a second user, `narrowed`, who replays the workload: every call succeeds. Calls the
workload never made are denied to `narrowed`, and the same calls succeed for `app`, so each
denial is the narrowing's doing, not the test environment's.

moto's evaluator differs from IAM's (see NOTES.md), and the test is built around each gap:
- conditions, NotResource, `?` wildcards, lower-case actions: the proposal uses none of them
  (asserted), so moto reads it as IAM would;
- outside S3, SQS, IAM and STS, moto authorises every request against the resource `*`, so a
  statement scoped to a table or topic ARN never matches and moto denies the call.
Which guarantee each part therefore shows:
- S3 and SQS: the exact proposal is attached. Replay shows both halves of the narrowing under an
  independent evaluator: actions (DeleteObject, ReceiveMessage, DeleteQueue denied) and
  resources (GetObject on an object, SendMessage to a queue, that were not observed: denied).
- DynamoDB and SNS: the attached policy is the proposal with those statements' resources widened
  to `*` (generalised to what moto can evaluate). Replay shows the action narrowing (DeleteItem,
  Scan, DeleteTopic denied). The resource narrowing for these two services is shown by iamlint's
  evaluator on the exact proposal instead, and the widened policy is proved to stay inside the
  original as well.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import moto.server as moto_server
import pytest
from botocore.exceptions import ClientError

from iamlint.catalog import get_catalog
from iamlint.evaluator import Decision, Request, contains, evaluate
from iamlint.model import PolicyDocument, PolicyKind
from iamlint.narrow.calls import Call, matches_principal
from iamlint.narrow.evidence import read_cloudtrail
from iamlint.narrow.narrower import narrow
from iamlint.policy import parse_policy

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
BUCKET = "iamlint-e2e-orders"
TABLE = "iamlint-e2e-orders"
OTHER_TABLE = "iamlint-e2e-customers"
QUEUE = "iamlint-e2e-events"
OTHER_QUEUE = "iamlint-e2e-audit"
TOPIC = "iamlint-e2e-order-placed"
OTHER_TOPIC = "iamlint-e2e-refunds"
OBSERVED_KEY, WRITTEN_KEY, PRIVATE_KEY = "incoming/0001.json", "processed/0001.json", "private/payroll.json"
# A broad policy, as quick starts write them.
ORIGINAL = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "Everything", "Effect": "Allow", "Action": ["s3:*", "dynamodb:*", "sqs:*", "sns:*"], "Resource": "*"},
    ],
}
# Services whose resource-scoped statements moto cannot evaluate (it authorises against "*").
MOTO_RESOURCE_BLIND = ("dynamodb", "sns")
NOT_AN_AUTHORIZATION_ERROR = ("InvalidClientTokenId", "InvalidAccessKeyId", "SignatureDoesNotMatch")


@dataclass
class Moto:
    url: str
    topic_arn: str = ""
    other_topic_arn: str = ""
    queue_url: str = ""
    other_queue_url: str = ""

    clients: dict[tuple[str, str], Any] = field(default_factory=dict)

    def client(self, service: str, key: dict[str, str] | None = None) -> Any:
        creds = key or {"AccessKeyId": "setup", "SecretAccessKey": "setup"}
        cached = self.clients.get((service, creds["AccessKeyId"]))
        if cached is None:
            session = boto3.Session(
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                region_name=REGION,
            )
            cached = self.clients[(service, creds["AccessKeyId"])] = session.client(service, endpoint_url=self.url)
        return cached

    def set_no_auth_budget(self, budget: str) -> str:
        """Set the server's no-auth budget ("0": enforce from now on); returns the previous one."""
        request = urllib.request.Request(
            f"{self.url}/moto-api/reset-auth",
            data=budget.encode(),
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # the local test server
            return str(json.loads(response.read())["PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT"])


@pytest.fixture(scope="module")
def moto() -> Iterator[Moto]:
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = Moto(f"http://{host}:{port}")
    previous = env.set_no_auth_budget("inf")  # setup runs unauthenticated
    try:
        yield env
    finally:
        env.set_no_auth_budget(previous)
        server.stop()


@dataclass
class Users:
    app: dict[str, str]
    narrowed: dict[str, str]
    admin: dict[str, str]


def _setup(env: Moto) -> Users:
    s3 = env.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    for key in (OBSERVED_KEY, PRIVATE_KEY):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b'{"order": 1}')
    ddb = env.client("dynamodb")
    for table in (TABLE, OTHER_TABLE):
        ddb.create_table(
            TableName=table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        )
    ddb.put_item(TableName=TABLE, Item={"id": {"S": "1"}, "state": {"S": "new"}})
    sqs = env.client("sqs")
    env.queue_url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    env.other_queue_url = sqs.create_queue(QueueName=OTHER_QUEUE)["QueueUrl"]
    sns = env.client("sns")
    env.topic_arn = sns.create_topic(Name=TOPIC)["TopicArn"]
    env.other_topic_arn = sns.create_topic(Name=OTHER_TOPIC)["TopicArn"]
    iam = env.client("iam")
    keys = {}
    for name in ("app", "narrowed", "admin"):
        iam.create_user(UserName=name)
        keys[name] = iam.create_access_key(UserName=name)["AccessKey"]
    iam.put_user_policy(UserName="app", PolicyName="original", PolicyDocument=json.dumps(ORIGINAL))
    admin = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    iam.put_user_policy(UserName="admin", PolicyName="admin", PolicyDocument=json.dumps(admin))
    return Users(keys["app"], keys["narrowed"], keys["admin"])


# -- the workload, and the CloudTrail records its calls leave -----------------------------------

Step = tuple[str, str, Callable[[Any], object], dict[str, Any]]  # service, operation, call, requestParameters


def _workload(env: Moto) -> list[Step]:
    # CloudTrail records the queue URL the SDK sent; against AWS that is the regional endpoint,
    # so the record carries that form rather than the test server's address.
    aws_queue_url = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{QUEUE}"
    return [
        (
            "s3",
            "GetObject",
            lambda c: c.get_object(Bucket=BUCKET, Key=OBSERVED_KEY)["Body"].read(),
            {"bucketName": BUCKET, "key": OBSERVED_KEY},
        ),
        (
            "s3",
            "PutObject",
            lambda c: c.put_object(Bucket=BUCKET, Key=WRITTEN_KEY, Body=b"{}"),
            {"bucketName": BUCKET, "key": WRITTEN_KEY},
        ),
        (
            "dynamodb",
            "GetItem",
            lambda c: c.get_item(TableName=TABLE, Key={"id": {"S": "1"}}),
            {"tableName": TABLE, "key": {"id": {"S": "1"}}},
        ),
        (
            "dynamodb",
            "PutItem",
            lambda c: c.put_item(TableName=TABLE, Item={"id": {"S": "2"}}),
            {"tableName": TABLE, "item": {"id": {"S": "2"}}},
        ),
        (
            "sqs",
            "SendMessage",
            lambda c: c.send_message(QueueUrl=env.queue_url, MessageBody="order 1"),
            {"queueUrl": aws_queue_url, "messageBody": "HIDDEN_DUE_TO_SECURITY_REASONS"},
        ),
        (
            "sns",
            "Publish",
            lambda c: c.publish(TopicArn=env.topic_arn, Message="order 1"),
            {"topicArn": env.topic_arn, "message": "HIDDEN_DUE_TO_SECURITY_REASONS"},
        ),
    ]


def _run(env: Moto, key: dict[str, str], steps: list[Step]) -> list[dict[str, Any]]:
    """Run the steps as the user with `key`; the CloudTrail record of each call."""
    records = []
    for i, (service, operation, call, params) in enumerate(steps):
        call(env.client(service, key))  # raises if moto denies it
        records.append(
            {
                "eventVersion": "1.09",
                "eventSource": f"{service}.amazonaws.com",
                "eventName": operation,
                "eventTime": f"2026-11-01T10:00:{i:02d}Z",
                "awsRegion": REGION,
                "recipientAccountId": ACCOUNT,
                "eventType": "AwsApiCall",
                "requestParameters": params,
                "userIdentity": {
                    "type": "IAMUser",
                    "accountId": ACCOUNT,
                    "arn": f"arn:aws:iam::{ACCOUNT}:user/app",
                    "userName": "app",
                    "accessKeyId": key["AccessKeyId"],
                },
            }
        )
    return records


# The calls the workload never made: each must be denied to `narrowed` and allowed to `app`.
def _unobserved(env: Moto) -> list[tuple[str, str, Callable[[Any], object]]]:
    return [
        ("s3", "DeleteObject (action not observed)", lambda c: c.delete_object(Bucket=BUCKET, Key=OBSERVED_KEY)),
        (
            "s3",
            "GetObject on another key (resource not observed)",
            lambda c: c.get_object(Bucket=BUCKET, Key=PRIVATE_KEY)["Body"].read(),
        ),
        ("sqs", "ReceiveMessage (action not observed)", lambda c: c.receive_message(QueueUrl=env.queue_url)),
        (
            "sqs",
            "SendMessage to another queue (resource not observed)",
            lambda c: c.send_message(QueueUrl=env.other_queue_url, MessageBody="x"),
        ),
        (
            "dynamodb",
            "DeleteItem (action not observed)",
            lambda c: c.delete_item(TableName=TABLE, Key={"id": {"S": "2"}}),
        ),
        ("dynamodb", "Scan (action not observed)", lambda c: c.scan(TableName=TABLE)),
        ("sns", "DeleteTopic (action not observed)", lambda c: c.delete_topic(TopicArn=env.other_topic_arn)),
        ("sqs", "DeleteQueue (action not observed)", lambda c: c.delete_queue(QueueUrl=env.other_queue_url)),
    ]


def _parsed(document: dict[str, Any]) -> PolicyDocument:
    doc, problems = parse_policy(document, file="policy.json", kind=PolicyKind.IDENTITY)
    assert doc is not None and not problems
    return doc


def _moto_readable(document: dict[str, Any]) -> dict[str, Any]:
    """The proposal with statements of DynamoDB and SNS widened to Resource "*"."""
    statements = []
    for st in document["Statement"]:
        actions = [st["Action"]] if isinstance(st["Action"], str) else st["Action"]
        if {a.split(":", 1)[0] for a in actions} <= set(MOTO_RESOURCE_BLIND):
            st = {**st, "Resource": "*"}
        statements.append(st)
    return {**document, "Statement": statements}


def _denied(env: Moto, key: dict[str, str], service: str, call: Callable[[Any], object]) -> bool:
    try:
        call(env.client(service, key))
    except ClientError as err:
        code = err.response["Error"]["Code"]
        assert code not in NOT_AN_AUTHORIZATION_ERROR, f"the request was not authenticated: {code}"
        return err.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    return False


def test_proposal_keeps_the_workload_and_denies_the_rest_under_moto_iam(moto: Moto, tmp_path: Path) -> None:
    users = _setup(moto)
    catalog = get_catalog()
    assert moto.set_no_auth_budget("0") == "inf"  # from here on, moto enforces IAM

    # Credentials IAM does not know are refused now: enforcement is really on.
    with pytest.raises(ClientError, match="InvalidAccessKeyId"):
        moto.client("s3").list_objects_v2(Bucket=BUCKET)

    # 1. The workload runs as `app` with the original policy; its calls become a trail.
    trail = tmp_path / "AWSLogs" / ACCOUNT / "CloudTrail" / REGION / "trail.json"
    trail.parent.mkdir(parents=True)
    trail.write_text(json.dumps({"Records": _run(moto, users.app, _workload(moto))}))
    calls = [c for c in read_cloudtrail([tmp_path]) if isinstance(c, Call)]
    calls = [c for c in calls if matches_principal(c, user=f"arn:aws:iam::{ACCOUNT}:user/app")]
    assert len(calls) == 6

    # 2. Narrow, and check what was proposed: one line per observed call, nothing else.
    original = _parsed(ORIGINAL)
    proposal = narrow([original], calls, catalog, trail_has_data_events=True)  # moto records every call
    assert not proposal.denied and not proposal.unmapped and not proposal.not_granted
    table_arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{TABLE}"
    queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{QUEUE}"
    assert {(e.action, e.resource) for e in proposal.evidence} == {
        ("s3:GetObject", f"arn:aws:s3:::{BUCKET}/{OBSERVED_KEY}"),
        ("s3:PutObject", f"arn:aws:s3:::{BUCKET}/{WRITTEN_KEY}"),
        ("dynamodb:GetItem", table_arn),
        ("dynamodb:PutItem", table_arn),
        ("sqs:SendMessage", queue_arn),
        ("sns:Publish", moto.topic_arn),
    }
    # Nothing in it that moto's evaluator reads differently from IAM's.
    text = json.dumps(proposal.document)
    assert "Condition" not in text and "NotResource" not in text and "NotAction" not in text and "?" not in text
    assert all(e.action == catalog.action(e.action).full_name for e in proposal.evidence)  # type: ignore[union-attr]

    # 3. Attach it: S3 and SQS statements exactly as proposed, DynamoDB and SNS widened to "*".
    attached = _moto_readable(proposal.document)
    exact = [st for st in attached["Statement"] if st in proposal.document["Statement"]]
    assert {
        a.split(":", 1)[0] for st in exact for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])
    } == {"s3", "sqs"}
    assert contains([original], [_parsed(attached)], catalog).contained
    moto.client("iam", users.admin).put_user_policy(
        UserName="narrowed", PolicyName="proposal", PolicyDocument=json.dumps(attached)
    )

    # 4. The narrowed user replays every observed call: all succeed.
    _run(moto, users.narrowed, _workload(moto))

    # 5. Every call the workload did not make is denied to it ...
    unobserved = _unobserved(moto)
    for service, label, call in unobserved:
        assert _denied(moto, users.narrowed, service, call), f"{label} was allowed by the proposal"
    # ... and allowed by the original, so the denial is the narrowing's doing.
    for service, label, call in unobserved:
        call(moto.client(service, users.app))

    # 6. DynamoDB and SNS resources, which moto cannot check: iamlint's evaluator on the exact proposal.
    exact_proposal = _parsed(proposal.document)
    for action, resource, allowed in (
        ("dynamodb:GetItem", table_arn, True),
        ("dynamodb:PutItem", table_arn, True),
        ("dynamodb:GetItem", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{OTHER_TABLE}", False),
        ("sns:Publish", moto.topic_arn, True),
        ("sns:Publish", moto.other_topic_arn, False),
    ):
        decision = evaluate([exact_proposal], Request(action, resource)).decision
        assert (decision is Decision.ALLOW) is allowed, (action, resource)
    assert contains([original], [exact_proposal], catalog).contained
