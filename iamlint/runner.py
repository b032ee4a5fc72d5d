"""Running a whole check: find the inputs, load and lint them, in parallel when it pays.

Each input file is independent (a template, a dump or a policy holds every principal it
describes), so large runs are split into batches of files, each loaded and checked in its
own process; the parent merges the findings. Small runs stay in one process, where starting
workers would cost more than it saves.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from iamlint.engine import Engine, LintConfig, LintResult
from iamlint.loaders import LoadResult
from iamlint.loaders.inputs import InputOptions, expand_inputs, load_input
from iamlint.model import Finding
from iamlint.suppress import Suppression

# The stage after the engine (iamlint.suppress, per-path settings): gets the merged result and
# the inline suppressions the loaders found.
PostEngine = Callable[[LintResult, Sequence[Suppression]], LintResult]

PARALLEL_MIN_FILES = 32  # below this, one process is faster than forking workers


@dataclass(frozen=True, slots=True)
class _Batch:
    findings: list[Finding]
    documents: int
    files: int
    suppressions: list[Suppression] = field(default_factory=list)


def _check_batch(args: tuple[list[tuple[str, bool]], InputOptions, LintConfig], engine: Engine | None = None) -> _Batch:
    inputs, options, config = args
    engine = engine or Engine(config)
    loaded = LoadResult()
    for path, explicit in inputs:
        loaded.extend(load_input(path, options, explicit=explicit))
    findings, count = engine.check(loaded.documents, loaded.problems, loaded.errors)
    return _Batch(findings, count, loaded.files, loaded.suppressions)


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def check_paths(
    paths: Sequence[str], options: InputOptions, config: LintConfig, jobs: int = 0,
    post: PostEngine | None = None,
) -> tuple[LintResult, Engine]:
    engine = Engine(config)
    inputs = expand_inputs(paths, options)
    jobs = jobs or default_jobs()
    if jobs == 1 or len(inputs) < PARALLEL_MIN_FILES or config.strict or "fork" not in multiprocessing.get_all_start_methods():
        batch = _check_batch((inputs, options, config), engine)
        result = engine.result(batch.findings, batch.documents, batch.files)
        return (post(result, batch.suppressions) if post else result), engine
    # Interleave files so that each worker gets a similar mix of large and small ones.
    chunks = [inputs[i::jobs * 4] for i in range(jobs * 4)]
    ctx = multiprocessing.get_context("fork")
    findings: list[Finding] = []
    documents = files = 0
    suppressions: list[Suppression] = []
    with ctx.Pool(jobs) as pool:
        for batch in pool.imap_unordered(_check_batch, [(c, options, config) for c in chunks if c]):
            findings.extend(batch.findings)
            documents += batch.documents
            files += batch.files
            suppressions.extend(batch.suppressions)
    result = engine.result(findings, documents, files)
    return (post(result, suppressions) if post else result), engine
