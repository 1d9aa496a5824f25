"""What a module needs to run, read from import statements: the project modules it reaches (its closure) and the
third-party modules they import. One reader for every package the project ships: the retrain function's zip
(`pipelines.retrain_trigger.package`), each pipeline step's code snapshot (`pipelines.step_code`) and the check of
the training image's requirements (tests/infra/test_images.py).

Imports inside functions count (they run on some path), imports under `if TYPE_CHECKING:` do not (never run). A
project module is one under a top-level package of the root (a folder with `__init__.py`); anything else is
third-party or the standard library. Nothing is imported: the files are parsed.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from core.paths import ROOT_DIR

# The Pulumi program's side, the pack and the CLI: neither the retrain function nor the training image installs them
# (the function and the steps stand on pipelines/ and core/ only; tests/test_layers.py).
FORBIDDEN = ("components", "stacks", "policies", "mlops", "pulumi", "pulumi_azure_native", "pulumi_policy", "typer", "rich")


@dataclass(frozen=True)
class Closure:
    """Project modules (dotted name -> file) and the other modules (dotted names as imported) reached from some roots."""

    modules: dict[str, Path]
    external: frozenset[str]

    @property
    def third_party(self) -> frozenset[str]:
        """The external names outside the standard library, as imported (`sklearn.metrics`, `azure.identity`)."""
        return frozenset(n for n in self.external if n.split(".")[0] not in sys.stdlib_module_names | {"__future__"})

    def files(self, root: Path = ROOT_DIR) -> dict[str, Path]:
        """Relative path (posix) -> source file of every project module, sorted."""
        return dict(sorted((path.relative_to(root).as_posix(), path) for path in self.modules.values()))

    def forbidden(self) -> list[str]:
        """The names in the closure that the Pulumi program or the CLI own (FORBIDDEN)."""
        return sorted(n for n in [*self.modules, *self.external] if any(n == f or n.startswith(f"{f}.") for f in FORBIDDEN))


def is_project(name: str, root: Path = ROOT_DIR) -> bool:
    """A module under one of the root's top-level packages."""
    return (root / name.split(".")[0] / "__init__.py").is_file()


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
        if name in modules or name in external:
            continue
        if not is_project(name, root):
            external.add(name)
            continue
        path = module_file(name, root)
        if path is None:
            continue  # `from package import function`: the name is not a module
        modules[name] = path
        parts = name.split(".")
        queue += [".".join(parts[:i]) for i in range(1, len(parts))]
        queue += sorted(imported_names(path, name))
    return Closure(modules, frozenset(external))
