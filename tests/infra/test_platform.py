"""Ingestion, serving, identities and alerts per environment, and rollout as a stack-config change."""

from __future__ import annotations

import json

import pytest

from components.roles import BUILT_IN_ROLES, assignment_name
from components.traffic import TRAFFIC_KIND
from mlops.mockrun import Secret

ENVIRONMENTS = ("dev", "staging", "prod")
NAMESPACE = "azure-native:eventhub:Namespace"
HUB = "azure-native:eventhub:EventHub"
IOT = "azure-native:iothub:IotHubResource"
ENDPOINT = "azure-native:machinelearningservices:OnlineEndpoint"
DEPLOYMENT = "azure-native:machinelearningservices:OnlineDeployment"
ROLE = "azure-native:authorization:RoleAssignment"
ALERT = "azure-native:monitor:MetricAlert"
QUERY_ALERT = "azure-native:monitor:ScheduledQueryRule"
DYNAMIC = "pulumi-python:dynamic:Resource"
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
    capture = hubs["telemetry"].inputs["captureDescription"]
    assert capture["enabled"] is True and capture["encoding"] == "Avro"
    destination = capture["destination"]
    assert destination["blobContainer"] == "raw"
    assert destination["identity"] == {"type": "SystemAssigned"}
    assert destination["storageAccountResourceId"] == record.named("lake-st").outputs["id"]
    assert all(token in destination["archiveNameFormat"] for token in ("{Namespace}", "{EventHub}", "{PartitionId}", "{Second}"))
    assert "captureDescription" not in hubs["predictions"].inputs
    # capture writes with the namespace identity: its role on the raw container exists first
    [capture_role] = [r for r in record.of_type(ROLE) if r.name == "events-capture-to-raw"]
    assert capture_role.urn in hubs["telemetry"].dependencies
    assert capture_role.inputs["principalId"] == namespace.outputs["identity"]["principalId"]
    assert capture_role.inputs["scope"].endswith("/containers/raw")
    groups = {(g.inputs["eventHubName"], g.inputs["consumerGroupName"]) for g in record.of_type("azure-native:eventhub:ConsumerGroup")}
    assert ("telemetry", "drift-monitor") in groups


def test_event_hubs_sized_per_environment(stacks):
    partitions = {e: {h.inputs["eventHubName"]: h.inputs["partitionCount"] for h in stacks[e].of_type(HUB)} for e in ENVIRONMENTS}
    assert partitions["prod"]["telemetry"] == 16 and partitions["dev"]["telemetry"] == 4
    assert stacks["prod"].one(NAMESPACE).inputs["sku"]["capacity"] == 2


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_iot_hub_routes_with_user_assigned_identity(stacks, environment):
    record = stacks[environment]
    hub = record.one(IOT)
    props = hub.inputs["properties"]
    assert props["minTlsVersion"] == "1.2" and props["disableLocalAuth"] is True
    identity = record.one("azure-native:managedidentity:UserAssignedIdentity")
    assert hub.inputs["identity"] == {"type": "UserAssigned", "userAssignedIdentities": [identity.outputs["id"]]}
    endpoints = props["routing"]["endpoints"]
    for endpoint in endpoints["eventHubs"] + endpoints["storageContainers"]:
        assert endpoint["authenticationType"] == "identityBased"
        assert endpoint["identity"] == {"userAssignedIdentity": identity.outputs["id"]}
    assert endpoints["eventHubs"][0]["entityPath"] == "telemetry"
    assert endpoints["storageContainers"][0]["containerName"] == "raw"
    routes = {r["name"]: r["endpointNames"] for r in props["routing"]["routes"]}
    assert routes == {"telemetry-to-eventhubs": ["telemetry-eventhub"], "telemetry-to-lake": ["raw-lake"]}
    assert props["routing"]["fallbackRoute"]["isEnabled"] is True
    # the identity holds its data roles before the hub exists
    roles = {r.name: r for r in record.of_type(ROLE) if r.inputs["principalId"] == identity.outputs["principalId"]}
    assert set(roles) == {"iot-send-telemetry", "iot-write-raw"}
    assert all(r.urn in hub.dependencies for r in roles.values())
    assert roles["iot-send-telemetry"].inputs["scope"].endswith("/eventhubs/telemetry")


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_online_endpoint_and_deployments(stacks, environment):
    record = stacks[environment]
    endpoint = record.one(ENDPOINT)
    assert endpoint.inputs["properties"]["authMode"] == ("AMLToken" if environment == "dev" else "AADToken")
    assert endpoint.inputs["properties"]["publicNetworkAccess"] == ("Enabled" if environment == "dev" else "Disabled")
    assert "traffic" not in endpoint.inputs["properties"]
    assert "properties.traffic" in endpoint.ignore_changes
    for deployment in record.of_type(DEPLOYMENT):
        props = deployment.inputs["properties"]
        assert props["appInsightsEnabled"] is True
        assert props["egressPublicNetworkAccess"] == ("Enabled" if environment == "dev" else "Disabled")
        assert props["model"] == record.one("azure-native:machinelearningservices:Workspace").outputs["id"] + "/models/predictive-maintenance/versions/1"
        assert props["environmentId"].endswith("/environments/mlops-serving/versions/1")
        assert deployment.inputs["sku"]["capacity"] >= (2 if environment == "prod" else 1)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_traffic_is_carried_by_one_resource_after_the_deployments(stacks, environment):
    record = stacks[environment]
    traffic = traffic_resource(record)
    assert traffic.inputs["traffic"] == {"blue": 100}
    assert traffic.inputs["deployments"] == ["blue"]
    assert traffic.inputs["endpointName"] == record.one(ENDPOINT).inputs["endpointName"]
    assert all(d.urn in traffic.dependencies for d in record.of_type(DEPLOYMENT))


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_role_assignments_are_least_privilege_and_deterministic(stacks, environment):
    record = stacks[environment]
    assignments = record.of_type(ROLE)
    granted = {(r.name, ROLE_NAMES[r.inputs["roleDefinitionId"].rsplit("/", 1)[1]]) for r in assignments}
    assert granted == {
        ("access-workspace-lake", "Storage Blob Data Contributor"),
        ("access-workspace-secrets", "Key Vault Secrets User"),
        ("access-workspace-push-images", "AcrPush"),
        ("access-compute-read-raw", "Storage Blob Data Reader"),
        ("access-compute-write-curated", "Storage Blob Data Contributor"),
        ("access-compute-write-features", "Storage Blob Data Contributor"),
        ("access-compute-secrets", "Key Vault Secrets User"),
        ("access-compute-pull-images", "AcrPull"),
        ("events-capture-to-raw", "Storage Blob Data Contributor"),
        ("iot-send-telemetry", "Azure Event Hubs Data Sender"),
        ("iot-write-raw", "Storage Blob Data Contributor"),
        ("online-pull-images", "AcrPull"),
        ("online-read-lake", "Storage Blob Data Reader"),
        ("retrain-workspace", "AzureML Data Scientist"),
        ("retrain-storage", "Storage Blob Data Contributor"),
        ("retrain-insights", "Monitoring Metrics Publisher"),
    }
    names = [r.inputs["roleAssignmentName"] for r in assignments]
    assert len(set(names)) == len(names)
    for r in assignments:
        assert r.inputs["principalType"] == "ServicePrincipal"
        guid = r.inputs["roleDefinitionId"].rsplit("/", 1)[1]
        assert r.inputs["roleAssignmentName"] == assignment_name(r.inputs["scope"], r.inputs["principalId"], guid)


def test_role_assignment_names_are_stable_across_runs(stacks, run_stack_with):
    again = run_stack_with("staging")
    names = lambda record: sorted(r.inputs["roleAssignmentName"] for r in record.of_type(ROLE))  # noqa: E731
    assert names(again) == names(stacks["staging"])


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_alert_is_enabled_and_targets_the_action_group(stacks, environment):
    record = stacks[environment]
    group = record.one("azure-native:monitor:ActionGroup")
    assert group.inputs["enabled"] is True and group.inputs["emailReceivers"]
    alerts = record.of_type(ALERT)
    metrics = {a.inputs["criteria"]["allOf"][0]["metricName"] for a in alerts}
    assert {"RequestLatency", "RequestsPerMinute", "CpuUtilizationPercentage", "MemoryUtilizationPercentage",
            "ThrottledRequests", "d2c.telemetry.egress.dropped", "Availability"} <= metrics
    for alert in alerts:
        assert alert.inputs["enabled"] is True
        assert alert.inputs["actions"] == [{"actionGroupId": group.outputs["id"]}]
    drift = record.one(QUERY_ALERT)
    assert drift.inputs["enabled"] is True
    assert drift.inputs["actions"]["actionGroups"] == [group.outputs["id"]]
    assert "mlops_drift_share" in drift.inputs["criteria"]["allOf"][0]["query"]
    assert drift.inputs["scopes"] == [record.one("azure-native:applicationinsights:Component").outputs["id"]]


def test_severity_and_thresholds_per_environment(stacks):
    severity = {e: {a.inputs["severity"] for a in stacks[e].of_type(ALERT)} for e in ENVIRONMENTS}
    assert severity == {"dev": {3}, "staging": {2}, "prod": {1}}
    latency = {e: next(a for a in stacks[e].of_type(ALERT) if a.name == "alerts-latency").inputs["criteria"]["allOf"][0]["threshold"] for e in ENVIRONMENTS}
    assert latency["prod"] < latency["staging"]


def _serving(**changes):
    base = {"deployments": [{"name": "blue", "model": "predictive-maintenance:1"}], "traffic": {"blue": 100}}
    return json.dumps(base | changes)


def _graph(record):
    return {r.urn: (r.inputs, sorted(r.dependencies)) for r in record.resources}


def test_changing_only_the_traffic_changes_only_the_traffic_resource(run_stack_with):
    two = [{"name": "blue", "model": "predictive-maintenance:1"}, {"name": "green", "model": "predictive-maintenance:2"}]
    before = _graph(run_stack_with("staging", serving=_serving(deployments=two, traffic={"blue": 90, "green": 10})))
    after_record = run_stack_with("staging", serving=_serving(deployments=two, traffic={"blue": 0, "green": 100}))
    after = _graph(after_record)
    changed = [urn for urn in before if before[urn] != after.get(urn)]
    assert changed == [traffic_resource(after_record).urn]


def test_changing_only_a_model_version_changes_only_that_deployment(run_stack_with):
    before = _graph(run_stack_with("staging", serving=_serving()))
    after_record = run_stack_with("staging", serving=_serving(deployments=[{"name": "blue", "model": "predictive-maintenance:7"}]))
    after = _graph(after_record)
    changed = [urn for urn in before if before[urn] != after.get(urn)]
    assert changed == [after_record.one(DEPLOYMENT).urn]
    assert after_record.one(DEPLOYMENT).inputs["properties"]["model"].endswith("/models/predictive-maintenance/versions/7")


def test_blue_green_adds_a_deployment_and_moves_traffic_after_it(run_stack_with):
    record = run_stack_with(
        "staging",
        serving=_serving(
            deployments=[{"name": "blue", "model": "predictive-maintenance:1"}, {"name": "green", "model": "predictive-maintenance:2"}],
            traffic={"blue": 90, "green": 10},
            mirrorTraffic={},
        ),
    )
    deployments = {d.inputs["deploymentName"]: d for d in record.of_type(DEPLOYMENT)}
    assert set(deployments) == {"blue", "green"}
    traffic = traffic_resource(record)
    assert traffic.inputs["traffic"] == {"blue": 90, "green": 10}
    assert {deployments["blue"].urn, deployments["green"].urn} <= set(traffic.dependencies)


def test_no_deployments_means_an_empty_split(run_stack_with):
    record = run_stack_with("dev", serving=json.dumps({"deployments": [], "traffic": {}}))
    assert record.of_type(DEPLOYMENT) == []
    assert traffic_resource(record).inputs["traffic"] == {}


def test_retrain_trigger_is_wired_to_the_action_group(stacks):
    for environment in ENVIRONMENTS:
        record = stacks[environment]
        group = record.one("azure-native:monitor:ActionGroup")
        receivers = group.inputs["webhookReceivers"]
        assert isinstance(receivers, Secret)  # the URL carries the function key
        [receiver] = receivers.value
        assert receiver["name"] == "retrain" and receiver["useCommonAlertSchema"] is True
        app = record.one("azure-native:web:WebApp")
        uri = receiver["serviceUri"]
        assert (uri.value if isinstance(uri, Secret) else uri).startswith(f"https://{app.outputs['defaultHostName']}/api/retrain?code=")
        storage = record.named("retrain-st")
        assert storage.inputs["publicNetworkAccess"] == ("Enabled" if environment == "dev" else "Disabled")
        assert storage.protect is (environment != "dev")
        # the function knows the stack's outputs, including the action group's id, without a dependency cycle
        settings = record.one("azure-native:web:WebAppApplicationSettings").inputs["properties"].value
        assert json.loads(settings["MLOPS_STACK_OUTPUTS"])["actionGroupId"] == group.outputs["id"]
