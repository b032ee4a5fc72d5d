"""AWS CDK cloud assemblies (`cdk.out`): every stack the manifest names, with construct paths.

A cloud assembly is a folder whose `manifest.json` lists artifacts. Stacks
(`aws:cloudformation:stack`) name their template; stages (`cdk:cloud-assembly`) name a
sub-folder holding an assembly of their own; nested stacks are not artifacts but
`AWS::CloudFormation::Stack` resources of a loaded template whose metadata names a
`*.nested.template.json` file. Each template goes through the CloudFormation loader, so
findings point at the template's exact line; asset folders, `tree.json` and anything else the
manifest does not reference are never read.

Construct paths come from each resource's `aws:cdk:path` (read by the CloudFormation loader);
when a template lacks them (synthesized without path metadata, or CDK integration snapshots),
from the stack's metadata: the `additionalMetadataFile` of current CDK or the inline `metadata`
of older manifests, both mapping `/<construct path>` to entries such as
`{"type": "aws:cdk:logicalId", "data": "<logical id>"}`. One stack's metadata also covers its
nested stacks; `aws:cdk:templateFile` entries say which template each stack construct owns.

Every file name in a manifest, metadata or template is resolved inside the folder of the
assembly that names it: absolute names, `..` and symlinks leading outside are input errors,
and nothing outside the assembly is read. One bad stack never stops the others.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from iamlint.loaders import LoadResult
from iamlint.loaders.located import Located, ParseError, parse_any
from iamlint.model import InputError, PathKey

if TYPE_CHECKING:
    from iamlint.loaders.inputs import InputOptions

MANIFEST = "manifest.json"
MARKER = "cdk.out"  # {"version": ...}, written next to every manifest by current CDK
STACK = "aws:cloudformation:stack"
ASSEMBLY = "cdk:cloud-assembly"
NESTED_STACK = "AWS::CloudFormation::Stack"
NESTED_SUFFIX = ".nested.template.json"
LOGICAL_ID = "aws:cdk:logicalId"
TEMPLATE_FILE = "aws:cdk:templateFile"
MAX_SNIFF_BYTES = 16 * 1024 * 1024  # a manifest is kilobytes; larger files are not assemblies


def is_assembly_manifest(data: object) -> bool:
    """Parsed JSON that is a cloud assembly manifest: an object with an `artifacts` object."""
    return isinstance(data, Mapping) and isinstance(data.get("artifacts"), Mapping)


def is_assembly_dir(path: str) -> bool:
    """Whether a folder is a cloud assembly, to be read as one input rather than walked.

    The `cdk.out` marker settles it without reading (so a broken manifest is reported rather
    than skipped); older assemblies lack the marker and are recognised by their manifest.
    """
    manifest = os.path.join(path, MANIFEST)
    if not os.path.isfile(manifest):
        return False
    if os.path.isfile(os.path.join(path, MARKER)):
        return True
    try:
        if os.path.getsize(manifest) > MAX_SNIFF_BYTES:
            return False
        with open(manifest, "rb") as fh:
            data = json.loads(fh.read())
    except (OSError, ValueError):
        return False
    return is_assembly_manifest(data)


def load_cdk(path: str, options: InputOptions) -> LoadResult:
    """Load every stack of the assembly at `path` (the folder or its manifest.json)."""
    if path != "-" and os.path.isdir(path):
        root = path
    elif path != "-" and os.path.basename(path) == MANIFEST and os.path.isfile(path):
        root = os.path.dirname(path) or "."
    else:
        message = "expected a CDK cloud assembly: a cdk.out folder or the manifest.json inside one"
        return LoadResult(errors=[InputError(path, message)], files=1)
    loader = _AssemblyLoader(options)
    loader.assembly(root, os.path.realpath(root))
    return loader.result


@dataclass(slots=True)
class StackMetadata:
    """One stack's construct metadata: which construct path each logical id has, per template."""

    # stack construct path (no leading slash) -> template file name, from aws:cdk:templateFile
    stack_paths: dict[str, str] = field(default_factory=dict)
    entries: list[tuple[str, str]] = field(default_factory=list)  # (construct path, logical id)
    # Where the metadata was read (a metadata file, or the manifest for inline metadata), and the
    # path to its object there: errors about a file it names point at the entry that names it.
    origin: Located | None = None
    origin_keys: tuple[PathKey, ...] = ()
    raw_keys: dict[str, str] = field(default_factory=dict)  # construct path -> key as written

    @classmethod
    def parse(
        cls, raw: Mapping[str, Any], origin: Located | None = None, origin_keys: tuple[PathKey, ...] = ()
    ) -> StackMetadata:
        meta = cls(origin=origin, origin_keys=origin_keys)
        for key, items in raw.items():
            if not isinstance(key, str) or not isinstance(items, list):
                continue
            cpath = key.lstrip("/")
            for item in items:
                if not isinstance(item, Mapping) or not isinstance(item.get("data"), str):
                    continue  # creation stacks, analytics and warnings carry other data
                if item.get("type") == LOGICAL_ID:
                    meta.entries.append((cpath, item["data"]))
                elif item.get("type") == TEMPLATE_FILE:
                    meta.stack_paths[cpath] = item["data"]
                    meta.raw_keys[cpath] = key
        return meta

    def stack_path_of(self, template_file: str) -> str | None:
        return next((p for p, f in self.stack_paths.items() if f == template_file), None)

    def owner(self, cpath: str) -> str | None:
        """The deepest stack construct that holds `cpath` (nested stacks share one metadata)."""
        best: str | None = None
        for stack in self.stack_paths:
            if cpath.startswith(stack + "/") and (best is None or len(stack) > len(best)):
                best = stack
        return best

    def construct_paths(self, stack_path: str | None, root: bool) -> dict[str, str]:
        """Logical id -> construct path for the template of the stack at `stack_path`."""
        out: dict[str, str] = {}
        for cpath, logical_id in self.entries:
            owner = self.owner(cpath)
            if owner == stack_path or (root and owner is None):
                out.setdefault(logical_id, cpath)
        return out


def nested_stack_path(resource_path: str) -> str | None:
    """`S/X.NestedStack/X.NestedStackResource` (the resource CDK makes for nested stack X) -> `S/X`."""
    parts = resource_path.split("/")
    if len(parts) >= 2 and parts[-2].endswith(".NestedStack") and parts[-1].endswith(".NestedStackResource"):
        return "/".join([*parts[:-2], parts[-2].removesuffix(".NestedStack")])
    return None


class _AssemblyLoader:
    def __init__(self, options: InputOptions) -> None:
        self.options = options
        self.result = LoadResult()
        self.assemblies: set[str] = set()  # real paths of the assembly folders entered
        self.templates: set[str] = set()  # real paths of the templates loaded

    # -- files ----------------------------------------------------------------------------
    def error(self, file: str, message: str, located: Located | None = None, keys: tuple[PathKey, ...] = ()) -> None:
        line, col = located.line_column(keys) if located is not None and keys else (None, None)
        self.result.errors.append(InputError(file, message, line, col, keys))

    def resolve(
        self, folder: str, real: str, name: object, what: str, referrer: Located, keys: tuple[PathKey, ...]
    ) -> tuple[str, str] | None:
        """The shown and real path of `name`, a file name the referrer gives inside `folder`."""
        if not isinstance(name, str) or not name:
            self.error(referrer.file, f"{what} must be a file name (a non-empty string)", referrer, keys)
            return None
        if "\0" in name:  # no file system accepts it; os.path would raise
            self.error(referrer.file, f"{what} {name!r} holds a NUL character: not a file name", referrer, keys)
            return None
        parts = name.replace("\\", "/").split("/")
        if os.path.isabs(name) or name.startswith("\\") or ".." in parts:
            self.error(
                referrer.file,
                f"{what} {name!r} must be a relative name inside the assembly folder "
                f"{folder}; refusing to read outside it",
                referrer,
                keys,
            )
            return None
        shown = os.path.normpath(os.path.join(folder, name))
        target = os.path.realpath(os.path.join(real, name))
        if os.path.commonpath([target, real]) != real:
            self.error(
                referrer.file,
                f"{what} {name!r} leads outside the assembly folder {folder} "
                "(through a symbolic link); refusing to read it",
                referrer,
                keys,
            )
            return None
        if not os.path.exists(target):
            self.error(referrer.file, f"{what} is {name!r}, but {shown} does not exist", referrer, keys)
            return None
        return shown, target

    def read(self, shown: str, expected: str) -> Located | None:
        from iamlint.loaders.inputs import read_input  # noqa: PLC0415 - inputs imports this module

        data = read_input(shown, self.options)
        if isinstance(data, InputError):
            self.result.errors.append(data)
            return None
        if len(data) > self.options.max_bytes:
            self.error(shown, f"file is over the {self.options.max_bytes}-byte limit (--max-file-size)")
            return None
        try:
            located = parse_any(data, shown)
        except ParseError as exc:
            message = f"{exc.message}; expected {expected}"
            self.result.errors.append(InputError(shown, message, exc.line, exc.column))
            return None
        if not isinstance(located.data, Mapping):
            self.error(shown, f"expected {expected}, found a JSON {type(located.data).__name__}")
            return None
        return located

    # -- assemblies -----------------------------------------------------------------------
    def assembly(self, folder: str, real: str) -> None:
        if real in self.assemblies:
            self.error(
                os.path.join(folder, MANIFEST),
                "this assembly is already being loaded (a cycle of cdk:cloud-assembly artifacts); not reading it again",
            )
            return
        self.assemblies.add(real)
        shown = os.path.normpath(os.path.join(folder, MANIFEST))
        manifest = self.read(shown, "a CDK cloud assembly manifest (a JSON object with an artifacts object)")
        self.result.files += 1
        if manifest is None:
            return
        assert isinstance(manifest.data, Mapping)
        artifacts = manifest.data.get("artifacts")
        if not isinstance(artifacts, Mapping):
            self.error(
                shown,
                "a CDK cloud assembly manifest needs an artifacts object listing its stacks "
                f"(found {type(artifacts).__name__ if artifacts is not None else 'none'})",
                manifest,
                ("artifacts",) if artifacts is not None else (),
            )
            return
        for artifact_id, artifact in artifacts.items():
            keys: tuple[PathKey, ...] = ("artifacts", str(artifact_id))
            if not isinstance(artifact, Mapping):
                self.error(shown, f"artifact {artifact_id} must be an object", manifest, keys)
                continue
            kind = artifact.get("type")
            props = artifact.get("properties")
            if not isinstance(kind, str):  # a stack or stage could hide behind it: say so
                self.error(
                    shown,
                    f"artifact {artifact_id} needs a type (a string such as {STACK})",
                    manifest,
                    (*keys, "type") if "type" in artifact else keys,
                )
                continue
            if kind not in (STACK, ASSEMBLY):
                continue  # asset manifests, the tree, feature-flag reports: no IAM in them
            if not isinstance(props, Mapping):
                self.error(shown, f"artifact {artifact_id} ({kind}) needs a properties object", manifest, keys)
                continue
            if kind == ASSEMBLY:
                sub = self.resolve(
                    folder,
                    real,
                    props.get("directoryName"),
                    f"directoryName of stage assembly {artifact_id}",
                    manifest,
                    (*keys, "properties", "directoryName"),
                )
                if sub is not None:
                    self.assembly(*sub)
            else:
                self.stack(folder, real, manifest, str(artifact_id), artifact, props)

    # -- stacks ---------------------------------------------------------------------------
    def stack(
        self,
        folder: str,
        real: str,
        manifest: Located,
        artifact_id: str,
        artifact: Mapping[str, Any],
        props: Mapping[str, Any],
    ) -> None:
        keys: tuple[PathKey, ...] = ("artifacts", artifact_id)
        name = props.get("templateFile")
        template = self.resolve(
            folder,
            real,
            name,
            f"templateFile of stack {artifact_id}",
            manifest,
            (*keys, "properties", "templateFile") if "templateFile" in props else keys,
        )
        if template is None:
            return
        meta = self.metadata(folder, real, manifest, artifact_id, artifact)
        assert isinstance(name, str)
        stack_path = meta.stack_path_of(name)
        if stack_path is None and isinstance(artifact.get("displayName"), str):
            stack_path = str(artifact["displayName"])
        queue: list[tuple[str, str, str | None, bool]] = [(template[0], template[1], stack_path, True)]
        while queue:
            shown, target, spath, root = queue.pop(0)
            located = self.template(shown, target, meta.construct_paths(spath, root))
            if located is not None:
                queue.extend(self.nested(folder, real, located, meta, meta.construct_paths(spath, root)))
        # Nested stacks the metadata names but no loaded template pointed at (no asset metadata).
        for spath, file in meta.stack_paths.items():
            if file == name or (stack_path is not None and not spath.startswith(stack_path + "/")):
                continue
            where = meta.origin or manifest
            at = (*meta.origin_keys, meta.raw_keys[spath]) if meta.origin else keys
            found = self.resolve(folder, real, file, f"nested stack template of {spath}", where, at)
            if found is not None and found[1] not in self.templates:
                self.template(found[0], found[1], meta.construct_paths(spath, False))

    def metadata(
        self, folder: str, real: str, manifest: Located, artifact_id: str, artifact: Mapping[str, Any]
    ) -> StackMetadata:
        keys: tuple[PathKey, ...] = ("artifacts", artifact_id)
        if "additionalMetadataFile" in artifact:
            found = self.resolve(
                folder,
                real,
                artifact["additionalMetadataFile"],
                f"additionalMetadataFile of stack {artifact_id}",
                manifest,
                (*keys, "additionalMetadataFile"),
            )
            if found is None:
                return StackMetadata()
            located = self.read(found[0], "a CDK stack metadata file (a JSON object keyed by construct path)")
            if located is None:
                return StackMetadata()
            assert isinstance(located.data, Mapping)
            return StackMetadata.parse(located.data, located)
        inline = artifact.get("metadata")
        if inline is None:
            return StackMetadata()
        if not isinstance(inline, Mapping):
            self.error(
                manifest.file,
                f"metadata of stack {artifact_id} must be an object keyed by construct path",
                manifest,
                (*keys, "metadata"),
            )
            return StackMetadata()
        return StackMetadata.parse(inline, manifest, (*keys, "metadata"))

    def template(self, shown: str, target: str, construct_paths: Mapping[str, str]) -> Located | None:
        from iamlint.loaders.cloudformation import TemplateOptions, load_template  # noqa: PLC0415
        from iamlint.loaders.inputs import detect_kind  # noqa: PLC0415 - inputs imports this module

        if target in self.templates:
            return None  # named twice (an artifact and a nested stack): loaded once
        self.templates.add(target)
        located = self.read(shown, "a CloudFormation template (a JSON object with Resources)")
        if located is None:
            self.result.files += 1
            return None
        assert isinstance(located.data, Mapping)
        if "Resources" not in located.data:
            # CDK writes a stack without resources (an integ test's empty DeployAssert stack) as a
            # template with only Parameters and Rules: nothing to check, and not an error.
            self.result.files += 1
            return None
        options = TemplateOptions(parameters=self.options.parameters, construct_paths=construct_paths)
        if detect_kind(located.data) == "sam":  # aws_sam constructs: the stack declares the SAM transform
            from iamlint.loaders.sam import load_sam  # noqa: PLC0415 - the translator only when needed

            self.result.extend(load_sam(located, options))
        else:
            self.result.extend(load_template(located, options))
        return located

    def nested(
        self, folder: str, real: str, located: Located, meta: StackMetadata, construct_paths: Mapping[str, str]
    ) -> list[tuple[str, str, str | None, bool]]:
        """The nested stack templates a loaded template points at, with their stack paths."""
        assert isinstance(located.data, Mapping)
        resources = located.data.get("Resources")
        out: list[tuple[str, str, str | None, bool]] = []
        if not isinstance(resources, Mapping):
            return out
        for logical_id, res in resources.items():
            if not isinstance(res, Mapping) or res.get("Type") != NESTED_STACK:
                continue
            res_meta = res.get("Metadata") if isinstance(res.get("Metadata"), Mapping) else {}
            assert isinstance(res_meta, Mapping)
            cpath = res_meta.get("aws:cdk:path")
            cpath = cpath if isinstance(cpath, str) else construct_paths.get(str(logical_id))
            spath = nested_stack_path(cpath) if cpath else None
            asset = res_meta.get("aws:asset:path")
            keys: tuple[PathKey, ...] = ("Resources", str(logical_id))
            if isinstance(asset, str) and asset.endswith(NESTED_SUFFIX):
                file: str | None = asset
                keys = (*keys, "Metadata", "aws:asset:path")
            else:
                file = meta.stack_paths.get(spath) if spath else None
            if file is None:
                continue  # a stack from a TemplateURL outside the assembly: nothing here to read
            known = meta.stack_path_of(file)
            found = self.resolve(folder, real, file, f"nested stack template of {logical_id}", located, keys)
            if found is not None and found[1] not in self.templates:
                out.append((found[0], found[1], known or spath, False))
        return out
