"""Importing the SAM translator without the parts it imports but never gets to use here.

The translator imports boto3, botocore and jsonschema at module level: 0.2 to 0.3 s, as much
as the rest of the translator and most of what one SAM template costs past its translation.

- boto3 and botocore serve type annotations, exception classes in `except` clauses, and calls
  that ask AWS for what `iamlint.loaders.sam` already gives the translator: the region (a
  `_Region`), managed policy ARNs (an empty map), serverless-repository applications and their
  templates (placeholder URLs), and feature toggles (never enabled offline).
- jsonschema serves one call: the check of the translator's own bundled policy templates
  against its own bundled schema, both fixed by the pinned translator version. The SAM loader
  builds the policy-template processor without that check, and a test makes it instead
  (`tests/test_sam.py::test_the_bundled_policy_templates_are_valid`).

So each of these packages that is not imported yet is replaced, while the translator imports,
by an inert stand-in: every name looked up in it is a class that can appear in an annotation or
an `except` clause, and calling one raises `OfflineError`, which the SAM loader reports as the
translator failing on that template. A code path of the translator that would reach AWS is an
input error rather than a network call. The stand-ins leave `sys.modules` once the import is
done: code that imports these packages later (a live audit) gets the real ones.

Two of the translator's own modules run only when first used: the pydantic schemas of
functions and capacity providers (45 ms to build), which only a capacity provider or a
function's `CapacityProviderConfig` needs (`_DeferredModule`).

The translator version is pinned, so the uses listed above are those of that version;
`tests/test_sam.py` checks that the SAM fixtures translate the same through the stand-ins as
with the real packages.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Sequence
from importlib.abc import Loader, MetaPathFinder
from importlib.machinery import ModuleSpec, PathFinder
from typing import Any

STAND_IN_PACKAGES = frozenset({"boto3", "botocore", "jsonschema"})
DEFERRED_MODULES = frozenset(
    {
        "samtranslator.internal.schema_source.aws_serverless_function",
        "samtranslator.internal.schema_source.aws_serverless_capacity_provider",
    }
)


class OfflineError(RuntimeError):
    """The translator tried to use a package it was imported without (see the module docstring)."""


class _InertMeta(type):
    """The type of a stand-in name: usable as a class, never callable."""

    def __call__(cls, *_args: Any, **_kwargs: Any) -> Any:
        raise OfflineError(
            f"it tried to use {cls.__qualname__}, which iamlint does not load: it would call AWS "
            "or check the translator's own files"
        )

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _inert(f"{cls.__qualname__}.{name}")


def _inert(qualname: str) -> type:
    # A subclass of Exception, so that `except (ClientError, EndpointConnectionError)` is valid;
    # no real exception is ever an instance of it.
    return _InertMeta(qualname.rsplit(".", 1)[-1], (Exception,), {"__qualname__": qualname})


class _InertModule(types.ModuleType):
    """A stand-in for one of the packages, or for one of their modules."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        value = _inert(f"{self.__name__}.{name}")
        setattr(self, name, value)  # the same class at every lookup, as with a real module
        return value


class _DeferredModule(types.ModuleType):
    """A module whose code runs the first time one of its names is looked up.

    Unlike `importlib.util.LazyLoader`'s modules, it answers `__class__` without running: the
    translator calls `inspect.getmembers` on its own modules for every template, which asks each
    member whether it is a class.
    """

    def __getattribute__(self, name: str) -> Any:
        if name == "__class__":
            return types.ModuleType
        object.__setattr__(self, "__class__", types.ModuleType)  # from now on, a plain module
        spec = self.__spec__
        assert spec is not None and isinstance(spec.loader, _DeferringLoader)
        spec.loader.loader.exec_module(self)
        return getattr(self, name)


def run_deferred() -> None:
    """Run the deferred modules now (a parent about to fork workers that will need them)."""
    for name in DEFERRED_MODULES:
        module = sys.modules.get(name)
        if module is not None:
            getattr(module, "__name__")  # noqa: B009 - any lookup but __class__ runs it


class _DeferringLoader(Loader):
    """Creates a module as `loader` would, and leaves running it to `_DeferredModule`."""

    def __init__(self, loader: Loader) -> None:
        self.loader = loader

    def create_module(self, spec: ModuleSpec) -> types.ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        module.__class__ = _DeferredModule


class _StandInFinder(MetaPathFinder, Loader):
    """A meta path finder and loader that serves every module of the packages it stands in for,
    and finds the deferred modules."""

    def __init__(self, packages: frozenset[str]) -> None:
        self.packages = packages
        self.served: list[str] = []

    def find_spec(self, fullname: str, path: Sequence[str] | None = None, target: object = None) -> ModuleSpec | None:
        if fullname in DEFERRED_MODULES:
            spec = PathFinder.find_spec(fullname, path)
            if spec is not None and spec.loader is not None:
                spec.loader = _DeferringLoader(spec.loader)
            return spec
        if fullname.partition(".")[0] not in self.packages:
            return None
        # A package (an empty __path__), so that `from botocore.config import Config` finds a child.
        return ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec: ModuleSpec) -> types.ModuleType:
        self.served.append(spec.name)
        return _InertModule(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        pass


def import_translator(*modules: str) -> None:
    """Import these `samtranslator` modules, with stand-ins for the packages not imported yet
    and the deferred modules left to run on first use."""
    missing = [name for name in modules if name not in sys.modules]
    if not missing:
        return
    finder = _StandInFinder(frozenset(p for p in STAND_IN_PACKAGES if p not in sys.modules))
    sys.meta_path.insert(0, finder)
    try:
        for name in missing:
            importlib.import_module(name)
    finally:
        sys.meta_path.remove(finder)
        for name in finder.served:
            if type(sys.modules.get(name)) is _InertModule:
                del sys.modules[name]
