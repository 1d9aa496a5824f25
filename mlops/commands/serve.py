"""`python -m mlops serve`: the Azure ML inference server (azmlinfsrv) with `pipelines/score.py` on 127.0.0.1.

The model is downloaded from the local MLflow registry (or any `--model-uri`) into a folder that is passed as
`--model_dir`, so the scoring script finds it through `AZUREML_MODEL_DIR` exactly as in an online deployment.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Optional

import typer

from mlops.errors import BadInput
from mlops.options import StackOption
from pipelines.registry import MODEL_NAME, registered_versions
from stacks.config import load_stack_config

ROOT_DIR = Path(__file__).resolve().parents[2]
SCORE_SCRIPT = ROOT_DIR / "pipelines" / "score.py"
HOST = "127.0.0.1"
DEFAULT_PORT = 5001
# azmlinfsrv binds every interface and has no option for it: set its host constant, then run its own entry point.
_LAUNCHER = (
    "from azureml_inference_server_http import amlserver; "
    f"amlserver.DEFAULT_HOST = {HOST!r}; amlserver.run()"
)

HELP = "Serve the latest local model with the Azure ML inference server and pipelines/score.py on 127.0.0.1."
EXAMPLES = (
    "Examples: python -m mlops serve --stack dev | python -m mlops serve -s dev --port 5050 "
    "--model-uri models:/predictive-maintenance/3 | curl -s localhost:5001/score -H 'Content-Type: application/json' "
    "-d '{\"input_data\": [{...}]}'"
)


def server_command(model_dir: Path, port: int, workers: int = 1) -> list[str]:
    """The azmlinfsrv command line, bound to 127.0.0.1."""
    return [
        sys.executable, "-c", _LAUNCHER,
        "--entry_script", str(SCORE_SCRIPT),
        "--model_dir", str(model_dir),
        "--port", str(port),
        "--worker_count", str(workers),
    ]  # fmt: skip


def download_model(model_uri: str, tracking_uri: str | None, destination: Path) -> Path:
    """Copy an MLflow model (registry, run or path URI) into `destination`; BadInput when it cannot be found."""
    import mlflow
    from mlflow.exceptions import MlflowException

    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
    try:
        return Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=str(destination)))
    except (MlflowException, OSError) as exc:
        raise BadInput(f"--model-uri: cannot load '{model_uri}': {str(exc).splitlines()[0]}") from None


def local_tracking_uri() -> str:
    """MLFLOW_TRACKING_URI when set, else the local SQLite store the pipeline registers into."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{ROOT_DIR / '.mlops' / 'mlflow.db'}"


def latest_model_uri(tracking_uri: str, model_name: str = MODEL_NAME) -> str:
    """`models:/NAME/VERSION` of the newest registered version in the registry."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        versions = registered_versions(MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri), model_name)
    except MlflowException as exc:
        raise BadInput(f"cannot read the model registry at {tracking_uri}: {str(exc).splitlines()[0]}") from None
    if not versions:
        raise BadInput(
            f"no version of model '{model_name}' in {tracking_uri}; run `python -m mlops pipeline run` first "
            "or pass --model-uri"
        )
    return f"models:/{model_name}/{versions[-1].version}"


def serve(
    stack: StackOption,
    port: Annotated[int, typer.Option(min=1024, max=65535, help="Port on 127.0.0.1.")] = DEFAULT_PORT,
    model_uri: Annotated[
        Optional[str], typer.Option(help="MLflow model URI or path; default: the latest registered local model.")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, max=8, help="Server worker processes.")] = 1,
) -> None:
    load_stack_config(stack)  # a bad stack name or file exits 2 before anything starts
    tracking_uri = local_tracking_uri()
    uri = model_uri or latest_model_uri(tracking_uri)
    with tempfile.TemporaryDirectory(prefix="mlops-serve-") as folder:
        model_dir = download_model(uri, tracking_uri, Path(folder))
        typer.echo(f"serving {uri} on http://{HOST}:{port}/score (Ctrl-C stops)")
        try:
            code = subprocess.call(server_command(model_dir, port, workers), env=os.environ.copy())
        except KeyboardInterrupt:
            code = 0
    raise typer.Exit(code)
