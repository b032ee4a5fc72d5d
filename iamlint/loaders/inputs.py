"""Finding the inputs and working out what each one is.

Paths named on the command line must be IAM inputs: anything unreadable or of an unknown
shape is an input error. Files found by walking a directory are only candidates: those that
hold no IAM input (a package.json, a tsconfig) are skipped quietly.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import re
import stat
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from iamlint.loaders import LoadResult, cdk
from iamlint.loaders.located import Located, ParseError, parse_any
from iamlint.model import STDIN, InputError

CANDIDATE_SUFFIXES = (".json", ".yaml", ".yml", ".template")
SKIP_DIRS = frozenset(
    {".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__", ".aws-sam", ".tox", ".mypy_cache"}
)
DEFAULT_MAX_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class InputOptions:
    kind: str = "auto"
    include: tuple[str, ...] = ()  # globs on the path relative to the walked directory
    exclude: tuple[str, ...] = ()
    max_bytes: int = DEFAULT_MAX_BYTES
    parameters: Mapping[str, str] = field(default_factory=dict)  # CloudFormation parameter values
    # Treat named files like walked ones: skip quietly those that hold no IAM input (pre-commit
    # passes every staged .json/.yaml file, package.json included).
    skip_irrelevant: bool = False
    # What standard input (`-`) is called in findings, configuration and baselines: an editor
    # sends a buffer's unsaved text and names the file it will be saved as (--stdin-filename).
    stdin_name: str = STDIN

    def name_of(self, path: str) -> str:
        """The file name an input path stands for: `stdin_name` for `-`."""
        return self.stdin_name if path == "-" else path


def _excluded(rel: str, name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(name, p) for p in patterns)


def walk(root: str, options: InputOptions) -> Iterator[str]:
    """Candidate files under `root`, in a stable order, never following directory symlinks.

    A folder that cannot be listed is yielded too, for `load_input` to report: the files in
    it are not checked, and the run must say so.

    A file symlink is read only when its target is inside `root`: a link to ~/.aws/credentials
    or /etc/shadow committed to a repository must not be read, and its content quoted in a
    parse error, by a scan of that repository. Like directory symlinks, such links are passed
    over. A CDK cloud assembly (cdk.out) is one input: its folder is yielded, not its files.
    """
    real_root = os.path.realpath(root)
    unlisted: list[OSError] = []  # folders os.walk could not list: yielded, and reported by load_input
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False, onerror=unlisted.append):
        while unlisted:
            yield str(unlisted.pop(0).filename)
        rel_dir = os.path.relpath(dirpath, root)
        if cdk.is_assembly_dir(dirpath):
            dirnames[:] = []
            rel = os.path.normpath(os.path.join(rel_dir, cdk.MANIFEST))  # globs see its manifest
            if not _excluded(rel, cdk.MANIFEST, options.exclude) and (
                not options.include or _excluded(rel, cdk.MANIFEST, options.include)
            ):
                yield dirpath
            continue
        keep = []
        for d in sorted(dirnames):
            rel = os.path.normpath(os.path.join(rel_dir, d))
            if d in SKIP_DIRS or _excluded(rel, d, options.exclude):
                continue
            keep.append(d)
        dirnames[:] = keep
        for name in sorted(filenames):
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if not name.lower().endswith(CANDIDATE_SUFFIXES):
                continue
            if _excluded(rel, name, options.exclude):
                continue
            if options.include and not _excluded(rel, name, options.include):
                continue
            path = os.path.join(dirpath, name)
            if os.path.islink(path) and not _inside(os.path.realpath(path), real_root):
                continue
            yield path
    while unlisted:
        yield str(unlisted.pop(0).filename)


def _inside(real: str, real_root: str) -> bool:
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def read_input(path: str, options: InputOptions) -> bytes | InputError:
    if path == "-":
        return sys.stdin.buffer.read(options.max_bytes + 1)
    try:
        # Opened without blocking and checked through the descriptor: a FIFO opened for reading
        # waits for a writer forever, and a file that is swapped for one between a stat() and
        # an open() would still block. O_NONBLOCK changes nothing for a regular file.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a socket, or a device file with no device behind it
            return InputError(path, "not a regular file (a FIFO, device or socket); skipped")
        return InputError(path, f"cannot read: {exc.strerror or exc}")
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            if stat.S_ISDIR(st.st_mode):  # named where a file is expected (a CDK manifest's templateFile)
                return InputError(path, "is a directory; expected a file")
            return InputError(path, "not a regular file (a FIFO, device or socket); skipped")
    except OSError as exc:
        os.close(fd)
        return InputError(path, f"cannot read: {exc.strerror or exc}")
    with os.fdopen(fd, "rb") as fh:  # fdopen refuses a directory's descriptor: checked above
        try:
            if st.st_size > options.max_bytes:
                return InputError(
                    path, f"file is {st.st_size} bytes, over the {options.max_bytes}-byte limit (--max-file-size)"
                )
            # read(n) allocates n bytes up front: ask for the size it has, and read on (to the
            # limit) only if it grew since.
            data = fh.read(st.st_size + 1)
            if len(data) > st.st_size:
                data += fh.read(options.max_bytes + 1 - len(data))
            return data
        except OSError as exc:
            return InputError(path, f"cannot read: {exc.strerror or exc}")


def load_file(path: str, options: InputOptions, *, explicit: bool) -> LoadResult:
    explicit = explicit and not options.skip_irrelevant
    data = read_input(path, options)
    name = options.name_of(path)
    if isinstance(data, InputError):
        return LoadResult(errors=[data], files=1)
    if len(data) > options.max_bytes:
        return LoadResult(
            errors=[InputError(name, f"input is over the {options.max_bytes}-byte limit (--max-file-size)")],
            files=1,
        )
    try:
        located = parse_any(data, name)
    except ParseError as exc:
        if not explicit and not _looks_relevant(data):
            return LoadResult(skipped=[name])
        return LoadResult(errors=[InputError(name, exc.message, exc.line, exc.column)], files=1)
    return dispatch(located, options, explicit, stdin=path == "-")


def _looks_relevant(data: bytes) -> bool:
    """A cheap test for walked files that fail to parse: report only likely IAM inputs."""
    head = data[:65536]
    return any(k in head for k in (b"Statement", b"AWSTemplateFormatVersion", b"Resources"))


def detect_kind(data: object) -> str:
    """What a parsed input is, by content: template, SAM template, dump, or policy."""
    if cdk.is_assembly_manifest(data):
        return "cdk"
    if isinstance(data, Mapping) and (isinstance(data.get("Resources"), Mapping) or "AWSTemplateFormatVersion" in data):
        assert isinstance(data, Mapping)
        transform = data.get("Transform")
        transforms = transform if isinstance(transform, list) else [transform]
        if any(isinstance(t, str) and t.startswith("AWS::Serverless") for t in transforms):
            return "sam"
        return "cloudformation"
    from iamlint.loaders.auth_details import is_auth_details  # noqa: PLC0415

    if is_auth_details(data):
        return "authorization-details"
    return "policy"


def dispatch(located: Located, options: InputOptions, explicit: bool, *, stdin: bool = False) -> LoadResult:
    """Load a parsed input as what it is (`options.kind`, or by content). An authorization-
    details dump's parsed data is let go (`located.data` is None afterwards)."""
    kind = options.kind if options.kind != "auto" else detect_kind(located.data)
    if kind == "cdk":
        if not explicit and not cdk.is_assembly_manifest(located.data):
            return LoadResult(skipped=[located.file])
        if stdin:  # its file name (--stdin-filename) would load the assembly on disk, not this text
            message = (
                "expected a CDK cloud assembly's folder or its manifest.json, not standard input: "
                "its templates are files beside the manifest"
            )
            return LoadResult(errors=[InputError(located.file, message)], files=1)
        return cdk.load_cdk(located.file, options)
    if kind in ("cloudformation", "sam"):
        from iamlint.loaders.cloudformation import TemplateOptions, load_template  # noqa: PLC0415

        if kind == "sam":
            from iamlint.loaders.sam import load_sam  # noqa: PLC0415
            from iamlint.suppress import source_suppressions  # noqa: PLC0415

            # Suppressions come from the SAM source, not the translated template (iamlint.suppress).
            return source_suppressions(load_sam(located, TemplateOptions(parameters=options.parameters)), located)
        return load_template(located, TemplateOptions(parameters=options.parameters))
    if kind == "authorization-details":
        from iamlint.loaders.auth_details import load_auth_details  # noqa: PLC0415

        result = load_auth_details(located)
        # The documents keep the file's marks, not the parsed dump, which nothing reads again:
        # tens of megabytes for a large account, otherwise held to the end of the run.
        located.data = None
        return result
    from iamlint.loaders import policy_file  # noqa: PLC0415 - loaders import on demand

    return policy_file.load_policy_file(located, explicit)


def expand_inputs(paths: Iterable[str], options: InputOptions) -> list[tuple[str, bool]]:
    """Every input to load, with whether the user named it (True) or a walk found it."""
    out: list[tuple[str, bool]] = []
    for path in paths:
        if path != "-" and os.path.isdir(path):
            out.extend((file, False) for file in walk(path, options))
        else:
            out.append((path, True))
    return out


def load_input(path: str, options: InputOptions, *, explicit: bool) -> LoadResult:
    if path != "-" and os.path.isdir(path):
        try:
            os.listdir(path)
        except OSError as exc:  # walk() yields a folder it could not list: its files go unchecked
            return LoadResult(
                errors=[
                    InputError(path, f"cannot list this folder: {exc.strerror or exc}; the files in it are not checked")
                ]
            )
        return cdk.load_cdk(path, options)  # else walk() yields a folder only for a cloud assembly
    return load_file(path, options, explicit=explicit)


# Looked for in the head of each input before workers are forked (see `preload`).
_SNIFF_BYTES = 65536
# A Transform key (top-level in YAML, quoted in JSON) whose value or list names AWS::Serverless.
_SAM_TRANSFORM = re.compile(
    rb"""(?m)(?:^['"]?Transform['"]?|"Transform")\s*:(?:\s*[\[,-]?\s*["']?AWS::[\w-]+["']?)*?"""
    rb"""\s*[\[,-]?\s*["']?AWS::Serverless"""
)
_MANAGED_MARK = b":iam::aws:policy/"
# A SAM capacity provider, or a function's configuration naming one (not ECS's CapacityProviderStrategy).
_CAPACITY_MARK = re.compile(rb"AWS::Serverless::CapacityProvider|CapacityProviderConfig")


def preload(inputs: Iterable[tuple[str, bool]], options: InputOptions) -> None:
    """Load now, once, what the loaders of these inputs are going to need.

    The runner calls this before it forks its workers, which then share what was loaded instead
    of each loading a copy: the SAM translator (0.16 s of CPU a process) when an input has the
    SAM transform, the AWS managed policies (0.06 s) when one attaches them. A look at the head
    of each file decides; a wrong guess costs time, never changes a result.
    """
    if options.kind not in ("auto", "sam", "cloudformation"):
        return
    sam = options.kind == "sam"
    attaches = capacity = False
    for path, _ in inputs:
        head = _head(path)
        # Each regex is tried only where its literal is: the parent does this for every input
        # before any worker starts, and the Transform regex, which opens with an alternation,
        # cannot skip ahead to a candidate (0.07 s for the 1,582 managed policies, 0.01 s so).
        sam = sam or (options.kind == "auto" and b"Transform" in head and _SAM_TRANSFORM.search(head) is not None)
        attaches = attaches or _MANAGED_MARK in head
        # The translator's capacity-provider schemas (0.1 s to build) run only when a template
        # uses one; built here once rather than in each worker that meets it.
        capacity = capacity or (b"CapacityProvider" in head and _CAPACITY_MARK.search(head) is not None)
        if sam and capacity:  # every SAM function's role attaches an AWS managed policy
            break
    if sam:
        from iamlint.loaders.sam import prepare_translator  # noqa: PLC0415

        prepare_translator(capacity_providers=capacity)
    if sam or attaches:
        from iamlint import managed  # noqa: PLC0415

        managed.preload()


def _head(path: str) -> bytes:
    """The first bytes of a regular file, without blocking on a FIFO; empty for anything else."""
    if path == "-":
        return b""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return b""
    try:
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
    except OSError:
        regular = False
    if not regular:  # a CDK assembly's folder, say: fdopen would refuse its descriptor
        os.close(fd)
        return b""
    with os.fdopen(fd, "rb") as fh:
        try:
            return fh.read(_SNIFF_BYTES)
        except OSError:
            return b""


def load_paths(paths: Iterable[str], options: InputOptions | None = None) -> LoadResult:
    options = options or InputOptions()
    result = LoadResult()
    for path, explicit in expand_inputs(paths, options):
        result.extend(load_input(path, options, explicit=explicit))
    return result
