"""register: the model into the MLflow registry, with signature, input example and lineage tags.

Tags on the model version: data version, git commit, metrics, stack, gate verdict and, in Azure ML, the pipeline
job that registered it (`pipeline_job`, how a workflow adopting that job finds its model). Registration happens only
behind a passed gate verdict, checked again here so the step can never register a refused model. The drift
reference profile the train step left in the model's folder becomes a file of the registered version (MLflow's
logged-model artifacts), so it travels with the model into the shared registry and to the monitor. The ONNX export
(`ONNX_FILE`) does too, and is also logged to the run under `ONNX_ARTIFACT_DIR`; the version's tag `ONNX_TAG` names
that run artifact path (`onnx/model.onnx`), which `pipelines.registry.onnx_artifact` reads.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import mlflow
import mlflow.sklearn
import pandas as pd
from mlflow import MlflowClient
from mlflow.models import Model

from core.errors import BadInput, Refused
from core.metrics import PROFILE_FILE
from pipelines.lineage import data_asset_tags
from pipelines.model_metadata import ONNX_ARTIFACT_DIR, ONNX_ARTIFACT_PATH, ONNX_FILE, ONNX_TAG
from pipelines.registry import MODEL_NAME, PIPELINE_JOB_ENV, PIPELINE_JOB_TAG
from pipelines.sample_data import FEATURES
from pipelines.steps import step
from pipelines.steps.common import read_features, read_json, step_main, write_json
from pipelines.steps.train import EXAMPLE_ROWS, SKOPS_TRUSTED_TYPES

STEP = step("register")


@dataclass(frozen=True)
class Registered:
    name: str
    version: str
    tags: dict[str, str]


def lineage_tags(
    data_version: str, git_commit: str, stack: str, metrics: dict[str, float], env: os._Environ | dict[str, str] = os.environ
) -> dict[str, str]:
    job = env.get(PIPELINE_JOB_ENV)
    return {
        "data_version": data_version,
        "git_commit": git_commit,
        "stack": stack,
        **{name: f"{value:.6f}" for name, value in metrics.items()},
        **({PIPELINE_JOB_TAG: job} if job else {}),
    }


def training_data_tags(meta: dict) -> dict[str, str]:
    """The tags naming the exact training input as a version of the model's data asset (pipelines/lineage.py): known
    from the content hash alone, so they are set here, before the asset itself is registered."""
    return data_asset_tags(MODEL_NAME, meta["data_version"], meta["train_rows"] + meta["test_rows"])


def register_model(model_dir: Path, example: pd.DataFrame, tags: dict[str, str], name: str = MODEL_NAME) -> Registered:
    """Log the saved model, its drift reference profile and its ONNX export to the current run (or a new one) as a
    new version of `name`, then tag the version (lineage tags and `ONNX_TAG`)."""
    profile, onnx = Path(model_dir) / PROFILE_FILE, Path(model_dir) / ONNX_FILE
    if not profile.is_file():
        raise BadInput(f"--model: {model_dir} has no drift reference profile ({PROFILE_FILE}); the train step writes it")
    if not onnx.is_file():
        raise BadInput(f"--model: {model_dir} has no ONNX export ({ONNX_FILE}); the train step writes it")
    saved = Model.load(str(model_dir))
    model = mlflow.sklearn.load_model(str(model_dir))
    with nullcontext() if mlflow.active_run() else mlflow.start_run():
        mlflow.set_tags(tags)
        logged = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=saved.signature,
            input_example=example,
            metadata=saved.metadata,
            pip_requirements=mlflow.sklearn.get_default_pip_requirements(),
            skops_trusted_types=SKOPS_TRUSTED_TYPES,
        )
        client = MlflowClient()
        # Registered only once complete: a registry that copies the files at registration (Azure ML) gets the profile.
        client.log_model_artifact(logged.model_id, str(profile))
        client.log_model_artifact(logged.model_id, str(onnx))
        mlflow.log_artifact(str(onnx), ONNX_ARTIFACT_DIR)
        version = str(mlflow.register_model(logged.model_uri, name).version)
    version_tags = tags | {ONNX_TAG: ONNX_ARTIFACT_PATH}
    for key, value in version_tags.items():
        client.set_model_version_tag(name, version, key, value)
    return Registered(name, version, version_tags)


def run(args: argparse.Namespace) -> Registered:
    verdict = read_json(args.verdict, "verdict")
    if not verdict.get("passed"):
        raise Refused(f"--verdict: the gate refused this model: {'; '.join(verdict.get('reasons', []))}")
    _, test, meta = read_features(args.features)
    metrics = read_json(args.metrics, "metrics")
    scalars = {key: metrics[key] for key in ("auc", "precision", "recall")}
    tags = lineage_tags(meta["data_version"], args.git_commit, args.stack, scalars) | training_data_tags(meta) | {"gate": "passed"}
    registered = register_model(args.model, test[list(FEATURES)].head(EXAMPLE_ROWS), tags)
    write_json(args.registered, "registered", asdict(registered))
    return registered


def main(argv: Sequence[str] | None = None) -> int:
    return step_main(STEP, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
