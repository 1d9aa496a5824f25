"""The retrain function's deployment package: what the zip holds, and that the function runs from it with nothing but
its own requirements.txt installed.

The run test extracts the zip into a folder, lays out a site-packages holding only the distributions that
requirements.txt pulls in (links to this virtualenv's files; what Flex's remote build installs), and imports the
function there in an isolated interpreter (`-I -S`: no other site-packages, no PYTHONPATH). It then walks every path
that imports lazily (the training job, the workspace client, the claim store, the metric exporter): an import the
function needs and its requirements lack fails the test; an optional one (`try: import pandas`) is skipped, as in
Azure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from importlib.metadata import PackageNotFoundError, distribution, distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from core.paths import ROOT_DIR
from pipelines.retrain_trigger import package
from tests.monitoring.test_retrain_trigger import SETTINGS, stack_outputs_json  # noqa: F401  (fixture)

REQUIREMENTS = ROOT_DIR / "pipelines" / "retrain_trigger" / "requirements.txt"
FORBIDDEN_MODULES = ("pulumi", "pulumi_azure_native", "pulumi_policy", "typer", "rich", "components", "mlops.commands")
FORBIDDEN_DISTRIBUTIONS = {"pulumi", "pulumi-azure-native", "pulumi-policy", "typer", "rich"}
# What the function and the pipeline steps cannot do without (more may join as the code grows).
REQUIRED_MODULES = {
    "core/__init__.py", "core/errors.py", "core/paths.py",
    "pipelines/__init__.py", "pipelines/aml.py", "core/metrics.py", "pipelines/registry.py",
    "pipelines/sample_data.py", "pipelines/telemetry.py",
    "pipelines/retrain_trigger/__init__.py", "pipelines/retrain_trigger/trigger.py",
    "pipelines/steps/__init__.py", "pipelines/steps/common.py",
    *(f"pipelines/steps/{step}.py" for step in ("gather", "validate", "prep", "train", "evaluate", "gate", "register")),
    "core/contracts.py", "core/outputs.py", "core/sections.py",
}

RUN_FROM_PACKAGE = r"""
import json, os, sys
sys.path[:0] = sys.argv[1:3]  # the app's wwwroot, then its site-packages (this interpreter runs with -I -S)
before = set(sys.modules)
from pipelines.retrain_trigger import trigger
import function_app
from pipelines.telemetry import appinsights_meter_provider

settings = trigger.TriggerSettings.from_env()
job = trigger.training_job(settings.stack)
trigger.workspace_client(settings)
trigger.BlobStore("https://stmlopsfndevweu.blob.core.windows.net/retrain-state")
appinsights_meter_provider("InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1/", 60_000)
[function] = function_app.app.get_functions()
loaded = sorted(set(sys.modules) - before)
files = {name: getattr(sys.modules[name], "__file__", None) for name in loaded if name.split(".")[0] in ("mlops", "pipelines", "stacks", "function_app")}
print(json.dumps({"modules": loaded, "project_files": files, "job_steps": list(job.jobs), "function": function.get_function_name()}))
sys.stdout.flush()
os._exit(0)  # skip the exporter's shutdown export
"""


def needed_distributions(requirements: list[Requirement]) -> dict[str, str]:
    """Canonical name -> installed version of every distribution the requirements pull in, extras and markers
    honoured; fails when a requirement is not installed here or its installed version is outside its bounds."""
    needed: dict[str, str] = {}
    queue = [(requirement, {""}) for requirement in requirements]
    while queue:
        requirement, extras = queue.pop()
        if requirement.marker and not any(requirement.marker.evaluate({"extra": extra}) for extra in extras):
            continue
        name = canonicalize_name(requirement.name)
        try:
            installed = distribution(requirement.name)
        except PackageNotFoundError:
            pytest.fail(f"{requirement} is not installed in this virtualenv: cannot check the function's closure")
        assert requirement.specifier.contains(installed.version, prereleases=True), f"{requirement}: {installed.version}"
        if name in needed and not requirement.extras:
            continue
        needed[name] = installed.version
        queue += [(Requirement(dep), set(requirement.extras) | {""}) for dep in installed.requires or []]
    return needed


def function_requirements() -> list[Requirement]:
    lines = [line.split("#")[0].strip() for line in REQUIREMENTS.read_text().splitlines()]
    return [Requirement(line) for line in lines if line]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The zip, built by the command the workflow runs."""
    out = tmp_path_factory.mktemp("dist") / "retrain.zip"
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.retrain_trigger.package", "--out", str(out)],
        cwd=ROOT_DIR, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == f"{out}: {len(zipfile.ZipFile(out).namelist())} files"
    return out


def test_the_zip_has_the_function_at_its_root_and_only_the_modules_it_and_the_steps_import(built):
    names = zipfile.ZipFile(built).namelist()
    assert names[0] == ".amlignore" and names[1:] == sorted(names[1:])  # reproducible order
    assert {n for n in names if "/" not in n} == {".amlignore", "function_app.py", "host.json", "requirements.txt"}
    for name in ("function_app.py", "host.json", "requirements.txt"):
        assert zipfile.ZipFile(built).read(name) == (ROOT_DIR / "pipelines" / "retrain_trigger" / name).read_bytes()
    modules = {n for n in names if "/" in n}
    assert modules >= REQUIRED_MODULES
    assert not [n for n in modules if n.startswith(("components/", "stacks/", "policies/", "mlops/", "tests/"))]
    assert "pipelines/retrain_trigger/function_app.py" not in modules  # it is the root function_app.py
    for name in modules:  # every package on the way has its __init__.py
        parts = name.split("/")[:-1]
        assert all(f"{'/'.join(parts[: i + 1])}/__init__.py" in modules for i in range(len(parts))), name
    assert zipfile.ZipFile(built).read(".amlignore").decode().splitlines()[0] == ".python_packages/"


def test_the_build_is_reproducible(built, tmp_path):
    again = tmp_path / "again.zip"
    package.build(again)
    assert again.read_bytes() == built.read_bytes()
    assert {info.date_time for info in zipfile.ZipFile(again).infolist()} == {package.ZIP_TIME}


def test_requirements_pull_no_pulumi_and_no_cli():
    needed = needed_distributions(function_requirements())
    assert {"azure-functions", "azure-ai-ml", "mlflow-skinny", "pydantic"} <= set(needed)
    assert FORBIDDEN_DISTRIBUTIONS.isdisjoint(needed), sorted(FORBIDDEN_DISTRIBUTIONS & set(needed))


def site_packages_of(names: set[str], target: Path) -> Path:
    """A site-packages folder with only these distributions: each installed file linked to this virtualenv's copy."""
    for dist in distributions():
        if canonicalize_name(dist.metadata["Name"]) not in names:
            continue
        for file in dist.files or []:
            if file.parts[0] == ".." or "__pycache__" in file.parts:  # scripts in bin/, compiled caches
                continue
            link = target / file
            if not link.exists():
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(Path(dist.locate_file(file)).resolve())
    return target


def test_the_function_runs_from_its_package_with_only_its_requirements(built, tmp_path, stack_outputs_json):
    wwwroot = tmp_path / "wwwroot"
    zipfile.ZipFile(built).extractall(wwwroot)
    site = site_packages_of(set(needed_distributions(function_requirements())), tmp_path / "site-packages")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true"}
    env |= SETTINGS | {"MLOPS_STACK_OUTPUTS": stack_outputs_json}
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", RUN_FROM_PACKAGE, str(wwwroot), str(site)],
        cwd=wwwroot, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["function"] == "retrain"
    assert result["job_steps"] == ["gather", "validate", "prep", "train", "evaluate", "gate", "register"]
    loaded = result["modules"]
    assert [m for m in loaded if m.split(".")[0] in FORBIDDEN_MODULES or m.startswith("mlops.commands")] == []
    # Project code came from the package, not from the repository.
    assert result["project_files"] and all(Path(f).is_relative_to(wwwroot) for f in result["project_files"].values())
    # mlflow imports pandas and scipy when they are there; without them the function still builds the job.
    assert not {"pandas", "scipy"} & {m.split(".")[0] for m in loaded}


def test_a_closure_that_reaches_components_is_refused(project_copy):
    trigger = project_copy / "pipelines" / "retrain_trigger" / "trigger.py"
    trigger.write_text(trigger.read_text() + "\n\ndef _context():\n    from components.context import PlatformContext\n")
    with pytest.raises(package.PackageError, match=r"^the function import components, components\.context, .*pulumi_azure_native: "):
        package.package_files(project_copy)
