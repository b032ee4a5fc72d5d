"""API-to-IAM mapping: actions for observed calls, and the resource ARNs they were used on."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pytest
from conftest import FIXTURES, check_golden

from iamlint.catalog import Catalog, get_catalog
from iamlint.narrow.apitable import event_source_host, get_table, strip_version
from iamlint.narrow.calls import Call
from iamlint.narrow.evidence import read_cloudtrail
from iamlint.narrow.mapping import _HTTP_VERBS, MappedCall, condition_holds, iam_actions

CT = FIXTURES / "sources" / "cloudtrail"
ACCT = "111122223333"
REGION = "eu-west-1"
PRINCIPAL = f"arn:aws:sts::{ACCT}:assumed-role/orders-role/orders-fn"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return get_catalog()


def call(
    source: str,
    operation: str,
    params: Mapping[str, object] | None = None,
    *,
    resources: tuple[str, ...] = (),
    region: str | None = REGION,
    account: str | None = ACCT,
    principal: str = PRINCIPAL,
    api: str | None = None,
) -> Call:
    """A Call as the CloudTrail reader builds it from `eventSource` and `eventName`."""
    service = get_table().service_for_host(source)
    return Call(
        service=service.iam_prefix,
        operation=strip_version(operation),
        principal=principal,
        role_arn=None,
        session_name=None,
        time=None,
        region=region,
        resources=resources,
        parameters=dict(params or {}),
        event_source=source,
        account=account,
        api=api or service.api,
    )


def mapped(catalog: Catalog, *args: object, **kwargs: object) -> MappedCall:
    return iam_actions(call(*args, **kwargs), catalog)  # type: ignore[arg-type]


# -- names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_name", "operation"),
    [
        ("UpdateFunctionCode20150331v2", "UpdateFunctionCode"),
        ("CreateFunction20150331", "CreateFunction"),
        ("TagResource20170331v2", "TagResource"),
        ("CreateDistribution2020_05_31", "CreateDistribution"),
        ("Invoke", "Invoke"),
        ("ListObjectsV2", "ListObjectsV2"),
        ("GetObject", "GetObject"),
    ],
)
def test_strip_version(event_name: str, operation: str) -> None:
    assert strip_version(event_name) == operation


@pytest.mark.parametrize(
    ("source", "prefix"),
    [
        ("monitoring.amazonaws.com", "cloudwatch"),
        ("email.amazonaws.com", "ses"),
        ("states.amazonaws.com", "states"),
        ("tagging.amazonaws.com", "tag"),
        ("servicecatalog-appregistry.amazonaws.com", "servicecatalog"),
        ("s3.amazonaws.com", "s3"),
        ("dynamodb.amazonaws.com.cn", "dynamodb"),
        ("monitoring", "cloudwatch"),  # a bare signing name works too
    ],
)
def test_event_sources_map_to_iam_prefixes(source: str, prefix: str) -> None:
    assert get_table().service_for_host(source).iam_prefix == prefix


def test_event_source_host() -> None:
    assert event_source_host("Monitoring.AmazonAWS.com") == "monitoring"
    assert event_source_host("ec2.amazonaws-us-gov.com") == "ec2"


# -- actions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "event_name", "actions"),
    [
        ("s3.amazonaws.com", "GetObject", ("s3:GetObject",)),
        ("s3.amazonaws.com", "ListObjectsV2", ("s3:ListBucket",)),
        ("s3.amazonaws.com", "ListObjects", ("s3:ListBucket",)),
        ("s3.amazonaws.com", "HeadObject", ("s3:GetObject",)),
        ("s3.amazonaws.com", "ListBuckets", ("s3:ListAllMyBuckets",)),
        ("s3.amazonaws.com", "GetBucketLifecycle", ("s3:GetLifecycleConfiguration",)),
        ("lambda.amazonaws.com", "Invoke", ("lambda:InvokeFunction",)),
        ("lambda.amazonaws.com", "UpdateFunctionCode20150331v2", ("lambda:UpdateFunctionCode",)),
        ("monitoring.amazonaws.com", "PutMetricData", ("cloudwatch:PutMetricData",)),
        ("sqs.amazonaws.com", "SendMessageBatch", ("sqs:SendMessage",)),
        ("cloudfront.amazonaws.com", "CreateDistributionWithTags2020_05_31",
         ("cloudfront:CreateDistribution", "cloudfront:TagResource")),
        ("apigateway.amazonaws.com", "GetRestApis", ("apigateway:GET",)),
        ("apigateway.amazonaws.com", "UpdateStage", ("apigateway:PATCH",)),
        ("apigateway.amazonaws.com", "FlushStageCache", ("apigateway:DELETE",)),
    ],
)  # fmt: skip
def test_actions(catalog: Catalog, source: str, event_name: str, actions: tuple[str, ...]) -> None:
    result = mapped(catalog, source, event_name)
    assert result.actions == actions
    assert result.unmapped_reason is None
    assert result.basis


def test_actions_use_the_catalogues_spelling(catalog: Catalog) -> None:
    result = mapped(catalog, "s3.amazonaws.com", "PutBucketCors")
    assert result.actions == ("s3:PutBucketCORS",)


def test_conditional_actions_follow_the_parameters(catalog: Catalog) -> None:
    plain = mapped(catalog, "s3.amazonaws.com", "HeadObject", {"bucketName": "b", "key": "k"})
    versioned = mapped(catalog, "s3.amazonaws.com", "HeadObject", {"bucketName": "b", "key": "k", "versionId": "3"})
    assert plain.actions == ("s3:GetObject",)
    assert versioned.actions == ("s3:GetObject", "s3:GetObjectVersion")


def test_transaction_actions_come_from_its_items(catalog: Catalog) -> None:
    params = {
        "transactItems": [
            {"Update": {"TableName": "orders"}},
            {"ConditionCheck": {"TableName": "customers"}},
        ]
    }
    result = mapped(catalog, "dynamodb.amazonaws.com", "TransactWriteItems", params)
    assert result.actions == ("dynamodb:UpdateItem", "dynamodb:ConditionCheckItem")
    assert result.resources_for("dynamodb:UpdateItem") == (
        f"arn:aws:dynamodb:{REGION}:{ACCT}:table/orders",
        f"arn:aws:dynamodb:{REGION}:{ACCT}:table/customers",
    )


def test_partiql_statement_decides_the_action(catalog: Catalog) -> None:
    select = mapped(
        catalog,
        "dynamodb.amazonaws.com",
        "ExecuteStatement",
        {"statement": 'SELECT * FROM "orders" WHERE pk = ?'},
    )
    assert select.actions == ("dynamodb:PartiQLSelect",)
    unknown = mapped(catalog, "dynamodb.amazonaws.com", "ExecuteStatement", {})
    assert unknown.actions == ()
    assert unknown.unmapped_reason is not None
    assert "dynamodb:PartiQLSelect" in unknown.unmapped_reason
    assert "do not show" in unknown.unmapped_reason


def test_condition_reader() -> None:
    assert condition_holds("a versionId is given", {"VersionId": "1"}) is True
    assert condition_holds("a versionId is given", {"key": "k"}) is False
    assert condition_holds("the source is addressed by versionId", {"x": "b/k?versionId=2"})
    assert condition_holds("tags are copied or set", {"x-amz-tagging": "a=b"}) is True
    assert condition_holds("the transaction contains a Put", {"other": 1}) is None
    assert condition_holds("the moon is full", {}) is None


def test_no_permission_operations_map_to_nothing_with_a_reason(catalog: Catalog) -> None:
    result = mapped(catalog, "sts.amazonaws.com", "GetCallerIdentity")
    assert result.actions == ()
    assert result.unmapped_reason is not None
    assert result.unmapped_reason.startswith("no permission needed")
    assert "https://docs.aws.amazon.com/STS/" in result.unmapped_reason
    assert result.basis == "no-permission"


def test_unknown_service_and_operation_are_unmapped_with_reasons(catalog: Catalog) -> None:
    service = mapped(catalog, "made-up.amazonaws.com", "DoThing")
    assert service.actions == ()
    assert service.unmapped_reason == ("unknown IAM service prefix 'made-up' (event source made-up.amazonaws.com)")
    operation = mapped(catalog, "s3.amazonaws.com", "GetStorageLensDashboardDataInternal")
    assert operation.actions == ()
    assert operation.unmapped_reason is not None
    assert "s3:GetStorageLensDashboardDataInternal" in operation.unmapped_reason
    verb = mapped(catalog, "apigateway.amazonaws.com", "ImportRestApi")
    assert verb.actions == ()
    assert verb.unmapped_reason is not None and "HTTP verb" in verb.unmapped_reason


def test_s3_control_and_bucket_public_access_block_differ(catalog: Catalog) -> None:
    account = mapped(catalog, "s3.amazonaws.com", "PutPublicAccessBlock", api="s3control")
    bucket = mapped(catalog, "s3.amazonaws.com", "PutPublicAccessBlock", {"bucketName": "b"})
    assert account.actions == ("s3:PutAccountPublicAccessBlock",)
    assert bucket.actions == ("s3:PutBucketPublicAccessBlock",)
    assert bucket.resources == ("arn:aws:s3:::b",)


def test_http_verbs_agree_with_botocore() -> None:
    import botocore.session  # a test dependency (boto3), imported here to keep collection light

    session = botocore.session.get_session()
    checked = 0
    for client in ("apigateway", "apigatewayv2"):
        model = session.get_service_model(client)
        for name in model.operation_names:
            word = next((w for w in _HTTP_VERBS if name.startswith(w)), None)
            if word is None:
                continue
            assert model.operation_model(name).http["method"] == _HTTP_VERBS[word], name
            checked += 1
    assert checked > 200


# -- resources ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "event_name", "params", "action", "arns"),
    [
        ("s3.amazonaws.com", "GetObject", {"bucketName": "b", "key": "a/b.json"},
         "s3:GetObject", ("arn:aws:s3:::b/a/b.json",)),
        ("s3.amazonaws.com", "ListObjects", {"bucketName": "b", "prefix": "a/"},
         "s3:ListBucket", ("arn:aws:s3:::b",)),
        ("s3.amazonaws.com", "PutObject", {"Bucket": "b", "Key": "k"},  # botocore names
         "s3:PutObject", ("arn:aws:s3:::b/k",)),
        ("dynamodb.amazonaws.com", "GetItem", {"tableName": "orders"},
         "dynamodb:GetItem", (f"arn:aws:dynamodb:{REGION}:{ACCT}:table/orders",)),
        ("dynamodb.amazonaws.com", "Query", {"tableName": "orders", "indexName": "by-date"},
         "dynamodb:Query", (f"arn:aws:dynamodb:{REGION}:{ACCT}:table/orders/index/by-date",)),
        ("dynamodb.amazonaws.com", "BatchWriteItem", {"requestItems": {"a": [], "b": []}},
         "dynamodb:BatchWriteItem", (f"arn:aws:dynamodb:{REGION}:{ACCT}:table/a",
                                     f"arn:aws:dynamodb:{REGION}:{ACCT}:table/b")),
        ("sqs.amazonaws.com", "SendMessage",
         {"queueUrl": "https://sqs.us-west-2.amazonaws.com/444455556666/jobs"},
         "sqs:SendMessage", ("arn:aws:sqs:us-west-2:444455556666:jobs",)),
        ("sqs.amazonaws.com", "ReceiveMessage",
         {"queueUrl": "https://eu-central-1.queue.amazonaws.com/444455556666/jobs"},
         "sqs:ReceiveMessage", ("arn:aws:sqs:eu-central-1:444455556666:jobs",)),
        ("sns.amazonaws.com", "Publish", {"topicArn": f"arn:aws:sns:{REGION}:{ACCT}:t"},
         "sns:Publish", (f"arn:aws:sns:{REGION}:{ACCT}:t",)),
        ("lambda.amazonaws.com", "Invoke", {"functionName": "notify"},
         "lambda:InvokeFunction", (f"arn:aws:lambda:{REGION}:{ACCT}:function:notify",)),
        ("lambda.amazonaws.com", "Invoke", {"functionName": "notify", "qualifier": "live"},
         "lambda:InvokeFunction", (f"arn:aws:lambda:{REGION}:{ACCT}:function:notify:live",)),
        ("lambda.amazonaws.com", "Invoke", {"functionName": "444455556666:function:notify"},
         "lambda:InvokeFunction", (f"arn:aws:lambda:{REGION}:444455556666:function:notify",)),
        ("lambda.amazonaws.com", "Invoke",
         {"functionName": f"arn:aws:lambda:us-east-1:{ACCT}:function:notify:3"},
         "lambda:InvokeFunction", (f"arn:aws:lambda:us-east-1:{ACCT}:function:notify:3",)),
        ("ssm.amazonaws.com", "GetParameter", {"name": "/app/db/url"},
         "ssm:GetParameter", (f"arn:aws:ssm:{REGION}:{ACCT}:parameter/app/db/url",)),
        ("ssm.amazonaws.com", "GetParameter", {"name": "flat"},
         "ssm:GetParameter", (f"arn:aws:ssm:{REGION}:{ACCT}:parameter/flat",)),
        ("secretsmanager.amazonaws.com", "GetSecretValue", {"secretId": "prod/db"},
         "secretsmanager:GetSecretValue", (f"arn:aws:secretsmanager:{REGION}:{ACCT}:secret:prod/db-??????",)),
        ("secretsmanager.amazonaws.com", "GetSecretValue",
         {"secretId": f"arn:aws:secretsmanager:{REGION}:{ACCT}:secret:prod/db-AbCdEf"},
         "secretsmanager:GetSecretValue", (f"arn:aws:secretsmanager:{REGION}:{ACCT}:secret:prod/db-AbCdEf",)),
        ("kms.amazonaws.com", "Decrypt", {"keyId": "1234abcd-12ab-34cd-56ef-1234567890ab"},
         "kms:Decrypt", (f"arn:aws:kms:{REGION}:{ACCT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",)),
        ("kms.amazonaws.com", "Encrypt", {"keyId": "alias/app"},
         "kms:Encrypt", ()),  # an alias is not the key the call is authorised on
        ("kms.amazonaws.com", "CreateAlias", {"aliasName": "alias/app", "targetKeyId": "k1"},
         "kms:CreateAlias", (f"arn:aws:kms:{REGION}:{ACCT}:alias/app", f"arn:aws:kms:{REGION}:{ACCT}:key/k1")),
        ("kinesis.amazonaws.com", "PutRecords", {"streamName": "audit"},
         "kinesis:PutRecords", (f"arn:aws:kinesis:{REGION}:{ACCT}:stream/audit",)),
        ("logs.amazonaws.com", "PutLogEvents", {"logGroupName": "/aws/lambda/f", "logStreamName": "2024/05/01/[$LATEST]ab"},
         "logs:PutLogEvents", (f"arn:aws:logs:{REGION}:{ACCT}:log-group:/aws/lambda/f:log-stream:2024/05/01/[$LATEST]ab",)),
        ("states.amazonaws.com", "StartExecution",
         {"stateMachineArn": f"arn:aws:states:{REGION}:{ACCT}:stateMachine:flow"},
         "states:StartExecution", (f"arn:aws:states:{REGION}:{ACCT}:stateMachine:flow",)),
        ("events.amazonaws.com", "PutEvents", {"entries": [{"eventBusName": "orders"}, {"source": "x"}]},
         "events:PutEvents", (f"arn:aws:events:{REGION}:{ACCT}:event-bus/orders",
                              f"arn:aws:events:{REGION}:{ACCT}:event-bus/default")),
        ("events.amazonaws.com", "DescribeEventBus",
         {"eventBusName": f"arn:aws:events:{REGION}:444455556666:event-bus/shared"},
         "events:DescribeEventBus", (f"arn:aws:events:{REGION}:444455556666:event-bus/shared",)),
    ],
)  # fmt: skip
def test_resources_from_parameters(
    catalog: Catalog,
    source: str,
    event_name: str,
    params: dict[str, object],
    action: str,
    arns: tuple[str, ...],
) -> None:
    result = mapped(catalog, source, event_name, params)
    assert action in result.actions
    assert result.resources_for(action) == arns


def test_record_resources_are_attached_to_the_actions_they_fit(catalog: Catalog) -> None:
    record_arns = ("arn:aws:s3:::b/k", "arn:aws:s3:::b")
    get = mapped(catalog, "s3.amazonaws.com", "GetObject", resources=record_arns)
    listing = mapped(catalog, "s3.amazonaws.com", "ListObjects", resources=record_arns)
    assert get.resources == ("arn:aws:s3:::b/k",)  # not the bucket
    assert listing.resources == ("arn:aws:s3:::b",)  # not the object


def test_copy_object_names_source_and_destination(catalog: Catalog) -> None:
    params = {"bucketName": "dst", "key": "d/1", "x-amz-copy-source": "src/s%2F1?versionId=9"}
    result = mapped(catalog, "s3.amazonaws.com", "CopyObject", params)
    assert result.actions == ("s3:GetObject", "s3:PutObject", "s3:GetObjectVersion")
    assert set(result.resources) == {"arn:aws:s3:::dst/d/1", "arn:aws:s3:::src/s/1"}
    # Read on the source only, written on the destination only.
    assert result.resources_for("s3:GetObject") == ("arn:aws:s3:::src/s/1",)
    assert result.resources_for("s3:GetObjectVersion") == ("arn:aws:s3:::src/s/1",)
    assert result.resources_for("s3:PutObject") == ("arn:aws:s3:::dst/d/1",)


def test_a_copy_onto_itself_reads_and_writes_the_same_object(catalog: Catalog) -> None:
    params = {"bucketName": "b", "key": "k", "x-amz-copy-source": "b/k"}
    result = mapped(catalog, "s3.amazonaws.com", "CopyObject", params)
    assert result.resources_for("s3:GetObject") == result.resources_for("s3:PutObject") == ("arn:aws:s3:::b/k",)


def test_upload_part_copy_reads_its_source_only(catalog: Catalog) -> None:
    params = {"bucketName": "dst", "key": "big", "x-amz-copy-source": "src/part", "partNumber": "1"}
    result = mapped(catalog, "s3.amazonaws.com", "UploadPartCopy", params)
    assert result.resources_for("s3:GetObject") == ("arn:aws:s3:::src/part",)
    assert result.resources_for("s3:PutObject") == ("arn:aws:s3:::dst/big",)


def test_account_and_region_come_from_the_record(catalog: Catalog) -> None:
    none = mapped(catalog, "dynamodb.amazonaws.com", "GetItem", {"tableName": "t"}, account=None)
    assert none.actions == ("dynamodb:GetItem",)
    assert none.resources == ()  # no account known: nothing is guessed
    china = mapped(
        catalog,
        "dynamodb.amazonaws.com",
        "GetItem",
        {"tableName": "t"},
        region="cn-north-1",
        principal="",
    )
    assert china.resources == (f"arn:aws-cn:dynamodb:cn-north-1:{ACCT}:table/t",)


def test_passing_a_role_needs_pass_role(catalog: Catalog) -> None:
    role = f"arn:aws:iam::{ACCT}:role/service/notify-role"
    result = mapped(
        catalog,
        "lambda.amazonaws.com",
        "CreateFunction20150331",
        {"functionName": "n", "role": role},
    )
    assert result.actions == ("lambda:CreateFunction", "iam:PassRole")
    assert result.resources_for("iam:PassRole") == (role,)
    assert result.resources_for("lambda:CreateFunction") == (f"arn:aws:lambda:{REGION}:{ACCT}:function:n",)
    assume = mapped(catalog, "sts.amazonaws.com", "AssumeRole", {"roleArn": role})
    assert assume.actions == ("sts:AssumeRole",)


# -- the fixture trail, end to end ----------------------------------------------------------


def test_orders_trail_maps_completely(catalog: Catalog) -> None:
    rows = []
    for item in read_cloudtrail([CT / "orders-trail.json"]):
        assert isinstance(item, Call)
        result = iam_actions(item, catalog)
        # Never dropped silently: either actions or a reason.
        assert bool(result.actions) != bool(result.unmapped_reason), item.operation
        rows.append(
            {
                "call": f"{item.service}:{item.operation}",
                "principal": item.principal,
                "error": item.error,
                "actions": {name: list(arns) for name, arns in result.action_resources},
                "unmapped": result.unmapped_reason,
            }
        )
    check_golden(CT / "orders-trail.golden.json", json.dumps(rows, indent=1) + "\n")


def test_object_subresources_of_a_version_need_the_version_action() -> None:
    """GetObjectTagging, PutObjectAcl... on a versionId need s3:GetObjectVersionTagging,
    s3:PutObjectVersionAcl... (S3 API reference, each operation's Permissions section)."""
    import dataclasses

    from iamlint.catalog import get_catalog
    from iamlint.narrow.calls import Call
    from iamlint.narrow.mapping import iam_actions

    for op, needed in (
        ("GetObjectTagging", "s3:GetObjectVersionTagging"),
        ("PutObjectAcl", "s3:PutObjectVersionAcl"),
        ("DeleteObjectTagging", "s3:DeleteObjectVersionTagging"),
        ("GetObjectAcl", "s3:GetObjectVersionAcl"),
        ("PutObjectTagging", "s3:PutObjectVersionTagging"),
    ):
        call = Call(
            service="s3",
            operation=op,
            principal="arn:aws:sts::111122223333:assumed-role/r/s",
            role_arn=None,
            session_name=None,
            time=None,
            region="eu-west-1",
            resources=(),
            parameters={"bucketName": "b", "key": "k", "versionId": "v1"},
            event_source="s3.amazonaws.com",
            account="111122223333",
        )
        assert needed in iam_actions(call, get_catalog()).actions, op
        plain = dataclasses.replace(call, parameters={"bucketName": "b", "key": "k"})
        assert needed not in iam_actions(plain, get_catalog()).actions, op
