"""Edge tests: a small model trained on the sample data (`pipelines/sample_data.py`), saved as the train step
saves it, its ONNX export written by the train step's own code, and helpers to publish it as a device fetches it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from pipelines.model_metadata import ONNX_FILE
from pipelines.onnx_export import save_onnx
from pipelines.registry import MODEL_NAME
from pipelines.sample_data import generate_telemetry
from pipelines.steps.common import FEATURES_META, TEST_FILE, TRAIN_FILE
from pipelines.steps.prep import prepare
from pipelines.steps.train import save_model, train_model

N_ESTIMATORS, MAX_DEPTH = 30, 6


@dataclass(frozen=True)
class Trained:
    model: Pipeline
    folder: Path  # the train step's model folder (MLflow model, ONNX_FILE)
    train: pd.DataFrame
    test: pd.DataFrame

    @property
    def onnx(self) -> bytes:
        return (self.folder / ONNX_FILE).read_bytes()


def trained_model(folder: Path, seed: int, n_estimators: int = N_ESTIMATORS) -> Trained:
    features = prepare(generate_telemetry(2000, seed=seed))
    model = train_model(features.train, n_estimators, MAX_DEPTH)
    save_model(model, features.train, folder)
    save_onnx(model, folder, features.test)
    return Trained(model, folder, features.train, features.test)


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> Trained:
    return trained_model(tmp_path_factory.mktemp("edge") / "model", seed=11)


@pytest.fixture(scope="session")
def retrained(tmp_path_factory) -> Trained:
    """Another version: other data, other trees, so other predictions and another file."""
    return trained_model(tmp_path_factory.mktemp("edge") / "model", seed=12, n_estimators=15)


def write_features(trained: Trained, folder: Path) -> Path:
    """The prep step's output folder for these splits (what the train step reads)."""
    folder.mkdir(parents=True, exist_ok=True)
    trained.train.to_parquet(folder / TRAIN_FILE, index=False)
    trained.test.to_parquet(folder / TEST_FILE, index=False)
    (folder / FEATURES_META).write_text(json.dumps({"data_version": "sha256:test"}))
    return folder


def published(content: bytes, folder: Path, name: str = MODEL_NAME, version: str = "1") -> dict[str, str]:
    """The module twin's desired model properties for `content` placed where the device reads it (file://)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{version}.onnx"
    path.write_bytes(content)
    return {"modelName": name, "modelVersion": version, "modelUri": path.as_uri(), "modelSha256": hashlib.sha256(content).hexdigest()}
