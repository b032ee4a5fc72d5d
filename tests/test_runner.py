"""The runner: a large run split over forked workers gives the result of one process, and what the
parent loads before it forks (`iamlint.loaders.inputs.preload`) changes no result."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from conftest import FIXTURES, ROOT

from iamlint.engine import LintConfig
from iamlint.loaders.inputs import InputOptions, preload
from iamlint.runner import PARALLEL_MIN_FILES, _batches, check_paths

SAM = FIXTURES / "sources" / "sam"
CFN = FIXTURES / "sources" / "cfn"


def _mixed_folder(root: Path) -> Path:
    """More SAM and CloudFormation templates than the parallel threshold, copied from fixtures,
    and a CDK assembly (an input that is a folder)."""
    sources = sorted(
        p
        for folder in (SAM, CFN)
        for p in folder.iterdir()
        if p.suffix in (".yaml", ".json") and not p.name.endswith(".golden.json")
    )
    copies = 0
    while copies < PARALLEL_MIN_FILES + 8:
        for src in sources:
            target = root / f"copy{copies // len(sources)}" / src.name
            target.parent.mkdir(exist_ok=True)
            shutil.copy(src, target)
            copies += 1
    shutil.copytree(FIXTURES / "integration" / "cdk" / "cdk.out", root / "app" / "cdk.out")
    return root


def _as_rows(findings: tuple[object, ...]) -> list[tuple[object, ...]]:
    return [
        (f.rule, f.location.file, f.location.line, f.location.column, f.message)  # type: ignore[attr-defined]
        for f in findings
    ]


def test_workers_find_what_one_process_finds(tmp_path: Path) -> None:
    # Where fork is missing, check_paths runs one process for jobs=2 as well, and the
    # comparison still holds; on Linux (CI) it compares the worker pool with one process.
    folder = str(_mixed_folder(tmp_path))
    one, _ = check_paths([folder], InputOptions(), LintConfig(), jobs=1)
    many, _ = check_paths([folder], InputOptions(), LintConfig(), jobs=2)
    assert one.files >= PARALLEL_MIN_FILES and one.documents > 100
    assert len(one.findings) > 100 and any(f.rule == "IAM001" for f in one.findings)  # invalid fixtures too
    assert any(f.location.construct_path for f in one.findings)  # the assembly's stacks
    assert _as_rows(many.findings) == _as_rows(one.findings)
    assert (many.files, many.documents) == (one.files, one.documents)


def test_batches_hold_every_file_once_with_about_the_same_bytes(tmp_path: Path) -> None:
    sizes = [5000, 4000, 3000, 3000, 2000, 1000, 1000, 500, 100, 10]
    inputs = []
    for i, size in enumerate(sizes):
        path = tmp_path / f"t{i}.yaml"
        path.write_bytes(b"x" * size)
        inputs.append((str(path), False))
    inputs.append((str(tmp_path / "missing.yaml"), True))  # unreadable: 0 bytes, still checked
    batches = _batches(inputs, 4)
    assert sorted(task for batch in batches for task in batch) == sorted(inputs)
    totals = [sum(os.path.getsize(p) for p, _ in batch if os.path.exists(p)) for batch in batches]
    assert sorted(totals) == [4610, 5000, 5000, 5000], totals  # dealt largest first


def _fresh(code: str) -> list[str]:
    """Heavy modules imported after `code` runs in a new interpreter."""
    probe = (
        "\nimport sys\nprint(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'samtranslator', 'boto3', 'jsonschema'}), 'iamlint.managed' in sys.modules and "
        "sys.modules['iamlint.managed']._snapshot.cache_info().currsize == 1)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code + probe],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_preload_readies_what_the_inputs_need(tmp_path: Path) -> None:
    inline = tmp_path / "inline.yaml"
    inline.write_text("Resources:\n  Role:\n    Type: AWS::IAM::Role\n    Properties:\n      Policies: []\n")
    attached = tmp_path / "attached.yaml"
    attached.write_text(
        "Resources:\n  Role:\n    Type: AWS::IAM::Role\n    Properties:\n      ManagedPolicyArns:\n"
        "        - arn:aws:iam::aws:policy/ReadOnlyAccess\n"
    )
    mention = tmp_path / "mention.yaml"  # CloudFormation that names SAM, not a SAM template
    mention.write_text(
        "Description: 'Transform: AWS::Serverless-2016-10-31 makes a SAM template'\nResources:\n"
        "  Fn:\n    Type: AWS::Serverless::Function\n"
    )
    call = "from iamlint.loaders.inputs import InputOptions, preload\npreload([({!r}, False)], InputOptions({}))"
    sam = str(SAM / "orders.yaml")
    assert _fresh(call.format(sam, "")) == ["['samtranslator']", "True"]
    assert _fresh(call.format(str(inline), "")) == ["[]", "False"]
    assert _fresh(call.format(str(mention), "")) == ["[]", "False"]
    assert _fresh(call.format(str(attached), "")) == ["[]", "True"]
    assert _fresh(call.format(str(inline), "kind='sam'")) == ["['samtranslator']", "True"]
    assert _fresh(call.format(sam, "kind='cloudformation'")) == ["[]", "True"]  # it attaches one by ARN
    assert _fresh(call.format(str(attached), "kind='policy'")) == ["[]", "False"]


def test_preload_neither_blocks_on_nor_reads_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "template.yaml"
    os.mkfifo(fifo)
    done = threading.Event()
    worker = threading.Thread(
        target=lambda: (preload([(str(fifo), True), ("-", True)], InputOptions()), done.set()), daemon=True
    )
    worker.start()
    worker.join(timeout=10)
    assert done.is_set()


def test_a_parallel_cli_run_reports_like_a_single_process_one(tmp_path: Path) -> None:
    folder = str(_mixed_folder(tmp_path))
    outputs = []
    for jobs in ("1", "2"):
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                "from iamlint.cli import main; main()",
                "check",
                folder,
                "--format",
                "json",
                "-j",
                jobs,
            ],
            check=False,
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert proc.returncode == 2, proc.stderr  # the invalid fixtures are input errors
        outputs.append(json.loads(proc.stdout))
    assert outputs[0] == outputs[1] and len(outputs[0]["findings"]) > 100


def test_preload_runs_the_capacity_provider_schemas_only_for_templates_that_use_them(tmp_path: Path) -> None:
    capacity = tmp_path / "capacity.yaml"
    capacity.write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
        "    Properties:\n      Runtime: python3.12\n      Handler: a.b\n      CodeUri: .\n"
        "      CapacityProviderConfig:\n        Arn: arn:aws:lambda:us-east-1:111122223333:capacity-provider:x\n"
    )
    module = "samtranslator.internal.schema_source.aws_serverless_capacity_provider"
    probe = (
        f"\nimport sys, types\nm = sys.modules.get({module!r})\n"
        "print('ran' if m is not None and type(m).__getattribute__ is types.ModuleType.__getattribute__ else 'deferred')\n"
    )
    call = "from iamlint.loaders.inputs import InputOptions, preload\npreload([({!r}, False)], InputOptions())"
    outputs = []
    for path in (capacity, SAM / "orders.yaml"):
        proc = subprocess.run(
            [sys.executable, "-c", call.format(str(path)) + probe],
            check=False,
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert proc.returncode == 0, proc.stderr
        outputs.append(proc.stdout.strip())
    assert outputs == ["ran", "deferred"]
