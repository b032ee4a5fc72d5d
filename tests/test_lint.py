"""The house style's static checks (../shared/STYLE.md): ruff's lint and format on the code, the
tests and the benchmarks, and mypy strict on the package, with the versions pinned in the test
extra."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import ROOT


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_finds_nothing() -> None:
    proc = _run("ruff", "check", "--no-cache", "iamlint", "tests", "bench")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_format_leaves_nothing_to_change() -> None:
    proc = _run("ruff", "format", "--check", "--no-cache", "iamlint", "tests", "bench")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_strict_on_the_package(tmp_path: Path) -> None:
    proc = _run("mypy", "--cache-dir", str(tmp_path), "iamlint")
    assert proc.returncode == 0, proc.stdout + proc.stderr
