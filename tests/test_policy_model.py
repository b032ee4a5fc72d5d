"""Parsing policy documents into the typed model: normalisation, provenance, malformed input."""

from __future__ import annotations

import datetime
import pickle

import pytest

from iamlint.loaders.located import parse_json
from iamlint.loaders.policy_file import load_policy_file
from iamlint.model import Evidence, Finding, Location, PolicyKind, Severity, Source, Value
from iamlint.policy import parse_policy


def _parse(doc: object, kind: PolicyKind = PolicyKind.UNKNOWN):  # type: ignore[no-untyped-def]
    return parse_policy(doc, file="p.json", kind=kind)


def test_string_or_list_and_single_statement_object() -> None:
    doc, problems = _parse(
        {
            "Version": "2012-10-17",
            "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
        }
    )
    assert problems == [] and doc is not None
    (st,) = doc.statements
    assert st.action_texts == ("s3:GetObject",) and st.resource_texts == ("arn:aws:s3:::b/*",)
    assert st.actions[0].loc.path == "$.Statement.Action"


def test_version_as_yaml_date_is_normalised() -> None:
    doc, problems = _parse({"Version": datetime.date(2012, 10, 17), "Statement": []})
    assert doc is not None and doc.version == "2012-10-17" and problems == []


def test_conditions_and_principals() -> None:
    doc, problems = _parse(
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": ["arn:aws:iam::111122223333:root"], "Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {
                        "Bool": {"aws:SecureTransport": True},
                        "StringEquals": {"sts:ExternalId": ["a", "b"]},
                    },
                }
            ]
        },
        PolicyKind.TRUST,
    )
    assert problems == [] and doc is not None
    st = doc.statements[0]
    assert [(p.kind, p.value.text) for p in st.principals] == [
        ("AWS", "arn:aws:iam::111122223333:root"),
        ("Service", "lambda.amazonaws.com"),
    ]
    assert [(c.operator, c.key, c.values) for c in st.conditions] == [
        ("Bool", "aws:SecureTransport", ("true",)),
        ("StringEquals", "sts:ExternalId", ("a", "b")),
    ]


@pytest.mark.parametrize(
    "statement,expected",
    [
        ({"Action": "s3:GetObject", "Resource": "*"}, "Effect must be"),
        ({"Effect": "Permit", "Action": "s3:GetObject", "Resource": "*"}, "Effect must be"),
        ({"Effect": "Allow", "Resource": "*"}, "neither Action nor NotAction"),
        (
            {"Effect": "Allow", "Action": "s3:GetObject", "NotAction": "s3:PutObject", "Resource": "*"},
            "both Action and NotAction",
        ),
        ({"Effect": "Allow", "Action": "s3:GetObject"}, "neither Resource nor NotResource"),
        (
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "NotResource": "x"},
            "both Resource and NotResource",
        ),
        ({"Effect": "Allow", "Action": 5, "Resource": "*"}, "must be a string or a list"),
        ({"Effect": "Allow", "Action": [], "Resource": "*"}, "empty list"),
        (
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"StringEquals": "x"}},
            "must map keys",
        ),
        ({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Principle": "*"}, "unknown statement element"),
    ],
)
def test_malformed_statements(statement: dict[str, object], expected: str) -> None:
    _, problems = _parse({"Version": "2012-10-17", "Statement": [statement]})
    assert any(expected in p.message for p in problems), [p.message for p in problems]
    assert all(p.statement_index == 0 for p in problems if p.statement_index is not None)


def test_valid_statements_survive_a_bad_one() -> None:
    doc, problems = _parse(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "s3:GetObject"},
                {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/*"},
            ],
        }
    )
    assert doc is not None and [s.index for s in doc.statements] == [1]
    assert len(problems) == 1


def test_bad_version_and_statement_shape() -> None:
    _, problems = _parse({"Version": "2012-10-18", "Statement": "nope"})
    messages = " | ".join(p.message for p in problems)
    assert "Version must be" in messages and "Statement must be" in messages


def test_problem_locations_have_lines() -> None:
    text = '{\n  "Version": "2012-10-17",\n  "Statement": [\n    {"Effect": "allow", "Action": "s3:GetObject", "Resource": "*"}\n  ]\n}\n'
    result = load_policy_file(parse_json(text, "p.json"))
    (problem,) = result.problems
    assert (problem.loc.line, problem.loc.file) == (4, "p.json")


def test_file_shapes() -> None:
    one = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    import json

    for data, count in (
        (one, 1),
        ([one, one], 2),
        ({"a": one, "b": one}, 2),
        ({"PolicyVersion": {"Document": one}}, 1),
    ):
        result = load_policy_file(parse_json(json.dumps(data), "f.json"))
        assert len(result.documents) == count and result.errors == []
    unknown = load_policy_file(parse_json('{"name": "pkg"}', "package.json"))
    assert unknown.documents == [] and "unknown input shape" in unknown.errors[0].message
    # What the AWS CLI prints for a resource policy (a JSON string) and for a role (its trust).
    text = json.dumps(one)
    for data in (
        {"Policy": text},
        {"Attributes": {"Policy": text}},
        {"ResourcePolicy": text, "ARN": "x"},
        {"policyText": text, "repositoryName": "r"},
        {"Role": {"RoleName": "r", "AssumeRolePolicyDocument": one}},
    ):
        result = load_policy_file(parse_json(json.dumps(data, indent=1), "cli.json"), explicit=False)
        assert len(result.documents) == 1 and result.errors == [] and result.skipped == [], data
        assert result.documents[0].locate(result.documents[0].statements[0].loc).line, data
    assert load_policy_file(parse_json('{"Policy": "not json"}', "p.json"), explicit=False).skipped == ["p.json"]


def test_a_list_item_value_equals_one_built_with_its_own_location() -> None:
    within = Location("p.json", None, None, ("Statement", 0, "Action"), "Role", "Stack/Role")
    item = Value.item("s3:GetObject", within, 2)
    eager = Value("s3:GetObject", Location("p.json", None, None, ("Statement", 0, "Action", 2), "Role", "Stack/Role"))
    assert item == eager and hash(item) == hash(eager)
    assert item.loc == eager.loc and item.loc.keys == ("Statement", 0, "Action", 2)
    assert item != Value.item("s3:GetObject", within, 1)
    assert pickle.loads(pickle.dumps(item)) == item
    with pytest.raises(AttributeError):
        item.text = "s3:PutObject"  # type: ignore[misc]


def test_findings_pickle_with_every_field() -> None:
    # Worker processes send findings to the parent pickled as constructor arguments: no field
    # (a new one included) may be lost or moved on the way.
    loc = Location("t.yaml", 3, 7, ("Resources", "R", 0), "R", "Stack/R")
    source = Source(
        "role",
        "R",
        "R",
        "Stack/R",
        "arn:aws:iam::1:role/r",
        "inline",
        "Policies[0]",
        "IsProd",
        ("function F",),
        ("role A",),
    )
    finding = Finding(
        "IAM101",
        "full-admin",
        Severity.HIGH,
        "grants",
        "message",
        "fix",
        loc,
        2,
        "Sid",
        source,
        Evidence(("*",), ("*",), ("aws:SourceIp",), ("note",)),
        True,
        "0123abcd",
        ("*",),
    )
    copy = pickle.loads(pickle.dumps(finding))
    assert copy == finding and copy.location == loc and copy.source == source
    assert [getattr(copy, name) for name in Finding.__slots__] == [getattr(finding, name) for name in Finding.__slots__]
    assert (
        pickle.loads(pickle.dumps(Finding("IAM001", "n", Severity.LOW, "c", "m", "f", Location("p.json")))).evidence
        == Evidence()
    )


def test_parsed_list_items_carry_their_index_in_the_path() -> None:
    doc, problems = parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "*"}],
        },
        file="p.json",
    )
    assert not problems and doc is not None
    st = doc.statements[0]
    assert [v.loc.keys for v in st.actions] == [("Statement", 0, "Action", 0), ("Statement", 0, "Action", 1)]
    assert st.resources[0].loc.keys == ("Statement", 0, "Resource")


def test_slot_setting_constructors_set_every_field() -> None:
    # new_location, new_finding, new_statement and catalog._action_info set each slot through
    # its descriptor rather than calling __init__: a field added to the class must be added to
    # them too, or its slot stays unset (an AttributeError far from here).
    from dataclasses import fields

    from iamlint import catalog, model

    for cls, slots in (
        (model.Location, model._LOCATION_SLOTS),
        (model.Finding, model._FINDING_SLOTS),
        (model.Statement, model._STATEMENT_SLOTS),
        (catalog.ActionInfo, catalog._ACTION_SLOTS),
    ):
        names = [f.name for f in fields(cls)]
        assert [s.__self__.__name__ for s in slots] == names, cls
