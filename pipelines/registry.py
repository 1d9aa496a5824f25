"""The model registry's names, defined once: the registered model, its production alias, the experiment.

MLflow (the local SQLite store, or the workspace's MLflow endpoint in Azure ML) is the registry. The
production model is the version carrying the `production` alias; promotion moves that alias.
"""

from __future__ import annotations

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, ErrorCode

MODEL_NAME = "predictive-maintenance"
PRODUCTION_ALIAS = "production"


def experiment_name(environment: str) -> str:
    """The experiment of the training pipeline in one environment (local MLflow and Azure ML alike)."""
    return f"{MODEL_NAME}-training-{environment}"


def production_version(client: MlflowClient | None = None, name: str = MODEL_NAME) -> ModelVersion | None:
    """The version serving production, or None when the model or the alias does not exist yet."""
    client = client or MlflowClient()
    try:
        return client.get_model_version_by_alias(name, PRODUCTION_ALIAS)
    except MlflowException as exc:
        missing = {ErrorCode.Name(RESOURCE_DOES_NOT_EXIST), ErrorCode.Name(INVALID_PARAMETER_VALUE)}
        if exc.error_code in missing:
            return None
        raise


def registered_versions(client: MlflowClient | None = None, name: str = MODEL_NAME) -> list[ModelVersion]:
    """Every registered version of the model, oldest first."""
    client = client or MlflowClient()
    return sorted(client.search_model_versions(f"name='{name}'"), key=lambda v: int(v.version))
