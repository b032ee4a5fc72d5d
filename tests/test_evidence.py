"""Observed-call readers: CloudTrail in its delivery shapes, Lake exports, evidence files.

Fixtures in fixtures/sources/cloudtrail/ are hand-written on the model of real records: a
Lambda function (role `service/orders-role`, session `orders-fn`) and a deploying IAM user
(`ci/deployer`) in account 111122223333, plus service events that must be skipped.
"""

from __future__ import annotations

import gzip
import json
import shutil
import tracemalloc
from pathlib import Path

import pytest
from conftest import FIXTURES

from iamlint.narrow.calls import Call, EvidenceError, matches_principal, session_of
from iamlint.narrow.evidence import (
    ReadStats,
    read_cloudtrail,
    read_evidence_file,
    write_evidence_file,
)
from iamlint.narrow.jsonstream import Gunzip

CT = FIXTURES / "sources" / "cloudtrail"
ACCT = "111122223333"
ROLE = f"arn:aws:iam::{ACCT}:role/service/orders-role"
FUNCTION_PRINCIPAL = f"arn:aws:sts::{ACCT}:assumed-role/orders-role/orders-fn"
USER = f"arn:aws:iam::{ACCT}:user/ci/deployer"


def read(*paths: Path, **kwargs: object) -> tuple[list[Call], list[EvidenceError], ReadStats]:
    stats = ReadStats()
    calls: list[Call] = []
    errors: list[EvidenceError] = []
    for item in read_cloudtrail(paths, stats=stats, **kwargs):  # type: ignore[arg-type]
        (calls if isinstance(item, Call) else errors).append(item)  # type: ignore[arg-type]
    return calls, errors, stats


def ops(calls: list[Call]) -> list[str]:
    return [f"{c.service}:{c.operation}" for c in calls]


# -- the S3-delivery shape ------------------------------------------------------------------


def test_records_file_yields_the_principals_own_calls() -> None:
    calls, errors, stats = read(CT / "orders-trail.json")
    assert errors == []
    assert stats.records == 27
    assert len(calls) == 23
    # Calls AWS made itself are skipped and counted, one of each kind in the fixture.
    assert stats.skipped == {
        "service event": 1,
        "AWS service principal": 1,
        "service-linked role": 1,
        "console sign-in": 1,
    }
    assert "sts:AssumeRole" not in ops(calls)
    assert "ec2:CreateNetworkInterface" not in ops(calls)


def test_lambda_caller_is_described_fully() -> None:
    calls, _, _ = read(CT / "orders-trail.json")
    first = calls[0]
    assert (first.service, first.operation) == ("s3", "GetObject")
    assert first.principal == FUNCTION_PRINCIPAL
    assert first.role_arn == ROLE  # the issuer keeps the role path; the STS ARN does not
    assert first.session_name == "orders-fn"
    assert first.region == "eu-west-1"
    assert first.account == ACCT
    assert first.time == "2024-05-01T10:01:00Z"
    assert first.event_source == "s3.amazonaws.com"
    assert first.resources == (
        "arn:aws:s3:::orders-bucket/incoming/0001.json",
        "arn:aws:s3:::orders-bucket",
    )
    assert first.parameters["key"] == "incoming/0001.json"
    assert (first.source_file, first.source_index) == (str(CT / "orders-trail.json"), 0)


def test_event_names_lose_their_api_version_and_sources_map_to_iam_prefixes() -> None:
    calls, _, _ = read(CT / "orders-trail.json")
    names = ops(calls)
    assert "lambda:UpdateFunctionCode" in names
    assert "lambda:CreateFunction" in names
    assert not any(n.endswith(("20150331v2", "20150331")) for n in names)
    assert "cloudwatch:DescribeAlarms" in names  # eventSource monitoring.amazonaws.com


def test_s3_control_calls_are_told_apart_by_host() -> None:
    calls, _, _ = read(CT / "orders-trail.json")
    pab = next(c for c in calls if c.operation == "PutPublicAccessBlock")
    get = next(c for c in calls if c.operation == "GetObject")
    assert (pab.service, pab.api) == ("s3", "s3control")
    assert get.api == "s3"


def test_denied_calls_are_kept_and_flagged() -> None:
    calls, _, _ = read(CT / "orders-trail.json")
    denied = {c.operation: c.error for c in calls if c.denied}
    assert denied == {
        "PutObject": "AccessDenied",
        "DescribeInstances": "Client.UnauthorizedOperation",
    }
    assert not next(c for c in calls if c.operation == "GetObject").denied


def test_forwarded_calls_are_kept_by_default_and_can_be_skipped() -> None:
    # Secrets Manager decrypting with KMS on the function's behalf needs the function's own
    # kms:Decrypt permission (a forward access session), so it is evidence by default.
    calls, _, stats = read(CT / "orders-trail.json")
    decrypt = next(c for c in calls if c.operation == "Decrypt")
    assert decrypt.invoked_by == "secretsmanager.amazonaws.com"
    assert decrypt.principal == FUNCTION_PRINCIPAL
    assert stats.forwarded == 1
    calls, _, stats = read(CT / "orders-trail.json", include_forwarded=False)
    assert "kms:Decrypt" not in ops(calls)
    assert stats.skipped["invoked by a service"] == 1


def test_gzip_and_plain_json_give_the_same_calls() -> None:
    plain, _, _ = read(CT / "orders-trail.json")
    packed, errors, _ = read(CT / "orders-trail.json.gz")
    assert errors == []
    assert [(c.operation, c.principal, c.resources) for c in packed] == [
        (c.operation, c.principal, c.resources) for c in plain
    ]


def test_truncated_gzip_keeps_what_it_could_read_and_goes_on(tmp_path: Path) -> None:
    shutil.copy(CT / "truncated.json.gz", tmp_path / "a-truncated.json.gz")
    shutil.copy(CT / "array.json", tmp_path / "b-array.json")
    calls, errors, _ = read(tmp_path)
    assert len(errors) == 1
    assert errors[0].file.endswith("a-truncated.json.gz")
    assert "truncated" in errors[0].message
    from_truncated = [c for c in calls if c.source_file.endswith("a-truncated.json.gz")]
    # The cut falls inside record 12: the twelve before it are complete and kept.
    assert len(from_truncated) == 12
    assert errors[0].index == 12
    assert [c.operation for c in calls if c.source_file.endswith("b-array.json")] == [
        "GetObject",
        "ListObjects",
        "HeadObject",
    ]


def test_invalid_json_stops_that_file_only(tmp_path: Path) -> None:
    shutil.copy(CT / "invalid-json.json", tmp_path / "a.json")
    shutil.copy(CT / "array.json", tmp_path / "b.json")
    calls, errors, _ = read(tmp_path)
    assert [(e.index, e.line) for e in errors] == [(1, 1)]
    assert "Expecting ','" in errors[0].message
    text = (CT / "invalid-json.json").read_text()
    # The position names the missing comma: right after the eventSource value.
    where = text.index('"s3.amazonaws.com" "eventName"') + len('"s3.amazonaws.com"') + 1
    assert errors[0].offset == where
    assert errors[0].column == where + 1
    assert str(errors[0]).startswith(f"{tmp_path / 'a.json'}:1:{where + 1}: record 1: ")
    assert [c.source_file.endswith("a.json") for c in calls] == [True, False, False, False]


def test_records_missing_fields_are_reported_one_by_one() -> None:
    calls, errors, stats = read(CT / "bad-records.json")
    assert [(e.index, e.message) for e in errors] == [
        (0, "not a CloudTrail record (no eventSource and eventName)"),
        (1, "record has no userIdentity"),
        (2, "not a CloudTrail record (no eventSource and eventName)"),
    ]
    assert all(e.line is not None for e in errors)
    assert ops(calls) == ["s3:HeadObject"]
    assert stats.errors == 3


def test_missing_path_is_an_error_not_a_crash(tmp_path: Path) -> None:
    calls, errors, _ = read(tmp_path / "nope.json", CT / "array.json")
    assert [e.message for e in errors] == ["no such file or directory"]
    assert len(calls) == 3


def test_not_gzip_after_the_magic_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json.gz"
    bad.write_bytes(b"\x1f\x8b" + b"not really gzip" * 10)
    calls, errors, _ = read(bad)
    assert calls == []
    assert len(errors) == 1 and "decompress" in errors[0].message


# -- other shapes ---------------------------------------------------------------------------


def test_bare_array() -> None:
    calls, errors, _ = read(CT / "array.json")
    assert errors == []
    assert [c.source_index for c in calls] == [0, 1, 2]


def test_json_lines_skip_a_broken_line_and_go_on() -> None:
    calls, errors, _ = read(CT / "events.jsonl")
    assert ops(calls) == [
        "dynamodb:PutItem",
        "dynamodb:TransactWriteItems",
        "sqs:SendMessage",
        "sns:Publish",
    ]
    assert [(e.line, e.index) for e in errors] == [(3, 2)]


def test_event_history_lookup_events_output() -> None:
    calls, errors, _ = read(CT / "lookup-events.json")
    assert errors == []
    assert ops(calls) == [
        "lambda:UpdateFunctionCode",
        "lambda:CreateFunction",
        "cloudwatch:DescribeAlarms",
    ]
    assert {c.principal for c in calls} == {USER}


@pytest.mark.parametrize("name", ["lake-query-results.json", "lake-results.csv"])
def test_cloudtrail_lake_exports(name: str) -> None:
    calls, errors, _ = read(CT / name)
    assert errors == []
    assert ops(calls) == ["s3:GetObject", "dynamodb:PutItem", "sqs:SendMessage", "s3:PutObject"]
    first = calls[0]
    # Struct columns arrive as Java-style text with lower-case field names.
    assert first.principal == FUNCTION_PRINCIPAL
    assert first.role_arn == ROLE
    assert first.session_name == "orders-fn"
    assert first.account == ACCT
    assert first.resources == (
        "arn:aws:s3:::orders-bucket/incoming/0001.json",
        "arn:aws:s3:::orders-bucket",
    )
    assert calls[3].denied


def test_lake_csv_gzip(tmp_path: Path) -> None:
    target = tmp_path / "result_1.csv.gz"
    target.write_bytes(gzip.compress((CT / "lake-results.csv").read_bytes()))
    calls, errors, _ = read(tmp_path)
    assert errors == [] and len(calls) == 4


def test_directory_tree_skips_digest_files() -> None:
    calls, errors, stats = read(CT / "trail-tree")
    assert errors == []
    assert stats.files == 2  # the CloudTrail-Digest file is not read
    assert ops(calls) == ["s3:GetObject", "s3:ListObjects", "s3:HeadObject", "s3:PutObject"]


def test_concatenated_gzip_members(tmp_path: Path) -> None:
    one = json.dumps({"Records": json.loads((CT / "array.json").read_text())})
    target = tmp_path / "joined.json.gz"
    target.write_bytes(gzip.compress(one.encode()) + gzip.compress(one.encode()))
    calls, errors, _ = read(target)
    assert errors == []
    assert len(calls) == 6


def test_gunzip_hands_out_every_byte_before_failing(tmp_path: Path) -> None:
    payload = bytes(range(256)) * 4096
    packed = gzip.compress(payload)
    cut = tmp_path / "cut.gz"
    cut.write_bytes(packed[: len(packed) - 20])
    got = bytearray()
    with cut.open("rb") as fh:
        reader = Gunzip(fh, chunk=4096)
        with pytest.raises(EOFError):
            while chunk := reader.read(4096):
                got.extend(chunk)
    assert len(got) > len(payload) - 4096 * 2
    assert bytes(got) == payload[: len(got)]


# -- principals -----------------------------------------------------------------------------


def test_matches_principal_by_role_session_and_user() -> None:
    calls, _, _ = read(CT / "orders-trail.json")
    function = next(c for c in calls if c.operation == "GetObject")
    deployer = next(c for c in calls if c.operation == "UpdateFunctionCode")
    assert matches_principal(function, role_arn=ROLE)
    # The path is not in the STS ARN: the same role named without it still matches.
    assert matches_principal(function, role_arn=f"arn:aws:iam::{ACCT}:role/orders-role")
    assert matches_principal(function, role_arn="orders-role")
    assert matches_principal(function, role_arn=ROLE, session="orders-fn")
    assert not matches_principal(function, session="other-fn")
    assert not matches_principal(function, role_arn="arn:aws:iam::999999999999:role/orders-role")
    assert not matches_principal(function, user=USER)
    assert matches_principal(deployer, user=USER)
    assert matches_principal(deployer, user="deployer")
    assert matches_principal(deployer, user=f"arn:aws:iam::{ACCT}:user/deployer")
    assert not matches_principal(deployer, role_arn=ROLE)
    assert not matches_principal(deployer, user="someone-else")


def test_role_is_derived_from_the_sts_arn_when_the_issuer_is_absent() -> None:
    call = Call(
        service="s3",
        operation="GetObject",
        principal=FUNCTION_PRINCIPAL,
        role_arn=None,
        session_name=session_of(FUNCTION_PRINCIPAL),
        time=None,
        region=None,
        resources=(),
        parameters={},
    )
    assert call.session_name == "orders-fn"
    assert matches_principal(call, role_arn=ROLE)
    assert not matches_principal(call, role_arn=f"arn:aws:iam::{ACCT}:role/other-role")


# -- evidence files -------------------------------------------------------------------------


def test_evidence_file_round_trip(tmp_path: Path) -> None:
    calls, _, _ = read(CT / "orders-trail.json")
    target = tmp_path / "evidence.jsonl"
    assert write_evidence_file(target, calls) == len(calls)
    back = list(read_evidence_file(target))
    assert all(isinstance(c, Call) for c in back)
    assert [
        (c.service, c.operation, c.principal, c.resources, c.error, c.time, c.role_arn)
        for c in back  # type: ignore[union-attr]
    ] == [(c.service, c.operation, c.principal, c.resources, c.error, c.time, c.role_arn) for c in calls]
    restored = back[0]
    assert isinstance(restored, Call)
    assert restored.parameters == calls[0].parameters
    assert restored.session_name == "orders-fn"
    assert [p.name for p in tmp_path.iterdir()] == ["evidence.jsonl"]  # no temporary left


def test_evidence_file_minimal_lines_and_bad_lines(tmp_path: Path) -> None:
    target = tmp_path / "evidence.jsonl"
    target.write_text(
        json.dumps({"service": "s3", "operation": "GetObject", "principal": FUNCTION_PRINCIPAL})
        + "\n\n"
        + "{not json\n"
        + json.dumps({"service": "s3"})
        + "\n"
        + json.dumps({"service": "sqs", "operation": "SendMessage", "resources": "x"})
        + "\n"
        + json.dumps({"service": "lambda", "operation": "UpdateFunctionCode20150331v2"})
        + "\n"
    )
    items = list(read_evidence_file(target))
    calls = [i for i in items if isinstance(i, Call)]
    errors = [i for i in items if isinstance(i, EvidenceError)]
    assert ops(calls) == ["s3:GetObject", "lambda:UpdateFunctionCode"]
    assert calls[0].session_name == "orders-fn"
    assert [(e.line, e.message.split(":")[0]) for e in errors] == [
        (3, "invalid JSON"),
        (4, "missing or empty 'operation'"),
        (5, "'resources' must be a list of ARN strings"),
    ]


def test_write_failure_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "evidence.jsonl"
    target.write_text("old\n")

    def broken() -> list[Call]:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_evidence_file(target, (c for c in broken()))
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["evidence.jsonl"]


# -- memory ---------------------------------------------------------------------------------

_RECORD = (
    '{{"eventVersion":"1.09","userIdentity":{{"type":"AssumedRole","principalId":"AROAX:fn",'
    '"arn":"arn:aws:sts::{acct}:assumed-role/r/fn","accountId":"{acct}","sessionContext":'
    '{{"sessionIssuer":{{"type":"Role","arn":"arn:aws:iam::{acct}:role/r","accountId":"{acct}"}}}}}},'
    '"eventTime":"2024-05-01T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject",'
    '"awsRegion":"eu-west-1","requestParameters":{{"bucketName":"b","key":"k/{i:07d}"}},'
    '"resources":[{{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::b/k/{i:07d}"}}],'
    '"eventType":"AwsApiCall","recipientAccountId":"{acct}"}}'
)


def test_streaming_a_large_records_file_keeps_memory_flat(tmp_path: Path) -> None:
    count = 200_000
    target = tmp_path / "big.json.gz"
    with gzip.open(target, "wt", compresslevel=1) as out:
        out.write('{"Records":[')
        for i in range(count):
            out.write(("," if i else "") + _RECORD.format(acct=ACCT, i=i))
        out.write("]}")
    size = sum(len(_RECORD.format(acct=ACCT, i=i)) for i in (0, count - 1)) // 2 * count
    assert size > 100_000_000  # ~120 MB of JSON: json.load would need several times that
    tracemalloc.start()
    try:
        seen = 0
        last = None
        for item in read_cloudtrail([target]):
            assert isinstance(item, Call)
            seen += 1
            last = item
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == count
    assert last is not None and last.resources == (f"arn:aws:s3:::b/k/{count - 1:07d}",)
    assert peak < 16 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
