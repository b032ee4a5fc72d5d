"""`iamlint audit --from`: snapshots and plain dumps analysed offline; output, exit status, errors.

fixtures/audit/snapshot.json was read from the moto organisation with every feature on
(`python fixtures/audit/moto_world.py --snapshot fixtures/audit/snapshot.json` regenerates it).
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import FIXTURES, ROOT

from iamlint.audit import render, snapshot
from iamlint.audit.analyse import AnalyseOptions, analyse
from iamlint.audit.clients import SetupError
from iamlint.audit.coverage import classify
from iamlint.audit.html import render_html_parts
from iamlint.audit.org import read_accounts_file
from iamlint.cli import cli
from iamlint.engine import Engine
from iamlint.loaders.auth_details import load_auth_details
from iamlint.reporters import ReportOptions, json_report
from iamlint.schemas import validate

SNAPSHOT = FIXTURES / "audit" / "snapshot.json"
DUMP = FIXTURES / "sources" / "auth_details" / "account.json"


def _audit(*args: str) -> Any:
    return CliRunner().invoke(cli, ["audit", *args])


def _key(f: dict[str, Any]) -> tuple[str, str, str]:
    return f["rule"], f["location"]["path"], f["message"]


def test_snapshot_json_is_checks_schema_and_adds_to_what_check_finds() -> None:
    result = _audit("--from", str(SNAPSHOT), "-f", "json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert validate("output", report) == []
    assert report["errors"] == [] and report["summary"]["files"] == 1
    checked = json.loads(CliRunner().invoke(cli, ["check", str(SNAPSHOT), "--format", "json"]).stdout)
    audited = {_key(f) for f in report["findings"]}
    assert {_key(f) for f in checked["findings"]} <= audited  # the dump part reads the same either way
    extra = {
        (f["source"]["kind"], f["source"]["name"])
        for f in report["findings"]
        if _key(f) not in {_key(g) for g in checked["findings"]}
    }
    assert {("bucket", "orders-receipts"), ("function", "orders"), ("queue", "orders")} <= extra
    fn_role = [f for f in report["findings"] if f["source"]["name"] == "orders-fn"]
    assert fn_role and all("function orders" in f["source"]["used_by"] for f in fn_role)
    web = [f for f in report["findings"] if f["source"]["name"] == "web-instance"]
    assert web and all("instance" in " ".join(f["source"]["used_by"]) for f in web)


def test_plain_authorization_details_dump() -> None:
    result = _audit("--from", str(DUMP), "-f", "json")
    report = json.loads(result.stdout)
    expected = json.loads(CliRunner().invoke(cli, ["check", str(DUMP), "--format", "json"]).stdout)
    assert sorted(map(_key, report["findings"])) == sorted(map(_key, expected["findings"]))
    assert report["findings"] and result.exit_code == expected_exit(expected)


def expected_exit(report: dict[str, Any]) -> int:
    return 2 if report["summary"]["errors"] else 1 if report["findings"] else 0


def test_all_versions_checks_non_default_versions() -> None:
    plain = json.loads(_audit("--from", str(SNAPSHOT), "-f", "json").stdout)
    every = json.loads(_audit("--from", str(SNAPSHOT), "-f", "json", "--all-versions").stdout)
    added = [f for f in every["findings"] if _key(f) not in {_key(g) for g in plain["findings"]}]
    assert added and all(f["source"]["via"] == "non-default version v1" for f in added)
    assert {f["rule"] for f in added} == {"IAM120"}  # v1 could replace the function's code
    assert "lambda:UpdateFunctionCode" in added[0]["message"]


def test_terminal_summary() -> None:
    result = _audit("--from", str(SNAPSHOT))
    assert result.exit_code == 1
    text = result.stdout
    assert "principals by worst severity: critical 2, high 5, medium 2, low 0, info 0, no findings 2" in text
    assert "role orders-fn (score 22: 1 high, 4 medium); used by function orders" in text
    assert "[critical] IAM101 managed-policy admin-all" in text
    assert "user alice: 2 of 4 granted services never used (ec2, lambda); 1 tracked action never used" in text
    assert "MANAGEMENT events only" in text and "Coverage: complete" in text
    assert "AWSServiceRoleForECS" not in text.split("riskiest principals:")[1].split("top findings")[0]


def _with_gap(tmp_path: Path) -> Path:
    data = json.loads(SNAPSHOT.read_text())
    data["iamlint"]["coverage"] = [
        {
            "account": "123456789012",
            "region": "eu-west-1",
            "operation": "lambda:ListFunctions",
            "kind": "access-denied",
            "message": "AccessDenied: not authorized",
        }
    ]
    path = tmp_path / "partial.json"
    path.write_text(json.dumps(data))
    return path


def test_gaps_saved_in_a_snapshot_fail_the_run_unless_partial_is_allowed(tmp_path: Path) -> None:
    partial = _with_gap(tmp_path)
    result = _audit("--from", str(partial), "-f", "json")
    assert result.exit_code == 2
    errors = json.loads(result.stdout)["errors"]
    assert [e["file"] for e in errors] == [str(partial)]
    assert "eu-west-1 lambda:ListFunctions: access-denied" in errors[0]["message"]
    assert _audit("--from", str(partial), "--allow-partial").exit_code == 1
    assert "Coverage: INCOMPLETE, 1 read failed" in _audit("--from", str(partial)).stdout
    assert _audit("--from", str(partial), "--allow-partial", "--fail-on", "critical", "--ignore", "IAM1").exit_code == 0


def test_unreadable_snapshots_are_input_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"UserDetailList": [}')
    other = tmp_path / "other.json"
    other.write_text('{"Statement": []}')
    result = _audit("--from", str(bad), "--from", str(other), "--from", str(SNAPSHOT), "-f", "json")
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert {e["file"] for e in report["errors"]} == {str(bad), str(other)}
    assert report["errors"][0]["line"] == 1
    assert any(f["location"]["file"] == str(SNAPSHOT) for f in report["findings"])  # the good one is still read


def test_wrong_types_in_the_iamlint_section_leave_out_that_part_only(tmp_path: Path) -> None:
    data = json.loads(SNAPSHOT.read_text())
    extras = data["iamlint"]
    principal = "arn:aws:iam::123456789012:role/r"
    extras["regions"] = 5
    extras["resource_policies"] = [
        {"service": "s3", "kind": "bucket", "name": "typed", "arn": 5, "policy": {"Statement": []}},
        {
            "service": "s3",
            "kind": "bucket",
            "name": "public",
            "arn": "arn:aws:s3:::public",
            "policy": {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::public/*"}
                ],
            },
        },
    ]
    extras["cloudtrail"] = {
        "days": 7,
        "events": 3,
        "principals": {principal: [{"source": "s3.amazonaws.com", "name": "GetObject", "count": "x"}], "other": None},
    }
    bad = tmp_path / "typed.json"
    bad.write_text(json.dumps(data, indent=1))
    result = _audit("--from", str(bad), "--from", str(SNAPSHOT), "-f", "json")
    assert result.exit_code == 2 and "Traceback" not in result.output
    report = json.loads(result.stdout)
    errors = {e["message"].split(":")[0]: e for e in report["errors"]}
    assert set(errors) == {
        "iamlint.regions",
        "iamlint.resource_policies[0].arn",
        "iamlint.cloudtrail.principals.arn",
        "iamlint.cloudtrail.principals.other",
    }
    assert all(e["file"] == str(bad) and e["line"] for e in report["errors"])
    assert "is left out of the analysis" in errors["iamlint.regions"]["message"]
    # The rest of that snapshot is analysed: the valid bucket policy, and every identity finding.
    mine = [f for f in report["findings"] if f["location"]["file"] == str(bad)]
    assert any(f["source"] and f["source"]["name"] == "public" for f in mine)
    assert not any(f["rule"] == "IAM003" for f in report["findings"])
    assert any(f["location"]["file"] == str(SNAPSHOT) for f in report["findings"])  # the other one too


def test_a_non_object_iamlint_section_is_an_input_error(tmp_path: Path) -> None:
    data = json.loads(SNAPSHOT.read_text())
    data["iamlint"] = [1, 2]
    bad = tmp_path / "list.json"
    bad.write_text(json.dumps(data))
    result = _audit("--from", str(bad), "-f", "json")
    report = json.loads(result.stdout)
    assert result.exit_code == 2 and report["errors"][0]["message"].startswith("iamlint: expected an object")
    assert report["findings"]  # the dump itself is still audited


def test_directory_of_snapshots_and_outputs(tmp_path: Path) -> None:
    folder = tmp_path / "org"
    folder.mkdir()
    data = json.loads(SNAPSHOT.read_text())
    member = copy.deepcopy(data)
    member["iamlint"]["account"] = {"id": "210987654321", "name": "member", "partition": "aws"}
    (folder / "123456789012.json").write_text(json.dumps(data))
    (folder / "210987654321.json").write_text(json.dumps(member))
    out_json, out_text, props = tmp_path / "r.json", tmp_path / "r.txt", tmp_path / "proposals"
    result = _audit(
        "--from", str(folder), "--output", f"json={out_json}", "--output", f"text={out_text}", "--proposals", str(props)
    )
    assert result.exit_code == 1, result.output
    assert "iamlint audit: 2 accounts" in result.stdout and out_text.read_text() == result.stdout
    assert validate("output", json.loads(out_json.read_text())) == []
    names = sorted(p.name for p in props.iterdir())
    assert "123456789012-role-orders-fn.json" in names and "210987654321-role-orders-fn.evidence.json" in names
    evidence = json.loads((props / "123456789012-role-orders-fn.evidence.json").read_text())
    assert evidence["removed_per_service"] == {"dynamodb": 1, "s3": 1}
    proposal = json.loads((props / "123456789012-role-orders-fn.json").read_text())
    assert proposal["Statement"] and "proposals in" in result.stderr


def test_usage_errors() -> None:
    assert _audit("--from", str(SNAPSHOT), "--org-role", "R").exit_code == 2
    assert _audit("--accounts", "x.txt").exit_code == 2
    bad = _audit("--resources", "s3,dynamodb", "--print-policy")
    assert bad.exit_code == 2 and "dynamodb" in bad.output
    assert _audit("--from", str(SNAPSHOT), "--output", "html=x").exit_code == 2


def test_setup_errors_exit_2(tmp_path: Path) -> None:
    env = {
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_ACCESS_KEY_ID": "",
        "AWS_SECRET_ACCESS_KEY": "",
    }
    result = CliRunner().invoke(cli, ["audit", "--profile", "no-such-profile"], env=env)
    assert result.exit_code == 2 and "no-such-profile" in result.stderr


def test_accounts_file(tmp_path: Path) -> None:
    good = tmp_path / "a.txt"
    good.write_text("# team accounts\n111122223333 prod\n444455556666,staging  # comment\n\n111122223333\n")
    assert [(t.account, t.name) for t in read_accounts_file(str(good))] == [
        ("111122223333", "prod"),
        ("444455556666", "staging"),
    ]
    bad = tmp_path / "b.txt"
    bad.write_text("111122223333\n12345\n")
    with pytest.raises(SetupError, match=r"b.txt:2: expected a 12-digit account id, found '12345'"):
        read_accounts_file(str(bad))


def test_save_one_file_or_a_directory(tmp_path: Path) -> None:
    data = json.loads(SNAPSHOT.read_text())
    one = snapshot.save(str(tmp_path / "one.json"), [("123456789012", "", data)])
    assert one[0].file == str(tmp_path / "one.json") and one[0].located.mark(("RoleDetailList", 0)) is not None
    many = snapshot.save(str(tmp_path / "org"), [("123456789012", "", data), ("210987654321", "", data)])
    assert [Path(s.file).name for s in many] == ["123456789012.json", "210987654321.json"]
    with pytest.raises(snapshot.SnapshotError, match="name a directory"):
        snapshot.save(str(tmp_path / "one.json"), [("1", "", data), ("2", "", data)])
    assert snapshot.account_of(json.loads(DUMP.read_text())) == "111122223333"


def test_analysis_is_the_same_in_memory_and_from_the_saved_file() -> None:
    saved, _ = snapshot.load([str(SNAPSHOT)], 10**8)
    data = json.loads(SNAPSHOT.read_text())
    memory = snapshot.in_memory(data, "123456789012", "")
    a, b = analyse(saved, AnalyseOptions()), analyse([memory], AnalyseOptions())
    # Messages of principal rules name the line when there is one ("at line 125", "at statement 0").
    assert sorted((f.rule, f.location.keys, f.evidence) for f in a.lint.findings) == sorted(
        (f.rule, f.location.keys, f.evidence) for f in b.lint.findings
    )
    assert all(f.location.file == "aws:123456789012" and f.location.line is None for f in b.lint.findings)


def test_dropping_the_dumps_and_writing_in_pieces_change_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    kept, _ = snapshot.load([str(SNAPSHOT)], 10**8)
    dropped, _ = snapshot.load([str(SNAPSHOT)], 10**8)
    a, b = analyse(kept, AnalyseOptions()), analyse(dropped, AnalyseOptions(release_dumps=True))
    assert a.lint.findings == b.lint.findings and a.accounts == b.accounts and a.gaps == b.gaps
    assert len(a.lint.findings) > 5 and any(p.workloads for p in b.accounts[0].principals)
    assert list(dropped[0].data) == ["iamlint"] and "RoleDetailList" in kept[0].data  # only what was asked
    assert b.lint.findings[0].location.line  # marks still come from the file
    monkeypatch.setattr(json_report, "_BATCH", 2)  # several pieces, and a last one that is short
    whole = json.dumps(render.audit_dict(a), separators=(",", ":")) + "\n"
    assert "".join(render.audit_json_parts(b)) == whole
    page = "".join(render_html_parts(b))
    rows = json.loads(page.split('id="iamlint-data">', 1)[1].split("</script>", 1)[0])
    assert len(rows["findings"]) == len(b.lint.findings) and len(rows["principals"]) == len(b.accounts[0].principals)


def test_classify() -> None:
    from botocore.exceptions import ClientError, EndpointConnectionError

    def err(code: str, status: int = 400, message: str = "m", retries: int = 0) -> ClientError:
        return ClientError(
            {
                "Error": {"Code": code, "Message": message},
                "ResponseMetadata": {"HTTPStatusCode": status, "RetryAttempts": retries},
            },
            "Op",
        )

    assert classify(err("AccessDenied"))[0] == "access-denied"
    assert classify(err("UnauthorizedOperation"))[0] == "access-denied"
    kind, message = classify(err("ThrottlingException", retries=9))
    assert kind == "throttled" and "after 10 attempts" in message
    assert classify(err("UnrecognizedClientException"))[0] == "region-disabled"
    assert classify(err("500", 500, "<!doctype html><html>"))[0] == "unsupported"
    assert classify(err("NoSuchEntity"))[0] == "error"
    assert classify(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"))[0] == "unreachable"


def test_console_script_reads_a_snapshot() -> None:
    exe = Path(sys.executable).parent / "iamlint"
    proc = subprocess.run(
        [str(exe), "audit", "--from", str(SNAPSHOT), "-f", "json"],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["summary"]["findings"] > 10


def test_an_interrupted_audit_stops_at_the_next_read() -> None:
    import threading

    from iamlint.audit.coverage import Recorder, Stopped

    stop = threading.Event()
    rec = Recorder("111122223333", stop)
    with rec.attempt("global", "iam:GetAccountAuthorizationDetails") as first:
        pass
    assert not first.failed
    stop.set()
    with pytest.raises(Stopped), rec.attempt("global", "iam:GetAccountAuthorizationDetails"):
        pytest.fail("the read must not start once the audit is interrupted")
    assert rec.gaps == []


def test_finding_text_is_json_dumps_of_finding_dict() -> None:
    # `spliced` writes each finding's text directly (`_FindingText`), caching its rule's and its
    # source's parts: the text must be json.dumps's byte for byte, whatever the strings hold
    # and whichever optional fields are empty.
    from iamlint.model import Evidence, Finding, Location, Severity, Source

    odd = 'q"uote \\ back\nline\ttab \x01 \x7f é \u2028 \U0001f600 \udcff'
    sources = [
        None,
        Source(kind="role", name=odd),
        Source(
            kind="managed-policy",
            name="P",
            arn="arn:aws:iam::1:policy/P",
            policy_name="arn:aws:iam::1:policy/P",
            via="x",
            condition="C",
            used_by=("role A", odd),
            attached_to=("role B",),
            logical_id="L",
            construct_path="a/b",
        ),
    ]
    locations = [
        Location("f.json"),
        Location(odd, 3, 7, ("Statement", 0, "Action", 2), "Logical", "Stack/Role"),
        Location("g.yaml", 0, 0, (), "", ""),
    ]
    evidences = [
        Evidence(),
        Evidence(actions=("s3:GetObject", odd), resources=("*",), conditions=("aws:SourceIp",), notes=(odd, "")),
    ]
    writer = json_report._FindingText()
    texts = 0
    for source in sources:
        for loc in locations:
            for evidence in evidences:
                for sid, index, error in ((None, None, False), (odd, 0, True), ("S", 12, False)):
                    f = Finding(
                        rule="IAM101",
                        name="n-" + odd[:3],
                        severity=Severity.HIGH,
                        category="c",
                        message=odd,
                        fix="fix " + odd,
                        location=loc,
                        statement_index=index,
                        statement_sid=sid,
                        source=source,
                        evidence=evidence,
                        is_error=error,
                    )
                    for _ in range(2):  # the second time from the caches
                        assert writer(f) == json.dumps(json_report.finding_dict(f), separators=(",", ":"))
                        texts += 1
    assert texts == 2 * 3 * 3 * 2 * 3


def test_check_json_in_pieces_is_the_whole_report(monkeypatch: pytest.MonkeyPatch) -> None:
    # `iamlint check --format json` writes its report in pieces: a dump's tens of thousands of
    # findings never become one string. The pieces must join to the one-string report.
    loaded = load_auth_details(snapshot.load([str(SNAPSHOT)], 10**8)[0][0].located)
    result = Engine().run(loaded.documents, loaded.problems, loaded.errors)
    assert len(result.findings) > 5
    options = ReportOptions(tool_version="t", catalog_version="c")
    whole = json.dumps(json_report.report_dict(result, options), separators=(",", ":")) + "\n"
    monkeypatch.setattr(json_report, "_BATCH", 2)
    pieces = list(json_report.render_parts(result, {}, options))
    assert len(pieces) > 3 and "".join(pieces) == whole
