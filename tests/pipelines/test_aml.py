"""The Azure ML pipeline built offline from stack outputs; `pipeline show`; `--submit` at the MLClient boundary."""

import json
import os
import stat

import pytest
from azure.ai.ml.exceptions import JobException
from azure.ai.ml.operations._run_history_constants import JobStatus
from ruamel.yaml import YAML

from mlops.errors import Refused
from pipelines import runner, stack_outputs
from pipelines.aml import RAW_DATA_PATH, TRAINING_IMAGE, build_pipeline
from pipelines.registry import MODEL_NAME, experiment_name
from pipelines.steps import STEPS, pipeline_parameters
from stacks.config import load_stack_config
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
    assert job.jobs["validate"].inputs.data.path == f"{dev_outputs.container_urls.raw}/{RAW_DATA_PATH}"
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


def test_show_prints_the_pipeline_yaml(tmp_path, capsys, monkeypatch, dev_outputs):
    monkeypatch.setattr(stack_outputs, "load_outputs", lambda stack: dev_outputs)
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


class FakeJobs:
    """Stands in for MLClient.jobs: returns the submitted azure-ai-ml PipelineJob with a name and a final status."""

    def __init__(self, final_status: str):
        self.final_status, self.submitted = final_status, []

    def create_or_update(self, job, experiment_name=None):
        self.submitted.append((job, experiment_name))
        job.name = "pm-job-1"
        return job

    def stream(self, name):
        if self.final_status == JobStatus.FAILED:
            raise JobException(message="Exception : failed", no_personal_data_message="failed")

    def get(self, name):
        job, _ = self.submitted[-1]
        job._status = self.final_status
        return job


class FakeModels:
    """Stands in for MLClient.models: the workspace's versions, as azure-ai-ml Model objects with lineage tags."""

    def __init__(self, models):
        self.models = models

    def list(self, name=None):
        return [m for m in self.models if m.name == name]


class FakeClient:
    def __init__(self, final_status: str, models=()):
        self.jobs = FakeJobs(final_status)
        self.models = FakeModels(list(models))


@pytest.fixture
def offline_outputs(monkeypatch, dev_outputs):
    monkeypatch.setattr(stack_outputs, "load_outputs", lambda stack: dev_outputs)


def test_submit_waits_for_a_completed_job_and_names_the_registered_version(offline_outputs, dev_outputs):
    from azure.ai.ml.entities import Model

    commit = runner.git_commit()
    models = [
        Model(name=MODEL_NAME, version="3", tags={"stack": "dev", "git_commit": commit}),
        Model(name=MODEL_NAME, version="4", tags={"stack": "dev", "git_commit": commit}),
        Model(name=MODEL_NAME, version="5", tags={"stack": "staging", "git_commit": commit}),
        Model(name=MODEL_NAME, version="6", tags={"stack": "dev", "git_commit": "another-commit"}),
    ]
    client = FakeClient(JobStatus.COMPLETED, models)
    record = runner.submit("dev", ml_client=client)
    assert (record.status, record.job, record.model) == ("Completed", "pm-job-1", f"{MODEL_NAME}:4")
    [(job, experiment)] = client.jobs.submitted
    assert experiment == experiment_name("dev") and job.compute == dev_outputs.compute_name


@pytest.mark.parametrize("status", [JobStatus.FAILED, JobStatus.CANCELED])
def test_submit_refuses_failed_and_canceled_jobs(offline_outputs, status):
    with pytest.raises(Refused, match=f"pipeline job pm-job-1 ended {status}") as refusal:
        runner.submit("dev", ml_client=FakeClient(status))
    assert (refusal.value.record.status, refusal.value.record.model) == (status, None)


def test_submit_uploads_a_local_data_file(offline_outputs, tmp_path):
    data = tmp_path / "telemetry.parquet"
    data.write_bytes(b"x")
    client = FakeClient(JobStatus.COMPLETED)
    runner.submit("dev", data, ml_client=client)
    assert client.jobs.submitted[0][0].jobs["validate"].inputs.data.path == str(data)
