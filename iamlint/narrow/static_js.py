"""Static analysis of JavaScript and TypeScript function code: the AWS SDK calls it can make.

Recognised, from the token stream of `js_lexer`:
- SDK v3 commands, `new GetObjectCommand({...})` with the class imported (or required) from
  `@aws-sdk/client-s3`: operation `GetObject` of the client that package is generated for;
  the DynamoDB document client's commands from `@aws-sdk/lib-dynamodb` (`GetCommand` is
  GetItem, `BatchWriteCommand` BatchWriteItem...); `paginateX(config, input)` and
  `waitUntilX(config, input)`; `new Upload({params})` from `@aws-sdk/lib-storage` (PutObject);
- aggregated v3 clients (`new S3({}).getObject({...})`) and v2 clients (`new AWS.S3()`,
  `new AWS.DynamoDB.DocumentClient()`), method by method.
Arguments are read from object literals, or from a variable holding one; their values from
string and template literals, `process.env.NAME` (also `process.env["NAME"]`, destructured, with
`??`/`||` fallbacks) and constants. Names resolve to their nearest earlier declaration in the
file, which is right for the usual module-level constants and clients. Relative imports are
analysed too, and names they export are seen by the importer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iamlint.narrow import botomodels
from iamlint.narrow.codecalls import CodeCall, Text, as_params
from iamlint.narrow.js_lexer import (
    Tok,
    braced_names,
    close_of,
    destructured,
    is_at,
    item_starts,
    skip_to,
    tokenize,
)

V3_CLIENT = "@aws-sdk/client-"
DOC_PACKAGE = "@aws-sdk/lib-dynamodb"
# The document client's commands and methods and the DynamoDB operations they send.
DOC_OPERATIONS = {
    "Get": "GetItem",
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "Query": "Query",
    "Scan": "Scan",
    "BatchGet": "BatchGetItem",
    "BatchWrite": "BatchWriteItem",
    "TransactGet": "TransactGetItems",
    "TransactWrite": "TransactWriteItems",
    "ExecuteStatement": "ExecuteStatement",
    "BatchExecuteStatement": "BatchExecuteStatement",
    "ExecuteTransaction": "ExecuteTransaction",
}
_STOPS = frozenset({",", ";", ")", "}", "]"})
_MODIFIERS = frozenset({"private", "public", "protected", "readonly", "static", "declare", "override"})


@dataclass(frozen=True, slots=True)
class Import:
    module: str
    name: str  # exported name; "*" for the whole module (namespace, default or require)


@dataclass(frozen=True, slots=True)
class SdkClient:
    service: str
    style: str  # "v2" | "v3" (aggregated client) | "doc" (document client, v2 or aggregated)


@dataclass(slots=True)
class Exports:
    names: dict[str, Any] = field(default_factory=dict)


ModuleLoader = Callable[[str, Path], "Exports | None"]


class Analyzer:
    def __init__(self, source: str, path: Path, shown: str, load_module: ModuleLoader) -> None:
        self.toks = tokenize(source)
        self.path = path
        self.shown = shown
        self.load_module = load_module
        self.symbols: dict[str, list[tuple[int, Any]]] = {}
        self.calls: list[CodeCall] = []
        # Call sites whose operation is chosen at run time (`s3[method](params)`): said, never dropped.
        self.unresolved: list[str] = []

    def run(self) -> Exports:
        self._declarations()
        self._uses()
        return Exports({name: values[-1][1] for name, values in self.symbols.items()})

    # -- pass 1: imports and declarations ------------------------------------------------------

    def _declarations(self) -> None:
        toks = self.toks
        for i, tok in enumerate(toks):
            if tok.kind != "name":
                continue
            if tok.text == "import" and not is_at(toks, i - 1, "."):
                self._import(i)
            elif tok.text in ("const", "let", "var"):
                self._declare(i + 1)
            elif is_at(toks, i + 1, "=") and _assignment_start(toks, i):
                self._define(tok.text, i, self.expr(i + 2, i))
            elif tok.text == "this" and is_at(toks, i + 1, ".") and is_at(toks, i + 3, "="):
                self._define(toks[i + 2].text, i, self.expr(i + 4, i))

    def _import(self, i: int) -> None:
        toks = self.toks
        j = i + 1
        if is_at(toks, j, "type"):
            return
        bindings: list[tuple[str, str]] = []
        while j < len(toks) and not (toks[j].kind == "name" and toks[j].text == "from") and toks[j].kind != "str":
            t = toks[j]
            if t.text == "*" and is_at(toks, j + 1, "as"):
                bindings.append((toks[j + 2].text, "*"))
                j += 3
                continue
            if t.text == "{":
                close = close_of(toks, j)
                bindings.extend(braced_names(toks[j + 1 : close]))
                j = close + 1
                continue
            if t.kind == "name":
                bindings.append((t.text, "*"))
            j += 1
        if j < len(toks) and toks[j].text == "from":
            j += 1
        if j < len(toks) and toks[j].kind == "str":
            self._bind_module(toks[j].text, bindings, i)

    def _bind_module(self, module: str, bindings: list[tuple[str, str]], at: int) -> None:
        local = self.load_module(module, self.path) if module.startswith(".") else None
        for name, export in bindings:
            if local is not None:
                value: Any = local.names.get(export) if export != "*" else local
            else:
                value = Import(module, export)
            self._define(name, at, value)

    def _declare(self, i: int) -> None:
        toks = self.toks
        if i >= len(toks):
            return
        if toks[i].text == "{":  # const { A, B: c, D = "x" } = process.env | require("m")
            close = close_of(toks, i)
            if not is_at(toks, close + 1, "="):
                return
            source = self.toks[close + 2 : close + 6]
            if [t.text for t in source[:3]] == ["process", ".", "env"]:
                for name, key, default in destructured(toks[i + 1 : close]):
                    self._define(name, i, Text.env(key, default))
            elif source and source[0].text == "require" and len(source) > 2 and source[2].kind == "str":
                names = [(n, k) for n, k, _ in destructured(toks[i + 1 : close])]
                self._bind_module(source[2].text, names, i)
            return
        if toks[i].kind != "name" or not (is_at(toks, i + 1, "=") or is_at(toks, i + 1, ":")):
            return
        j = i + 1
        if toks[j].text == ":":  # TypeScript annotation: skip to the `=`
            j = skip_to(toks, j + 1, stops=frozenset({"=", ";"}))
            if not is_at(toks, j, "="):
                return
        if (
            is_at(toks, j + 1, "require")
            and is_at(toks, j + 2, "(")
            and j + 3 < len(toks)
            and toks[j + 3].kind == "str"
        ):
            self._bind_module(toks[j + 3].text, [(toks[i].text, "*")], i)
            return
        self._define(toks[i].text, i, self.expr(j + 1, i))

    def _define(self, name: str, at: int, value: Any) -> None:
        self.symbols.setdefault(name, []).append((at, value))

    def lookup(self, name: str, at: int) -> Any:
        values = self.symbols.get(name)
        if not values:
            return None
        earlier = [v for i, v in values if i < at]
        return earlier[-1] if earlier else values[0][1]

    # -- expressions ----------------------------------------------------------------------------

    def expr(self, i: int, at: int, toks: list[Tok] | None = None) -> Any:
        """The value of the expression starting at token i (string pieces, objects, clients)."""
        toks = self.toks if toks is None else toks
        value, j = self._primary(toks, i, at)
        while j < len(toks):
            t = toks[j]
            if t.text == "!" and t.kind == "punct":  # TypeScript's non-null assertion
                j += 1
            elif t.text == "as" and t.kind == "name":
                j = skip_to(toks, j + 1, stops=_STOPS | {"??", "||", "+"})
            elif t.text in ("??", "||"):
                fallback, j = self._primary(toks, j + 1, at)
                if isinstance(value, Text) and len(value.parts) == 1 and isinstance(fallback, Text):
                    env = value.parts[0]
                    if env is not None and not isinstance(env, str) and fallback.literal is not None:
                        value = Text.env(env.name, env.default or fallback.literal)
            elif t.text == "+" and isinstance(value, Text):
                more, j = self._primary(toks, j + 1, at)
                value = value + (more if isinstance(more, Text) else Text.unknown())
            else:
                break
        return value

    def _primary(self, toks: list[Tok], i: int, at: int) -> tuple[Any, int]:
        if i >= len(toks):
            return None, i
        t = toks[i]
        if t.kind == "str":
            return Text.of(t.text), i + 1
        if t.kind == "tpl":
            out = Text(())
            for part in t.parts:
                if isinstance(part, str):
                    out = out + Text.of(part)
                else:
                    inner = self.expr(0, at, list(part))
                    out = out + (inner if isinstance(inner, Text) else Text.unknown())
            return out, i + 1
        if t.text == "{":
            close = close_of(toks, i)
            return self._object(toks, i + 1, close, at), close + 1
        if t.text == "[":
            close = close_of(toks, i)
            items = [self.expr(s, at, toks) for s in item_starts(toks, i + 1, close)]
            return items, close + 1
        if t.text == "(":
            close = close_of(toks, i)
            return self.expr(i + 1, at, toks), close + 1
        if t.text == "await":
            return self._primary(toks, i + 1, at)
        if t.text == "new":
            return self._new(toks, i, at)
        if t.kind == "name":
            return self._chain(toks, i, at)
        return None, i + 1

    def _chain(self, toks: list[Tok], i: int, at: int) -> tuple[Any, int]:
        names = [toks[i].text]
        j = i + 1
        while j + 1 < len(toks) and toks[j].text in (".", "?.") and toks[j + 1].kind == "name":
            names.append(toks[j + 1].text)
            j += 2
        if names[:2] == ["process", "env"]:
            if len(names) == 3:
                return Text.env(names[2]), j
            if is_at(toks, j, "[") and j + 1 < len(toks) and toks[j + 1].kind == "str":
                return Text.env(toks[j + 1].text), close_of(toks, j) + 1
        if is_at(toks, j, "("):
            close = close_of(toks, j)
            base = self._resolve(names[:-1], at) if len(names) > 1 else None
            if isinstance(base, Import) and names[-1] == "from" and base.module == DOC_PACKAGE:
                return SdkClient("dynamodb", "doc"), close + 1  # DynamoDBDocument(Client).from(client)
            return None, close + 1
        return self._resolve(names, at), j

    def _resolve(self, names: list[str], at: int) -> Any:
        if names[0] == "this" and len(names) > 1:
            names = names[1:]
        value = self.lookup(names[0], at)
        for attr in names[1:]:
            if isinstance(value, Import) and value.name == "*":
                value = Import(value.module, attr)
            elif isinstance(value, Exports):
                value = value.names.get(attr)
            elif isinstance(value, dict):
                value = value.get(Text.of(attr))
            else:
                return None
        return value

    def _new(self, toks: list[Tok], i: int, at: int) -> tuple[Any, int]:
        names = [toks[i + 1].text] if i + 1 < len(toks) else []
        j = i + 2
        while j + 1 < len(toks) and toks[j].text == "." and toks[j + 1].kind == "name":
            names.append(toks[j + 1].text)
            j += 2
        end = close_of(toks, j) + 1 if is_at(toks, j, "(") else j
        return _constructed(self._resolve(names[:1], at), names), end

    def _object(self, toks: list[Tok], start: int, close: int, at: int) -> dict[Text, Any]:
        out: dict[Text, Any] = {}
        for s in item_starts(toks, start, close):
            t = toks[s]
            if t.text == "...":
                spread = self.expr(s + 1, at, toks)
                if isinstance(spread, dict):
                    out.update(spread)
            elif t.kind in ("name", "str") and is_at(toks, s + 1, ":"):
                out[Text.of(t.text)] = self.expr(s + 2, at, toks)
            elif t.kind == "name" and (s + 1 >= close or toks[s + 1].text in (",", "}")):
                out[Text.of(t.text)] = self.lookup(t.text, at)  # shorthand { TableName }
        return out

    # -- pass 2: calls --------------------------------------------------------------------------

    def _uses(self) -> None:
        toks = self.toks
        for i, tok in enumerate(toks):
            if tok.kind != "name":
                continue
            if tok.text == "new":
                self._command(i)
            elif is_at(toks, i + 1, "(") and not is_at(toks, i - 1, "."):
                self._helper_call(i)
            elif is_at(toks, i + 1, ".") and i + 3 < len(toks) and toks[i + 3].text == "(":
                self._method(i)
            elif (
                is_at(toks, i + 1, "[")
                and not is_at(toks, i - 1, ".")
                and isinstance(self.lookup(tok.text, i), SdkClient)
            ):
                close = close_of(toks, i + 1)
                if is_at(toks, close + 1, "("):
                    self.unresolved.append(
                        f"{self.shown}:{tok.line}: an AWS call whose operation is chosen at run time "
                        f"({tok.text}[...]): not seen, so the proposal may lack it"
                    )

    def _command(self, i: int) -> None:
        toks = self.toks
        names = [toks[i + 1].text] if i + 1 < len(toks) else []
        j = i + 2
        while j + 1 < len(toks) and toks[j].text == "." and toks[j + 1].kind == "name":
            names.append(toks[j + 1].text)
            j += 2
        ref = self._resolve(names, i)
        if is_at(toks, j, "["):
            self._command_chosen_at_run_time(ref, ".".join(names), toks[i].line)
            return
        if not isinstance(ref, Import) or not is_at(toks, j, "("):
            return
        arg = self._argument(j, 0)
        if ref.module == "@aws-sdk/lib-storage" and ref.name == "Upload":
            params = arg.get(Text.of("params")) if isinstance(arg, dict) else None
            self._emit("s3", "PutObject", params, toks[i].line, "lib-storage Upload")
            return
        sent = _command_operation(ref)
        if sent is not None:
            self._emit(*sent, arg, toks[i].line, f"{ref.name} ({ref.module})")

    def _command_chosen_at_run_time(self, ref: Any, shown: str, line: int) -> None:
        """`new commands[name](...)`: a command of an SDK package imported whole, or one of an
        object's command classes, chosen at run time. Its call is not seen, and that is said (as
        for `s3[method](...)`), naming the object's commands when they are known. So is a v2
        client for a service chosen at run time (`new AWS[name]()`), whose calls go unseen."""
        if isinstance(ref, Import):
            if ref.name != "*":
                return
            if ref.module == "aws-sdk":
                self.unresolved.append(
                    f"{self.shown}:{line}: an AWS SDK client for a service chosen at run time (new {shown}[...]): "
                    "its calls are not seen, so the proposal may lack them"
                )
                return
            if not (ref.module.startswith(V3_CLIENT) or ref.module == DOC_PACKAGE):
                return
            among = ""
        elif isinstance(ref, dict):
            sent = sorted({f"{op[0]}:{op[1]}" for op in map(_command_operation, ref.values()) if op is not None})
            if not sent:
                return
            among = f", one of {', '.join(sent)}"
        else:
            return
        self.unresolved.append(
            f"{self.shown}:{line}: an AWS command chosen at run time (new {shown}[...]{among}): "
            "not seen, so the proposal may lack it"
        )

    def _helper_call(self, i: int) -> None:
        ref = self.lookup(self.toks[i].text, i)
        if not isinstance(ref, Import):
            return
        if ref.module == DOC_PACKAGE and ref.name.startswith("paginate"):
            op = DOC_OPERATIONS.get(ref.name.removeprefix("paginate"))
            if op:
                self._emit("dynamodb", op, self._argument(i + 1, 1), self.toks[i].line, ref.name)
            return
        info = botomodels.by_js_package(ref.module) if ref.module.startswith(V3_CLIENT) else None
        if info is None:
            return
        if ref.name.startswith("paginate"):
            op = botomodels.operation_for(info.name, ref.name.removeprefix("paginate"))
        elif ref.name.startswith("waitUntil"):
            op = botomodels.waiter_operation(info.name, ref.name.removeprefix("waitUntil"))
        else:
            return
        if op:
            self._emit(info.name, op, self._argument(i + 1, 1), self.toks[i].line, ref.name)

    def _method(self, i: int) -> None:
        toks = self.toks
        client = self.lookup(toks[i].text, i)
        if toks[i].text == "this" or not isinstance(client, SdkClient) or client.style == "v3-bare":
            return
        method, line = toks[i + 2].text, toks[i].line
        arg = self._argument(i + 3, 0)
        if client.style == "doc":
            key = method[:1].upper() + method[1:]
            if key in DOC_OPERATIONS:
                self._emit("dynamodb", DOC_OPERATIONS[key], arg, line, f"document client {method}")
            return
        if client.service == "s3" and method in ("upload", "createPresignedPost"):
            self._emit("s3", "PutObject", arg, line, f"{client.style} S3 {method}")
            return
        if client.style == "v2" and method in ("getSignedUrl", "getSignedUrlPromise") and isinstance(arg, Text):
            op = botomodels.operation_for(client.service, arg.literal or "")
            if op:
                self._emit(client.service, op, self._argument(i + 3, 1), line, f"signed URL for {op}")
            return
        op = botomodels.operation_for(client.service, method)
        if op:
            self._emit(client.service, op, arg, line, f"{client.style} client {method}")

    def _argument(self, paren: int, index: int) -> Any:
        toks = self.toks
        if not is_at(toks, paren, "("):
            return None
        starts = item_starts(toks, paren + 1, close_of(toks, paren))
        return self.expr(starts[index], paren) if index < len(starts) else None

    def _emit(self, service: str, operation: str, arg: Any, line: int, how: str) -> None:
        # An object literal's keys are Text; a key computed at run time names no parameter.
        given = {key.literal: value for key, value in arg.items() if key.literal} if isinstance(arg, dict) else {}
        self.calls.append(CodeCall(service, operation, as_params(given), self.shown, line, how))


# -- helpers ------------------------------------------------------------------------------------


def _command_operation(ref: Any) -> tuple[str, str] | None:
    """The (service, operation) an SDK v3 command class sends: `GetObjectCommand` of
    `@aws-sdk/client-s3` sends s3 GetObject; the document client's commands send DynamoDB's."""
    if not isinstance(ref, Import) or not ref.name.endswith("Command"):
        return None
    stem = ref.name.removesuffix("Command")
    if ref.module == DOC_PACKAGE:
        return ("dynamodb", DOC_OPERATIONS[stem]) if stem in DOC_OPERATIONS else None
    if not ref.module.startswith(V3_CLIENT):
        return None
    info = botomodels.by_js_package(ref.module)
    op = botomodels.operation_for(info.name, stem) if info else None
    return (info.name, op) if info is not None and op is not None else None


def _constructed(ref: Any, names: list[str]) -> Any:
    """What `new <names>(...)` makes, when it is an SDK client."""
    if not isinstance(ref, Import):
        return None
    if ref.module == "aws-sdk" or ref.module.startswith("aws-sdk/clients/"):
        if ref.module.startswith("aws-sdk/clients/"):
            names = [ref.module.rsplit("/", 1)[1], *names[1:]] if ref.name == "*" else [ref.name, *names[1:]]
        elif ref.name != "*":
            names = [ref.name, *names[1:]]
        else:
            names = names[1:]
        if names[-1:] == ["DocumentClient"]:
            return SdkClient("dynamodb", "doc")
        info = botomodels.by_v2_class(names[0]) if names else None
        return SdkClient(info.name, "v2") if info else None
    if ref.module == DOC_PACKAGE:
        return SdkClient("dynamodb", "doc") if ref.name in ("DynamoDBDocument", "DynamoDBDocumentClient") else None
    if ref.module.startswith(V3_CLIENT):
        cls = names[-1] if ref.name == "*" else ref.name
        info = botomodels.by_js_package(ref.module)
        if info is None or cls.endswith("Command"):
            return None
        return SdkClient(info.name, "v3" if not cls.endswith("Client") else "v3-bare")
    return None


def _assignment_start(toks: list[Tok], i: int) -> bool:
    """Is `NAME =` at i a statement or class field (`x = ...;`, `private s3 = ...`)?

    Not a destructuring default (`{ A = "x" }`) nor a declaration, which `_declare` reads.
    """
    if i == 0:
        return True
    prev = toks[i - 1]
    if prev.kind == "name":
        return prev.text in _MODIFIERS
    return prev.text in (";", "}", ")") or (prev.line < toks[i].line and prev.text not in (",", "{", "."))
