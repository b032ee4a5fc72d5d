"""Static analysis of Python function code: the boto3 and botocore calls it can make.

The handler module is parsed with `ast` and walked statement by statement, keeping for each
name what it holds as far as the code shows: a client (`boto3.client("s3")`, a session's
client), a resource object (`boto3.resource("dynamodb").Table(name)`, `s3.Bucket(b).Object(k)`),
a paginator or waiter, a string made of literals, environment variables (`os.environ["T"]`,
`os.getenv("T", "dflt")`) and unknown pieces. Method calls on clients become operations through
botocore's own model (`list_objects_v2` -> `ListObjectsV2`); resource methods through boto3's
resource model (`boto3_resources`). Local modules the handler imports are analysed too, with
their module-level names, and a local function called with no arguments that matter
(`def table(): return ddb.Table(NAME)`) stands for what it returns.

Deliberately not followed: values passed as arguments into a function, containers mutated after
creation, `getattr`, dynamic imports. A call whose client cannot be told is not reported.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iamlint.narrow import botomodels
from iamlint.narrow.boto3_resources import (
    Client,
    Collection,
    Pager,
    Resource,
    argument,
    client_call,
    meta_attribute,
    resource_call,
)
from iamlint.narrow.codecalls import Arg, CodeCall, Text, as_params

# Dotted names of the library functions and modules that matter, as imported.
_ROOTS = frozenset({"boto3", "os", "botocore"})
_ATTRS = {
    ("boto3", "client"): "boto3.client",
    ("boto3", "resource"): "boto3.resource",
    ("boto3", "Session"): "boto3.Session",
    ("boto3", "session"): "boto3.session",
    ("boto3.session", "Session"): "boto3.Session",
    ("os", "environ"): "os.environ",
    ("os", "getenv"): "os.getenv",
    ("os.environ", "get"): "os.environ.get",
    ("botocore", "session"): "botocore.session",
    ("botocore.session", "get_session"): "botocore.session.get_session",
    ("botocore.session", "Session"): "botocore.session.get_session",
}
_PERCENT = re.compile(r"%[-#0 +]*\d*(?:\.\d+)?[sdifrxXeEgGc]")
_BRACES = re.compile(r"\{[^{}]*\}")


@dataclass(frozen=True, slots=True)
class Marker:
    """A library module or function: "boto3", "boto3.client", "os.environ"..."""

    name: str


@dataclass(frozen=True, slots=True)
class Session:
    pass


@dataclass(frozen=True, slots=True)
class Bound:
    """A method of a client, resource, collection or pager, not yet called."""

    receiver: Any
    name: str


@dataclass(eq=False, slots=True)
class Function:
    node: ast.FunctionDef | ast.AsyncFunctionDef
    scope: Scope
    owner: Instance | None = None


@dataclass(eq=False, slots=True)
class Instance:
    """`self` inside a class: its attributes, from the class body and any method."""

    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass(eq=False, slots=True)
class Module:
    """A local module the handler imports."""

    scope: Scope


@dataclass(eq=False, slots=True)
class Scope:
    names: dict[str, Any] = field(default_factory=dict)
    parent: Scope | None = None

    def get(self, name: str) -> Any:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.names:
                return scope.names[name]
            scope = scope.parent
        return None


ModuleLoader = Callable[[str, int, Path], "Module | None"]


class Analyzer:
    """Walks one module; `calls` holds what it found once `run` returns."""

    def __init__(self, source: str, path: Path, shown: str, load_module: ModuleLoader) -> None:
        self.source = source
        self.path = path
        self.shown = shown
        self.load_module = load_module
        self.calls: list[CodeCall] = []
        self.module = Module(Scope())
        self._done: dict[int, Any] = {}  # id(function node) -> summary
        self._running: set[int] = set()
        self._pending: list[Function] = []
        self.pagers: list[Pager] = []
        self._paged: set[Pager] = set()
        # Call sites whose service or operation is known only at run time: said, never dropped.
        self.unresolved: list[str] = []

    # -- driving --------------------------------------------------------------------------

    def run(self) -> Module:
        tree = ast.parse(self.source, filename=str(self.path))
        self._block(tree.body, self.module.scope, None)
        while self._pending:
            self._function(self._pending.pop(0))
        # A paginator or waiter made here but run elsewhere still shows the operation is needed.
        for pager in self.pagers:
            if pager not in self._paged:
                self.emit(pager.service, pager.operation, {}, pager.line, f"{pager.kind} {pager.operation}")
        return self.module

    def emit(self, service: str, operation: str, params: dict[str, Arg], line: int, how: str) -> None:
        self.calls.append(CodeCall(service, operation, params, self.shown, line, how))

    def _block(self, body: Sequence[ast.stmt], scope: Scope, owner: Instance | None) -> None:
        for stmt in body:
            self._stmt(stmt, scope, owner)

    def _function(self, fn: Function) -> Any:
        key = id(fn.node)
        if key in self._done:
            return self._done[key]
        if key in self._running:
            return None
        self._running.add(key)
        scope = Scope(parent=fn.scope)
        args = fn.node.args
        positional = [*args.posonlyargs, *args.args]
        defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
        for arg, default in zip(positional, defaults, strict=True):
            scope.names[arg.arg] = self.eval(default, fn.scope) if default is not None else None
        for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
            scope.names[arg.arg] = self.eval(kw_default, fn.scope) if kw_default is not None else None
        if fn.owner is not None and positional and not _is_static(fn.node):
            scope.names[positional[0].arg] = fn.owner
        returns: list[Any] = []
        scope.names["<returns>"] = returns
        self._block(fn.node.body, scope, None)
        self._running.discard(key)
        first = returns[0] if returns else None
        summary = first if returns and all(r == first for r in returns) else None
        self._done[key] = summary
        return summary

    # -- statements -----------------------------------------------------------------------

    def _stmt(self, stmt: ast.stmt, scope: Scope, owner: Instance | None) -> None:
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            self._import(stmt, scope)
        elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            for deco in stmt.decorator_list:
                self.eval(deco, scope)
            fn = Function(stmt, scope, owner)
            if owner is not None:
                owner.attrs[stmt.name] = fn
            else:
                scope.names[stmt.name] = fn
            self._pending.append(fn)
        elif isinstance(stmt, ast.ClassDef):
            instance = Instance()
            scope.names[stmt.name] = instance
            self._block(stmt.body, Scope(parent=scope), instance)
            # __init__ first: it sets the attributes the other methods use.
            self._pending.sort(key=lambda f: f.owner is not instance or f.node.name != "__init__")
        elif isinstance(stmt, ast.Assign):
            value = self.eval(stmt.value, scope)
            for target in stmt.targets:
                self._bind(target, value, scope, owner)
        elif isinstance(stmt, ast.AnnAssign | ast.AugAssign):
            value = self.eval(stmt.value, scope) if stmt.value is not None else None
            self._bind(stmt.target, value if isinstance(stmt, ast.AnnAssign) else None, scope, owner)
        elif isinstance(stmt, ast.With | ast.AsyncWith):
            for item in stmt.items:
                value = self.eval(item.context_expr, scope)
                if item.optional_vars is not None:
                    self._bind(item.optional_vars, value, scope, owner)
            self._block(stmt.body, scope, owner)
        elif isinstance(stmt, ast.For | ast.AsyncFor):
            self.eval(stmt.iter, scope)
            self._bind(stmt.target, None, scope, owner)
            self._block(stmt.body, scope, owner)
            self._block(stmt.orelse, scope, owner)
        elif isinstance(stmt, ast.Return):
            value = self.eval(stmt.value, scope) if stmt.value is not None else None
            returns = scope.get("<returns>")
            if isinstance(returns, list):
                returns.append(value)
        else:
            for _, node in ast.iter_fields(stmt):
                if isinstance(node, ast.expr):
                    self.eval(node, scope)
                elif isinstance(node, list):
                    stmts = [n for n in node if isinstance(n, ast.stmt)]
                    if stmts:
                        self._block(stmts, scope, owner)
                    for n in node:
                        if isinstance(n, ast.expr):
                            self.eval(n, scope)
                        elif isinstance(n, ast.ExceptHandler | ast.match_case):
                            self._block(n.body, scope, owner)

    def _bind(self, target: ast.expr, value: Any, scope: Scope, owner: Instance | None) -> None:
        if isinstance(target, ast.Name):
            if owner is not None:
                owner.attrs[target.id] = value
            scope.names[target.id] = value
        elif isinstance(target, ast.Attribute):
            base = self.eval(target.value, scope)
            if isinstance(base, Instance):
                base.attrs[target.attr] = value
        elif isinstance(target, ast.Tuple | ast.List):
            items = value if isinstance(value, list) and len(value) == len(target.elts) else None
            for i, elt in enumerate(target.elts):
                self._bind(elt, items[i] if items else None, scope, owner)
        elif isinstance(target, ast.Starred):
            self._bind(target.value, None, scope, owner)

    def _import(self, stmt: ast.Import | ast.ImportFrom, scope: Scope) -> None:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                top = alias.name.split(".")[0]
                if top in _ROOTS:
                    scope.names[alias.asname or top] = Marker(alias.name if alias.asname else top)
                    continue
                module = self.load_module(alias.name, 0, self.path)
                if module is not None and (alias.asname or "." not in alias.name):
                    scope.names[alias.asname or alias.name] = module
            return
        base = stmt.module or ""
        if stmt.level == 0 and base.split(".")[0] in _ROOTS:
            for alias in stmt.names:
                dotted = f"{base}.{alias.name}"
                head, _, tail = dotted.rpartition(".")
                scope.names[alias.asname or alias.name] = Marker(_ATTRS.get((head, tail), dotted))
            return
        module = self.load_module(base, stmt.level, self.path) if base or stmt.level else None
        for alias in stmt.names:
            if alias.name == "*":
                if module is not None:
                    scope.names.update({k: v for k, v in module.scope.names.items() if not k.startswith("_")})
                continue
            value = module.scope.names.get(alias.name) if module is not None else None
            if value is None:
                sub = f"{base}.{alias.name}" if base else alias.name
                value = self.load_module(sub, stmt.level, self.path)
            scope.names[alias.asname or alias.name] = value

    # -- expressions ----------------------------------------------------------------------

    def eval(self, node: ast.expr | None, scope: Scope) -> Any:
        if node is None:
            return None
        handler = getattr(self, "_eval_" + type(node).__name__, None)
        if handler is not None:
            return handler(node, scope)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.eval(child, scope)
            elif isinstance(child, ast.comprehension):
                self.eval(child.iter, scope)
                for cond in child.ifs:
                    self.eval(cond, scope)
        return None

    def _eval_Constant(self, node: ast.Constant, scope: Scope) -> Any:  # noqa: N802 - ast node name
        return Text.of(node.value) if isinstance(node.value, str) else None

    def _eval_JoinedStr(self, node: ast.JoinedStr, scope: Scope) -> Any:  # noqa: N802
        out = Text(())
        for value in node.values:
            part = self.eval(value, scope)
            out = out + (part if isinstance(part, Text) else Text.unknown())
        return out

    def _eval_FormattedValue(self, node: ast.FormattedValue, scope: Scope) -> Any:  # noqa: N802
        value = self.eval(node.value, scope)
        if node.format_spec is not None:
            self.eval(node.format_spec, scope)
            return Text.unknown()
        return value if isinstance(value, Text) and node.conversion in (-1, ord("s")) else Text.unknown()

    def _eval_BinOp(self, node: ast.BinOp, scope: Scope) -> Any:  # noqa: N802
        left, right = self.eval(node.left, scope), self.eval(node.right, scope)
        if isinstance(node.op, ast.Add) and isinstance(left, Text) and isinstance(right, Text):
            return left + right
        if isinstance(node.op, ast.Mod) and isinstance(left, Text) and left.literal is not None:
            return _template(_PERCENT.split(left.literal))
        return None

    def _eval_BoolOp(self, node: ast.BoolOp, scope: Scope) -> Any:  # noqa: N802
        values = [self.eval(v, scope) for v in node.values]
        first = values[0]
        if isinstance(node.op, ast.Or) and isinstance(first, Text) and len(values) == 2:
            fallback = values[1].literal if isinstance(values[1], Text) else None
            env = first.parts[0] if len(first.parts) == 1 else None
            if fallback is not None and env is not None and not isinstance(env, str):
                return Text.env(env.name, env.default or fallback)
        return first if isinstance(node.op, ast.Or) else None

    def _eval_IfExp(self, node: ast.IfExp, scope: Scope) -> Any:  # noqa: N802
        self.eval(node.test, scope)
        body, orelse = self.eval(node.body, scope), self.eval(node.orelse, scope)
        return body if body == orelse else None

    def _eval_Await(self, node: ast.Await, scope: Scope) -> Any:  # noqa: N802
        return self.eval(node.value, scope)

    def _eval_NamedExpr(self, node: ast.NamedExpr, scope: Scope) -> Any:  # noqa: N802
        value = self.eval(node.value, scope)
        self._bind(node.target, value, scope, None)
        return value

    def _eval_Name(self, node: ast.Name, scope: Scope) -> Any:  # noqa: N802
        return scope.get(node.id)

    def _eval_Dict(self, node: ast.Dict, scope: Scope) -> Any:  # noqa: N802
        out: dict[Text, Any] = {}
        for key, value in zip(node.keys, node.values, strict=True):
            item = self.eval(value, scope)
            if key is None:
                if isinstance(item, dict):
                    out.update(item)
                continue
            name = self.eval(key, scope)
            if isinstance(name, Text):
                out[name] = item
        return out

    def _eval_List(self, node: ast.List | ast.Tuple, scope: Scope) -> Any:  # noqa: N802
        return [self.eval(e, scope) for e in node.elts]

    _eval_Tuple = _eval_List  # noqa: N815

    def _eval_Lambda(self, node: ast.Lambda, scope: Scope) -> Any:  # noqa: N802
        self.eval(node.body, Scope(parent=scope))
        return None

    def _eval_Attribute(self, node: ast.Attribute, scope: Scope) -> Any:  # noqa: N802
        return self.attribute(self.eval(node.value, scope), node.attr)

    def attribute(self, base: Any, attr: str) -> Any:
        if isinstance(base, Marker):
            return Marker(_ATTRS.get((base.name, attr), f"{base.name}.{attr}"))
        if isinstance(base, Instance):
            return base.attrs.get(attr)
        if isinstance(base, Module):
            return base.scope.names.get(attr)
        found = base.attribute(attr) if isinstance(base, Resource) else meta_attribute(base, attr)
        if found is None and isinstance(base, Client | Resource | Collection | Pager) and not attr.startswith("_"):
            return Bound(base, attr)  # a method kept to be called later
        return found

    def _getattr(self, base: Any, name: Any, line: int) -> Any:
        """`getattr(s3, "delete_object")` is `s3.delete_object`; with a name known only at run
        time, the call it makes cannot be seen, and that is said."""
        if isinstance(name, Text) and name.literal is not None:
            return self.attribute(base, name.literal)
        if isinstance(base, Client | Resource | Collection | Pager):
            self.unresolved.append(
                f"{self.shown}:{line}: an AWS call whose operation is chosen at run time "
                "(getattr): not seen, so the proposal may lack it"
            )
        return None

    def _eval_Subscript(self, node: ast.Subscript, scope: Scope) -> Any:  # noqa: N802
        base, key = self.eval(node.value, scope), self.eval(node.slice, scope)
        name = key.literal if isinstance(key, Text) else None
        if isinstance(base, Marker) and base.name == "os.environ" and name is not None:
            return Text.env(name)
        if isinstance(base, dict) and isinstance(key, Text):
            return base.get(key)
        return None

    def _eval_Call(self, node: ast.Call, scope: Scope) -> Any:  # noqa: N802
        if isinstance(node.func, ast.Attribute):
            receiver = self.eval(node.func.value, scope)
            func = self.attribute(receiver, node.func.attr)
        else:
            receiver, func = None, self.eval(node.func, scope)
            if (
                isinstance(node.func, ast.Name)
                and node.func.id == "getattr"
                and len(node.args) >= 2
                and not isinstance(func, Function)
            ):  # the builtin, not a function of the module's own
                return self._getattr(self.eval(node.args[0], scope), self.eval(node.args[1], scope), node.lineno)
        args = [self.eval(a.value if isinstance(a, ast.Starred) else a, scope) for a in node.args]
        kwargs: dict[str, Any] = {}
        for kw in node.keywords:
            value = self.eval(kw.value, scope)
            if kw.arg is not None:
                kwargs[kw.arg] = value
            elif isinstance(value, dict):  # **params
                kwargs.update({k.literal: v for k, v in value.items() if k.literal})
        if isinstance(func, Bound):  # `put = table.put_item` ... `put(Item=...)`
            return self._method(func.receiver, func.name, args, kwargs, node.lineno)
        if isinstance(func, Marker):
            return self._library(func.name, args, kwargs, node.lineno)
        if isinstance(func, Function):
            return self._function(func)
        if isinstance(func, Instance):  # a class: its instances share what the class sets
            init = func.attrs.get("__init__")
            if isinstance(init, Function):
                self._function(init)
            return func
        if isinstance(node.func, ast.Attribute):
            return self._method(receiver, node.func.attr, args, kwargs, node.lineno)
        return None

    # -- calls ----------------------------------------------------------------------------

    def _library(self, name: str, args: list[Any], kwargs: dict[str, Any], line: int) -> Any:
        if name in ("boto3.client", "boto3.resource"):
            return self._client(name.rsplit(".", 1)[1], argument(args, kwargs, 0, "service_name"), line)
        if name in ("boto3.Session", "botocore.session.get_session"):
            return Session()
        if name in ("os.getenv", "os.environ.get"):
            key, default = argument(args, kwargs, 0, "key"), argument(args, kwargs, 1, "default")
            if isinstance(key, Text) and key.literal is not None:
                return Text.env(key.literal, default.literal if isinstance(default, Text) else None)
        return None

    def _method(self, receiver: Any, name: str, args: list[Any], kwargs: dict[str, Any], line: int) -> Any:
        if isinstance(receiver, Session):
            if name in ("client", "resource", "create_client"):
                kind = "resource" if name == "resource" else "client"
                return self._client(kind, argument(args, kwargs, 0, "service_name"), line)
            return None
        if isinstance(receiver, Client):
            return client_call(self, receiver.service, name, args, kwargs, line)
        if isinstance(receiver, Pager):
            if (receiver.kind, name) in (("paginator", "paginate"), ("waiter", "wait")):
                self._paged.add(receiver)
                self.emit(
                    receiver.service,
                    receiver.operation,
                    as_params(kwargs),
                    line,
                    f"{receiver.kind} {receiver.operation}",
                )
            return None
        if isinstance(receiver, Resource | Collection):
            return resource_call(self, receiver, name, args, kwargs, line)
        if isinstance(receiver, Text) and name in ("format", "format_map") and receiver.literal is not None:
            return _template(_BRACES.split(receiver.literal))
        if isinstance(receiver, Text) and name in ("strip", "lower", "upper", "rstrip", "lstrip"):
            return receiver if receiver.literal is None or name.endswith("strip") else None
        return None

    def _client(self, kind: str, service: Any, line: int) -> Any:
        name = service.literal if isinstance(service, Text) else None
        if name is None:
            self.unresolved.append(
                f"{self.shown}:{line}: a boto3 {kind} for a service chosen at run time: "
                "its calls are not seen, so the proposal may lack them"
            )
        elif botomodels.service(name) is None:
            self.unresolved.append(
                f"{self.shown}:{line}: a boto3 {kind} for {name!r}, which botocore does not know: "
                "its calls are not seen"
            )
        return _new_client(kind, service)


def _is_static(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in node.decorator_list)


def _new_client(kind: str, service: Any) -> Any:
    name = service.literal if isinstance(service, Text) else None
    if name is None or botomodels.service(name) is None:
        return None
    if kind == "client":
        return Client(name)
    return Resource(name, None, ()) if botomodels.resource_model(name) else None


def _template(pieces: list[str]) -> Text:
    """Literal pieces with an unknown value between each two (from `%` or `.format`)."""
    parts: list[str | None] = []
    for i, piece in enumerate(pieces):
        if i:
            parts.append(None)
        if piece:
            parts.append(piece)
    return Text(tuple(parts))
