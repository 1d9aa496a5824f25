"""Versioned training data: the local run logs its input as an MLflow dataset and the model names it; `data show`
prints the lineage (local store, and the workspace over the wire with the real azure-ai-ml); submit registers the
data asset version the model names."""

from __future__ import annotations

import json

import pytest
from mlflow import MlflowClient

from pipelines import runner
from pipelines.lineage import asset_version
from pipelines.registry import MODEL_NAME
from pipelines.steps.prep import data_version
from tests.azure.wire import token_for
from tests.azure.workspace import RecordedWorkspace
from tests.pipelines.conftest import cli, write

ASSET = f"{MODEL_NAME}-training-data"


def run_pipeline(capsys, sample, tmp_path):
    data = write(sample, tmp_path / "telemetry.parquet")
    code, err = cli(capsys, "pipeline", "run", "--stack", "dev", "--data", str(data))
    assert code == 0, err
    return data


def test_the_run_logs_its_training_input_and_the_model_names_the_asset(sample, tmp_path, capsys):
    data = run_pipeline(capsys, sample, tmp_path)
    digest = data_version(sample)
    client = MlflowClient()
    version = client.get_model_version(MODEL_NAME, "1")
    assert version.tags["training_data"] == f"{ASSET}:{digest[7:19]}"
    assert version.tags["training_rows"] == str(len(sample))
    [used] = client.get_run(version.run_id).inputs.dataset_inputs
    assert (used.dataset.name, used.dataset.digest) == (ASSET, digest[7:19])
    assert json.loads(used.dataset.source)["uri"] == str(data)
    assert json.loads(used.dataset.profile)["num_rows"] == len(sample)
    assert {t.key: t.value for t in used.tags} == {"mlflow.data.context": "training", "data_version": digest}


def test_data_show_prints_the_lineage_of_a_local_model_version(sample, tmp_path, capsys):
    data = run_pipeline(capsys, sample, tmp_path)
    digest = data_version(sample)
    from mlops.cli import main

    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "show", "--stack", "dev", "--model", f"{MODEL_NAME}:1"])
    assert exit_info.value.code in (0, None)
    lines = capsys.readouterr().out.splitlines()
    assert lines[:5] == [
        f"model:      {MODEL_NAME}:1",
        f"asset:      {ASSET}:{digest[7:19]}",
        f"path:       {data}",
        f"hash:       {digest}",
        f"rows:       {len(sample)}",
    ]
    assert lines[5].startswith("validation: passed (") and lines[5].endswith(" expectations)") and len(lines) == 6


@pytest.mark.parametrize(
    ("model", "code", "message"),
    [
        (f"{MODEL_NAME}:9", 1, f"refused: --model: the local registry has no {MODEL_NAME}:9"),
        ("predictive-maintenance", 2, "error: --model: 'predictive-maintenance' is not NAME:VERSION"),
    ],
)
def test_data_show_errors(sample, tmp_path, capsys, model, code, message):
    run_pipeline(capsys, sample, tmp_path)
    got, err = cli(capsys, "data", "show", "--stack", "dev", "--model", model)
    assert got == code and err.startswith(message) and len(err.strip().splitlines()) == 1


def test_data_show_refuses_the_shared_stack(capsys):
    code, err = cli(capsys, "data", "show", "--stack", "shared", "--model", f"{MODEL_NAME}:1")
    assert code == 2 and err.startswith("error: --stack: 'shared' holds only the shared Azure ML registry")


def test_asset_version_is_the_short_hash_and_refuses_anything_else():
    assert asset_version("sha256:" + "ab" * 32) == "ab" * 6
    with pytest.raises(Exception, match="is not sha256:<64 hex digits>"):
        asset_version("md5:1234")


DIGEST = "sha256:" + "c7" * 32
TAGS = {"stack": "dev", "data_version": DIGEST, "training_data": f"{ASSET}:{'c7' * 6}", "training_rows": "3000"}


def test_submit_registers_the_data_asset_the_model_names(dev_outputs, azure, capsys):
    commit = runner.git_commit()
    workspace = RecordedWorkspace(dev_outputs, models=[("4", {**TAGS, "git_commit": commit})]).install(azure)
    code, err = cli(capsys, "pipeline", "run", "--stack", "dev", "--submit")
    assert code == 0 and azure.unrouted == [], err
    [put] = [c for c in azure.requests_to("management.azure.com") if c.method == "PUT" and "/data/" in c.path]
    assert put.path == f"{dev_outputs.workspace_id}/data/{ASSET}/versions/{'c7' * 6}"
    assert put.bearer == token_for("https://management.azure.com") and put.api_version
    properties = put.json()["properties"]
    assert properties["dataType"] == "uri_file"
    assert properties["dataUri"] == f"{dev_outputs.container_urls.raw}/telemetry/training.parquet"
    assert properties["tags"] == {"data_version": DIGEST, "rows": "3000", "validation": "passed", "model": f"{MODEL_NAME}:4"}
    assert f"training data {ASSET}:{'c7' * 6}: " in err
    assert list(workspace.data) == [f"{ASSET}:{'c7' * 6}"]


def test_data_show_reads_the_workspace_over_arm(dev_outputs, azure, capsys):
    workspace = RecordedWorkspace(dev_outputs, models=[("4", TAGS)]).install(azure)
    path = f"{dev_outputs.container_urls.raw}/telemetry/training.parquet"
    workspace.data[f"{ASSET}:{'c7' * 6}"] = {
        "id": f"{dev_outputs.workspace_id}/data/{ASSET}/versions/{'c7' * 6}", "name": "c7" * 6,
        "type": "Microsoft.MachineLearningServices/workspaces/data/versions",
        "properties": {"dataType": "uri_file", "dataUri": path, "tags": {"data_version": DIGEST, "rows": "3000", "validation": "passed"}},
    }
    from mlops.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["data", "show", "--stack", "dev", "--model", f"{MODEL_NAME}:4", "--registry", "workspace"])
    assert exit_info.value.code in (0, None)
    assert capsys.readouterr().out.splitlines() == [
        f"model:      {MODEL_NAME}:4", f"asset:      {ASSET}:{'c7' * 6}", f"path:       {path}", f"hash:       {DIGEST}",
        "rows:       3000", "validation: passed",
    ]  # fmt: skip
    gets = [c.path for c in azure.requests_to("management.azure.com") if c.method == "GET" and ("/models/" in c.path or "/data/" in c.path)]
    assert gets == [f"{dev_outputs.workspace_id}/models/{MODEL_NAME}/versions/4", f"{dev_outputs.workspace_id}/data/{ASSET}/versions/{'c7' * 6}"]


def test_data_show_of_a_missing_workspace_version_is_exit_1(dev_outputs, azure, capsys):
    RecordedWorkspace(dev_outputs, models=[("4", TAGS)]).install(azure)
    code, err = cli(capsys, "data", "show", "--stack", "dev", "--model", f"{MODEL_NAME}:9", "--registry", "workspace")
    assert code == 1 and err.startswith(f"refused: --model: the dev workspace has no {MODEL_NAME}:9")
