"""The CDK loader on real `cdk synth` output and on hand-made assemblies: stacks, stages,
nested stacks, construct paths from every source, bad input, and assemblies found by walking."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import FIXTURES, check_golden

from iamlint.cli import cli
from iamlint.engine import Engine
from iamlint.loaders import LoadResult
from iamlint.loaders.cdk import StackMetadata, load_cdk, nested_stack_path
from iamlint.loaders.inputs import InputOptions, detect_kind, load_paths, walk
from iamlint.model import Finding, PolicyKind

CDK = FIXTURES / "sources" / "cdk"
OUT = CDK / "cdk.out"
SERVICE = str(OUT / "ServiceStack.template.json")
NESTED = str(OUT / "ServiceStackAdminNestedA024494B.nested.template.json")
WORKER = str(OUT / "assembly-ProdStage" / "ProdStageWorkerStack2F57A7F4.template.json")
NO_PATHS = CDK / "synthetic" / "no-path-metadata" / "cdk.out"
INLINE = CDK / "synthetic" / "inline-metadata" / "cdk.out"
BROKEN = CDK / "broken"


def _load(path: Path | str, **kw: Any) -> LoadResult:
    return load_paths([str(path)], InputOptions(**kw))


def _lint(engine: Engine, loaded: LoadResult) -> list[Finding]:
    return list(engine.run(loaded.documents, loaded.problems, loaded.errors).findings)


def _find(findings: list[Finding], rule: str, file: str, line: int) -> Finding:
    hits = [f for f in findings if f.rule == rule and f.location.file == file and f.location.line == line]
    seen = [(f.rule, f.location.render()) for f in findings]
    assert len(hits) == 1, f"expected one {rule} at {file}:{line}, found {seen}"
    return hits[0]


def _paths(loaded: LoadResult) -> set[tuple[str, str, str | None]]:
    """(template file name, policy name, construct path) of every loaded document."""
    return {(os.path.basename(d.loc.file), d.name or "", d.loc.construct_path) for d in loaded.documents}


# -- the real synth output ---------------------------------------------------------------


def test_every_stack_of_the_real_assembly_loads_once() -> None:
    loaded = _load(OUT)
    assert loaded.errors == [] and loaded.problems == []
    files = [d.loc.file for d in loaded.documents]
    assert set(files) == {SERVICE, NESTED, WORKER}
    assert loaded.files == 5  # two manifests, three templates
    assert len(files) == 11
    by_file = {f: {d.loc.construct_path for d in loaded.documents if d.loc.file == f} for f in set(files)}
    assert by_file[NESTED] == {
        "ServiceStack/AdminNested/AdminRole/Resource",
        "ServiceStack/AdminNested/DecryptPolicy/Resource",
    }
    assert by_file[WORKER] == {
        "ProdStage/WorkerStack/WorkerRole/Resource",
        "ProdStage/WorkerStack/WorkerRole/DefaultPolicy/Resource",
    }
    assert "ServiceStack/JobsQueue/Policy/Resource" in by_file[SERVICE]
    # Every document and its source carry the same construct path.
    assert all(d.source is not None and d.source.construct_path == d.loc.construct_path for d in loaded.documents)


def test_real_assembly_golden() -> None:
    loaded = _load(OUT)
    out = []
    for d in loaded.documents:
        out.append(
            {
                "file": os.path.relpath(d.loc.file, OUT),
                "kind": d.kind.value,
                "name": d.name,
                "construct_path": d.loc.construct_path,
                "line": d.locate(d.loc).line,
                "statements": [
                    f"line {d.locate(st.loc).line}: {st.effect} {', '.join(st.action_texts)}"
                    f" on {', '.join(st.resource_texts) or '-'}"
                    for st in d.statements
                ],
            }
        )
    check_golden(CDK / "cdk.golden.json", json.dumps(out, indent=2) + "\n")


def test_findings_point_at_template_lines_and_construct_paths(engine: Engine) -> None:
    findings = _lint(engine, _load(OUT))
    assert not any(f.is_error for f in findings)
    assert {f.location.file for f in findings} <= {SERVICE, NESTED, WORKER}

    s3 = _find(findings, "IAM103", SERVICE, 145)  # "Action": "s3:*"
    assert s3.location.column == 8 and s3.statement_index == 3
    assert s3.location.keys == (
        "Resources",
        "HandlerServiceRoleDefaultPolicyCBD0CC91",
        "Properties",
        "PolicyDocument",
        "Statement",
        3,
        "Action",
    )
    assert s3.location.construct_path == "ServiceStack/Handler/ServiceRole/DefaultPolicy/Resource"
    assert s3.source is not None and s3.source.construct_path == s3.location.construct_path
    assert s3.source.name == "HandlerServiceRoleFCDC14AE"  # the role the grant attaches to
    star = _find(findings, "IAM105", SERVICE, 147)  # its "Resource": "*"
    assert "s3:GetObject" in star.evidence.actions

    pass_role = _find(findings, "IAM109", SERVICE, 206)
    assert pass_role.location.construct_path == "ServiceStack/DeployerRole/Resource"
    assert pass_role.source is not None and pass_role.source.policy_name == "PassAnyRole"

    admin = _find(findings, "IAM101", NESTED, 19)
    assert admin.severity.label == "critical"
    assert admin.location.construct_path == "ServiceStack/AdminNested/AdminRole/Resource"
    assert admin.source is not None and admin.source.policy_name == "arn:aws:iam::aws:policy/AdministratorAccess"

    decrypt = _find(findings, "IAM110", NESTED, 47)
    assert decrypt.evidence.actions == ("kms:Decrypt",)
    assert decrypt.location.construct_path == "ServiceStack/AdminNested/DecryptPolicy/Resource"

    secret = _find(findings, "IAM110", WORKER, 31)
    assert secret.evidence.actions == ("secretsmanager:GetSecretValue",)
    assert secret.location.construct_path == "ProdStage/WorkerStack/WorkerRole/DefaultPolicy/Resource"
    assert secret.source is not None and secret.source.name == "WorkerRole8DD27D41"


def test_public_queue_policy_is_a_resource_policy() -> None:
    docs = [d for d in _load(OUT).documents if d.kind is PolicyKind.RESOURCE]
    assert len(docs) == 1
    queue = docs[0]
    assert queue.loc.file == SERVICE and queue.loc.logical_id == "JobsQueuePolicy1731E6A2"
    assert queue.loc.construct_path == "ServiceStack/JobsQueue/Policy/Resource"
    assert queue.source is not None and (queue.source.kind, queue.source.name) == ("queue", "JobsQueue86ED6666")
    (st,) = queue.statements
    assert st.action_texts == ("sqs:SendMessage",) and st.conditions == ()
    assert [(p.kind, p.value.text) for p in st.principals] == [("AWS", "*")]
    assert queue.locate(st.principals[0].value.loc).line == 238


def test_manifest_path_and_input_kind_give_the_same_documents() -> None:
    by_folder = _paths(_load(OUT))
    assert _paths(_load(OUT / "manifest.json")) == by_folder
    assert _paths(_load(OUT / "manifest.json", kind="cdk")) == by_folder
    assert _paths(load_cdk(str(OUT), InputOptions())) == by_folder
    assert detect_kind(json.loads((OUT / "manifest.json").read_text())) == "cdk"
    assert detect_kind(json.loads((OUT / "ServiceStack.template.json").read_text())) == "cloudformation"


def test_cli_reports_construct_paths_in_json() -> None:
    result = CliRunner().invoke(cli, ["check", str(OUT), "--format", "json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert report["errors"] == [] and report["summary"]["files"] == 5
    admin = [f for f in report["findings"] if f["rule"] == "IAM101"]
    assert [(f["location"]["file"], f["location"]["line"], f["location"]["construct_path"]) for f in admin] == [
        (NESTED, 19, "ServiceStack/AdminNested/AdminRole/Resource")
    ]


# -- construct paths without aws:cdk:path --------------------------------------------------


def test_metadata_file_gives_construct_paths_when_templates_lack_them(engine: Engine) -> None:
    for template in NO_PATHS.rglob("*.template.json"):
        assert "aws:cdk:path" not in template.read_text()
    loaded = _load(NO_PATHS)
    assert loaded.errors == [] and loaded.problems == []
    # The same documents and construct paths as the real output, nested stack included.
    assert _paths(loaded) == _paths(_load(OUT))
    nested = str(NO_PATHS / "ServiceStackAdminNestedA024494B.nested.template.json")
    admin = _find(_lint(engine, loaded), "IAM101", nested, 19)
    assert admin.location.construct_path == "ServiceStack/AdminNested/AdminRole/Resource"


def test_nested_template_named_only_by_templatefile_metadata(tmp_path: Path) -> None:
    out = tmp_path / "cdk.out"
    shutil.copytree(NO_PATHS, out)
    meta_file = out / "ServiceStack.metadata.json"
    meta = json.loads(meta_file.read_text())
    # Without the nested stack resource's logical id, only aws:cdk:templateFile names the template.
    del meta["/ServiceStack/AdminNested.NestedStack/AdminNested.NestedStackResource"]
    meta_file.write_text(json.dumps(meta, indent=1))
    loaded = _load(out)
    assert loaded.errors == []
    nested = {(n, p) for f, n, p in _paths(loaded) if f.endswith(".nested.template.json")}
    assert nested == {
        ("AdminRole38563C57", "ServiceStack/AdminNested/AdminRole/Resource"),
        ("AdministratorAccess", "ServiceStack/AdminNested/AdminRole/Resource"),
        ("DecryptPolicyAA8E5730", "ServiceStack/AdminNested/DecryptPolicy/Resource"),
    }
    # A missing nested template is reported at the metadata entry that names it.
    (out / "ServiceStackAdminNestedA024494B.nested.template.json").unlink()
    (err,) = _load(out).errors
    key_line = meta_file.read_text().splitlines().index(' "/ServiceStack/AdminNested": [') + 1
    assert (err.file, err.line) == (str(meta_file), key_line) and "does not exist" in err.message


def test_metadata_of_nested_stacks_is_split_by_owning_template() -> None:
    meta = StackMetadata.parse(json.loads((OUT / "ServiceStack.metadata.json").read_text()))
    assert meta.stack_path_of("ServiceStack.template.json") == "ServiceStack"
    root = meta.construct_paths("ServiceStack", root=True)
    nested = meta.construct_paths("ServiceStack/AdminNested", root=False)
    # CDKMetadata exists in both templates under the same logical id.
    assert root["CDKMetadata"] == "ServiceStack/CDKMetadata/Default"
    assert nested["CDKMetadata"] == "ServiceStack/AdminNested/CDKMetadata/Default"
    assert "AdminRole38563C57" not in root and "HandlerServiceRoleFCDC14AE" not in nested
    assert root["AdminNestedNestedStackAdminNestedNestedStackResourceF9A21D41"] == (
        "ServiceStack/AdminNested.NestedStack/AdminNested.NestedStackResource"
    )
    assert nested_stack_path(root["AdminNestedNestedStackAdminNestedNestedStackResourceF9A21D41"]) == (
        "ServiceStack/AdminNested"
    )
    assert nested_stack_path("ServiceStack/Handler/Resource") is None


def test_old_inline_manifest_metadata(engine: Engine) -> None:
    loaded = _load(INLINE)
    assert loaded.errors == [] and loaded.problems == []
    template = str(INLINE / "LegacyStack.template.json")
    findings = _lint(engine, loaded)
    ssm = _find(findings, "IAM110", template, 28)
    assert ssm.evidence.actions == ("ssm:GetParameter",)
    assert ssm.location.construct_path == "LegacyStack/ReportsRole/DefaultPolicy/Resource"
    wildcard = _find(findings, "IAM103", template, 31)
    assert wildcard.source is not None
    assert wildcard.source.construct_path == "LegacyStack/ReportsRole/DefaultPolicy/Resource"
    trust = [d for d in loaded.documents if d.kind is PolicyKind.TRUST]
    assert [d.loc.construct_path for d in trust] == ["LegacyStack/ReportsRole/Resource"]


# -- bad input ---------------------------------------------------------------------------


def test_broken_manifest_is_an_input_error_with_its_line() -> None:
    folder = BROKEN / "bad-manifest" / "cdk.out"
    loaded = _load(folder)
    assert loaded.documents == []  # the template is reachable only through the manifest
    (err,) = loaded.errors
    assert (err.file, err.line, err.column) == (str(folder / "manifest.json"), 8, 7)
    assert "expected a CDK cloud assembly manifest" in err.message
    result = CliRunner().invoke(cli, ["check", str(folder)])
    assert result.exit_code == 2 and "manifest.json:8:7: IAM001" in result.output


def test_missing_and_invalid_templates_do_not_stop_other_stacks(engine: Engine) -> None:
    folder = BROKEN / "missing-template" / "cdk.out"
    loaded = _load(folder)
    errors = {(e.file, e.line): e.message for e in loaded.errors}
    assert set(errors) == {(str(folder / "manifest.json"), 8), (str(folder / "TruncatedStack.template.json"), 8)}
    missing = errors[(str(folder / "manifest.json"), 8)]
    assert "GoneStack" in missing and "does not exist" in missing
    assert str(folder / "GoneStack.template.json") in missing
    assert "expected a CloudFormation template" in errors[(str(folder / "TruncatedStack.template.json"), 8)]
    secret = _find(_lint(engine, loaded), "IAM110", str(folder / "GoodStack.template.json"), 11)
    assert secret.location.construct_path == "GoodStack/ReaderRole/DefaultPolicy/Resource"


def test_manifest_shapes_that_are_not_assemblies(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text('{"version": "55.0.0", "artifacts": []}')
    (tmp_path / "cdk.out").write_text('{"version": "55.0.0"}')
    (err,) = load_cdk(str(tmp_path), InputOptions()).errors
    assert err.line == 1 and err.keys == ("artifacts",) and "needs an artifacts object" in err.message
    (err,) = load_cdk(str(tmp_path / "nothing-here.json"), InputOptions()).errors
    assert "expected a CDK cloud assembly" in err.message
    empty = tmp_path / "empty"
    empty.mkdir()
    (err,) = load_cdk(str(empty), InputOptions()).errors
    assert err.file == str(empty / "manifest.json") and "cannot read" in err.message


def _assembly(root: Path, artifacts: dict[str, Any]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "cdk.out").write_text('{"version": "55.0.0"}')
    (root / "manifest.json").write_text(json.dumps({"version": "55.0.0", "artifacts": artifacts}, indent=1))


def _stack(template: str) -> dict[str, Any]:
    return {"type": "aws:cloudformation:stack", "properties": {"templateFile": template}}


def _admin_template(cpath: str, extra: dict[str, Any] | None = None) -> str:
    resources: dict[str, Any] = {
        "AdminPolicy": {
            "Type": "AWS::IAM::ManagedPolicy",
            "Properties": {
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
                }
            },
            "Metadata": {"aws:cdk:path": cpath},
        }
    }
    resources.update(extra or {})
    return json.dumps({"Resources": resources}, indent=1)


def test_paths_escaping_the_assembly_are_refused(tmp_path: Path) -> None:
    (tmp_path / "outside.template.json").write_text(_admin_template("Outside/Resource"))
    (tmp_path / "outside.nested.template.json").write_text(_admin_template("Outside/Nested/Resource"))
    out = tmp_path / "app" / "cdk.out"
    nested_escape = {
        "Escape": {
            "Type": "AWS::CloudFormation::Stack",
            "Properties": {},
            "Metadata": {"aws:asset:path": "../../outside.nested.template.json"},
        }
    }
    _assembly(
        out,
        {
            "DotDot": _stack("../../outside.template.json"),
            "Absolute": _stack(str(tmp_path / "outside.template.json")),
            "Linked": _stack("Linked.template.json"),
            "Stage": {"type": "cdk:cloud-assembly", "properties": {"directoryName": "../.."}},
            "Inside": _stack("Inside.template.json"),
            "Aliased": _stack("Alias.template.json"),
        },
    )
    (out / "Linked.template.json").symlink_to(tmp_path / "outside.template.json")
    (out / "Inside.template.json").write_text(_admin_template("Inside/Resource", nested_escape))
    (out / "Alias.template.json").symlink_to(out / "Inside.template.json")  # inside: allowed, read once
    loaded = _load(out)
    assert {d.loc.construct_path for d in loaded.documents} == {"Inside/Resource"}
    assert len(loaded.documents) == 1
    messages = sorted(e.message for e in loaded.errors)
    assert len(messages) == 5
    assert sum("refusing to read outside it" in m for m in messages) == 4  # .., absolute, stage, nested
    assert sum("through a symbolic link" in m for m in messages) == 1
    nested_err = next(e for e in loaded.errors if "Escape" in e.message)
    assert nested_err.file == str(out / "Inside.template.json") and nested_err.line is not None


def test_file_names_that_are_folders_or_hold_nul_and_untyped_artifacts_are_input_errors(tmp_path: Path) -> None:
    out = tmp_path / "cdk.out"
    nested = {
        "Nested": {
            "Type": "AWS::CloudFormation::Stack",
            "Properties": {},
            "Metadata": {"aws:asset:path": "sub\0.nested.template.json"},
        }
    }
    _assembly(
        out,
        {
            "Folder": _stack("."),
            "Sub": _stack("sub"),
            "Nul": _stack("a\0b.json"),
            "Stage": {"type": "cdk:cloud-assembly", "properties": {"directoryName": "st\0"}},
            "Inside": _stack("Inside.template.json"),
            "Typed": {"type": 5, "properties": {"templateFile": "Inside.template.json"}},
            "Untyped": {"properties": {}},
        },
    )
    (out / "sub").mkdir()
    (out / "Inside.template.json").write_text(_admin_template("Inside/Resource", nested))
    loaded = _load(out)
    assert {d.loc.construct_path for d in loaded.documents} == {"Inside/Resource"}  # the rest still read
    messages = sorted(e.message for e in loaded.errors)
    assert sum("is a directory; expected a file" in m for m in messages) == 2
    assert sum("holds a NUL character" in m for m in messages) == 3
    assert sum("needs a type" in m for m in messages) == 2
    assert all(e.file for e in loaded.errors)


def test_a_stack_of_sam_resources_is_expanded_as_sam(tmp_path: Path, engine: Engine) -> None:
    out = tmp_path / "cdk.out"
    _assembly(out, {"Sam": _stack("Sam.template.json")})
    (out / "Sam.template.json").write_text(
        json.dumps(
            {
                "Transform": "AWS::Serverless-2016-10-31",
                "Resources": {
                    "Fn": {
                        "Type": "AWS::Serverless::Function",
                        "Properties": {
                            "Runtime": "python3.12",
                            "Handler": "a.b",
                            "InlineCode": "x",
                            "Policies": [{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}],
                        },
                        "Metadata": {"aws:cdk:path": "Sam/Fn/Resource"},
                    }
                },
            },
            indent=1,
        )
    )
    loaded = _load(out)
    assert not loaded.errors
    findings = _lint(engine, loaded)
    admin = [f for f in findings if f.rule == "IAM101"]
    assert admin and admin[0].location.file == str(out / "Sam.template.json")


def test_stage_cycles_are_refused(tmp_path: Path) -> None:
    out = tmp_path / "cdk.out"
    _assembly(
        out,
        {
            "Self": {"type": "cdk:cloud-assembly", "properties": {"directoryName": "."}},
            "Loop": {"type": "cdk:cloud-assembly", "properties": {"directoryName": "assembly-Loop"}},
            "App": _stack("App.template.json"),
        },
    )
    (out / "assembly-Loop").symlink_to(out)
    (out / "App.template.json").write_text(_admin_template("App/Admin/Resource"))
    loaded = _load(out)
    assert [d.loc.construct_path for d in loaded.documents] == ["App/Admin/Resource"]
    assert len(loaded.errors) == 2 and all("cycle" in e.message for e in loaded.errors)


def test_files_the_manifest_does_not_name_are_ignored(tmp_path: Path) -> None:
    out = tmp_path / "cdk.out"
    shutil.copytree(OUT, out)
    (out / "asset.0123abcd").mkdir()
    (out / "asset.0123abcd" / "Bundled.template.json").write_text(_admin_template("Asset/Resource"))
    (out / "Stray.template.json").write_text(_admin_template("Stray/Resource"))
    loaded = _load(out)
    assert loaded.errors == [] and len(loaded.documents) == 11
    assert not any(p in {"Asset/Resource", "Stray/Resource"} for _f, _n, p in _paths(loaded))


# -- walking -----------------------------------------------------------------------------


def test_walking_a_parent_loads_the_assembly_once() -> None:
    assert list(walk(str(OUT), InputOptions())) == [str(OUT)]
    walked = _load(CDK, exclude=("synthetic", "broken"))
    direct = _load(OUT)
    assert walked.errors == [] and walked.problems == []
    assert sorted((d.loc.file, d.loc.keys) for d in walked.documents) == sorted(
        (d.loc.file, d.loc.keys) for d in direct.documents
    )
    assert len(walked.documents) == 11  # not also loaded as loose templates


def test_walking_finds_assemblies_beside_other_inputs(tmp_path: Path, engine: Engine) -> None:
    shutil.copytree(OUT, tmp_path / "infra" / "cdk.out")
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "manifest.json").write_text('{"name": "site", "icons": []}')  # a web app manifest
    (tmp_path / "policy.json").write_text(
        json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    )
    found = list(walk(str(tmp_path), InputOptions()))
    assert found == [
        str(tmp_path / "policy.json"),
        str(tmp_path / "infra" / "cdk.out"),
        str(tmp_path / "web" / "manifest.json"),
    ]
    loaded = _load(tmp_path)
    assert loaded.errors == [] and len(loaded.documents) == 12
    assert loaded.skipped == [str(tmp_path / "web" / "manifest.json")]
    admin = {(f.location.file, f.location.construct_path) for f in _lint(engine, loaded) if f.rule == "IAM101"}
    nested = str(tmp_path / "infra" / "cdk.out" / "ServiceStackAdminNestedA024494B.nested.template.json")
    assert admin == {(str(tmp_path / "policy.json"), None), (nested, "ServiceStack/AdminNested/AdminRole/Resource")}
    # With --input-kind cdk only the assembly is read; other walked files are skipped.
    only = _load(tmp_path, kind="cdk")
    assert only.errors == [] and len(only.documents) == 11
    assert set(only.skipped) == {str(tmp_path / "policy.json"), str(tmp_path / "web" / "manifest.json")}


def test_excluding_the_manifest_skips_the_whole_assembly(tmp_path: Path) -> None:
    shutil.copytree(OUT, tmp_path / "cdk.out")
    assert list(walk(str(tmp_path), InputOptions(exclude=("cdk.out/manifest.json",)))) == []
    assert list(walk(str(tmp_path), InputOptions(exclude=("cdk.out",)))) == []


@pytest.mark.parametrize("name", ["manifest.json", "cdk.out"])
def test_an_old_assembly_without_marker_is_still_found(tmp_path: Path, name: str) -> None:
    out = tmp_path / "cdk.out"
    shutil.copytree(INLINE, out)
    (out / "cdk.out").unlink()
    found = list(walk(str(tmp_path), InputOptions()))
    assert found == [str(out)]
    path = out / name if name == "manifest.json" else out
    assert len(_load(path).documents) == 2


def test_a_stack_without_resources_is_not_an_error(tmp_path: Path) -> None:
    # CDK writes an empty stack (an integ test's DeployAssert) with only Parameters and Rules.
    out = tmp_path / "cdk.out"
    _assembly(
        out,
        {
            "Empty": _stack("Empty.template.json"),
            "App": _stack("App.template.json"),
            "Odd": _stack("Odd.template.json"),
        },
    )
    (out / "Empty.template.json").write_text('{"Parameters": {"BootstrapVersion": {"Type": "String"}}}')
    (out / "App.template.json").write_text(_admin_template("App/Admin/Resource"))
    (out / "Odd.template.json").write_text('{"Resources": []}')
    loaded = _load(out)
    assert [d.loc.construct_path for d in loaded.documents] == ["App/Admin/Resource"]
    (err,) = loaded.errors  # Resources present but not an object is still bad input
    assert err.file == str(out / "Odd.template.json") and "Resources section" in err.message
    assert loaded.files == 4


def test_nested_template_named_only_by_asset_metadata(tmp_path: Path) -> None:
    # No metadata file at all: the nested stack resource's aws:asset:path is the only pointer.
    out = tmp_path / "cdk.out"
    inner = {
        "InnerStack": {
            "Type": "AWS::CloudFormation::Stack",
            "Properties": {"TemplateURL": "unused"},
            "Metadata": {
                "aws:cdk:path": "App/Inner.NestedStack/Inner.NestedStackResource",
                "aws:asset:path": "AppInner0A1B2C3D.nested.template.json",
                "aws:asset:property": "TemplateURL",
            },
        }
    }
    _assembly(out, {"App": _stack("App.template.json")})
    (out / "App.template.json").write_text(_admin_template("App/Admin/Resource", inner))
    (out / "AppInner0A1B2C3D.nested.template.json").write_text(_admin_template("App/Inner/Admin/Resource"))
    loaded = _load(out)
    assert loaded.errors == []
    assert sorted((os.path.basename(f), p) for f, _n, p in _paths(loaded)) == [
        ("App.template.json", "App/Admin/Resource"),
        ("AppInner0A1B2C3D.nested.template.json", "App/Inner/Admin/Resource"),
    ]


def test_console_script_reads_an_assembly(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "iamlint"
    proc = subprocess.run(
        [str(script), "check", str(OUT), "--format", "json", "--select", "IAM110"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stderr
    found = {
        (f["location"]["file"], f["location"]["line"], f["location"]["construct_path"])
        for f in json.loads(proc.stdout)["findings"]
    }
    assert (WORKER, 31, "ProdStage/WorkerStack/WorkerRole/DefaultPolicy/Resource") in found
