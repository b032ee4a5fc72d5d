"""Hostile file systems: symlink loops and escapes, FIFOs and devices, unreadable and vanishing
files, and file names that try to break the output formats.

The tests run as root, so `chmod 000` cannot make a file unreadable: the permission error is
raised by a patched `os.open` instead, which is the call the reader makes.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from tooling import BIN

from iamlint.cli import cli
from iamlint.loaders import inputs
from iamlint.loaders.inputs import InputOptions, expand_inputs, load_input, load_paths

POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
SECRET = "AKIAEXAMPLESECRET0000 not json {"


def finishes(fn: Any, seconds: float = 20.0) -> Any:
    """Run `fn` in a thread; fail (instead of hanging the suite) if it blocks."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised below in the test's thread
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"blocked for more than {seconds} s"
    if "error" in box:
        raise box["error"]
    return box["value"]


def test_symlinks_out_of_the_scanned_tree_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "credentials.json").write_text(SECRET)
    (outside / "policy.json").write_text(POLICY)
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "ok.json").write_text(POLICY)
    (tree / "creds.json").symlink_to(outside / "credentials.json")
    (tree / "abs.json").symlink_to(outside / "policy.json")
    (tree / "rel.json").symlink_to(Path("..") / "outside" / "policy.json")
    (tree / "inside.json").symlink_to("ok.json")
    (tree / "outdir").symlink_to(outside, target_is_directory=True)
    files = [p for p, _ in expand_inputs([str(tree)], InputOptions())]
    assert sorted(os.path.basename(p) for p in files) == ["inside.json", "ok.json"]
    result = CliRunner().invoke(cli, ["check", str(tree), "--format", "json"])
    assert "AKIAEXAMPLESECRET" not in result.stdout
    assert {f["location"]["file"] for f in json.loads(result.stdout)["findings"]} == {
        str(tree / "ok.json"),
        str(tree / "inside.json"),
    }


def test_symlink_loops_end_as_input_errors(tmp_path: Path) -> None:
    (tmp_path / "loop.json").symlink_to("loop.json")
    (tmp_path / "a.json").symlink_to("b.json")
    (tmp_path / "b.json").symlink_to("a.json")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "up").symlink_to("..", target_is_directory=True)
    (sub / "ok.json").write_text(POLICY)
    loaded = finishes(lambda: load_paths([str(tmp_path)]))
    assert sorted(os.path.basename(e.file) for e in loaded.errors) == ["a.json", "b.json", "loop.json"]
    assert all("symbolic links" in e.message for e in loaded.errors)
    assert len(loaded.documents) == 1


def test_cdk_assembly_symlinks_out_of_the_assembly_are_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.json").write_text(SECRET)
    out = tmp_path / "cdk.out"
    out.mkdir()
    (out / "cdk.out").write_text('{"version": "36.0.0"}')
    (out / "Stack.template.json").symlink_to(tmp_path / "secret.json")
    (out / "manifest.json").write_text(
        json.dumps(
            {
                "version": "36.0.0",
                "artifacts": {
                    "Stack": {
                        "type": "aws:cloudformation:stack",
                        "properties": {"templateFile": "Stack.template.json"},
                    },
                    "Up": {"type": "aws:cloudformation:stack", "properties": {"templateFile": "../secret.json"}},
                    "Stage": {"type": "cdk:cloud-assembly", "properties": {"directoryName": "."}},
                },
            }
        )
    )
    loaded = finishes(lambda: load_paths([str(tmp_path)]))
    messages = " ".join(e.message for e in loaded.errors)
    assert "through a symbolic link" in messages and "refusing to read outside it" in messages
    assert "already being loaded" in messages
    assert "AKIAEXAMPLESECRET" not in messages


def test_fifos_sockets_and_devices_never_block(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.json")
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(tmp_path / "sock.json"))
        (tmp_path / "ok.json").write_text(POLICY)
        loaded = finishes(lambda: load_paths([str(tmp_path), os.devnull, str(tmp_path / "pipe.json")]))
    finally:
        server.close()
    refused = {e.file: e.message for e in loaded.errors}
    assert set(refused) == {str(tmp_path / "pipe.json"), str(tmp_path / "sock.json"), os.devnull}
    assert all("not a regular file" in m for m in refused.values())
    assert len(loaded.documents) == 1


def test_a_file_swapped_for_a_fifo_after_the_walk_does_not_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Between looking at a file and opening it, the file can become a FIFO (another process, a
    # hostile checkout). The reader must decide on what it opened, not on what it looked at.
    fifo = tmp_path / "swapped.json"
    os.mkfifo(fifo)
    regular = os.stat(__file__)
    real_stat = os.stat
    monkeypatch.setattr(inputs.os, "stat", lambda p, *a, **k: regular if str(p) == str(fifo) else real_stat(p, *a, **k))
    data = finishes(lambda: inputs.read_input(str(fifo), InputOptions()))
    assert "not a regular file" in data.message


def test_unreadable_and_vanishing_files_are_input_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("locked.json", "gone.json", "ok.json"):
        (tmp_path / name).write_text(POLICY)
    real_open = os.open

    def guarded_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if os.fspath(path) == str(tmp_path / "locked.json"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", guarded_open)
    found = expand_inputs([str(tmp_path)], InputOptions())
    (tmp_path / "gone.json").unlink()  # the directory entry disappears after the walk
    results = [load_input(path, InputOptions(), explicit=explicit) for path, explicit in found]
    errors = {e.file: e.message for r in results for e in r.errors}
    assert errors == {
        str(tmp_path / "locked.json"): "cannot read: Permission denied",
        str(tmp_path / "gone.json"): "cannot read: No such file or directory",
    }
    assert sum(len(r.documents) for r in results) == 1


ODD_NAMES = [
    "new\nline::error file=evil.json::forged.json",
    "carriage\rreturn.json",
    "ünïcødé ☃ 名前.json",
    "esc\x1b[31mred.json",
    "per%cent,comma:colon.json",
    "bidi\u202egnp.json",
]


def test_odd_file_names_are_reported_safely_in_every_format(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in ODD_NAMES:
        (tree / name).write_text(POLICY)
    undecodable = os.fsencode(str(tree)) + b"/bad\xffbyte.json"
    with open(undecodable, "wb") as fh:
        fh.write(POLICY.encode())
    outputs = {fmt: tmp_path / f"out.{fmt}" for fmt in ("json", "sarif", "github", "markdown", "text")}
    args = ["check", str(tree), "--format", "text", *[f"--output={k}={v}" for k, v in outputs.items()]]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    # text: one line per finding and its context, control characters shown as escapes
    text = outputs["text"].read_text()
    assert "\x1b" not in text and "\r" not in text and "\u202e" not in text
    assert not any(line.startswith("::") for line in text.splitlines())
    assert "new\\nline::error" in text and "esc\\x1b[31mred" in text and "bidi\\u202egnp" in text
    # github: every line is one workflow command; the name cannot start a command of its own
    github = outputs["github"].read_text().splitlines()
    assert all(line.startswith(("::error ", "::warning ", "::notice ", "iamlint: ")) for line in github)
    assert any("new%0Aline%3A%3Aerror file=evil.json%3A%3Aforged.json" in line for line in github)
    assert any("carriage%0Dreturn.json" in line for line in github)
    assert any("per%25cent%2Ccomma%3Acolon.json" in line for line in github)
    assert not any("file=evil.json," in line for line in github)
    # json and sarif: valid JSON naming every file, the undecodable byte kept as an escape
    report = json.loads(outputs["json"].read_text())
    files = {f["location"]["file"] for f in report["findings"]}
    assert {os.path.join(str(tree), n) for n in ODD_NAMES} <= files
    assert any("bad\udcffbyte" in f for f in files)
    sarif = json.loads(outputs["sarif"].read_text())
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in sarif["runs"][0]["results"]}
    assert all("\n" not in u and " " not in u for u in uris)
    # markdown: one table row per finding, no line broken by a name
    rows = [line for line in outputs["markdown"].read_text().splitlines() if line.startswith("| ")]
    assert len(rows) >= len(report["findings"])


def test_walked_directories_skip_special_files_by_type_not_by_name(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.yaml")
    mode = os.stat(tmp_path / "pipe.yaml").st_mode
    assert stat.S_ISFIFO(mode)
    loaded = finishes(lambda: load_paths([str(tmp_path)]))
    assert [e.message for e in loaded.errors] == ["not a regular file (a FIFO, device or socket); skipped"]


def test_narrow_warnings_cannot_forge_workflow_commands(tmp_path: Path) -> None:
    # Warnings name CloudTrail files and quote their records: a name or an event holding a
    # newline must not start a line of its own on standard error (which CI logs also parse).
    trail = tmp_path / "trail"
    trail.mkdir()
    (trail / "bad\n::error file=x::forged.json").write_text("{ not json")
    (trail / "event.json").write_text(
        json.dumps(
            {
                "Records": [
                    {
                        "eventSource": "nothing\n::warning::forged.amazonaws.com",
                        "eventName": "Do\x1b[2JIt",
                        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/u"},
                    }
                ]
            }
        )
    )
    root = Path(__file__).resolve().parent.parent
    result = CliRunner().invoke(
        cli,
        [
            "narrow",
            str(root / "fixtures" / "narrow" / "cfn-role.yaml"),
            "--role",
            "WorkerRole",
            "--cloudtrail",
            str(trail),
        ],
    )
    assert "bad\\n::error" in result.stderr
    assert not any(line.startswith("::") for line in result.stderr.splitlines())
    assert "\x1b" not in result.stderr


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "github", "markdown"])
def test_text_utf8_cannot_encode_is_shown_escaped_in_every_format(tmp_path: Path, fmt: str) -> None:
    """A lone surrogate in a policy ("\\ud800" is valid JSON) and a file name that is not UTF-8:
    the report is written whole, with them escaped, through the installed command."""
    policy = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:\\ud800","Resource":"*"}]}'
    (tmp_path / "surrogate.json").write_text(policy)
    wild = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}'
    with open(os.path.join(os.fsencode(tmp_path), b"bad\xffname.json"), "w") as fh:
        fh.write(wild)
    proc = subprocess.run(
        [str(BIN / "iamlint"), "check", ".", "--format", fmt], cwd=tmp_path, capture_output=True, check=False
    )
    assert proc.returncode == 1 and b"Traceback" not in proc.stderr, proc.stderr.decode(errors="replace")
    out = proc.stdout.decode("utf-8")  # valid UTF-8 throughout
    assert "bad" in out and "s3:" in out
    if fmt == "sarif":
        uris = {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in json.loads(out)["runs"][0]["results"]
        }
        assert "bad%FFname.json" in uris  # the name's own bytes
    elif fmt == "json":
        json.loads(out)


def test_folders_that_cannot_be_listed_are_input_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As a user without the permission (tests run as root, so the refusal is simulated)."""
    policy = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}'
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "p.json").write_text(policy)
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "hidden.json").write_text(policy)
    real_scandir, real_listdir = os.scandir, os.listdir

    def refuse(path: Any, real: Any) -> Any:
        if os.path.basename(os.fspath(path)) == "locked":
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", lambda path=".": refuse(path, real_scandir))
    monkeypatch.setattr(os, "listdir", lambda path=".": refuse(path, real_listdir))
    for target in (tmp_path, tmp_path / "locked"):
        result = CliRunner().invoke(cli, ["check", str(target), "--format", "json"])
        report = json.loads(result.stdout)
        assert result.exit_code == 2, result.output
        assert [e["file"] for e in report["errors"]] == [str(tmp_path / "locked")]
        assert "cannot list this folder: Permission denied" in report["errors"][0]["message"]
    found = json.loads(CliRunner().invoke(cli, ["check", str(tmp_path), "--format", "json"]).stdout)["findings"]
    assert any(f["location"]["file"] == str(tmp_path / "ok" / "p.json") for f in found)  # the rest is checked
