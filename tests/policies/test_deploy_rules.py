"""The `deploy-*` family over the Analyzer protocol: what Azure rejects at deploy time. Each rule has a compliant,
a noncompliant and a not-applicable case, and today's mistakes, reintroduced into a real stack, are blocked."""

from __future__ import annotations

import copy
import json

import pytest

from policies.rules import RULES
from policies.rules import resource_types as t
from policies.rules.base import NOT_APPLICABLE
from tests.policies.policy_fixtures import EDGE_BASE, FLEET, LAYERED, PLACE, RG, SCORER, WORKSPACE_ID, with_module
from tests.policies.test_stack_rules import res

DEPLOY = {rule.name: rule for rule in RULES if rule.deploy_check}
ENDPOINTS_NS = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
DEPLOYMENTS_NS = ENDPOINTS_NS + "/deployments"
FLEX_APP = {
    **PLACE, "name": "func-mlops-retrain-prd-weu-7f66", "kind": "functionapp,linux", "httpsOnly": True,
    "identity": {"type": "SystemAssigned"},
    "functionAppConfig": {"runtime": {"name": "python", "version": "3.11"},
                          "scaleAndConcurrency": {"maximumInstanceCount": 40.0, "instanceMemoryMB": 2048.0}},
}  # fmt: skip
CLASSIC_APP = {**PLACE, "name": "app", "kind": "app", "siteConfig": {"netFrameworkVersion": "v4.6", "ftpsState": "Disabled"}}


def alert(namespace: str, metric: str, aggregation: str, dimensions: list | None = None) -> dict:
    criterion = {"metricNamespace": namespace, "metricName": metric, "timeAggregation": aggregation, "operator": "GreaterThan", "threshold": 1.0}
    return {**PLACE, "location": "global", "criteria": {"allOf": [{**criterion, "dimensions": dimensions or []}]}}


def with_(props: dict, path: str, value) -> dict:
    props = copy.deepcopy(props)
    *parents, key = path.split(".")
    node = props
    for part in parents:
        node = node.setdefault(part, {})
    node[key] = value
    return props


WORKSPACE = {**PLACE, "workspaceName": "mlw", "managedNetwork": {"isolationMode": "AllowOnlyApprovedOutbound"},
             "provisionNetworkNow": True, "imageBuildCompute": "mlc-cpu-prd"}  # fmt: skip
REGISTRY = {**PLACE, "registryName": "cr", "sku": {"name": "Premium"}, "publicNetworkAccess": "Disabled",
            "policies": {"retentionPolicy": {"days": 30.0, "status": "enabled"}}}  # fmt: skip

TRAFFIC_PROPS = {"kind": t.TRAFFIC_KIND, "resourceId": f"{WORKSPACE_ID}/onlineEndpoints/ep", "traffic": {"blue": 100.0}}

# (rule, type, compliant, noncompliant, problem, not applicable)
RESOURCE_CASES = [
    ("deploy-flex-site-config", t.WEB_APP, FLEX_APP, with_(FLEX_APP, "siteConfig", {"netFrameworkVersion": "v4.6", "ftpsState": "Disabled"}),
     "siteConfig sets ftpsState, netFrameworkVersion, which Flex Consumption rejects (ExtendedCode 51021)", CLASSIC_APP),
    ("deploy-flex-site-config", t.WEB_APP, FLEX_APP,
     with_(FLEX_APP, "siteConfig", {"appSettings": [{"name": "FUNCTIONS_WORKER_RUNTIME", "value": "python"}]}),
     "siteConfig sets appSettings.FUNCTIONS_WORKER_RUNTIME, which Flex Consumption rejects (ExtendedCode 51021)", CLASSIC_APP),
    ("deploy-flex-scale-range", t.WEB_APP, FLEX_APP, with_(FLEX_APP, "functionAppConfig.scaleAndConcurrency.maximumInstanceCount", 10.0),
     "maximumInstanceCount is 10; Flex accepts 40-1000", CLASSIC_APP),
    ("deploy-flex-scale-range", t.WEB_APP, FLEX_APP, with_(FLEX_APP, "functionAppConfig.scaleAndConcurrency.instanceMemoryMB", 1024.0),
     "instanceMemoryMB is 1024; Flex offers 512, 2048, 4096", CLASSIC_APP),
    ("deploy-metric-alert-metric-exists", t.METRIC_ALERT, alert(DEPLOYMENTS_NS, "CpuMemoryUtilizationPercentage", "Average"),
     alert(DEPLOYMENTS_NS, "MemoryUtilizationPercentage", "Average"),
     f"{DEPLOYMENTS_NS} has no metric 'MemoryUtilizationPercentage' (it has CpuUtilizationPercentage, CpuMemoryUtilizationPercentage); Azure refuses the alert",
     {**PLACE, "location": "global", "criteria": {"odataType": "Microsoft.Azure.Monitor.WebtestLocationAvailabilityCriteria"}}),
    ("deploy-metric-alert-metric-exists", t.METRIC_ALERT, alert(ENDPOINTS_NS, "RequestsPerMinute", "Average", [{"name": "statusCodeClass", "operator": "Include", "values": ["5xx"]}]),
     alert(ENDPOINTS_NS, "RequestsPerMinute", "Total"), "RequestsPerMinute aggregates with Average, not 'Total'", None),
    ("deploy-metric-alert-metric-exists", t.METRIC_ALERT, alert(ENDPOINTS_NS, "RequestLatency", "Average"),
     alert(DEPLOYMENTS_NS, "CpuUtilizationPercentage", "Average", [{"name": "statusCodeClass", "operator": "Include", "values": ["5xx"]}]),
     "CpuUtilizationPercentage has no dimension 'statusCodeClass'", None),
    ("deploy-metric-alert-metric-exists", t.METRIC_ALERT, alert(ENDPOINTS_NS, "RequestLatency", "Average"),
     alert("Microsoft.Sql/servers", "cpu_percent", "Average"),
     "metric 'cpu_percent' is in namespace 'Microsoft.Sql/servers', which the verified metrics table does not list", None),
    ("deploy-workspace-image-build-compute", t.ML_WORKSPACE, WORKSPACE, with_(WORKSPACE, "imageBuildCompute", ""),
     "the workspace's registry is behind its managed network (AllowOnlyApprovedOutbound) and imageBuildCompute is not set, so no environment image can be built",
     with_(WORKSPACE, "managedNetwork.isolationMode", "Disabled")),
    ("deploy-registry-premium-features", t.REGISTRY, {**PLACE, "registryName": "cr", "sku": {"name": "Basic"}, "publicNetworkAccess": "Enabled"},
     with_(REGISTRY, "sku.name", "Standard"),
     "the Standard registry uses public network access off (private endpoints only), a retention policy for untagged manifests, which only Premium has",
     REGISTRY),  # Premium has every feature: not applicable
    # Edge sites' IP rules (without a default Deny, which would already be "network rules") need Premium too.
    ("deploy-registry-premium-features", t.REGISTRY, with_(REGISTRY, "networkRuleSet", {"defaultAction": "Deny", "ipRules": [{"action": "Allow", "iPAddressOrRange": "198.51.100.0/24"}]}),
     {**PLACE, "registryName": "cr", "sku": {"name": "Standard"}, "publicNetworkAccess": "Enabled",
      "networkRuleSet": {"defaultAction": "Allow", "ipRules": [{"action": "Allow", "iPAddressOrRange": "198.51.100.0/24"}]}},
     "the Standard registry uses IP network rules, which only Premium has",
     with_(REGISTRY, "networkRuleSet", {"defaultAction": "Deny", "ipRules": [{"action": "Allow", "iPAddressOrRange": "198.51.100.0/24"}]})),
    ("deploy-datafactory-name", t.DATA_FACTORY, {**PLACE, "factoryName": "adf-mlops-prd-weu-7f66"}, {**PLACE, "factoryName": "adf--mlops"},
     "factoryName 'adf--mlops' has characters Azure refuses: letters, digits and single hyphens between them only", None),
    ("deploy-datafactory-name", t.DATA_FACTORY, {**PLACE, "factoryName": "adf"}, {**PLACE, "factoryName": "adf-" + "x" * 60},
     f"factoryName 'adf-{'x' * 60}' is 64 characters; Azure accepts 3-63", None),
    ("deploy-edge-configuration-valid", t.DYNAMIC, FLEET, {**FLEET, "configurationId": "Mlops-Prod-Fleet"},
     "configurationId 'Mlops-Prod-Fleet' is not 1-128 lowercase letters, digits or -:+%_#*?!(),=@;$'", TRAFFIC_PROPS),
    ("deploy-edge-configuration-valid", t.DYNAMIC, EDGE_BASE, {**EDGE_BASE, "priority": -1.0},
     "priority -1.0 is not a non-negative integer", None),
    ("deploy-edge-configuration-valid", t.DYNAMIC, FLEET, {**FLEET, "content": with_module(LAYERED, (*SCORER, "createOptions"), json.dumps({"Env": ["X=" + "x" * 5000]}))},
     f"module 'scorer': createOptions is {len(json.dumps({'Env': ['X=' + 'x' * 5000]}))} bytes; a twin string holds at most 4096", None),
]


@pytest.mark.parametrize(("rule", "type_", "good", "bad", "problem", "not_applicable"), RESOURCE_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(RESOURCE_CASES)])  # fmt: skip
def test_resource_deploy_rule(analyzer, rule, type_, good, bad, problem, not_applicable):
    found = lambda props: [v for v in analyzer.analyze(type_, props, name="r") if v.policy == rule]  # noqa: E731
    assert found(good) == []
    [violation] = found(bad)
    assert violation.enforcement == "mandatory"
    assert violation.message == f"{DEPLOY[rule].description}\n{problem}. Fix: {DEPLOY[rule].remediation}"
    if not_applicable is not None:
        assert found(not_applicable) == []
        assert DEPLOY[rule].check(not_applicable, DEPLOY[rule].settings({})) is NOT_APPLICABLE


# --- stack rules: a small graph each ---------------------------------------------------------------------------------

ACCOUNT_ID = f"{RG}/providers/Microsoft.Storage/storageAccounts/"
NS_ID = f"{RG}/providers/Microsoft.EventHub/namespaces/evhns"
VNET_ID = f"{RG}/providers/Microsoft.Network/virtualNetworks/vnet"
DELEGATED = [{"name": "Microsoft.App/environments", "serviceName": "Microsoft.App/environments"}]


def account(name: str, hns: bool):
    return res(t.STORAGE_ACCOUNT, name, {**PLACE, "accountName": name, "id": ACCOUNT_ID + name, "isHnsEnabled": hns})


def workspace(storage: str, **props):
    return res(t.ML_WORKSPACE, "workspace-mlw", {**WORKSPACE, "storageAccount": ACCOUNT_ID + storage, **props})


def endpoint(identity: dict):
    return res(t.ONLINE_ENDPOINT, "online-endpoint", {**PLACE, "endpointName": "ep", "identity": identity})


def grant(role_guid: str, principal: str):
    return res(t.ROLE_ASSIGNMENT, "online-pull", {"principalId": principal, "principalType": "ServicePrincipal",
               "roleDefinitionId": f"/providers/Microsoft.Authorization/roleDefinitions/{role_guid}", "scope": f"{RG}/x"})  # fmt: skip


ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
SAI = {"type": "SystemAssigned", "principalId": "aaaaaaaa-0000-0000-0000-000000000001"}
UAI = {"type": "UserAssigned", "userAssignedIdentities": {f"{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id": {}}}


def vnet(delegated: bool):
    subnet = {"name": "snet-func", "addressPrefix": "10.0.1.0/26", "delegations": DELEGATED if delegated else []}
    return res(t.VIRTUAL_NETWORK, "network-vnet", {**PLACE, "id": VNET_ID, "subnets": [subnet, {"name": "snet-runners", "delegations": DELEGATED}]})


def flex(subnet: str = "snet-func"):
    return res(t.WEB_APP, "retrain-func", {**FLEX_APP, "virtualNetworkSubnetId": f"{VNET_ID}/subnets/{subnet}"})


def environment(subnet: str):
    return res(t.CONTAINER_APPS_ENVIRONMENT, "runners-cae", {**PLACE, "vnetConfiguration": {"infrastructureSubnetId": f"{VNET_ID}/subnets/{subnet}", "internal": True}})


def hub(capture: bool):
    return res(t.EVENTHUB, "events-telemetry", {"eventHubName": "telemetry", "namespaceName": "evhns", "captureDescription": {"enabled": capture}})


def namespace(tier: str):
    return res(t.EVENTHUB_NAMESPACE, "events-evhns", {**PLACE, "namespaceName": "evhns", "id": NS_ID, "sku": {"name": tier}})


def routing(name: str):
    return res(t.DYNAMIC, "iot-routing", {"kind": t.IOT_ROUTING_KIND, "routing": {"endpoints": {"eventHubs": [{"name": name}]}}})


def registry_endpoint(sku: str):
    acr = res(t.REGISTRY, "registry-cr", {**REGISTRY, "id": f"{RG}/providers/Microsoft.ContainerRegistry/registries/cr", "sku": {"name": sku}})
    pe = res(t.PRIVATE_ENDPOINT, "registry-pep-registry", {"privateLinkServiceConnections": [{"privateLinkServiceId": f"{RG}/providers/Microsoft.ContainerRegistry/registries/cr", "groupIds": ["registry"]}]})
    return [acr, pe]


def deployment(workspace_name: str = "mlw"):
    return res(t.ONLINE_DEPLOYMENT, "online-blue", {**PLACE, "workspaceName": workspace_name, "endpointName": "ep", "deploymentName": "blue"})


# (rule, compliant stack, noncompliant stack, (resource, problem), not-applicable stack)
STACK_CASES = [
    ("deploy-workspace-storage-no-hns", [account("stmlw", False), account("stlake", True), workspace("stmlw")],
     [account("stlake", True), workspace("stlake")],
     ("workspace-mlw", "Workspace 'workspace-mlw' uses StorageAccount 'stlake', which has a hierarchical namespace: Azure ML refuses it (\"Cannot use storage with HNS enabled\")"),
     [account("stlake", True)]),
    ("deploy-online-deployment-network-provisioned", [workspace("st"), deployment()],
     [workspace("st", provisionNetworkNow=False), deployment()],
     ("online-blue", "OnlineDeployment 'online-blue' needs Workspace 'workspace-mlw''s managed network (AllowOnlyApprovedOutbound) provisioned first, and provisionNetworkNow is not true"),
     [workspace("st", managedNetwork={"isolationMode": "Disabled"}, provisionNetworkNow=False), deployment()]),
    ("deploy-no-duplicate-automatic-grant", [endpoint(UAI), grant(ACR_PULL, SAI["principalId"])],
     [endpoint(SAI), grant(ACR_PULL, SAI["principalId"])],
     ("online-pull", "RoleAssignment 'online-pull' grants AcrPull to OnlineEndpoint 'online-endpoint''s system-assigned identity, which Azure ML grants itself: the second assignment fails with 409 RoleAssignmentExists"),
     [endpoint(SAI), grant("4633458b-17de-408a-b874-0445c86b69e6", SAI["principalId"])]),
    ("deploy-registry-private-endpoint-premium", registry_endpoint("Premium"), registry_endpoint("Standard"),
     ("registry-pep-registry", "PrivateEndpoint 'registry-pep-registry' connects to the Standard registry 'registry-cr'; only Premium has private endpoints"),
     registry_endpoint("Standard")[:1]),
    ("deploy-eventhubs-capture-tier", [namespace("Standard"), hub(True)], [namespace("Basic"), hub(True)],
     ("events-telemetry", "EventHub 'events-telemetry' captures, but Namespace 'events-evhns' is Basic, which has no Capture"),
     [namespace("Basic"), hub(False)]),
    ("deploy-iot-routing-reserved-names", [routing("telemetry-eventhub")], [routing("events")],
     ("iot-routing", "Resource 'iot-routing' names a routing endpoint 'events', which IoT Hub reserves"),
     [res(t.IOT_HUB, "iot-iot", {**PLACE, "properties": {}})]),
    ("deploy-subnet-delegation", [vnet(True), flex(), environment("snet-runners")], [vnet(False), flex()],
     ("retrain-func", "WebApp 'retrain-func' integrates with subnet snet-func, which is not delegated to Microsoft.App/environments"),
     [vnet(False), res(t.WEB_APP, "retrain-func", FLEX_APP)]),
    ("deploy-subnet-delegation", [vnet(True), flex(), environment("snet-runners")], [vnet(True), flex(), environment("snet-func")],
     ("runners-cae", "ManagedEnvironment 'runners-cae' shares subnet snet-func with WebApp 'retrain-func'; Flex and Container Apps cannot share one"),
     [vnet(True), flex(), environment("snet-elsewhere")]),
]


def _stack_verdicts(analyzer, stack, rule):
    return [(v.urn.rsplit("::", 1)[-1], v.message.split("\n", 1)[1].split(". Fix: ")[0]) for v in analyzer.analyze_stack(stack) if v.policy == rule]


@pytest.mark.parametrize(("rule", "good", "bad", "expected", "not_applicable"), STACK_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(STACK_CASES)])  # fmt: skip
def test_stack_deploy_rule(analyzer, rule, good, bad, expected, not_applicable):
    assert _stack_verdicts(analyzer, good, rule) == []
    assert _stack_verdicts(analyzer, bad, rule) == [expected]
    assert _stack_verdicts(analyzer, not_applicable, rule) == []


def test_every_deploy_rule_has_cases():
    assert {c[0] for c in RESOURCE_CASES} | {c[0] for c in STACK_CASES} == set(DEPLOY)


# --- today's mistakes, reintroduced into the real stacks, are blocked -----------------------------------------------


def _reintroduce(record, name, path, value):
    copied = copy.deepcopy(record)
    for resource in copied.resources:
        if resource.name == name:
            for props in (resource.inputs, resource.outputs):
                node = props
                *parents, key = path.split(".")
                for part in parents:
                    node = node.setdefault(part, {})
                node[key] = value
    return copied


REINTRODUCED = [
    ("workspace-st", "isHnsEnabled", True, "deploy-workspace-storage-no-hns", "workspace-mlw"),
    ("retrain-func", "siteConfig", {"minTlsVersion": "1.2", "ftpsState": "Disabled", "netFrameworkVersion": "v4.6"}, "deploy-flex-site-config", "retrain-func"),
    ("retrain-func", "functionAppConfig.scaleAndConcurrency.maximumInstanceCount", 10.0, "deploy-flex-scale-range", "retrain-func"),
    ("alerts-storage-availability", "criteria.allOf", [{"metricNamespace": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments", "metricName": "MemoryUtilizationPercentage", "timeAggregation": "Average"}],
     "deploy-metric-alert-metric-exists", "alerts-storage-availability"),
    ("workspace-mlw", "imageBuildCompute", "", "deploy-workspace-image-build-compute", "workspace-mlw"),
]


# dev has no managed network, so no image-build compute to forget there.
REINTRODUCED_PER_STACK = [(env, *case) for env in ("dev", "prod") for case in REINTRODUCED
                          if not (env == "dev" and case[3] == "deploy-workspace-image-build-compute")]  # fmt: skip


@pytest.mark.parametrize(("environment", "name", "path", "value", "rule", "urn_name"), REINTRODUCED_PER_STACK,
                         ids=[f"{r[0]}-{r[4]}" for r in REINTRODUCED_PER_STACK])  # fmt: skip
def test_reintroduced_mistake_blocks_every_environment(pack, stacks, environment, name, path, value, rule, urn_name):
    verdicts = {(v.policy, v.urn.rsplit("::", 1)[-1], v.enforcement) for v in pack.check_stack(_reintroduce(stacks[environment], name, path, value))}
    assert (rule, urn_name, "mandatory") in verdicts
