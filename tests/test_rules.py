"""Every rule: its file is valid, it has logic, and its examples behave as documented.

The bad examples must raise exactly that rule; the good ones must not. Fixture files under
fixtures/rules/IAMxxx/ say their expected outcome in their name (bad-*, good-*).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import FIXTURES, lint_doc, lint_template, rule_ids

from iamlint.checks import load_all
from iamlint.engine import ERROR_RULES, META_RULES, Engine, LintConfig, LintResult
from iamlint.loaders.inputs import load_paths
from iamlint.model import PolicyKind
from iamlint.ruleset import builtin_rule_texts, load_builtin_rules
from iamlint.schemas import validate

RULES = load_builtin_rules()
KINDS = {"identity": PolicyKind.IDENTITY, "resource": PolicyKind.RESOURCE, "trust": PolicyKind.TRUST}


@pytest.mark.parametrize("file,text", list(builtin_rule_texts()), ids=lambda v: v if v.startswith("rules/") else "")
def test_rule_file_matches_schema(file: str, text: str) -> None:
    raw = yaml.safe_load(text)
    assert validate("rule", raw) == []
    assert Path(file).stem == raw["id"], "a rule file is named after its id"


def test_rules_and_checks_are_one_to_one() -> None:
    checks = set(load_all())
    documented = set(RULES) - ERROR_RULES - META_RULES
    assert checks == documented


def _examples(label: str) -> list[tuple[str, int, object, str]]:
    out = []
    for rule in RULES.values():
        if rule.example is None:
            continue
        docs = rule.example.bad if label == "bad" else rule.example.good
        out.extend((rule.id, i, doc, rule.example.kind) for i, doc in enumerate(docs))
    return out


def _lint_example(engine: Engine, rule_id: str, doc: object, kind: str) -> LintResult:
    """Lint one example as its rule file says: with the example block's settings, and a
    `template` example through the CloudFormation loader (several policies, one principal)."""
    example = RULES[rule_id].example
    if example is not None and example.settings:
        engine = Engine(LintConfig(strict=True, settings=example.settings))
    if kind == "template":
        result = lint_template(engine, doc)
        assert not any(f.is_error for f in result.findings), [f.message for f in result.findings if f.is_error]
        return result
    return lint_doc(engine, doc, KINDS.get(kind, PolicyKind.UNKNOWN))


@pytest.mark.parametrize(
    "rule_id,index,doc,kind", _examples("bad"), ids=lambda v: v if isinstance(v, str) and v.startswith("IAM") else None
)
def test_bad_example_raises_rule(engine: Engine, rule_id: str, index: int, doc: object, kind: str) -> None:
    result = _lint_example(engine, rule_id, doc, kind)
    assert rule_id in rule_ids(result), f"bad example {index} of {rule_id}"


@pytest.mark.parametrize(
    "rule_id,index,doc,kind", _examples("good"), ids=lambda v: v if isinstance(v, str) and v.startswith("IAM") else None
)
def test_good_example_does_not_raise_rule(engine: Engine, rule_id: str, index: int, doc: object, kind: str) -> None:
    result = _lint_example(engine, rule_id, doc, kind)
    assert rule_id not in rule_ids(result), f"good example {index} of {rule_id}"


def test_example_settings_are_what_makes_a_bad_example_bad(engine: Engine) -> None:
    # A rule driven by settings reports nothing without them: the example block's settings
    # are really passed through, not merely present.
    for rule in RULES.values():
        if rule.example is None or not rule.example.settings:
            continue
        for doc in rule.example.bad:
            assert rule.id in rule_ids(_lint_example(engine, rule.id, doc, rule.example.kind))
            assert rule.id not in rule_ids(lint_doc(engine, doc, KINDS.get(rule.example.kind, PolicyKind.UNKNOWN)))


def test_every_rule_with_logic_has_examples_and_fixtures() -> None:
    for rule_id in load_all():
        rule = RULES[rule_id]
        assert rule.example and rule.example.bad and rule.example.good, rule_id
        folder = FIXTURES / "rules" / rule_id
        names = [p.name for p in folder.iterdir()] if folder.is_dir() else []
        assert any(n.startswith("bad-") for n in names), f"{rule_id} has no bad fixture"
        assert any(n.startswith("good-") for n in names), f"{rule_id} has no good fixture"


SETTINGS_SUFFIX = ".settings.json"  # bad-x.json runs with the settings in bad-x.settings.json


def _fixtures() -> list[Path]:
    return sorted(p for p in (FIXTURES / "rules").glob("IAM*/*.*") if not p.name.endswith(SETTINGS_SUFFIX))


@pytest.mark.parametrize("path", _fixtures(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_rule_fixture(engine: Engine, path: Path) -> None:
    rule_id = path.parent.name
    settings = path.with_name(path.name.split(".", 1)[0] + SETTINGS_SUFFIX)
    if settings.exists():
        engine = Engine(LintConfig(strict=True, settings=json.loads(settings.read_text())))
    loaded = load_paths([str(path)])
    result = engine.run(loaded.documents, loaded.problems, loaded.errors)
    ids = rule_ids(result)
    if path.name.startswith("bad-"):
        assert rule_id in ids
        # Findings point at a real line of the fixture.
        hits = [f for f in result.findings if f.rule == rule_id]
        assert all(f.location.line and f.location.line >= 1 for f in hits)
    else:
        assert path.name.startswith("good-"), "fixture names start with bad- or good-"
        assert rule_id not in ids


def test_deny_statements_never_report_over_broad_grants(engine: Engine) -> None:
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Deny", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "NotAction": "s3:*", "NotResource": "arn:aws:s3:::b"},
            {"Effect": "Deny", "Action": ["iam:PassRole", "s3:Put*", "kms:*"], "Resource": "*"},
        ],
    }
    assert rule_ids(lint_doc(engine, doc)) == set()


def test_condition_lowers_severity_and_says_so(engine: Engine) -> None:
    plain = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]}
    tagged = json.loads(json.dumps(plain))
    tagged["Statement"][0]["Condition"] = {"StringEquals": {"aws:ResourceTag/team": "blue"}}
    a = {f.rule: f for f in lint_doc(engine, plain).findings}
    b = {f.rule: f for f in lint_doc(engine, tagged).findings}
    assert b["IAM103"].severity < a["IAM103"].severity
    assert "aws:ResourceTag/team" in b["IAM103"].message
    assert b["IAM103"].evidence.conditions == ("aws:ResourceTag/team",)


def test_sensitive_access_is_judged_on_the_resources_every_request_names(engine: Engine) -> None:
    """redshift:GetClusterCredentials always names a database user: every database but one
    user is no grant on everything; glue:GetConnection always names its connection."""
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "redshift:GetClusterCredentials",
                "Resource": ["arn:aws:redshift:*:*:dbuser:*/app_reader", "arn:aws:redshift:*:*:dbname:*"],
            },
            {
                "Effect": "Allow",
                "Action": "glue:GetConnection",
                "Resource": ["arn:aws:glue:*:*:catalog", "arn:aws:glue:us-east-1:111122223333:connection/my-conn"],
            },
        ],
    }
    assert "IAM110" not in rule_ids(lint_doc(engine, doc))
    doc["Statement"][1]["Resource"][1] = "arn:aws:glue:*:*:connection/*"
    [f] = [f for f in lint_doc(engine, doc).findings if f.rule == "IAM110"]
    assert 'Resources "arn:aws:glue:*:*:connection/*" and "arn:aws:glue:*:*:catalog" grant' in f.message


def test_every_action_on_all_but_some_resources_is_administrator_access(engine: Engine) -> None:
    doc = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:s3:::secret/*"}],
    }
    result = lint_doc(engine, doc)
    [admin] = [f for f in result.findings if f.rule == "IAM101"]
    assert admin.severity.label == "critical" and "on everything but arn:aws:s3:::secret/*" in admin.message
    # As for "*" on "*", IAM101 says it all: no escalation methods or risk categories one by one.
    assert rule_ids(result) == {"IAM101", "IAM108"}


def test_a_caller_condition_that_names_no_one_does_not_lower_severity(engine: Engine) -> None:
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "*",
                "Condition": {"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*"}},
            }
        ],
    }
    [f] = [f for f in lint_doc(engine, doc).findings if f.rule == "IAM110"]
    assert f.severity.label == "high" and "constrained" not in f.message


def test_not_resource_star_grants_nothing_and_an_empty_account_names_only_aws_owned_resources(engine: Engine) -> None:
    nothing = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "NotResource": "*"}]}
    assert rule_ids(lint_doc(engine, nothing)) == set()
    empty = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "lambda:InvokeFunction",
                "Resource": "arn:aws:lambda:us-east-1::function:foo",
            },
            {
                "Effect": "Allow",
                "Action": "ssm:GetDocument",
                "Resource": "arn:aws:ssm:us-east-1::document/AWS-RunShellScript",
            },
        ],
    }
    [f] = [f for f in lint_doc(engine, empty).findings if f.rule == "IAM112"]
    assert "lambda:InvokeFunction" in f.message


def test_negated_conditions_do_not_lower_severity(engine: Engine) -> None:
    """`StringNotEquals aws:ResourceTag/env: prod` leaves every other resource, and every
    resource without the tag: still a grant on everything."""
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:ResourceTag/env": "prod"}},
            }
        ],
    }
    [f] = [f for f in lint_doc(engine, doc).findings if f.rule == "IAM110"]
    assert f.severity.label == "high" and "constrained" not in f.message


def test_transport_conditions_do_not_lower_severity(engine: Engine) -> None:
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "ec2:*",
                "Resource": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "true"}},
            }
        ],
    }
    finding = next(f for f in lint_doc(engine, doc).findings if f.rule == "IAM103")
    assert finding.severity.label == "medium" and finding.evidence.conditions == ()


def test_unscopable_actions_on_star_are_not_findings(engine: Engine) -> None:
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "xray:PutTraceSegments",
                    "s3:ListAllMyBuckets",
                    "sts:GetCallerIdentity",
                    "ec2:DescribeInstances",
                ],
                "Resource": "*",
            }
        ],
    }
    assert rule_ids(lint_doc(engine, doc)) == set()


def test_write_glob_reports_expansion(engine: Engine) -> None:
    doc = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:Put*", "Resource": "arn:aws:s3:::b/*"}],
    }
    finding = next(f for f in lint_doc(engine, doc).findings if f.rule == "IAM104")
    assert "s3:PutObjectAcl" in finding.evidence.actions
    assert finding.severity.label == "high"


def test_unknown_action_suggests(engine: Engine) -> None:
    doc = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunctions", "Resource": "*"}],
    }
    finding = next(f for f in lint_doc(engine, doc).findings if f.rule == "IAM111")
    assert "lambda:InvokeFunction" in finding.message


def test_rule_index_matches_the_rule_files() -> None:
    import json

    from iamlint.ruleset import INDEX, compile_index

    shipped = json.loads((FIXTURES.parent / "rules" / INDEX).read_text())
    assert shipped == json.loads(json.dumps(compile_index(), default=str)), (
        "rules/index.json is stale: run `python -m iamlint.ruleset`"
    )


def test_knowledge_table_index_matches_the_tables() -> None:
    from iamlint.ruleset import INDEX, _read_data_yaml, compile_data_index, read_data_table

    shipped = json.loads((FIXTURES.parent / "rules" / "data" / INDEX).read_text())
    assert shipped == compile_data_index(), "rules/data/index.json is stale: run `python -m iamlint.ruleset`"
    assert sorted(shipped) == sorted(p.name for p in (FIXTURES.parent / "rules" / "data").glob("*.yaml"))
    for name in shipped:
        assert read_data_table(name) == _read_data_yaml(name)
    first = read_data_table("privesc_methods.yaml")
    first["methods"].clear()  # a caller that edits its copy changes nobody else's
    assert read_data_table("privesc_methods.yaml")["methods"]
