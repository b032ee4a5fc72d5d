"""Build CloudFormation's view of a YAML document from libyaml's event stream, marks included.

The single role: turn events into plain data plus a Shadow of marks for `located.Located`. Only
`located.parse_yaml` calls this; it is a module of its own so that reading JSON never imports
PyYAML. Why events and not PyYAML's composer: composing node objects and resolving tags through
PyYAML's registries costs three times what the events themselves cost, while every event already
carries the mark a finding needs.

YAML 1.1 scalars resolve as PyYAML's SafeLoader resolves them (cfn-lint, the SAM translator and the
AWS CLI all read templates that way), except timestamps, which stay strings as CloudFormation keeps
them. Mapping keys stay the strings written (`123:` is "123"), as CloudFormation reads them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

from iamlint.loaders.located import Mark, ParseError, Shadow, collector_paused, huge_number

# Deeper documents are refused rather than handed to code that walks them recursively; Python's
# json module gives up at about this depth too.
MAX_DEPTH = 1000
# How many nodes alias expansion may add before the document is refused as an alias bomb
# (cfn-lint refuses at 250,000 expanded nodes too).
ALIAS_NODE_BUDGET = 250_000

# The pure-Python parser emits the same events, only slower, where libyaml is missing.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Short-form tags CloudFormation knows (intrinsic and rule functions), written `Fn::<Name>`.
# fmt: off
_FN_TAGS = frozenset((
    "And", "Base64", "Cidr", "Contains", "EachMemberEquals", "EachMemberIn", "Equals",
    "FindInMap", "GetAZs", "GetAtt", "If", "ImportValue", "Join", "Length", "Not", "Or", "RefAll",
    "Select", "Split", "Sub", "ToJsonString", "Transform", "ValueOf", "ValueOfAll",
))
# fmt: on
_STD = "tag:yaml.org,2002:"
_STR, _MAP, _SEQ = _STD + "str", _STD + "map", _STD + "seq"
_NOKEY: Any = object()

# YAML 1.1 plain scalars as PyYAML's SafeLoader resolves them, minus timestamps (CloudFormation
# reads `2012-10-17` as a string, and an IAM policy Version must stay one).
_WORDS: dict[str, Any] = {
    **dict.fromkeys(("yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), True),
    **dict.fromkeys(("no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), False),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), None),
}
_WORD_START = frozenset("yYnNtTfFoO~")
_NUMBER_START = frozenset("0123456789-+.")
_SPECIAL_START = _WORD_START | _NUMBER_START | {""}
_INT = re.compile(
    r"""[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+
    |[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+""",
    re.VERBOSE,
)
_FLOAT = re.compile(
    r"""[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)""",
    re.VERBOSE,
)


def _sexagesimal(digits: str, convert: Callable[[str], Any]) -> Any:
    total: Any = 0
    for part in digits.split(":"):
        total = total * 60 + convert(part)
    return total


def _to_int(text: str) -> int:
    digits = text.replace("_", "")
    sign = -1 if digits[0] == "-" else 1
    digits = digits.lstrip("+-")
    if digits.startswith(("0b", "0x")):
        return sign * int(digits, 0)
    if ":" in digits:
        return sign * int(_sexagesimal(digits, int))
    if digits != "0" and digits[0] == "0":
        return sign * int(digits, 8)
    return sign * int(digits)


def _to_float(text: str) -> float:
    digits = text.replace("_", "").lower()
    sign = -1.0 if digits[0] == "-" else 1.0
    digits = digits.lstrip("+-")
    if digits in (".inf", ".nan"):
        return sign * float(digits[1:])
    if ":" in digits:
        return sign * float(_sexagesimal(digits, float))
    return sign * float(digits)


def _resolve(text: str) -> Any:
    """The value of an untagged plain scalar."""
    first = text[:1]
    if first in _WORD_START or not first:
        return _WORDS.get(text, text)
    if first in _NUMBER_START:
        if _INT.fullmatch(text):
            return _to_int(text)
        if _FLOAT.fullmatch(text):
            return _to_float(text)
    return text


def _function(tag: str) -> str | None:
    """The long-form key for a CloudFormation short-form tag, None for any other tag."""
    name = tag[1:]
    if tag[:1] != "!" or name[:1] == "!":
        return None
    if name in ("Ref", "Condition") or (name.startswith("Rain::") and len(name) > 6):
        return name
    return "Fn::" + name if name in _FN_TAGS else None


def _unknown_tag(tag: str, mark: Any, file: str) -> ParseError:
    shown = "!!" + tag[len(_STD) :] if tag.startswith(_STD) else tag
    return _error(
        file,
        mark,
        f"unknown tag {shown!r}: expected a CloudFormation intrinsic function tag such as !Ref, !Sub or !GetAtt",
    )


def _tagged_scalar(tag: str, text: str, mark: Any, file: str) -> tuple[Any, Shadow | None]:
    name = _function(tag)
    if name is not None:
        # CloudFormation splits a scalar !GetAtt at the first dot only: A.B.C is [A, B.C].
        value: Any = text.split(".", 1) if name == "Fn::GetAtt" else text
        return {name: value}, ({name: mark}, {})
    if tag == _STR or tag == "!":
        return text, None
    kind = tag[len(_STD) :] if tag.startswith(_STD) else ""
    if kind in ("int", "float", "bool", "null"):
        value = _resolve(text)
        if kind == "float" and type(value) is int:
            value = float(value)
        wanted = {"int": int, "float": float, "bool": bool, "null": type(None)}[kind]
        if type(value) is not wanted:
            raise _error(file, mark, f"expected a value of type {kind} for !!{kind}, found {text!r}")
        return value, None
    raise _unknown_tag(tag, mark, file)


def _error(file: str, mark: Any, message: str) -> ParseError:
    return ParseError(file, mark.line + 1, mark.column + 1, message)


def _from_yaml_error(err: yaml.YAMLError, source: str, file: str) -> ParseError:
    if isinstance(err, yaml.reader.ReaderError):
        # libyaml counts bytes of the UTF-8 it was handed; the pure-Python reader characters.
        before = (
            source[: err.position]
            if _Loader is yaml.SafeLoader
            else source.encode("utf-8")[: err.position].decode("utf-8", "replace")
        )
        line_start = before.rfind("\n") + 1
        return ParseError(
            file,
            before.count("\n") + 1,
            len(before) - line_start + 1,
            f"expected printable text, found character #x{err.character:04x} ({err.reason})",
        )
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        message = err.problem or err.context or "invalid YAML"
        if err.context and err.problem and err.context_mark is not None:
            cm = err.context_mark
            message += f" ({err.context} at line {cm.line + 1}, column {cm.column + 1})"
        if mark is not None:
            return _error(file, mark, message)
        return ParseError(file, None, None, message)
    return ParseError(file, None, None, str(err))


def to_mark(raw: Any) -> Mark:
    """A libyaml mark (0-based) as ours."""
    return Mark(raw.line + 1, raw.column + 1)


def build(source: str, file: str) -> tuple[Any, Any, Shadow | None]:
    """(data, mark of the root, Shadow of the root) for one YAML document; ParseError if invalid."""
    loader = None
    try:
        loader = _Loader(source)  # the pure-Python reader already checks characters here
        with collector_paused():
            return _build(loader, file)
    except yaml.YAMLError as err:
        raise _from_yaml_error(err, source, file) from None
    except UnicodeEncodeError as err:  # a str holding lone surrogates cannot reach libyaml
        raise ParseError(file, None, None, f"expected text, found {err.reason}") from None
    except ValueError as err:  # a number past Python's digit limit, or `0b_`
        if "digits" in str(err):
            raise huge_number(source, file) from None
        raise ParseError(file, None, None, f"expected a readable number, found: {err}") from None
    finally:
        if loader is not None:
            loader.dispose()


def _build(loader: Any, file: str) -> tuple[Any, Any, Shadow | None]:
    """Consume the event stream into (data, root mark, root shadow).

    One loop over the events with an explicit stack: no recursion, so depth is ours to limit.
    """
    get = loader.get_event
    get()  # StreamStartEvent
    if get().__class__ is StreamEndEvent:
        return None, None, None  # an empty file, or comments only
    # The document's root is the only item of a holder list; each container on the stack keeps
    # its value, whether it is a mapping, its marks and kids (see Shadow) and its anchor.
    holder: list[Any] = []
    holder_kids: dict[str | int, Any] = {}
    holder_marks: list[Any] = []
    cur: Any = holder
    marks: Any = holder_marks
    kids = holder_kids
    is_map = False
    key: Any = _NOKEY
    anchor: tuple[str, Any, Shadow | None, int] | None = None
    stack: list[tuple[Any, bool, Any, dict[str | int, Any], Any]] = []
    anchors: dict[str, tuple[Any, Shadow | None, int]] = {}
    open_anchors: set[str] = set()
    count = expanded = 0  # nodes so far counting alias expansion; nodes aliases added
    while True:
        ev = get()
        cls = ev.__class__
        if cls is ScalarEvent:
            count += 1
            tag = ev.tag
            if is_map and key is _NOKEY:
                key = ev.value
                if tag is not None and tag != _STR and tag != "!":
                    raise _error(
                        file,
                        ev.start_mark,
                        f"expected a plain mapping key, found tag {tag!r} on key {key!r}",
                    )
                if ev.implicit[0] and tag is None:
                    if key == "<<":
                        raise _error(
                            file,
                            ev.start_mark,
                            "expected a plain key, found the merge key '<<' (CloudFormation "
                            "does not support merge keys)",
                        )
                    if _WORDS.get(key, 0) is None:
                        raise _error(file, ev.start_mark, f"expected a mapping key, found null ({key!r})")
                if key in cur:
                    first = marks[key]
                    raise _error(
                        file,
                        ev.start_mark,
                        f"duplicate key {key!r}: expected unique keys, found it again "
                        f"(first at line {first.line + 1}, column {first.column + 1})",
                    )
                marks[key] = ev.start_mark
                if ev.anchor is not None:
                    anchors[ev.anchor] = (key, None, 1)
                continue
            shadow: Shadow | None = None
            if tag is None:
                value = ev.value
                # Most plain scalars start with a letter that no number, bool or null starts with.
                if value[:1] in _SPECIAL_START and ev.implicit[0]:
                    value = _resolve(value)
            else:
                value, shadow = _tagged_scalar(tag, ev.value, ev.start_mark, file)
            if ev.anchor is not None:
                anchors[ev.anchor] = (value, shadow, 1)
        elif cls is MappingStartEvent or cls is SequenceStartEvent:
            count += 1
            if is_map and key is _NOKEY:
                raise _error(
                    file,
                    ev.start_mark,
                    "expected a scalar mapping key, found a mapping or sequence",
                )
            if len(stack) >= MAX_DEPTH:
                raise _error(file, ev.start_mark, f"nesting too deep: more than {MAX_DEPTH} levels")
            new_is_map = cls is MappingStartEvent
            new: Any = {} if new_is_map else []
            inner: Shadow = ({} if new_is_map else [], {})
            value, shadow = new, inner
            tag = ev.tag
            if tag is not None and tag != "!" and tag != (_MAP if new_is_map else _SEQ):
                name = _function(tag)
                if name is None:
                    raise _unknown_tag(tag, ev.start_mark, file)
                value = {name: new}
                shadow = ({name: ev.start_mark}, {name: inner})
        elif cls is MappingEndEvent or cls is SequenceEndEvent:
            if anchor is not None:
                anchors[anchor[0]] = (anchor[1], anchor[2], count - anchor[3] + 1)
                open_anchors.discard(anchor[0])
            cur, is_map, marks, kids, anchor = stack.pop()
            continue
        elif cls is AliasEvent:
            if is_map and key is _NOKEY:
                raise _error(file, ev.start_mark, "expected a scalar mapping key, found an alias")
            name = ev.anchor
            if name in open_anchors:
                raise _error(file, ev.start_mark, f"alias *{name} refers to a node that contains it")
            if name not in anchors:
                raise _error(file, ev.start_mark, f"alias *{name} has no anchor &{name} before it")
            value, shadow, size = anchors[name]
            count += size
            expanded += size
            if expanded > ALIAS_NODE_BUDGET:
                raise _error(
                    file,
                    ev.start_mark,
                    f"aliases expand to more than {ALIAS_NODE_BUDGET} nodes: refusing the document (alias bomb)",
                )
        elif cls is DocumentEndEvent:
            break
        else:  # pragma: no cover - libyaml emits no other event inside a document
            raise _error(file, ev.start_mark, f"unexpected YAML event {cls.__name__}")

        # Place the value in its container.
        if is_map:
            cur[key] = value
            step = key
            key = _NOKEY
        else:
            step = len(cur)
            marks.append(ev.start_mark)
            cur.append(value)
        if shadow is not None:
            kids[step] = shadow
        if cls is MappingStartEvent or cls is SequenceStartEvent:
            stack.append((cur, is_map, marks, kids, anchor))
            anchor = None
            if ev.anchor is not None:
                anchor = (ev.anchor, value, shadow, count)
                open_anchors.add(ev.anchor)
            cur, is_map, (marks, kids) = new, new_is_map, inner
    ev = get()
    if ev.__class__ is not StreamEndEvent:
        raise _error(file, ev.start_mark, "expected a single YAML document, found another one")
    return holder[0], holder_marks[0], holder_kids.get(0)
