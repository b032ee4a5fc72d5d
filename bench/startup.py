"""Start-up cost: `iamlint check` of one small policy file as a new process, against
`python3 -c pass` on the same machine, in one run.

Usage: ``python bench/startup.py [--repeat 21]``. Byte-code caching is enabled for the
children (an installed wheel ships it), whatever this shell's PYTHONDONTWRITEBYTECODE says.
Also checks that the run imports none of PyYAML, boto3, botocore, jsonschema and the SAM translator.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "fixtures" / "rules" / "IAM105" / "good-scoped.json"
IAMLINT = os.path.join(os.path.dirname(sys.executable), "iamlint")


def wall(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=21)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    wall([IAMLINT, "check", str(POLICY)], env)  # write the byte-code caches once
    ours = [wall([IAMLINT, "check", str(POLICY)], env) for _ in range(args.repeat)]
    base = [wall([sys.executable, "-c", "pass"], env) for _ in range(args.repeat)]
    print(
        f"iamlint check (one small policy): median {statistics.median(ours) * 1000:.0f} ms, "
        f"min {min(ours) * 1000:.0f} ms"
    )
    print(
        f"python3 -c pass:                  median {statistics.median(base) * 1000:.0f} ms, "
        f"min {min(base) * 1000:.0f} ms"
    )
    probe = (
        f"import sys; sys.argv = ['iamlint', 'check', {str(POLICY)!r}]\n"
        "from iamlint.cli import main\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('yaml', 'boto3', 'botocore', 'jsonschema', 'samtranslator') if m in sys.modules]\n"
        "print('heavy modules imported:', heavy or 'none', file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=False)
    print(out.stderr.strip().splitlines()[-1])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
