"""Run the training pipeline locally, step by step, or submit it to the stack's Azure ML workspace.

Locally every step runs in this process through the same `run(args)` its Azure ML component calls, with its
ports as folders under `.mlops/runs/<run>/`. Validated data opens one MLflow run in a local SQLite store
(`.mlops/mlflow.db`; `MLOPS_HOME` moves the folder, `MLFLOW_TRACKING_URI` picks another store), so bad
input (exit 2) leaves no run behind; a refused gate (exit 1) stops before `register`: the registry is untouched.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import time
from collections.abc import Callable
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from core.config import PlatformConfig, load_stack_config
from core.errors import BadInput, Refused
from core.outputs import StackOutputs
from core.paths import ROOT_DIR, mlops_home
from pipelines.registry import experiment_name, store_errors
from pipelines.steps import (
    DATA,
    HISTORY,
    LABELS,
    LIVE_MODEL,
    NOT_SET,
    PREDICTIONS,
    RECENT_WINDOW,
    STEPS,
    pipeline_parameters,
)

SAMPLE_FILE = "sample.parquet"

# One line per finished step, from what its run() returned.
SUMMARIES: dict[str, Callable[[Any], str]] = {
    "gather": lambda r: f"{r.rows} rows ({r.history_rows} history" + (f", {r.recent_rows} recent labelled, {r.unlabelled_rows} unlabelled left out)" if r.window != NOT_SET else ")"),
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


@dataclass(frozen=True)
class RecentWindow:
    """Collected predictions and their labels (lake-shaped folders) for the gather step of a local run."""

    predictions: Path
    labels: Path
    window: str  # e.g. "1d"


def run_local(stack: str, data: Path | None = None, console: Console | None = None, recent: RecentWindow | None = None) -> dict[str, Any]:
    """Run every step; returns each step's result by name. Raises BadInput / Refused as the steps do. Without
    `recent`, the gather step passes the history through."""
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
    # Locally the data is the history as given (plus `recent` when asked), and the gate's baseline is the local
    # registry's production alias (no live_model input).
    values: dict[str, Any] = {
        HISTORY.name: data, PREDICTIONS.name: recent and recent.predictions, LABELS.name: recent and recent.labels,
        LIVE_MODEL.name: None, **pipeline_parameters(stack, config.training, git_commit()),
        RECENT_WINDOW.name: recent.window if recent else NOT_SET,
    }  # fmt: skip
    results: dict[str, Any] = {}
    with store_errors(tracking_uri()), ExitStack() as scope:
        for step in STEPS:
            if step.tracked and mlflow.active_run() is None:
                scope.enter_context(
                    mlflow.start_run(experiment_id=use_local_tracking(stack, home), run_name=run_dir.name)
                )
                mlflow.set_tags({"stack": stack, "data": str(data), "data_version": results["prep"].data_version})
                # the input as given; with a recent window, what gather assembled from it
                log_training_data(data if recent is None else values[DATA.name], results["prep"].data_version)
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
    from azure.identity import DefaultAzureCredential
    from azure.mgmt.core.tools import parse_resource_id

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


def registered_by(client, job: str, stack: str, commit: str | None) -> str | None:
    """The workspace model version pipeline job `job` registered: the one tagged `pipeline_job` = job. Without such a
    version and given the commit the job was built from (a run this checkout submitted), the newest version without a
    `pipeline_job` tag carrying this `stack` and `git_commit`."""
    from pipelines.registry import MODEL_NAME, PIPELINE_JOB_TAG

    versions = list(client.models.list(name=MODEL_NAME))
    tagged = [m for m in versions if (m.tags or {}).get(PIPELINE_JOB_TAG) == job]
    if not tagged and commit is not None:
        tagged = [
            m for m in versions
            if PIPELINE_JOB_TAG not in (m.tags or {}) and (m.tags or {}).get("stack") == stack and (m.tags or {}).get("git_commit") == commit
        ]  # fmt: skip
    newest = max(tagged, key=lambda m: int(m.version), default=None)
    return f"{newest.name}:{newest.version}" if newest else None


def register_training_data(client, job, model: str, console: Console) -> None:
    """The data asset version the registered model names, pointing at the job's history input as Azure ML resolved it
    (a lake path, or the upload of a local file): pipelines/lineage.py. With training.recentWindow the gather step
    added the window's labelled predictions to it; those rows are in the hash (data_version), not under this path."""
    from pipelines.lineage import register_data_asset

    path = job.jobs[STEPS[0].name].inputs[HISTORY.name].path
    asset = register_data_asset(client, *model.split(":"), path)
    console.print(f"training data {asset}: {path}" if asset else f"{model} names no training data asset (registered before data versioning)")


def submit(stack: str, outputs: StackOutputs, data: Path | None = None, console: Console | None = None) -> RunRecord:
    """Submit the pipeline to the stack's workspace (its `outputs`, which the caller read) and wait; anything but
    Completed is a refusal (exit 1)."""
    from pipelines.aml import build_pipeline, code_snapshot

    console = console or Console(stderr=True, soft_wrap=True)
    with console.status(f"{stack}: signing in"):
        config = checked_inputs(stack, data)
        client = workspace_client(outputs)
    with code_snapshot() as code:
        job = build_pipeline(outputs, pipeline_parameters(stack, config.training, git_commit(), outputs.live_model), data, code)
        created = client.jobs.create_or_update(job, experiment_name=job.experiment_name)
    console.print(f"submitted {created.name} to {outputs.workspace_name}: {created.studio_url}")
    return _outcome(client, stack, created, console, git_commit())


def adopt(stack: str, outputs: StackOutputs, job: str, console: Console | None = None) -> RunRecord:
    """Wait for a training pipeline job submitted earlier (by the retrain function) and record it as `submit` does.
    Only this stack's training pipeline jobs are adopted: a job of another experiment is bad input, as is one
    the workspace does not have."""
    from azure.core.exceptions import ResourceNotFoundError

    from pipelines.registry import experiment_name

    console = console or Console(stderr=True, soft_wrap=True)
    with console.status(f"{stack}: signing in"):
        client = workspace_client(outputs)
        try:
            found = client.jobs.get(job)
        except ResourceNotFoundError:
            raise BadInput(f"--adopt: the {stack} workspace {outputs.workspace_name} has no job {job}") from None
    if found.type != "pipeline" or found.experiment_name != experiment_name(stack):
        raise BadInput(
            f"--adopt: job {job} is a {found.type} job of experiment {found.experiment_name!r}, "
            f"not a training pipeline of {experiment_name(stack)!r}"
        )
    console.print(f"adopted {found.name} in {outputs.workspace_name}: {found.studio_url}")
    return _outcome(client, stack, found, console, commit=None)


def _outcome(client, stack: str, job, console: Console, commit: str | None) -> RunRecord:
    """Stream the job to its end; anything but Completed is a refusal (exit 1); a Completed run names its model."""
    from azure.ai.ml.exceptions import JobException
    from azure.ai.ml.operations._run_history_constants import JobStatus

    with suppress(JobException):  # a failed job raises here; its final status below is the verdict
        client.jobs.stream(job.name)
    final = client.jobs.get(job.name)
    status = str(getattr(final.status, "value", final.status))  # the SDK answers its REST enum; the record wants "Failed"
    record = RunRecord(stack, status, job.name)
    if status != JobStatus.COMPLETED:
        raise Refused(f"pipeline job {job.name} ended {status}: {job.studio_url}", record)
    record.model = registered_by(client, job.name, stack, commit)
    if record.model:
        register_training_data(client, job, record.model, console)
    console.print(f"[green]✓[/green] {job.name} completed; registered {record.model}")
    return record
