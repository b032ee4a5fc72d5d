"""Wildcard matching for actions and ARNs, pattern against pattern."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iamlint import globs


def test_overlap_of_two_patterns() -> None:
    assert globs.patterns_overlap("arn:aws:s3:::b/*", "arn:aws:s3:::b/x")
    assert globs.patterns_overlap("a*c", "ab*")
    assert not globs.patterns_overlap("abc", "abd")
    assert not globs.patterns_overlap("a?c", "abcd")


def test_arn_against_catalogue_formats() -> None:
    bucket = "arn:${Partition}:s3:::${BucketName}"
    obj = "arn:${Partition}:s3:::${BucketName}/${ObjectName}"
    assert globs.arn_pattern_overlaps("arn:aws:s3:::my-bucket", bucket)
    assert not globs.arn_pattern_overlaps("arn:aws:s3:::my-bucket", obj)
    assert globs.arn_pattern_overlaps("arn:aws:s3:::my-bucket/*", obj)
    assert globs.arn_pattern_overlaps("arn:aws:s3:::*", obj)
    # A catalogue variable is never empty: an S3-style ARN cannot be a regional one.
    regional = "arn:${Partition}:s3:${Region}:${Account}:accesspoint/${AccessPointName}"
    assert not globs.arn_pattern_overlaps("arn:aws:s3:::*", regional)


def test_total_and_covering_patterns() -> None:
    assert globs.is_total("*") and globs.is_total("arn:*") and globs.is_total("arn:*:*:*:*:*")
    assert not globs.is_total("arn:aws:s3:::*")
    assert globs.covers_template("*", "table/${TableName}")
    assert globs.covers_template("table/*", "table/${TableName}")
    assert not globs.covers_template("table/Orders*", "table/${TableName}")
    # Policy variables and unresolved template values are specific values, not wildcards.
    assert not globs.covers_template("table/${aws:username}", "table/${TableName}")
    assert not globs.covers_template("table/<Ref:TableName>", "table/${TableName}")


def test_placeholders_overlap_anything_for_matching() -> None:
    assert globs.arn_pattern_overlaps(
        "arn:aws:dynamodb:<AWS::Region>:<AWS::AccountId>:table/<Ref:Table>",
        "arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}",
    )


def test_glob_match_case() -> None:
    assert globs.glob_match("s3:get*", "S3:GetObject", case_sensitive=False)
    assert not globs.glob_match("arn:aws:s3:::B", "arn:aws:s3:::b")


@settings(max_examples=3000, deadline=None)
@given(
    st.one_of(st.text(alphabet="ab*", max_size=8), st.text(alphabet="ab*?:$<>{}", max_size=8)),
    st.one_of(st.text(alphabet="ab", max_size=8), st.text(alphabet="ab:*?$<>{}", max_size=9)),
)
def test_string_search_matching_agrees_with_the_compiled_glob(pattern: str, value: str) -> None:
    # Star-only patterns are matched without a regex; the regex is the reference.
    assert globs._fullmatch(pattern, value) == (globs._compile_glob(pattern).fullmatch(value) is not None)


def test_a_star_only_pattern_needs_its_pieces_in_order_and_apart() -> None:
    assert globs.glob_match("a*b*b", "abb")
    assert not globs.glob_match("a*b*b", "ab")  # the last b cannot serve twice
    assert not globs.glob_match("a*b*c", "acb")
    assert globs.glob_match("${*}*", "${*}x") and not globs.glob_match("${*}", "x")


BUCKET = "arn:${Partition}:s3:::${BucketName}"
OBJECT = "arn:${Partition}:s3:::${BucketName}/${ObjectName}"
TABLE = "arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}"
INDEX = TABLE + "/index/${IndexName}"


@pytest.mark.parametrize(
    ("pattern", "template", "overlaps"),
    [
        ("arn:aws:s3:::b/*", BUCKET, False),  # a bucket name holds no "/": this names objects only
        ("arn:aws:s3:::*/*", BUCKET, False),
        ("arn:aws:s3:::*/CodeDeploy/*", BUCKET, False),
        ("arn:aws:s3:::b/*", OBJECT, True),
        ("arn:aws:s3:::*", BUCKET, True),
        ("arn:aws:s3:::b?", BUCKET, True),
        ("arn:aws:s3:::b?/", BUCKET, False),
        ("arn:aws:s3:::<Ref:Bucket>", BUCKET, True),
        ("arn:aws:s3:::<Ref:Bucket>/*", BUCKET, False),
        ("arn:aws:s3:::${aws:username}", BUCKET, True),
        ("arn:aws:dynamodb:us-east-1:111122223333:table/T/index/*", TABLE, False),
        ("arn:aws:dynamodb:us-east-1:111122223333:table/T/index/*", INDEX, True),
        ("arn:aws:dynamodb:*:*:table/*", INDEX, True),
        ("arn:aws:dynamodb:*:*:table/T", INDEX, False),
    ],
)
def test_names_aws_keeps_slash_free(pattern: str, template: str, overlaps: bool) -> None:
    assert globs.arn_pattern_overlaps(pattern, template) is overlaps


def test_a_star_ending_a_short_arn_pattern_covers_every_later_field() -> None:
    assert globs.padded_arn("arn:aws:s3:*") == "arn:aws:s3:*:*:*"
    assert globs.padded_arn("arn:aws:s3:::b/*") == "arn:aws:s3:::b/*"  # six fields: as written
    assert globs.padded_arn("arn:aws:s3:b*") == "arn:aws:s3:b*"  # not a lone star: left alone
    assert globs.covers_arn_format("arn:aws:s3:*", OBJECT)
    assert globs.covers_arn_format(
        "arn:aws:logs:*", "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}"
    )
