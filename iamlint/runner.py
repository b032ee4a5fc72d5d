"""Running a whole check: find the inputs, load and lint them, in parallel when it pays.

Each input file is independent (a template, a dump or a policy holds every principal it
describes), so large runs are split into batches of files, loaded and checked by forked worker
processes; the parent merges the findings. Before it forks them, the parent loads what every
worker would otherwise load for itself (the SAM translator when an input needs it), so that
they share one copy. Small runs stay in one process, where starting workers would cost more
than it saves.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from iamlint.engine import Engine, LintConfig, LintResult
from iamlint.loaders import LoadResult
from iamlint.loaders.inputs import InputOptions, expand_inputs, load_input, preload
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


def _check_batch(inputs: list[tuple[str, bool]], options: InputOptions, engine: Engine) -> _Batch:
    loaded = LoadResult()
    for path, explicit in inputs:
        loaded.extend(load_input(path, options, explicit=explicit))
    findings, count = engine.check(loaded.documents, loaded.problems, loaded.errors)
    return _Batch(findings, count, loaded.files, loaded.suppressions)


# The engine of a worker process: its parent's, inherited when the pool forked. One per worker
# rather than one per batch, so that what its rules cache (ctx.cache) serves every batch.
_worker_engine: list[Engine] = []


def _start_worker(engine: Engine) -> None:
    _worker_engine.append(engine)


def _check_in_worker(args: tuple[list[tuple[str, bool]], InputOptions]) -> _Batch:
    return _check_batch(*args, _worker_engine[0])


@contextmanager
def _frozen_heap() -> Iterator[None]:
    """Keep what the parent built out of its workers' garbage collections while they fork.

    A forked worker shares its parent's memory until one of them writes to a page, and the
    cycle collector writes to every object it scans: each worker would copy, and scan again,
    the whole heap its parent built (the rules, the SAM translator). Frozen objects are
    never scanned (`gc.freeze`); the parent thaws its own once its workers exist.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _batches(inputs: Sequence[tuple[str, bool]], count: int) -> list[list[tuple[str, bool]]]:
    """`count` batches of about the same total size, so that the workers finish together.

    Files are dealt largest first, each to the batch with the fewest bytes so far. A task per
    file would balance better still, but each task costs the pool about a millisecond.
    """
    batches: list[list[tuple[str, bool]]] = [[] for _ in range(count)]
    totals = [0] * count
    sized = sorted(((_size(path), path, explicit) for path, explicit in inputs), key=lambda t: -t[0])
    for size, path, explicit in sized:
        smallest = totals.index(min(totals))
        batches[smallest].append((path, explicit))
        totals[smallest] += size
    return batches


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0  # unreadable, or standard input: its loader reports it


def _can_fork() -> bool:
    import multiprocessing  # noqa: PLC0415 - see check_paths

    return "fork" in multiprocessing.get_all_start_methods()


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def check_paths(
    paths: Sequence[str],
    options: InputOptions,
    config: LintConfig,
    jobs: int = 0,
    post: PostEngine | None = None,
) -> tuple[LintResult, Engine]:
    engine = Engine(config)
    inputs = expand_inputs(paths, options)
    jobs = jobs or default_jobs()
    if jobs == 1 or len(inputs) < PARALLEL_MIN_FILES or config.strict or not _can_fork():
        batch = _check_batch(inputs, options, engine)
        result = engine.result(batch.findings, batch.documents, batch.files)
        return (post(result, batch.suppressions) if post else result), engine
    # Before forking, so that the workers share what the loaders of these inputs need instead of
    # each loading a copy. Not the IAM catalogue: one service at a time, a worker reads only the
    # services its files name (tens of them for a folder of SAM templates), unless one of its
    # policies grants `*`; read whole in the parent, it would delay every worker by 0.2 s.
    preload(inputs, options)
    batches = _batches(inputs, jobs * 4)
    import multiprocessing  # noqa: PLC0415 - a small run never forks: it need not import it

    ctx = multiprocessing.get_context("fork")
    findings: list[Finding] = []
    documents = files = 0
    suppressions: list[Suppression] = []
    with _frozen_heap():
        # With fork, the initializer's arguments are inherited, not pickled.
        pool = ctx.Pool(jobs, initializer=_start_worker, initargs=(engine,))
    with pool:
        for batch in pool.imap_unordered(_check_in_worker, [(files_of, options) for files_of in batches if files_of]):
            findings.extend(batch.findings)
            documents += batch.documents
            files += batch.files
            suppressions.extend(batch.suppressions)
    result = engine.result(findings, documents, files)
    return (post(result, suppressions) if post else result), engine
