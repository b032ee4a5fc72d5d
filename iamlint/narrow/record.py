"""`iamlint record -- COMMAND...`: run a program and write down the AWS calls it makes.

Two channels, merged into one evidence file that `iamlint narrow --evidence` reads:

- client-side monitoring (CSM), for any AWS SDK that still has it (botocore and the AWS CLI,
  the v2 JavaScript, Java, Go v1 and .NET SDKs): the child gets AWS_CSM_ENABLED=true and a
  private UDP port on 127.0.0.1, and each `ApiCall` datagram gives service, operation, region
  and outcome. Datagrams hold no parameters, so these calls name no resource;
- for Python children, a botocore hook (`record_hook`, loaded through a `sitecustomize`
  put first on PYTHONPATH) that also writes each call's parameters, from which the mapping
  builds resource ARNs (bucket and key, table, queue URL...).

A call the hook saw supersedes its CSM datagram. A Python started with `-I` or `-S` ignores
PYTHONPATH or `site`, and is heard through CSM only; so is the AWS CLI v2 (its own bundled
Python). The v3 JavaScript SDK has no CSM. The child's exit status is passed through (127 when
the command is not found).
Nothing here talks to AWS: the program under test does, and we listen.
"""

from __future__ import annotations

import collections
import json
import os
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:  # the modules below cost 30 ms to import; `iamlint check` never needs them
    import socket

    from iamlint.narrow.calls import Call

DEFAULT_OUTPUT = "iamlint-evidence.jsonl"
_HOOK_MODULE = "_iamlint_record_hook"
_SITECUSTOMIZE = f"import {_HOOK_MODULE}\n{_HOOK_MODULE}.install(__file__)\n"
_DRAIN_SECONDS = 0.3  # datagrams sent just before the child exited are already queued
_RECEIVE_BUFFER = 4 * 1024 * 1024


class RecordError(Exception):
    """The command could not be started."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True, slots=True)
class Recording:
    exit_code: int
    calls: tuple[Call, ...]
    from_hook: int = 0  # calls with parameters, from the botocore hook
    from_csm: int = 0  # calls known from CSM datagrams alone
    superseded: int = 0  # datagrams of calls the hook also saw
    unreadable: int = 0  # datagrams or hook lines that could not be understood
    accounts: tuple[str, ...] = ()  # account ids the parameters showed


class _Listener:
    """Collects CSM datagrams on 127.0.0.1 while the child runs."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.datagrams: list[bytes] = []
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="iamlint-csm", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.sock.settimeout(0.1)
        while not self.stop.is_set():
            self._receive()

    def _receive(self) -> bool:
        try:
            data, _ = self.sock.recvfrom(65536)
        except TimeoutError:
            return False
        except OSError:
            return False
        self.datagrams.append(data)
        return True

    def finish(self) -> list[bytes]:
        self.stop.set()
        if self.thread is not None:
            self.thread.join()
        self.sock.settimeout(_DRAIN_SECONDS)
        while self._receive():
            pass
        self.sock.close()
        return self.datagrams


def _listen() -> _Listener:
    import contextlib  # noqa: PLC0415
    import socket  # noqa: PLC0415

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with contextlib.suppress(OSError):  # a smaller buffer only risks drops under bursts
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER)
    sock.bind(("127.0.0.1", 0))
    return _Listener(sock)


def record(
    command: Sequence[str],
    *,
    hook: bool = True,
    csm: bool = True,
    account: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> Recording:
    """Run `command` to completion and return the calls it made, oldest first."""
    import shutil  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    if not command:
        raise RecordError("no command to run", 2)
    child_env = dict(os.environ if env is None else env)
    workdir = Path(tempfile.mkdtemp(prefix="iamlint-record-"))
    listener: _Listener | None = None
    try:
        hook_file = workdir / "calls.jsonl"
        if hook:
            shutil.copyfile(Path(__file__).with_name("record_hook.py"), workdir / f"{_HOOK_MODULE}.py")
            (workdir / "sitecustomize.py").write_text(_SITECUSTOMIZE, encoding="utf-8")
            previous = child_env.get("PYTHONPATH")
            child_env["PYTHONPATH"] = str(workdir) + (os.pathsep + previous if previous else "")
            child_env["IAMLINT_RECORD_FILE"] = str(hook_file)
        if csm:
            listener = _listen()
            child_env.update(
                AWS_CSM_ENABLED="true",
                AWS_CSM_HOST="127.0.0.1",
                AWS_CSM_PORT=str(listener.port),
                AWS_CSM_CLIENT_ID="iamlint-record",
            )
            listener.start()
        exit_code = _run(command, child_env, cwd)
        datagrams = listener.finish() if listener is not None else []
        listener = None
        hook_lines = hook_file.read_bytes().splitlines() if hook_file.exists() else []
        return merge(hook_lines, datagrams, exit_code=exit_code, account=account)
    finally:
        if listener is not None:
            listener.finish()
        shutil.rmtree(workdir, ignore_errors=True)


def _run(command: Sequence[str], env: dict[str, str], cwd: str | None) -> int:
    import subprocess  # noqa: PLC0415

    try:
        proc = subprocess.Popen(list(command), env=env, cwd=cwd)  # noqa: S603 - the user's own command
    except FileNotFoundError:
        raise RecordError(f"command not found: {command[0]}", 127) from None
    except PermissionError:
        raise RecordError(f"cannot execute: {command[0]}", 126) from None
    try:
        status = proc.wait()
        # Killed by a signal (-9): the shell's convention, 128 + 9, not sys.exit(-9) (247).
        return 128 - status if status < 0 else status
    except KeyboardInterrupt:
        # The child got the same Ctrl-C (one process group); keep what it did before it stopped.
        proc.wait()
        return 130


# -- turning what was heard into calls -----------------------------------------------------


def merge(
    hook_lines: Sequence[bytes], datagrams: Sequence[bytes], *, exit_code: int = 0, account: str | None = None
) -> Recording:
    """Calls from hook lines and CSM datagrams; a hook call supersedes its datagram."""
    unreadable = 0
    hooked: list[Call] = []
    for line in hook_lines:
        call = _hook_call(line)
        if call is None:
            unreadable += line.strip() != b""
        else:
            hooked.append(call)
    seen: collections.Counter[tuple[str | None, str, str | None]] = collections.Counter(
        (c.api, c.operation, c.region) for c in hooked
    )
    seen_any: collections.Counter[tuple[str | None, str]] = collections.Counter((c.api, c.operation) for c in hooked)
    monitored: list[Call] = []
    superseded = 0
    for data in datagrams:
        call = _csm_call(data)
        if call is None:
            unreadable += _is_api_call(data) is not False
            continue
        key = (call.api, call.operation, call.region)
        if seen[key] > 0 or (call.region is None and seen_any[(call.api, call.operation)] > 0):
            if seen[key] > 0:
                seen[key] -= 1
            seen_any[(call.api, call.operation)] -= 1
            superseded += 1
        else:
            monitored.append(call)
    accounts = tuple(sorted({a for c in hooked for a in _accounts_in(c)}))
    known = account or (accounts[0] if len(accounts) == 1 else None)
    calls = sorted(hooked + monitored, key=lambda c: c.time or "")
    if known:
        calls = [c if c.account else replace(c, account=known) for c in calls]
    return Recording(exit_code, tuple(calls), len(hooked), len(monitored), superseded, unreadable, accounts)


def _hook_call(line: bytes) -> Call | None:
    from iamlint.narrow.apitable import get_table  # noqa: PLC0415
    from iamlint.narrow.calls import Call  # noqa: PLC0415

    try:
        entry = json.loads(line)
    except (ValueError, RecursionError):  # RecursionError: nested too deep
        return None
    if not isinstance(entry, dict):
        return None
    api, operation = entry.get("service"), entry.get("operation")
    signing = entry.get("signing_name") or api
    if not (isinstance(api, str) and isinstance(operation, str) and isinstance(signing, str)):
        return None
    raw = entry.get("parameters")
    params: dict[str, Any] = raw if isinstance(raw, dict) else {}
    region = _text(entry.get("region"))
    prefix = get_table().service_for_host(signing).iam_prefix
    return Call(
        service=prefix,
        operation=operation,
        principal="",
        role_arn=None,
        session_name=None,
        time=_text(entry.get("time")),
        region=region,
        resources=_queue_arns(prefix, params, region),
        parameters=params,
        error=_text(entry.get("error")),
        event_source=f"{signing}.amazonaws.com",
        api=api,
    )


def _is_api_call(data: bytes) -> bool | None:
    try:
        entry = json.loads(data)
    except (ValueError, RecursionError):  # RecursionError: nested too deep
        return None
    return isinstance(entry, dict) and entry.get("Type") == "ApiCall"


def _csm_call(data: bytes) -> Call | None:
    """An `ApiCall` datagram as a call; None for attempts (one per retry) and for noise."""
    import datetime  # noqa: PLC0415

    from iamlint.narrow.botomodels import by_service_id  # noqa: PLC0415
    from iamlint.narrow.calls import Call  # noqa: PLC0415

    try:
        entry = json.loads(data)
    except (ValueError, RecursionError):  # RecursionError: nested too deep
        return None
    if not isinstance(entry, dict) or entry.get("Type") != "ApiCall":
        return None
    service_id, operation = entry.get("Service"), entry.get("Api")
    if not isinstance(service_id, str) or not isinstance(operation, str) or not operation:
        return None
    info = by_service_id(service_id)
    api = info.name if info else service_id.lower().replace(" ", "")
    signing = info.signing_name if info else api
    prefix = info.iam_prefix if info else api
    status = entry.get("FinalHttpStatusCode")
    error = _text(entry.get("FinalAwsException")) or _text(entry.get("FinalSdkException"))
    if error is None and isinstance(status, int) and status >= 400:
        error = f"HTTP {status}"
    stamp = entry.get("Timestamp")
    when = None
    if isinstance(stamp, int | float):
        when = datetime.datetime.fromtimestamp(stamp / 1000, datetime.UTC).isoformat(timespec="milliseconds")
        when = when.replace("+00:00", "Z")
    # AccessKey and SessionToken are in the datagram too: never written anywhere.
    return Call(
        service=prefix,
        operation=operation,
        principal="",
        role_arn=None,
        session_name=None,
        time=when,
        region=_text(entry.get("Region")),
        resources=(),
        parameters={},
        error=error,
        event_source=f"{signing}.amazonaws.com",
        api=api,
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _queue_arns(prefix: str, params: Mapping[str, Any], region: str | None) -> tuple[str, ...]:
    """The queue's ARN when its URL is not on an amazonaws.com host the mapping reads.

    Local endpoints and VPC endpoint names (`vpce-...sqs...vpce.amazonaws.com`) still end in
    `/<account>/<queue>`; the region is the client's.
    """
    from urllib.parse import urlsplit  # noqa: PLC0415

    url = params.get("QueueUrl")
    if prefix != "sqs" or not isinstance(url, str) or not region:
        return ()
    parts = urlsplit(url)
    host = parts.hostname or ""
    path = [p for p in parts.path.split("/") if p]
    if len(path) != 2 or not path[0].isdigit() or host.startswith(("sqs.", "queue.")):
        return ()
    from iamlint.narrow.arns import partition_of  # noqa: PLC0415

    return (f"arn:{partition_of(region)}:sqs:{region}:{path[0]}:{path[1]}",)


def _accounts_in(call: Call) -> Iterator[str]:
    from urllib.parse import urlsplit  # noqa: PLC0415

    for arn in call.resources:
        fields = arn.split(":", 5)
        if len(fields) == 6 and fields[4].isdigit():
            yield fields[4]
    for value in call.parameters.values():
        if isinstance(value, str) and value.startswith("arn:"):
            fields = value.split(":", 5)
            if len(fields) == 6 and fields[4].isdigit():
                yield fields[4]
        elif isinstance(value, str) and value.startswith(("https://", "http://")) and call.service == "sqs":
            path = [p for p in urlsplit(value).path.split("/") if p]
            if len(path) == 2 and path[0].isdigit():
                yield path[0]


# -- the command ---------------------------------------------------------------------------


@click.command("record", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option(
    "-o",
    "--output",
    default=DEFAULT_OUTPUT,
    show_default=True,
    metavar="FILE",
    help="Evidence file to write (replaced atomically).",
)
@click.option(
    "--account", metavar="ID", help="Account the calls go to (default: the one the parameters show, when only one)."
)
@click.option(
    "--python-hook/--no-python-hook",
    default=True,
    show_default=True,
    help="Also record parameters of Python children through a botocore hook.",
)
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def record_command(output: str, account: str | None, python_hook: bool, command: tuple[str, ...]) -> None:
    """Run COMMAND and record the AWS calls it makes, for `iamlint narrow --evidence`.

    Put `--` before the command: iamlint record -- python app.py
    """
    from iamlint.narrow.evidence import write_evidence_file  # noqa: PLC0415

    try:
        result = record(command, hook=python_hook, account=account)
    except RecordError as exc:
        click.echo(f"iamlint record: {exc}", err=True)
        sys.exit(exc.exit_code)
    from iamlint.files import WriteError  # noqa: PLC0415

    try:
        written = write_evidence_file(output, result.calls)
    except WriteError as exc:
        click.echo(f"iamlint record: {exc}", err=True)
        sys.exit(2)
    except OSError as exc:
        click.echo(f"iamlint record: cannot write {output}: {exc.strerror or exc}", err=True)
        sys.exit(2)
    with_params = f"{result.from_hook} with parameters" if python_hook else "no parameters (hook off)"
    click.echo(
        f"iamlint record: {written} calls written to {output} ({with_params}, "
        f"{result.from_csm} from client-side monitoring only)",
        err=True,
    )
    if result.unreadable:
        click.echo(f"iamlint record: {result.unreadable} datagrams or hook lines could not be read", err=True)
    if len(result.accounts) > 1 and not account:
        click.echo(
            f"iamlint record: calls name several accounts ({', '.join(result.accounts)}); "
            "give --account to build ARNs that need one",
            err=True,
        )
    sys.exit(result.exit_code)
