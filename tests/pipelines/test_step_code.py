"""Each pipeline step's code snapshot: exactly the modules its entry point imports, a version that follows their
content and nothing else, staged reproducibly, and carried by the step's Azure ML command component."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import load_stack_config
from core.paths import ROOT_DIR
from pipelines.aml import build_pipeline, code_snapshot
from pipelines.step_code import StepCodeError, stage_steps, step_code
from pipelines.steps import STEPS, pipeline_parameters, step

# The neutral leaf modules every step imports (errors, paths): core/, never the CLI.
LEAF = ["core/__init__.py", "core/errors.py", "core/paths.py"]
COMMON = ["pipelines/__init__.py", "pipelines/sample_data.py", "pipelines/steps/__init__.py", "pipelines/steps/common.py"]


def files_in(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize(
    ("name", "own"),
    [
        ("prep", ["pipelines/steps/prep.py"]),
        ("validate", ["pipelines/steps/prep.py", "pipelines/steps/validate.py"]),
        ("evaluate", ["pipelines/steps/evaluate.py"]),
        ("gate", ["pipelines/model_metadata.py", "pipelines/names.py", "pipelines/registry.py", "pipelines/steps/evaluate.py",
                  "pipelines/steps/gate.py"]),
        ("gather", ["pipelines/collect.py", "pipelines/drift.py", "pipelines/drift_report.py", "core/metrics.py",
                    "pipelines/monitor.py", "pipelines/steps/gather.py", "pipelines/telemetry.py", "core/contracts.py",
                    "core/sections.py"]),
    ],
)  # fmt: skip
def test_a_snapshot_holds_exactly_the_modules_its_step_imports(tmp_path, name, own):
    code = step_code(step(name))
    assert list(code.files) == sorted([*LEAF, *COMMON, *own])
    folder = code.stage(tmp_path)
    assert folder == tmp_path / f"{name}-{code.version}" and files_in(folder) == list(code.files)
    assert all((folder / f).read_bytes() == (ROOT_DIR / f).read_bytes() for f in code.files)


def test_no_snapshot_carries_the_program_the_cli_policies_tests_or_workflows():
    for each in STEPS:
        files = step_code(each).files
        assert f"pipelines/steps/{each.name}.py" in files
        assert all(f.endswith(".py") for f in files)  # no stack files, README, requirements, caches
        assert not [f for f in files if f.startswith(("components/", "stacks/", "mlops/", "policies/", "tests/", ".github/", "pipelines/images/"))]
        assert set(LEAF) <= set(files)


def test_the_version_follows_the_steps_files_and_nothing_else(project_copy):
    before = {s.name: step_code(s, project_copy).version for s in STEPS}
    assert before == {s.name: step_code(s).version for s in STEPS}  # the same content is the same version anywhere
    assert len(set(before.values())) == len(STEPS)
    for unrelated in ("README.md", "core/naming.py", "core/config.py", "stacks/Pulumi.dev.yaml", "mlops/cli.py"):
        (project_copy / unrelated).write_text((project_copy / unrelated).read_text() + "\n# edited\n")
    assert {s.name: step_code(s, project_copy).version for s in STEPS} == before
    gate = project_copy / "pipelines" / "steps" / "gate.py"
    gate.write_text(gate.read_text() + "\n# edited\n")
    after = {s.name: step_code(s, project_copy).version for s in STEPS}
    assert {n for n in before if after[n] != before[n]} == {"gate"}
    evaluate = project_copy / "pipelines" / "steps" / "evaluate.py"  # the gate imports it too
    evaluate.write_text(evaluate.read_text() + "\n# edited\n")
    again = {s.name: step_code(s, project_copy).version for s in STEPS}
    assert {n for n in after if again[n] != after[n]} == {"evaluate", "gate"}
    common = project_copy / "pipelines" / "steps" / "common.py"
    common.write_text(common.read_text() + "\n# edited\n")
    assert {n for n, v in {s.name: step_code(s, project_copy).version for s in STEPS}.items() if v != again[n]} == set(before)


def test_staging_is_reproducible(tmp_path):
    first = stage_steps(STEPS, tmp_path / "a")
    second = stage_steps(STEPS, tmp_path / "b")
    again = stage_steps(STEPS, tmp_path / "a")  # already there: the same folders, nothing rewritten
    assert again == first
    for name, (folder, version) in first.items():
        assert folder.name == f"{name}-{version}" == second[name][0].name
        assert files_in(folder) == files_in(second[name][0])
        assert all((folder / f).read_bytes() == (second[name][0] / f).read_bytes() for f in files_in(folder))
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(f"{n}-{v}" for n, (_, v) in first.items())


def test_a_step_that_reaches_the_program_is_refused(project_copy):
    train = project_copy / "pipelines" / "steps" / "train.py"
    train.write_text(train.read_text() + "\n\ndef _context():\n    from components.context import PlatformContext\n")
    with pytest.raises(StepCodeError, match=r"^step train imports components, components\.context, .*: the training image"):
        step_code(step("train"), project_copy)


def test_every_component_carries_its_steps_snapshot_and_version(dev_outputs):
    """(What Azure ML receives of them: tests/pipelines/test_aml.py, the submit test.)"""
    parameters = pipeline_parameters("dev", load_stack_config("dev").training, "0" * 40)
    with code_snapshot() as staging:
        job = build_pipeline(dev_outputs, parameters, code=staging)
        for each in STEPS:
            component = job.jobs[each.name].component
            code = step_code(each)
            assert component.version == code.version
            assert component.code == str(staging / f"{each.name}-{code.version}")
            assert files_in(Path(component.code)) == list(code.files)
            assert component._validate().passed, each.name
    assert not staging.exists()  # a submission keeps no copies


def test_pipeline_show_stages_under_the_mlops_home(dev_outputs, tmp_path):
    parameters = pipeline_parameters("dev", load_stack_config("dev").training, "0" * 40)
    job = build_pipeline(dev_outputs, parameters)
    home = tmp_path / "home" / "code"  # MLOPS_HOME of this test (tests/pipelines/conftest.py)
    assert Path(job.jobs["train"].component.code).parent == home
    assert sorted(p.name for p in home.iterdir()) == sorted(f"{s.name}-{step_code(s).version}" for s in STEPS)
