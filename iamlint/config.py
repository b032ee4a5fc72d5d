"""The configuration file: finding it, validating it, and what it says.

`.iamlint.yaml` (or `.iamlint.yml`) or the `[tool.iamlint]` table of `pyproject.toml`, in the
current directory or the nearest parent that has one, or the file named by `--config`. It is
checked against `schemas/config.schema.json`; every problem names the file, the line where
the file format allows it, and the bad key. Paths in the file are relative to its folder.
Command-line flags override what the file says (see `iamlint.cli`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

from iamlint.model import Finding, Location, PathKey, Severity
from iamlint.ruleset import Rule
from iamlint.suppress import Suppression

YAML_NAMES = (".iamlint.yaml", ".iamlint.yml")
PYPROJECT = "pyproject.toml"
SETTING_KEYS = ("known_accounts", "forbidden_actions", "forbidden_resources", "sensitive_actions", "categories")


class ConfigError(Exception):
    """The configuration file is unreadable or invalid: exit status 2."""


@dataclass(frozen=True, slots=True)
class PerPath:
    paths: tuple[str, ...]
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    severity: Mapping[str, Severity] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Config:
    """What the file says; `None` and empty values mean "not set" (the defaults apply)."""

    path: str | None = None
    base: str = "."  # the folder paths in the file are relative to
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] | None = None
    severity: Mapping[str, Severity] = field(default_factory=dict)
    fail_on: Severity | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    per_path: tuple[PerPath, ...] = ()
    settings: Mapping[str, Any] = field(default_factory=dict)
    custom_rules: tuple[Rule, ...] = ()
    parameters: Mapping[str, str] = field(default_factory=dict)
    suppressions: tuple[Suppression, ...] = ()
    baseline: str | None = None

    def relative(self, file: str) -> str:
        """`file` relative to the configuration's folder, with forward slashes."""
        rel = os.path.relpath(os.path.abspath(file), os.path.abspath(self.base))
        return PurePosixPath(*Path(rel).parts).as_posix()

    def matches(self, pattern: str, file: str) -> bool:
        return glob_match(pattern, self.relative(file))

    def excluded(self, file: str) -> bool:
        return any(self.matches(p, file) for p in self.exclude)

    # -- per-path rule settings -------------------------------------------------------------
    def rule_runs(self, rule_id: str, file: str) -> bool:
        """Whether per_path leaves `rule_id` on for `file` (global select/ignore aside)."""
        for entry in self.per_path:
            if any(self.matches(p, file) for p in entry.paths):
                if entry.select and not _prefixed(rule_id, entry.select):
                    return False
                if entry.ignore and _prefixed(rule_id, entry.ignore):
                    return False
        return True

    def apply_per_path(self, findings: Sequence[Finding]) -> list[Finding]:
        if not self.per_path:
            return list(findings)
        out = []
        for f in findings:
            if f.is_error:
                out.append(f)
                continue
            if not self.rule_runs(f.rule, f.location.file):
                continue
            for entry in self.per_path:
                level = entry.severity.get(f.rule)
                if level is not None and any(self.matches(p, f.location.file) for p in entry.paths):
                    f = f.with_severity(level)
            out.append(f)
        return out


def _prefixed(rule_id: str, patterns: Sequence[str]) -> bool:
    return any(rule_id.upper().startswith(p.upper()) for p in patterns)


_ANY_FOLDERS, _ANY, _IN_FOLDER, _ONE = "**/", "**", "*", "?"


@lru_cache(maxsize=512)
def _glob_tokens(pattern: str) -> tuple[str, ...]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        for token in (_ANY_FOLDERS, _ANY, _IN_FOLDER, _ONE):
            if pattern.startswith(token, i):
                break
        else:
            token = pattern[i]  # a literal character
        out.append(token)
        i += len(token)
    return tuple(out)


def _glob_full(pattern: str, path: str) -> bool:
    """Does the configuration glob match all of `path`? A set of pattern positions is carried
    along the path, so the time is at most their product: the configuration comes with the
    code under review, and a regex of many stars backtracks for minutes on a long name."""
    tokens = _glob_tokens(pattern)
    end = len(tokens)

    def closure(states: set[int]) -> set[int]:
        todo = list(states)
        while todo:  # a run of folders, of anything or of a name may also be empty
            k = todo.pop()
            if 0 <= k < end and tokens[k] in (_ANY_FOLDERS, _ANY, _IN_FOLDER) and k + 1 not in states:
                states.add(k + 1)
                todo.append(k + 1)
        return states

    # State k: at token k. State -(k + 1): inside the folders of the `**/` at k, which end
    # only with a "/".
    states = closure({0})
    for char in path:
        following: set[int] = set()
        for k in states:
            at = -k - 1 if k < 0 else k
            token = tokens[at] if at < end else None
            if token == _ANY_FOLDERS:
                following.add(-at - 1)
                if char == "/":
                    following.add(at + 1)  # the folders end here
            elif token == _ANY:
                following.add(k)
            elif token == _IN_FOLDER:
                if char != "/":
                    following.add(k)
            elif token == _ONE:
                if char != "/":
                    following.add(k + 1)
            elif token == char:
                following.add(k + 1)
        if not following:
            return False
        states = closure(following)
    return end in states


def glob_match(pattern: str, rel: str) -> bool:
    """Match a path relative to the configuration's folder.

    `*` and `?` stay inside one folder, `**` crosses folders, a pattern ending in `/` names a
    folder and everything under it, and a pattern without `/` also matches the file name
    anywhere (as in .gitignore).
    """
    pattern = pattern.removeprefix("./")
    if pattern.endswith("/"):
        pattern += "**"
    if _glob_full(pattern, rel):
        return True
    return "/" not in pattern and _glob_full(pattern, rel.rsplit("/", 1)[-1])


# -- finding and reading ----------------------------------------------------------------------


def discover(start: str | None = None) -> str | None:
    """The configuration file for `start` (default: the current directory), if any."""
    here = Path(os.path.abspath(start or os.getcwd()))
    for folder in (here, *here.parents):
        for name in YAML_NAMES:
            if (folder / name).is_file():
                return str(folder / name)
        pyproject = folder / PYPROJECT
        if pyproject.is_file() and _has_tool_table(pyproject):
            return str(pyproject)
    return None


# Every spelling of the table names "tool" then "iamlint", or "iamlint" as a key of [tool].
_MAYBE_TOOL_TABLE = re.compile(rb"""(?m)tool["']?\s*\.\s*["']?iamlint|^\s*["']?iamlint["']?\s*[.=]""")


def _has_tool_table(path: Path) -> bool:
    """Does this pyproject.toml configure iamlint, in any of TOML's spellings of the table
    (`[tool.iamlint]`, `tool.iamlint.ignore = ...`, `[tool] iamlint = {...}`)? One that cannot be
    read might: it is an error rather than a reason to use a configuration further up."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not _MAYBE_TOOL_TABLE.search(data):
        return False  # most projects: no TOML parsed
    import tomllib  # noqa: PLC0415 - only for a pyproject.toml that names iamlint

    try:
        tool = tomllib.loads(data.decode("utf-8")).get("tool")
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return isinstance(tool, Mapping) and "iamlint" in tool


def load_config(path: str | None = None, *, discover_from: str | None = None) -> Config:
    """Read and validate the configuration at `path`, or the one discovered; empty when none."""
    if path is None:
        path = discover(discover_from)
        if path is None:
            return Config()
    if not os.path.isfile(path):
        raise ConfigError(f"{path}: configuration file not found")
    raw, where = _read(path)
    _validate(path, raw, where)
    return _build(path, raw, where)


Where = Any  # (keys) -> "path:line:col" text


MAX_CONFIG_BYTES = 1 << 20  # a configuration is a few kilobytes; each entry costs every file a check


def _read(path: str) -> tuple[Mapping[str, Any], Where]:
    try:
        if os.path.getsize(path) > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: over {MAX_CONFIG_BYTES} bytes; a configuration is a few kilobytes")
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if os.path.basename(path) == PYPROJECT or path.endswith(".toml"):
        import tomllib  # noqa: PLC0415 - only for TOML configurations

        try:
            doc = tomllib.loads(data.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        tool = doc.get("tool", {})
        table = tool.get("iamlint") if isinstance(tool, Mapping) else None
        if table is None and os.path.basename(path) == PYPROJECT:
            raise ConfigError(f"{path}: has no [tool.iamlint] table")
        raw = table if table is not None else doc

        def where_toml(keys: Sequence[PathKey]) -> str:
            inner = ".".join(str(k) for k in keys)
            return f"{path}: [tool.iamlint]{'.' + inner if inner else ''}"

        if not isinstance(raw, Mapping):
            raise ConfigError(f"{path}: [tool.iamlint] must be a table")
        return raw, where_toml
    from iamlint.loaders.located import ParseError, parse_any  # noqa: PLC0415

    try:
        located = parse_any(data, path)
    except ParseError as exc:
        raise ConfigError(f"{path}:{exc.line or 1}:{exc.column or 1}: {exc.message}") from None

    def where_yaml(keys: Sequence[PathKey]) -> str:
        mark = located.mark(tuple(keys))
        text = f"{path}:{mark.line}:{mark.column}" if mark is not None else path
        inner = "/".join(str(k) for k in keys)
        return f"{text}: {inner}" if inner else text

    if located.data is None:
        return {}, where_yaml
    if not isinstance(located.data, Mapping):
        raise ConfigError(f"{path}:1:1: the configuration must be a mapping of settings")
    return located.data, where_yaml


def _validate(path: str, raw: Mapping[str, Any], where: Where) -> None:
    import jsonschema  # noqa: PLC0415 - only when there is a configuration to check

    from iamlint.schemas import load_schema  # noqa: PLC0415

    validator = jsonschema.Draft202012Validator(load_schema("config"))
    errors = sorted(validator.iter_errors(raw), key=lambda e: [str(p) for p in e.absolute_path])
    if not errors:
        return
    lines = []
    for error in errors:
        keys = tuple(error.absolute_path)
        message = error.message
        if error.validator == "additionalProperties" and not keys:
            message = f"unknown setting: {message}"
        lines.append(f"{where(keys)}: {message}")
    raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines))


def _rules(value: Any) -> tuple[str, ...]:
    return tuple(str(v).upper() for v in value)


def _severities(value: Mapping[str, str]) -> dict[str, Severity]:
    return {str(k).upper(): Severity.parse(str(v)) for k, v in value.items()}


def _build(path: str, raw: Mapping[str, Any], where: Where) -> Config:
    base = os.path.dirname(os.path.abspath(path))
    per_path = tuple(
        PerPath(
            paths=tuple(e["paths"]),
            select=_rules(e.get("select", ())),
            ignore=_rules(e.get("ignore", ())),
            severity=_severities(e.get("severity", {})),
        )
        for e in raw.get("per_path", ())
    )
    settings = {key: raw[key] for key in SETTING_KEYS if key in raw}
    suppressions = []
    for i, entry in enumerate(raw.get("suppressions", ())):
        keys: tuple[PathKey, ...] = ("suppressions", i)
        location = _location(path, keys, where)
        suppressions.append(
            Suppression(
                rule=entry["rule"],
                reason=entry["reason"].strip(),
                location=location,
                actions=tuple(entry.get("actions", ())),
                resources=tuple(entry.get("resources", ())),
                logical_id=entry.get("logical_id"),
                paths=tuple(entry["paths"]),
                base=base,
                sid=entry.get("sid"),
            )
        )
    parameters = {str(k): _param(v) for k, v in raw.get("parameters", {}).items()}
    baseline = raw.get("baseline")
    return Config(
        path=path,
        base=base,
        select=_rules(raw["select"]) if "select" in raw else None,
        ignore=_rules(raw["ignore"]) if "ignore" in raw else None,
        severity=_severities(raw.get("severity", {})),
        fail_on=Severity.parse(raw["fail_on"]) if "fail_on" in raw else None,
        include=tuple(raw.get("include", ())),
        exclude=tuple(raw.get("exclude", ())),
        per_path=per_path,
        settings=settings,
        custom_rules=_custom_rules(path, base, raw.get("rules_dirs", ()), where),
        parameters=parameters,
        suppressions=tuple(suppressions),
        baseline=os.path.join(base, baseline) if isinstance(baseline, str) else None,
    )


def _param(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _location(path: str, keys: tuple[PathKey, ...], where: Where) -> Location:
    text = where(keys)
    m = re.match(re.escape(path) + r":(\d+):(\d+)", text)
    line, col = (int(m.group(1)), int(m.group(2))) if m else (None, None)
    return Location(path, line, col, keys)


def _custom_rules(path: str, base: str, dirs: Sequence[str], where: Where) -> tuple[Rule, ...]:
    if not dirs:
        return ()
    from iamlint.checks.custom import has_match  # noqa: PLC0415
    from iamlint.ruleset import RuleError, load_builtin_rules, load_rule_dir  # noqa: PLC0415

    builtin = load_builtin_rules()
    out: dict[str, Rule] = {}
    for i, folder in enumerate(dirs):
        full = Path(base, folder)
        if not full.is_dir():
            raise ConfigError(f"{where(('rules_dirs', i))}: custom rules folder {folder!r} does not exist")
        try:
            rules = load_rule_dir(full)
        except RuleError as exc:
            raise ConfigError(f"invalid custom rule: {exc}") from None
        for rule in rules:
            if not has_match(rule.raw):
                raise ConfigError(f"{rule.file}: a custom rule needs a 'match' block (actions to report)")
            if not rule.id.startswith("IAM9"):
                raise ConfigError(
                    f"{rule.file}: rule id {rule.id} is outside the custom range: custom rules use IAM900-IAM999"
                )
            if rule.id in builtin or rule.id in out:
                raise ConfigError(f"{rule.file}: rule id {rule.id} is already taken; custom rules use IAM900-IAM999")
            out[rule.id] = rule
    return tuple(out.values())
