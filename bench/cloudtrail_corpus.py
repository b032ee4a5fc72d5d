"""CloudTrail evidence: mapping coverage on a real corpus, and streaming cost on a large file.

Usage:
  python bench/cloudtrail_corpus.py [PATH ...]      # default: /work/shared/corpus/cloudtrail
  python bench/cloudtrail_corpus.py --generate-gb N [--keep]

Corpus mode reads every CloudTrail file under PATH with `iamlint.narrow.evidence` and maps each
call with `iamlint.narrow.mapping`, then prints per IAM service prefix: calls parsed, mapped,
unmapped (with the most common unmapped operations and why), denied; plus parse errors and the
records skipped as AWS's own.

`--generate-gb N` writes bench/out/cloudtrail/Records-<N>GB.json.gz holding N GB (10^9 bytes)
of uncompressed `{"Records": [...]}` JSON, varied enough to compress like real logs, then
streams it in a fresh process (read + map every call) and reports that process's peak RSS
(`resource.getrusage`) against its RSS after imports, and the throughput.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import resource
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from iamlint.narrow.evidence import Call, ReadStats, read_cloudtrail
from iamlint.narrow.mapping import iam_actions

ROOT = Path(__file__).resolve().parent.parent

CORPUS = Path("/work/shared/corpus/cloudtrail")
OUT = ROOT / "bench" / "out" / "cloudtrail"


# -- corpus coverage ------------------------------------------------------------------------


def corpus(paths: list[Path]) -> None:
    stats = ReadStats()
    per: dict[str, Counter[str]] = defaultdict(Counter)
    unmapped: dict[str, Counter[tuple[str, str]]] = defaultdict(Counter)
    errors: list[str] = []
    started = time.perf_counter()
    for item in read_cloudtrail(paths, stats=stats):
        if not isinstance(item, Call):
            errors.append(str(item))
            continue
        result = iam_actions(item)
        row = per[item.service]
        row["parsed"] += 1
        row["denied"] += item.denied
        if result.mapped:
            row["mapped"] += 1
        else:
            row["unmapped"] += 1
            unmapped[item.service][(item.operation, _short(result.unmapped_reason or ""))] += 1
    elapsed = time.perf_counter() - started

    print(f"corpus: {', '.join(map(str, paths))}")
    print(
        f"files {stats.files}, records {stats.records}, calls {stats.calls}, "
        f"parse errors {len(errors)}, {elapsed:.2f} s"
    )
    skipped = ", ".join(f"{why} {n}" for why, n in stats.skipped.most_common()) or "none"
    print(f"skipped as AWS's own: {skipped}; forwarded (kept): {stats.forwarded}")
    print()
    print(f"{'service':<28}{'parsed':>8}{'mapped':>8}{'unmapped':>10}{'denied':>8}")
    total: Counter[str] = Counter()
    for service, row in sorted(per.items(), key=lambda kv: -kv[1]["parsed"]):
        total.update(row)
        print(f"{service:<28}{row['parsed']:>8}{row['mapped']:>8}{row['unmapped']:>10}{row['denied']:>8}")
    print(f"{'TOTAL':<28}{total['parsed']:>8}{total['mapped']:>8}{total['unmapped']:>10}{total['denied']:>8}")
    if total["parsed"]:
        share = 100 * total["mapped"] / total["parsed"]
        print(f"mapped to at least one action: {share:.1f}%")
    if unmapped:
        print("\nunmapped operations (top 5 per service):")
        for service, ops in sorted(unmapped.items()):
            for (operation, reason), n in ops.most_common(5):
                print(f"  {service}:{operation} x{n}: {reason}")
    for line in errors[:10]:
        print(f"  parse error: {line}")


def _short(reason: str) -> str:
    # The catalogue version and documentation URLs make every line long; keep the gist.
    return reason.split(" (", 1)[0] if reason.startswith("no ") else reason


# -- synthetic stream -----------------------------------------------------------------------

ACCT = "111122223333"
_SHAPES = [
    ("s3.amazonaws.com", "GetObject", lambda r: {"bucketName": "orders-bucket", "key": _key(r)}),
    ("s3.amazonaws.com", "PutObject", lambda r: {"bucketName": "orders-archive", "key": _key(r)}),
    ("s3.amazonaws.com", "ListObjects", lambda r: {"bucketName": "orders-bucket", "prefix": "in/"}),
    ("dynamodb.amazonaws.com", "PutItem", lambda r: {"tableName": "orders", "key": _key(r)}),
    ("dynamodb.amazonaws.com", "Query", lambda r: {"tableName": "orders", "indexName": "by-day"}),
    (
        "sqs.amazonaws.com",
        "SendMessage",
        lambda r: {"queueUrl": f"https://sqs.eu-west-1.amazonaws.com/{ACCT}/orders-events"},
    ),
    ("kms.amazonaws.com", "Decrypt", lambda r: {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
    ("lambda.amazonaws.com", "Invoke", lambda r: {"functionName": "notify-fn"}),
    ("ssm.amazonaws.com", "GetParameter", lambda r: {"name": "/orders/db-url"}),
    ("monitoring.amazonaws.com", "PutMetricData", lambda r: {"namespace": "Orders"}),
    ("sts.amazonaws.com", "GetCallerIdentity", lambda r: None),
]


def _key(r: random.Random) -> str:
    return f"in/{r.getrandbits(48):012x}/{r.randrange(10**6):06d}.json"


def _record(r: random.Random, i: int) -> dict[str, object]:
    source, name, params = _SHAPES[r.randrange(len(_SHAPES))]
    fn = f"fn-{r.randrange(40):02d}"
    return {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": f"AROAEXAMPLE{r.randrange(40):02d}:{fn}",
            "arn": f"arn:aws:sts::{ACCT}:assumed-role/{fn}-role/{fn}",
            "accountId": ACCT,
            "accessKeyId": f"ASIA{r.getrandbits(64):016X}",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": "AROAEXAMPLE",
                    "arn": f"arn:aws:iam::{ACCT}:role/service/{fn}-role",
                    "accountId": ACCT,
                    "userName": f"{fn}-role",
                },
                "attributes": {"creationDate": "2024-05-01T09:00:00Z", "mfaAuthenticated": "false"},
            },
        },
        "eventTime": f"2024-05-01T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
        "eventSource": source,
        "eventName": name,
        "awsRegion": "eu-west-1",
        "sourceIPAddress": f"203.0.113.{r.randrange(256)}",
        "userAgent": "Boto3/1.34.90 md/Botocore#1.34.90 ua/2.0 os/linux lang/python#3.12.3",
        "requestParameters": params(r),
        "responseElements": None,
        "requestID": f"{r.getrandbits(128):032x}",
        "eventID": f"{r.getrandbits(128):032x}",
        "readOnly": name.startswith(("Get", "List", "Query")),
        "eventType": "AwsApiCall",
        "managementEvent": False,
        "recipientAccountId": ACCT,
        "eventCategory": "Data",
        **({"errorCode": "AccessDenied"} if r.random() < 0.01 else {}),
    }


def generate(gigabytes: float) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    target = OUT / f"Records-{gigabytes:g}GB.json.gz"
    want = int(gigabytes * 1e9)
    r = random.Random(20240501)
    written = count = 0
    started = time.perf_counter()
    with gzip.open(target, "wt", compresslevel=1, encoding="utf-8") as out:
        out.write('{"Records":[')
        while written < want:
            text = ("," if count else "") + json.dumps(_record(r, count), separators=(",", ":"))
            out.write(text)
            written += len(text)
            count += 1
        out.write("]}")
    print(
        f"wrote {target.relative_to(ROOT)}: {count} records, {written / 1e9:.2f} GB of JSON, "
        f"{target.stat().st_size / 1e6:.0f} MB gzip, in {time.perf_counter() - started:.0f} s"
    )
    return target


def stream(path: Path, do_map: bool) -> None:
    """Child process: read (and map) everything, report RSS and throughput as JSON."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    calls = errors = mapped = 0
    for item in read_cloudtrail([path]):
        if isinstance(item, Call):
            calls += 1
            if do_map and iam_actions(item).mapped:
                mapped += 1
        else:
            errors += 1
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    print(
        json.dumps(
            {
                "calls": calls,
                "errors": errors,
                "mapped": mapped,
                "seconds": elapsed,
                "cpu_seconds": cpu,
                "rss_after_imports_kb": before.ru_maxrss,
                "peak_rss_kb": after.ru_maxrss,
            }
        )
    )


def measure(path: Path, json_bytes: int) -> None:
    for do_map in (False, True):
        args = [sys.executable, __file__, "--stream", str(path)] + (["--map"] if do_map else [])
        done = subprocess.run(args, capture_output=True, text=True, check=True)
        res = json.loads(done.stdout.strip().splitlines()[-1])
        label = "read + map" if do_map else "read only "
        # CPU time as well as wall time: on a shared machine the wall clock mostly measures
        # the neighbours.
        print(
            f"{label}: {res['calls']} calls ({res['errors']} errors) in {res['seconds']:.1f} s "
            f"wall, {res['cpu_seconds']:.1f} s CPU = "
            f"{json_bytes / 1e6 / res['cpu_seconds']:.0f} MB/s of JSON, "
            f"{res['calls'] / res['cpu_seconds'] / 1000:.0f}k calls/s per CPU second; peak RSS "
            f"{res['peak_rss_kb'] / 1024:.0f} MB (after imports "
            f"{res['rss_after_imports_kb'] / 1024:.0f} MB)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--generate-gb", type=float, metavar="N")
    parser.add_argument("--keep", action="store_true", help="keep the generated file")
    parser.add_argument("--stream", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--map", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stream:
        stream(args.stream, args.map)
        return
    if args.generate_gb:
        target = generate(args.generate_gb)
        with gzip.open(target, "rb") as fh:  # exact uncompressed size, streamed
            size = sum(len(chunk) for chunk in iter(lambda: fh.read(1 << 20), b""))
        measure(target, size)
        if not args.keep:
            target.unlink()
        return
    corpus(args.paths or [CORPUS])


if __name__ == "__main__":
    main()
