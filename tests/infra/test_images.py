"""The images the platform references exist in the repository and agree with what the stack declares."""

from __future__ import annotations

import re

from components.serving import INFERENCE_PORT
from mlops.paths import ROOT_DIR
from pipelines.aml import TRAINING_IMAGE

IMAGES = ROOT_DIR / "pipelines" / "images"


def test_serving_image_runs_the_scoring_script_on_the_declared_port(stacks):
    dockerfile = (IMAGES / "serving.Dockerfile").read_text()
    copied = re.search(r"^COPY (\S+) /app/score.py$", dockerfile, re.M).group(1)
    assert (ROOT_DIR / copied).is_file()
    assert f"--port\", \"{INFERENCE_PORT}\"" in dockerfile and f"EXPOSE {INFERENCE_PORT}" in dockerfile
    environment = stacks["prod"].one("azure-native:machinelearningservices:EnvironmentVersion").inputs["properties"]
    assert environment["inferenceConfig"]["scoringRoute"] == {"path": "/score", "port": INFERENCE_PORT}
    assert environment["image"].endswith("/mlops-serving:1")
    for requirement in (IMAGES / "serving-requirements.txt").read_text().split():
        if not requirement.startswith("#") and ">=" in requirement:
            assert requirement.split(">=")[0] in (ROOT_DIR / "requirements.txt").read_text()


def test_training_image_is_built_from_the_project_requirements():
    dockerfile = (IMAGES / "training.Dockerfile").read_text()
    assert "COPY requirements.txt ." in dockerfile and "-r requirements.txt" in dockerfile
    assert f"--image {TRAINING_IMAGE}" in dockerfile
