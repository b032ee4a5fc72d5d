"""CloudTrail at scale: 10 million records through the reader, with flat memory.

The records are generated lazily and fed to `read_cloudtrail` as one `{"Records": [...]}`
stream (its file opener is swapped for the generator), so nothing is written to disk and the
parser, record mapping and call building are the ones `iamlint narrow --cloudtrail` uses.
Prints records per second and the process's peak resident memory at checkpoints (with
`--traced`, tracemalloc's peak too, at several times the run time): a reader that kept
records would grow with the count. tests/test_hardening_cloudtrail.py runs the same, traced,
with 100,000 records.

    .venv/bin/python bench/cloudtrail_flat_memory.py [RECORDS] [--traced]   (default 10,000,000)
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import resource
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from iamlint.narrow import evidence
from iamlint.narrow.calls import Call


def record(i: int) -> dict[str, Any]:
    return {
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "AssumedRole",
            "arn": f"arn:aws:sts::111122223333:assumed-role/app/session-{i % 50}",
            "accountId": "111122223333",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111122223333:role/app"}},
        },
        "eventTime": f"2026-01-01T00:{(i // 60) % 60:02d}:{i % 60:02d}Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": ("GetObject", "PutObject", "ListObjects")[i % 3],
        "awsRegion": "eu-west-1",
        "requestParameters": {"bucketName": "data", "key": f"prefix/{i}.json"},
        "resources": [{"ARN": f"arn:aws:s3:::data/prefix/{i}.json", "type": "AWS::S3::Object"}],
        "recipientAccountId": "111122223333",
    }


class GeneratedTrail(io.RawIOBase):
    """`{"Records": [...]}` with `count` records, produced as it is read."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self._parts = self._generate(count)
        self._pending = b""

    @staticmethod
    def _generate(count: int) -> Iterator[bytes]:
        yield b'{"Records": ['
        for i in range(count):
            yield (b"," if i else b"") + json.dumps(record(i)).encode()
        yield b"]}"

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while len(self._pending) < len(buffer):
            part = next(self._parts, None)
            if part is None:
                break
            self._pending += part
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def stream_calls(count: int, folder: Path) -> Iterator[Call | evidence.EvidenceError]:
    """The calls of `count` generated records, through `read_cloudtrail`."""
    path = folder / "generated-trail.json"
    path.write_text("{}")  # the reader checks the path exists; the content comes from the generator

    @contextlib.contextmanager
    def generated(_: Path) -> Iterator[IO[bytes]]:
        yield io.BufferedReader(GeneratedTrail(count), buffer_size=1 << 16)

    original = evidence.open_binary
    evidence.open_binary = generated  # type: ignore[assignment]
    try:
        yield from evidence.read_cloudtrail([path])
    finally:
        evidence.open_binary = original  # type: ignore[assignment]


def _memory(traced: bool) -> str:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    if not traced:
        return f"peak RSS {rss:6.1f} MiB"
    current, peak = tracemalloc.get_traced_memory()
    return f"peak RSS {rss:6.1f} MiB  traced now {current / 2**20:6.1f} MiB  traced peak {peak / 2**20:6.1f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("records", type=int, nargs="?", default=10_000_000)
    parser.add_argument("--traced", action="store_true", help="also tracemalloc's peak (several times slower)")
    opts = parser.parse_args()
    traced, count = opts.traced, opts.records
    checkpoint = max(1, count // 10)
    if traced:
        tracemalloc.start()
    started = time.monotonic()
    calls = errors = 0
    with tempfile.TemporaryDirectory() as tmp:
        for item in stream_calls(count, Path(tmp)):
            if isinstance(item, Call):
                calls += 1
            else:
                errors += 1
            seen = calls + errors
            if seen % checkpoint == 0:
                elapsed = time.monotonic() - started
                print(f"{seen:>11,} records  {seen / elapsed:>9,.0f}/s  {_memory(traced)}", flush=True)
    elapsed = time.monotonic() - started
    print(f"done: {calls:,} calls, {errors} errors in {elapsed:.0f} s; {_memory(traced)}")


if __name__ == "__main__":
    main()
