"""`iamlint narrow`: propose a least-privilege policy for one principal from observed calls.

Reads the principal's current policies from a template, dump or policy file, the calls it
made from CloudTrail logs or an iamlint evidence file, and prints the proposal with its
evidence. Nothing is written unless `--apply` is given.
"""

from __future__ import annotations

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
        is_role = role is not None and role in (src.name, src.logical_id)
        used_by_function = function is not None and any(u.split(" ", 1)[-1] == function for u in src.used_by)
        if is_role or used_by_function:
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
@click.option(
    "--cloudtrail",
    multiple=True,
    metavar="PATH",
    help="CloudTrail logs: files (.json, .json.gz, JSON lines, Lake exports) or folders.",
)
@click.option("--evidence", "evidence_files", multiple=True, metavar="FILE", help="Calls recorded by `iamlint record`.")
@click.option("--role-arn", help="Keep only calls made with this role (ARN or name).")
@click.option("--session", help="Keep only calls from this assumed-role session (a Lambda function's name).")
@click.option("--user", help="Keep only calls made by this IAM user (ARN or name).")
@click.option(
    "--generalize",
    type=click.Choice(["none", "prefix", "resource"]),
    default="none",
    show_default=True,
    help="Merge observed S3 object keys into a common prefix (prefix) or the whole bucket (resource).",
)
@click.option(
    "--workload",
    type=click.Choice(["auto", "lambda", "none"]),
    default="auto",
    show_default=True,
    help="Keep what this kind of workload does unseen by CloudTrail (Lambda's log writes).",
)
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(["json", "yaml"]),
    default="json",
    show_default=True,
    help="Standard output: the proposed policy document (with --from-code and no --function, "
    "one per function, by name).",
)
@click.option(
    "--all-data-events",
    is_flag=True,
    help="The trail records every data event (all buckets, tables, functions..., reads and writes): "
    "a data-event grant no call used is removed, not kept as unobservable.",
)
@click.option(
    "--explain", is_flag=True, help="Print the evidence for each action: count, first and last seen, example."
)
@click.option("--parameter", "parameters", multiple=True, metavar="NAME=VALUE", help="CloudFormation parameter value.")
@click.option(
    "--from-code",
    is_flag=True,
    help="Derive the calls from each function's handler code (static analysis of CodeUri + Handler); "
    "one proposal per function unless --function is given.",
)
@click.option(
    "--diff",
    "show_diff",
    is_flag=True,
    help="Print a unified diff of the YAML template with the principal's Policies replaced by the proposal.",
)
@click.option(
    "--apply",
    "apply",
    is_flag=True,
    help="Write that patch to the template (atomically; nothing else in the file changes).",
)
def narrow_command(
    target: str,
    function: str | None,
    role: str | None,
    cloudtrail: tuple[str, ...],
    evidence_files: tuple[str, ...],
    role_arn: str | None,
    session: str | None,
    user: str | None,
    generalize: str,
    workload: str,
    fmt: str,
    explain: bool,
    parameters: tuple[str, ...],
    from_code: bool = False,
    show_diff: bool = False,
    apply: bool = False,
    all_data_events: bool = False,
) -> None:
    """Propose the narrowest policy that keeps every observed call of a principal working."""
    from iamlint.catalog import get_catalog  # noqa: PLC0415
    from iamlint.loaders.inputs import InputOptions, load_paths  # noqa: PLC0415
    from iamlint.narrow.calls import Call, matches_principal  # noqa: PLC0415
    from iamlint.narrow.evidence import read_cloudtrail, read_evidence_file  # noqa: PLC0415
    from iamlint.narrow.narrower import NarrowingError, narrow  # noqa: PLC0415
    from iamlint.reporters.text import printable  # noqa: PLC0415

    if not cloudtrail and not evidence_files and not from_code:
        raise click.UsageError("give the observed calls: --cloudtrail PATH or --evidence FILE (or --from-code)")
    if from_code and (cloudtrail or evidence_files) and function is None:
        raise click.UsageError("--from-code with observed calls needs --function: those calls are one principal's")
    if (show_diff or apply) and (from_code or (function is None and role is None)):
        raise click.UsageError(
            "--diff and --apply patch one principal's policies from observed calls: "
            "name it with --function or --role, without --from-code"
        )

    calls: list[Call] = []
    problems = 0
    sources = [read_cloudtrail(list(cloudtrail))] if cloudtrail else []
    sources += [read_evidence_file(f) for f in evidence_files]
    for source in sources:
        for item in source:
            if not isinstance(item, Call):
                if item.index is None:  # the file or folder itself cannot be read
                    click.echo(f"error: {printable(str(item))}", err=True)
                    sys.exit(2)  # a proposal from part of the evidence would take away what the rest used
                problems += 1
                click.echo(f"warning: {printable(str(item))}", err=True)  # file names and log text
            elif matches_principal(item, role_arn=role_arn, session=session, user=user):
                calls.append(item)
    if not calls and not from_code:
        chosen = " with --session/--role-arn/--user" if session or role_arn or user else ""
        click.echo(
            f"error: the evidence holds no observed call{chosen}: a proposal would take away every "
            "permission that can be observed; check the filters and the evidence",
            err=True,
        )
        sys.exit(2)
    if problems and apply:
        click.echo(
            f"error: {problems} evidence records could not be read, and what they used may be missing "
            "from the proposal: nothing written (--diff shows it)",
            err=True,
        )
        sys.exit(2)
    params = dict(p.split("=", 1) for p in parameters if "=" in p)
    pseudo_notes = _pseudo_parameters(params, calls)
    template_data = _template_data(target)
    params.update(_unknown_defaults(template_data, params))
    loaded = load_paths([target], InputOptions(parameters=params))
    if loaded.errors:
        for error in loaded.errors:
            click.echo(f"error: {error.render()}", err=True)
        sys.exit(2)
    if from_code:
        _narrow_from_code(
            target, template_data, function, calls, loaded.documents, params, generalize, workload, fmt, explain
        )
        return
    original = _select(loaded.documents, function, role)
    if not original:
        what = f"function {function}" if function else f"role {role}" if role else target
        raise click.UsageError(f"no identity policy found for {what} in {target}")
    kind = workload if workload != "auto" else ("lambda" if function or _lambda_role(original) else "none")
    try:
        proposal = narrow(
            original,
            calls,
            get_catalog(),
            generalize=generalize,
            workload=None if kind == "none" else kind,
            # A recording (`iamlint record`) sees every call its program makes.
            trail_has_data_events=all_data_events or (bool(evidence_files) and not cloudtrail) or None,
        )
    except NarrowingError as exc:
        click.echo(f"iamlint bug: the proposal failed its own proof ({exc}); please report it", err=True)
        sys.exit(2)

    from iamlint.narrow.scope import sharing  # noqa: PLC0415

    left_out = sharing(original, function, one_session=bool(session or user))
    notes = (
        [
            (
                f"shared role: the role is also used by {', '.join(left_out)}, whose calls are not in this proposal; "
                "it would take away what they use (--diff and --apply refuse)"
            )
        ]
        if left_out
        else []
    )
    # Only where the principal's policies use the value: otherwise it decides nothing.
    notes += [n for n in pseudo_notes if _uses_placeholder(original, n.split(" ", 1)[0])]
    if (show_diff or apply) and proposal.undecided:
        click.echo(_render(proposal.document, fmt), nl=False)
        print(
            "error: the proposal keeps statements of the current policy it cannot judge from the evidence "
            "(a condition key, policy variable, parameter value or resources the records do not show; see "
            "below); --diff and --apply do not write those: nothing written (give unknown parameters with "
            "--parameter, or copy the proposal by hand)",
            file=sys.stderr,
        )
        status = 2
    elif show_diff or apply:
        status = _patch(target, original, proposal, function, role, params, fmt, show_diff, apply, left_out)
    elif not proposal.document["Statement"]:
        # An empty document is not a policy to attach (IAM rejects a policy without statements);
        # say what it means instead. --diff/--apply write `Policies: []`, which SAM functions and
        # IAM roles accept: the principal keeps only what the template grants elsewhere.
        print(
            "no grant needed: no observed call needs a permission of these policies, and none is kept as "
            "unobservable; --diff shows the template with these Policies emptied",
            file=sys.stderr,
        )
        status = 0
    else:
        click.echo(_render(proposal.document, fmt), nl=False)
        status = 0
    denied = sum(1 for c in calls if c.denied)
    # As IAM140 counts them: a denied call used no permission.
    headline = f"\n{len(calls)} calls observed" + (
        f" ({denied} denied, {len(calls) - denied} allowed)" if denied else ""
    )
    _report(proposal, headline, problems, explain, _unread(template_data, original), notes, _proved(original, proposal))
    if problems:
        status = 2  # shown, but the evidence it rests on is incomplete
    if status:
        sys.exit(status)


def _pseudo_parameters(params: dict[str, str], calls: Sequence[Any]) -> list[str]:
    """Resolve AWS::Region and AWS::AccountId from the calls where they all agree; notes on the others.

    A record's `awsRegion` is the region of the endpoint called, not the stack's: a function in
    eu-west-1 that writes to a queue in us-east-1 is logged in us-east-1. When the calls name one
    region (one account), that is taken as the stack's, as before; when they name several, no
    majority says which is the stack's, and guessing would judge `${AWS::Region}` grants against
    the wrong one (and drop them). Left unknown, a call that turns on the value is "cannot judge".
    """
    notes: list[str] = []
    for key, values in (("AWS::Region", {c.region for c in calls}), ("AWS::AccountId", {c.account for c in calls})):
        seen = sorted(v for v in values if v)
        if key in params or not seen:
            continue
        if len(seen) == 1:
            params[key] = seen[0]
            continue
        notes.append(
            f"{key} unknown: the calls were made in {', '.join(seen)}, and a record shows where the call "
            f"went, not where the stack runs; give it with --parameter {key}=VALUE"
        )
    return notes


def _uses_placeholder(documents: Sequence[PolicyDocument], name: str) -> bool:
    """Does any statement hold `<AWS::Region>` (a pseudo parameter left unknown)?"""
    mark = f"<{name}>"
    return any(
        mark in text
        for d in documents
        for st in d.statements
        for text in (*st.resource_texts, *(v for c in st.conditions for v in c.values))
    )


def _lambda_role(documents: Sequence[PolicyDocument]) -> bool:
    """Is the role (`--role`) a Lambda function's, as the template shows (`Role: !GetAtt R.Arn`)?
    Then the runtime's log writes are as unobservable as they are with --function."""
    return any(u.startswith("function ") for d in documents if d.source is not None for u in d.source.used_by)


def _template_data(target: str) -> Any:
    """The parsed template `target`, or None for a folder (a cdk.out, an account dump) or a file
    that does not parse (loading it reports that). Read once per run: parameter defaults and
    each function's unread policies come from it."""
    import os  # noqa: PLC0415

    from iamlint.loaders.located import ParseError, parse_any  # noqa: PLC0415

    if not os.path.isfile(target):
        return None
    try:
        with open(target, "rb") as fh:
            return parse_any(fh.read(), target).data
    except (OSError, ParseError, ValueError):
        return None


def _unread(data: Any, documents: Sequence[PolicyDocument]) -> list[Any]:
    """The policies attached to the principal in the template (`data`) that iamlint cannot read."""
    from iamlint.narrow.scope import unread_entries  # noqa: PLC0415

    return unread_entries(data, documents) if data is not None else []


def _proved(original: Sequence[PolicyDocument], proposal: Any) -> str:
    """What the proof showed; with Conditions in the template, for which deployments."""
    from iamlint.catalog import get_catalog  # noqa: PLC0415
    from iamlint.model import PolicyKind  # noqa: PLC0415
    from iamlint.narrow.scope import branches  # noqa: PLC0415
    from iamlint.policy import parse_policy  # noqa: PLC0415

    claim = "proved: every observed call is allowed, and the proposal grants nothing the current policy does not"
    document, _ = parse_policy(proposal.document, file="<proposal>", kind=PolicyKind.IDENTITY)
    split = branches(original, document, get_catalog()) if document is not None else None
    if split is None:
        return claim
    if split.too_many:
        return (
            f"{claim} taken over all the branches of the template's Conditions together, which are too many "
            "to prove one by one: a deployment may get more than its own branch grants"
        )
    if not split.not_proved:
        return f"{claim}, in each deployment the template's Conditions make ({'; '.join(split.proved)})"
    inside = (
        f"the proposal grants nothing the current policy does not where {'; '.join(split.proved)}, but "
        if split.proved
        else "the proposal "
    )
    return (
        "proved: every observed call is allowed; " + inside + f"where {'; '.join(split.not_proved)} it grants "
        "more than the current policy does there: it holds only for the branches of the template's Conditions "
        "taken together; narrow each deployment from its own calls"
    )


def _report(
    proposal: Any,
    headline: str,
    problems: int,
    explain: bool,
    unread: Sequence[Any] = (),
    notes: Sequence[str] = (),
    proved: str | None = None,
) -> None:
    """What the proposal removed, rests on and left out, on standard error."""
    from iamlint.reporters.text import printable  # noqa: PLC0415 - log text may hold control characters

    err = sys.stderr
    removed = sum(proposal.removed.values())
    services = ", ".join(f"{svc} {n}" for svc, n in sorted(proposal.removed.items(), key=lambda kv: -kv[1])[:8])
    print(
        f"{headline}; proposal keeps {proposal.kept_actions} of {proposal.original_actions} "
        f"granted actions, removes {removed}" + (f" ({services})" if services else ""),
        file=err,
    )
    claim = (
        proved or "proved: every observed call is allowed, and the proposal grants nothing the current policy does not"
    )
    if proposal.undecided:
        claim = claim.replace(
            "every observed call is allowed",
            "every observed call is allowed (those marked 'cannot judge' whenever the current policy allows them)",
            1,
        )
    print(claim, file=err)
    for note in notes:
        print(note, file=err)
    for u in unread:
        print(
            printable(
                f"not read: {u.describe()} is attached, and iamlint cannot know what it grants: the proof "
                "covers the other policies only; keep it as it is (--diff and --apply do)"
            ),
            file=err,
        )
    opaque = " or ".join(u.text for u in unread)
    for call, mapped in proposal.denied:
        need = ", ".join(mapped.actions) or call.action_guess
        on = list(dict.fromkeys(arn for a in mapped.actions for arn in mapped.resources_for(a)))
        where = f" on {', '.join(on[:3])}" + (f" and {len(on) - 3} more" if len(on) > 3 else "") if on else ""
        print(printable(f"denied: {call.operation}{where} at {call.time} would need {need} (not added)"), file=err)
    for call in proposal.uncounted:
        print(
            printable(
                f"not counted: {call.operation} at {call.time} failed with {call.error}, which shows "
                "neither a denial nor an authorised request; if the workload needs it, the proposal "
                "lacks it"
            ),
            file=err,
        )
    for call, reason in proposal.unmapped:
        print(printable(f"unmapped: {call.event_source} {call.operation}: {reason}"), file=err)
    for ev in proposal.not_granted:
        if unread:
            print(
                printable(
                    f"not granted now: {ev.action} on {ev.resource} was observed, and no policy iamlint can "
                    f"read allows it; {opaque}, which iamlint cannot read, may (not added)"
                ),
                file=err,
            )
        else:
            print(
                f"not granted now: {ev.action} on {ev.resource} was observed but the current policy "
                "does not allow it (not added)",
                file=err,
            )
    for ev in proposal.undecided:
        what = ev.basis.removeprefix("cannot be judged from the evidence: ")
        unknown = (
            "a name only the deployment knows (give a parameter's value with --parameter NAME=VALUE)"
            if "<" in what
            else "which the evidence does not show"
        )
        print(
            printable(
                f"cannot judge: {ev.action} on {ev.resource} was observed, and whether the current policy "
                f"allows it {what}, {unknown}; the statements that may allow it are kept as written"
            ),
            file=err,
        )
    if problems:
        print(
            f"{problems} evidence records could not be read (see warnings above): the proposal may lack "
            "what they used (exit status 2)",
            file=err,
        )
    if explain:
        print("\naction / resource / calls / first seen / last seen / basis", file=err)
        for ev in proposal.evidence:
            print(
                f"  {ev.action}  {_resource(ev)}  {ev.count}  {ev.first or '-'}  {ev.last or '-'}  "
                f"{ev.basis if ev.basis != 'observed' else 'observed: ' + ev.example}",
                file=err,
            )


def _resource(ev: Any) -> str:
    """An evidence line's resource as a reader takes it: a NotResource grant names what it leaves out."""
    return f"every resource but {', '.join(ev.not_resource)}" if ev.not_resource else str(ev.resource)


def _unknown_defaults(data: Any, given: dict[str, str]) -> dict[str, str]:
    """`<Name>` for each template parameter with a Default the user did not give a value for.

    A deployment may give any value: the Default is what the template falls back to, not
    what the stack runs with (`prod-data` where the default says `dev-data`). As a placeholder
    the name is one unknown value, and a call on a resource built from it cannot be judged.
    """
    parameters = data.get("Parameters") if isinstance(data, dict) else None
    if not isinstance(parameters, dict):
        return {}
    return {
        name: f"<{name}>"
        for name, spec in parameters.items()
        if isinstance(name, str) and name not in given and isinstance(spec, dict) and "Default" in spec
    }


def _narrow_from_code(
    target: str,
    data: Any,
    function: str | None,
    observed: list[Any],
    documents: Sequence[PolicyDocument],
    params: dict[str, str],
    generalize: str,
    workload: str,
    fmt: str,
    explain: bool,
) -> None:
    """One proposal per function, from the calls its code can make (plus any observed ones)."""
    from iamlint.catalog import get_catalog  # noqa: PLC0415
    from iamlint.narrow.narrower import NarrowingError, narrow  # noqa: PLC0415
    from iamlint.narrow.static import StaticError, analyse_template, annotate  # noqa: PLC0415

    try:
        results = analyse_template(target, params, function)
    except StaticError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    kind = workload if workload != "auto" else "lambda"
    done: list[tuple[str, Any, str, Sequence[PolicyDocument]]] = []
    for result in results:
        for problem in result.problems:
            click.echo(f"warning: {problem}", err=True)
        original = _select(documents, result.function, None)
        if not result.files or not original:
            why = "its code could not be analysed" if not result.files else f"it has no identity policy in {target}"
            if function is not None:
                click.echo(f"error: function {function}: {why}", err=True)
                sys.exit(2)
            click.echo(f"skipped: function {result.function}: {why}", err=True)
            continue
        try:
            # Code shows data-event calls (S3 objects, DynamoDB items) as well as any other.
            proposal = narrow(
                original,
                [*observed, *result.calls],
                get_catalog(),
                generalize=generalize,
                workload=None if kind == "none" else kind,
                trail_has_data_events=True,
            )
        except NarrowingError as exc:
            click.echo(f"iamlint bug: the proposal failed its own proof ({exc}); please report it", err=True)
            sys.exit(2)
        annotate(proposal.evidence, result.calls)
        sites = f"{len(result.calls)} call site{'' if len(result.calls) == 1 else 's'} in {', '.join(result.files)}"
        done.append(
            (result.function, proposal, sites + (f" and {len(observed)} calls observed" if observed else ""), original)
        )
    if not done:
        click.echo(f"error: no function in {target} could be narrowed from its code", err=True)
        sys.exit(2)
    if function is not None:
        click.echo(_render(done[0][1].document, fmt), nl=False)
    else:
        click.echo(_render({name: proposal.document for name, proposal, _, _ in done}, fmt), nl=False)
    for name, proposal, headline, policies in done:
        # As for observed calls: what the template's Conditions make of the claim, and the
        # attached policies iamlint cannot read.
        _report(proposal, f"\n{name}: {headline}", 0, explain, _unread(data, policies), (), _proved(policies, proposal))
    unseen = sum(len(r.problems) for r in results)
    if unseen:
        # As with evidence records that cannot be read: shown, but what those sites use may be missing.
        print(
            f"{unseen} call site{'' if unseen == 1 else 's'} or file{'' if unseen == 1 else 's'} could not be "
            "analysed (see warnings above): the proposal may lack what they use (exit status 2)",
            file=sys.stderr,
        )
        sys.exit(2)


def _patch(
    target: str,
    original: list[PolicyDocument],
    proposal: Any,
    function: str | None,
    role: str | None,
    params: dict[str, str],
    fmt: str,
    show_diff: bool,
    apply: bool,
    left_out: Sequence[str] = (),
) -> int:
    """--diff and --apply: the template with the principal's Policies replaced; the exit status."""
    import os  # noqa: PLC0415

    from iamlint.catalog import get_catalog  # noqa: PLC0415
    from iamlint.files import WriteError, write_atomic  # noqa: PLC0415
    from iamlint.narrow.patch import NotYaml, PatchError, patch_template  # noqa: PLC0415
    from iamlint.reporters.text import printable  # noqa: PLC0415 - policy names may hold control characters

    err = sys.stderr
    if not os.path.isfile(target):
        print(f"error: {target}: --diff and --apply patch a template file", file=err)
        click.echo(_render(proposal.document, fmt), nl=False)
        return 2
    try:
        with open(target, encoding="utf-8", newline="") as fh:  # newline="": line endings stay as they are
            text = fh.read()
        patch = patch_template(
            target,
            text,
            original,
            proposal,
            select=lambda docs: _select(docs, function, role),
            parameters=params,
            catalog=get_catalog(),
            left_out=left_out,
        )
    except NotYaml as exc:
        print(f"note: {exc}; the proposal is below, to write into it by hand", file=err)
        click.echo(_render(proposal.document, fmt), nl=False)
        return 2 if apply else 0  # --apply asked for a write that did not happen
    except (PatchError, OSError, UnicodeDecodeError) as exc:
        print(f"error: cannot patch {target}: {exc}; the proposal is below", file=err)
        click.echo(_render(proposal.document, fmt), nl=False)
        return 2
    click.echo(patch.diff() if show_diff else _render(proposal.document, fmt), nl=False)
    where = ".".join(str(k) for k in patch.block[1:])
    for use in patch.templates:
        print(
            f"SAM policy template {use.name} ({use.parameter} {use.value}) stands for {len(use.items)} "
            "of the proposal's grants, exactly",
            file=err,
        )
    for note in patch.left_in_place:
        print(f"left in place: {note}", file=err)
    for unread in patch.kept_as_written:
        print(printable(f"kept as written: {unread.describe()}, which iamlint cannot read"), file=err)
    if patch.empty:
        kept = "; ".join(patch.left_in_place) or "nothing"
        print(
            f"no permissions needed: {patch.block[1]} needs none beyond what is left in place ({kept}), "
            f"so {where} is written as an empty list, []",
            file=err,
        )
    if not apply:
        print(f"nothing written: --apply replaces {where} in {target}", file=err)
        return 0
    try:
        write_atomic(target, patch.after)
    except (WriteError, OSError) as exc:
        print(f"error: {exc}", file=err)
        return 2
    print(
        f"patched {target}: {where} replaced; the patched template was loaded again and proved to grant "
        "nothing the current one does not, and to allow every observed call",
        file=err,
    )
    return 0
