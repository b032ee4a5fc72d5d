"""Fuzz target: bytes -> parse_any -> loader dispatch (policy, CloudFormation, SAM, dumps) -> engine.

The only exception allowed out of the whole path is `ParseError` from `parse_any` (bad input
is an input error, never a traceback); dispatch and the engine (strict: a crashing rule
raises) must accept anything that parsed. Run: `bench/fuzz/run.sh loaders`.
"""

from __future__ import annotations

import sys

import atheris
from _common import keep_crashes

with atheris.instrument_imports(include=["iamlint"]):
    from iamlint.engine import Engine, LintConfig

    # Loaders and checks are imported on demand; import them here so they are instrumented.
    from iamlint.loaders import (  # noqa: F401
        auth_details,
        cdk,
        cloudformation,
        intrinsics,
        located_yaml,
        policy_file,
        sam,
    )
    from iamlint.loaders.inputs import InputOptions, dispatch
    from iamlint.loaders.located import ParseError, parse_any

    ENGINE = Engine(LintConfig(strict=True))
OPTIONS = InputOptions()


def one_input(data: bytes) -> None:
    try:
        located = parse_any(data, "fuzz.yaml")
    except ParseError:
        return
    loaded = dispatch(located, OPTIONS, explicit=True)
    ENGINE.run(loaded.documents, loaded.problems, loaded.errors, loaded.files)


def main() -> None:
    atheris.Setup(sys.argv, keep_crashes(one_input))
    atheris.Fuzz()


if __name__ == "__main__":
    main()
