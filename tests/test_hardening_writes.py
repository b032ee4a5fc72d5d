"""Writes: every file iamlint writes (--output, --baseline-write, evidence files, audit
snapshots, --apply) goes to a temporary file in the target's own directory and is renamed
over it; a symbolic link at the target is refused, never followed or replaced; an interrupted
write leaves the original untouched and no temporary file behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any, Self

import pytest
from click.testing import CliRunner

from iamlint import files
from iamlint.audit import snapshot
from iamlint.cli import cli
from iamlint.files import WriteError, write_atomic
from iamlint.narrow.calls import Call
from iamlint.narrow.evidence import read_evidence_file, write_evidence_file

ROOT = Path(__file__).resolve().parent.parent
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})


class Interrupted(Exception):
    """Stands for a crash, a full disk or Ctrl-C in the middle of a write."""


def failing_fdopen(monkeypatch: pytest.MonkeyPatch, after: int) -> None:
    """Make the temporary file's writer fail once `after` characters are written."""
    real_fdopen = os.fdopen

    class HalfWriter:
        def __init__(self, fh: Any) -> None:
            self._fh = fh

        def write(self, text: str) -> int:
            self._fh.write(text[:after])
            self._fh.flush()
            raise Interrupted

        def __getattr__(self, name: str) -> Any:
            return getattr(self._fh, name)

        def __enter__(self) -> Self:
            return self

        def __exit__(self, *exc: object) -> None:
            self._fh.close()

    monkeypatch.setattr(files.os, "fdopen", lambda *a, **k: HalfWriter(real_fdopen(*a, **k)))


def test_interrupted_write_keeps_the_original_and_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "report.sarif"
    target.write_text("original")
    failing_fdopen(monkeypatch, after=3)
    with pytest.raises(Interrupted):
        write_atomic(str(target), "new content " * 1000)
    assert target.read_text() == "original"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.sarif"]


def test_temporary_file_is_created_beside_the_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    real_mkstemp = tempfile.mkstemp

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs["dir"])
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", spy)
    (tmp_path / "sub").mkdir()
    write_atomic(str(tmp_path / "sub" / "out.json"), "{}")
    assert seen == [str(tmp_path / "sub")]  # same file system: the rename is atomic


def test_output_and_baseline_through_a_symbolic_link_are_refused(tmp_path: Path) -> None:
    policy = tmp_path / "p.json"
    policy.write_text(POLICY)
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim.txt"
    victim.write_text("keep me")
    project = tmp_path / "project"
    project.mkdir()
    (project / "report.sarif").symlink_to(victim)
    (project / "baseline.json").symlink_to(victim)
    for args in (
        ["--output", f"sarif={project / 'report.sarif'}"],
        ["--baseline-write", str(project / "baseline.json")],
    ):
        result = CliRunner().invoke(cli, ["check", str(policy), *args])
        assert result.exit_code == 2, result.output
        assert "refusing to write through a symbolic link" in result.output
    assert victim.read_text() == "keep me"
    assert (project / "report.sarif").is_symlink() and (project / "baseline.json").is_symlink()


def test_baseline_write_interrupted_keeps_the_old_baseline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    policy = tmp_path / "p.json"
    policy.write_text(POLICY)
    baseline = tmp_path / "baseline.json"
    assert CliRunner().invoke(cli, ["check", str(policy), "--baseline-write", str(baseline)]).exit_code in (0, 1)
    before = baseline.read_bytes()
    policy.write_text(POLICY.replace("s3:*", "iam:*"))
    failing_fdopen(monkeypatch, after=10)
    result = CliRunner().invoke(cli, ["check", str(policy), "--baseline-write", str(baseline)])
    assert isinstance(result.exception, Interrupted)
    assert baseline.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["baseline.json", "p.json"]


def _call(i: int) -> Call:
    return Call(
        service="s3",
        operation="GetObject",
        principal="arn:aws:sts::111122223333:assumed-role/r/s",
        role_arn=None,
        session_name="s",
        time="2026-01-01T00:00:00Z",
        region="eu-west-1",
        resources=(f"arn:aws:s3:::b/{i}",),
        parameters={},
        error=None,
    )


def test_evidence_file_is_atomic_and_refuses_symbolic_links(tmp_path: Path) -> None:
    target = tmp_path / "calls.jsonl"
    assert write_evidence_file(target, [_call(1)]) == 1
    before = target.read_bytes()

    def calls_then_crash() -> Any:
        yield _call(2)
        raise Interrupted

    with pytest.raises(Interrupted):
        write_evidence_file(target, calls_then_crash())
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calls.jsonl"]
    [call] = list(read_evidence_file(target))
    assert isinstance(call, Call) and call.resources == ("arn:aws:s3:::b/1",)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    link = tmp_path / "link.jsonl"
    link.symlink_to(victim)
    with pytest.raises(WriteError, match="symbolic link"):
        write_evidence_file(link, [_call(3)])
    assert victim.read_text() == "keep me" and link.is_symlink()


def test_audit_snapshots_are_written_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "account.json"
    target.write_text("previous snapshot")
    failing_fdopen(monkeypatch, after=5)
    with pytest.raises(Interrupted):
        snapshot.save(str(target), [("111122223333", "prod", {"UserDetailList": []})])
    assert target.read_text() == "previous snapshot"
    link = tmp_path / "link.json"
    link.symlink_to(target)
    monkeypatch.undo()
    with pytest.raises(WriteError):
        snapshot.save(str(link), [("111122223333", "prod", {"UserDetailList": []})])
    assert target.read_text() == "previous snapshot"


def test_apply_interrupted_keeps_the_template(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    template = tmp_path / "template.yaml"
    shutil.copy(ROOT / "fixtures" / "narrow" / "cfn-role.yaml", template)
    before = template.read_bytes()
    args = [
        "narrow",
        str(template),
        "--role",
        "WorkerRole",
        "--evidence",
        str(ROOT / "fixtures" / "narrow" / "cfn-role.evidence.jsonl"),
        "--session",
        "orders-worker",
        "--apply",
    ]
    failing_fdopen(monkeypatch, after=100)
    result = CliRunner().invoke(cli, args)
    assert isinstance(result.exception, Interrupted), result.output
    assert template.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["template.yaml"]
    monkeypatch.undo()
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert template.read_bytes() != before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["template.yaml"]  # nothing written beside it


def test_a_fifo_or_device_is_written_into_never_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write_atomic(str(fifo), iter(["{", "}"]))
    reader.join(timeout=10)
    assert got == [b"{}"] and fifo.is_fifo()
    # /dev/full refuses every write: an error naming it, and the device left as it is.
    with pytest.raises(WriteError, match="/dev/full: cannot write: No space left on device"):
        write_atomic("/dev/full", "x")
    assert not Path("/dev/full").is_file()
    with pytest.raises(WriteError, match="/dev/full"):
        write_evidence_file("/dev/full", [_call(1)])
    assert not Path("/dev/full").is_file()


def test_write_errors_name_the_path_asked_for(tmp_path: Path) -> None:
    policy = tmp_path / "p.json"
    policy.write_text(
        json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
    )
    (tmp_path / "folder").mkdir()
    for target, why in (
        (tmp_path / "folder", "is a directory; expected a file name"),
        (tmp_path / "missing" / "b.json", "cannot write: No such file or directory"),
    ):
        result = CliRunner().invoke(cli, ["check", str(policy), "--baseline-write", str(target)])
        assert result.exit_code == 2 and f"{target}: {why}" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "p.json"]  # no temporary file left


def test_a_new_report_follows_the_umask(tmp_path: Path) -> None:
    """mkstemp makes 0600 files; a report written for others to read must not stay so."""
    import os

    from iamlint.files import write_atomic

    old = os.umask(0o022)
    try:
        write_atomic(str(tmp_path / "report.html"), "<html></html>")
    finally:
        os.umask(old)
    assert (tmp_path / "report.html").stat().st_mode & 0o777 == 0o644
