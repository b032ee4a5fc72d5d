"""SAM templates: expanded offline by the SAM translator, every finding at the SAM source line.

A SAM template says what a function may do in a few lines (`Policies: [S3ReadPolicy: ...]`);
the policies IAM evaluates only exist after AWS's own translator has expanded it. So the
template is translated here, with AWS's translator (`aws-sam-translator`), offline:

- the region comes from `--parameters AWS::Region=...` (default us-east-1), and AWS managed
  policy names are resolved from the map bundled with the translator; a name it does not
  know becomes an input error naming the policy, never a call to IAM;
- local paths (`CodeUri: src/`, `DefinitionUri`, `ContentUri`) become placeholder `s3://`
  URIs and serverless-repository applications a placeholder URL, so nothing reads the disk
  or the network;
- each SAM resource (and embedded connector) gets an origin marker in its `Metadata`, which
  the translator copies onto every resource it generates from it.

The translated template then goes through the CloudFormation loader, with a relocation hook
(`sam_origins`) that points every generated policy back at the SAM text a person edits: the
`Policies` entry, the statement and the action of an inline policy, the Globals entry, the
connector. A translator error is an input error at the offending resource, never a crash.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from iamlint.loaders import LoadResult
from iamlint.loaders.cloudformation import TemplateOptions, load_template
from iamlint.loaders.located import Located
from iamlint.loaders.sam_nodes import SAM_PREFIX, props_of
from iamlint.loaders.sam_origins import ORIGIN_KEY, Origins
from iamlint.model import InputError
from iamlint.policy import Path

DEFAULT_REGION = "us-east-1"
PLACEHOLDER_S3 = "s3://iamlint-placeholder"
PLACEHOLDER_URL = "https://iamlint-placeholder.s3.amazonaws.com"
PLACEHOLDER_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/iamlint-placeholder:latest"

# Properties that name a local file or folder which `sam build`/`sam package` would upload.
_LOCAL_URIS = {
    "AWS::Serverless::Function": ("CodeUri",),
    "AWS::Serverless::LayerVersion": ("ContentUri",),
    "AWS::Serverless::Api": ("DefinitionUri",),
    "AWS::Serverless::HttpApi": ("DefinitionUri",),
    "AWS::Serverless::StateMachine": ("DefinitionUri",),
    "AWS::Serverless::GraphQLApi": ("SchemaUri",),
}
_OPENAPI_STUBS = {
    "AWS::Serverless::Api": {"swagger": "2.0", "info": {"title": "iamlint placeholder", "version": "1.0"}, "paths": {}},
    "AWS::Serverless::HttpApi": {
        "openapi": "3.0.1",
        "info": {"title": "iamlint placeholder", "version": "1.0"},
        "paths": {},
    },
}
_GLOBAL_URIS = {"Function": "CodeUri", "Api": "DefinitionUri", "HttpApi": "DefinitionUri"}


def load_sam(located: Located, options: TemplateOptions | None = None) -> LoadResult:
    """The policies of a SAM template, translated offline and located in the SAM source."""
    options = options or TemplateOptions()
    data = located.data
    if not isinstance(data, Mapping) or not isinstance(data.get("Resources"), Mapping):
        return LoadResult(
            errors=[InputError(located.file, "a SAM template needs a Resources section (an object)", 1, 1)], files=1
        )
    region = str(options.parameters.get("AWS::Region") or DEFAULT_REGION)
    translated = _translate(_prepare(data), options.parameters, region)
    if isinstance(translated, list):
        return LoadResult(errors=[_error(located, data, message) for message in translated], files=1)
    origins = Origins(located, data, translated, region)
    result = load_template(origins.translated_located(), replace(options, relocate=origins.relocate))
    origins.finish(result)
    return result


# -- before translation ------------------------------------------------------------------------


def _prepare(data: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the template that the translator can expand without disk or network."""
    template: dict[str, Any] = _unshared(data)  # the translator edits its input
    resources = template["Resources"]
    for logical_id, res in resources.items():
        if not isinstance(res, dict):
            continue  # the translator reports it
        connectors = res.get("Connectors")
        if isinstance(connectors, dict):
            for name, connector in connectors.items():
                if isinstance(connector, dict):
                    _mark_origin(connector, ["Resources", logical_id, "Connectors", name])
        rtype = res.get("Type")
        if not isinstance(rtype, str) or not rtype.startswith(SAM_PREFIX):
            continue
        _mark_origin(res, ["Resources", logical_id])
        props = res.get("Properties")
        if isinstance(props, dict):
            _placeholders(str(logical_id), rtype, props, template.get("Globals"))
    globals_ = template.get("Globals")
    if isinstance(globals_, dict):
        for section, prop in _GLOBAL_URIS.items():
            block = globals_.get(section)
            if isinstance(block, dict) and _is_local(block.get(prop)):
                block[prop] = f"{PLACEHOLDER_S3}/globals-{section}-{prop}"
    return template


def _unshared(node: Any) -> Any:
    """A deep copy in which no container is shared.

    A YAML alias is the same object at each use (see `located`); `copy.deepcopy` would keep it
    shared, and the translator's edits or an origin marker would then leak between resources.
    """
    root = _copied(node)
    stack = [root] if root is not node else []
    while stack:  # a loop, not recursion: a template may nest a thousand levels deep
        container = stack.pop()
        for key in list(container.keys() if isinstance(container, dict) else range(len(container))):
            child = container[key]
            copy = _copied(child)
            if copy is not child:
                container[key] = copy
                stack.append(copy)
    return root


def _copied(node: Any) -> Any:
    """A shallow copy of a container (a dict for any mapping), the node itself otherwise."""
    if isinstance(node, Mapping):
        return dict(node)
    if isinstance(node, list):
        return list(node)
    return node


def _mark_origin(res: dict[str, Any], path: list[str]) -> None:
    meta = res.get("Metadata")
    if meta is None:
        res["Metadata"] = {ORIGIN_KEY: path}
    elif isinstance(meta, dict):
        meta[ORIGIN_KEY] = path


def _is_local(value: Any) -> bool:
    return isinstance(value, str) and not value.startswith("s3://")


def _is_include(node: Any) -> bool:
    transform = node.get("Fn::Transform") if isinstance(node, dict) and len(node) == 1 else None
    return isinstance(transform, dict) and transform.get("Name") == "AWS::Include"


def _placeholders(logical_id: str, rtype: str, props: dict[str, Any], globals_: Any) -> None:
    for prop in _LOCAL_URIS.get(rtype, ()):
        if _is_local(props.get(prop)):
            props[prop] = f"{PLACEHOLDER_S3}/{logical_id}-{prop}"
    if rtype == "AWS::Serverless::Function":
        glob = globals_.get("Function") if isinstance(globals_, dict) else None
        glob = glob if isinstance(glob, dict) else {}
        package = props.get("PackageType", glob.get("PackageType"))
        if package == "Image":
            if "ImageUri" not in props:
                props["ImageUri"] = PLACEHOLDER_IMAGE  # `sam build` fills it from Metadata.Dockerfile
        elif not any(k in props or k in glob for k in ("CodeUri", "InlineCode", "ImageUri")):
            props["CodeUri"] = f"{PLACEHOLDER_S3}/{logical_id}-CodeUri"  # `sam build` defaults to "."
    elif rtype in _OPENAPI_STUBS and _is_include(props.get("DefinitionBody")):
        # `AWS::Include` of a local file, which CloudFormation would splice in before the SAM
        # transform: an empty definition lets SAM add what the template itself asks for.
        props["DefinitionBody"] = copy.deepcopy(_OPENAPI_STUBS[rtype])
    elif rtype == "AWS::Serverless::Application":
        location = props.get("Location")
        if isinstance(location, dict) and "ApplicationId" in location:
            # A serverless-repository application: the translator would call that service.
            props["Location"] = f"{PLACEHOLDER_URL}/{logical_id}.yaml"


# -- translation -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Region:
    """What the translator reads from its boto3 session: the region, nothing else.

    A real `boto3.Session` would also read the AWS config files and fail when AWS_PROFILE names
    a profile that does not exist; the translator never needs credentials here.
    """

    region_name: str


_POLICY_TEMPLATES: list[Any] = []


def _share_policy_templates_once() -> None:
    """Build the translator's policy-template processor once per process.

    For every template, the translator rebuilds it from its own bundled policy_templates.json
    and validates that file against a JSON Schema: 30 ms a template, 60% of the time of a
    folder of SAM templates. The file is the translator's own and does not change within a
    run, so the processor is built once and shared (it is only read from). It is built as the
    translator's constructor builds it, less the schema check: the file and the schema both
    ship with the pinned translator, the check alone needs jsonschema (60 ms to import, see
    iamlint.loaders.sam_offline), and a test makes it instead.
    """
    if _POLICY_TEMPLATES:
        return
    from samtranslator.plugins.policies.policy_templates_plugin import (  # type: ignore[import-untyped]  # noqa: PLC0415 - SAM only
        PolicyTemplatesForResourcePlugin,
    )
    from samtranslator.policy_template_processor.processor import (  # type: ignore[import-untyped]  # noqa: PLC0415 - SAM only
        PolicyTemplatesProcessor,
    )
    from samtranslator.policy_template_processor.template import Template  # type: ignore[import-untyped]  # noqa: PLC0415 - SAM only
    from samtranslator.translator import translator as module  # type: ignore[import-untyped]  # noqa: PLC0415 - SAM only

    processor = PolicyTemplatesProcessor.__new__(PolicyTemplatesProcessor)
    templates = PolicyTemplatesProcessor.get_default_policy_templates_json()["Templates"]
    processor.policy_templates = {name: Template.from_dict(name, value) for name, value in templates.items()}
    _POLICY_TEMPLATES.append(processor)
    module.make_policy_template_for_function_plugin = lambda: PolicyTemplatesForResourcePlugin(processor)


_TRANSLATOR_MODULES = (
    "samtranslator.translator.translator",
    "samtranslator.parser.parser",
    "samtranslator.policy_template_processor.processor",
    "samtranslator.policy_template_processor.template",
    "samtranslator.plugins.policies.policy_templates_plugin",
)


def prepare_translator(*, capacity_providers: bool = False) -> None:
    """Import the translator and build its shared parts, once per process; with
    `capacity_providers`, also the schemas only capacity providers need (deferred otherwise)."""
    from iamlint.loaders.sam_offline import import_translator, run_deferred  # noqa: PLC0415

    import_translator(*_TRANSLATOR_MODULES)
    _share_policy_templates_once()
    if capacity_providers:
        run_deferred()


def _translate(template: dict[str, Any], parameters: Mapping[str, str], region: str) -> dict[str, Any] | list[str]:
    """The translated template, or the translator's error messages."""
    # Imported here: the translator takes about 0.2 s to import (0.5 s with the parts it never
    # gets to use here, see iamlint.loaders.sam_offline) and only SAM inputs need it.
    # The translator ships no type information (no py.typed): its names are Any here.
    prepare_translator()
    from samtranslator.model.exceptions import (  # type: ignore[import-untyped]  # noqa: PLC0415 - SAM only
        ExceptionWithMessage,
        InvalidDocumentException,
    )
    from samtranslator.parser.parser import Parser  # type: ignore[import-untyped]  # noqa: PLC0415 - SAM only
    from samtranslator.translator.translator import Translator  # type: ignore[import-untyped]  # noqa: PLC0415 - SAM only

    values = {k: v for k, v in parameters.items() if not k.startswith("AWS::")}
    translator = Translator(None, Parser(), boto_session=_Region(region))
    # The translator logs warnings meant for its service operators (feature toggles, metrics
    # never published) through the root logger; iamlint's output is its findings. Its errors
    # too: a plugin that fails on a broken template logs a traceback (which Python prints on
    # standard error) and then raises, and the exception is reported as an input error.
    log = logging.getLogger("samtranslator")
    level = log.level
    log.setLevel(logging.CRITICAL + 1)
    try:
        out: dict[str, Any] = translator.translate(
            template, parameter_values=values, passthrough_metadata=True, get_managed_policy_map=dict
        )  # never IAM: unknown names stay names, reported later
    except InvalidDocumentException as exc:
        return [cause.message for cause in exc.causes] or [exc.message]
    except ExceptionWithMessage as exc:
        return [exc.message]
    except Exception as exc:  # noqa: BLE001 - third-party code on untrusted input must not stop the run
        return [f"the SAM translator failed on this template ({type(exc).__name__}: {exc})"]
    finally:
        translator.metrics.publish()  # to a no-op publisher; otherwise it warns when collected
        log.setLevel(level)
    return out


_RESOURCE_ERROR = re.compile(r"Resource with id \[([^\]]+)\] is invalid")
_EVENT_ERROR = re.compile(r"Event with id \[([^\]]+)\] is invalid")
_POLICY_INDEX = re.compile(r"Policy at index (\d+) in the 'Policies' property")
_TEMPLATE_NAME = re.compile(r"template '(\w+)'")
_PROPERTY = re.compile(r"[Pp]roperty '([\w.]+)'")


def _error(located: Located, data: Mapping[str, Any], message: str) -> InputError:
    path = _error_path(data, message)
    mark = located.mark(path) if path else None
    line, column = (mark.line, mark.column) if mark else (1, 1)
    return InputError(located.file, f"SAM translator: {message}", line, column, path)


def _error_path(data: Mapping[str, Any], message: str) -> Path:
    """Where the translator's complaint is, as far as its message tells."""
    resources = data["Resources"]
    if message.startswith("'Globals' section is invalid") and "Globals" in data:
        return ("Globals",)
    found = _RESOURCE_ERROR.search(message)
    if found:
        logical_id = found.group(1)
        if logical_id not in resources:
            return _embedded_connector(resources, logical_id)
        return _resource_detail(resources, logical_id, message)
    found = _EVENT_ERROR.search(message)
    if found:
        for logical_id, res in resources.items():
            events = props_of(res).get("Events")
            if isinstance(events, Mapping) and found.group(1) in events:
                return ("Resources", logical_id, "Properties", "Events", found.group(1))
    return ()


def _embedded_connector(resources: Mapping[str, Any], full_id: str) -> Path:
    for logical_id, res in resources.items():
        connectors = res.get("Connectors") if isinstance(res, Mapping) else None
        if isinstance(connectors, Mapping):
            for name in connectors:
                if f"{logical_id}{name}" == full_id:
                    return ("Resources", logical_id, "Connectors", name)
    return ()


def _resource_detail(resources: Mapping[str, Any], logical_id: str, message: str) -> Path:
    base: Path = ("Resources", logical_id)
    policies = props_of(resources[logical_id]).get("Policies")
    found = _POLICY_INDEX.search(message)
    if found and isinstance(policies, list):
        return (*base, "Properties", "Policies", int(found.group(1)))
    found = _TEMPLATE_NAME.search(message)
    if found and isinstance(policies, list):
        for i, entry in enumerate(policies):
            if isinstance(entry, Mapping) and found.group(1) in entry:
                return (*base, "Properties", "Policies", i)
    found = _PROPERTY.search(message)
    if found:
        return (*base, "Properties", *found.group(1).split("."))
    return base
