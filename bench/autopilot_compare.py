"""iamlint's static analysis (`narrow --from-code`) against AWS's iam-policy-autopilot, same code.

Usage: ``python bench/autopilot_compare.py [--template T] [--venv DIR] [--region R] [--account A]``

1. Installs iam-policy-autopilot (PyPI, pinned below) into its own virtual environment
   (default bench/out/autopilot-venv), never into the project's: it is a prebuilt binary
   wheel with no Python dependencies, and only this benchmark uses it.
2. For each function of the template (default: fixtures/sources/code/template.yaml), finds the
   handler files exactly as `iamlint narrow --from-code` does (handler plus the local modules
   it imports), and runs both tools on those files:
   - iamlint: the actions its mapping derives from each call site (no network);
   - autopilot: `iam-policy-autopilot generate-policies FILES --region R --account A`.
   autopilot reads AWS's service reference (servicereference.us-east-1.amazonaws.com) at run
   time; without network it exits with an error, which is printed verbatim and its column
   left empty.
3. Prints, per function, every action either tool derived, side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
import venv
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from iamlint.catalog import get_catalog
from iamlint.narrow.mapping import iam_actions
from iamlint.narrow.static import analyse_template

AUTOPILOT = "iam-policy-autopilot"
VERSION = "0.3.0"
DEFAULT_TEMPLATE = ROOT / "fixtures" / "sources" / "code" / "template.yaml"
DEFAULT_VENV = ROOT / "bench" / "out" / "autopilot-venv"
_ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9*]+$")


def ensure_autopilot(where: Path) -> tuple[Path, str]:
    """The autopilot binary in its own venv, installed on first use; and its version."""
    binary = where / "bin" / AUTOPILOT
    if not binary.exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(where)
        subprocess.run(
            [str(where / "bin" / "python"), "-m", "pip", "install", "--quiet", f"{AUTOPILOT}=={VERSION}"], check=True
        )
    shown = subprocess.run(
        [str(where / "bin" / "python"), "-m", "pip", "show", AUTOPILOT], capture_output=True, text=True, check=True
    ).stdout
    version = next((line.split(":", 1)[1].strip() for line in shown.splitlines() if line.startswith("Version:")), "?")
    return binary, version


def iamlint_actions(calls: list[Any]) -> dict[str, list[str]]:
    """Action -> the call sites (file:line) that need it."""
    catalog = get_catalog()
    out: dict[str, list[str]] = {}
    for call in calls:
        for action in iam_actions(call, catalog).actions:
            out.setdefault(action, []).append(call.event_source.removeprefix("static analysis of "))
    return out


def run_autopilot(binary: Path, files: list[Path], region: str, account: str) -> dict[str, Any]:
    env = {**os.environ, "DISABLE_IAM_POLICY_AUTOPILOT_TELEMETRY": "true"}
    cmd = [str(binary), "generate-policies", *map(str, files), "--region", region, "--account", account]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=False)
    wall = time.perf_counter() - start
    actions: set[str] = set()
    if done.returncode == 0:
        try:
            _collect_actions(json.loads(done.stdout), actions)
        except ValueError:
            pass
    error = "\n".join(line for line in done.stderr.splitlines() if line.startswith("Error"))
    return {
        "cmd": cmd,
        "returncode": done.returncode,
        "wall": wall,
        "actions": actions,
        "error": error or (done.stderr.strip()[-2000:] if done.returncode else ""),
    }


def _collect_actions(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Action":
                out.update(a for a in ([value] if isinstance(value, str) else value) if isinstance(a, str))
            else:
                _collect_actions(value, out)
    elif isinstance(node, list):
        for item in node:
            _collect_actions(item, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE)
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--account", default="123456789012")
    args = parser.parse_args()

    binary, version = ensure_autopilot(args.venv)
    print(f"iam-policy-autopilot {version} ({binary})")
    print(f"template: {args.template.relative_to(ROOT) if args.template.is_relative_to(ROOT) else args.template}\n")
    base = args.template.parent
    params = {"AWS::Region": args.region, "AWS::AccountId": args.account}
    for result in analyse_template(args.template, params):
        files = [base / f for f in result.files]
        print(f"== {result.function}: {', '.join(result.files) or '(no code found)'}")
        for problem in result.problems:
            print(f"   iamlint problem: {problem}")
        if not files:
            continue
        ours = iamlint_actions(result.calls)
        theirs = run_autopilot(binary, files, args.region, args.account)
        status = "ok" if theirs["returncode"] == 0 else f"FAILED (exit {theirs['returncode']})"
        print(f"   autopilot: {status} in {theirs['wall']:.2f} s: {' '.join(theirs['cmd'][1:])}")
        if theirs["error"]:
            print("   autopilot error: " + theirs["error"].replace("\n", "\n   "))
        actions = sorted(set(ours) | {a for a in theirs["actions"] if _ACTION.match(a)})
        width = max([len(a) for a in actions] + [6])
        print(f"   {'action':<{width}}  {'iamlint':<8}  {'autopilot':<9}  iamlint call sites")
        for action in actions:
            mine = "yes" if action in ours else "-"
            other = ("yes" if action in theirs["actions"] else "-") if theirs["returncode"] == 0 else ""
            print(f"   {action:<{width}}  {mine:<8}  {other:<9}  {', '.join(ours.get(action, []))}")
        print(
            f"   totals: iamlint {len(ours)}, autopilot "
            f"{len(theirs['actions']) if theirs['returncode'] == 0 else 'n/a (did not run)'}\n"
        )


if __name__ == "__main__":
    main()
