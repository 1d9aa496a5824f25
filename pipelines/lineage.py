"""Versioned training data: the exact input a model version was trained on, registered and named by the model.

A training input is registered as a version of the data asset `<model>-training-data` (core/outputs.py) whose
version is the short form of its content hash (`pipelines.steps.prep.data_version`, sha256 over the columns and
the rows): the same data always gets the same version, so a retrain on unchanged data names the asset that already
exists, two runs cannot race for "the next number", and the model's register step can name the asset before it is
registered. Azure ML accepts any string as a data asset version. The full hash is a tag of the asset.

- Locally the MLflow run logs the input as a dataset (`mlflow.log_input`, context `training`, digest = the short
  hash), which `mlflow ui` shows on the run and its model version.
- In Azure ML the submitter (or adopter) registers the data asset version once the pipeline job completed (the
  gather step's `history` input, as Azure ML resolved it), tagged with the hash, rows and validation result; rows
  a recent window added are in the hash, not under that path (README, Versioned training data).
- Every model version carries `training_data` = `<asset>:<version>` (register step), so `mlops data show` can
  print a model's lineage from either registry.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import BadInput
from core.outputs import training_data_asset

TRAINING_DATA_TAG = "training_data"  # model version tag: <asset name>:<asset version>
ROWS_TAG = "training_rows"
HASH_TAG = "data_version"  # the full content hash, as the register step's lineage tags already call it
CONTEXT = "training"
SHORT_HASH = 12  # hex digits of the sha256 in the asset version: 48 bits, collisions negligible per model
VALIDATION_ARTIFACT = "validation_result/validation_result.json"  # logged by the local runner


def asset_version(data_version: str) -> str:
    """`sha256:<64 hex>` -> its first SHORT_HASH hex digits."""
    algorithm, _, digest = data_version.partition(":")
    if algorithm != "sha256" or len(digest) != 64:
        raise BadInput(f"data version {data_version!r} is not sha256:<64 hex digits> (prep writes it)")
    return digest[:SHORT_HASH]


def asset_ref(model: str, data_version: str) -> str:
    """`<model>-training-data:<short hash>`: the data asset version a model version records."""
    return f"{training_data_asset(model)}:{asset_version(data_version)}"


def data_asset_tags(model: str, data_version: str, rows: int) -> dict[str, str]:
    """The model version's tags naming its training data."""
    return {TRAINING_DATA_TAG: asset_ref(model, data_version), ROWS_TAG: str(rows)}


def log_training_input(frame, source: str | Path, data_version: str, model: str) -> None:
    """Log the training input to the active MLflow run as a dataset (name, digest, source, schema, profile)."""
    import mlflow
    import mlflow.data

    dataset = mlflow.data.from_pandas(frame, source=str(source), name=training_data_asset(model), digest=asset_version(data_version))
    mlflow.log_input(dataset, context=CONTEXT, tags={HASH_TAG: data_version})


@dataclass(frozen=True)
class Lineage:
    model: str  # NAME:VERSION
    asset: str  # asset name:version
    path: str
    data_version: str
    rows: str
    validation: str

    def lines(self) -> list[str]:
        fields = (("model", self.model), ("asset", self.asset), ("path", self.path), ("hash", self.data_version),
                  ("rows", self.rows), ("validation", self.validation))  # fmt: skip
        return [f"{label + ':':<12}{value}" for label, value in fields]

    def as_dict(self) -> dict[str, str]:
        return {"model": self.model, "asset": self.asset, "path": self.path, "hash": self.data_version, "rows": self.rows,
                "validation": self.validation}  # fmt: skip


def validation_summary(result: Mapping[str, Any]) -> str:
    """'passed (12 of 12 expectations)' from a Great Expectations validation result."""
    statistics = result.get("statistics") or {}
    verdict = "passed" if result.get("success") else "failed"
    return f"{verdict} ({statistics.get('successful_expectations', '?')} of {statistics.get('evaluated_expectations', '?')} expectations)"


def local_lineage(client, name: str, version: str) -> Lineage:
    """A model version's lineage from an MLflow store: its tags, its run's training dataset input and validation."""
    from mlflow.exceptions import MlflowException

    model = client.get_model_version(name, version)
    tags = dict(model.tags or {})
    asset = tags.get(TRAINING_DATA_TAG)
    if asset is None:
        raise BadInput(f"--model: {name}:{version} records no training data (tag {TRAINING_DATA_TAG}); it was registered before data versioning")
    inputs = client.get_run(model.run_id).inputs.dataset_inputs if model.run_id else []
    found = [i for i in inputs if i.dataset.name == asset.split(":")[0]
             and {t.key: t.value for t in i.tags}.get("mlflow.data.context") == CONTEXT]  # fmt: skip
    dataset = found[0].dataset if found else None
    source = json.loads(dataset.source).get("uri", dataset.source) if dataset else "(not logged)"
    rows = str(json.loads(dataset.profile or "{}").get("num_rows", tags.get(ROWS_TAG, "?"))) if dataset else tags.get(ROWS_TAG, "?")
    try:
        validation = validation_summary(_run_json(client, model.run_id, VALIDATION_ARTIFACT))
    except (MlflowException, OSError, ValueError):
        validation = "not recorded"
    return Lineage(f"{name}:{version}", asset, source, tags.get(HASH_TAG, "?"), rows, validation)


def _run_json(client, run_id: str, path: str) -> Any:
    """A JSON artifact of a run, read through `client`'s store (not the process-wide tracking URI), quietly."""
    import os
    import tempfile

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # one line of output per command
    with tempfile.TemporaryDirectory(prefix="mlops-lineage-") as folder:
        return json.loads(Path(client.download_artifacts(run_id, path, folder)).read_text())


def register_data_asset(client, model: str, model_version: str, path: str) -> str | None:
    """Register the data asset version a workspace model version names (its tags), pointing at `path` (the job's
    `data` input); None when the model names none (registered before data versioning). Idempotent: the version is
    the content hash, so registering it again changes nothing."""
    from azure.ai.ml.constants import AssetTypes
    from azure.ai.ml.entities import Data

    tags = dict(client.models.get(name=model, version=model_version).tags or {})
    asset = tags.get(TRAINING_DATA_TAG)
    if not asset:
        return None
    name, version = asset.split(":", 1)
    client.data.create_or_update(Data(
        name=name, version=version, path=path, type=AssetTypes.URI_FILE,
        description=f"The training input of {model}:{model_version} (content hash {tags.get(HASH_TAG)})",
        # Prep refuses input that failed validation, so every registered model's data passed it.
        tags={HASH_TAG: tags.get(HASH_TAG, ""), "rows": tags.get(ROWS_TAG, ""), "validation": "passed", "model": f"{model}:{model_version}"},
    ))  # fmt: skip
    return asset


def workspace_lineage(client, name: str, version: str) -> Lineage:
    """A model version's lineage from the stack's Azure ML workspace: the model's tags and its data asset."""
    tags = dict(client.models.get(name=name, version=version).tags or {})
    asset = tags.get(TRAINING_DATA_TAG)
    if asset is None:
        raise BadInput(f"--model: {name}:{version} records no training data (tag {TRAINING_DATA_TAG}); it was registered before data versioning")
    asset_name, asset_version_ = asset.split(":", 1)
    data = client.data.get(name=asset_name, version=asset_version_)
    data_tags = dict(data.tags or {})
    return Lineage(f"{name}:{version}", asset, str(data.path), data_tags.get(HASH_TAG, tags.get(HASH_TAG, "?")),
                   data_tags.get("rows", tags.get(ROWS_TAG, "?")), data_tags.get("validation", "?"))  # fmt: skip
