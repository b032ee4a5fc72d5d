"""Run a command as a child process and measure its wall time and peak memory.

Every benchmark in this folder runs iamlint and the competitor the same way, in one run, so
their figures are comparable: each is a fresh process, timed from spawn to exit, with its peak
resident memory read from the kernel's accounting of that child alone (wait4).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Run:
    wall: float  # seconds
    peak_mb: float  # peak resident set size of the child
    returncode: int
    stdout: bytes
    stderr: bytes


def run(cmd: list[str], *, stdin: bytes | None = None, env: dict[str, str] | None = None) -> Run:
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    # Popen.communicate() would reap the child and lose its rusage: read the pipes ourselves,
    # then reap with wait4, which reports this child's own peak memory.
    if stdin is not None:
        assert proc.stdin is not None
        proc.stdin.write(stdin)
        proc.stdin.close()
    out, err = _drain(proc)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    return Run(wall, usage.ru_maxrss / 1024, proc.returncode, out, err)


def _drain(proc: subprocess.Popen[bytes]) -> tuple[bytes, bytes]:
    assert proc.stdout is not None and proc.stderr is not None
    # Read both pipes without waiting on the process, so that wait4 can reap it with usage.
    import selectors  # noqa: PLC0415

    out, err = bytearray(), bytearray()
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, out)
    sel.register(proc.stderr, selectors.EVENT_READ, err)
    while sel.get_map():
        for key, _ in sel.select():
            chunk = os.read(key.fd, 65536)
            if not chunk:
                sel.unregister(key.fileobj)
            else:
                key.data.extend(chunk)
    return bytes(out), bytes(err)


def median_run(cmd: list[str], repeat: int, **kwargs: object) -> tuple[Run, list[float]]:
    runs = [run(cmd, **kwargs) for _ in range(repeat)]  # type: ignore[arg-type]
    walls = [r.wall for r in runs]
    best = sorted(runs, key=lambda r: r.wall)[len(runs) // 2]
    return best, walls


def describe(name: str, r: Run, walls: list[float] | None = None) -> str:
    spread = ""
    if walls and len(walls) > 1:
        spread = f" (median of {len(walls)}, min {min(walls):.3f}s, stdev {statistics.pstdev(walls):.3f}s)"
    return f"{name:<14} wall {r.wall:8.3f}s{spread}  peak {r.peak_mb:7.1f} MB  exit {r.returncode}"


PY = sys.executable
