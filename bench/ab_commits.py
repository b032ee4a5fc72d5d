"""iamlint at another commit against this tree, alternated, to measure what a change did.

Usage: ``python bench/ab_commits.py REF [--repeat N] -- ARGS...``

Checks REF out into a scratch worktree (bench/out/ab/<commit>), then runs `iamlint ARGS` from
that checkout and from this tree, round by round, each as a fresh process (bench/measure.py),
and prints each one's median and minimum wall and CPU time, and median peak memory. Both run with
this environment's dependencies; only iamlint's own code differs. Byte code is compiled for
both first. The worktrees are kept for the next comparison; `git worktree remove` one, or
delete bench/out/ab and run `git worktree prune`. Example:

    python bench/ab_commits.py 9fbc521 --repeat 3 -- audit --from bench/out/audit/account-3000-roles.json -f json
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import PY, Run, run

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "ab"

# The editable install maps `iamlint` to this tree: the other checkout goes first on the path,
# with the editable finder removed (its rules/ folder is linked into the package, as a wheel has it).
_OTHER = (
    "import sys; sys.meta_path = [f for f in sys.meta_path if 'editable' not in repr(f)]; "
    "sys.path.insert(0, {root!r}); sys.argv = ['iamlint'] + sys.argv[1:]; "
    "from iamlint.cli import main; main()"
)
_THIS = "import sys; sys.argv = ['iamlint'] + sys.argv[1:]; from iamlint.cli import main; main()"


def checkout(ref: str) -> Path:
    sha = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", ref], capture_output=True, text=True, check=True
    ).stdout.strip()
    where = OUT / sha[:12]
    if not where.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", str(where), sha],
            check=True,
            capture_output=True,
        )
    link = where / "iamlint" / "rules"
    if not link.exists():
        os.symlink(where / "rules", link)
    return where


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ref", help="the commit to compare with (any git revision)")
    parser.add_argument("--repeat", type=int, default=3)
    argv = sys.argv[1:]
    if "--" not in argv and ("-h" in argv or "--help" in argv):
        parser.parse_args(argv)  # prints the help and exits
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        parser.error("give iamlint's arguments after --")
    split = argv.index("--")
    opts, args = parser.parse_args(argv[:split]), argv[split + 1 :]
    other = checkout(opts.ref)
    for tree in (other, ROOT):
        compileall.compile_dir(str(tree / "iamlint"), quiet=1)
    commands = {opts.ref: [PY, "-c", _OTHER.format(root=str(other)), *args], "this tree": [PY, "-c", _THIS, *args]}
    runs: dict[str, list[Run]] = {name: [] for name in commands}
    print(f"load average {os.getloadavg()[0]:.1f} before")
    for _ in range(opts.repeat):
        for name, cmd in commands.items():
            runs[name].append(run(cmd))
    print(f"load average {os.getloadavg()[0]:.1f} after")
    for name, rs in runs.items():
        walls = [r.wall for r in rs]
        cpus = [r.cpu for r in rs if r.cpu is not None]
        cpu = f"cpu median {statistics.median(cpus):6.2f} s, min {min(cpus):6.2f} s; " if cpus else ""
        print(
            f"{name:<12} wall median {statistics.median(walls):6.2f} s, min {min(walls):6.2f} s; {cpu}"
            f"peak median {statistics.median(r.peak_mb for r in rs):6.1f} MB; exit {sorted({r.returncode for r in rs})}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
