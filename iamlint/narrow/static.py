"""`iamlint narrow TEMPLATE --from-code`: the calls a function's code can make, as `Call`s.

For each function of a SAM or CloudFormation template (`AWS::Serverless::Function` with
`CodeUri` and `Handler`, SAM `InlineCode`, `AWS::Lambda::Function` with `Code.ZipFile` or a
CDK asset folder), the handler file is found from the runtime and handler (`app.handler` is
`app.py` for Python, `app.js`/`.mjs`/`.ts`... for Node, SAM's esbuild `EntryPoints` too), then
analysed with the local modules it imports (`static_python`, `static_js`). Environment
variables in the code are looked up in the function's `Environment.Variables` (SAM Globals
merged), resolved with the template's intrinsics (`!Ref OrdersTable` is `<OrdersTable>`, named
as the template's own policies name it), and a variable that refers to a template resource
also contributes that resource's ARN.

Each call site becomes a `Call` with no time, no error (static calls succeed by definition)
and `event_source` "static analysis of FILE:LINE", which `annotate` carries into the evidence
of the proposal. A value the code does not show is left out, so the narrower keeps what the
current policy grants for it; an unknown object key under a known bucket becomes `*`.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iamlint.narrow import botomodels
from iamlint.narrow.calls import Call
from iamlint.narrow.codecalls import Arg, CodeCall, EnvRef, Text

BASIS = "static analysis of "
_PY = (".py",)
_JS = (".js", ".mjs", ".cjs", ".ts", ".mts", ".cts")
# Parameters naming something inside a known container: unknown there means any (`bucket/*`).
_PATH_PARAMS = frozenset({"Key", "Prefix", "IndexName"})
_MAX_FILES = 500  # local modules followed per function


class StaticError(Exception):
    """The template or a named function cannot be analysed."""


@dataclass(frozen=True, slots=True)
class FunctionCode:
    logical_id: str
    language: str | None  # "python" | "javascript"; None when the handler was not found
    root: Path  # the code folder
    entries: tuple[Path, ...]  # handler files
    environment: Mapping[str, Any]  # raw `Environment.Variables`, SAM Globals merged
    inline: str | None = None  # InlineCode / Code.ZipFile
    problem: str | None = None


@dataclass(slots=True)
class StaticResult:
    function: str
    calls: list[Call] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def analyse_template(
    path: str | Path, parameters: Mapping[str, str], function: str | None = None
) -> list[StaticResult]:
    """One result per function with code (only `function` when given)."""
    from iamlint.loaders.located import ParseError, parse_any  # noqa: PLC0415

    template_path = Path(path)
    try:
        data = parse_any(template_path.read_bytes(), str(template_path)).data
    except (OSError, ParseError) as exc:
        raise StaticError(f"{template_path}: cannot read the template: {exc}") from None
    if not isinstance(data, Mapping) or not isinstance(data.get("Resources"), Mapping):
        raise StaticError(f"{template_path}: not a CloudFormation or SAM template (no Resources)")
    functions = functions_in(data, template_path.parent)
    if function is not None:
        functions = [f for f in functions if f.logical_id == function]
        if not functions:
            raise StaticError(f"{template_path}: no function {function} with code to analyse")
    return [analyse_function(f, data, parameters, template_path.parent) for f in functions]


# -- finding the code ---------------------------------------------------------------------------


def functions_in(template: Mapping[str, Any], base: Path) -> list[FunctionCode]:
    globals_ = template.get("Globals")
    glob = _mapping(_mapping(globals_).get("Function"))
    out: list[FunctionCode] = []
    for logical_id, res in template["Resources"].items():
        if not isinstance(res, Mapping):
            continue
        props = _mapping(res.get("Properties"))
        metadata = _mapping(res.get("Metadata"))
        rtype = res.get("Type")
        if rtype == "AWS::Serverless::Function":
            merged = {**glob, **props}
            env = {**_variables(glob), **_variables(props)}
            code_uri = merged.get("CodeUri")
            inline = merged.get("InlineCode")
            build = _mapping(metadata.get("BuildProperties"))
            root = base / code_uri if isinstance(code_uri, str) and not code_uri.startswith("s3://") else base
            out.append(_locate(str(logical_id), merged, root, env, inline, build.get("EntryPoints")))
        elif rtype == "AWS::Lambda::Function":
            code = _mapping(props.get("Code"))
            asset = metadata.get("aws:asset:path")  # CDK: the code folder next to the template
            root = base / asset if isinstance(asset, str) else base
            out.append(_locate(str(logical_id), props, root, _variables(props), code.get("ZipFile"), None))
    return out


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _variables(props: Mapping[str, Any]) -> dict[str, Any]:
    env = props.get("Environment")
    variables = env.get("Variables") if isinstance(env, Mapping) else None
    return dict(variables) if isinstance(variables, Mapping) else {}


def _locate(
    logical_id: str, props: Mapping[str, Any], root: Path, env: dict[str, Any], inline: Any, entry_points: Any
) -> FunctionCode:
    runtime = props.get("Runtime")
    runtime = runtime if isinstance(runtime, str) else ""
    handler = props.get("Handler")
    language = "python" if runtime.startswith("python") else "javascript" if runtime.startswith("nodejs") else None
    if isinstance(inline, str):
        if language is None:
            return FunctionCode(
                logical_id, None, root, (), env, problem="inline code with no Python or Node.js Runtime"
            )
        return FunctionCode(logical_id, language, root, (), env, inline=inline)
    if not isinstance(handler, str) or "." not in handler:
        return FunctionCode(logical_id, None, root, (), env, problem=f"no usable Handler ({handler!r})")
    if not root.is_dir():
        return FunctionCode(logical_id, None, root, (), env, problem=f"code folder {root} does not exist")
    module = handler.rsplit(".", 1)[0]
    parts = module.replace("\\", "/").split("/")
    if not module or module.startswith(("/", "\\")) or ".." in parts or "" in parts or "\0" in module:
        return FunctionCode(
            logical_id,
            None,
            root,
            (),
            env,
            problem=f"Handler {handler!r} names no module file inside the code folder {root}",
        )
    candidates: list[tuple[str, Path]] = []
    if language in (None, "python"):
        stem = root / module.replace(".", "/") if "/" not in module else root / module
        candidates += [("python", stem.with_name(stem.name + ".py")), ("python", stem / "__init__.py")]
    if language in (None, "javascript"):
        candidates += [("javascript", (root / module).with_name(Path(module).name + ext)) for ext in _JS]
        if isinstance(entry_points, list):
            candidates += [("javascript", root / e) for e in entry_points if isinstance(e, str)]
    for lang, path in candidates:
        if path.is_file():
            if not path.resolve().is_relative_to(root.resolve()):  # a link out of the code folder
                return FunctionCode(
                    logical_id,
                    None,
                    root,
                    (),
                    env,
                    problem=f"handler file {path} leads outside the code folder {root}; not read",
                )
            return FunctionCode(logical_id, lang, root, (path,), env)
    return FunctionCode(
        logical_id,
        None,
        root,
        (),
        env,
        problem=f"handler {handler!r} not found in {root} (runtime {runtime or 'not given'})",
    )


# -- analysing ------------------------------------------------------------------------------------


def analyse_function(
    fn: FunctionCode, template: Mapping[str, Any], parameters: Mapping[str, str], base: Path
) -> StaticResult:
    result = StaticResult(fn.logical_id)
    if fn.problem is not None or fn.language is None:
        result.problems.append(f"{fn.logical_id}: {fn.problem or 'no code found'}")
        return result
    sites = _sites(fn, base, result)
    resolver = _Environment(fn.environment, template, parameters)
    for site in sites:
        call = resolver.call(site)
        if call is not None:
            result.calls.append(call)
    return result


def _shown(path: Path, base: Path) -> str:
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _sites(fn: FunctionCode, base: Path, result: StaticResult) -> list[CodeCall]:
    from iamlint.narrow import static_js, static_python  # noqa: PLC0415

    root = fn.root.resolve()
    sites: list[CodeCall] = []
    py_done: dict[Path, static_python.Module | None] = {}
    js_done: dict[Path, static_js.Exports | None] = {}

    def inside(path: Path) -> bool:
        return path.is_file() and path.resolve().is_relative_to(root) and len(py_done) + len(js_done) < _MAX_FILES

    def run_python(path: Path, source: str, shown: str) -> static_python.Module | None:
        py_done[path] = None  # an import cycle sees nothing rather than recursing
        try:
            analyzer = static_python.Analyzer(source, path, shown, load_python)
            module = analyzer.run()
        except SyntaxError as exc:
            where = f"{shown}:{exc.lineno}" if exc.lineno else shown
            result.problems.append(f"{where}: cannot parse: {exc.msg}")
            return None
        except (RecursionError, MemoryError, ValueError) as exc:  # nested too deep for ast; NUL bytes
            result.problems.append(f"{shown}: cannot parse: {exc}")
            return None
        result.problems.extend(analyzer.unresolved)
        sites.extend(analyzer.calls)
        result.files.append(shown)
        py_done[path] = module
        return module

    def load_python(name: str, level: int, importer: Path) -> static_python.Module | None:
        start = importer.parent if level else root
        for _ in range(max(level - 1, 0)):
            start = start.parent
        parts = [p for p in name.split(".") if p]
        stem = start.joinpath(*parts)
        for path in ((stem.with_name(stem.name + ".py") if parts else None), stem / "__init__.py"):
            if path is not None and path in py_done:
                return py_done[path]
            if path is not None and inside(path):
                source = _read(path, result)
                return run_python(path, source, _shown(path, base)) if source is not None else None
        return None

    def run_js(path: Path, source: str, shown: str) -> static_js.Exports | None:
        js_done[path] = None
        try:
            analyzer = static_js.Analyzer(source, path, shown, load_js)  # its lexer runs here
            exports = analyzer.run()
        except RecursionError:  # the recursive-descent reader on expressions nested too deep
            result.problems.append(f"{shown}: cannot analyse: expressions nested too deep")
            return None
        except (IndexError, ValueError) as exc:  # code our reader does not follow (cut off mid-statement)
            result.problems.append(f"{shown}: cannot analyse: {type(exc).__name__} ({exc}); its calls are not seen")
            return None
        sites.extend(analyzer.calls)
        result.problems.extend(analyzer.unresolved)
        result.files.append(shown)
        js_done[path] = exports
        return exports

    def load_js(spec: str, importer: Path) -> static_js.Exports | None:
        stem = importer.parent / spec
        options = [stem, *(stem.with_name(stem.name + e) for e in _JS), *(stem / f"index{e}" for e in _JS)]
        if stem.suffix == ".js":  # TypeScript imports name the compiled file: ./db.js is ./db.ts
            options += [stem.with_suffix(e) for e in _JS]
        for path in options:
            if path in js_done:
                return js_done[path]
            if inside(path):
                source = _read(path, result)
                return run_js(path, source, _shown(path, base)) if source is not None else None
        return None

    sources: list[tuple[Path, str | None, str]] = (
        [(base / f"{fn.logical_id}.inline", fn.inline, f"{fn.logical_id} (inline code)")] if fn.inline else []
    )
    sources += [(entry, _read(entry, result), _shown(entry, base)) for entry in fn.entries]
    for path, source, shown in sources:
        if source is None:
            continue  # unreadable: its problem says why, and no proposal rests on it
        if fn.language == "python":
            run_python(path, source, shown)
        else:
            run_js(path, source, shown)
    return sites


def _read(path: Path, result: StaticResult) -> str | None:
    """The file's source, or None (with a problem saying why) when it cannot be analysed."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        result.problems.append(f"{path}: cannot read: {exc.strerror or exc}")
        return None
    if b"\0" in data[:8192]:
        result.problems.append(f"{path}: holds NUL bytes (a binary file, not source code); not analysed")
        return None
    # A byte-order mark is valid at the start of Python and JavaScript source.
    return data.removeprefix(codecs.BOM_UTF8).decode("utf-8", errors="replace")


class _Environment:
    """Resolves a call site's arguments against the function's environment and the template."""

    def __init__(
        self, variables: Mapping[str, Any], template: Mapping[str, Any], parameters: Mapping[str, str]
    ) -> None:
        from iamlint.loaders.intrinsics import Resolver  # noqa: PLC0415

        self.variables = variables
        self.resolver = Resolver(template, parameters)
        self.region = parameters.get("AWS::Region") or "<AWS::Region>"
        self.account = parameters.get("AWS::AccountId") or "<AWS::AccountId>"

    def call(self, site: CodeCall) -> Call | None:
        info = botomodels.service(site.service)
        if info is None:
            return None
        arns: list[str] = []
        params: dict[str, object] = {}
        for name, arg in site.params.items():
            value = self._value(arg, arns, path_like=name in _PATH_PARAMS)
            if value is not None:
                params[name] = value
        source = params.get("CopySource")
        if isinstance(source, Mapping) and isinstance(source.get("Bucket"), str) and isinstance(source.get("Key"), str):
            params["CopySource"] = f"{source['Bucket']}/{source['Key']}"
        where = f"{site.file}:{site.line}"
        return Call(
            service=info.iam_prefix,
            operation=site.operation,
            principal="",
            role_arn=None,
            session_name=None,
            time=None,
            region=self.region,
            resources=tuple(dict.fromkeys(arns)),
            parameters=params,
            event_source=BASIS + where,
            source_file=site.file,
            source_index=site.line,
            account=self.account,
            api=site.service,
            wildcards=True,
        )

    def _value(self, arg: Arg, arns: list[str], path_like: bool = False) -> object:
        if isinstance(arg, Text):
            return self._text(arg, arns, path_like)
        if isinstance(arg, Mapping):
            out: dict[str, object] = {}
            for key, item in arg.items():
                name = self._text(key, arns, False)
                if isinstance(name, str) and "*" not in name:
                    value = self._value(item, arns, path_like=name in _PATH_PARAMS)
                    out[name] = value if value is not None else {}
            return out
        return [v for v in (self._value(a, arns) for a in arg) if v is not None]

    def _text(self, text: Text, arns: list[str], path_like: bool) -> str | None:
        pieces: list[str | None] = [self._part(p, arns) for p in text.parts]
        if all(p is None for p in pieces):
            return "*" if path_like else None
        joined = "".join(p if p is not None else "*" for p in pieces)
        return re.sub(r"\*+", "*", joined)

    def _part(self, part: str | EnvRef | None, arns: list[str]) -> str | None:
        if part is None or isinstance(part, str):
            return part
        if part.name in ("AWS_REGION", "AWS_DEFAULT_REGION") and part.name not in self.variables:
            return self.region
        if part.name not in self.variables:
            return part.default
        raw = self.variables[part.name]
        arns.extend(self._resource_arns(raw))
        value = self.resolver.resolve(raw)
        if isinstance(value, bool):
            return str(value).lower()
        return str(value) if isinstance(value, str | int | float) else None

    def _resource_arns(self, raw: Any) -> Iterable[str]:
        """The ARN of the template resource a variable refers to (`!Ref Table`, `!GetAtt Q.QueueName`)."""
        logical_id = None
        if isinstance(raw, Mapping) and len(raw) == 1:
            if isinstance(raw.get("Ref"), str):
                logical_id = raw["Ref"]
            target = raw.get("Fn::GetAtt")
            if isinstance(target, str):
                logical_id = target.split(".", 1)[0]
            elif isinstance(target, list) and target and isinstance(target[0], str):
                logical_id = target[0]
        resources = self.resolver.template.get("Resources")
        if logical_id is None or not isinstance(resources, Mapping) or logical_id not in resources:
            return ()
        from iamlint.loaders.intrinsics import IntrinsicError  # noqa: PLC0415

        try:
            arn = self.resolver.get_att(logical_id, "Arn")
        except IntrinsicError:
            return ()
        # The resolver names a resource's ARN with <AWS::Region> and <AWS::AccountId> whatever
        # parameters it was given; the values the user gave are the ones AWS will use.
        arn = arn.replace("<AWS::Region>", self.region).replace("<AWS::AccountId>", self.account)
        return (arn,) if arn.startswith("arn:") else ()


# -- the proposal's evidence ------------------------------------------------------------------------


def annotate(evidence: Iterable[Any], calls: Iterable[Call]) -> None:
    """Point each proposal line that static analysis supports at the code that needs it."""
    from iamlint.catalog import get_catalog  # noqa: PLC0415
    from iamlint.narrow.mapping import iam_actions  # noqa: PLC0415

    catalog = get_catalog()
    sites: dict[str, list[tuple[str, str]]] = {}  # action -> (where, operation) of each call site
    # ... and by (action, resource): thousands of sites of one action, each on its own object,
    # made a scan per proposal line quadratic.
    on: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for call in calls:
        if not call.event_source.startswith(BASIS):
            continue
        mapped = iam_actions(call, catalog)
        for action in mapped.actions:
            site = (call.event_source.removeprefix(BASIS), call.operation)
            sites.setdefault(action, []).append(site)
            for resource in dict.fromkeys(mapped.resources_for(action)):
                on.setdefault((action, resource), []).append(site)
    places_of: dict[int, list[str]] = {}  # by the list of sites: each worked out once
    for ev in evidence:
        found = sites.get(ev.action)
        if not found or not ev.basis.startswith("observed"):
            continue
        exact = on.get((ev.action, ev.resource)) or found
        places = places_of.get(id(exact))
        if places is None:
            places = places_of[id(exact)] = list(dict.fromkeys(s[0] for s in exact))
        more = f" and {len(places) - 3} more" if len(places) > 3 else ""
        seen = "observed; " if ev.first else ""
        ev.basis = f"{seen}{BASIS}{', '.join(places[:3])}{more}"
        ev.example = f"{exact[0][1]} {ev.resource} at {exact[0][0]}"
