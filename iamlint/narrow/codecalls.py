"""What static analysis of function code finds: SDK calls, and what is known of their arguments.

The analysers (`static_python`, `static_js`) produce `CodeCall`s; `static` resolves their
environment variables against the template and turns them into `calls.Call`s. An argument
is a `Text` (literal pieces, environment variables, unknown pieces) or a dict or list of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias


@dataclass(frozen=True, slots=True)
class EnvRef:
    """The value of an environment variable, with the code's fallback when it names one."""

    name: str
    default: str | None = None


Part: TypeAlias = "str | EnvRef | None"  # literal text, a variable, or something unknown


@dataclass(frozen=True, slots=True)
class Text:
    """A string whose pieces are known, come from the environment, or are unknown (None)."""

    parts: tuple[Part, ...]

    @staticmethod
    def of(text: str) -> Text:
        return Text((text,))

    @staticmethod
    def env(name: str, default: str | None = None) -> Text:
        return Text((EnvRef(name, default),))

    @staticmethod
    def unknown() -> Text:
        return Text((None,))

    def __add__(self, other: Text) -> Text:
        return Text(self.parts + other.parts)

    @property
    def literal(self) -> str | None:
        """The whole value when every piece is literal text."""
        if all(isinstance(p, str) for p in self.parts):
            return "".join(p for p in self.parts if isinstance(p, str))
        return None

    @property
    def is_unknown(self) -> bool:
        return all(p is None for p in self.parts)


Arg: TypeAlias = "Text | Mapping[Text, Arg] | list[Arg]"


def as_params(values: Mapping[str, Any]) -> dict[str, Arg]:
    """Arguments an analyser read (keyword arguments, an object literal's keys) as request
    parameters: strings, and dicts and lists of them.

    An argument whose value the code does not show is kept as unknown text: an object key
    computed at run time still says "some key in this bucket".
    """
    out: dict[str, Arg] = {}
    for key, value in values.items():
        arg = as_arg(value)
        out[key] = arg if arg is not None else Text.unknown()
    return out


def as_arg(value: Any) -> Arg | None:
    """A value as an argument: a `Text`, or a dict or list holding them; None for anything else
    (a client, a number, a name that did not resolve). Unknown values inside a dict stay, as
    unknown text; inside a list they are dropped."""
    if isinstance(value, Text):
        return value
    if isinstance(value, dict):
        return {k: as_arg(v) or Text.unknown() for k, v in value.items()}
    if isinstance(value, list):
        return [a for v in value if (a := as_arg(v)) is not None]
    return None


@dataclass(frozen=True, slots=True)
class CodeCall:
    """One place in the code that makes (or lets someone make) an API call."""

    service: str  # botocore client name, e.g. "s3", "dynamodb", "stepfunctions"
    operation: str  # e.g. "GetObject"
    params: Mapping[str, Arg]  # request parameters as far as the code shows them
    file: str  # as shown to the user, relative to the template's folder
    line: int
    how: str  # e.g. "Table.get_item", "GetObjectCommand", "paginator list_objects_v2"
