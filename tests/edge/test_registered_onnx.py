"""The pipeline registers the ONNX export with the model version: the version's `onnx` tag names a run artifact
that exists and is the train step's export, its `onnx_sha256` tag is that file's SHA-256; `onnx_artifact` reads the
tag (None without one)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import mlflow
import numpy as np
from mlflow import MlflowClient

from pipelines.edge.model import OnnxModel
from pipelines.model_metadata import ONNX_ARTIFACT_PATH, ONNX_FILE, ONNX_SHA256_TAG, ONNX_TAG
from pipelines.registry import MODEL_NAME, onnx_artifact
from pipelines.sample_data import FEATURES
from tests.pipelines.conftest import cli, isolated, sample, write  # noqa: F401  isolated: own MLflow store under tmp_path
from tests.pipelines.test_run import versions


def test_the_registered_version_carries_its_onnx_export(sample, tmp_path, capsys):
    data = write(sample, tmp_path / "telemetry.parquet")
    code, err = cli(capsys, "pipeline", "run", "--stack", "dev", "--data", str(data))
    assert code == 0, err
    assert versions() == ["1"]
    client = MlflowClient()
    version = client.get_model_version(MODEL_NAME, "1")
    assert version.tags[ONNX_TAG] == ONNX_ARTIFACT_PATH == "onnx/model.onnx"
    assert onnx_artifact(client, MODEL_NAME, "1") == ONNX_ARTIFACT_PATH
    # The run artifact the tag names exists, and it is the file of the registered version.
    from_run = Path(mlflow.artifacts.download_artifacts(run_id=version.run_id, artifact_path=ONNX_ARTIFACT_PATH, dst_path=str(tmp_path / "run")))
    files = Path(mlflow.artifacts.download_artifacts(f"models:/{MODEL_NAME}/1", dst_path=str(tmp_path / "v1")))
    assert from_run.read_bytes() == (files / ONNX_FILE).read_bytes()
    # The digest the devices check is the registered file's.
    assert version.tags[ONNX_SHA256_TAG] == hashlib.sha256((files / ONNX_FILE).read_bytes()).hexdigest()
    assert len(version.tags[ONNX_SHA256_TAG]) == 64
    # It scores like the registered scikit-learn model.
    rows = sample[list(FEATURES)].head(200)
    sklearn_model = mlflow.sklearn.load_model(f"models:/{MODEL_NAME}/1")
    np.testing.assert_array_equal(OnnxModel(from_run.read_bytes()).score(rows.to_dict("records")).labels, sklearn_model.predict(rows))

    client.delete_model_version_tag(MODEL_NAME, "1", ONNX_TAG)
    assert onnx_artifact(client, MODEL_NAME, "1") is None
