"""Promotion edits the stack file (comments and order kept), refuses what it must, and previews as an update."""

from __future__ import annotations

import json

import pytest
from mlflow import MlflowClient
from ruamel.yaml import YAML


@pytest.fixture
def registry(tmp_path):
    """A real MLflow registry (SQLite) with versions 1-3 of the model."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("predictive-maintenance")
    for _ in range(3):
        client.create_model_version("predictive-maintenance", source=str(tmp_path / "model"))
    return uri



def serving(repo, env):
    document = YAML(typ="safe").load((repo / "stacks" / f"Pulumi.{env}.yaml").read_text())
    return document["config"]["mlops-platform:serving"]


def test_canary_complete_and_rollback(project_repo, cli, registry):
    stack_file = project_repo / "stacks" / "Pulumi.staging.yaml"
    original = stack_file.read_text()
    result = cli(["promote", "--stack", "staging", "--model", "predictive-maintenance:2", "--traffic", "10"], cwd=project_repo, MLFLOW_TRACKING_URI=registry)
    assert result.returncode == 0, result.stderr
    assert serving(project_repo, "staging")["traffic"] == {"blue": 90, "green": 10}
    assert [d["model"] for d in serving(project_repo, "staging")["deployments"]] == ["predictive-maintenance:1", "predictive-maintenance:2"]
    text = stack_file.read_text()
    assert text.splitlines()[0] == original.splitlines()[0]  # the header comment survives
    assert "# Serving state, edited by `python -m mlops promote`" in text
    assert "+      green: 10" in result.stdout  # the diff is printed

    result = cli(["promote", "--stack", "staging", "--complete"], cwd=project_repo, MLFLOW_TRACKING_URI=registry)
    assert result.returncode == 0, result.stderr
    assert serving(project_repo, "staging")["traffic"] == {"green": 100}
    assert [d["name"] for d in serving(project_repo, "staging")["deployments"]] == ["green"]

    cli(["promote", "--stack", "staging", "--model", "predictive-maintenance:3", "--traffic", "20"], cwd=project_repo, MLFLOW_TRACKING_URI=registry)
    result = cli(["promote", "--stack", "staging", "--rollback"], cwd=project_repo, MLFLOW_TRACKING_URI=registry)
    assert result.returncode == 0, result.stderr
    assert serving(project_repo, "staging") == {
        "environment": "mlops-serving:1",
        "deployments": [{"name": "green", "model": "predictive-maintenance:2", "instanceCount": 1}],
        "traffic": {"green": 100},
    }


def test_dry_run_writes_nothing(project_repo, cli, registry):
    before = (project_repo / "stacks" / "Pulumi.staging.yaml").read_text()
    result = cli(["promote", "--stack", "staging", "--model", "predictive-maintenance:2", "--traffic", "10", "--dry-run"], cwd=project_repo, MLFLOW_TRACKING_URI=registry)
    assert result.returncode == 0 and "would promote" in result.stderr and "+      green: 10" in result.stdout
    assert (project_repo / "stacks" / "Pulumi.staging.yaml").read_text() == before


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--stack", "staging", "--model", "predictive-maintenance:9", "--traffic", "10"], 1, "registry has no version 9"),
        (["--stack", "staging", "--model", "predictive-maintenance:2", "--traffic", "0"], 2, "out of range"),
        (["--stack", "staging", "--model", "predictive-maintenance:2", "--traffic", "100"], 2, "out of range"),
        (["--stack", "staging", "--model", "predictive-maintenance", "--traffic", "10"], 2, "is not NAME:VERSION"),
        (["--stack", "prod", "--model", "predictive-maintenance:3", "--traffic", "10"], 1, "never served in staging"),
        (["--stack", "staging", "--complete"], 1, "no rollout in progress"),
        (["--stack", "staging", "--rollback"], 1, "nothing to roll back"),
        (["--stack", "staging", "--complete", "--rollback"], 2, "exactly one of"),
        (["--stack", "qa", "--model", "predictive-maintenance:2", "--traffic", "10"], 2, "--stack: no stack 'qa' (no stacks/Pulumi.qa.yaml); available: dev, staging, prod, shared"),
    ],
)
def test_refusals_and_bad_input(project_repo, cli, registry, args, code, message):
    before = (project_repo / "stacks" / "Pulumi.staging.yaml").read_text()
    result = cli(["promote", *args], cwd=project_repo, MLFLOW_TRACKING_URI=registry)
    assert result.returncode == code, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert (project_repo / "stacks" / "Pulumi.staging.yaml").read_text() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--stack", "dev", "--model", "predictive-maintenance:1", "--traffic", "10"], "the stack has no serving.environment yet: pass --environment"),
        (["--stack", "staging", "--model", "predictive-maintenance:2", "--traffic", "10", "--environment", "mlops-serving"], "'mlops-serving' is not NAME:VERSION"),
        (["--stack", "staging", "--complete", "--environment", "mlops-serving:2"], "--environment goes with --traffic"),
    ],
    ids=["first-model-needs-one", "not-name-version", "not-with-complete"],
)
def test_environment_is_bad_input_when_missing_or_malformed(project_repo, cli, registry, args, message):
    stack = args[1]
    before = (project_repo / "stacks" / f"Pulumi.{stack}.yaml").read_text()
    result = cli(["promote", *args], cwd=project_repo, MLFLOW_TRACKING_URI=registry)
    assert (result.returncode, message in result.stderr, "Traceback" in result.stderr) == (2, True, False), result.stderr
    assert (project_repo / "stacks" / f"Pulumi.{stack}.yaml").read_text() == before


def test_a_first_model_brings_the_stacks_environment(project_repo, cli, registry):
    args = ["promote", "--stack", "dev", "--model", "predictive-maintenance:1", "--traffic", "10", "--environment", "mlops-serving:1"]
    result = cli(args, cwd=project_repo, MLFLOW_TRACKING_URI=registry)
    assert result.returncode == 0, result.stderr
    assert serving(project_repo, "dev") == {
        "authMode": "AMLToken",
        "environment": "mlops-serving:1",
        "deployments": [{"name": "blue", "model": "predictive-maintenance:1"}],
        "traffic": {"blue": 100},
    }


def test_a_new_environment_rolls_out_and_back_like_a_model(project_repo, cli, registry):
    """The same model on a new image: the canary slot carries the override, --complete makes it the stack's,
    --rollback drops it with the slot."""
    run = lambda *args: cli(["promote", "--stack", "staging", *args], cwd=project_repo, MLFLOW_TRACKING_URI=registry)  # noqa: E731
    assert run("--model", "predictive-maintenance:1", "--traffic", "10").returncode == 1  # same model, same image
    result = run("--model", "predictive-maintenance:1", "--traffic", "10", "--environment", "mlops-serving:2")
    assert result.returncode == 0, result.stderr
    assert "on mlops-serving:2 canary as 'green'" in result.stderr
    state = serving(project_repo, "staging")
    assert (state["environment"], [d.get("environment") for d in state["deployments"]]) == ("mlops-serving:1", [None, "mlops-serving:2"])
    assert run("--rollback").returncode == 0
    assert serving(project_repo, "staging")["environment"] == "mlops-serving:1"
    assert "environment" not in serving(project_repo, "staging")["deployments"][0]

    assert run("--model", "predictive-maintenance:2", "--traffic", "10", "--environment", "mlops-serving:2").returncode == 0
    assert run("--complete").returncode == 0
    assert serving(project_repo, "staging") == {
        "environment": "mlops-serving:2",
        "deployments": [{"name": "green", "model": "predictive-maintenance:2", "instanceCount": 1}],
        "traffic": {"green": 100},
    }


def test_a_first_deployment_in_prod_gets_prods_minimum_instances(project_repo, cli, registry, commit):
    path = project_repo / "stacks" / "Pulumi.prod.yaml"
    document = YAML()
    data = document.load(path.read_text())
    data["config"]["mlops-platform:serving"].update(deployments=[], traffic={})
    document.dump(data, path)
    commit(project_repo, "prod serves nothing yet")
    result = cli(["promote", "--stack", "prod", "--model", "predictive-maintenance:1", "--traffic", "10"], cwd=project_repo, MLFLOW_TRACKING_URI=registry)
    assert result.returncode == 0, result.stderr
    assert serving(project_repo, "prod")["deployments"] == [{"name": "blue", "model": "predictive-maintenance:1", "instanceCount": 2}]


def test_prod_accepts_a_model_staging_served_before(project_repo, cli, registry, commit):
    cli(["promote", "--stack", "staging", "--model", "predictive-maintenance:2", "--traffic", "10"], cwd=project_repo, MLFLOW_TRACKING_URI=registry)
    commit(project_repo, "canary v2 in staging")
    cli(["promote", "--stack", "staging", "--rollback"], cwd=project_repo, MLFLOW_TRACKING_URI=registry)  # no longer declared, but in history
    result = cli(["promote", "--stack", "prod", "--model", "predictive-maintenance:2", "--traffic", "10"], cwd=project_repo, MLFLOW_TRACKING_URI=registry)
    assert result.returncode == 0, result.stderr
    green = serving(project_repo, "prod")["deployments"][1]
    assert green["instanceCount"] == 2  # sizing copied from the live slot, so prod's minimum holds


def test_promotion_previews_as_an_update_of_staging(project_repo, cli, registry):
    cli(["promote", "--stack", "staging", "--model", "predictive-maintenance:2", "--traffic", "10"], cwd=project_repo, MLFLOW_TRACKING_URI=registry)
    result = cli(["preview", "--stack", "staging", "--base", "HEAD", "--format", "json"], cwd=project_repo)
    assert result.returncode == 0, result.stderr
    [stack] = json.loads(result.stdout)["stacks"]
    changes = {(c["op"], c["name"]) for c in stack["changes"] if c["op"] != "same"}
    assert ("create", "online-green") in changes and ("update", "online-traffic") in changes
    assert {op for op, _ in changes} <= {"create", "update"}
    assert stack["summary"]["mandatory"] == 0


def test_completing_in_prod_moves_the_production_alias(project_repo, cli, registry):
    cli(["promote", "--stack", "staging", "--model", "predictive-maintenance:2", "--traffic", "10"], cwd=project_repo, MLFLOW_TRACKING_URI=registry)
    assert cli(["promote", "--stack", "prod", "--model", "predictive-maintenance:2", "--traffic", "10"], cwd=project_repo, MLFLOW_TRACKING_URI=registry).returncode == 0
    result = cli(["promote", "--stack", "prod", "--complete"], cwd=project_repo, MLFLOW_TRACKING_URI=registry)
    assert result.returncode == 0, result.stderr
    client = MlflowClient(tracking_uri=registry, registry_uri=registry)
    assert str(client.get_model_version_by_alias("predictive-maintenance", "production").version) == "2"
    staging = cli(["promote", "--stack", "staging", "--complete"], cwd=project_repo, MLFLOW_TRACKING_URI=registry)
    assert staging.returncode == 0
    assert str(client.get_model_version_by_alias("predictive-maintenance", "production").version) == "2"  # only prod moves it


@pytest.mark.parametrize(
    ("model", "environment", "code", "message"),
    [
        ("predictive-maintenance:2", "mlops-serving:1", 0, "would promote"),
        ("predictive-maintenance:9", "mlops-serving:1", 1, "refused: the model registry has no version 9 of 'predictive-maintenance'"),
        ("predictive-maintenance:2", "mlops-serving:7", 1, "refused: the registry has no version 7 of the environment 'mlops-serving'"),
    ],
)
def test_the_shared_registry_is_asked_for_the_model_and_the_environment(azure, capsys, model, environment, code, message):
    """`--registry shared`: the registry the deployments take both from (azureml://registries/<mlRegistryName>/...),
    found through Azure ML's registry discovery and asked in its region; nothing but HTTP is recorded."""
    from mlops.cli import main
    from mlops.outputs import load_outputs
    from tests.azure.wire import token_for
    from tests.azure.workspace import DISCOVERY_HOST, RecordedRegistry

    registry = RecordedRegistry(load_outputs("staging").ml_registry_name, models={"predictive-maintenance:2"},
                                environments={"mlops-serving:1"}).install(azure)  # fmt: skip
    args = ["promote", "--stack", "staging", "--model", model, "--traffic", "10", "--environment", environment]
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--registry", "shared", "--dry-run"])
    assert exit_info.value.code == code and message in capsys.readouterr().err
    [discovery] = azure.requests_to(DISCOVERY_HOST)
    assert discovery.path == f"/registrymanagement/v1.0/registries/{registry.name}/discovery"
    name, version = model.split(":")
    asked = [(c.method, c.path.removeprefix(registry.path)) for c in azure.requests_to(registry.host)]
    expected = [("GET", f"/models/{name}/versions/{version}")]
    if version == "2":  # the environment is asked only for a model the registry has
        expected.append(("GET", "/environments/{}/versions/{}".format(*environment.split(":"))))
    assert asked == expected and azure.unrouted == []
    assert all(c.api_version and c.bearer == token_for("https://management.azure.com") for c in azure.requests_to(registry.host))


def test_a_shared_registry_that_cannot_be_found_is_bad_input(azure, capsys):
    from mlops.cli import main
    from mlops.outputs import load_outputs
    from tests.azure.workspace import DISCOVERY_HOST

    name = load_outputs("staging").ml_registry_name
    azure.route("GET", f"{DISCOVERY_HOST}/registrymanagement/v1.0/registries/{name}/discovery",
                {"error": {"code": "AuthorizationFailed", "message": "no access to the registry"}}, status=403)  # fmt: skip
    args = ["promote", "--stack", "staging", "--model", "predictive-maintenance:2", "--traffic", "10", "--environment", "mlops-serving:1"]
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--registry", "shared", "--dry-run"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and f"error: cannot reach the shared registry {name}: " in err and "Traceback" not in err


@pytest.mark.parametrize(("version", "code"), [("2", 0), ("9", 1)])
def test_workspace_registry_is_asked_over_arm(azure, capsys, version, code):
    """`--registry workspace`: azure-identity signs in, azure-ai-ml asks ARM for the model version; nothing else is faked."""
    from mlops.cli import main
    from mlops.outputs import load_outputs
    from tests.azure.wire import token_for
    from tests.azure.workspace import RecordedWorkspace

    outputs = load_outputs("staging")
    RecordedWorkspace(outputs, models=[("1", {}), ("2", {"stack": "dev"})]).install(azure)
    args = ["promote", "--stack", "staging", "--model", f"predictive-maintenance:{version}", "--traffic", "10"]
    with pytest.raises(SystemExit) as exit_info:  # staging has no deployment yet: this is its first one
        main([*args, "--registry", "workspace", "--environment", "mlops-serving:1", "--dry-run"])
    assert exit_info.value.code == code
    assert ("would promote" if code == 0 else "registry has no version 9") in capsys.readouterr().err
    [get] = azure.requests_to("management.azure.com")
    assert (get.method, get.path) == ("GET", f"{outputs.workspace_id}/models/predictive-maintenance/versions/{version}")
    assert get.api_version and get.bearer == token_for("https://management.azure.com")
