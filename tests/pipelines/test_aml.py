"""The Azure ML pipeline built offline from stack outputs; `pipeline show`; `--submit` against Azure at the wire.

The submit tests run the CLI with the real azure-identity and azure-ai-ml clients; only HTTP is answered, from
recordings (tests/azure/), and the requests are asserted. The stack outputs come from the offline mock run.
"""

import json
import os
import stat

import pytest
from ruamel.yaml import YAML

from core.config import load_stack_config
from mlops import outputs as stack_outputs
from pipelines import runner
from pipelines.aml import RAW_DATA_PATH, TRAINING_IMAGE, build_pipeline, code_snapshot
from pipelines.registry import MODEL_NAME, experiment_name
from pipelines.steps import STEPS, pipeline_parameters
from tests.azure.wire import token_for
from tests.azure.workspace import RecordedWorkspace
from tests.pipelines.conftest import cli

PARAMETERS = pipeline_parameters("dev", load_stack_config("dev").training, "0" * 40)


def test_pipeline_and_every_component_validate_offline(dev_outputs):
    job = build_pipeline(dev_outputs, PARAMETERS)
    assert job._validate().passed
    assert list(job.jobs) == [step.name for step in STEPS]
    for step in STEPS:
        component = job.jobs[step.name].component
        assert component._validate().passed, step.name
        assert component.command.startswith(f"python -m pipelines.steps.{step.name} ")
        assert set(component.inputs) == {p.name for p in step.inputs}
        assert component.is_deterministic is step.deterministic


def test_compute_data_image_and_experiment_come_from_the_outputs(dev_outputs):
    job = build_pipeline(dev_outputs, PARAMETERS)
    assert job.compute == dev_outputs.compute_name
    assert job.experiment_name == experiment_name("dev")
    assert job.jobs["gather"].inputs.history.path == f"{dev_outputs.container_urls.raw}/{RAW_DATA_PATH}"
    assert job.jobs["gather"].inputs.predictions.path == dev_outputs.container_urls.predictions
    assert job.jobs["gather"].inputs.labels.path == dev_outputs.container_urls.labels
    assert {j.component.environment.image for j in job.jobs.values()} == {
        f"{dev_outputs.registry_login_server}/{TRAINING_IMAGE}"
    }
    other = dev_outputs.model_copy(update={"compute_name": "cpu-other", "registry_login_server": "other.azurecr.io"})
    moved = build_pipeline(other, PARAMETERS)
    assert moved.compute == "cpu-other"
    assert moved.jobs["train"].component.environment.image.startswith("other.azurecr.io/")


def test_ports_are_wired_by_name_and_parameters_come_from_the_stack_config(dev_outputs):
    rest = build_pipeline(dev_outputs, PARAMETERS)._to_rest_object().as_dict()["properties"]["jobs"]
    assert rest["evaluate"]["inputs"]["model"]["value"] == "${{parent.jobs.train.outputs.model}}"
    assert rest["gate"]["inputs"]["metrics"]["value"] == "${{parent.jobs.evaluate.outputs.metrics}}"
    assert rest["register"]["inputs"]["verdict"]["value"] == "${{parent.jobs.gate.outputs.verdict}}"
    assert rest["gate"]["inputs"]["min_auc"]["value"] == "0.75"  # stacks/Pulumi.dev.yaml training.minAuc
    assert rest["train"]["inputs"]["n_estimators"]["value"] == "200"


def test_the_gate_compares_with_the_stacks_live_model_from_the_shared_registry(dev_outputs):
    live = dev_outputs.model_copy(update={"live_model": f"{MODEL_NAME}:3"})
    parameters = pipeline_parameters("dev", load_stack_config("dev").training, "0" * 40, live.live_model)
    job = build_pipeline(live, parameters)
    assert job._validate().passed
    gate = job._to_rest_object().as_dict()["properties"]["jobs"]["gate"]["inputs"]
    assert gate["live_model"]["uri"] == f"azureml://registries/{dev_outputs.ml_registry_name}/models/{MODEL_NAME}/versions/3"
    assert gate["live_version"]["value"] == f"{MODEL_NAME}:3"
    component = job.jobs["gate"].component
    assert "$[[--live_model ${{inputs.live_model}}]]" in component.command and component.inputs["live_model"].optional
    # before the first deployment (dev has none): no live model input, and the gate says so
    first = build_pipeline(dev_outputs, pipeline_parameters("dev", load_stack_config("dev").training, "0" * 40, dev_outputs.live_model))
    assert first._validate().passed and dev_outputs.live_model is None
    inputs = first._to_rest_object().as_dict()["properties"]["jobs"]["gate"]["inputs"]
    assert "live_model" not in inputs and inputs["live_version"]["value"] == "none"


def test_show_prints_the_pipeline_yaml(tmp_path, capsys, dev_outputs):
    code, err = cli(capsys, "pipeline", "show", "--stack", "dev", "--out", str(tmp_path / "job.yaml"))
    document = YAML(typ="safe").load(tmp_path / "job.yaml")
    assert (code, err) == (0, "")
    assert document["compute"] == f"azureml:{dev_outputs.compute_name}"
    assert list(document["jobs"]) == sorted(step.name for step in STEPS)


def test_outputs_come_from_the_pulumi_cli_when_it_is_installed(tmp_path, monkeypatch, dev_outputs):
    fake = tmp_path / "bin" / "pulumi"
    fake.parent.mkdir()
    exported = dev_outputs.model_dump(by_alias=True, mode="json") | {
        "computeName": "from-cli",
        "applicationInsightsConnectionString": "InstrumentationKey=x",
    }
    fake.write_text(f"#!/bin/sh\ncat <<'EOF'\n{json.dumps(exported)}\nEOF\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    assert stack_outputs.load_outputs("dev").compute_name == "from-cli"


ARM_TOKEN = token_for("https://management.azure.com")


def test_submit_signs_in_uploads_the_code_creates_the_job_and_names_the_registered_version(dev_outputs, azure, capsys):
    commit = runner.git_commit()
    workspace = RecordedWorkspace(dev_outputs, models=[
        ("3", {"stack": "dev", "git_commit": commit}),
        ("4", {"stack": "dev", "git_commit": commit}),
        ("5", {"stack": "staging", "git_commit": commit}),
        ("6", {"stack": "dev", "git_commit": "another-commit"}),
        ("7", {"stack": "dev", "git_commit": commit, "pipeline_job": "a-job-of-another-run"}),
    ]).install(azure)
    code, _ = cli(capsys, "pipeline", "run", "--stack", "dev", "--submit", "--out", "run.json")
    assert code == 0 and azure.unrouted == []
    [name] = workspace.jobs
    assert json.loads(open("run.json").read()) == {"stack": "dev", "status": "Completed", "job": name, "model": f"{MODEL_NAME}:4"}

    [login] = [c for c in azure.calls if c.path.endswith("/oauth2/v2.0/token") and "management.azure.com" in c.body]
    assert "grant_type=client_credentials" in login.body
    arm = azure.requests_to("management.azure.com")
    assert arm and all(c.bearer == ARM_TOKEN and c.api_version for c in arm)
    [job_put] = [c for c in arm if c.method == "PUT" and "/jobs/" in c.path]
    assert job_put.path == f"{dev_outputs.workspace_id}/jobs/{name}"
    properties = job_put.json()["properties"]
    assert properties["jobType"] == "Pipeline" and properties["experimentName"] == experiment_name("dev")
    assert properties["computeId"].endswith(f"/computes/{dev_outputs.compute_name}")
    assert set(properties["jobs"]) == {step.name for step in STEPS}
    validate = properties["jobs"]["gather"]["inputs"]["history"]
    assert validate["uri"].endswith(f"/raw/{RAW_DATA_PATH}")
    components = [c for c in arm if c.method == "PUT" and "/components/" in c.path]
    assert len(components) == len(STEPS)
    assert {c.json()["properties"]["componentSpec"]["command"].split()[2] for c in components} == {
        f"pipelines.steps.{step.name}" for step in STEPS
    }
    uploaded = {path.split("/", 3)[-1] for path in workspace.blobs}  # /<container>/<snapshot folder>/<file>
    assert {"pipelines/steps/gate.py", "core/config.py"} <= uploaded
    assert not any(".venv/" in p or "__pycache__" in p for p in uploaded)  # .gitignore is honoured
    # the job's token for the code snapshot is an Azure ML one, not ARM's
    assert job_put.headers["x-azureml-token"] == token_for("https://ml.azure.com")
    # the versions of this model, then the one it registered (does it name a training data asset? not these)
    assert [c.path for c in arm if "/models/" in c.path] == [f"{dev_outputs.workspace_id}/models/{MODEL_NAME}/versions",
                                                             f"{dev_outputs.workspace_id}/models/{MODEL_NAME}/versions/4"]
    assert not [c for c in arm if "/data/" in c.path]


@pytest.mark.parametrize("status", ["Failed", "Canceled"])
def test_submit_refuses_failed_and_canceled_jobs(dev_outputs, azure, capsys, status):
    workspace = RecordedWorkspace(dev_outputs, final_status=status).install(azure)
    code, err = cli(capsys, "pipeline", "run", "--stack", "dev", "--submit", "--out", "run.json")
    [name] = workspace.jobs
    assert code == 1 and f"pipeline job {name} ended {status}" in err and "Traceback" not in err
    assert json.loads(open("run.json").read()) == {"stack": "dev", "status": status, "job": name, "model": None}
    assert not [c for c in azure.calls if "/models/" in c.path]  # nothing is looked up for a failed run


def _submitted_job(capsys, workspace) -> str:
    """A training pipeline job in the recorded workspace, created the way any submitter creates it."""
    code, err = cli(capsys, "pipeline", "run", "--stack", "dev", "--submit")
    assert code == 0, err
    [name] = workspace.jobs
    return name


def test_adopt_waits_for_a_submitted_job_and_names_the_version_that_job_registered(dev_outputs, azure, capsys):
    workspace = RecordedWorkspace(dev_outputs).install(azure)
    name = _submitted_job(capsys, workspace)
    workspace.models = [
        ("8", {"stack": "dev", "pipeline_job": name}),
        ("9", {"stack": "dev", "pipeline_job": "a-later-job"}),
        ("10", {"stack": "dev", "git_commit": runner.git_commit()}),  # not this job's: an adopted run has no fallback
    ]
    before = len(azure.calls)
    code, err = cli(capsys, "pipeline", "run", "--stack", "dev", "--adopt", name, "--out", "run.json")
    assert code == 0, err
    assert json.loads(open("run.json").read()) == {"stack": "dev", "status": "Completed", "job": name, "model": f"{MODEL_NAME}:8"}
    adopted = azure.calls[before:]
    assert not [c for c in adopted if c.method == "PUT"]  # nothing submitted, nothing uploaded
    assert f"{dev_outputs.workspace_id}/jobs/{name}" in {c.path for c in adopted if c.method == "GET"}


def test_adopt_records_a_failed_job_and_names_no_model(dev_outputs, azure, capsys):
    workspace = RecordedWorkspace(dev_outputs).install(azure)
    name = _submitted_job(capsys, workspace)
    workspace.final_status = "Failed"
    code, err = cli(capsys, "pipeline", "run", "--stack", "dev", "--adopt", name, "--out", "run.json")
    assert code == 1 and f"pipeline job {name} ended Failed" in err
    assert json.loads(open("run.json").read()) == {"stack": "dev", "status": "Failed", "job": name, "model": None}


def test_adopt_refuses_unknown_jobs_other_experiments_and_bad_names(dev_outputs, azure, capsys):
    workspace = RecordedWorkspace(dev_outputs).install(azure)
    code, err = cli(capsys, "pipeline", "run", "--stack", "dev", "--adopt", "no-such-job")
    assert code == 2 and "has no job no-such-job" in err and "Traceback" not in err
    name = _submitted_job(capsys, workspace)
    workspace.jobs["other-job"] = json.loads(json.dumps(workspace.jobs[name])) | {"name": "other-job"}
    workspace.jobs["other-job"]["properties"]["experimentName"] = "someone-elses-experiment"
    code, err = cli(capsys, "pipeline", "run", "--stack", "dev", "--adopt", "other-job")
    assert code == 2 and "not a training pipeline of 'predictive-maintenance-training-dev'" in err
    for argv in (["--adopt", name, "--submit"], ["--adopt", "bad name;rm"]):
        code, err = cli(capsys, "pipeline", "run", "--stack", "dev", *argv)
        assert code == 2 and "--adopt" in err


def test_submit_uploads_a_local_data_file(dev_outputs, azure, capsys, tmp_path):
    workspace = RecordedWorkspace(dev_outputs).install(azure)
    data = tmp_path / "telemetry.parquet"
    data.write_bytes(b"PAR1 offline")
    code, err = cli(capsys, "pipeline", "run", "--stack", "dev", "--submit", "--data", str(data))
    assert code == 0, err
    [upload] = [c for c in azure.calls if c.method == "PUT" and c.path.endswith("/telemetry.parquet") and not c.query]
    assert upload.bearer == token_for("https://storage.azure.com")  # identity-based datastore: no account key, no SAS
    [job] = workspace.jobs.values()
    assert job["properties"]["jobs"]["gather"]["inputs"]["history"]["uri"].startswith("azureml://")


def test_the_code_snapshot_is_what_git_would_commit_and_the_folder_itself_without_git(tmp_path, monkeypatch):
    project = tmp_path / "project"
    (project / ".venv" / "lib").mkdir(parents=True)
    (project / ".venv" / "lib" / "big.py").write_text("")
    (project / "pipelines").mkdir()
    (project / "pipelines" / "train.py").write_text("print('train')\n")
    (project / ".gitignore").write_text(".venv/\n")
    assert os.system(f"git -C {project} init -q") == 0
    with code_snapshot(project) as snapshot:
        files = sorted(p.relative_to(snapshot).as_posix() for p in snapshot.rglob("*") if p.is_file())
        assert snapshot != project and files == [".gitignore", "pipelines/train.py"]
    monkeypatch.setenv("PATH", str(tmp_path / "no-git-here"))  # the retrain function's host has no git
    with code_snapshot(project) as snapshot:
        assert snapshot == project
