"""Dependencies point one way (README, "Layout"): read every import statement of the project with `ast`.

    mlops/ (CLI) ──> pipelines/ ──┐
       │                          ├──> core/  (errors, paths, naming, Azure's facts, config models, outputs contract)
       └────────> stacks/ ──> components/ ──> pulumi, pulumi-azure-native      (no pulumi in core/)
    policies/   runs in its own process: pulumi-policy and its own modules only

Imports inside functions count too (a lazy import is still a dependency); `if TYPE_CHECKING:` blocks do not.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

from core.paths import ROOT_DIR

PACKAGES = ("core", "components", "stacks", "pipelines", "policies", "mlops")
# What each layer may import of the project (itself included); anything not listed is against the direction.
ALLOWED = {
    "core": {"core"},
    "components": {"components", "core"},
    "stacks": {"stacks", "components", "core"},
    "pipelines": {"pipelines", "core"},
    "policies": {"policies"},
    "mlops": set(PACKAGES),
}
# Third-party top-level packages a layer must not reach (pulumi only where the Pulumi program runs).
FORBIDDEN_EXTERNAL = {
    "core": {"pulumi", "pulumi_azure_native", "pulumi_policy", "typer", "rich"},
    "pipelines": {"pulumi", "pulumi_azure_native", "pulumi_policy", "typer"},
    "policies": {"pulumi_azure_native"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT_DIR).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_files() -> dict[str, Path]:
    return {module_name(path): path for package in PACKAGES for path in sorted((ROOT_DIR / package).rglob("*.py"))}


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported(path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules a file imports: project modules by their dotted name, third-party ones by top-level package."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from a import b`: the module a.b when there is one, else a (b is a name in it).
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & modules.keys()
            found.update(submodules or {node.module})
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), filename=str(path)))
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = project_files()
    return {name: imported(path, modules) for name, path in modules.items()}


def layer(name: str) -> str:
    return name.split(".")[0]


def test_every_import_points_down_the_layers(graph):
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        for target in targets
        if layer(target) in PACKAGES and layer(target) not in ALLOWED[layer(module)]
    )
    assert wrong == []


def test_no_pulumi_below_the_program_and_no_cli_in_the_pipelines(graph):
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        for target in targets
        if layer(target) not in PACKAGES and target.split(".")[0] in FORBIDDEN_EXTERNAL.get(layer(module), ())
    )
    assert wrong == []


def test_the_project_has_no_import_cycle(graph):
    """Among project modules (a package's `__init__` aside: importing a.b runs it, but it imports nothing back)."""
    edges = {module: {t for t in targets if t in graph and t != module} for module, targets in graph.items()}
    try:
        list(graphlib.TopologicalSorter(edges).static_order())
    except graphlib.CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")


def test_the_check_sees_a_wrong_import(tmp_path):
    """The reader is not blind: an upward import in a components-like file is found, a TYPE_CHECKING one is not."""
    source = tmp_path / "x.py"
    source.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from mlops import cli\n"
        "def f():\n    from stacks.platform import build_platform\n"
    )
    assert imported(source, {"stacks.platform": source}) == {"typing", "stacks.platform"}
