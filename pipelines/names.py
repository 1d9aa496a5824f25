"""The registered model's name and the training experiment's, free of MLflow: the retrain function builds the pipeline
job with them and installs no MLflow. `pipelines.registry` re-exports both."""

from __future__ import annotations

MODEL_NAME = "predictive-maintenance"


def experiment_name(environment: str) -> str:
    """The experiment of the training pipeline in one environment (local MLflow and Azure ML alike)."""
    return f"{MODEL_NAME}-training-{environment}"
