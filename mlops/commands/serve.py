"""`python -m mlops serve`: the Azure ML inference server (azmlinfsrv) with `pipelines/score.py` on 127.0.0.1.

The model is downloaded from the local MLflow registry (or any `--model-uri`) into a folder that is passed as
`--model_dir`, so the scoring script finds it through `AZUREML_MODEL_DIR` exactly as in an online deployment.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Optional

import typer

from mlops.errors import BadInput
from mlops.options import StackOption, one_stack
from mlops.paths import ROOT_DIR
from stacks.config import load_stack_config

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


def wait_until_healthy(process: subprocess.Popen, port: int, timeout: float = 60.0) -> bool:
    """Poll the server's health probe until it answers (True), the process exits or the time is up (False)."""
    import time
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            urllib.request.urlopen(f"http://{HOST}:{port}/", timeout=1)
            return True
        except OSError:
            time.sleep(0.25)
    return False


def start_server(model_dir: Path, port: int, log: Path, workers: int = 1, timeout: float = 60.0) -> subprocess.Popen:
    """Start azmlinfsrv in the background and wait until its health probe answers; RuntimeError otherwise."""
    with log.open("w") as handle:
        process = subprocess.Popen(server_command(model_dir, port, workers), stdout=handle, stderr=subprocess.STDOUT)
    if wait_until_healthy(process, port, timeout):
        return process
    process.terminate()
    raise RuntimeError(f"azmlinfsrv did not become healthy: {log.read_text()[-2000:]}")


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM ends the command like Ctrl-C does, so the temporary model folder is removed either way."""
    raise KeyboardInterrupt


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def download_model(model_uri: str, tracking_uri: str | None, destination: Path) -> Path:
    """Copy an MLflow model (registry, run or path URI) into `destination`; BadInput when it cannot be found.

    Registry URIs are resolved with an explicit client, leaving MLflow's process-wide settings alone."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        source = model_uri
        if model_uri.startswith("models:/"):
            name, _, version = model_uri.removeprefix("models:/").partition("/")
            client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
            source = client.get_model_version_download_uri(name, version)
        return Path(mlflow.artifacts.download_artifacts(artifact_uri=source, dst_path=str(destination), tracking_uri=tracking_uri))
    except (MlflowException, OSError) as exc:
        raise BadInput(f"--model-uri: cannot load '{model_uri}': {str(exc).splitlines()[0]}") from None


def latest_model_uri(tracking_uri: str) -> str:
    """`models:/NAME/VERSION` of the newest registered version of the pipeline's model in the registry."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from pipelines.registry import MODEL_NAME as model_name, registered_versions

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
    from pipelines.runner import tracking_uri as store_uri

    load_stack_config(one_stack(stack))  # a bad stack name or file exits 2 before anything starts
    tracking_uri = store_uri()
    uri = model_uri or latest_model_uri(tracking_uri)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with tempfile.TemporaryDirectory(prefix="mlops-serve-") as folder:
            model_dir = download_model(uri, tracking_uri, Path(folder))
            process = subprocess.Popen(server_command(model_dir, port, workers), env=os.environ.copy())
            try:
                if wait_until_healthy(process, port):  # the server's banner first, then where to send requests
                    typer.echo(f"serving {uri} on http://{HOST}:{port}/score (Ctrl-C stops)")
                code = process.wait()
            except KeyboardInterrupt:
                process.terminate()
                process.wait(timeout=30)
                code = 0
    finally:
        signal.signal(signal.SIGTERM, previous)
    raise typer.Exit(code)
