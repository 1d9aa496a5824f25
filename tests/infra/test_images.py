"""The images the platform references exist in the repository and agree with what the stack declares; the runner
image's entrypoint runs against a stand-in runner and a registration endpoint on 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from components.serving import INFERENCE_PORT
from core.config import RunnersConfig
from core.paths import ROOT_DIR
from pipelines.aml import TRAINING_IMAGE
from policies.rules import resource_types as t

IMAGES = ROOT_DIR / "pipelines" / "images"


def test_serving_environment_runs_the_scoring_script_on_its_routes(tmp_path):
    spec = YAML(typ="safe").load((IMAGES / "serving-environment.yml").read_text())
    context = IMAGES / spec["build"]["path"]
    dockerfile = (context / spec["build"]["dockerfile_path"]).read_text()
    assert spec["name"] == "mlops-serving" and spec["os_type"] == "linux"
    assert {route: value["port"] for route, value in spec["inference_config"].items()} == {
        "liveness_route": INFERENCE_PORT, "readiness_route": INFERENCE_PORT, "scoring_route": INFERENCE_PORT}
    assert spec["inference_config"]["scoring_route"]["path"] == "/score"
    assert f"--port\", \"{INFERENCE_PORT}\"" in dockerfile and f"EXPOSE {INFERENCE_PORT}" in dockerfile
    # The assembled context holds everything the Dockerfile copies (score.py and its helpers come from pipelines/).
    from pipelines.serving_context import assemble

    built = tmp_path / "context"
    assemble(built)
    for source in re.findall(r"^COPY (\S+) ", dockerfile, re.M):
        assert (built / source).exists(), source
    assert (built / "pipelines" / "json_limits.py").read_text() == (ROOT_DIR / "pipelines" / "json_limits.py").read_text()
    root = {line.split()[0] for line in (ROOT_DIR / "requirements.txt").read_text().splitlines() if line.strip()}
    image = [line for line in (context / "requirements.txt").read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert image and all(requirement in root for requirement in image)  # the same packages, the same lower bounds


def test_training_image_is_built_from_the_project_requirements():
    dockerfile = (IMAGES / "training.Dockerfile").read_text()
    assert "COPY requirements.txt ." in dockerfile and "-r requirements.txt" in dockerfile
    assert f"--image {TRAINING_IMAGE}" in dockerfile
    assert '-r requirements.txt "azureml-mlflow>=' in dockerfile  # one resolve; MLflow's azureml:// URI in jobs


def test_training_image_holds_the_code_the_scheduled_monitor_runs(tmp_path):
    """The schedule's job has no code upload: what the image copies must import `pipelines.monitor` and all it loads."""
    dockerfile = (IMAGES / "training.Dockerfile").read_text()
    copies = re.findall(r"^COPY (.+) (/app/\S*)$", dockerfile, re.M)
    assert "ENV PYTHONPATH=/app" in dockerfile and copies
    for sources, target in copies:
        for source in sources.split():
            destination = tmp_path / target.removeprefix("/app/")
            if (ROOT_DIR / source).is_dir():
                shutil.copytree(ROOT_DIR / source, destination, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                destination.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT_DIR / source, destination / Path(source).name)
    modules = "pipelines.monitor, pipelines.collect, pipelines.drift, pipelines.drift_report, pipelines.telemetry"
    probe = f"import sys, {modules}; print(sorted({{m.split('.')[0] for m in sys.modules}} & {{'stacks', 'mlops', 'components', 'pulumi'}}))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)},
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['mlops', 'stacks']"  # the neutral modules, and never components/ or pulumi


# --- the self-hosted runner image (read and its entrypoint run here; the image is not built: no Docker engine) ----

RUNNER = IMAGES / "runner"
RUNNER_TOKEN = {"githubOwner": "example-org", "repositories": ["mlops-platform"], "token": "github_pat_TEST"}


def test_runner_image_is_the_official_runner_at_the_configured_tag():
    dockerfile = (RUNNER / "Dockerfile").read_text()
    [base] = re.findall(r"^FROM (\S+)$", dockerfile, re.M)
    image = RunnersConfig().image
    assert base == f"ghcr.io/actions/actions-runner:{image.split(':')[1]}"
    assert re.fullmatch(r"github-actions-runner:\d+\.\d+\.\d+", image)
    assert f"az acr build --registry <dev registry name> --image {image} pipelines/images/runner/" in dockerfile
    assert "NOT BUILT OR RUN HERE" in dockerfile  # said in its header, where a reader looks first
    for tool in ("python3.11 python3.11-venv", "InstallAzureCLIDeb", "az extension add --name ml", "jq make"):
        assert tool in dockerfile, tool
    assert dockerfile.rstrip().splitlines()[-2:] == ["USER runner", 'ENTRYPOINT ["/usr/local/bin/mlops-runner-entrypoint"]']
    assert (RUNNER / "entrypoint.sh").stat().st_mode & 0o111, "entrypoint.sh must be executable"


@pytest.fixture(scope="module")
def runner_env(tmp_path_factory) -> dict[str, str]:
    """The runner container's environment as staging's Container Apps job declares it (secret refs resolved)."""
    from tests.conftest import run_with

    record = run_with("staging", runners=json.dumps(RUNNER_TOKEN))
    [container] = record.one(t.CONTAINER_APPS_JOB).inputs["template"]["containers"]
    env = {var["name"]: var.get("value") for var in container["env"]}
    env["GITHUB_PAT"] = RUNNER_TOKEN["token"]  # secretRef personal-access-token: the Key Vault secret
    assert env["RUNNER_LABELS"] == record.outputs["runnerLabel"] == "mlops-staging"
    return env


@pytest.fixture
def registration_api():
    """GitHub's registration-token endpoint on 127.0.0.1: answers a token to the right PAT, 401 to any other."""
    calls: list[tuple[str, str, str]] = []

    class Api(BaseHTTPRequestHandler):
        def do_POST(self):
            calls.append((self.path, self.headers["Authorization"], self.headers["X-GitHub-Api-Version"]))
            ok = self.headers["Authorization"] == f"Bearer {RUNNER_TOKEN['token']}"
            body = json.dumps({"token": "AREGISTRATIONTOKEN", "expires_at": "2026-11-25T11:15:00Z"} if ok
                              else {"message": "Bad credentials"}).encode()  # fmt: skip
            self.send_response(201 if ok else 401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/repos/example-org/mlops-platform/actions/runners/registration-token", calls
    server.shutdown()


def stand_in_runner(home: Path) -> Path:
    """config.sh and run.sh of the runner, recording what they were given."""
    home.mkdir()
    for script, record in (("config.sh", 'printf "%s\\n" "$@" > config.args'), ("run.sh", "env > run.env")):
        (home / script).write_text(f"#!/usr/bin/env bash\n{record}\n")
        (home / script).chmod(0o755)
    return home


def run_entrypoint(env: dict[str, str], home: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(RUNNER / "entrypoint.sh")], env={"PATH": os.environ["PATH"], "RUNNER_HOME": str(home), **env},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_entrypoint_registers_one_ephemeral_runner_with_the_stack_label(runner_env, registration_api, tmp_path):
    url, calls = registration_api
    home = stand_in_runner(tmp_path / "runner")
    done = run_entrypoint({**runner_env, "REGISTRATION_TOKEN_API_URL": url}, home)
    assert done.returncode == 0, done.stderr
    assert calls == [("/repos/example-org/mlops-platform/actions/runners/registration-token", "Bearer github_pat_TEST", "2022-11-28")]
    args = (home / "config.args").read_text().splitlines()
    assert args[:3] == ["--unattended", "--ephemeral", "--replace"]
    options = dict(zip(args[3::2], args[4::2]))
    assert options["--url"] == "https://github.com/example-org/mlops-platform"
    assert (options["--token"], options["--labels"]) == ("AREGISTRATIONTOKEN", "mlops-staging")
    assert options["--name"].startswith("mlops-staging-")
    job_env = dict(line.split("=", 1) for line in (home / "run.env").read_text().splitlines() if "=" in line)
    assert "GITHUB_PAT" not in job_env and "REGISTRATION_TOKEN_API_URL" not in job_env  # jobs never see the PAT
    assert "github_pat_TEST" not in (home / "run.env").read_text() and "AREGISTRATIONTOKEN" not in (home / "run.env").read_text()
    assert job_env["AZURE_CLIENT_ID"] == runner_env["AZURE_CLIENT_ID"]  # for `az login --identity --client-id`
    assert "github_pat_TEST" not in done.stdout + done.stderr


def test_entrypoint_stops_without_a_registration_token(runner_env, registration_api, tmp_path):
    url, _ = registration_api
    home = stand_in_runner(tmp_path / "runner")
    done = run_entrypoint({**runner_env, "REGISTRATION_TOKEN_API_URL": url, "GITHUB_PAT": "wrong"}, home)
    assert done.returncode != 0 and not (home / "config.args").exists()
    assert "401" in done.stderr and "wrong" not in done.stderr


def test_entrypoint_names_a_missing_setting(runner_env, tmp_path):
    home = stand_in_runner(tmp_path / "runner")
    done = run_entrypoint({k: v for k, v in runner_env.items() if k != "RUNNER_LABELS"}, home)
    assert (done.returncode, done.stderr.strip()) == (2, "entrypoint: RUNNER_LABELS is not set")
