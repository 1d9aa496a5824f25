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
from importlib.metadata import distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from ruamel.yaml import YAML

from components.serving import INFERENCE_PORT
from core.config import RunnersConfig
from core.paths import ROOT_DIR
from pipelines.closure import closure
from pipelines.steps import STEPS
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


TRAINING = IMAGES / "training"
# What runs in the training image: every pipeline step and the scheduled monitor (no code upload, pipelines/monitor.py).
IMAGE_ROOTS = [*(step.module_name for step in STEPS), "pipelines.monitor"]
NOT_IN_THE_IMAGE = {"pulumi", "pulumi-azure-native", "pulumi-policy", "typer", "rich", "pytest", "ruff", "hypothesis",
                    "responses", "azureml-inference-server-http", "azure-functions"}  # fmt: skip


def requirement_lines(path: Path) -> list[str]:
    return [line.split("#")[0].strip() for line in path.read_text().splitlines() if line.split("#")[0].strip()]


def module_owners() -> dict[str, set[str]]:
    """Dotted module name -> the installed distributions whose files hold it (mlflow's are in mlflow and mlflow-skinny)."""
    owners: dict[str, set[str]] = {}
    for dist in distributions():
        for file in dist.files or []:
            if file.parts[0] == ".." or file.suffix not in (".py", ".so"):
                continue
            parts = [*file.parts[:-1], file.name.split(".")[0]]
            owners.setdefault(".".join(parts[:-1] if parts[-1] == "__init__" else parts), set()).add(canonicalize_name(dist.metadata["Name"]))
    return owners


def imported_distributions(names: set[str]) -> dict[str, set[str]]:
    """Each third-party import (`azure.identity.DefaultAzureCredential`) -> the distributions that provide it, found by
    its longest dotted prefix that some installed distribution holds."""
    owners, found = module_owners(), {}
    for name in names:
        parts = name.split(".")
        prefix = next(".".join(parts[:i]) for i in range(len(parts), 0, -1) if ".".join(parts[:i]) in owners or i == 1)
        assert prefix in owners, f"{name}: no installed distribution provides it"
        found[name] = owners[prefix]
    return found


def test_training_image_installs_its_own_requirements():
    dockerfile = (TRAINING / "Dockerfile").read_text()
    assert "COPY pipelines/images/training/requirements.txt ." in dockerfile and "-r requirements.txt" in dockerfile
    assert "az acr build --registry <registry name> --image mlops/training:<version> --file pipelines/images/training/Dockerfile ." in dockerfile
    assert '-r requirements.txt "azureml-mlflow>=' in dockerfile  # one resolve; MLflow's azureml:// URI in jobs
    root = {line.split()[0] for line in (ROOT_DIR / "requirements.txt").read_text().splitlines() if line.strip()}
    assert all(requirement in root for requirement in requirement_lines(TRAINING / "requirements.txt"))  # same bounds


def uncovered_imports(root: Path = ROOT_DIR) -> dict[str, list[str]]:
    """The third-party imports of the image's modules (under `root`) that the image's requirements do not install
    (neither listed nor pulled in by what is listed), each with the distributions that would provide it."""
    from tests.monitoring.test_retrain_package import needed_distributions

    imports = imported_distributions(set(closure(IMAGE_ROOTS, root).third_party))
    covered = set(needed_distributions([Requirement(line) for line in requirement_lines(TRAINING / "requirements.txt")]))
    return {name: sorted(owners) for name, owners in imports.items() if not owners & covered}


def test_training_requirements_are_exactly_what_the_steps_and_the_monitor_import():
    """Every third-party import of the image's modules is covered by the file (listed, or pulled in by what is listed),
    every listed distribution is imported, and nothing of the program, the CLI or the tests is there."""
    from tests.monitoring.test_retrain_package import needed_distributions

    found = closure(IMAGE_ROOTS)
    assert not found.forbidden()
    assert uncovered_imports() == {}
    listed = [Requirement(line) for line in requirement_lines(TRAINING / "requirements.txt")]
    provided = set().union(*imported_distributions(set(found.third_party)).values())
    assert sorted(canonicalize_name(r.name) for r in listed if canonicalize_name(r.name) not in provided) == []
    assert sorted(NOT_IN_THE_IMAGE & set(needed_distributions(listed))) == []
    # the steps' data and model libraries are there (a closure that lost them would pass the checks above emptily)
    assert {"pandas", "scikit-learn", "mlflow", "great-expectations", "skl2onnx", "onnxruntime", "fastavro"} <= {
        canonicalize_name(r.name) for r in listed}


def test_a_step_import_the_training_requirements_lack_is_found(project_copy):
    """The coverage check fails when a step imports a distribution the image does not install."""
    train = project_copy / "pipelines" / "steps" / "train.py"
    train.write_text(train.read_text() + "\n\ndef _recorded():\n    import responses\n")
    assert uncovered_imports(project_copy) == {"responses": ["responses"]}


def test_training_image_holds_the_code_the_scheduled_monitor_runs(tmp_path):
    """The schedule's job has no code upload: what the image copies must import `pipelines.monitor` and all it loads."""
    dockerfile = (TRAINING / "Dockerfile").read_text()
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
    probe = f"import sys, {modules}; print(sorted({{m.split('.')[0] for m in sys.modules}} & {{'core', 'stacks', 'mlops', 'components', 'pulumi'}}))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)},
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['core']"  # the neutral package, and never the program, the CLI or pulumi


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
