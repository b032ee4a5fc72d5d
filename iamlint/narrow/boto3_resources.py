"""boto3 objects as Python code analysis tracks them, and the API calls their methods make.

Clients and paginators are simple; resource objects (`Table`, `Bucket`, `Object`, `Queue`...)
follow boto3's resource models (`resources-1.json`, shipped in boto3): a method is an action
whose request names the operation and fills parameters from the object's identifiers
(`Table.get_item` is GetItem with TableName from the table's Name); sub-resources
(`bucket.Object(key)`), collections (`bucket.objects.filter(Prefix=...)` lists objects,
`.delete()` is DeleteObjects), `load()` and `wait_until_*` come from the same model. Methods
boto3 injects outside the model (the S3 transfer manager, DynamoDB's `batch_writer`) are
listed here with the operation each ends in. On clients: paginators and waiters, presigned
URLs (whoever uses one acts with the signer's permissions) and the operations themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

from iamlint.narrow import botomodels
from iamlint.narrow.codecalls import Arg, Text, as_params

_SIMPLE_TARGET = re.compile(r"[A-Za-z0-9]+")
_LIST_METHODS = frozenset({"all", "filter", "limit", "page_size", "pages"})
# boto3.s3.inject: the S3 transfer manager's methods of clients, buckets and objects, with the
# operation each ends in and their arguments in order.
_CLIENT_TRANSFER: dict[str, tuple[str, tuple[str, ...]]] = {
    "upload_file": ("PutObject", ("Filename", "Bucket", "Key")),
    "upload_fileobj": ("PutObject", ("Fileobj", "Bucket", "Key")),
    "download_file": ("GetObject", ("Bucket", "Key", "Filename")),
    "download_fileobj": ("GetObject", ("Bucket", "Key", "Fileobj")),
    "copy": ("CopyObject", ("CopySource", "Bucket", "Key")),
}
_BUCKET_TRANSFER: dict[str, tuple[str, tuple[str, ...]]] = {
    "upload_file": ("PutObject", ("Filename", "Key")),
    "upload_fileobj": ("PutObject", ("Fileobj", "Key")),
    "download_file": ("GetObject", ("Key", "Filename")),
    "download_fileobj": ("GetObject", ("Key", "Fileobj")),
    "copy": ("CopyObject", ("CopySource", "Key")),
}
_OBJECT_TRANSFER: dict[str, tuple[str, tuple[str, ...]]] = {
    "upload_file": ("PutObject", ("Filename",)),
    "upload_fileobj": ("PutObject", ("Fileobj",)),
    "download_file": ("GetObject", ("Filename",)),
    "download_fileobj": ("GetObject", ("Fileobj",)),
    "copy": ("CopyObject", ("CopySource",)),
}


class Emitter(Protocol):
    pagers: list[Pager]  # paginators and waiters made, to report those never run

    def emit(self, service: str, operation: str, params: dict[str, Arg], line: int, how: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Client:
    service: str


@dataclass(frozen=True, slots=True)
class Pager:
    """A paginator or waiter: the operation it runs when used."""

    service: str
    operation: str
    kind: str  # "paginator" | "waiter"
    line: int


@dataclass(frozen=True, slots=True)
class Resource:
    service: str
    rtype: str | None  # None for the service resource itself (`boto3.resource("s3")`)
    ids: tuple[tuple[str, Text | None], ...]

    def spec(self) -> dict[str, Any]:
        model = botomodels.resource_model(self.service) or {}
        found = model.get("service") if self.rtype is None else model.get("resources", {}).get(self.rtype)
        return found if isinstance(found, dict) else {}

    def ident(self, name: str) -> Text | None:
        return dict(self.ids).get(name)

    def attribute(self, attr: str) -> Any:
        spec = self.spec()
        for name in spec.get("hasMany", {}):
            if botomodels.python_name(name) == attr:
                return Collection(self, name)
        if attr == "meta":
            return _Meta(self.service)
        for name, value in self.ids:
            if botomodels.python_name(name) == attr:
                return value
        return None


@dataclass(frozen=True, slots=True)
class Collection:
    owner: Resource
    name: str  # key in the owner's hasMany


@dataclass(frozen=True, slots=True)
class _Meta:
    service: str


def meta_attribute(value: Any, attr: str) -> Any:
    """`resource.meta.client` is the resource's client."""
    return Client(value.service) if isinstance(value, _Meta) and attr == "client" else None


def argument(args: list[Any], kwargs: dict[str, Any], index: int, name: str) -> Any:
    """An argument given by keyword or by position."""
    if name in kwargs:
        return kwargs[name]
    return args[index] if index < len(args) else None


def _plain(value: Any) -> dict[str, Any]:
    """A dict argument (`Params={...}`) with its literal keys as parameter names."""
    if not isinstance(value, dict):
        return {}
    return {k.literal: v for k, v in value.items() if isinstance(k, Text) and k.literal}


def client_call(emitter: Emitter, service: str, name: str, args: list[Any], kwargs: dict[str, Any], line: int) -> Any:
    """What calling `client.name(...)` returns, emitting the API calls it makes."""
    if name in ("get_paginator", "get_waiter"):
        what = argument(args, kwargs, 0, "operation_name" if name == "get_paginator" else "waiter_name")
        literal = what.literal if isinstance(what, Text) else None
        if literal is None:
            return None
        if name == "get_paginator":
            op = botomodels.operation_for(service, literal)
        else:
            op = botomodels.waiter_operation(service, literal)
        if op is None:
            return None
        pager = Pager(service, op, name.removeprefix("get_"), line)
        emitter.pagers.append(pager)
        return pager
    if name == "generate_presigned_url":
        method = argument(args, kwargs, 0, "ClientMethod")
        op = botomodels.operation_for(service, method.literal) if isinstance(method, Text) and method.literal else None
        params = argument(args, kwargs, 1, "Params")
        if op:
            emitter.emit(service, op, as_params(_plain(params)), line, f"presigned URL for {op}")
        return Text.unknown()
    if service == "s3" and name == "generate_presigned_post":
        params = {"Bucket": argument(args, kwargs, 0, "Bucket"), "Key": argument(args, kwargs, 1, "Key")}
        emitter.emit(service, "PutObject", as_params(params), line, "presigned POST")
        return None
    if service == "s3" and name in _CLIENT_TRANSFER:
        op, order = _CLIENT_TRANSFER[name]
        params = {p: argument(args, kwargs, i, p) for i, p in enumerate(order)}
        emitter.emit(service, op, as_params(params), line, f"S3 transfer {name}")
        return None
    op = botomodels.operation_for(service, name)
    if op is not None:
        emitter.emit(service, op, as_params(kwargs), line, f"client {name}")
    return None


def resource_call(
    emitter: Emitter, receiver: Resource | Collection, name: str, args: list[Any], kwargs: dict[str, Any], line: int
) -> Any:
    """What calling `receiver.name(...)` returns, emitting the API calls it makes."""
    if isinstance(receiver, Collection):
        return _collection_call(emitter, receiver, name, kwargs, line)
    spec = receiver.spec()
    where = f"{receiver.rtype or receiver.service}.{name}"
    sub = spec.get("has", {}).get(name)
    if isinstance(sub, dict) and "resource" in sub:
        return _sub_resource(receiver, sub["resource"], args, kwargs)
    if receiver.rtype is None:
        # The service resource constructs any resource type from its identifiers, in order
        # (`s3.Object(bucket, key)`), whether or not its model lists it under `has`.
        model = botomodels.resource_model(receiver.service) or {}
        definition = model.get("resources", {}).get(name)
        if isinstance(definition, dict):
            made = {
                "type": name,
                "identifiers": [{"target": i["name"], "source": "input"} for i in definition.get("identifiers", ())],
            }
            return _sub_resource(receiver, made, args, kwargs)
    for action_name, action in spec.get("actions", {}).items():
        if botomodels.python_name(action_name) == name:
            params = _request_params(action.get("request", {}), dict(receiver.ids), kwargs)
            emitter.emit(receiver.service, action["request"]["operation"], params, line, where)
            made = action.get("resource")
            return _made_resource(receiver, made, params) if isinstance(made, dict) else None
    if name in ("load", "reload") and isinstance(spec.get("load"), dict):
        request = spec["load"]["request"]
        emitter.emit(
            receiver.service, request["operation"], _request_params(request, dict(receiver.ids), {}), line, where
        )
        return None
    for waiter_name, waiter in spec.get("waiters", {}).items():
        if name == "wait_until_" + botomodels.python_name(waiter_name):
            op = botomodels.waiter_operation(receiver.service, waiter.get("waiterName", ""))
            if op:
                emitter.emit(receiver.service, op, _request_params(waiter, dict(receiver.ids), kwargs), line, where)
            return None
    return _injected(emitter, receiver, name, args, kwargs, line, where)


def _injected(
    emitter: Emitter, receiver: Resource, name: str, args: list[Any], kwargs: dict[str, Any], line: int, where: str
) -> Any:
    if receiver.service == "dynamodb" and receiver.rtype == "Table" and name == "batch_writer":
        name_of = receiver.ident("Name")
        params: dict[str, Arg] = {"RequestItems": {name_of: []}} if name_of is not None else {}
        emitter.emit("dynamodb", "BatchWriteItem", params, line, where)
        return None
    methods = {"Bucket": _BUCKET_TRANSFER, "Object": _OBJECT_TRANSFER}.get(receiver.rtype or "")
    if receiver.service == "s3" and methods is not None and name in methods:
        op, order = methods[name]
        given = {p: kwargs.get(p, args[i] if i < len(args) else None) for i, p in enumerate(order)}
        bucket = receiver.ident("Name") if receiver.rtype == "Bucket" else receiver.ident("BucketName")
        key = given.get("Key") if receiver.rtype == "Bucket" else receiver.ident("Key")
        emitter.emit(
            "s3", op, as_params({"Bucket": bucket, "Key": key, "CopySource": given.get("CopySource")}), line, where
        )
    return None


def _collection_call(emitter: Emitter, receiver: Collection, name: str, kwargs: dict[str, Any], line: int) -> Any:
    owner = receiver.owner
    many = owner.spec().get("hasMany", {}).get(receiver.name, {})
    where = f"{owner.rtype or owner.service}.{botomodels.python_name(receiver.name)}.{name}"
    if name in _LIST_METHODS:
        request = many.get("request")
        if isinstance(request, dict):
            emitter.emit(
                owner.service, request["operation"], _request_params(request, dict(owner.ids), kwargs), line, where
            )
        return receiver
    made = many.get("resource", {})
    item_ids = {
        i["target"]: owner.ident(i["name"]) for i in made.get("identifiers", ()) if i.get("source") == "identifier"
    }
    model = botomodels.resource_model(owner.service) or {}
    batch = model.get("resources", {}).get(made.get("type"), {}).get("batchActions", {})
    for action_name, action in batch.items():
        if botomodels.python_name(action_name) == name:
            emitter.emit(
                owner.service,
                action["request"]["operation"],
                _request_params(action["request"], item_ids, kwargs),
                line,
                where,
            )
    return None


def _sub_resource(parent: Resource, made: dict[str, Any], args: list[Any], kwargs: dict[str, Any]) -> Resource:
    inputs = list(args)
    ids: dict[str, Text | None] = {}
    for ident in made.get("identifiers", ()):
        target = ident["target"]
        value: Any = None
        if ident.get("source") == "input":
            value = kwargs.get(botomodels.python_name(target), kwargs.get(target))
            if value is None and inputs:
                value = inputs.pop(0)
        elif ident.get("source") == "identifier":
            value = parent.ident(ident["name"])
        ids[target] = value if isinstance(value, Text) else None
    return Resource(parent.service, made["type"], tuple(ids.items()))


def _made_resource(parent: Resource, made: dict[str, Any], params: dict[str, Arg]) -> Resource:
    ids: dict[str, Text | None] = {}
    for ident in made.get("identifiers", ()):
        source = ident.get("source")
        value: Any = None
        if source == "identifier":
            value = parent.ident(ident["name"])
        elif source == "requestParameter":
            value = params.get(ident.get("path", ""))
        ids[ident["target"]] = value if isinstance(value, Text) else None
    return Resource(parent.service, made["type"], tuple(ids.items()))


def _request_params(request: dict[str, Any], ids: dict[str, Text | None], kwargs: dict[str, Any]) -> dict[str, Arg]:
    params: dict[str, Arg] = {}
    for p in request.get("params", ()):
        target = p.get("target", "")
        if not _SIMPLE_TARGET.fullmatch(target):
            continue  # `Delete.Objects[].Key`: names items, not the resource
        source = p.get("source")
        value: Text | None = None
        if source == "identifier":
            value = ids.get(p.get("name", ""))
        elif source in ("string", "integer", "boolean"):
            value = Text.of(str(p.get("value")))
        if value is not None:
            params[target] = value
    params.update(as_params(kwargs))
    return params
