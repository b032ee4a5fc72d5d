"""Run a command as a child process and measure its wall time and peak memory.

Every benchmark in this folder runs iamlint and the competitor the same way, in one run, so
their figures are comparable: each is a fresh process, timed from spawn to exit, with its peak
memory. For one process that is the kernel's accounting of its peak resident set (wait4). A
tool that forks workers (iamlint's parallel runs) is sampled every 100 ms while it runs: the
proportional set size (Pss, shared pages divided among the processes sharing them) summed over
the whole process tree, so forked workers count fully and shared pages once. The larger of the
two figures is reported.

The tool is started by a small launcher (`_LAUNCHER`), which forks and execs it and reports
the tool's own wall time and wait4 figures. Linux keeps a process's peak resident set across
exec, and a child spawned straight from this process starts out sharing this process's
memory: a benchmark holding a generated account (hundreds of megabytes) would see that figure
as the peak of every tool it runs, however small. Forked from the launcher, a tool starts at
the launcher's 10 MB.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Run:
    wall: float  # seconds
    peak_mb: float  # peak memory of the child and its workers (see the module docstring)
    returncode: int
    stdout: bytes
    stderr: bytes
    # CPU seconds (user + system) of the tool and the workers it waited for, from wait4; None
    # where the launcher could not report. Steadier than wall time on a shared machine, where
    # other processes stretch a run's wall time but not its own CPU time.
    cpu: float | None = None


# argv: report file, then the command. Forks and execs the command with this process's standard
# streams, waits for it, writes "wall-seconds maxrss-kB" to the report file, and exits with
# the command's status.
_LAUNCHER = r"""
import os, sys, time
report, cmd = sys.argv[1], sys.argv[2:]
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(cmd[0], cmd)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
with open(report, "w") as f:
    f.write(f"{wall} {usage.ru_maxrss} {usage.ru_utime + usage.ru_stime}")
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""


def run(cmd: list[str], *, stdin: bytes | None = None, env: dict[str, str] | None = None) -> Run:
    import tempfile

    with tempfile.NamedTemporaryFile("r", prefix="measure-", suffix=".txt") as report:
        launched = _run([sys.executable, "-c", _LAUNCHER, report.name, *cmd], stdin=stdin, env=env)
        figures = report.read().split()
    if len(figures) != 3:  # the launcher failed before it could report: keep what was seen
        return launched
    wall, maxrss_kb, cpu = float(figures[0]), int(figures[1]), float(figures[2])
    return Run(
        wall, max(maxrss_kb / 1024, launched.peak_mb), launched.returncode, launched.stdout, launched.stderr, cpu
    )


def _run(cmd: list[str], *, stdin: bytes | None = None, env: dict[str, str] | None = None) -> Run:
    """`cmd` (the launcher) as a child: its wall time, and the peak Pss of the tool's process
    tree when the tool forks workers."""
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
    tree_kb = [0]
    out, err = _drain(proc, lambda: tree_kb.__setitem__(0, max(tree_kb[0], _tree_pss_kb(proc.pid))))
    proc.wait()
    wall = time.perf_counter() - start
    return Run(wall, tree_kb[0] / 1024, proc.returncode, out, err)


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(child) for child in f.read().split()]
    except (OSError, ValueError):
        return []


def _tree_pss_kb(launcher: int) -> int:
    """Pss of the tool the launcher runs and all its descendants, in kB; 0 while the tool has no
    children (its own peak is wait4's, exactly) or where /proc cannot tell. Reading Pss walks a
    process's page tables: done only for a tree, so that the sampling takes no CPU from a
    single-process tool."""
    tools = _children(launcher)
    if not tools or not any(_children(tool) for tool in tools):
        return 0
    total, todo = 0, list(tools)
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/smaps_rollup") as f:
                total += next((int(line.split()[1]) for line in f if line.startswith("Pss:")), 0)
            with open(f"/proc/{current}/task/{current}/children") as f:
                todo.extend(int(child) for child in f.read().split())
        except (OSError, ValueError):
            continue  # exited meanwhile, or no such file on this kernel
    return total


def _drain(proc: subprocess.Popen[bytes], sample: Callable[[], None]) -> tuple[bytes, bytes]:
    assert proc.stdout is not None and proc.stderr is not None
    # Read both pipes without waiting on the process, so that wait4 can reap it with usage.
    import selectors

    out, err = bytearray(), bytearray()
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, out)
    sel.register(proc.stderr, selectors.EVENT_READ, err)
    sampled = 0.0
    while sel.get_map():
        if time.perf_counter() - sampled >= 0.1:  # every 100 ms, however fast output streams
            sample()
            sampled = time.perf_counter()
        for key, _ in sel.select(timeout=0.1):
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


def interleaved(
    commands: Mapping[str, list[str]], repeat: int, before: Callable[[str], None] | None = None
) -> tuple[dict[str, Run], dict[str, list[float]]]:
    """Each command `repeat` times, round by round with the commands alternated, so that load
    from elsewhere on the machine falls on all of them alike: each one's median run, and its
    wall times. `before(name)` runs before each run (to clear an output folder, say)."""
    runs: dict[str, list[Run]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, cmd in commands.items():
            if before is not None:
                before(name)
            runs[name].append(run(cmd))
    medians = {name: sorted(rs, key=lambda r: r.wall)[len(rs) // 2] for name, rs in runs.items()}
    return medians, {name: [r.wall for r in rs] for name, rs in runs.items()}


def describe(name: str, r: Run, walls: list[float] | None = None) -> str:
    spread = ""
    if walls and len(walls) > 1:
        spread = f" (median of {len(walls)}, min {min(walls):.3f}s, stdev {statistics.pstdev(walls):.3f}s)"
    return f"{name:<14} wall {r.wall:8.3f}s{spread}  peak {r.peak_mb:7.1f} MB  exit {r.returncode}"


PY = sys.executable
