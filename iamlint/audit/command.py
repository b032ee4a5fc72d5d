"""`iamlint audit`: read live AWS accounts (or saved snapshots), report findings, unused access
and coverage. Nothing is ever written to AWS: see `iamlint.audit.clients`.

Exit status: 0 no findings at or above --fail-on; 1 findings; 2 coverage incomplete (unless
--allow-partial), unreadable snapshot, setup or usage error, or an internal error; 130 on Ctrl-C.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable, Sequence
from typing import Any

import click

from iamlint.model import Severity

_SEVERITIES = [s.label for s in sorted(Severity, reverse=True)]
RESOURCE_SERVICES = ("s3", "sqs", "sns", "kms", "lambda", "secretsmanager", "ecr")  # iamlint.audit.resources.SERVICES
WORKLOAD_KINDS = ("lambda", "ec2", "ecs", "stepfunctions")  # iamlint.audit.workloads.KINDS


def _split(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(p.strip() for v in values for p in v.split(",") if p.strip()))


def _names(value: str, known: tuple[str, ...], option: str) -> tuple[str, ...]:
    """A comma-separated choice of `known`, or all, or none."""
    names = _split([value.lower()])
    if names == ("all",):
        return known
    if names in (("none",), ()):
        return ()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise click.BadParameter(
            f"unknown name {unknown[0]!r}; expected some of {', '.join(known)}, all or none", param_hint=option
        )
    return names


class _Bar:
    """A progress bar on standard error, fed from the worker threads."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Any = None
        self.lock = threading.Lock()

    def start(self, total: int) -> None:
        if self.enabled:
            self.bar = click.progressbar(
                length=total, label="Reading AWS", file=sys.stderr, item_show_func=lambda item: item, show_pos=True
            )
            self.bar.__enter__()

    def step(self, what: str) -> None:
        with self.lock:
            if self.bar is not None:
                self.bar.update(1, what)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


@click.command("audit")
@click.option(
    "--from",
    "from_paths",
    multiple=True,
    metavar="PATH",
    help="Analyse saved snapshots (files or directories, or plain authorization-details dumps) instead of reading AWS.",
)
@click.option("--profile", help="AWS profile for the caller's credentials.")
@click.option(
    "--region",
    "regions",
    multiple=True,
    metavar="REGION",
    help="Regions to read workloads and resource policies in (repeatable or comma-separated; "
    "default: the profile's region).",
)
@click.option("--all-regions", is_flag=True, help="Every region enabled in each account (ec2:DescribeRegions).")
@click.option("--endpoint-url", metavar="URL", help="Send every call to this endpoint (emulators such as moto).")
@click.option(
    "--org-role", metavar="NAME", help="Assume this role in every account of the Organization (or of --accounts)."
)
@click.option(
    "--accounts",
    "accounts_file",
    metavar="FILE",
    help="With --org-role: the accounts to read, one 12-digit id per line (instead of ListAccounts).",
)
@click.option(
    "--workers", type=click.IntRange(1, 64), default=8, show_default=True, help="Accounts read at the same time."
)
@click.option(
    "--max-attempts",
    type=click.IntRange(1, 50),
    default=10,
    show_default=True,
    help="Attempts per call when AWS throttles (adaptive retry mode).",
)
@click.option(
    "--workloads",
    "workloads_text",
    default="lambda,ec2",
    show_default=True,
    metavar="KINDS",
    help="Which workloads run with which role: some of lambda,ec2,ecs,stepfunctions, or all, or none "
    "(ecs and stepfunctions need permissions beyond docs/auditor-policy.json: --print-policy).",
)
@click.option(
    "--resources",
    "resources_text",
    default="none",
    show_default=True,
    metavar="SERVICES",
    help="Resource policies to read: some of s3,sqs,sns,kms,lambda,secretsmanager,ecr, or all, or none "
    "(each needs permissions beyond docs/auditor-policy.json: --print-policy).",
)
@click.option(
    "--access-advisor/--no-access-advisor",
    default=False,
    show_default=True,
    help="Ask IAM Access Advisor which granted services and actions were never used (needs "
    "iam:GenerateServiceLastAccessedDetails on every user and role: --print-policy).",
)
@click.option(
    "--cloudtrail-lookup",
    "cloudtrail_days",
    type=click.IntRange(1, 90),
    metavar="DAYS",
    help="Also count calls per principal from CloudTrail's event history (MANAGEMENT events only).",
)
@click.option(
    "--cloudtrail-max-events",
    type=click.IntRange(1),
    default=50_000,
    show_default=True,
    help="Stop reading the event history of a region after this many events (reported as a gap).",
)
@click.option(
    "--all-versions",
    is_flag=True,
    help="Also check non-default versions of customer managed policies (any can be made default).",
)
@click.option(
    "--save",
    "save_path",
    metavar="PATH",
    help="Write the snapshot (a file; a directory of <account>.json files for several accounts).",
)
@click.option("--html", "html_path", metavar="FILE", help="Write a self-contained HTML report.")
@click.option(
    "--proposals",
    "proposals_dir",
    metavar="DIR",
    help="Write a least-privilege proposal without the unused access for each principal that has some.",
)
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Standard output: the summary, or JSON in the schema of `iamlint check --format json`.",
)
@click.option("--output", "outputs", multiple=True, metavar="FORMAT=PATH", help="Also write text or json to PATH.")
@click.option("--select", multiple=True, metavar="IDS", help="Run only these rules (ids or prefixes).")
@click.option("--ignore", multiple=True, metavar="IDS", help="Skip these rules (ids or prefixes).")
@click.option(
    "--fail-on",
    type=click.Choice(_SEVERITIES),
    default="low",
    show_default=True,
    help="Exit 1 when a finding is at or above this severity.",
)
@click.option(
    "--allow-partial", is_flag=True, help="Do not exit 2 because some reads failed (they are still reported)."
)
@click.option(
    "--top",
    type=click.IntRange(1, 1000),
    default=5,
    show_default=True,
    help="Principals and findings listed per account in the summary.",
)
@click.option(
    "--max-file-size",
    type=int,
    default=500 * 1024 * 1024,
    show_default=True,
    help="Refuse snapshot files larger than this many bytes (--from).",
)
@click.option("--progress/--no-progress", default=None, help="Progress bar on standard error (default: on a terminal).")
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(0, 64),
    default=0,
    show_default=True,
    help="Worker processes checking accounts (0: one per available core).",
)
@click.option(
    "--print-policy",
    is_flag=True,
    help="Print the IAM policy these options need (with --org-role NAME, for that role) and exit.",
)
def audit_command(**kw: Any) -> None:
    """Audit live AWS accounts, read-only: findings, unused access, coverage.

    Every call is a read, checked against an allowlist before it is sent. What could not be
    read (access denied, throttled past the retries, region not enabled) is listed under
    Coverage and makes the exit status 2 unless --allow-partial. Exit 0: no findings at or
    above --fail-on; 1: findings; 2: incomplete coverage, unreadable snapshot or setup error.
    """
    from iamlint.audit.clients import ReadOnlyViolation, SetupError  # noqa: PLC0415
    from iamlint.audit.snapshot import SnapshotError  # noqa: PLC0415
    from iamlint.files import WriteError  # noqa: PLC0415

    try:
        code = _run(**kw)
    except (SetupError, SnapshotError, WriteError) as exc:
        click.echo(f"error: {exc}", err=True)
        code = 2
    except ReadOnlyViolation as exc:
        click.echo(f"iamlint bug, stopped before the call was sent: {exc}", err=True)
        code = 2
    except OSError as exc:
        click.echo(f"error: {exc.filename or ''}: {exc.strerror or exc}", err=True)
        code = 2
    sys.exit(code)


def _outputs(values: Sequence[str]) -> list[tuple[str, str]]:
    out = []
    for item in values:
        fmt, sep, path = item.partition("=")
        if not sep or not path or fmt not in ("text", "json"):
            raise click.BadParameter(f"expected text=PATH or json=PATH, found {item!r}", param_hint="--output")
        out.append((fmt, path))
    return out


def _run(
    from_paths: tuple[str, ...],
    profile: str | None,
    regions: tuple[str, ...],
    all_regions: bool,
    endpoint_url: str | None,
    org_role: str | None,
    accounts_file: str | None,
    workers: int,
    max_attempts: int,
    workloads_text: str,
    resources_text: str,
    access_advisor: bool,
    cloudtrail_days: int | None,
    cloudtrail_max_events: int,
    all_versions: bool,
    save_path: str | None,
    html_path: str | None,
    proposals_dir: str | None,
    fmt: str,
    outputs: tuple[str, ...],
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    fail_on: str,
    allow_partial: bool,
    top: int,
    max_file_size: int,
    progress: bool | None,
    print_policy: bool,
    jobs: int,
) -> int:
    from iamlint.audit import snapshot  # noqa: PLC0415
    from iamlint.audit.analyse import AnalyseOptions, analyse  # noqa: PLC0415
    from iamlint.engine import LintConfig  # noqa: PLC0415

    extra = _outputs(outputs)
    kinds = _names(workloads_text, WORKLOAD_KINDS, "--workloads")
    services = _names(resources_text, RESOURCE_SERVICES, "--resources")
    if print_policy:
        import json  # noqa: PLC0415

        from iamlint.audit.permissions import auditor_policy, features  # noqa: PLC0415

        wanted = features(
            workloads=kinds, resources=services, access_advisor=access_advisor, org=True, regions=True, cloudtrail=True
        )
        click.echo(json.dumps(auditor_policy(wanted, org_role or "iamlint-audit"), indent=2))
        return 0
    if accounts_file and not org_role:
        raise click.UsageError("--accounts needs --org-role: the role to assume in those accounts")
    live_flags = {
        "--profile": profile,
        "--region": regions,
        "--endpoint-url": endpoint_url,
        "--org-role": org_role,
        "--all-regions": all_regions,
        "--cloudtrail-lookup": cloudtrail_days,
        "--save": save_path,
    }
    if from_paths and any(live_flags.values()):
        used = next(k for k, v in live_flags.items() if v)
        raise click.UsageError(f"--from reads saved snapshots; {used} only applies when reading AWS")
    api_calls = None
    if from_paths:
        snapshots, errors = snapshot.load(from_paths, max_file_size)
    else:
        from iamlint.audit.collect import CollectOptions  # noqa: PLC0415
        from iamlint.audit.org import LiveSettings, run_live  # noqa: PLC0415

        region_list = _split(regions)
        options = CollectOptions(
            regions=region_list,
            all_regions=all_regions,
            workloads=kinds,
            resources=services,
            access_advisor=access_advisor,
            cloudtrail_days=cloudtrail_days or 0,
            cloudtrail_max_events=cloudtrail_max_events,
        )
        settings = LiveSettings(
            profile=profile,
            region=region_list[0] if region_list else None,
            endpoint_url=endpoint_url,
            org_role=org_role,
            accounts_file=accounts_file,
            workers=workers,
            max_attempts=max_attempts,
            options=options,
        )
        bar = _Bar(sys.stderr.isatty() if progress is None else progress)
        try:
            collected, base = run_live(settings, bar.start, bar.step)
        finally:
            bar.close()
        api_calls = base.log.total
        errors = []
        if save_path:
            snapshots = snapshot.save(save_path, collected)
            click.echo(f"snapshot saved: {save_path}", err=True)
        else:
            snapshots = [snapshot.in_memory(data, account, name) for account, name, data in collected]
        del collected  # the snapshots hold their own copy: keep one, not two, while checking
    lint = LintConfig(select=_split(select), ignore=_split(ignore), fail_on=Severity.parse(fail_on))
    from iamlint.runner import default_jobs  # noqa: PLC0415

    result = analyse(
        snapshots,
        AnalyseOptions(lint=lint, all_versions=all_versions, proposals=proposals_dir is not None, release_dumps=True),
        errors,
        jobs=jobs or default_jobs(),
    )
    # The findings are located: the snapshots' text and marks (the size of the dump) are no
    # longer needed, and the reports are written in the memory they held.
    del snapshots
    _write_reports(result, fmt, extra, html_path, proposals_dir, top, api_calls)
    return result.exit_code(Severity.parse(fail_on), allow_partial)


def _write_reports(
    result: Any,
    fmt: str,
    extra: list[tuple[str, str]],
    html_path: str | None,
    proposals_dir: str | None,
    top: int,
    api_calls: int | None,
) -> None:
    from iamlint.audit.render import audit_json_parts, proposal_files  # noqa: PLC0415
    from iamlint.audit.text import render as render_text  # noqa: PLC0415
    from iamlint.files import write_atomic  # noqa: PLC0415

    # JSON and HTML are written in pieces: the whole text of a large account is tens of megabytes.
    def text_of(kind: str) -> Iterable[str]:
        return [render_text(result, top=top, api_calls=api_calls)] if kind == "text" else audit_json_parts(result)

    for kind, path in extra:
        write_atomic(path, text_of(kind))
    if html_path:
        from iamlint.audit.html import render_html_parts  # noqa: PLC0415

        write_atomic(html_path, render_html_parts(result, api_calls=api_calls))
        click.echo(f"HTML report: {html_path}", err=True)
    if proposals_dir:
        import os  # noqa: PLC0415

        files = proposal_files(result)
        os.makedirs(proposals_dir, exist_ok=True)
        for name, text in files:
            write_atomic(os.path.join(proposals_dir, name), text)
        click.echo(f"{len(files) // 2} proposals in {proposals_dir}", err=True)
    for part in text_of(fmt):
        click.echo(part, nl=False)
