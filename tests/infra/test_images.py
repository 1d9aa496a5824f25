"""The images the platform references exist in the repository and agree with what the stack declares."""

from __future__ import annotations

import re

from ruamel.yaml import YAML

from components.serving import INFERENCE_PORT
from mlops.paths import ROOT_DIR
from pipelines.aml import TRAINING_IMAGE

IMAGES = ROOT_DIR / "pipelines" / "images"


def test_serving_environment_runs_the_scoring_script_on_its_routes():
    spec = YAML(typ="safe").load((IMAGES / "serving-environment.yml").read_text())
    context = IMAGES / spec["build"]["path"]
    dockerfile = (context / spec["build"]["dockerfile_path"]).read_text()
    assert spec["name"] == "mlops-serving" and spec["os_type"] == "linux"
    assert {route: value["port"] for route, value in spec["inference_config"].items()} == {
        "liveness_route": INFERENCE_PORT, "readiness_route": INFERENCE_PORT, "scoring_route": INFERENCE_PORT}
    assert spec["inference_config"]["scoring_route"]["path"] == "/score"
    assert f"--port\", \"{INFERENCE_PORT}\"" in dockerfile and f"EXPOSE {INFERENCE_PORT}" in dockerfile
    # The context holds what the Dockerfile copies; score.py is copied in by the workflow from pipelines/.
    for source in re.findall(r"^COPY (\S+) ", dockerfile, re.M):
        assert (context / source).is_file() or (ROOT_DIR / "pipelines" / source).is_file(), source
    for requirement in (context / "requirements.txt").read_text().split():
        if not requirement.startswith("#") and ">=" in requirement:
            assert requirement.split(">=")[0] in (ROOT_DIR / "requirements.txt").read_text()


def test_training_image_is_built_from_the_project_requirements():
    dockerfile = (IMAGES / "training.Dockerfile").read_text()
    assert "COPY requirements.txt ." in dockerfile and "-r requirements.txt" in dockerfile
    assert f"--image {TRAINING_IMAGE}" in dockerfile
