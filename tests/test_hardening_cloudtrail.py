"""Hostile and broken CloudTrail input: truncated gzip, records missing fields, records nested
too deep, and many millions of records in flat memory.

The 10-million-record run is `bench/cloudtrail_flat_memory.py` (minutes); this suite streams
100,000 generated records through the same reader and holds the traced peak to a few MiB.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import sys
import tracemalloc
from pathlib import Path
from types import ModuleType

import pytest

from iamlint.narrow import jsonstream
from iamlint.narrow.calls import Call, EvidenceError
from iamlint.narrow.evidence import ReadStats, read_cloudtrail, read_evidence_file

ROOT = Path(__file__).resolve().parent.parent
MIB = 1 << 20


def bench_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "cloudtrail_flat_memory", ROOT / "bench" / "cloudtrail_flat_memory.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def trail(records: list[object]) -> bytes:
    return json.dumps({"Records": records}).encode()


def test_generated_records_stream_in_flat_memory(tmp_path: Path) -> None:
    bench = bench_module()
    count = 100_000
    calls = 0
    tracemalloc.start()
    try:
        for item in bench.stream_calls(count, tmp_path):
            assert isinstance(item, Call)
            calls += 1
            if calls == 1000:
                tracemalloc.reset_peak()  # after the catalogue and mapping tables are loaded
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert calls == count
    # The records alone are about 60 MB of JSON; a reader that kept them would use several times that.
    assert peak < 8 * MIB, f"traced peak {peak / MIB:.1f} MiB"


def test_truncated_gzip_yields_every_complete_record_then_an_error(tmp_path: Path) -> None:
    bench = bench_module()
    whole = gzip.compress(trail([bench.record(i) for i in range(2000)]))
    path = tmp_path / "cut.json.gz"
    path.write_bytes(whole[: len(whole) * 2 // 3])
    items = list(read_cloudtrail([path]))
    calls = [i for i in items if isinstance(i, Call)]
    errors = [i for i in items if isinstance(i, EvidenceError)]
    assert 500 < len(calls) < 2000
    [error] = errors
    assert "truncated compressed stream" in error.message and error.file == str(path)


def test_corrupt_and_non_gzip_bytes_are_errors_not_exceptions(tmp_path: Path) -> None:
    (tmp_path / "corrupt.json.gz").write_bytes(b"\x1f\x8b\x08\x00" + b"\xff" * 200)
    (tmp_path / "binary.json").write_bytes(bytes(range(256)) * 10)
    (tmp_path / "utf16.json").write_bytes(trail([]).decode().encode("utf-16"))
    items = list(read_cloudtrail([tmp_path]))
    assert items and all(isinstance(i, EvidenceError) for i in items)
    assert {Path(i.file).name for i in items} == {"corrupt.json.gz", "binary.json", "utf16.json"}


def test_records_with_missing_or_wrong_fields_are_reported_and_skipped(tmp_path: Path) -> None:
    bench = bench_module()
    good = bench.record(1)
    broken: list[object] = [
        {},
        {"eventSource": "s3.amazonaws.com"},
        {"eventName": "GetObject"},
        {**good, "userIdentity": None},
        {**good, "eventSource": 7},
        {**good, "eventName": ""},
        {**good, "requestParameters": "not an object", "resources": "nor a list"},
        {**good, "userIdentity": {"type": ["odd"], "sessionContext": "x", "arn": {"x": 1}}},
        "a string",
        42,
        None,
        [],
        good,
        {**good, "eventType": []},
        {**good, "eventType": {"x": 1}},
    ]
    path = tmp_path / "mixed.json"
    path.write_bytes(trail(broken))
    stats = ReadStats()
    items = list(read_cloudtrail([path], stats=stats))
    calls = [i for i in items if isinstance(i, Call)]
    errors = [i for i in items if isinstance(i, EvidenceError)]
    assert len(calls) == 3  # the good record, and the two whose odd fields are only ignored
    assert stats.records == len(broken)
    assert {e.index for e in errors} == {0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 13, 14}
    assert "eventType is list" in next(e.message for e in errors if e.index == 13)
    assert all(e.file == str(path) for e in errors)


def test_records_nested_too_deep_are_errors_and_reading_goes_on(tmp_path: Path) -> None:
    bench = bench_module()
    deep = "[" * 100_000 + "]" * 100_000
    good = json.dumps(bench.record(1))
    lines = tmp_path / "events.jsonl"
    lines.write_text(f'{good}\n{{"eventName": {deep}}}\n{good}\n')
    document = tmp_path / "deep.json"
    document.write_text('{"Records": [' + good + "," + deep + "]}")
    evidence = tmp_path / "evidence.jsonl"
    evidence.write_text(deep + "\n")
    items = list(read_cloudtrail([lines, document]))
    assert sum(isinstance(i, Call) for i in items) == 3
    errors = [i for i in items if isinstance(i, EvidenceError)]
    assert [Path(e.file).name for e in errors] == ["events.jsonl", "deep.json"]
    assert all("nested too deep" in e.message for e in errors)
    [error] = list(read_evidence_file(evidence))
    assert isinstance(error, EvidenceError) and "invalid JSON" in error.message


def test_one_enormous_record_is_refused_not_buffered_forever(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonstream, "MAX_VALUE_CHARS", 4 * MIB)  # 64 MiB in use; 4 keeps the test quick
    path = tmp_path / "huge-record.json"
    with open(path, "w") as fh:
        fh.write('{"Records": [{"eventSource": "s3.amazonaws.com", "pad": "')
        fh.writelines("x" * MIB for _ in range(40))
    tracemalloc.start()
    try:
        items = list(read_cloudtrail([path]))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    [error] = items
    assert isinstance(error, EvidenceError) and "too large" in error.message
    assert peak < 24 * MIB, f"traced peak {peak / MIB:.1f} MiB for a 40 MiB record"
