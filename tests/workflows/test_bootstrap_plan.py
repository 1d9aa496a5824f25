"""`python -m pipelines.bootstrap`: what bootstrap.yml learns from a stack file before it deploys anything."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.config import stack_file
from core.errors import BadInput
from core.paths import ROOT_DIR
from pipelines.bootstrap import bootstrap_plan


def with_environment(stack: str, tmp_path: Path, environment: str = "mlops-serving:3") -> Path:
    """The stack's file with `serving.environment` set, as an operator commits it before bootstrapping."""
    text = stack_file(stack).read_text()
    assert text.count("  mlops-platform:serving:\n") <= 1
    if "  mlops-platform:serving:\n" in text:
        text = text.replace("  mlops-platform:serving:\n", f"  mlops-platform:serving:\n    environment: {environment}\n")
    else:
        text += f"  mlops-platform:serving:\n    environment: {environment}\n"
    path = tmp_path / f"Pulumi.{stack}.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("stack", "private", "promote_to"),
    [("dev", "false", "dev"), ("staging", "true", "staging"), ("prod", "true", "none")],
)
def test_plan_per_stack(tmp_path, stack, private, promote_to):
    assert bootstrap_plan(stack, "3", with_environment(stack, tmp_path)) == {
        "private": private,
        "runner_image": "github-actions-runner:2.330.0",
        "training_image": "mlops/training:latest",
        "serving_environment": "mlops-serving:3",
        "promote_to": promote_to,  # prod takes only a model that served in staging: no PR
    }


def test_a_stack_file_naming_another_version_is_refused(tmp_path):
    path = with_environment("staging", tmp_path, "mlops-serving:2")
    with pytest.raises(BadInput, match=r"serving\.environment is mlops-serving:2; set it to mlops-serving:3 on main first"):
        bootstrap_plan("staging", "3", path)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--stack", "staging", "--environment-version", "1"],
         "error: stacks/Pulumi.staging.yaml: mlops-platform:serving.environment is not set; set it to mlops-serving:1 "
         "on main first (the promotion PR validates against it)"),
        (["--stack", "qa", "--environment-version", "1"], "error: --stack: 'qa' is not one of dev, staging, prod"),
        (["--stack", "dev", "--environment-version", "1; rm -rf /"],
         "error: --environment-version: '1; rm -rf /' is not an Azure ML asset version"),
    ],
    ids=["not-set", "unknown-stack", "bad-version"],
)
def test_the_command_prints_nothing_for_github_output_when_it_refuses(args, error):
    done = subprocess.run([sys.executable, "-m", "pipelines.bootstrap", *args], cwd=ROOT_DIR, capture_output=True, text=True)
    assert (done.returncode, done.stdout, done.stderr.strip()) == (2, "", error)
