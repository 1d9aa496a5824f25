"""Ingestion, serving, identities and alerts per environment, and rollout as a stack-config change."""

from __future__ import annotations

import json
import re

import pytest

from components.arm_settings import IOT_ROUTING_KIND, TRAFFIC_KIND
from components.roles import BUILT_IN_ROLES, assignment_name
from core.config import load_stack_config
from policies.rules import resource_types as t

ENVIRONMENTS = ("dev", "staging", "prod")
NAMESPACE = t.EVENTHUB_NAMESPACE
HUB = t.EVENTHUB
IOT = t.IOT_HUB
ENDPOINT = t.ONLINE_ENDPOINT
DEPLOYMENT = t.ONLINE_DEPLOYMENT
ROLE = t.ROLE_ASSIGNMENT
ALERT = t.METRIC_ALERT
QUERY_ALERT = t.SCHEDULED_QUERY_RULE
SCHEDULE = t.ML_SCHEDULE
DYNAMIC = t.DYNAMIC
ROLE_NAMES = {guid: role for role, guid in BUILT_IN_ROLES.items()}


def traffic_resource(record):
    [resource] = [r for r in record.of_type(DYNAMIC) if r.inputs.get("kind") == TRAFFIC_KIND]
    return resource


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_event_hubs_identity_only_with_capture_to_raw(stacks, environment):
    record = stacks[environment]
    namespace = record.one(NAMESPACE)
    assert namespace.inputs["disableLocalAuth"] is True
    assert namespace.inputs["minimumTlsVersion"] == "1.2"
    assert namespace.inputs["identity"]["type"] == "SystemAssigned"
    assert namespace.inputs["zoneRedundant"] is (environment == "prod")
    assert namespace.protect is (environment != "dev")
    hubs = {h.inputs["eventHubName"]: h for h in record.of_type(HUB)}
    assert {"telemetry", "predictions"} <= set(hubs)
    # Telemetry and the scored requests (the monitor reads those) are captured; the alerts hub is not.
    assert {name for name, hub in hubs.items() if "captureDescription" in hub.inputs} == {"telemetry", "predictions"}
    for captured in ("telemetry", "predictions"):
        capture = hubs[captured].inputs["captureDescription"]
        assert capture["enabled"] is True and capture["encoding"] == "Avro"
        destination = capture["destination"]
        assert destination["blobContainer"] == "raw"
        assert destination["identity"] == {"type": "SystemAssigned"}
        assert destination["storageAccountResourceId"] == record.named("lake-st").outputs["id"]
        assert destination["archiveNameFormat"].startswith("{Namespace}/{EventHub}/")  # the monitor's captures input
        assert all(token in destination["archiveNameFormat"] for token in ("{PartitionId}", "{Second}"))
    # capture writes with the namespace identity: its role on the raw container exists first
    [capture_role] = [r for r in record.of_type(ROLE) if r.name == "events-capture-to-raw"]
    assert capture_role.urn in hubs["telemetry"].dependencies and capture_role.urn in hubs["predictions"].dependencies
    assert capture_role.inputs["principalId"] == namespace.outputs["identity"]["principalId"]
    assert capture_role.inputs["scope"].endswith("/containers/raw")
    groups = {(g.inputs["eventHubName"], g.inputs["consumerGroupName"]) for g in record.of_type(t.EVENTHUB_CONSUMER_GROUP)}
    assert ("telemetry", "drift-monitor") in groups


def test_event_hubs_sized_per_environment(stacks):
    partitions = {e: {h.inputs["eventHubName"]: h.inputs["partitionCount"] for h in stacks[e].of_type(HUB)} for e in ENVIRONMENTS}
    assert partitions["prod"]["telemetry"] == 16 and partitions["dev"]["telemetry"] == 4
    assert stacks["prod"].one(NAMESPACE).inputs["sku"]["capacity"] == 2


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_iot_hub_routes_with_its_system_identity_after_its_roles(stacks, environment):
    record = stacks[environment]
    hub = record.one(IOT)
    props = hub.inputs["properties"]
    assert props["minTlsVersion"] == "1.2" and props["disableLocalAuth"] is True
    # Trusted-service access to the Event Hubs and storage firewalls requires the system-assigned identity.
    assert hub.inputs["identity"] == {"type": "SystemAssigned"}
    assert "routing" not in props and "properties.routing" in hub.ignore_changes
    principal = hub.outputs["identity"]["principalId"]
    roles = {r.name: r for r in record.of_type(ROLE) if r.inputs["principalId"] == principal}
    assert set(roles) == {"iot-send-telemetry", "iot-write-raw"}
    assert roles["iot-send-telemetry"].inputs["scope"].endswith("/eventhubs/telemetry")
    assert roles["iot-write-raw"].inputs["scope"].endswith("/containers/raw")
    [routing] = [r for r in record.of_type(DYNAMIC) if r.inputs.get("kind") == IOT_ROUTING_KIND]
    assert routing.inputs["resourceId"] == hub.outputs["id"]
    assert {hub.urn, *(r.urn for r in roles.values())} <= set(routing.dependencies)
    endpoints = routing.inputs["routing"]["endpoints"]
    for endpoint in endpoints["eventHubs"] + endpoints["storageContainers"]:
        assert endpoint["authenticationType"] == "identityBased" and "identity" not in endpoint  # the system identity
    assert endpoints["eventHubs"][0]["entityPath"] == "telemetry"
    assert endpoints["storageContainers"][0]["containerName"] == "raw"
    routes = {r["name"]: r["endpointNames"] for r in routing.inputs["routing"]["routes"]}
    assert routes == {"telemetry-to-eventhubs": ["telemetry-eventhub"], "telemetry-to-lake": ["raw-lake"]}
    assert routing.inputs["routing"]["fallbackRoute"]["isEnabled"] is True


SERVING = {
    "environment": "mlops-serving:3",
    "deployments": [{"name": "blue", "model": "predictive-maintenance:1", "instanceCount": 2}],
    "traffic": {"blue": 100},
}


def _serving(**changes):
    return json.dumps(SERVING | changes)


@pytest.fixture(scope="module")
def served(stacks):
    """Each stack as it runs once bootstrap has registered a model and the scoring environment."""
    from core.config import read_stack_values
    from tests.conftest import run_with

    own = lambda env: json.loads(read_stack_values(env)[0]["mlops-platform:serving"])  # noqa: E731
    return {environment: run_with(environment, serving=json.dumps(own(environment) | SERVING)) for environment in ENVIRONMENTS}


def test_a_new_environment_starts_without_deployments(stacks):
    """The first `up` creates the workspace and registries: nothing may name a model or image that cannot exist yet."""
    for record in stacks.values():
        assert record.of_type(DEPLOYMENT) == []
        assert record.of_type(t.BATCH_DEPLOYMENT) == []
        assert record.of_type(t.ML_ENVIRONMENT_VERSION) == []
        assert traffic_resource(record).inputs["traffic"] == {}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_online_endpoint_and_deployments(served, environment):
    record = served[environment]
    endpoint = record.one(ENDPOINT)
    assert endpoint.inputs["properties"]["authMode"] == ("AMLToken" if environment == "dev" else "AADToken")
    assert endpoint.inputs["properties"]["publicNetworkAccess"] == ("Enabled" if environment == "dev" else "Disabled")
    assert "traffic" not in endpoint.inputs["properties"]
    assert "properties.traffic" in endpoint.ignore_changes
    registry = record.outputs["mlRegistryName"]
    for deployment in record.of_type(DEPLOYMENT):
        props = deployment.inputs["properties"]
        assert props["appInsightsEnabled"] is True
        assert props["egressPublicNetworkAccess"] == ("Enabled" if environment == "dev" else "Disabled")
        # Models and environments come from the shared registry, by the ids ARM takes.
        assert props["model"] == f"azureml://registries/{registry}/models/predictive-maintenance/versions/1"
        assert props["environmentId"] == f"azureml://registries/{registry}/environments/mlops-serving/versions/3"
        assert deployment.inputs["sku"]["capacity"] == 2


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_endpoint_identity_is_user_assigned_and_granted_before_the_endpoint(served, environment):
    record = served[environment]
    endpoint = record.one(ENDPOINT)
    identity = record.named("online-id")
    assert endpoint.inputs["identity"] == {"type": "UserAssigned", "userAssignedIdentities": [identity.outputs["id"]]}
    grants = {ROLE_NAMES[r.inputs["roleDefinitionId"].rsplit("/", 1)[1]]: r for r in record.of_type(ROLE)
              if r.inputs["principalId"] == identity.outputs["principalId"]}  # fmt: skip
    assert set(grants) == {"AcrPull", "Storage Blob Data Reader", "AzureML Registry User", "Azure Event Hubs Data Sender"}
    assert grants["AcrPull"].inputs["scope"] == record.one(t.REGISTRY).outputs["id"]
    assert grants["Storage Blob Data Reader"].inputs["scope"] == record.named("workspace-st").outputs["id"]
    assert all(g.urn in endpoint.dependencies for g in grants.values())


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_traffic_is_carried_by_one_resource_after_the_deployments(served, environment):
    record = served[environment]
    traffic = traffic_resource(record)
    assert traffic.inputs["traffic"] == {"blue": 100}
    assert traffic.inputs["deployments"] == ["blue"]
    assert traffic.inputs["resourceId"] == record.one(ENDPOINT).outputs["id"]
    assert traffic.inputs["endpointName"] == record.one(ENDPOINT).inputs["endpointName"]
    assert all(d.urn in traffic.dependencies for d in record.of_type(DEPLOYMENT))


def _granted(record):
    return {(r.name, ROLE_NAMES[r.inputs["roleDefinitionId"].rsplit("/", 1)[1]]) for r in record.of_type(ROLE)}


COMMON_GRANTS = {
    ("access-workspace-lake", "Storage Blob Data Contributor"),
    ("access-workspace-secrets", "Key Vault Secrets User"),
    ("access-workspace-push-images", "AcrPush"),
    ("access-compute-workspace-blobs", "Storage Blob Data Contributor"),
    ("access-compute-workspace-queues", "Storage Queue Data Contributor"),
    ("access-compute-workspace-tables", "Storage Table Data Contributor"),
    ("access-compute-read-raw", "Storage Blob Data Reader"),
    ("access-compute-write-curated", "Storage Blob Data Contributor"),
    ("access-compute-write-features", "Storage Blob Data Contributor"),
    ("access-compute-secrets", "Key Vault Secrets User"),
    ("access-compute-pull-images", "AcrPull"),
    ("access-compute-read-registry", "AzureML Registry User"),
    ("access-compute-read-telemetry", "Azure Event Hubs Data Receiver"),
    ("access-compute-write-predictions", "Storage Blob Data Contributor"),
    ("access-compute-read-labels", "Storage Blob Data Reader"),
    ("access-compute-write-monitoring", "Storage Blob Data Contributor"),
    ("access-compute-publish-metrics", "Monitoring Metrics Publisher"),
    ("events-capture-to-raw", "Storage Blob Data Contributor"),
    ("iot-send-telemetry", "Azure Event Hubs Data Sender"),
    ("edge-deployer-configurations", "IoT Hub Data Contributor"),
    ("iot-write-raw", "Storage Blob Data Contributor"),
    ("online-pull-images", "AcrPull"),
    ("online-read-workspace-storage", "Storage Blob Data Reader"),
    ("online-read-registry", "AzureML Registry User"),
    ("online-send-predictions", "Azure Event Hubs Data Sender"),
    ("retrain-host-storage", "Storage Blob Data Owner"),
    ("retrain-host-diagnostics", "Storage Table Data Contributor"),
    ("retrain-workspace", "AzureML Data Scientist"),
    ("retrain-code-snapshots", "Storage Blob Data Contributor"),
    ("retrain-receive-alerts", "Azure Event Hubs Data Receiver"),
    ("retrain-insights", "Monitoring Metrics Publisher"),
    ("alerts-publish-alerts", "Azure Event Hubs Data Sender"),
    ("factory-write-raw", "Storage Blob Data Contributor"),
    ("factory-read-secrets", "Key Vault Secrets User"),
}
PRIVATE_GRANTS = {
    ("workspace-approve-endpoints-0", "Azure AI Enterprise Network Connection Approver"),
    ("workspace-approve-endpoints-1", "Azure AI Enterprise Network Connection Approver"),
    ("workspace-approve-endpoints-2", "Azure AI Enterprise Network Connection Approver"),
    ("workspace-approve-endpoints-3", "Azure AI Enterprise Network Connection Approver"),
    ("runners-pull-runner-image", "AcrPull"),
    ("runners-read-runner-token", "Key Vault Secrets User"),
    ("access-ci-workspace", "AzureML Data Scientist"),
    ("access-ci-code-snapshots", "Storage Blob Data Contributor"),
    ("access-ci-registry-assets", "AzureML Registry User"),
    ("access-ci-function-package", "Storage Blob Data Contributor"),
    ("access-ci-function-deploy", "Website Contributor"),
    ("access-operator-0-workspace", "AzureML Data Scientist"),
    ("access-operator-0-logs", "Log Analytics Reader"),
    ("online-score-0", "AzureML Data Scientist"),
}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_role_assignments_are_least_privilege_and_deterministic(stacks, environment):
    record = stacks[environment]
    assert _granted(record) == (COMMON_GRANTS if environment == "dev" else COMMON_GRANTS | PRIVATE_GRANTS)
    assignments = record.of_type(ROLE)
    names = [r.inputs["roleAssignmentName"] for r in assignments]
    assert len(set(names)) == len(names)
    for r in assignments:
        people = r.name.startswith(("access-operator", "online-score"))
        assert r.inputs["principalType"] == ("Group" if "operator" in r.name else "ServicePrincipal")
        guid = r.inputs["roleDefinitionId"].rsplit("/", 1)[1]
        assert r.inputs["roleAssignmentName"] == assignment_name(r.inputs["scope"], r.inputs["principalId"], guid)
        assert people or r.inputs["principalId"] not in {p.inputs["principalId"] for p in assignments if p.name.startswith("access-operator")}


def test_role_assignment_names_are_stable_across_runs(stacks, run_stack_with):
    again = run_stack_with("staging")
    names = lambda record: sorted(r.inputs["roleAssignmentName"] for r in record.of_type(ROLE))  # noqa: E731
    assert names(again) == names(stacks["staging"])


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_alert_is_enabled_and_targets_the_action_group(served, environment):
    record = served[environment]
    group = record.one(t.ACTION_GROUP)
    assert group.inputs["enabled"] is True and group.inputs["emailReceivers"]
    alerts = record.of_type(ALERT)
    criteria = {a.inputs["criteria"]["allOf"][0]["metricName"]: a.inputs["criteria"]["allOf"][0] for a in alerts}
    # CpuMemoryUtilizationPercentage, not MemoryUtilizationPercentage (which deployments do not have).
    assert set(criteria) == {"RequestLatency", "RequestsPerMinute", "CpuUtilizationPercentage", "CpuMemoryUtilizationPercentage",
                             "ThrottledRequests", "d2c.telemetry.egress.dropped", "Availability", "PipelineFailedRuns"}
    assert criteria["RequestsPerMinute"]["timeAggregation"] == "Average"
    assert criteria["RequestsPerMinute"]["dimensions"] == [{"name": "statusCodeClass", "operator": "Include", "values": ["5xx"]}]
    for alert in alerts:
        assert alert.inputs["enabled"] is True
        assert alert.inputs["actions"] == [{"actionGroupId": group.outputs["id"]}]
    logged = {a.name: a.inputs for a in record.of_type(QUERY_ALERT)}
    assert set(logged) == {"alerts-drift", "alerts-quality"}
    for alert in logged.values():
        assert alert["enabled"] is True
        assert alert["actions"]["actionGroups"] == [group.outputs["id"]]
        assert alert["scopes"] == [record.one(t.APP_INSIGHTS).outputs["id"]]
    config = load_stack_config(environment)
    [drift], [quality] = logged["alerts-drift"]["criteria"]["allOf"], logged["alerts-quality"]["criteria"]["allOf"]
    # drift: the worst share of the hour at or above drift.driftShare (the check's own verdict is share >= driftShare)
    assert "name == 'mlops_drift_share'" in drift["query"]
    assert (drift["operator"], drift["timeAggregation"], drift["threshold"]) == ("GreaterThanOrEqual", "Maximum", config.drift.drift_share)
    # quality: the lowest AUC of the hour below the stack's training.minAuc
    assert "name == 'mlops_model_auc'" in quality["query"]
    assert (quality["operator"], quality["timeAggregation"], quality["threshold"]) == ("LessThan", "Minimum", config.training.min_auc)


def test_severity_and_thresholds_per_environment(stacks):
    severity = {e: {a.inputs["severity"] for a in stacks[e].of_type(ALERT)} for e in ENVIRONMENTS}
    assert severity == {"dev": {3}, "staging": {2}, "prod": {1}}
    latency = {e: next(a for a in stacks[e].of_type(ALERT) if a.name == "alerts-latency").inputs["criteria"]["allOf"][0]["threshold"] for e in ENVIRONMENTS}
    assert latency["prod"] < latency["staging"]


def _graph(record):
    return {r.urn: (r.inputs, sorted(r.dependencies)) for r in record.resources}


TWO = [{"name": "blue", "model": "predictive-maintenance:1", "instanceCount": 2}, {"name": "green", "model": "predictive-maintenance:2", "instanceCount": 2}]


def test_changing_only_the_traffic_changes_only_the_traffic_resource(run_stack_with):
    before = _graph(run_stack_with("staging", serving=_serving(deployments=TWO, traffic={"blue": 90, "green": 10})))
    after_record = run_stack_with("staging", serving=_serving(deployments=TWO, traffic={"blue": 80, "green": 20}))
    after = _graph(after_record)
    changed = [urn for urn in before if before[urn] != after.get(urn)]
    assert changed == [traffic_resource(after_record).urn]


def test_moving_the_most_traffic_moves_the_live_model_the_retrain_gate_compares_with(run_stack_with):
    before_record = run_stack_with("staging", serving=_serving(deployments=TWO, traffic={"blue": 90, "green": 10}))
    after_record = run_stack_with("staging", serving=_serving(deployments=TWO, traffic={"blue": 0, "green": 100}))
    before, after = _graph(before_record), _graph(after_record)
    settings = after_record.one(t.WEB_APP_SETTINGS)
    changed = [urn for urn in before if before[urn] != after.get(urn)]
    assert changed == [settings.urn, traffic_resource(after_record).urn]  # the retrain function's stack outputs
    assert (before_record.outputs["liveModel"], after_record.outputs["liveModel"]) == ("predictive-maintenance:1", "predictive-maintenance:2")
    assert json.loads(settings.inputs["properties"].value["MLOPS_STACK_OUTPUTS"])["liveModel"] == "predictive-maintenance:2"


def test_changing_only_a_model_version_changes_only_that_deployment(run_stack_with):
    before = _graph(run_stack_with("staging", serving=_serving()))
    after_record = run_stack_with("staging", serving=_serving(deployments=[{"name": "blue", "model": "predictive-maintenance:7", "instanceCount": 2}]))
    after = _graph(after_record)
    changed = [urn for urn in before if before[urn] != after.get(urn)]
    # The deployment, the monitor schedule, whose slot input follows the slot's model (its reference profile), and,
    # as blue is the live slot, the retrain function's settings (liveModel, the gate's baseline).
    schedule = after_record.one(SCHEDULE)
    settings = after_record.one(t.WEB_APP_SETTINGS)
    assert sorted(changed) == sorted([after_record.one(DEPLOYMENT).urn, schedule.urn, settings.urn])
    assert after_record.one(DEPLOYMENT).inputs["properties"]["model"].endswith("/models/predictive-maintenance/versions/7")
    model_input = schedule.inputs["properties"]["action"]["jobDefinition"]["inputs"]["model_blue"]
    assert model_input["uri"].endswith("/models/predictive-maintenance/versions/7")


def test_blue_green_adds_a_deployment_and_moves_traffic_after_it(run_stack_with):
    record = run_stack_with("staging", serving=_serving(deployments=TWO, traffic={"blue": 90, "green": 10}, mirrorTraffic={}))
    deployments = {d.inputs["deploymentName"]: d for d in record.of_type(DEPLOYMENT)}
    assert set(deployments) == {"blue", "green"}
    traffic = traffic_resource(record)
    assert traffic.inputs["traffic"] == {"blue": 90, "green": 10}
    assert {deployments["blue"].urn, deployments["green"].urn} <= set(traffic.dependencies)


def test_a_canary_of_a_new_scoring_environment_changes_only_its_own_slot(run_stack_with):
    """`promote --environment`: the canary slot names its own image; the live slot keeps the stack's."""
    green = {**TWO[1], "model": "predictive-maintenance:1", "environment": "mlops-serving:4"}
    before = _graph(run_stack_with("staging", serving=_serving(deployments=[TWO[0], {**green, "environment": None}], traffic={"blue": 90, "green": 10})))
    after_record = run_stack_with("staging", serving=_serving(deployments=[TWO[0], green], traffic={"blue": 90, "green": 10}))
    deployments = {d.inputs["deploymentName"]: d for d in after_record.of_type(DEPLOYMENT)}
    versions = {name: d.inputs["properties"]["environmentId"].rsplit("/", 1)[1] for name, d in deployments.items()}
    assert versions == {"blue": "3", "green": "4"}
    after = _graph(after_record)
    assert [urn for urn in before if before[urn] != after.get(urn)] == [deployments["green"].urn]


def test_batch_deployment_is_the_default_after_it_exists(run_stack_with):
    record = run_stack_with("dev", batch=json.dumps({"model": "predictive-maintenance:4"}))
    deployment = record.one(t.BATCH_DEPLOYMENT)
    assert deployment.inputs["properties"]["model"]["assetId"] == (
        f"azureml://registries/{record.outputs['mlRegistryName']}/models/predictive-maintenance/versions/4")
    [default] = [r for r in record.of_type(DYNAMIC) if r.inputs.get("kind") == "mlops:batch-default-deployment"]
    assert default.inputs["deploymentName"] == "default"
    assert default.inputs["resourceId"] == record.one(t.BATCH_ENDPOINT).outputs["id"]
    assert deployment.urn in default.dependencies


def test_alerts_reach_the_retrain_function_through_event_hubs(stacks):
    """No webhook, no key read at plan time: the action group publishes to the `alerts` hub as its own identity."""
    for environment in ENVIRONMENTS:
        record = stacks[environment]
        group = record.one(t.ACTION_GROUP)
        assert group.inputs.get("webhookReceivers", []) == []
        [receiver] = group.inputs["eventHubReceivers"]
        namespace = record.one(NAMESPACE)
        assert receiver == {
            "name": "retrain", "eventHubNameSpace": namespace.inputs["namespaceName"], "eventHubName": "alerts",
            "subscriptionId": "00000000-0000-0000-0000-000000000000", "tenantId": "11111111-1111-1111-1111-111111111111",
            "useCommonAlertSchema": True, "managedIdentity": "SystemAssigned",
        }  # fmt: skip
        assert group.inputs["identity"] == {"type": "SystemAssigned"}
        [publish] = [r for r in record.of_type(ROLE) if r.name == "alerts-publish-alerts"]
        assert publish.inputs["principalId"] == group.outputs["identity"]["principalId"]
        assert publish.inputs["scope"].endswith("/eventhubs/alerts")
        settings = record.one(t.WEB_APP_SETTINGS).inputs["properties"].value
        assert settings["AlertsEventHub__fullyQualifiedNamespace"] == f"{namespace.inputs['namespaceName']}.servicebus.windows.net"
        assert settings["MLOPS_ALERTS_HUB"] == "alerts"
        # the function knows the stack's outputs, including the action group's id, without a dependency cycle
        assert json.loads(settings["MLOPS_STACK_OUTPUTS"])["actionGroupId"] == group.outputs["id"]


def test_an_update_of_the_endpoint_or_hub_writes_their_settings_again(run_stack_with):
    """A PUT of the endpoint (or the hub) without the property its setting manages may reset it: any change to
    the resource's other properties or tags changes the setting's revision, so `up` writes the setting again."""
    served = json.dumps(SERVING)
    before = run_stack_with("staging", serving=served)
    after = run_stack_with("staging", serving=served, extraTags=json.dumps({"team": "fraud"}))
    for kind in (TRAFFIC_KIND, IOT_ROUTING_KIND):
        [old] = [r for r in before.of_type(DYNAMIC) if r.inputs.get("kind") == kind]
        [new] = [r for r in after.of_type(DYNAMIC) if r.inputs.get("kind") == kind]
        assert old.inputs["revision"] != new.inputs["revision"], kind
        assert {k: v for k, v in old.inputs.items() if k != "revision"} == {k: v for k, v in new.inputs.items() if k != "revision"}


def test_the_retrain_function_is_named_by_a_stack_output(stacks):
    """function.yml deploys the code to `retrainFunctionName`; the function's own copy of the outputs agrees."""
    for environment in ENVIRONMENTS:
        record = stacks[environment]
        app = record.one(t.WEB_APP)
        assert record.outputs["retrainFunctionName"] == app.outputs["name"] == app.inputs["name"]
        assert re.fullmatch(r"func-mlops-retrain-(dev|stg|prd)-weu-[0-9a-z]+", app.inputs["name"])  # globally unique
        settings = record.one(t.WEB_APP_SETTINGS).inputs["properties"].value
        assert json.loads(settings["MLOPS_STACK_OUTPUTS"])["retrainFunctionName"] == app.inputs["name"]
