"""Shared set-up of the atheris fuzz targets: seeds from the fixtures, what counts as a crash.

A target fails (libFuzzer saves the input as a crash) on any exception other than the ones
the code under test documents, on a hang past libFuzzer's `-timeout`, and on memory past
`-rss_limit_mb`. `run.sh` starts each target with those limits.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEED_SUFFIXES = (".json", ".yaml", ".yml", ".template")
MAX_SEED_BYTES = 64 * 1024


def seed_files() -> Iterator[str]:
    """Every fixture small enough to mutate quickly: templates, policies, dumps, regressions."""
    for top in ("fixtures", "rules"):
        for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, top)):
            dirnames.sort()
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                if name.endswith(SEED_SUFFIXES) and os.path.getsize(path) <= MAX_SEED_BYTES:
                    yield path


def keep_crashes(target: Callable[[bytes], None]) -> Callable[[bytes], None]:
    """Save the input of any exception that escapes `target` before libFuzzer sees it.

    libFuzzer writes crash-* files itself, but a Python exception can reach it while its
    timeout alarm is pending, and the process then dies of SIGALRM without the input. The copy
    here (`pycrash-<sha1>` in FUZZ_ARTIFACTS, default the current folder) never goes missing.
    """

    def run(data: bytes) -> None:
        try:
            target(data)
        except BaseException:
            folder = os.environ.get("FUZZ_ARTIFACTS", ".")
            name = os.path.join(folder, "pycrash-" + hashlib.sha1(data).hexdigest())
            with open(name, "wb") as fh:
                fh.write(data)
            raise

    return run
