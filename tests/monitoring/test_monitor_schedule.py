"""The scheduled monitor in every stack: an Azure ML schedule with the config's cron, a command job on the training
image as the cluster's identity, bound per deployment slot to the lake, the labels and each slot's model, plus the
roles the job needs; and every malformed schedule or window in the stack config is one line naming the key."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.monitor_job import ENVIRONMENT_NAME, environment_version
from components.roles import BUILT_IN_ROLES
from core.config import azure_ml_cron, load_stack_config, read_stack_values
from core.contracts import DRIFT_CONFIG_ENV, experiment_name
from pipelines.monitor import parse_args
from policies.rules import resource_types as t
from tests.conftest import run_with
from tests.infra.test_config import config_error

ENVIRONMENTS = ("dev", "staging", "prod")
SCHEDULE = t.ML_SCHEDULE
ENVIRONMENT = t.ML_ENVIRONMENT_VERSION
SERVING = {"environment": "mlops-serving:3", "traffic": {"blue": 90, "green": 10},
           "deployments": [{"name": "blue", "model": "predictive-maintenance:4", "instanceCount": 2},
                           {"name": "green", "model": "predictive-maintenance:5", "instanceCount": 2}]}  # fmt: skip
ROLE_NAMES = {guid: role for role, guid in BUILT_IN_ROLES.items()}


@pytest.fixture(scope="module")
def served():
    own = lambda env: json.loads(read_stack_values(env)[0]["mlops-platform:serving"])  # noqa: E731
    schedules = {"dev": "*/30 * * * *", "staging": "0 6 * * *", "prod": "15 5,17 * * 1-5"}
    return {env: run_with(env, serving=json.dumps(own(env) | SERVING),
                          monitoring=json.dumps({"schedule": schedules[env], "window": "12h", "labelWindow": "3d"}))
            for env in ENVIRONMENTS}  # fmt: skip


def test_no_schedule_before_a_model_serves(stacks):
    for record in stacks.values():
        assert record.of_type(SCHEDULE) == [] and record.of_type(ENVIRONMENT) == []


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_schedule_runs_the_monitor_job_as_the_cluster_identity(served, environment):
    record = served[environment]
    schedule = record.one(SCHEDULE)
    properties = schedule.inputs["properties"]
    assert properties["isEnabled"] is True
    assert properties["trigger"] == {"triggerType": "Cron", "expression": {"dev": "*/30 * * * *", "staging": "0 6 * * *",
                                     "prod": "15 5,17 * * 1-5"}[environment], "timeZone": "UTC"}  # fmt: skip
    job = properties["action"]["jobDefinition"]
    assert properties["action"]["actionType"] == "CreateJob" and job["jobType"] == "Command"
    assert job["identity"] == {"identityType": "Managed"}  # data access as the cluster's identity
    assert job["computeId"] == record.one(t.ML_COMPUTE).outputs["id"]
    assert job["experimentName"] == experiment_name(environment)
    # The environment: the stack config's training image in the stack's own registry (as the pipeline's, output
    # trainingImage), a version per image reference.
    env = record.one(ENVIRONMENT)
    image = f"{record.one('azure-native:containerregistry:Registry').outputs['loginServer']}/{load_stack_config(environment).training.image}"
    assert image.endswith("/mlops/training:1.0.0") and record.outputs["trainingImage"] == image
    assert env.inputs["properties"]["image"] == image and env.inputs["name"] == ENVIRONMENT_NAME
    assert env.inputs["version"] == environment_version(image)
    assert job["environmentId"] == env.outputs["id"]
    # The command is the monitor's own command line; it parses, and names the endpoint, each slot and its model.
    args = parse_args(job["command"].removeprefix("python -m pipelines.monitor ").split())
    endpoint = record.one(t.ONLINE_ENDPOINT).inputs["endpointName"]
    assert (args.endpoint, args.stack, args.window_hours, args.label_window_hours) == (endpoint, environment, 12, 72)
    assert {slot: str(path) for slot, path in args.models.items()} == {"blue": "${{inputs.model_blue}}", "green": "${{inputs.model_green}}"}
    assert args.model_refs == {"blue": "predictive-maintenance:4", "green": "predictive-maintenance:5"}
    assert str(args.captures) == "${{inputs.captures}}" and str(args.reports) == "${{outputs.reports}}"
    # Ports: Capture's files of the predictions hub in raw, the labels, the slots' models; Parquet and reports out.
    registry = record.named("online-blue").inputs["properties"]["model"].split("/models/")[0]
    assert job["inputs"] == {
        "captures": {"jobInputType": "uri_folder", "uri": "azureml://datastores/raw/paths/", "mode": "ReadOnlyMount"},
        "labels": {"jobInputType": "uri_folder", "uri": "azureml://datastores/labels/paths/", "mode": "ReadOnlyMount"},
        "model_blue": {"jobInputType": "mlflow_model", "uri": f"{registry}/models/predictive-maintenance/versions/4", "mode": "ReadOnlyMount"},
        "model_green": {"jobInputType": "mlflow_model", "uri": f"{registry}/models/predictive-maintenance/versions/5", "mode": "ReadOnlyMount"},
    }
    assert job["outputs"] == {
        "predictions": {"jobOutputType": "uri_folder", "uri": "azureml://datastores/predictions/paths/", "mode": "ReadWriteMount"},
        "reports": {"jobOutputType": "uri_folder", "uri": "azureml://datastores/monitoring/paths/", "mode": "ReadWriteMount"},
    }
    datastores = {d.inputs["name"] for d in record.of_type(t.ML_DATASTORE)}
    assert {"raw", "labels", "predictions", "monitoring"} <= datastores
    # Settings: the stack's drift thresholds, and where the metrics go (not a secret: the schedule stays reviewable).
    config = load_stack_config(environment)
    assert json.loads(job["environmentVariables"][DRIFT_CONFIG_ENV]) == config.drift.model_dump(by_alias=True)
    insights = record.one(t.APP_INSIGHTS).outputs["connectionString"]
    assert job["environmentVariables"]["APPLICATIONINSIGHTS_CONNECTION_STRING"] == getattr(insights, "value", insights)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_cluster_identity_holds_exactly_the_monitor_roles(served, environment):
    record = served[environment]
    cluster = record.one(t.ML_COMPUTE).outputs["identity"]["principalId"]
    lake = record.named("lake-st").outputs["id"]
    roles = {(r.inputs["scope"].removeprefix(lake), ROLE_NAMES[r.inputs["roleDefinitionId"].rsplit("/", 1)[1]])
             for r in record.of_type(t.ROLE_ASSIGNMENT) if r.inputs["principalId"] == cluster}  # fmt: skip
    assert {
        ("/blobServices/default/containers/raw", "Storage Blob Data Reader"),
        ("/blobServices/default/containers/predictions", "Storage Blob Data Contributor"),
        ("/blobServices/default/containers/labels", "Storage Blob Data Reader"),
        ("/blobServices/default/containers/monitoring", "Storage Blob Data Contributor"),
    } <= roles
    insights = record.one(t.APP_INSIGHTS).outputs["id"]
    assert (insights, "Monitoring Metrics Publisher") in roles
    assert not any(role == "Azure Event Hubs Data Receiver" and scope.endswith("/predictions") for scope, role in roles)


def test_a_traffic_change_leaves_the_schedule_as_it_is(served):
    moved = json.loads(read_stack_values("staging")[0]["mlops-platform:serving"]) | SERVING | {"traffic": {"blue": 0, "green": 100}}
    after = run_with("staging", serving=json.dumps(moved), monitoring=json.dumps({"window": "12h", "labelWindow": "3d"}))
    assert after.one(SCHEDULE).inputs["properties"]["action"] == served["staging"].one(SCHEDULE).inputs["properties"]["action"]


@pytest.mark.parametrize(
    ("monitoring", "key", "fragment"),
    [
        ("{schedule: '0 6 1 * *'}", "monitoring.schedule", "days must be '*': Azure ML schedules ignore days values"),
        ("{schedule: '0 6 * 2 *'}", "monitoring.schedule", "months must be '*'"),
        ("{schedule: '0 25 * * *'}", "monitoring.schedule", "hours '25': '25' is not a value from 0 to 23"),
        ("{schedule: '0 6 * * *  1'}", "monitoring.schedule", "expected 5 fields"),
        ("{schedule: '*/0 * * * *'}", "monitoring.schedule", "step '/0' must be from 1 to 59"),
        ("{schedule: '0 6 * * fri-mon'}", "monitoring.schedule", "range 'fri-mon' runs backwards"),
        ("{window: 24}", "monitoring.window", "valid string"),
        ("{window: 24m}", "monitoring.window", "should match pattern"),
        ("{window: 40d}", "monitoring.window", "from 1h to 31d"),
        ("{window: 2d, labelWindow: 1d}", "monitoring.labelWindow", "from the drift window (2d) to 90d"),
    ],
)
def test_bad_monitor_settings_name_the_key(tmp_path, monitoring, key, fragment):
    error = config_error(tmp_path, "staging", f"  mlops-platform:monitoring: {monitoring}\n")
    assert error.key == f"mlops-platform:{key}"
    assert fragment in error.message


FIELD = st.one_of(st.just("*"), st.integers(0, 70).map(str), st.text("0123456789*/,-abcdefghimnorstuwy", max_size=8))


@given(st.lists(FIELD, min_size=3, max_size=7))
def test_the_cron_check_accepts_or_names_a_field_never_crashes(fields):
    expression = " ".join(fields)
    try:
        assert azure_ml_cron(expression) == expression
    except ValueError as exc:
        message = str(exc)
        assert "expected 5 fields" in message or message.split()[0] in ("minutes", "hours", "days", "months", "days-of-week")


@given(st.integers(0, 59), st.integers(0, 23), st.sampled_from(["*", "0", "1-5", "mon,wed", "saturday", "*/2"]))
def test_every_cron_azure_ml_takes_is_accepted(minute, hour, weekday):
    assert azure_ml_cron(f"{minute} {hour} * * {weekday}")


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_deployment_collects_to_the_predictions_hub_as_the_endpoint_identity(served, environment):
    """What the scoring script reads (pipelines/collect.py): the hub it sends to and the metadata of its rows."""
    from pipelines import collect

    record = served[environment]
    endpoint = record.one(t.ONLINE_ENDPOINT)
    [identity] = [r for r in record.of_type(t.USER_IDENTITY)
                  if r.outputs["id"] in endpoint.inputs["identity"]["userAssignedIdentities"]]  # fmt: skip
    namespace = record.one(t.EVENTHUB_NAMESPACE).inputs["namespaceName"]
    for slot, model in (("blue", "predictive-maintenance:4"), ("green", "predictive-maintenance:5")):
        settings = record.named(f"online-{slot}").inputs["properties"]["environmentVariables"]
        assert settings == {
            collect.NAMESPACE_ENV: f"{namespace}.servicebus.windows.net",
            collect.HUB_ENV: "predictions",
            collect.ENDPOINT_ENV: endpoint.inputs["endpointName"],
            collect.DEPLOYMENT_ENV: slot,
            collect.MODEL_ENV: model,
            "AZURE_CLIENT_ID": identity.outputs["clientId"],
        }
    # The endpoint identity may send to that hub, and only that one.
    sends = [r for r in record.of_type(t.ROLE_ASSIGNMENT)
             if r.inputs["principalId"] == identity.outputs["principalId"] and ROLE_NAMES[r.inputs["roleDefinitionId"].rsplit("/", 1)[1]] == "Azure Event Hubs Data Sender"]  # fmt: skip
    assert [r.inputs["scope"].rsplit("/", 2)[1:] for r in sends] == [["eventhubs", "predictions"]]
