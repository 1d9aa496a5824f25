"""Every module of the project imports, and every import statement in it resolves, including the ones inside functions.

Lazy imports (inside a function, so a command starts fast) only run on the path that needs them: a wrong module
name there ships unnoticed until a user takes that path (`from azure.core.tools import parse_resource_id` did).
A fresh interpreter imports every module, then resolves each `import` / `from ... import` statement of every file.
"""

from __future__ import annotations

import json
import subprocess
import sys

from core.paths import ROOT_DIR

PACKAGES = ("mlops", "pipelines", "stacks", "components", "policies")
# Entry points that run something when imported: the Pulumi program and the policy pack's server.
NOT_IMPORTABLE = {"__main__", "policies.__main__"}

CHECK = r"""
import ast, importlib, importlib.util, json, sys
from pathlib import Path

root, packages, skip = Path(sys.argv[1]), sys.argv[2].split(","), set(sys.argv[3].split(","))
problems = []

def module_name(path):
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

def resolves(module, name=None):
    try:
        if importlib.util.find_spec(module) is None:
            return False
        if name is None or name == "*":
            return True
        if importlib.util.find_spec(f"{module}.{name}") is not None:
            return True
    except (ImportError, ValueError):
        pass
    try:
        return hasattr(importlib.import_module(module), name)
    except Exception:
        return False

files = [root / "__main__.py", *sorted(p for package in packages for p in (root / package).rglob("*.py"))]
for path in files:
    name = module_name(path)
    if name in skip:
        continue
    try:
        importlib.import_module(name)
    except Exception as exc:
        problems.append(f"import {name}: {type(exc).__name__}: {exc}")
for path in files:
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    # An entry point runs with its own folder on sys.path (the engine starts the pack inside policies/).
    sys.path[:0] = [str(path.parent)] if name in skip else []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        where = f"{path.relative_to(root)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                if not resolves(alias.name):
                    problems.append(f"{where}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), package) if node.level else node.module
            for alias in node.names:
                if not resolves(base, alias.name):
                    problems.append(f"{where}: from {base} import {alias.name}")
    if name in skip:
        sys.path.remove(str(path.parent))
print(json.dumps({"files": len(files), "problems": problems}))
"""


def test_every_module_imports_and_every_import_statement_resolves():
    done = subprocess.run(
        [sys.executable, "-c", CHECK, str(ROOT_DIR), ",".join(PACKAGES), ",".join(sorted(NOT_IMPORTABLE))],
        cwd=ROOT_DIR,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["files"] > 60
    assert report["problems"] == []
