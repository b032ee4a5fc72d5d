"""Tests for iamlint.loaders.located: CloudFormation-flavoured YAML, JSON, and source marks."""

from __future__ import annotations

import codecs
import json
import pickle
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import reachable

from iamlint.loaders import located_json
from iamlint.loaders.located import Located, Mark, ParseError, _scan_json, parse_any, parse_json, parse_yaml

# ----------------------------------------------------------------------------- short-form tags


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("!Ref Bucket", {"Ref": "Bucket"}),
        ("!Condition IsProd", {"Condition": "IsProd"}),
        ("!Sub 'arn:${AWS::Partition}:s3:::b/*'", {"Fn::Sub": "arn:${AWS::Partition}:s3:::b/*"}),
        ("!Sub ['${A}-x', {A: !Ref B}]", {"Fn::Sub": ["${A}-x", {"A": {"Ref": "B"}}]}),
        ("!Join ['', [a, !Ref B]]", {"Fn::Join": ["", ["a", {"Ref": "B"}]]}),
        ("!Select [0, !GetAZs '']", {"Fn::Select": [0, {"Fn::GetAZs": ""}]}),
        ("!Split [',', 'a,b']", {"Fn::Split": [",", "a,b"]}),
        ("!FindInMap [M, !Ref K, v]", {"Fn::FindInMap": ["M", {"Ref": "K"}, "v"]}),
        ("!ImportValue shared-vpc", {"Fn::ImportValue": "shared-vpc"}),
        ("!GetAZs us-east-1", {"Fn::GetAZs": "us-east-1"}),
        ("!Base64 hello", {"Fn::Base64": "hello"}),
        ("!If [C, a, !Ref AWS::NoValue]", {"Fn::If": ["C", "a", {"Ref": "AWS::NoValue"}]}),
        ("!Not [!Condition C]", {"Fn::Not": [{"Condition": "C"}]}),
        (
            "!And [!Condition A, !Condition B]",
            {"Fn::And": [{"Condition": "A"}, {"Condition": "B"}]},
        ),
        ("!Or [!Condition A, !Condition B]", {"Fn::Or": [{"Condition": "A"}, {"Condition": "B"}]}),
        ("!Equals [!Ref Stage, prod]", {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}),
        ("!Cidr [10.0.0.0/16, 4, 8]", {"Fn::Cidr": ["10.0.0.0/16", 4, 8]}),
        (
            "!Transform {Name: AWS::Include, Parameters: {Location: s3://b/k}}",
            {"Fn::Transform": {"Name": "AWS::Include", "Parameters": {"Location": "s3://b/k"}}},
        ),
        ("!ToJsonString {a: 1}", {"Fn::ToJsonString": {"a": 1}}),
        ("!Length [1, 2]", {"Fn::Length": [1, 2]}),
        ("!Rain::Embed file.txt", {"Rain::Embed": "file.txt"}),
        # A tagged scalar is the text as written: no number or boolean resolution.
        ("!Ref 123", {"Ref": "123"}),
        ("!Sub |\n  line ${X}\n", {"Fn::Sub": "line ${X}\n"}),
    ],
)
def test_short_form_tags_become_long_form(yaml_text: str, expected: object) -> None:
    assert parse_yaml(f"Value: {yaml_text}\n", "t.yaml").data == {"Value": expected}


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("!GetAtt Role.Arn", ["Role", "Arn"]),
        ("!GetAtt Db.Endpoint.Address", ["Db", "Endpoint.Address"]),
        ("!GetAtt [Db, Endpoint.Address]", ["Db", "Endpoint.Address"]),
        ("!GetAtt\n  - Role\n  - Arn", ["Role", "Arn"]),
        ("!GetAtt [Role, !Ref AttrName]", ["Role", {"Ref": "AttrName"}]),
    ],
)
def test_getatt_forms(yaml_text: str, expected: list[object]) -> None:
    assert parse_yaml(f"A: {yaml_text}\n", "t.yaml").data == {"A": {"Fn::GetAtt": expected}}


# ---------------------------------------------------------------------------------- scalars


def test_dates_and_timestamps_stay_strings() -> None:
    text = "AWSTemplateFormatVersion: 2010-09-09\nVersion: 2012-10-17\nWhen: 2001-12-14t21:59:43.10-05:00\n"
    assert parse_yaml(text, "t.yaml").data == {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Version": "2012-10-17",
        "When": "2001-12-14t21:59:43.10-05:00",
    }


def test_plain_scalars_resolve_like_yaml_1_1() -> None:
    text = "[yes, No, true, off, ~, null, '', 12, -3, 010, 0x1f, 1_000, 1.5, .inf, '12', 012345678901]"
    data = parse_yaml(text, "t.yaml").data
    assert data == [
        True,
        False,
        True,
        False,
        None,
        None,
        "",
        12,
        -3,
        8,
        31,
        1000,
        1.5,
        float("inf"),
        "12",
        "012345678901",
    ]


def test_mapping_keys_stay_the_strings_written() -> None:
    assert parse_yaml("123456789012: a\ntrue: b\n'x': c\n", "t.yaml").data == {
        "123456789012": "a",
        "true": "b",
        "x": "c",
    }


def test_standard_tags_are_applied_and_checked() -> None:
    assert parse_yaml("a: !!str 10\nb: !!int '7'\nc: !!float 1\nd: ! 5\n", "t.yaml").data == {
        "a": "10",
        "b": 7,
        "c": 1.0,
        "d": "5",
    }
    with pytest.raises(ParseError) as caught:
        parse_yaml("a: !!int abc\n", "t.yaml")
    assert (caught.value.line, caught.value.column) == (1, 4)


# ------------------------------------------------------------------------------- YAML marks

YAML_DOC = """\
# a comment line
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      Policies:
        - PolicyName: p
          PolicyDocument:
            Statement:
              - Effect: Allow
                Action: [s3:GetObject, "s3:PutObject"]
                Resource:
                  - !GetAtt Bucket.Arn
                  - !Sub '${Bucket.Arn}/*'
              - {Effect: Deny, "Action": '*'}
  "Quoted Key": {a: 1}
"""


@pytest.mark.parametrize(
    ("path", "line", "column"),
    [
        ((), 2, 1),
        (("Resources",), 2, 1),
        (("Resources", "Role"), 3, 3),
        (("Resources", "Role", "Properties", "Policies", 0), 7, 11),
        (("Resources", "Role", "Properties", "Policies", 0, "PolicyDocument"), 8, 11),
        (
            ("Resources", "Role", "Properties", "Policies", 0, "PolicyDocument", "Statement", 0),
            10,
            17,
        ),
        (
            (
                "Resources",
                "Role",
                "Properties",
                "Policies",
                0,
                "PolicyDocument",
                "Statement",
                0,
                "Action",
                0,
            ),
            11,
            26,
        ),
        (
            (
                "Resources",
                "Role",
                "Properties",
                "Policies",
                0,
                "PolicyDocument",
                "Statement",
                0,
                "Action",
                1,
            ),
            11,
            40,
        ),
        (
            (
                "Resources",
                "Role",
                "Properties",
                "Policies",
                0,
                "PolicyDocument",
                "Statement",
                0,
                "Resource",
                1,
            ),
            14,
            21,
        ),
        (
            ("Resources", "Role", "Properties", "Policies", 0, "PolicyDocument", "Statement", 1),
            15,
            17,
        ),
        (
            (
                "Resources",
                "Role",
                "Properties",
                "Policies",
                0,
                "PolicyDocument",
                "Statement",
                1,
                "Action",
            ),
            15,
            32,
        ),
        (("Resources", "Quoted Key"), 16, 3),
        (("Resources", "Quoted Key", "a"), 16, 18),
    ],
)
def test_yaml_marks_are_exact(path: tuple[str | int, ...], line: int, column: int) -> None:
    assert parse_yaml(YAML_DOC, "t.yaml").mark(path) == Mark(line, column)


def test_mark_inside_a_short_form_tag() -> None:
    located = parse_yaml("R:\n  - !GetAtt Bucket.Arn\n  - !Join ['', [a, b]]\n", "t.yaml")
    assert located.mark(("R", 0)) == Mark(2, 5)
    assert located.mark(("R", 0, "Fn::GetAtt")) == Mark(2, 5)
    assert located.mark(("R", 0, "Fn::GetAtt", 1)) == Mark(2, 5)  # a scalar has no finer marks
    assert located.mark(("R", 1, "Fn::Join", 1, 1)) == Mark(3, 20)


@pytest.mark.parametrize(
    ("path", "line", "column"),
    [
        (("Resources", "Missing", "Deeper"), 2, 1),
        (("Resources", "Role", "Type", "NotAMapping"), 4, 5),
        (("Resources", "Role", "Properties", "Policies", 7), 6, 7),
        (("Resources", "Role", "Properties", "Policies", "0"), 6, 7),  # a key step on a list
        (("Resources", "Role", "Properties", "Policies", True), 6, 7),  # bool is no index
        (("Nowhere",), 2, 1),
    ],
)
def test_missing_path_falls_back_to_deepest_ancestor(path: tuple[str | int, ...], line: int, column: int) -> None:
    assert parse_yaml(YAML_DOC, "t.yaml").mark(path) == Mark(line, column)


def test_alias_item_marks_the_alias_and_its_insides_the_anchor() -> None:
    text = "A: &stmt {Effect: Allow, Action: '*'}\nB:\n  - *stmt\n"
    located = parse_yaml(text, "t.yaml")
    assert located.data == {
        "A": {"Effect": "Allow", "Action": "*"},
        "B": [{"Effect": "Allow", "Action": "*"}],
    }
    assert located.mark(("B", 0)) == Mark(3, 5)
    assert located.mark(("B", 0, "Action")) == Mark(1, 26)


# ------------------------------------------------------------------------------- JSON marks

JSON_DOC = """{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:Put\\u004fbject"],
     "Resource": "*"},
    "é", {"k\\"q": [1, [2, 3]]}
  ]
}"""


@pytest.fixture(params=["whole text", "compressed blocks"])
def json_text_kept(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """JSON marks are the same whether the lazy index keeps the whole text or, as it does for
    a large file, compressed blocks of it: with "compressed blocks", every file counts as
    large, in blocks of 7 characters of which the last 2 read are kept, and containers of
    1,000 characters or more are read before compressing."""
    if request.param == "compressed blocks":
        monkeypatch.setattr(located_json, "BLOCKED_FROM", 0)
        monkeypatch.setattr(located_json._Blocks, "SIZE", 7)
        monkeypatch.setattr(located_json._Blocks, "CACHED", 2)
        monkeypatch.setattr(located_json._Blocks, "EARLY", 1000)
    return str(request.param)


@pytest.mark.usefixtures("json_text_kept")
@pytest.mark.parametrize(
    ("path", "line", "column"),
    [
        ((), 1, 1),
        (("Version",), 2, 3),
        (("Statement",), 3, 3),
        (("Statement", 0), 4, 5),
        (("Statement", 0, "Action"), 4, 25),
        (("Statement", 0, "Action", 1), 4, 52),
        (("Statement", 0, "Resource"), 5, 6),
        (("Statement", 1), 6, 5),
        (("Statement", 2), 6, 10),  # columns count characters: "é" is one
        (("Statement", 2, 'k"q'), 6, 11),
        (("Statement", 2, 'k"q', 1, 1), 6, 27),
        (("Statement", 0, "Action", 5), 4, 25),
        (("Nope",), 1, 1),
    ],
)
def test_json_marks_are_exact(path: tuple[str | int, ...], line: int, column: int) -> None:
    located = parse_json(JSON_DOC, "p.json")
    assert located.data["Statement"][0]["Action"][1] == "s3:PutObject"  # type: ignore[index]
    assert located.mark(path) == Mark(line, column)


@pytest.mark.usefixtures("json_text_kept")
def test_json_marks_are_read_only_where_a_path_goes() -> None:
    # A large dump's marks are read container by container as paths reach them (`mark` on the
    # whole index would hold every key of the file); they must be the marks of a full scan.
    doc = {"a": [{"b": [1, {"c": [2, []]}], 'k"\u00e9': {}} for _ in range(100)], "z": {"y": [[], {}, "x"]}}
    text = json.dumps(doc, indent=1, ensure_ascii=False)
    located = parse_json(text, "big.json")
    full = Located(located.data, "big.json", lambda: _scan_json(text)[0])
    assert located.mark(("a", 3, "b", 1)) == full.mark(("a", 3, "b", 1))
    root_kids: Any = located._index[1][1]  # type: ignore[index]
    # Read: the root, "a" (kept: a large list), and "a"[3], its "b" and "b"[1] (small: among
    # the last read; `mark` looks up the shadow under its last step too).
    assert set(dict(root_kids)) == {"a"} and dict(dict(root_kids)["a"][1]) == {}
    assert len(root_kids.shadows.recent) == 3

    def paths(node: object, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
        yield path
        yield (*path, "missing")
        yield (*path, 99)
        if isinstance(node, dict):
            for k, v in node.items():
                yield from paths(v, (*path, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                yield from paths(v, (*path, i))

    checked = [p for p in paths(doc) if located.mark(p) == full.mark(p)]
    assert len(checked) == len(list(paths(doc))) > 500


@pytest.mark.usefixtures("json_text_kept")
def test_json_marks_past_brackets_and_quotes_inside_strings() -> None:
    # The lazy index pairs brackets with one regex match per bracket and reads a flat list in
    # one pass: brackets, escaped quotes and backslashes inside strings must not count.
    doc = {
        "a]": ["[", "}", 'q"[', "\\", '\\"{', 1, None, True, "x"],
        "b": {"{": "]", "k": ['"]', []], "\\": [{"]": "["}, "[]"]},
        "c": [],
    }
    for text in (json.dumps(doc), json.dumps(doc, indent=2) + "  \n\t \n", json.dumps(doc, separators=(",", ":"))):
        located = parse_json(text, "odd.json")
        full = Located(located.data, "odd.json", lambda text=text: _scan_json(text)[0])  # type: ignore[misc]
        paths: list[tuple[str | int, ...]] = [
            (),
            ("a]",),
            *(("a]", i) for i in range(10)),
            ("b",),
            ("b", "{"),
            ("b", "k", 0),
            ("b", "k", 1),
            ("b", "k", 1, 0),
            ("b", "\\", 0, "]"),
            ("b", "\\", 1),
            ("c",),
            ("c", 0),
        ]
        assert [located.mark(p) for p in paths] == [full.mark(p) for p in paths]
        assert located.mark(("b", "\\", 1)) != located.mark(("b", "\\", 0))
    scalar = parse_json(' "[x{" ', "s.json")
    assert scalar.mark(()) == scalar.mark((0,)) == Mark(1, 2)


def _long_strings(root: object, at_least: int) -> list[object]:
    """Strings of `at_least` characters that `root` keeps alive."""
    return reachable(root, lambda obj: isinstance(obj, str) and len(obj) >= at_least)


def test_large_json_text_is_let_go_once_indexed(monkeypatch: pytest.MonkeyPatch) -> None:
    # A large file's text (a dump of tens of megabytes) is held compressed once its index is
    # read; marks read the blocks they need. Non-ASCII characters and a lone surrogate (JSON
    # text given as a str may hold one) come back as they were, on either side of a block's end.
    monkeypatch.setattr(located_json, "BLOCKED_FROM", 1000)
    monkeypatch.setattr(located_json._Blocks, "SIZE", 5)
    doc = {"é\ud800": ["ü", {"k": "\ud800"}], "roles": [{"n": f"r{i}", "a": ["x", "y"]} for i in range(200)]}
    text = json.dumps(doc, indent=1, ensure_ascii=False)
    assert len(text) > 1000
    located = parse_json(text, "dump.json")
    assert _long_strings(located, len(text) // 2), "the text is held until the index is read"
    full = Located(located.data, "dump.json", lambda: _scan_json(text)[0])
    paths = [(), ("é\ud800",), ("é\ud800", 1, "k"), ("roles", 150, "a", 1), ("roles", 199), ("roles", 0, "n")]
    assert [located.mark(p) for p in paths] == [full.mark(p) for p in paths]
    assert located.mark(("é\ud800", 1, "k")) == Mark(5, 4)  # the key "k", on the line after "{"
    assert _long_strings(located, len(text) // 2) == []


def test_remembered_marks_keep_true_and_one_apart() -> None:
    # Marks are remembered by path, and True == 1 == 1.0 as dict keys; only 1 is a list index.
    located = parse_json("[0, 1]", "p.json")
    paths: list[Any] = [(1,), (True,), (1.0,), (1,)]
    assert [located.mark(p) for p in paths] == [Mark(1, 5), Mark(1, 1), Mark(1, 1), Mark(1, 5)]


def test_json_top_level_scalar_is_data() -> None:
    located = parse_json('  "just a string"', "p.json")
    assert located.data == "just a string"
    assert located.mark(()) == Mark(1, 3)
    assert located.mark(("x",)) == Mark(1, 3)


# ---------------------------------------------------------------------------- refusals: YAML


def test_yaml_duplicate_key_names_both_places() -> None:
    with pytest.raises(ParseError) as caught:
        parse_yaml("A:\n  x: 1\n  y: 2\n  x: 3\n", "dup.yaml")
    err = caught.value
    assert (err.file, err.line, err.column) == ("dup.yaml", 4, 3)
    assert "'x'" in err.message and "line 2, column 3" in err.message


def test_merge_key_is_refused() -> None:
    with pytest.raises(ParseError) as caught:
        parse_yaml("base: &b {a: 1}\nother:\n  <<: *b\n  c: 2\n", "m.yaml")
    assert (caught.value.line, caught.value.column) == (3, 3)
    assert "<<" in caught.value.message
    # Quoted, it is an ordinary key.
    assert parse_yaml("'<<': 1\n", "m.yaml").data == {"<<": 1}


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("a:\n  b: !Foo x\n", "!Foo"),
        ("a:\n  b: !!python/object:os.system [ls]\n", "!!python/object:os.system"),
        ("a:\n  b: !!binary aGk=\n", "!!binary"),
        ("a:\n  b: !Fn::Sub x\n", "!Fn::Sub"),
    ],
)
def test_unknown_tag_is_refused_with_its_place(text: str, shown: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_yaml(text, "tag.yaml")
    assert (caught.value.line, caught.value.column) == (2, 6)
    assert repr(shown) in caught.value.message


def test_billion_laughs_is_refused() -> None:
    levels = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for index in range(1, 9):
        name, previous = chr(ord("a") + index), chr(ord("a") + index - 1)
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    with pytest.raises(ParseError) as caught:
        parse_yaml("\n".join(levels) + "\n", "lol.yaml")
    assert "alias" in caught.value.message
    assert caught.value.line is not None


def test_recursive_and_undefined_aliases_are_refused() -> None:
    for text in ("a: &x [1, *x]\n", "a: *nowhere\n"):
        with pytest.raises(ParseError):
            parse_yaml(text, "alias.yaml")


def test_several_documents_are_refused() -> None:
    with pytest.raises(ParseError) as caught:
        parse_yaml("a: 1\n---\nb: 2\n", "multi.yaml")
    assert caught.value.line == 2
    # One document with explicit markers is fine.
    assert parse_yaml("---\na: 1\n...\n", "one.yaml").data == {"a": 1}


def test_invalid_yaml_reports_libyaml_place() -> None:
    with pytest.raises(ParseError) as caught:
        parse_yaml("a: b\n- c\n", "bad.yaml")
    assert (caught.value.line, caught.value.column) == (2, 1)


def test_complex_and_null_keys_are_refused() -> None:
    for text in ("? [a, b]\n: c\n", "~: 1\n"):
        with pytest.raises(ParseError):
            parse_yaml(text, "k.yaml")


@pytest.mark.parametrize("text", ["", "# only a comment\n", "\n\n"])
def test_empty_yaml_is_none(text: str) -> None:
    located = parse_yaml(text, "empty.yaml")
    assert located.data is None
    assert located.mark(("anything",)) is None


# ---------------------------------------------------------------------------- refusals: JSON


def test_json_duplicate_key_names_both_places() -> None:
    with pytest.raises(ParseError) as caught:
        parse_json('{"a": {"x": 1,\n  "x": 2}}', "dup.json")
    err = caught.value
    assert (err.line, err.column) == (2, 3)
    assert "line 1, column 8" in err.message


def test_invalid_json_reports_line_and_column() -> None:
    with pytest.raises(ParseError) as caught:
        parse_json('{\n  "a": 1,\n  "b" 2\n}', "bad.json")
    err = caught.value
    assert (err.line, err.column) == (3, 7)
    assert str(err).startswith("bad.json:3:7: Expecting ':' delimiter, found '2'")


def test_json_number_past_digit_limit_is_a_parse_error() -> None:
    with pytest.raises(ParseError) as err:
        parse_json('{"a":\n  [' + "9" * 5000 + "]}", "big.json")
    assert (err.value.line, err.value.column) == (2, 4) and "5000 digits" in err.value.message
    with pytest.raises(ParseError) as err:
        parse_yaml("a:\n  b: " + "9" * 5000 + "\n", "big.yaml")
    assert (err.value.line, err.value.column) == (2, 6)


def test_json_nested_past_the_parser_is_located_where_it_gets_absurd() -> None:
    with pytest.raises(ParseError) as err:
        parse_json('{"a": "[[[", "b":\n ' + "[" * 100_000 + "]" * 100_000 + "}", "deep.json")
    # The object is level 1: its 100th bracket, in column 101, is level 101.
    assert err.value.line == 2 and err.value.column == 101 and "deeper than 100 levels" in err.value.message


# ------------------------------------------------------------------------ bytes and encodings


@pytest.mark.parametrize("parse", [parse_json, parse_any])
@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16-le", "utf-16-be", "utf-32"])
def test_json_byte_order_marks(parse: object, encoding: str) -> None:
    text = '{"Version": "2012-10-17"}'
    bom = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE}.get(encoding, b"")
    located = parse(bom + text.encode(encoding), "bom.json")  # type: ignore[operator]
    assert located.data == {"Version": "2012-10-17"}
    assert located.mark(("Version",)) == Mark(1, 2)


@pytest.mark.parametrize(
    "raw",
    [codecs.BOM_UTF8 + b"a: !Ref B\n", "\ufeffa: !Ref B\n".encode("utf-16"), "\ufeffa: !Ref B\n"],
)
def test_yaml_byte_order_marks(raw: str | bytes) -> None:
    located = parse_yaml(raw, "bom.yaml")
    assert located.data == {"a": {"Ref": "B"}}
    assert located.mark(("a",)) == Mark(1, 1)


@pytest.mark.parametrize("parse", [parse_json, parse_yaml, parse_any])
def test_invalid_utf8_is_a_parse_error(parse: object) -> None:
    with pytest.raises(ParseError) as caught:
        parse(b'{"a": "ok",\n "b": "\xff\xfe"}', "bin.json")  # type: ignore[operator]
    assert (caught.value.line, caught.value.column) == (2, 8)


@pytest.mark.parametrize("parse", [parse_json, parse_yaml])
def test_nul_bytes_are_a_parse_error(parse: object) -> None:
    with pytest.raises(ParseError) as caught:
        parse('{"a": "x\x00y"}', "nul.json")  # type: ignore[operator]
    assert caught.value.line == 1


# ------------------------------------------------------------------------------ deep nesting


@pytest.mark.parametrize("parse", [parse_json, parse_yaml, parse_any])
@pytest.mark.parametrize("shape", ["list", "object"])
def test_deep_nesting_is_a_parse_error_not_recursion(parse: object, shape: str) -> None:
    depth = 100_000
    text = "[" * depth + "]" * depth if shape == "list" else '{"a":' * depth + "1" + "}" * depth
    with pytest.raises(ParseError) as caught:
        parse(text, "deep.json")  # type: ignore[operator]
    assert "nesting" in caught.value.message


def test_deep_block_yaml_is_a_parse_error() -> None:
    with pytest.raises(ParseError) as caught:
        parse_yaml("- " * 100_000 + "x\n", "deep.yaml")
    assert "nesting" in caught.value.message


# ------------------------------------------------------------------------- parse_any, errors


def test_parse_any_picks_json_or_yaml() -> None:
    assert parse_any('  \n {"a": [1]}', "x").data == {"a": [1]}
    assert parse_any("a: !Ref B\n", "x").data == {"a": {"Ref": "B"}}
    # JSON-looking input that is not JSON is reported as JSON, not re-read as YAML.
    with pytest.raises(ParseError) as caught:
        parse_any("{a: 1}", "x.json")
    assert caught.value.message.startswith("Expecting property name")


def test_parse_error_format_and_pickling() -> None:
    err = ParseError("f.yaml", 3, 7, "expected a key, found '-'")
    assert str(err) == "f.yaml:3:7: expected a key, found '-'"
    assert str(ParseError("f.yaml", None, None, "too deep")) == "f.yaml: too deep"
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.file, copy.line, copy.column, copy.message) == (err.file, 3, 7, err.message)
