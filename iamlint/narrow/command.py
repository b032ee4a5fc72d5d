"""`iamlint narrow`: propose a least-privilege policy for one principal from observed calls.

Reads the principal's current policies from a template, dump or policy file, the calls it
made from CloudTrail logs or an iamlint evidence file, and prints the proposal with its
evidence. Nothing is written unless `--apply` is given.
"""

from __future__ import annotations

import collections
import json
import sys
from collections.abc import Sequence
from typing import Any

import click

from iamlint.model import PolicyDocument


def _select(documents: Sequence[PolicyDocument], function: str | None, role: str | None) -> list[PolicyDocument]:
    """The identity documents of the principal the user named (a function's role, or a role)."""
    if function is None and role is None:
        return [d for d in documents if d.kind.value in ("identity", "unknown")]
    out = []
    for doc in documents:
        src = doc.source
        if src is None or doc.kind.value not in ("identity", "unknown"):
            continue
        if role is not None and (src.name == role or src.logical_id == role):
            out.append(doc)
        elif function is not None and any(u.split(" ", 1)[-1] == function for u in src.used_by):
            out.append(doc)
    return out


def _render(document: dict[str, Any], fmt: str) -> str:
    if fmt == "yaml":
        import yaml  # noqa: PLC0415

        return str(yaml.safe_dump(document, sort_keys=False))
    return json.dumps(document, indent=2) + "\n"


@click.command("narrow")
@click.argument("target")
@click.option("--function", metavar="LOGICAL_ID", help="The function (SAM or CloudFormation) whose role to narrow.")
@click.option("--role", metavar="LOGICAL_ID_OR_NAME", help="The role whose policies to narrow.")
@click.option("--cloudtrail", multiple=True, metavar="PATH",
              help="CloudTrail logs: files (.json, .json.gz, JSON lines, Lake exports) or folders.")
@click.option("--evidence", "evidence_files", multiple=True, metavar="FILE", help="Calls recorded by `iamlint record`.")
@click.option("--role-arn", help="Keep only calls made with this role (ARN or name).")
@click.option("--session", help="Keep only calls from this assumed-role session (a Lambda function's name).")
@click.option("--user", help="Keep only calls made by this IAM user (ARN or name).")
@click.option("--generalize", type=click.Choice(["none", "prefix", "resource"]), default="none", show_default=True,
              help="Merge observed S3 object keys into a common prefix (prefix) or the whole bucket (resource).")
@click.option("--workload", type=click.Choice(["auto", "lambda", "none"]), default="auto", show_default=True,
              help="Keep what this kind of workload does unseen by CloudTrail (Lambda's log writes).")
@click.option("-f", "--format", "fmt", type=click.Choice(["json", "yaml"]), default="json", show_default=True)
@click.option("--explain", is_flag=True, help="Print the evidence for each action: count, first and last seen, example.")
@click.option("--parameter", "parameters", multiple=True, metavar="NAME=VALUE", help="CloudFormation parameter value.")
def narrow_command(target: str, function: str | None, role: str | None, cloudtrail: tuple[str, ...],
                   evidence_files: tuple[str, ...], role_arn: str | None, session: str | None, user: str | None,
                   generalize: str, workload: str, fmt: str, explain: bool, parameters: tuple[str, ...]) -> None:
    """Propose the narrowest policy that keeps every observed call of a principal working."""
    from iamlint.catalog import get_catalog  # noqa: PLC0415
    from iamlint.loaders.inputs import InputOptions, load_paths  # noqa: PLC0415
    from iamlint.narrow.calls import Call, matches_principal  # noqa: PLC0415
    from iamlint.narrow.evidence import read_cloudtrail, read_evidence_file  # noqa: PLC0415
    from iamlint.narrow.narrower import NarrowingError, narrow  # noqa: PLC0415

    if not cloudtrail and not evidence_files:
        raise click.UsageError("give the observed calls: --cloudtrail PATH or --evidence FILE")

    calls: list[Call] = []
    problems = 0
    sources = [read_cloudtrail(list(cloudtrail))] if cloudtrail else []
    sources += [read_evidence_file(f) for f in evidence_files]
    for source in sources:
        for item in source:
            if not isinstance(item, Call):
                problems += 1
                click.echo(f"warning: {item}", err=True)
            elif matches_principal(item, role_arn=role_arn, session=session, user=user):
                calls.append(item)
    params = dict(p.split("=", 1) for p in parameters if "=" in p)
    # A template's ARNs hold <AWS::Region> and <AWS::AccountId> placeholders; the calls say
    # where the stack really runs, so unless told otherwise resolve them from there.
    for key, values in (("AWS::Region", [c.region for c in calls]), ("AWS::AccountId", [c.account for c in calls])):
        seen = collections.Counter(v for v in values if v)
        if key not in params and seen:
            params[key] = seen.most_common(1)[0][0]
    loaded = load_paths([target], InputOptions(parameters=params))
    if loaded.errors:
        for error in loaded.errors:
            click.echo(f"error: {error.render()}", err=True)
        sys.exit(2)
    original = _select(loaded.documents, function, role)
    if not original:
        what = f"function {function}" if function else f"role {role}" if role else target
        raise click.UsageError(f"no identity policy found for {what} in {target}")
    kind = workload if workload != "auto" else ("lambda" if function else "none")
    try:
        proposal = narrow(original, calls, get_catalog(), generalize=generalize,
                          workload=None if kind == "none" else kind)
    except NarrowingError as exc:
        click.echo(f"iamlint bug: the proposal failed its own proof ({exc}); please report it", err=True)
        sys.exit(2)

    click.echo(_render(proposal.document, fmt), nl=False)
    err = sys.stderr
    removed = sum(proposal.removed.values())
    services = ", ".join(f"{svc} {n}" for svc, n in sorted(proposal.removed.items(), key=lambda kv: -kv[1])[:8])
    print(f"\n{len(calls)} calls observed; proposal keeps {proposal.kept_actions} of {proposal.original_actions} "
          f"granted actions, removes {removed}" + (f" ({services})" if services else ""), file=err)
    print("proved: every observed call is allowed, and the proposal grants nothing the current policy does not",
          file=err)
    for call, actions in proposal.denied:
        need = ", ".join(actions) or call.action_guess
        print(f"denied: {call.operation} at {call.time} would need {need} (not added)", file=err)
    for call, reason in proposal.unmapped:
        print(f"unmapped: {call.event_source} {call.operation}: {reason}", file=err)
    for ev in proposal.not_granted:
        print(f"not granted now: {ev.action} on {ev.resource} was observed but the current policy "
              "does not allow it (not added)", file=err)
    if problems:
        print(f"{problems} evidence records could not be read (see warnings above)", file=err)
    if explain:
        print("\naction / resource / calls / first seen / last seen / basis", file=err)
        for ev in proposal.evidence:
            print(f"  {ev.action}  {ev.resource}  {ev.count}  {ev.first or '-'}  {ev.last or '-'}  "
                  f"{ev.basis if ev.basis != 'observed' else 'observed: ' + ev.example}", file=err)
