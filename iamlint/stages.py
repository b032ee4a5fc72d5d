"""The stages after the engine, assembled from the configuration for one `check` run.

engine findings -> per-path rule settings -> suppressions (inline and configured, reporting
unused ones) -> baseline. Each stage takes a `LintResult` and returns one; errors are typed
(`ConfigError`, `BaselineError`, `WriteError`) and turned into exit status 2 by the CLI.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from iamlint.config import Config, load_config
from iamlint.engine import Engine, LintConfig, LintResult
from iamlint.loaders.inputs import InputOptions, expand_inputs
from iamlint.runner import PostEngine
from iamlint.suppress import Suppression, Suppressor


def load_settings(path: str | None) -> Config:
    return load_config(path)


def after_engine(config: Config, lint: LintConfig, paths: Sequence[str], options: InputOptions) -> PostEngine:
    """Per-path settings, then suppressions, applied to the merged engine result."""

    def post(result: LintResult, inline: Sequence[Suppression]) -> LintResult:
        engine = Engine(lint)
        findings = config.apply_per_path(result.findings)
        checked = _checked_files(paths, options, findings) if config.suppressions else []

        def enabled(rule_id: str, file: str) -> bool:
            return engine.enabled(rule_id) and config.rule_runs(rule_id, file)

        def was_checked(s: Suppression) -> bool:
            # A configured suppression is unused only when a file it names was checked in
            # this run: pre-commit checks a few files, and the others' suppressions stand.
            return s.file is not None or any(config.matches(p, f) for p in s.paths for f in checked)

        suppressor = Suppressor(
            rules=engine.rules,
            configured=config.suppressions,
            enabled=enabled,
            severity=lint.severity,
            glob=lambda pattern, file, _base: config.matches(pattern, file),
            checked=was_checked,
        )
        trimmed = LintResult(findings=tuple(findings), documents=result.documents, files=result.files)
        return suppressor.apply(trimmed, inline)

    return post


def _checked_files(paths: Sequence[str], options: InputOptions, findings: Sequence[object]) -> list[str]:
    files = [options.name_of(p) for p, _explicit in expand_inputs(paths, options) if not os.path.isdir(p)]
    files.extend(f.location.file for f in findings)  # type: ignore[attr-defined]
    return sorted(set(files))


def apply_baseline(
    result: LintResult, root: str, read_from: str | None, write_to: str | None, say: Callable[[str], None] = print
) -> LintResult:
    """Record the findings (`write_to`), then keep only those not in the baseline; `say` tells
    how many were recorded or left out, since the report alone would read "No findings"."""
    from iamlint.baseline import read_baseline, render_baseline  # noqa: PLC0415

    if write_to:
        from iamlint.files import write_atomic  # noqa: PLC0415

        write_atomic(write_to, render_baseline(result.findings, root))
        recorded = sum(not f.is_error for f in result.findings)
        say(
            f"{write_to}: {recorded} finding{'' if recorded == 1 else 's'} recorded as the baseline "
            "(input errors are never baselined)"
        )
        read_from = write_to
    if not read_from:
        return result
    kept, matched = read_baseline(read_from).filter(result.findings, root)
    if matched and not write_to:
        say(f"{read_from}: {matched} finding{'' if matched == 1 else 's'} in the baseline, not shown")
    return LintResult(findings=tuple(kept), documents=result.documents, files=result.files)
