"""`deploy-*`: what Azure rejects at deploy time, or what makes a deployment fail, checked before `pulumi up`.

Pulumi's mocks and the SDK accept all of these; Azure does not. Each rule encodes one documented fact (its
`references.docs`), and is mandatory in every environment: a dev stack that cannot deploy is as broken as a prod one.
The facts the rules judge by (metrics, Flex Consumption limits, roles) are the pack's data files in `azure/`,
which the components build from too.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import PolicyResource, Severity

from .base import NOT_APPLICABLE, OPERATIONS, RELIABILITY, ResourceRule, Settings, StackRule, conditional
from .facts import ROLE_IDS, facts
from .graph import kind, references, text
from .references import References
from .resource_types import (
    CONTAINER_APPS_ENVIRONMENT,
    DYNAMIC,
    EVENTHUB,
    EVENTHUB_NAMESPACE,
    IOT_HUB,
    IOT_ROUTING_KIND,
    METRIC_ALERT,
    ML_WORKSPACE,
    ONLINE_DEPLOYMENT,
    ONLINE_ENDPOINT,
    PRIVATE_ENDPOINT,
    REGISTRY,
    ROLE_ASSIGNMENT,
    STORAGE_ACCOUNT,
    VIRTUAL_NETWORK,
    WEB_APP,
)
from .values import MISSING, as_number, get, items, peek, same, shown

Violations = Iterator[tuple[str, str]]
FLEX = facts("flex_consumption")
METRICS = facts("metrics")["namespaces"]


# --- the workspace's storage has no hierarchical namespace --------------------------------------------------------


def _storage_of(workspace: PolicyResource, accounts: list[PolicyResource]) -> list[PolicyResource]:
    """The storage accounts a workspace's `storageAccount` names: by id when known, else by dependency."""
    target = text(workspace.props, "storageAccount")
    if target:
        return [a for a in accounts if text(a.props, "id") == target or (
            text(a.props, "accountName") and target.endswith(f"/storageaccounts/{text(a.props, 'accountName')}"))]
    return [a for a in references(workspace, "storageAccount") if a.resource_type == STORAGE_ACCOUNT]


@conditional
def _hns_workspace_storage(resources: list[PolicyResource], _settings: Settings) -> Violations:
    accounts = [r for r in resources if r.resource_type == STORAGE_ACCOUNT]
    for workspace in (r for r in resources if r.resource_type == ML_WORKSPACE):
        for account in _storage_of(workspace, accounts):
            if peek(account.props, "isHnsEnabled") is True:
                yield workspace.urn, (
                    f"Workspace '{workspace.name}' uses StorageAccount '{account.name}', which has a hierarchical "
                    "namespace: Azure ML refuses it (\"Cannot use storage with HNS enabled\")"
                )


deploy_workspace_storage_no_hns = StackRule(
    name="deploy-workspace-storage-no-hns",
    description="The ML workspace's own storage account has no hierarchical namespace (ADLS Gen2 is a datastore).",
    check=_hns_workspace_storage,
    severity=Severity.CRITICAL,
    pillar=RELIABILITY,
    remediation="give the workspace its own StorageV2 account without HNS and register the lake as an ADLS Gen2 datastore",
    why=(
        "Azure ML refuses a workspace whose default storage has a hierarchical namespace (\"Cannot use storage with "
        "HNS enabled\"), so the workspace and everything in it fail to deploy."
    ),
    references=References(
        docs="https://learn.microsoft.com/azure/machine-learning/concept-workspace#associated-resources",
    ),
)


# --- Flex Consumption: site config and scale ----------------------------------------------------------------------


def _is_flex(props: Mapping[str, Any]) -> bool:
    return isinstance(get(props, "functionAppConfig"), Mapping)


@conditional
def _flex_site_config(props: Mapping[str, Any], _settings: Settings) -> list[str]:
    if not _is_flex(props):
        return NOT_APPLICABLE
    site = get(props, "siteConfig")
    if not isinstance(site, Mapping):
        return []
    rejected = sorted(key for key in site if key in FLEX["rejectedSiteConfig"]["keys"])
    settings = [entry for entry in items(get(site, "appSettings")) if isinstance(entry, Mapping)]
    if any(entry.get("name") == "FUNCTIONS_WORKER_RUNTIME" for entry in settings):
        rejected.append("appSettings.FUNCTIONS_WORKER_RUNTIME")
    if rejected:
        return [f"siteConfig sets {', '.join(rejected)}, which Flex Consumption rejects (ExtendedCode 51021)"]
    return []


deploy_flex_site_config = ResourceRule(
    name="deploy-flex-site-config",
    description="A Flex Consumption Function App sends no siteConfig property that Flex rejects.",
    types=(WEB_APP,),
    check=_flex_site_config,
    severity=Severity.CRITICAL,
    pillar=RELIABILITY,
    remediation="send site_config on a Flex app as a plain dict of keys Flex accepts (the SDK's SiteConfigArgs injects "
    "netFrameworkVersion); put the runtime and scale in function_app_config",
    why=(
        "Flex Consumption rejects several siteConfig properties (the SDK even injects one, netFrameworkVersion), so "
        "the function app fails to deploy."
    ),
    references=References(docs=FLEX["source"], evidence=tuple(FLEX["rejectedSiteConfig"]["source"].split("; "))),
)


@conditional
def _flex_scale(props: Mapping[str, Any], _settings: Settings) -> list[str]:
    if not _is_flex(props):
        return NOT_APPLICABLE
    scale = get(props, "functionAppConfig.scaleAndConcurrency")
    if not isinstance(scale, Mapping):
        return []
    problems = []
    limits = FLEX["maximumInstanceCount"]
    count = as_number(get(scale, "maximumInstanceCount"))
    if isinstance(count, (int, float)) and not limits["min"] <= count <= limits["max"]:
        problems.append(f"maximumInstanceCount is {shown(count)}; Flex accepts {limits['min']}-{limits['max']}")
    memory = as_number(get(scale, "instanceMemoryMB"))
    if isinstance(memory, (int, float)) and memory not in FLEX["instanceMemoryMB"]:
        problems.append(f"instanceMemoryMB is {shown(memory)}; Flex offers {', '.join(map(str, FLEX['instanceMemoryMB']))}")
    return problems


deploy_flex_scale = ResourceRule(
    name="deploy-flex-scale-range",
    description="A Flex Consumption app's maximum instance count and instance memory are values Flex offers.",
    types=(WEB_APP,),
    check=_flex_scale,
    severity=Severity.HIGH,
    pillar=RELIABILITY,
    remediation="set stack config retrainTrigger.maximumInstances within the range and instanceMemoryMb to an offered size",
    why=(
        "Flex Consumption accepts maximumInstanceCount only within its documented range; a value outside it fails the "
        "deploy."
    ),
    references=References(docs=FLEX["source"]),
)


# --- metric alerts name metrics that exist ------------------------------------------------------------------------


def _metric_problems(criterion: Mapping[str, Any]) -> list[str]:
    namespace, name = get(criterion, "metricNamespace"), get(criterion, "metricName")
    if not isinstance(name, str):
        return []
    known = METRICS.get(namespace) if isinstance(namespace, str) else None
    if known is None:
        return [f"metric {name!r} is in namespace {shown(namespace)}, which the verified metrics table does not list"]
    metric = known["metrics"].get(name)
    if metric is None:
        return [f"{namespace} has no metric {name!r} (it has {', '.join(known['metrics'])}); Azure refuses the alert"]
    problems = []
    aggregation = get(criterion, "timeAggregation")
    if isinstance(aggregation, str) and aggregation not in metric["aggregations"]:
        problems.append(f"{name} aggregates with {', '.join(metric['aggregations'])}, not {aggregation!r}")
    for dimension in items(get(criterion, "dimensions")):
        dim = get(dimension, "name") if isinstance(dimension, Mapping) else None
        if isinstance(dim, str) and dim not in metric["dimensions"]:
            problems.append(f"{name} has no dimension {dim!r}")
    return problems


@conditional
def _alert_metrics(props: Mapping[str, Any], _settings: Settings) -> list[str]:
    criteria = [criterion for criterion in items(get(props, "criteria.allOf")) if isinstance(criterion, Mapping)]
    if not criteria:
        return NOT_APPLICABLE  # not a metric-criteria alert (a web test's availability criteria, say)
    return [problem for criterion in criteria for problem in _metric_problems(criterion)]


deploy_metric_alert_metric_exists = ResourceRule(
    name="deploy-metric-alert-metric-exists",
    description="Every metric alert names a metric its resource type has, with an aggregation and dimensions it supports.",
    types=(METRIC_ALERT,),
    check=_alert_metrics,
    severity=Severity.CRITICAL,
    pillar=OPERATIONS,
    remediation="use a metric of policies/rules/azure/metrics.json (from Azure Monitor's supported-metrics reference); "
    "never skipMetricValidation",
    why=(
        "Metric alerts validate the metric name and aggregation at creation; a metric the namespace does not have "
        "fails the deploy."
    ),
    references=References(docs=facts("metrics")["source"]),
)


# --- online deployments need a provisioned managed network -------------------------------------------------------


def _workspace_named(resources: list[PolicyResource], name: str | None) -> list[PolicyResource]:
    return [r for r in resources if r.resource_type == ML_WORKSPACE and name and name in
            {text(r.props, "workspaceName"), text(r.props, "name")}]  # fmt: skip


@conditional
def _unprovisioned(resources: list[PolicyResource], _settings: Settings) -> Violations:
    for deployment in (r for r in resources if r.resource_type == ONLINE_DEPLOYMENT):
        workspaces = _workspace_named(resources, text(deployment.props, "workspaceName")) or [
            r for r in references(deployment, "workspaceName") if r.resource_type == ML_WORKSPACE
        ]
        for workspace in workspaces:
            mode = peek(workspace.props, "managedNetwork.isolationMode")
            if isinstance(mode, str) and mode != "Disabled" and peek(workspace.props, "provisionNetworkNow") is not True:
                yield deployment.urn, (
                    f"OnlineDeployment '{deployment.name}' needs Workspace '{workspace.name}''s managed network "
                    f"({mode}) provisioned first, and provisionNetworkNow is not true"
                )


deploy_managed_network_provisioned = StackRule(
    name="deploy-online-deployment-network-provisioned",
    description="Online deployments in a workspace with a managed network come after the network is provisioned.",
    check=_unprovisioned,
    severity=Severity.CRITICAL,
    pillar=RELIABILITY,
    remediation="set provision_network_now=True on the workspace (MlWorkspace does for any isolated workspace)",
    why=(
        "With a managed network that allows only approved outbound, online deployments cannot be created until the "
        "managed network is provisioned."
    ),
    references=References(
        docs="https://learn.microsoft.com/azure/machine-learning/how-to-managed-network#manually-provision-a-managed-vnet",
    ),
)


@conditional
def _image_build(props: Mapping[str, Any], _settings: Settings) -> list[str]:
    mode = get(props, "managedNetwork.isolationMode")
    if mode is MISSING or (isinstance(mode, str) and mode == "Disabled"):
        return NOT_APPLICABLE  # no managed network: the registry builds images itself
    if isinstance(mode, str) and get(props, "imageBuildCompute") in (MISSING, ""):
        return [f"the workspace's registry is behind its managed network ({mode}) and imageBuildCompute is not set, "
                "so no environment image can be built"]
    return []


deploy_workspace_image_build = ResourceRule(
    name="deploy-workspace-image-build-compute",
    description="A workspace with a managed network builds images on a compute cluster (its registry cannot).",
    types=(ML_WORKSPACE,),
    check=_image_build,
    severity=Severity.HIGH,
    pillar=RELIABILITY,
    remediation="set image_build_compute to the training cluster's name (MlWorkspace does)",
    why=(
        "A workspace whose registry is private cannot build environment images without an image-build compute in its "
        "network."
    ),
    references=References(
        docs="https://learn.microsoft.com/azure/machine-learning/how-to-managed-network#configure-image-builds",
    ),
)


# --- no explicit grant that duplicates one Azure ML makes itself ----------------------------------------------------

AUTOMATIC_ENDPOINT_ROLES = {"AcrPull", "Storage Blob Data Reader", "Storage Blob Data Contributor"}


def _system_principals(endpoint: PolicyResource) -> set[str]:
    identity = peek(endpoint.props, "identity")
    if not isinstance(identity, Mapping) or "systemassigned" not in str(identity.get("type", "")).lower():
        return set()
    principal = peek(identity, "principalId")
    return {principal.lower()} if isinstance(principal, str) else {endpoint.urn}


@conditional
def _duplicates(resources: list[PolicyResource], _settings: Settings) -> Violations:
    endpoints = {r.urn: r for r in resources if r.resource_type == ONLINE_ENDPOINT}
    principals = {p: urn for urn, e in endpoints.items() for p in _system_principals(e)}
    for assignment in (r for r in resources if r.resource_type == ROLE_ASSIGNMENT):
        role = ROLE_IDS.get((text(assignment.props, "roleDefinitionId") or "").rsplit("/", 1)[-1])
        if role not in AUTOMATIC_ENDPOINT_ROLES:
            continue
        principal = text(assignment.props, "principalId")
        owner = principals.get(principal) if principal else next(
            (principals[r.urn] for r in references(assignment, "principalId") if r.urn in principals), None)
        if owner:
            yield assignment.urn, (
                f"RoleAssignment '{assignment.name}' grants {role} to OnlineEndpoint '{endpoints[owner].name}''s "
                "system-assigned identity, which Azure ML grants itself: the second assignment fails with 409 RoleAssignmentExists"
            )


deploy_no_duplicate_automatic_grant = StackRule(
    name="deploy-no-duplicate-automatic-grant",
    description="No explicit role assignment repeats one Azure ML makes for an endpoint's system-assigned identity.",
    check=_duplicates,
    severity=Severity.HIGH,
    pillar=RELIABILITY,
    remediation="give the endpoint a user-assigned identity granted before it exists (OnlineServing does)",
    why=(
        "Azure ML grants a system-assigned endpoint identity AcrPull and a storage role itself; an explicit "
        "assignment of the same role and scope fails with 409 RoleAssignmentExists."
    ),
    references=References(
        docs="https://learn.microsoft.com/azure/machine-learning/concept-endpoints-online-auth#automatic-role-assignment-for-endpoint-identity",
    ),
)


# --- container registry features exist only on Premium ----------------------------------------------------------

PREMIUM_FEATURES = (
    ("publicNetworkAccess", "Disabled", "public network access off (private endpoints only)"),
    ("networkRuleSet.defaultAction", "Deny", "network rules"),
    ("dataEndpointEnabled", True, "dedicated data endpoints"),
    ("policies.retentionPolicy.status", "enabled", "a retention policy for untagged manifests"),
)


@conditional
def _registry_features(props: Mapping[str, Any], _settings: Settings) -> list[str]:
    sku = get(props, "sku.name")
    if isinstance(sku, str) and sku.lower() == "premium":
        return NOT_APPLICABLE  # Premium has every feature
    if not isinstance(sku, str):
        return []
    used = [label for path, value, label in PREMIUM_FEATURES if same(get(props, path), value)]
    if items(get(props, "networkRuleSet.ipRules")) and "network rules" not in used:
        used.append("IP network rules")  # IP access rules are a Premium feature (container-registry-access-selected-networks)
    return [f"the {sku} registry uses {', '.join(used)}, which only Premium has"] if used else []


@conditional
def _registry_endpoints(resources: list[PolicyResource], _settings: Settings) -> Violations:
    registries = {text(r.props, "id"): r for r in resources if r.resource_type == REGISTRY and text(r.props, "id")}
    for endpoint in (r for r in resources if r.resource_type == PRIVATE_ENDPOINT):
        for connection in items(peek(endpoint.props, "privateLinkServiceConnections")):
            registry = registries.get(text(connection, "privateLinkServiceId") or "") if isinstance(connection, Mapping) else None
            sku = peek(registry.props, "sku.name") if registry else MISSING
            if isinstance(sku, str) and sku.lower() != "premium":
                yield endpoint.urn, f"PrivateEndpoint '{endpoint.name}' connects to the {sku} registry '{registry.name}'; only Premium has private endpoints"


deploy_registry_premium_features = ResourceRule(
    name="deploy-registry-premium-features",
    description="A container registry uses private access, network rules, data endpoints and retention only on Premium.",
    types=(REGISTRY,),
    check=_registry_features,
    severity=Severity.HIGH,
    pillar=RELIABILITY,
    remediation="use the Premium SKU (stack config registry.sku) or drop the Premium-only setting",
    why=(
        "Zone redundancy, retention policies, private endpoints, IP network rules and dedicated data endpoints exist only "
        "in the Premium tier; other tiers reject them."
    ),
    references=References(docs=(
        "https://learn.microsoft.com/azure/container-registry/container-registry-skus",
        "https://learn.microsoft.com/azure/container-registry/container-registry-access-selected-networks",
        "https://learn.microsoft.com/azure/container-registry/container-registry-dedicated-data-endpoints",
    )),
)

deploy_registry_private_endpoint_premium = StackRule(
    name="deploy-registry-private-endpoint-premium",
    description="Private endpoints connect only to Premium container registries.",
    check=_registry_endpoints,
    severity=Severity.HIGH,
    pillar=RELIABILITY,
    remediation="use the Premium SKU for a registry that private networking reaches (stack config registry.sku)",
    why="A private endpoint to a container registry needs the Premium tier; the endpoint fails to deploy otherwise.",
    references=References(
        docs="https://learn.microsoft.com/azure/container-registry/container-registry-private-link",
    ),
)


# --- Event Hubs Capture needs Standard or above -------------------------------------------------------------------


@conditional
def _capture_tier(resources: list[PolicyResource], _settings: Settings) -> Violations:
    namespaces = [r for r in resources if r.resource_type == EVENTHUB_NAMESPACE]
    for hub in (r for r in resources if r.resource_type == EVENTHUB):
        if peek(hub.props, "captureDescription.enabled") is not True:
            continue
        name = text(hub.props, "namespaceName")
        owners = [n for n in namespaces if name and name in {text(n.props, "namespaceName"), text(n.props, "name")}] or [
            r for r in references(hub, "namespaceName") if r.resource_type == EVENTHUB_NAMESPACE]
        for namespace in owners:
            tier = peek(namespace.props, "sku.name")
            if isinstance(tier, str) and tier.lower() == "basic":
                yield hub.urn, f"EventHub '{hub.name}' captures, but Namespace '{namespace.name}' is Basic, which has no Capture"


deploy_eventhubs_capture_tier = StackRule(
    name="deploy-eventhubs-capture-tier",
    description="Event Hubs Capture runs only in a Standard (or higher) namespace.",
    check=_capture_tier,
    severity=Severity.HIGH,
    pillar=RELIABILITY,
    remediation="use stack config eventHubs.sku: Standard, or eventHubs.capture.enabled: false",
    why="Event Hubs Capture needs the Standard tier or higher; a Basic namespace with capture fails to deploy.",
    references=References(docs="https://learn.microsoft.com/azure/event-hubs/event-hubs-capture-overview"),
)


# --- IoT Hub routing endpoints do not use reserved names ---------------------------------------------------------

RESERVED_ENDPOINT_NAMES = ("events", "fileNotifications", "$default")


def _routing_of(resource: PolicyResource) -> Any:
    if resource.resource_type == IOT_HUB:
        return peek(resource.props, "properties.routing")
    if resource.resource_type == DYNAMIC and peek(resource.props, "kind") == IOT_ROUTING_KIND:
        return peek(resource.props, "routing")
    return MISSING


@conditional
def _reserved_names(resources: list[PolicyResource], _settings: Settings) -> Violations:
    for resource in resources:
        routing = _routing_of(resource)
        if not isinstance(routing, Mapping):
            continue
        endpoints = peek(routing, "endpoints")
        for group in (endpoints.values() if isinstance(endpoints, Mapping) else ()):
            for endpoint in items(group):
                name = peek(endpoint, "name") if isinstance(endpoint, Mapping) else None
                if isinstance(name, str) and name.lower() in {n.lower() for n in RESERVED_ENDPOINT_NAMES}:
                    yield resource.urn, f"{kind(resource)} '{resource.name}' names a routing endpoint {name!r}, which IoT Hub reserves"


deploy_iot_routing_reserved_names = StackRule(
    name="deploy-iot-routing-reserved-names",
    description="IoT Hub routing endpoints use none of the names IoT Hub reserves (events, fileNotifications, $default).",
    check=_reserved_names,
    severity=Severity.HIGH,
    pillar=RELIABILITY,
    remediation="rename the endpoint (components/iothub.py names them telemetry-eventhub and raw-lake)",
    why=(
        "IoT Hub reserves some endpoint names (events, fileNotifications, $default); a routing endpoint with one of "
        "them is rejected."
    ),
    references=References(docs="https://learn.microsoft.com/rest/api/iothub/iot-hub-resource/create-or-update"),
)


# --- subnets: delegated for Flex and Container Apps, never shared between them ----------------------------------

DELEGATION = FLEX["subnetDelegation"]  # Flex Consumption and Container Apps workload-profile environments alike


def _subnets(resources: list[PolicyResource]) -> dict[str, Mapping[str, Any]]:
    """Inline subnets of the stack's VNets by id (`<vnet id>/subnets/<name>`, lower-cased)."""
    found = {}
    for vnet in (r for r in resources if r.resource_type == VIRTUAL_NETWORK):
        vnet_id = text(vnet.props, "id")
        for subnet in items(peek(vnet.props, "subnets")):
            name = peek(subnet, "name") if isinstance(subnet, Mapping) else None
            if vnet_id and isinstance(name, str):
                found[f"{vnet_id}/subnets/{name.lower()}"] = subnet
    return found


def _integrations(resources: list[PolicyResource]) -> Iterator[tuple[PolicyResource, str | None]]:
    for resource in resources:
        if resource.resource_type == WEB_APP and _is_flex(resource.props):
            yield resource, text(resource.props, "virtualNetworkSubnetId")
        elif resource.resource_type == CONTAINER_APPS_ENVIRONMENT:
            yield resource, text(resource.props, "vnetConfiguration.infrastructureSubnetId")


@conditional
def _subnet_problems(resources: list[PolicyResource], _settings: Settings) -> Violations:
    subnets, users = _subnets(resources), {}
    for resource, subnet_id in _integrations(resources):
        if not subnet_id or subnet_id not in subnets:
            continue  # no integration, or a subnet of another stack (not judged here)
        delegated = [peek(d, "serviceName") for d in items(peek(subnets[subnet_id], "delegations")) if isinstance(d, Mapping)]
        if DELEGATION not in delegated:
            yield resource.urn, f"{kind(resource)} '{resource.name}' integrates with subnet {subnet_id.rsplit('/', 1)[-1]}, which is not delegated to {DELEGATION}"
        other = users.setdefault(subnet_id, resource)
        if other is not resource and other.resource_type != resource.resource_type:
            yield resource.urn, f"{kind(resource)} '{resource.name}' shares subnet {subnet_id.rsplit('/', 1)[-1]} with {kind(other)} '{other.name}'; Flex and Container Apps cannot share one"


deploy_subnet_delegation = StackRule(
    name="deploy-subnet-delegation",
    description="Flex Consumption apps and Container Apps environments integrate with their own subnet delegated to Microsoft.App/environments.",
    check=_subnet_problems,
    severity=Severity.HIGH,
    pillar=RELIABILITY,
    remediation="use the network's functions and runners subnets (components/network.py delegates both)",
    why=(
        "Flex Consumption VNet integration and the runners' Container Apps environment need subnets delegated to "
        "Microsoft.App/environments; an undelegated subnet fails the deploy."
    ),
    references=References(
        docs="https://learn.microsoft.com/azure/azure-functions/functions-networking-options#subnets",
    ),
)
