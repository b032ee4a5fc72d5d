"""The risk rules' per-statement answers (`risk._by_statement`) against the per-action ones.

For a principal without Deny or boundary, the catalogue-defined categories are worked out once
per statement and shared by every holder; each action must still take the very reach that
`Effective.best` gives it (`risk._by_action`), whatever the statement's size or resource shapes.
"""

from __future__ import annotations

import json

from iamlint.catalog import ActionInfo
from iamlint.checks import risk
from iamlint.checks.effective import Effective, Reach
from iamlint.engine import Engine, LintConfig
from iamlint.loaders.located import parse_json
from iamlint.loaders.policy_file import load_policy_file
from iamlint.principals import standalone

POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        # Open-ended, on resources of some shapes only: most actions are scoped, a few are not.
        {"Effect": "Allow", "Action": "*", "Resource": ["arn:aws:s3:::*", "arn:aws:ec2:*:*:instance/*"]},
        # Open-ended with a condition: unscoped everywhere, but gives way to unconditioned grants.
        {
            "Effect": "Allow",
            "NotAction": ["iam:*", "organizations:*"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}},
        },
        # Naming statements of one service, one on every resource and one on a named bucket.
        {"Effect": "Allow", "Action": ["s3:PutBucketPolicy", "s3:PutBucketAcl"], "Resource": "*"},
        {"Effect": "Allow", "Action": "s3:Delete*", "Resource": "arn:aws:s3:::logs"},
    ],
}


def test_per_statement_answer_is_the_per_action_one() -> None:
    engine = Engine(LintConfig(strict=True))
    [doc] = load_policy_file(parse_json(json.dumps(POLICY, indent=1), "p.json")).documents
    eff = Effective(engine.ctx, standalone(doc))
    assert eff.plain
    by_statement = risk._by_statement(engine.ctx, eff)
    by_action = risk._by_action(engine.ctx, eff)

    def keyed(answer: dict[str, list[tuple[ActionInfo, Reach]]]) -> dict[str, dict[str, int]]:
        return {c: {a.key: id(r) for a, r in pairs} for c, pairs in answer.items()}  # the very same reach

    assert keyed(by_statement) == keyed(by_action)
    infrastructure = {a.key: r for a, r in by_statement[risk.INFRASTRUCTURE]}
    assert len(infrastructure) > 1000  # the open-ended statements' thousands, not a handful
    # Only the conditioned statement reaches every table: it is kept, with its condition.
    assert infrastructure["dynamodb:deletetable"].statement.index == 1
    assert infrastructure["dynamodb:deletetable"].conditions
    # The naming statement on "*" and the first one (every bucket) both reach it unconditioned:
    # statements naming an action come first.
    exposure = {a.key: r for a, r in by_statement[risk.RESOURCE_EXPOSURE]}
    assert exposure["s3:putbucketpolicy"].statement.index == 2
    assert not exposure["s3:putbucketpolicy"].conditions
