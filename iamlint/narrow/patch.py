"""Template patches: a narrowed policy written back into the YAML template it came from, as a diff.

Only the block that holds the principal's policies is replaced: a SAM function's (or state
machine's) `Policies` property, or a role's `Policies`. The edit is made on the text, so every
other line, comment and byte stays as it was: the key's line comes from the located marks, the
block's extent from indentation, and the new YAML is indented to fit. What the block says:

- the proposal's grants, less those that policies left in place already give (a SAM function
  keeps `AWSLambdaBasicExecutionRole`, a role its managed policies);
- in SAM, a policy template for each set of grants one exactly equals (`sam_templates`);
- the block's own Deny statements, as written (they only take away);
- every entry whose content iamlint cannot know (a customer managed policy's ARN, `!Ref` to a
  parameter, `!ImportValue`, an AWS managed policy it does not know), as written: dropping it
  could take away what the workload uses, and keeping it grants nothing new (`scope`).

A patch is proved before it is returned: the patched template is loaded again, as any input is,
and the principal's policies must grant nothing the current ones do not, and must still allow
every observed call. Otherwise `PatchError` says why, and nothing is patched. The containment
is proved twice: with the region and account the calls were made in, and with partition,
region and account left unknown (`SYMBOLIC`), so that a patch cannot mean something else
where the template is deployed next; an ARN is written with `${AWS::Region}` (or partition,
account) only where the original's grant is, in that sense, written with it too.
"""

from __future__ import annotations

import collections
import difflib
import itertools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from iamlint import globs
from iamlint.catalog import Catalog
from iamlint.evaluator import contains
from iamlint.loaders.inputs import InputOptions, dispatch
from iamlint.loaders.located import Located, ParseError, parse_any, parse_yaml
from iamlint.model import InputError, PolicyDocument, PolicyKind
from iamlint.narrow.judgement import Check, allows
from iamlint.narrow.narrower import Proposal, allow_statements, observed_checks
from iamlint.narrow.sam_templates import Item, TemplateUse, declared_names, item_document, match_templates
from iamlint.narrow.scope import Unread, unread_entries
from iamlint.policy import Path

SAM_OWNERS = ("AWS::Serverless::Function", "AWS::Serverless::StateMachine")
ROLE = "AWS::IAM::Role"
# Values no deployment has, for partition, region and account: a grant proved inside the original
# with these is inside it wherever the template is deployed (each is one fixed, unknown value).
SYMBOLIC = {"AWS::Partition": "<partition>", "AWS::Region": "<region>", "AWS::AccountId": "<account>"}
_KEY = re.compile(r"""(?:Policies|"Policies"|'Policies')[ \t]*:(?P<rest>.*)$""")

Select = Callable[[Sequence[PolicyDocument]], list[PolicyDocument]]


class PatchError(Exception):
    """The template cannot be patched as asked; the message says why. The proposal still stands."""


class NotYaml(PatchError):
    """A JSON template: only YAML templates are patched in place."""


@dataclass(frozen=True, slots=True)
class Patch:
    file: str
    before: str
    after: str
    block: Path  # the replaced property: ("Resources", "OrdersFunction", "Properties", "Policies")
    templates: tuple[TemplateUse, ...]  # SAM policy templates written
    left_in_place: tuple[str, ...]  # the principal's other policies, which the patch does not touch
    kept_as_written: tuple[Unread, ...] = ()  # entries of the block iamlint cannot read, written back unchanged
    empty: bool = False  # the block is written as `Policies: []`: nothing is needed beyond what is left in place

    def diff(self) -> str:
        """A unified diff, `a/<file>` to `b/<file>`."""
        lines = difflib.unified_diff(
            self.before.splitlines(keepends=True),
            self.after.splitlines(keepends=True),
            f"a/{self.file}",
            f"b/{self.file}",
        )
        return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)


def patch_template(
    file: str,
    text: str,
    original: Sequence[PolicyDocument],
    proposal: Proposal,
    *,
    select: Select,
    parameters: Mapping[str, str],
    catalog: Catalog,
    left_out: Sequence[str] = (),
) -> Patch:
    """The template with the principal's `Policies` replaced by the proposal, proved.

    `left_out` names the workloads that run with the same role and whose calls the proposal did
    not see (`scope.sharing`): the role is then not rewritten, since the proof that every
    observed call still works says nothing about theirs.
    """
    if text.lstrip(" \t\r\n\ufeff")[:1] in ("{", "["):
        raise NotYaml(f"{file}: only YAML templates can be patched in place, and this one is JSON")
    try:
        located = parse_yaml(text, file)
    except ParseError as exc:
        raise PatchError(str(exc)) from None
    template = located.data
    if not isinstance(template, Mapping) or not isinstance(template.get("Resources"), Mapping):
        raise PatchError(f"{file}: not a SAM or CloudFormation template")
    identity = [d for d in original if d.kind in (PolicyKind.IDENTITY, PolicyKind.UNKNOWN)]
    block = _block(identity, template, file)
    sam = template["Resources"][block[1]].get("Type") in SAM_OWNERS
    if left_out:
        raise PatchError(
            f"{file}: {block[1]} is also the role of {', '.join(left_out)}, whose calls this proposal "
            f"did not see; narrow it with --role {block[1]} from the calls of every workload that uses it "
            "(no --session), or give each its own role"
        )
    untouched = [d for d in identity if d.loc.keys[:4] != block]
    inside = [d for d in identity if d.loc.keys[:4] == block]
    conditional = sorted({d.source.condition for d in inside if d.source and d.source.condition})
    if conditional:
        # One proposal for every branch would grant each deployment what any of them had.
        raise PatchError(
            f"{file}: the `Policies` of {block[1]} depend on conditions ({', '.join(conditional)}); "
            "write the narrowed policy into each branch by hand"
        )
    _refuse_unresolved(proposal, inside, file)
    opaque = [u for u in unread_entries(template, identity) if u.path[:4] == block]
    known = _known(located, block, parameters, select)[1]
    # Another deployment: other pseudo parameters, and other values of the parameters given
    # with --parameter (a patch that writes `prod-jobs` for `${Stage}-jobs` is proved only for prod).
    symbolic = {**{k: f"<{k}>" if not k.startswith("AWS::") else v for k, v in parameters.items()}, **SYMBOLIC}
    unknown_where, unknown_known = _known(located, block, symbolic, select)

    items = [i for i in _items(proposal.document) if not (untouched and _covered(untouched, [i], catalog))]
    denies = _block_denies(template, block, sam)
    # Grants kept from a NotResource statement (not observable), and grants under a Condition,
    # are written as the proposal has them; the proofs below cover them like the others.
    excluded = [
        st
        for st in proposal.document.get("Statement", [])
        if st.get("Effect") == "Allow" and ("NotResource" in st or "Condition" in st)
    ]
    uses, rest = (
        match_templates(items, catalog, parameters, declared_names(template, parameters)) if sam else ([], items)
    )
    # Each observed request with the context the narrower judged it with (`judgement.allows`).
    observed = [(e.action, check) for e in proposal.evidence if e.basis == "observed" for check in observed_checks(e)]

    def build(chosen: list[TemplateUse], plain: list[Item], literal: bool) -> str:
        written = _portable(plain, unknown_where, parameters, catalog)
        statements = allow_statements(plain, lambda r: written[r]) + excluded + denies
        _refuse_placeholders(statements)
        value = [u.value for u in opaque] + _value(template, block, sam, statements, chosen, literal)
        return _replace_block(text, located, block, value)

    def verify(patched: str, evidence: bool) -> None:
        try:
            parsed = parse_any(patched, file)
        except ParseError as exc:
            raise PatchError(f"the patched template does not parse: {exc}") from None
        _verify(parsed, block, identity, observed if evidence else [], select, parameters, catalog, known, opaque)
        _verify(
            parsed,
            block,
            unknown_where,
            [],
            select,
            symbolic,
            catalog,
            unknown_known,
            opaque,
            where=" where the template is deployed in another region, account or partition, or with other "
            "values of the parameters given with --parameter",
        )

    after = None
    if uses:
        try:
            after = build(uses, rest, literal=True)
            verify(after, evidence=True)
        except PatchError:
            after, uses = None, []
        if after is not None and any(u.reference for u in uses):
            # `!Ref OrdersTable` is the name OrdersTable declares, which the literal form just
            # proved; only the loaded form's containment is left to check.
            referenced = build(uses, rest, literal=False)
            try:
                verify(referenced, evidence=False)
                after = referenced
            except PatchError:
                uses = [TemplateUse(u.name, u.parameter, u.value, None, u.items) for u in uses]
    if after is None:
        after = build([], items, literal=True)
        verify(after, evidence=True)
    kept = tuple(dict.fromkeys(_describe(d) for d in untouched))
    # `Policies: []` is valid in SAM (the translator reads an empty list as no policies and still
    # adds AWSLambdaBasicExecutionRole) and for a role (a list of Policy, none required).
    empty = not opaque and not uses and not items and not excluded and not denies
    return Patch(file, text, after, block, tuple(uses), kept, tuple(opaque), empty)


# -- what is replaced --------------------------------------------------------------------------


def _block(identity: Sequence[PolicyDocument], template: Mapping[str, Any], file: str) -> Path:
    blocks = sorted(
        {
            d.loc.keys[:4]
            for d in identity
            if len(d.loc.keys) >= 4 and d.loc.keys[0] == "Resources" and d.loc.keys[2:4] == ("Properties", "Policies")
        },
        key=str,
    )
    if not blocks:
        raise PatchError(
            f"{file}: none of this principal's policies is in the `Policies` property of a function "
            "or role, which is what can be rewritten"
        )
    if len(blocks) > 1:
        where = ", ".join(str(b[1]) for b in blocks)
        raise PatchError(
            f"{file}: this principal's policies are in several `Policies` properties ({where}); "
            "name one role with --role"
        )
    resource = template["Resources"].get(blocks[0][1])
    kind = resource.get("Type") if isinstance(resource, Mapping) else None
    if kind not in (*SAM_OWNERS, ROLE):
        raise PatchError(
            f"{file}: {blocks[0][1]} is a {kind}; only SAM functions, state machines and roles are patched"
        )
    return blocks[0]


def _refuse_unresolved(proposal: Proposal, inside: Sequence[PolicyDocument], file: str) -> None:
    """Stop when a used grant may hide behind a name only the deployment knows.

    `!GetAtt JobsQueue.Arn` reads as `...:<JobsQueue>`: an observed call on queue `jobs` is then
    "not granted now", though it may well be that queue. Rewriting the block would drop the grant.
    """
    for ev in proposal.not_granted:
        for doc in inside:
            for st in doc.statements:
                if (
                    st.is_allow
                    and st.resource_key == "Resource"
                    and any(globs.glob_match(a, ev.action, case_sensitive=False) for a in st.action_texts)
                    != st.not_action
                    and any(globs.is_placeholder(r) for r in st.resource_texts)
                ):
                    scoped = ", ".join(r for r in st.resource_texts if globs.is_placeholder(r))
                    raise PatchError(
                        f"{file}: {ev.action} was observed on {ev.resource}, and the template grants it on {scoped}, "
                        "a name only the deployment knows; iamlint cannot tell whether they are the same resource, "
                        "so it leaves the template alone"
                    )


def _refuse_placeholders(statements: Sequence[Any]) -> None:
    """Stop before writing a value only a deployment knows (`<Secrets>`, `<Ref:Stage>`) as text:
    IAM would compare with those characters, so a NotResource or a negated condition holding one
    would exclude nothing, and a Resource would name nothing. (Observed ARNs are concrete, and
    the pseudo parameters `_portable` writes are `!Sub` references, not placeholders.)"""

    def strings(node: Any) -> Iterator[str]:
        if isinstance(node, str):
            yield node
        elif isinstance(node, Mapping):
            if "Fn::Sub" not in node:
                for value in node.values():
                    yield from strings(value)
        elif isinstance(node, list | tuple):
            for item in node:
                yield from strings(item)

    for st in statements:
        if not isinstance(st, Mapping):
            continue
        for key in ("Resource", "NotResource", "Condition"):
            found = next((v for v in strings(st.get(key)) if globs.is_placeholder(v)), None)
            if found is not None:
                raise PatchError(
                    f"the patch would write {found!r}, a value only the deployment knows, as text "
                    "(IAM would compare with those very characters); give it with --parameter, or copy "
                    "the proposal by hand"
                )


def _load(
    located: Located, block: Path, parameters: Mapping[str, str], select: Select
) -> tuple[list[InputError], list[PolicyDocument], list[str]]:
    """A template loaded as any input: its errors, the principal's identity policies, and the
    problems loading reports about the block."""
    loaded = dispatch(located, InputOptions(parameters=dict(parameters)), explicit=True)
    identity = [d for d in select(loaded.documents) if d.kind in (PolicyKind.IDENTITY, PolicyKind.UNKNOWN)]
    return loaded.errors, identity, [p.message for p in loaded.problems if p.loc.keys[:4] == block]


def _known(
    located: Located, block: Path, parameters: Mapping[str, str], select: Select
) -> tuple[list[PolicyDocument], list[str]]:
    """The principal's policies in the unpatched template, and what loading it reports about the block."""
    errors, identity, problems = _load(located, block, parameters, select)
    if errors:
        raise PatchError(
            f"the template does not load with {', '.join(sorted(parameters))} unknown: {errors[0].render()}"
        )
    return identity, problems


def _describe(doc: PolicyDocument) -> str:
    src = doc.source
    name = (src.policy_name if src else None) or doc.name or doc.loc.path
    how = src.via if src and src.via else doc.loc.path
    return f"{name} ({how})"


def _items(document: Mapping[str, Any]) -> list[Item]:
    """The (action, resource) grants of the proposal's unconditional Allow statements (one
    under a Condition, or a NotResource one, is written as the proposal has it)."""
    out: list[Item] = []
    for st in document.get("Statement", []):
        if st.get("Effect") != "Allow" or "Resource" not in st or "Condition" in st:
            continue  # the proposal's Denies repeat the original's; the block's own are kept below
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        out.extend((a, r) for a in actions for r in resources)
    return out


def _covered(policies: Sequence[PolicyDocument], items: Sequence[Item], catalog: Catalog) -> bool:
    return contains(policies, [item_document(items)], catalog).contained


def _block_denies(template: Mapping[str, Any], block: Path, sam: bool) -> list[Any]:
    """The Deny statements of the replaced block, as written in the source."""
    props = template["Resources"][block[1]].get("Properties")
    entries = props.get("Policies") if isinstance(props, Mapping) else None
    out: list[Any] = []
    for entry in entries if isinstance(entries, list) else [entries]:
        doc = entry if sam else entry.get("PolicyDocument") if isinstance(entry, Mapping) else None
        statements = doc.get("Statement") if isinstance(doc, Mapping) else None
        for st in statements if isinstance(statements, list) else [statements]:
            if isinstance(st, Mapping) and st.get("Effect") == "Deny" and st not in out:
                out.append(st)
    return out


def _portable(
    items: Sequence[Item], unknown_where: Sequence[PolicyDocument], parameters: Mapping[str, str], catalog: Catalog
) -> dict[str, str | dict[str, str]]:
    """How each resource is written: with the most pseudo parameters that keep it inside the original.

    The proposal names the partition, region and account the calls were made in. Where the
    original wrote `${AWS::Region}`, the literal region would grant, in another deployment, what
    the original does not there; where it wrote `eu-west-1`, `${AWS::Region}` would. So the
    fields that equal the deployment's values are tried as pseudo parameters, the most first,
    down to none, against the original loaded with those values unknown
    (`unknown_where`, from `SYMBOLIC`). Where the original grants any region (`*`), the pseudo
    parameter wins: each deployment then keeps its own table, not the one the calls were seen on.
    A resource no form keeps inside is written literally, and the proof then refuses the patch.
    """
    actions: dict[str, list[str]] = collections.defaultdict(list)
    for action, resource in items:
        actions[resource].append(action)
    return {
        resource: _form(resource, used_by, unknown_where, parameters, catalog) for resource, used_by in actions.items()
    }


_PSEUDO = {1: "AWS::Partition", 3: "AWS::Region", 4: "AWS::AccountId"}  # ARN field -> pseudo parameter


def _form(
    arn: str,
    actions: Sequence[str],
    unknown_where: Sequence[PolicyDocument],
    parameters: Mapping[str, str],
    catalog: Catalog,
) -> str | dict[str, str]:
    fields = arn.split(":", 5)
    if len(fields) != 6 or fields[0] != "arn" or "$" in arn:
        return arn
    values = {"AWS::Partition": "aws", **parameters}
    fitting = [i for i, name in _PSEUDO.items() if values.get(name) and fields[i] == values[name]]
    subsets = [set(c) for size in range(len(fitting) + 1) for c in itertools.combinations(fitting, size)]
    # Region and account as parameters where they can be; the partition along with them, and
    # alone only where the original needs it (`arn:${AWS::Partition}:s3:::audit-${Stage}/*`).
    subsets.sort(key=lambda chosen: (-len(chosen & {3, 4}), (1 in chosen) != bool(chosen & {3, 4})))
    for chosen in subsets:
        unknown = [SYMBOLIC[_PSEUDO[i]] if i in chosen else f for i, f in enumerate(fields)]
        grants = item_document([(a, ":".join(unknown)) for a in actions])
        if contains(unknown_where, [grants], catalog).contained:
            if not chosen:
                return arn
            return {"Fn::Sub": ":".join("${" + _PSEUDO[i] + "}" if i in chosen else f for i, f in enumerate(fields))}
    return arn


def _value(
    template: Mapping[str, Any], block: Path, sam: bool, statements: list[Any], uses: list[TemplateUse], literal: bool
) -> list[Any]:
    """The new value of the `Policies` property."""
    document = {"Version": "2012-10-17", "Statement": statements}
    if sam:
        return ([document] if statements else []) + [u.entry(literal=literal) for u in uses]
    if not statements:
        return []
    props = template["Resources"][block[1]].get("Properties")
    entries = props.get("Policies") if isinstance(props, Mapping) else None
    first = entries[0] if isinstance(entries, list) and entries and isinstance(entries[0], Mapping) else {}
    return [{"PolicyName": first.get("PolicyName", f"{block[1]}Policy"), "PolicyDocument": document}]


# -- the text edit -----------------------------------------------------------------------------


def _replace_block(text: str, located: Located, block: Path, value: list[Any]) -> str:
    mark = located.mark(block)
    lines = text.splitlines(keepends=True)
    if mark is None or mark.line > len(lines):
        raise PatchError(f"{located.file}: cannot find the `Policies` key of {block[1]}")
    k, indent = mark.line - 1, mark.column - 1
    found = _KEY.match(lines[k], indent)
    if found is None:
        raise PatchError(f"{located.file}:{mark.line}: expected the `Policies` key here")
    inline = found.group("rest").split(" #", 1)[0].strip()
    end, indentless = k, False
    for i in range(k + 1, len(lines)):
        stripped = lines[i].strip()
        if not stripped or stripped.startswith("#"):
            continue  # blank lines and comments end nothing; trailing ones stay outside
        depth = len(lines[i]) - len(lines[i].lstrip(" "))
        item = stripped == "-" or stripped.startswith("- ")
        if end == k and not inline and depth == indent and item:
            indentless = True  # "Policies:" with its items at the key's own indent
        if depth > indent or (indentless and depth == indent and item):
            end = i
            continue
        break
    newline = "\r\n" if lines[k].endswith("\r\n") else "\n"
    head = lines[k][:indent]
    if not value:
        new = [f"{head}Policies: []{newline}"]
    else:
        body = yaml.dump(_tagged(value), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=4096)
        new = [f"{head}Policies:{newline}"]
        new += [" " * (indent + 2) + line + newline for line in body.splitlines()]
    if not lines[end].endswith(("\n", "\r")):  # the block ended the file without a final newline
        new[-1] = new[-1].rstrip("\r\n")
    return "".join(lines[:k] + new + lines[end + 1 :])


class _Tagged:
    """A CloudFormation short-form function (`!Ref X`) for the YAML writer."""

    __slots__ = ("tag", "value")

    def __init__(self, tag: str, value: Any) -> None:
        self.tag, self.value = tag, value


class _Dumper(yaml.SafeDumper):
    """Block style with list items indented under their key, as templates are usually written."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)

    def choose_scalar_style(self) -> str:
        # PyYAML quotes every scalar with an explicit tag; `!Ref OrdersTable` needs no quotes
        # wherever the same text would be a plain scalar without its tag.
        style = str(super().choose_scalar_style())
        event, analysis = self.event, self.analysis
        if (
            style == "'"
            and isinstance(event, yaml.ScalarEvent)
            and event.tag
            and event.tag.startswith("!")
            and not event.style
            and not self.flow_level
            and analysis is not None
            and analysis.allow_block_plain
            and not analysis.multiline
            and not analysis.empty
        ):
            return ""
        return style


def _represent_tagged(dumper: yaml.SafeDumper, data: _Tagged) -> yaml.Node:
    if isinstance(data.value, list):
        return dumper.represent_sequence(data.tag, data.value)
    if isinstance(data.value, dict):
        return dumper.represent_mapping(data.tag, data.value)
    return dumper.represent_scalar(data.tag, str(data.value))


_Dumper.add_representer(_Tagged, _represent_tagged)


def _tagged(node: Any) -> Any:
    """Long-form intrinsic functions as the short forms a person writes."""
    if isinstance(node, Mapping):
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref" and isinstance(arg, str):
                return _Tagged("!Ref", arg)
            if key == "Fn::GetAtt" and isinstance(arg, list) and all(isinstance(a, str) for a in arg):
                return _Tagged("!GetAtt", ".".join(arg))
            if isinstance(key, str) and key.startswith("Fn::"):
                return _Tagged("!" + key[4:], _tagged(arg))
        return {k: _tagged(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_tagged(v) for v in node]
    return node


# -- the proof ---------------------------------------------------------------------------------


def _verify(
    located: Located,
    block: Path,
    original: Sequence[PolicyDocument],
    observed: Sequence[tuple[str, Check]],
    select: Select,
    parameters: Mapping[str, str],
    catalog: Catalog,
    known: Sequence[str] = (),
    unread: Sequence[Unread] = (),
    where: str = "",
) -> None:
    """Load the patched template as any input; its policies must stay inside and keep the calls.

    The proof covers what iamlint can read, so the entries it cannot (`unread`) must be in the
    patched block exactly as before. `known` are the problems the original block already had (an
    AWS managed policy iamlint does not know, kept as written): the same one again is no new one.
    """
    errors, patched, reported = _load(located, block, parameters, select)
    problems = [message for message in reported if message not in known]
    if errors or problems:
        first = errors[0].render() if errors else problems[0]
        raise PatchError(f"the patched template does not load cleanly: {first}")
    if [u.value for u in unread_entries(located.data, patched) if u.path[:4] == block] != [u.value for u in unread]:
        raise PatchError("the patched template would not keep the policies iamlint cannot read as written")
    proof = contains(original, patched, catalog)
    if not proof.contained:
        raise PatchError(f"the patched template would grant more than the current one{where}: {proof.reason}")
    # Judged as the narrower judged the calls: a Deny on what the record does not show
    # (aws:SecureTransport "false") did not apply to them, and stays in the patch as written.
    for action, check in observed:
        if not allows(patched, action, check):
            raise PatchError(f"the patched template would deny an observed call: {action} on {check[0]}")
