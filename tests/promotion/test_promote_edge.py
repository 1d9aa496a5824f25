"""`mlops promote --target edge`: canary, complete and rollback edit `mlops-platform:edge` exactly (the whole file is
compared, the version's ONNX digest written as modelSha256), a version without the `onnx` tag or its `onnx_sha256`
digest is refused (exit 1), a bad target condition is bad input naming the key
(exit 2), and the preview shows the rollout as a replace of the fleet's deployment."""

from __future__ import annotations

import hashlib
import json

import pytest
from mlflow import MlflowClient

from pipelines.model_metadata import ONNX_SHA256_TAG, ONNX_TAG
from tests.conftest import git

MODEL = "predictive-maintenance"


def digest(version: int) -> str:
    """The ONNX digest version N carries in the test registry (and dev's stack file for versions 1 and 2)."""
    return hashlib.sha256(f"{MODEL}:{version}".encode()).hexdigest()


FLEET_1 = f"""      - name: fleet
        model: predictive-maintenance:1
        modelSha256: {digest(1)}
        targetCondition: tags.environment='dev'
        priority: 10
        verifiedOnCanary: predictive-maintenance:1
"""
CANARY_2 = f"""      - name: canary
        model: predictive-maintenance:2
        modelSha256: {digest(2)}
        targetCondition: tags.environment='dev' AND tags.ring='canary'
        priority: 20
"""


@pytest.fixture
def registry(tmp_path):
    """A real MLflow registry (SQLite): versions 1-3 carry the ONNX artifact's tag and digest, version 4 neither,
    version 5 the artifact's tag without the digest (registered before the register step recorded it), version 6 a
    digest that is not one."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model(MODEL)
    for number in range(1, 7):
        version = client.create_model_version(MODEL, source=str(tmp_path / "model"))
        if number != 4:
            client.set_model_version_tag(MODEL, version.version, ONNX_TAG, "onnx/model.onnx")
        if number < 4:
            client.set_model_version_tag(MODEL, version.version, ONNX_SHA256_TAG, digest(number))
        if number == 6:
            client.set_model_version_tag(MODEL, version.version, ONNX_SHA256_TAG, digest(number).upper())
    return uri


def promote(cli, repo, registry, *args):
    return cli(["promote", "--stack", "dev", "--target", "edge", *args], cwd=repo, MLFLOW_TRACKING_URI=registry)


def test_canary_complete_and_rollback_edit_the_stack_file_exactly(project_copy, cli, registry):
    path = project_copy / "stacks" / "Pulumi.dev.yaml"
    original = path.read_text()
    assert FLEET_1 + CANARY_2 in original

    result = promote(cli, project_copy, registry, "--model", f"{MODEL}:3", "--canary")
    assert result.returncode == 0, result.stderr
    canary_3 = CANARY_2.replace(":2", ":3").replace(digest(2), digest(3))
    assert path.read_text() == original.replace(CANARY_2, canary_3)
    assert "+        model: predictive-maintenance:3" in result.stdout
    assert f"+        modelSha256: {digest(3)}" in result.stdout

    result = promote(cli, project_copy, registry, "--complete")
    assert result.returncode == 0, result.stderr
    fleet_3 = FLEET_1.replace(":1", ":3").replace(digest(1), digest(3))  # the file the canary ran
    assert path.read_text() == original.replace(FLEET_1 + CANARY_2, fleet_3)

    result = promote(cli, project_copy, registry, "--model", f"{MODEL}:2", "--canary")
    assert result.returncode == 0, result.stderr
    assert path.read_text() == original.replace(FLEET_1, fleet_3)  # a new canary: the fleet's condition AND the ring

    result = promote(cli, project_copy, registry, "--rollback")
    assert result.returncode == 0, result.stderr
    assert path.read_text() == original.replace(FLEET_1 + CANARY_2, fleet_3)
    assert "rolled back from the canary; the fleet runs predictive-maintenance:3" in result.stderr


def test_the_first_model_goes_to_a_canary_then_becomes_the_fleet(project_copy, cli, registry):
    path = project_copy / "stacks" / "Pulumi.dev.yaml"
    empty = path.read_text().replace(FLEET_1 + CANARY_2, "").replace("    deployments:\n  mlops-platform:alerts", "    deployments: []\n  mlops-platform:alerts")
    path.write_text(empty)

    assert promote(cli, project_copy, registry, "--model", f"{MODEL}:1", "--canary").returncode == 0
    assert promote(cli, project_copy, registry, "--complete").returncode == 0

    assert path.read_text() == empty.replace("    deployments: []\n  mlops-platform:alerts", f"    deployments:\n{FLEET_1}  mlops-platform:alerts")


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["--model", f"{MODEL}:4", "--canary"], 1, f"{MODEL}:4 has no ONNX artifact (no 'onnx' tag)"),
        (["--model", f"{MODEL}:5", "--canary"], 1, f"{MODEL}:5 has no ONNX digest ('onnx_sha256' tag missing)"),
        (["--model", f"{MODEL}:6", "--canary"], 1, f"{MODEL}:6 has no ONNX digest ('onnx_sha256' tag '{digest(6).upper()}' is not 64 hex digits)"),
        (["--model", f"{MODEL}:5", "--complete"], 1, f"{MODEL}:5 has no ONNX digest"),
        (["--model", f"{MODEL}:9", "--canary"], 1, f"the model registry has no version 9 of '{MODEL}'"),
        (["--model", f"{MODEL}:1", "--canary"], 1, f"{MODEL}:1 already runs on the fleet"),
        (["--canary"], 2, "--model is required with --canary"),
        (["--complete", "--rollback"], 2, "exactly one of --canary, --complete, --rollback"),
        (["--model", f"{MODEL}:3", "--traffic", "10"], 2, "--traffic and --environment are for the endpoint"),
    ],
)
def test_refusals_and_bad_usage_write_nothing(project_copy, cli, registry, args, code, fragment):
    path = project_copy / "stacks" / "Pulumi.dev.yaml"
    before = path.read_text()
    result = promote(cli, project_copy, registry, *args)
    assert result.returncode == code, result.stderr
    assert fragment in result.stderr and "Traceback" not in result.stderr
    assert path.read_text() == before


def test_a_bad_target_condition_in_the_stack_file_exits_2_naming_the_key(project_copy, cli, registry):
    path = project_copy / "stacks" / "Pulumi.dev.yaml"
    path.write_text(path.read_text().replace("tags.environment='dev' AND tags.ring='canary'", "tags.environment='dev' OR tags.ring='canary'"))
    result = promote(cli, project_copy, registry, "--model", f"{MODEL}:3", "--canary")
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "stacks/Pulumi.dev.yaml: mlops-platform:edge.deployments.1.targetCondition: expected AND at character 24" in line


def test_the_preview_shows_the_rollout_as_a_replace_of_the_fleet_deployment(project_copy, cli, registry):
    git(project_copy, "init", "-q", "-b", "main")
    git(project_copy, "add", "-A")
    git(project_copy, "commit", "-qm", "base")
    assert promote(cli, project_copy, registry, "--complete").returncode == 0

    result = cli(["preview", "--stack", "dev", "--base", "HEAD", "--format", "json"], cwd=project_copy)
    assert result.returncode == 0, result.stderr
    [stack] = json.loads(result.stdout)["stacks"]
    changes = {c["urn"].rsplit("::", 1)[-1]: c for c in stack["changes"] if c["op"] != "same"}
    assert {name: c["op"] for name, c in changes.items()} == {"edge-fleet": "replace", "edge-canary": "delete"}
    changed = set(changes["edge-fleet"]["changed"])
    assert {"configurationId", "model", "modelSha256", "content.modulesContent.scorer.properties.desired.modelVersion",
            "content.modulesContent.scorer.properties.desired.modelSha256"} <= changed
