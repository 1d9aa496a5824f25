"""Run the training pipeline locally, step by step, or submit it to the stack's Azure ML workspace.

Locally every step runs in this process through the same `run(args)` its Azure ML component calls, with its
ports as folders under `.mlops/runs/<run>/`. Validated data opens one MLflow run in a local SQLite store
(`.mlops/mlflow.db`; `MLOPS_HOME` moves the folder, `MLFLOW_TRACKING_URI` picks another store), so bad
input (exit 2) leaves no run behind; a refused gate (exit 1) stops before `register`: the registry is untouched.
"""

from __future__ import annotations

from dataclasses import dataclass

import argparse
import logging
import os
import subprocess
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from mlops.errors import BadInput, Refused
from mlops.paths import ROOT_DIR, mlops_home
from pipelines.registry import experiment_name, store_errors
from pipelines.steps import DATA, STEPS, pipeline_parameters
from stacks.config import PlatformConfig, load_stack_config

SAMPLE_FILE = "sample.parquet"

# One line per finished step, from what its run() returned.
SUMMARIES: dict[str, Callable[[Any], str]] = {
    "validate": lambda r: f"{r.result['statistics']['evaluated_expectations']} expectations passed",
    "prep": lambda r: f"{len(r.train)} train / {len(r.test)} test rows, data version {r.data_version[:19]}",
    "train": lambda r: f"{type(r[-1]).__name__} ({r[-1].n_estimators} trees, max depth {r[-1].max_depth})",
    "evaluate": lambda r: f"AUC {r.auc:.4f}, precision {r.precision:.3f}, recall {r.recall:.3f}",
    "gate": lambda r: "passed: " + "; ".join(r.reasons),
    "register": lambda r: f"{r.name} version {r.version}",
}


def local_store_uri() -> str:
    return f"sqlite:///{mlops_home() / 'mlflow.db'}"


def tracking_uri() -> str:
    """The MLflow store every command uses: MLFLOW_TRACKING_URI when set, else the local SQLite store."""
    return os.environ.get("MLFLOW_TRACKING_URI") or local_store_uri()


def git_commit() -> str:
    """The checkout's commit (lineage tag), or 'unknown' outside a git checkout."""
    done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT_DIR, capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else "unknown"


def checked_inputs(stack: str, data: Path | None) -> PlatformConfig:
    """The stack's config, after the checks that need no data read: a known stack, an existing --data file."""
    config = load_stack_config(stack)
    if data is not None and not data.is_file():
        raise BadInput(f"--data: {data}: no such file")
    return config


def use_local_tracking(environment: str, home: Path) -> str:
    """Point MLflow at the local store and return the experiment id; artifacts stay under `home`."""
    import mlflow

    default = f"sqlite:///{home / 'mlflow.db'}"
    uri = tracking_uri() if home == mlops_home() else default
    home.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    name = experiment_name(environment)
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    return mlflow.create_experiment(name, artifact_location=(home / "artifacts").as_uri() if uri == default else None)


def log_training_data(data: Path, data_version: str) -> None:
    """The run's training input as an MLflow dataset (pipelines/lineage.py), so the run and the model show it."""
    from pipelines.lineage import log_training_input
    from pipelines.registry import MODEL_NAME
    from pipelines.steps.common import read_table

    log_training_input(read_table(data), data, data_version, MODEL_NAME)


def run_local(stack: str, data: Path | None = None, console: Console | None = None) -> dict[str, Any]:
    """Run every step; returns each step's result by name. Raises BadInput / Refused as the steps do."""
    console = console or Console(stderr=True, soft_wrap=True)
    with console.status(f"{stack}: reading the stack config and loading MLflow"):
        config = checked_inputs(stack, data)
        import mlflow

    for noisy in ("mlflow", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    home = mlops_home()
    run_dir = home / "runs" / f"{stack}-{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
    run_dir.mkdir(parents=True)
    if data is None:
        from pipelines.sample_data import write_sample

        data = write_sample(run_dir / SAMPLE_FILE)
        console.print(f"data: built-in sample ({data})")
    values: dict[str, Any] = {DATA.name: data, **pipeline_parameters(stack, config.training, git_commit())}
    results: dict[str, Any] = {}
    with store_errors(tracking_uri()), ExitStack() as scope:
        for step in STEPS:
            if step.tracked and mlflow.active_run() is None:
                scope.enter_context(
                    mlflow.start_run(experiment_id=use_local_tracking(stack, home), run_name=run_dir.name)
                )
                mlflow.set_tags({"stack": stack, "data": str(data), "data_version": results["prep"].data_version})
                log_training_data(data, results["prep"].data_version)
                mlflow.log_artifacts(str(run_dir / "validation_result"), "validation_result")
            values.update({p.name: run_dir / p.name for p in step.outputs})
            args = argparse.Namespace(**{p.name: values[p.name] for p in (*step.inputs, *step.outputs)})
            started = time.perf_counter()
            with console.status(f"{step.name}: {step.description}"):
                try:
                    results[step.name] = step.module().run(args)
                except Exception:
                    console.print(f"[red]x[/red] {step.name}")
                    raise
            console.print(
                f"[green]✓[/green] {step.name:<9} {SUMMARIES[step.name](results[step.name])} "
                f"[dim]({time.perf_counter() - started:.1f} s)[/dim]"
            )
        console.print(f"MLflow run {mlflow.active_run().info.run_id} in {mlflow.get_tracking_uri()}")
    console.print(f"step outputs in {run_dir}")
    return results


def workspace_client(outputs):
    """An MLClient for the stack's workspace, signed in with DefaultAzureCredential (CLI, OIDC, managed identity)."""
    from azure.ai.ml import MLClient
    from azure.mgmt.core.tools import parse_resource_id
    from azure.identity import DefaultAzureCredential

    subscription = parse_resource_id(outputs.workspace_id)["subscription"]
    return MLClient(DefaultAzureCredential(), subscription, outputs.resource_group_name, outputs.workspace_name)


def shared_registry_client(outputs):
    """An MLClient for the shared Azure ML registry the stack's deployments take models and environments from
    (stack output mlRegistryName). azure-ai-ml finds the registry's region, subscription and resource group through
    Azure ML's registry discovery when the client is made."""
    from azure.ai.ml import MLClient
    from azure.identity import DefaultAzureCredential

    return MLClient(DefaultAzureCredential(), registry_name=outputs.ml_registry_name)


@dataclass
class RunRecord:
    """What a run ended with, as `pipeline run --out` writes it for workflows: status and the model registered."""

    stack: str
    status: str  # Azure ML job status; "Completed" locally
    job: str | None = None
    model: str | None = None  # NAME:VERSION registered by this run


def registered_by(client, stack: str, commit: str) -> str | None:
    """The newest workspace model version this stack's run registered (lineage tags `stack` and `git_commit`)."""
    from pipelines.registry import MODEL_NAME

    versions = [
        m for m in client.models.list(name=MODEL_NAME) if (m.tags or {}).get("stack") == stack and (m.tags or {}).get("git_commit") == commit
    ]
    newest = max(versions, key=lambda m: int(m.version), default=None)
    return f"{newest.name}:{newest.version}" if newest else None


def register_training_data(client, job, model: str, console: Console) -> None:
    """The data asset version the registered model names, pointing at the job's `data` input as Azure ML resolved it
    (a lake path, or the upload of a local file): pipelines/lineage.py."""
    from pipelines.lineage import register_data_asset

    path = job.jobs[STEPS[0].name].inputs[DATA.name].path
    asset = register_data_asset(client, *model.split(":"), path)
    console.print(f"training data {asset}: {path}" if asset else f"{model} names no training data asset (registered before data versioning)")


def submit(stack: str, data: Path | None = None, console: Console | None = None) -> RunRecord:
    """Submit the pipeline to the stack's workspace and wait; anything but Completed is a refusal (exit 1)."""
    from azure.ai.ml.exceptions import JobException
    from azure.ai.ml.operations._run_history_constants import JobStatus

    from pipelines.aml import build_pipeline, code_snapshot
    from pipelines.stack_outputs import load_outputs

    console = console or Console(stderr=True, soft_wrap=True)
    with console.status(f"{stack}: reading the stack outputs and signing in"):
        config = checked_inputs(stack, data)
        outputs = load_outputs(stack)
        client = workspace_client(outputs)
    with code_snapshot() as code:
        job = build_pipeline(outputs, pipeline_parameters(stack, config.training, git_commit()), data, code)
        created = client.jobs.create_or_update(job, experiment_name=job.experiment_name)
    console.print(f"submitted {created.name} to {outputs.workspace_name}: {created.studio_url}")
    try:
        client.jobs.stream(created.name)
    except JobException:
        pass  # a failed job raises here; its final status below is the verdict
    final = client.jobs.get(created.name).status
    status = str(getattr(final, "value", final))  # the SDK answers its REST enum; the record and message want "Failed"
    record = RunRecord(stack, status, created.name)
    if status != JobStatus.COMPLETED:
        raise Refused(f"pipeline job {created.name} ended {status}: {created.studio_url}", record)
    record.model = registered_by(client, stack, git_commit())
    if record.model:
        register_training_data(client, created, record.model, console)
    console.print(f"[green]✓[/green] {created.name} completed; registered {record.model}")
    return record
