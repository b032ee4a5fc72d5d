"""JSON Schemas for rule files, configuration and iamlint's JSON output, and a validator.

jsonschema is imported only here, and only when something is validated: the common path of
`iamlint check` never needs it.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def load_schema(name: str) -> dict[str, Any]:
    text = (resources.files("iamlint.schemas") / f"{name}.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def validate(name: str, instance: object) -> list[str]:
    """Messages for every way `instance` breaks schema `name`, each naming the bad element."""
    messages = []
    for path, message in violations(name, instance):
        where = "/".join(str(p) for p in path) or "(top level)"
        messages.append(f"at {where}: {message}")
    return messages


def violations(name: str, instance: object) -> list[tuple[tuple[str | int, ...], str]]:
    """(path of the bad element, what is wrong) for every way `instance` breaks schema `name`,
    sorted by path (list items by index)."""
    import jsonschema  # noqa: PLC0415 - kept off the import path on purpose

    validator = jsonschema.Draft202012Validator(load_schema(name))
    found = [(tuple(error.absolute_path), error.message) for error in validator.iter_errors(instance)]
    return sorted(found, key=lambda f: [(0, p, "") if isinstance(p, int) else (1, 0, str(p)) for p in f[0]])
