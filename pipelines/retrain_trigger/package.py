"""Build the retrain function's deployment package: `python -m pipelines.retrain_trigger.package --out dist/retrain.zip`.

The zip is what `az functionapp deployment source config-zip --build-remote true` sends to a Flex Consumption app
(OneDeploy): `function_app.py`, `host.json` and `requirements.txt` at the root (Flex installs the requirements in its
remote build) and the project modules that two things import, found by reading their import statements (including
those inside functions, excluding `if TYPE_CHECKING:` blocks):

- the function itself (`pipelines/retrain_trigger/function_app.py`), which runs in the app;
- the training pipeline's step modules (`python -m pipelines.steps.<step>` on the Azure ML cluster): the job's code
  snapshot is the project root the function runs from (`core.paths.ROOT_DIR`, the app's wwwroot), so the package
  carries the step code too. `.amlignore` keeps the remote build's site-packages out of that snapshot.

The build fails when either closure reaches beyond `pipelines/` and `core/` (the Pulumi program's `components/` and
`stacks/`, the CLI `mlops/`, the pack) or a distribution the app does not install (pulumi, typer, rich): the app
installs only its own requirements.
The zip is reproducible: sorted entries, fixed timestamps and modes.
"""

from __future__ import annotations

import argparse
import ast
import sys
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.paths import ROOT_DIR

FUNCTION_DIR = Path("pipelines", "retrain_trigger")  # in the project root
ROOT_FILES = ("function_app.py", "host.json", "requirements.txt")  # from FUNCTION_DIR, at the zip's root
REQUIREMENTS = (FUNCTION_DIR / "requirements.txt").as_posix()
FUNCTION_MODULE = "pipelines.retrain_trigger.function_app"
PROJECT_PACKAGES = ("core", "mlops", "pipelines", "stacks", "components", "policies")
# The function and the steps stand on pipelines/ and core/ only (tests/test_layers.py); the rest never ships.
FORBIDDEN = ("components", "stacks", "policies", "mlops", "pulumi", "pulumi_azure_native", "pulumi_policy", "typer", "rich")
# Azure ML's code upload honours .amlignore (in place of .gitignore): the snapshot is the step code, not the app.
AMLIGNORE = ".python_packages/\n__pycache__/\n*.pyc\n"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class PackageError(ValueError):
    """The function's import closure reaches something the app does not install."""


@dataclass(frozen=True)
class Closure:
    """Project modules (dotted name -> file) and third-party top-level imports reached from some roots."""

    modules: dict[str, Path]
    external: frozenset[str]


def module_file(name: str, root: Path = ROOT_DIR) -> Path | None:
    """The file of a project module (`a.b` -> a/b.py or a/b/__init__.py), None when it is not one."""
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _type_checking_only(node: ast.AST) -> bool:
    """`if TYPE_CHECKING:` (or `typing.TYPE_CHECKING`): imports for annotations only, never run."""
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_names(path: Path, module: str) -> set[str]:
    """Every module an `import` / `from ... import` in the file names (a `from a import b` names `a` and `a.b`: b may
    be a submodule); relative imports resolved against `module`."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    pending: list[ast.AST] = [ast.parse(path.read_text(), str(path))]
    while pending:
        node = pending.pop()
        if _type_checking_only(node):
            pending.extend(node.orelse)  # type: ignore[attr-defined]
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
        pending.extend(ast.iter_child_nodes(node))
    return names


def closure(roots: Iterable[str], root: Path = ROOT_DIR) -> Closure:
    """Follow project imports from the root modules; parent packages (their `__init__`) come along."""
    modules: dict[str, Path] = {}
    external: set[str] = set()
    queue = list(roots)
    while queue:
        name = queue.pop()
        if name in modules:
            continue
        if name.split(".")[0] not in PROJECT_PACKAGES:
            external.add(name.split(".")[0])
            continue
        path = module_file(name, root)
        if path is None:
            continue  # `from package import function`: the name is not a module
        modules[name] = path
        parts = name.split(".")
        queue += [".".join(parts[:i]) for i in range(1, len(parts))]
        queue += sorted(imported_names(path, name))
    return Closure(modules, frozenset(external))


def _forbidden(names: Iterable[str]) -> list[str]:
    return sorted(n for n in names if any(n == f or n.startswith(f"{f}.") for f in FORBIDDEN))


def step_modules() -> list[str]:
    """The modules Azure ML runs on the cluster: one per pipeline step."""
    from pipelines.steps import STEPS

    return [step.module_name for step in STEPS]


def package_files(root: Path = ROOT_DIR) -> dict[str, Path]:
    """Zip entry -> source file: the function's root files, then every project module either closure needs."""
    function, steps = closure([FUNCTION_MODULE], root), closure(step_modules(), root)
    for label, found in (("the function", function), ("the pipeline steps", steps)):
        bad = _forbidden([*found.modules, *found.external])
        if bad:
            raise PackageError(f"{label} import {', '.join(bad)}: the app installs only {REQUIREMENTS}")
    entries = {name: root / FUNCTION_DIR / name for name in ROOT_FILES}
    for name, path in {**function.modules, **steps.modules}.items():
        if name != FUNCTION_MODULE:  # it is the root function_app.py
            entries[path.relative_to(root).as_posix()] = path
    return dict(sorted(entries.items()))


def build(out: Path, root: Path = ROOT_DIR) -> list[str]:
    """Write the zip; returns its entries in order."""
    entries = package_files(root)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in [(".amlignore", AMLIGNORE.encode()), *((n, p.read_bytes()) for n, p in entries.items())]:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return [".amlignore", *entries]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.retrain_trigger.package", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("dist/retrain.zip"), help="the zip to write (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        names = build(args.out)
    except PackageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.out}: {len(names)} files", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
