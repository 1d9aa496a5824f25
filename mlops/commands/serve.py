"""`python -m mlops serve`: the Azure ML inference server (azmlinfsrv) with `pipelines/score.py` on 127.0.0.1.

The model is downloaded from the local MLflow registry (or any `--model-uri`) into a folder that is passed as
`--model_dir`, so the scoring script finds it through `AZUREML_MODEL_DIR` exactly as in an online deployment.

The server runs gunicorn's threaded workers (`SERVER_ENV`, the same settings the serving image sets), so a slow
client holds one thread, not the worker and its health probe; it runs in its own process group, and stopping
`mlops serve` (SIGTERM, SIGINT, SIGHUP) stops that whole group, so no server keeps the port.

`--collect DIR` turns on inference data collection into DIR, laid out as Event Hubs Capture writes the lake's
`predictions` hub (`pipelines/collect.py`), with endpoint `local`, deployment `local` and the served model.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from core.config import load_stack_config
from core.errors import BadInput, first_line
from core.paths import ROOT_DIR
from mlops.options import StackOption, one_stack

SCORE_SCRIPT = ROOT_DIR / "pipelines" / "score.py"
HOST = "127.0.0.1"
DEFAULT_PORT = 5001
# azmlinfsrv binds every interface and has no option for it: set its host constant, then run its own entry point.
_LAUNCHER = (
    "from azureml_inference_server_http import amlserver; "
    f"amlserver.DEFAULT_HOST = {HOST!r}; amlserver.run()"
)

# gunicorn settings of the inference server, here and in pipelines/images/serving/Dockerfile (a test compares):
# threaded workers, so one slow client never blocks the others or the health probe, and a short worker timeout.
SERVER_ENV = {"GUNICORN_CMD_ARGS": "--worker-class gthread --threads 8", "WORKER_TIMEOUT": "30"}
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
STOP_GRACE_SECONDS = 10.0

HELP = "Serve the latest local model with the Azure ML inference server and pipelines/score.py on 127.0.0.1."
EXAMPLES = (
    "Examples: python -m mlops serve --stack dev | python -m mlops serve -s dev --port 5050 "
    "--model-uri models:/predictive-maintenance/3 --collect .mlops/capture | curl -s localhost:5001/score -H 'Content-Type: application/json' "
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


def server_env() -> dict[str, str]:
    """The server's environment: ours, the gunicorn settings, and the project root on the path (score.py
    imports `pipelines.json_limits`, `pipelines.signature_rules` and `pipelines.model_metadata`, as in the image)."""
    path = os.pathsep.join(filter(None, [str(ROOT_DIR), os.environ.get("PYTHONPATH")]))
    return {**os.environ, **SERVER_ENV, "PYTHONPATH": path}


def launch_server(
    model_dir: Path, port: int, workers: int = 1, env: dict[str, str] | None = None, **popen: object
) -> subprocess.Popen:
    """azmlinfsrv as a child in its own process group (gunicorn's master and workers), see `stop_server`;
    `env` adds variables (e.g. the scoring script's MLOPS_MAX_ROWS)."""
    return subprocess.Popen(
        server_command(model_dir, port, workers), env={**server_env(), **(env or {})}, start_new_session=True, **popen
    )


def stop_server(process: subprocess.Popen, grace: float = STOP_GRACE_SECONDS) -> int:
    """Stop the server's whole process group: SIGTERM (gunicorn's graceful stop), SIGKILL after `grace` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    return process.wait()


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


def start_server(
    model_dir: Path, port: int, log: Path, workers: int = 1, timeout: float = 60.0, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """Start azmlinfsrv in the background and wait until its health probe answers; RuntimeError otherwise."""
    with log.open("w") as handle:
        process = launch_server(model_dir, port, workers, env, stdout=handle, stderr=subprocess.STDOUT)
    if wait_until_healthy(process, port, timeout):
        return process
    stop_server(process)
    raise RuntimeError(f"azmlinfsrv did not become healthy: {log.read_text()[-2000:]}")


class _Stopped(Exception):
    """`mlops serve` received a stop signal."""


def _raise_stopped(signum: int, _frame: object) -> None:
    raise _Stopped(signum)


def run_until_stopped(
    model_dir: Path, port: int, workers: int, on_healthy: Callable[[], None] = lambda: None, env: dict[str, str] | None = None
) -> int:
    """Run the server in the foreground until it exits or this process is told to stop; then stop its group.
    `on_healthy` runs once the health probe answers (the server's banner first, then where to send requests);
    `env` adds variables for the server.

    The server has its own process group, so the terminal's Ctrl-C reaches only this process, which passes the
    stop on: no gunicorn is left behind holding the port."""
    previous = {sig: signal.signal(sig, _raise_stopped) for sig in STOP_SIGNALS}
    process = None
    try:
        process = launch_server(model_dir, port, workers, env)
        if wait_until_healthy(process, port):
            on_healthy()
        return process.wait()
    except _Stopped:
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if process is not None and process.poll() is None:
            stop_server(process)


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
        path = Path(mlflow.artifacts.download_artifacts(artifact_uri=source, dst_path=str(destination), tracking_uri=tracking_uri))
    except (MlflowException, OSError) as exc:
        raise BadInput(f"--model-uri: cannot load '{model_uri}': {first_line(exc)}") from None
    check_servable(path, model_uri)
    return path


def check_servable(model_dir: Path, model_uri: str) -> None:
    """What the scoring script's init() needs, checked before a server starts: one MLflow model under the folder,
    with a named input signature. BadInput otherwise (the server's worker would fail to boot)."""
    from mlflow.exceptions import MlflowException
    from mlflow.models import Model

    from pipelines.score import find_model_dir, input_columns

    try:
        input_columns(Model.load(str(find_model_dir(model_dir))), model_uri)
    except (RuntimeError, MlflowException, OSError, ValueError) as exc:
        raise BadInput(f"--model-uri: '{model_uri}' is not a model the scoring script can serve: {first_line(exc)}") from None


def check_port_free(port: int) -> None:
    """The port must be free on 127.0.0.1 (gunicorn would exit at once, and report it only in its log)."""
    import socket

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            raise BadInput(f"--port: {port} on {HOST} is not free ({exc.strerror})") from None


def latest_model_uri(tracking_uri: str) -> str:
    """`models:/NAME/VERSION` of the newest registered version of the pipeline's model in the registry."""
    from mlflow import MlflowClient

    from pipelines.registry import MODEL_NAME as model_name
    from pipelines.registry import registered_versions, store_errors

    with store_errors(tracking_uri):
        versions = registered_versions(MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri), model_name)
    if not versions:
        raise BadInput(
            f"no version of model '{model_name}' in {tracking_uri}; run `python -m mlops pipeline run` first "
            "or pass --model-uri"
        )
    return f"models:/{model_name}/{versions[-1].version}"


def collect_env(folder: Path, model_uri: str) -> dict[str, str]:
    """The scoring script's collection settings for a local server: the Capture folder, endpoint and deployment
    `local`, and the model as `name:version` (a registry URI) or the URI itself (any other)."""
    from core import contracts

    name, _, version = model_uri.removeprefix("models:/").partition("/") if model_uri.startswith("models:/") else (model_uri, "", "")
    return contracts.collection_env(contracts.LOCAL_ENDPOINT, contracts.LOCAL_ENDPOINT, f"{name}:{version}", folder=folder.resolve())


def serve(
    stack: StackOption,
    port: Annotated[int, typer.Option(min=1024, max=65535, help="Port on 127.0.0.1.")] = DEFAULT_PORT,
    model_uri: Annotated[
        str | None, typer.Option(help="MLflow model URI or path; default: the latest registered local model.")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, max=8, help="Server worker processes.")] = 1,
    collect: Annotated[
        Path | None,
        typer.Option(
            "--collect", file_okay=False, help="Collect every scored request into this folder (Event Hubs Capture's layout)."
        ),
    ] = None,
) -> None:
    from pipelines.runner import tracking_uri as store_uri

    load_stack_config(one_stack(stack))  # a bad stack name or file exits 2 before anything starts
    check_port_free(port)
    tracking_uri = store_uri()
    uri = model_uri or latest_model_uri(tracking_uri)
    with tempfile.TemporaryDirectory(prefix="mlops-serve-") as folder:
        model_dir = download_model(uri, tracking_uri, Path(folder))
        announce = lambda: typer.echo(f"serving {uri} on http://{HOST}:{port}/score (Ctrl-C stops)")  # noqa: E731
        code = run_until_stopped(model_dir, port, workers, announce, collect_env(collect, uri) if collect else None)
    if code != 0:
        raise BadInput(f"the inference server stopped with exit code {code}; its log above says why")
