"""The model registry's names, defined once: the registered model, its production alias, the experiment.

MLflow (the local SQLite store, or the workspace's MLflow endpoint in Azure ML) is the registry. The
production model is the version carrying the `production` alias; promotion moves that alias.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, ErrorCode

from core.errors import BadInput, first_line
from pipelines.model_metadata import ONNX_TAG

MODEL_NAME = "predictive-maintenance"
PRODUCTION_ALIAS = "production"
# The model version's tag naming the Azure ML pipeline job that registered it, from the variable Azure ML sets in
# every step of a pipeline job to the pipeline job's run id (= its job name in Azure ML v2). Microsoft documents no
# list of these variables; Azure's own model-monitoring components (azureml-assets, action analyzer) and ZenML's
# Azure ML orchestrator read the run id from it. Absent locally, where a run is never adopted.
PIPELINE_JOB_TAG = "pipeline_job"
PIPELINE_JOB_ENV = "AZUREML_ROOT_RUN_ID"


def experiment_name(environment: str) -> str:
    """The experiment of the training pipeline in one environment (local MLflow and Azure ML alike)."""
    return f"{MODEL_NAME}-training-{environment}"


@contextmanager
def store_errors(uri: str) -> Iterator[None]:
    """An MLflow store that fails (a server that does not answer, a broken database) is bad input naming the
    store and the variable that picks it: one line, exit 2, instead of MLflow's traceback."""
    try:
        yield
    except MlflowException as exc:
        raise BadInput(f"cannot use the MLflow store {uri} (MLFLOW_TRACKING_URI): {first_line(exc)}") from None


def is_missing(exc: MlflowException) -> bool:
    """Whether MLflow says the model, version or alias asked for does not exist (rather than failing)."""
    return exc.error_code in {ErrorCode.Name(RESOURCE_DOES_NOT_EXIST), ErrorCode.Name(INVALID_PARAMETER_VALUE)}


def production_version(client: MlflowClient | None = None, name: str = MODEL_NAME) -> ModelVersion | None:
    """The version serving production, or None when the model or the alias does not exist yet."""
    client = client or MlflowClient()
    try:
        return client.get_model_version_by_alias(name, PRODUCTION_ALIAS)
    except MlflowException as exc:
        if is_missing(exc):
            return None
        raise


def registered_versions(client: MlflowClient | None = None, name: str = MODEL_NAME) -> list[ModelVersion]:
    """Every registered version of the model, oldest first."""
    client = client or MlflowClient()
    return sorted(client.search_model_versions(f"name='{name}'"), key=lambda v: int(v.version))


def onnx_artifact(client: MlflowClient, name: str, version: str) -> str | None:
    """The version's ONNX export as an artifact path relative to its run's artifact root (tag `ONNX_TAG`, e.g.
    `onnx/model.onnx`: `runs:/<run_id>/onnx/model.onnx`), or None when the version has none (trained before the
    edge export existed). A missing model or version raises MlflowException as `get_model_version` does."""
    return client.get_model_version(name, version).tags.get(ONNX_TAG)
