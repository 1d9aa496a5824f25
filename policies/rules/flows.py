"""The flow check: every path the platform depends on is open, on the network and in RBAC.

Closing public access is half a control; the other half is that every consumer still gets through. `FLOWS` is
the platform's flows, defined once (the README's flow table is generated from it): a source (an identity in a
network place), a target (a resource, the private-link sub-resource the traffic uses, the scope the role must
cover) and what the source needs there (actions or data actions). A flow is open when

- a network path exists from the source's origin to the target: public access that admits that origin; or a
  private endpoint of the right sub-resource in the origin's VNet whose DNS zone group registers in every zone
  Azure documents for it, each zone linked to that VNet (or resolved by a hub's DNS servers); or the trusted-service
  exception with the identity type it requires; or an outbound rule of the workspace's managed network (the
  workspace's own storage, Key Vault and registry get theirs automatically); and
- the source's identity holds a role (built-in role table `azure/roles.json`) granting every needed action at the
  target's scope or above.

A broken flow is a violation naming the flow, the missing piece and the fix. Resources are found by what they
are in this platform: a resource type inside a component type (the URN's type chain), e.g. the storage account of
`mlops:data:DataLake` is the lake. Values unknown during a preview fall back to the dependency graph; a flow whose
pieces cannot be known yet is not judged.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import PolicyResource, Severity

from .base import SECURITY, Settings, StackRule, conditional
from .facts import ROLE_IDS, facts
from .graph import references, text
from .references import References
from .registry import site_ranges, site_rules
from .resource_types import (
    ACTION_GROUP,
    ADF_INTEGRATION_RUNTIME,
    ADF_MANAGED_PRIVATE_ENDPOINT,
    APP_INSIGHTS,
    CONTAINER_APPS_ENVIRONMENT,
    DATA_FACTORY,
    DNS_ZONE_GROUP,
    DNS_ZONE_LINK,
    DYNAMIC,
    EDGE_DEPLOYMENT_KIND,
    EVENTHUB_NAMESPACE,
    EVENTHUB_RULE_SET,
    IOT_HUB,
    KEY_VAULT,
    KEY_VAULT_SECRET,
    LOG_ANALYTICS,
    ML_COMPUTE,
    ML_WORKSPACE,
    ONLINE_ENDPOINT,
    PRIVATE_DNS_ZONE,
    PRIVATE_ENDPOINT,
    PRIVATE_LINK_SCOPE,
    PRIVATE_LINK_SCOPED_RESOURCE,
    REGISTRY,
    ROLE_ASSIGNMENT,
    STORAGE_ACCOUNT,
    USER_IDENTITY,
    VIRTUAL_NETWORK,
    WEB_APP,
)
from .values import UNKNOWN, items, peek, same

ROLES = facts("roles")["roles"]
PRIVATE_LINK = facts("private_link")["groups"]

# Component type tokens: where each of the platform's resources lives (components/*.py `TYPE`).
LAKE, WORKSPACE_C, RETRAIN, RUNNERS = "mlops:data:DataLake", "mlops:ml:MlWorkspace", "mlops:monitoring:RetrainTrigger", "mlops:delivery:CiRunners"
SERVING, ALERTS_C, COMPUTE_C, INGEST_EH, INGEST_IOT = (
    "mlops:serving:OnlineServing", "mlops:monitoring:Alerts", "mlops:ml:ComputeCluster",
    "mlops:ingestion:EventHubs", "mlops:ingestion:IotHub",
)  # fmt: skip
ML_REGISTRY_PATH = "/providers/microsoft.machinelearningservices/registries/"


# --- the graph -----------------------------------------------------------------------------------------------------


def _parent_types(urn: str) -> list[str]:
    """The component types a resource sits in, from its URN (`...::parent$child::name`)."""
    chain = urn.split("::")[2] if urn.count("::") >= 3 else ""
    return chain.split("$")[:-1]


@dataclass
class Graph:
    """One stack's resources, with the lookups the flows need."""

    resources: list[PolicyResource]
    by_urn: dict[str, PolicyResource] = field(init=False)
    by_id: dict[str, PolicyResource] = field(init=False)

    def __post_init__(self) -> None:
        self.by_urn = {r.urn: r for r in self.resources}
        self.by_id = {i: r for r in self.resources if (i := text(r.props, "id"))}

    def of(self, type_: str, component: str | None = None) -> list[PolicyResource]:
        return [r for r in self.resources if r.resource_type == type_ and (component is None or component in _parent_types(r.urn))]

    def one(self, type_: str, component: str | None = None) -> PolicyResource | None:
        found = self.of(type_, component)
        return found[0] if found else None

    def resource_id(self, resource: PolicyResource | None) -> str | None:
        return text(resource.props, "id") if resource else None

    def principals(self, resource: PolicyResource | None) -> set[str]:
        """What a role assignment's principalId may be for this resource's identity: principal ids when known,
        and the URNs of the identities (for assignments whose principal is unknown during a preview)."""
        if resource is None:
            return set()
        found: set[str] = set()
        if resource.resource_type == USER_IDENTITY:
            principal = text(resource.props, "principalId")
            return ({principal} if principal else set()) | {resource.urn}
        identity = peek(resource.props, "identity")
        if not isinstance(identity, Mapping):
            return found
        kind = str(identity.get("type", "")).lower()
        if "systemassigned" in kind:
            principal = text(identity, "principalId")
            found |= {principal} if principal else {resource.urn}
        assigned = identity.get("userAssignedIdentities") if "userassigned" in kind else None
        for uid in (list(assigned) if isinstance(assigned, (Mapping, list, tuple)) else []):
            uai = self.by_id.get(str(uid).lower())
            found |= self.principals(uai) if uai else set()
        if not assigned and "userassigned" in kind:
            for uai in references(resource, "identity"):
                found |= self.principals(uai) if uai.resource_type == USER_IDENTITY else set()
        return found

    def system_identity(self, resource: PolicyResource | None) -> bool:
        identity = peek(resource.props, "identity") if resource else None
        return isinstance(identity, Mapping) and "systemassigned" in str(identity.get("type", "")).lower()


# --- network -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Origin:
    """Where traffic comes from: `internet`, `sites` (the field sites' egress ranges, iotHub.deviceIpRanges), `vnet`
    (a VNet's id), `managed` (a workspace's managed network), `factory` (a data factory's managed virtual network), or
    `trusted` (an Azure service outside any network, as a trusted service)."""

    kind: str
    vnet: PolicyResource | None = None
    workspace: PolicyResource | None = None
    factory: PolicyResource | None = None  # kind `factory`: a data factory's managed virtual network


def _enabled(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.lower() == "enabled")


def _public_admits(graph: Graph, target: PolicyResource) -> bool:
    """Whether the target's public endpoint admits any internet client (auth aside)."""
    props, type_ = target.props, target.resource_type
    value = lambda path: None if (v := peek(props, path)) in (UNKNOWN,) or v is None or not isinstance(v, (str, bool)) else v  # noqa: E731
    if type_ == STORAGE_ACCOUNT:
        return _enabled(value("publicNetworkAccess")) and not same(value("networkRuleSet.defaultAction"), "Deny")
    if type_ == KEY_VAULT:
        return _enabled(value("properties.publicNetworkAccess")) and not same(value("properties.networkAcls.defaultAction"), "Deny")
    if type_ in (REGISTRY, ML_WORKSPACE, WEB_APP):
        return _enabled(value("publicNetworkAccess")) and not same(value("networkRuleSet.defaultAction"), "Deny")
    if type_ == ONLINE_ENDPOINT:
        return _enabled(value("properties.publicNetworkAccess"))
    if type_ == IOT_HUB:
        return _enabled(value("properties.publicNetworkAccess"))
    if type_ in (APP_INSIGHTS, LOG_ANALYTICS):
        return _enabled(value("publicNetworkAccessForIngestion"))
    if type_ == EVENTHUB_NAMESPACE:
        return _enabled(value("publicNetworkAccess")) and not any(same(peek(rs.props, "defaultAction"), "Deny") for rs in _rule_sets(graph, target))
    return False


def _sites_problem(graph: Graph, target: PolicyResource) -> str | None:
    """None when the target's public endpoint admits every site range (the IoT Hub's IP filter): no network rule
    denying by default, or an IP rule per site (container-registry-access-selected-networks)."""
    if not _enabled(peek(target.props, "publicNetworkAccess")):
        return f"Registry '{target.name}' has public access Disabled and devices in the field have no private path to it"
    admitted = site_rules(target)
    if admitted is None:
        return None
    sites = site_ranges(graph.resources)
    if not sites:
        return f"Registry '{target.name}' denies public traffic by default and the IoT Hub's IP filter names no site range"
    missing = sorted(sites - set(admitted))
    return f"Registry '{target.name}' has no IP rule for the site range(s) {', '.join(missing)}" if missing else None


def _rule_sets(graph: Graph, namespace: PolicyResource) -> list[PolicyResource]:
    name = text(namespace.props, "namespaceName")
    return [rs for rs in graph.of(EVENTHUB_RULE_SET) if text(rs.props, "namespaceName") == name or namespace in references(rs, "namespaceName")]


def _trusted_admits(graph: Graph, source: PolicyResource, target: PolicyResource) -> str | None:
    """None when the target lets `source` in as a trusted Azure service, else the missing piece."""
    if target.resource_type == STORAGE_ACCOUNT:
        if not _enabled(peek(target.props, "publicNetworkAccess")):
            return f"StorageAccount '{target.name}' has public access Disabled, which also removes the trusted-service exceptions"
        rules = peek(target.props, "networkRuleSet")
        if not isinstance(rules, Mapping) or not same(rules.get("defaultAction"), "Deny"):
            return None  # every network, trusted services included
        source_id = graph.resource_id(source)
        instances = [text(rule, "resourceId") for rule in items(rules.get("resourceAccessRules")) if isinstance(rule, Mapping)]
        if (source_id and source_id in instances) or "azureservices" in str(rules.get("bypass", "")).lower():
            return None
        return f"StorageAccount '{target.name}' has no resource-instance rule for {source.name} and no AzureServices bypass"
    if target.resource_type == EVENTHUB_NAMESPACE:
        denying = [rs for rs in _rule_sets(graph, target) if same(peek(rs.props, "defaultAction"), "Deny")]
        if not _enabled(peek(target.props, "publicNetworkAccess")):
            return f"Namespace '{target.name}' has public access Disabled, which also removes the trusted-service exception"
        if denying and not all(peek(rs.props, "trustedServiceAccessEnabled") is True for rs in denying):
            return f"Namespace '{target.name}''s network rule set does not let trusted services bypass it"
        return None
    return f"{target.name} has no trusted-service exception"


def _endpoint_problem(graph: Graph, origin: Origin, target_id: str, group: str) -> str | None:
    """None when `origin.vnet` has a private endpoint to (target, group) with every DNS zone registered and linked."""
    vnet_id = graph.resource_id(origin.vnet)
    endpoints = [
        pe for pe in graph.of(PRIVATE_ENDPOINT)
        if any(text(c, "privateLinkServiceId") == target_id and group in [str(g) for g in items(peek(c, "groupIds"))]
               for c in items(peek(pe.props, "privateLinkServiceConnections")) if isinstance(c, Mapping))
        and (not vnet_id or (text(pe.props, "subnet.id") or "").startswith(f"{vnet_id}/subnets/"))
    ]  # fmt: skip
    if not endpoints:
        return f"no private endpoint ({group}) to {target_id.rsplit('/', 1)[-1]} in the VNet"
    zones = PRIVATE_LINK[group]["zones"]
    for endpoint in endpoints:
        groups = [g for g in graph.of(DNS_ZONE_GROUP) if endpoint in references(g, "privateEndpointName")
                  or text(g.props, "privateEndpointName") == text(endpoint.props, "privateEndpointName")]  # fmt: skip
        registered = {text(c, "privateDnsZoneId") for g in groups for c in items(peek(g.props, "privateDnsZoneConfigs")) if isinstance(c, Mapping)}
        missing = [zone for zone in zones if not any(z and z.endswith(f"/privatednszones/{zone}") for z in registered)]
        if missing:
            return f"private endpoint '{endpoint.name}' registers no DNS record in {', '.join(missing)}"
        unlinked = [zone for zone in zones if not _resolves(graph, origin.vnet, zone)]
        if unlinked:
            return f"private DNS zone {', '.join(unlinked)} is not linked to the VNet"
    return None


def _resolves(graph: Graph, vnet: PolicyResource | None, zone: str) -> bool:
    """A zone of this stack linked to the VNet, or a hub's zone the VNet resolves through the hub's DNS servers."""
    own = [z for z in graph.of(PRIVATE_DNS_ZONE) if text(z.props, "privateZoneName") == zone]
    if not own:
        return vnet is not None and bool(items(peek(vnet.props, "dhcpOptions.dnsServers")))
    vnet_id = graph.resource_id(vnet)
    for link in graph.of(DNS_ZONE_LINK):
        zone_ok = text(link.props, "privateZoneName") == zone or any(z in references(link, "privateZoneName") for z in own)
        vnet_ok = text(link.props, "virtualNetwork.id") == vnet_id or (vnet is not None and vnet in references(link, "virtualNetwork"))
        if zone_ok and vnet_ok:
            return True
    return False


def _outbound_problem(graph: Graph, workspace: PolicyResource, target: PolicyResource | None, target_id: str, group: str) -> str | None:
    mode = peek(workspace.props, "managedNetwork.isolationMode")
    if isinstance(mode, str) and mode == "Disabled":
        return None if target is None or _public_admits(graph, target) else f"{target.name} is closed to the public network the compute uses"
    # Azure ML creates these endpoints itself (how-to-managed-network): the workspace's storage (blob, file; queue
    # and table need rules), Key Vault and registry.
    own = {text(workspace.props, "storageAccount"): ("blob", "file"), text(workspace.props, "keyVault"): ("vault",),
           text(workspace.props, "containerRegistry"): ("registry",)}  # fmt: skip
    if group in own.get(target_id, ()):
        return None
    rules = peek(workspace.props, "managedNetwork.outboundRules")
    for rule in (rules.values() if isinstance(rules, Mapping) else ()):
        if (isinstance(rule, Mapping) and same(rule.get("type"), "PrivateEndpoint")
                and text(rule, "destination.serviceResourceId") == target_id
                and peek(rule, "destination.subresourceTarget") == group):
            return None
    if mode == "AllowInternetOutbound" and target is not None and _public_admits(graph, target):
        return None
    return f"Workspace '{workspace.name}''s managed network has no private-endpoint outbound rule to {target_id.rsplit('/', 1)[-1]} ({group})"


# --- RBAC ---------------------------------------------------------------------------------------------------------


def _grants(role: str, action: str) -> bool:
    definition = ROLES[role]
    allowed = [*definition.get("actions", []), *definition.get("dataActions", [])]
    match = lambda patterns: any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in patterns)  # noqa: E731
    return match(allowed) and not match(definition.get("notActions", []))


def _rbac_problem(graph: Graph, principals: set[str], scope_id: str | None, scope_resource: PolicyResource | None, needs: Sequence[str]) -> str | None:
    held: list[str] = []
    for assignment in graph.of(ROLE_ASSIGNMENT):
        principal = text(assignment.props, "principalId")
        mine = principal in principals if principal else any(r.urn in principals for r in references(assignment, "principalId"))
        if not mine:
            continue
        scope = text(assignment.props, "scope")
        covers = (scope and scope_id and (scope_id == scope or scope_id.startswith(scope + "/"))) or (
            not scope and scope_resource is not None and scope_resource in references(assignment, "scope"))
        role = ROLE_IDS.get((text(assignment.props, "roleDefinitionId") or "").rsplit("/", 1)[-1])
        if covers and role:
            held.append(role)
    missing = [action for action in needs if not any(_grants(role, action) for role in held)]
    if missing:
        return f"no role at {(scope_id or 'the target').rsplit('/', 1)[-1]} grants {', '.join(missing)}"
    return None


# --- the flows -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoints:
    """A flow resolved on a graph: who (the principals), from where, to what, which scope; or why not applicable."""

    principals: set[str]
    origin: Origin
    target: PolicyResource | None
    target_id: str | None
    scope_id: str | None
    scope: PolicyResource | None = None
    source: PolicyResource | None = None


@dataclass(frozen=True)
class Flow:
    name: str
    source: str  # who, for the table
    target: str  # what, for the table
    group: str | tuple[str, ...] | None  # the private-link sub-resource(s) the traffic uses; None: none applies
    needs: tuple[str, ...]  # actions or data actions; () when authorization is not RBAC (devices)
    resolve: Callable[[Graph], Endpoints | str]  # a string: why the flow does not apply to this stack
    fix: str
    network: str = "auto"  # auto: the source's origin decides; trusted: only as a trusted Azure service


@dataclass(frozen=True)
class FlowResult:
    flow: Flow
    status: str  # open | broken | not-applicable | not-evaluated
    detail: str = ""
    urn: str = ""


def _origin_of(graph: Graph, resource: PolicyResource | None) -> Origin:
    """Where a source's traffic starts: its VNet integration, the workspace's managed network, or the internet."""
    if resource is None:
        return Origin("internet")
    if resource.resource_type == WEB_APP:
        subnet = text(resource.props, "virtualNetworkSubnetId")
        return Origin("vnet", vnet=_vnet_of(graph, subnet)) if subnet else Origin("internet")
    if resource.resource_type == CONTAINER_APPS_ENVIRONMENT:
        return Origin("vnet", vnet=_vnet_of(graph, text(resource.props, "vnetConfiguration.infrastructureSubnetId")))
    if resource.resource_type in (ML_COMPUTE, ONLINE_ENDPOINT):
        return Origin("managed", workspace=graph.one(ML_WORKSPACE))
    if resource.resource_type == DATA_FACTORY and any(
        isinstance(peek(ir.props, "properties.managedVirtualNetwork"), Mapping) for ir in graph.of(ADF_INTEGRATION_RUNTIME)
    ):
        return Origin("factory", factory=resource)
    return Origin("internet")


def _factory_endpoint_problem(graph: Graph, origin: Origin, target: PolicyResource | None, target_id: str, group: str) -> str | None:
    """None when the factory's managed network has a managed private endpoint to (target, group), or the target (not
    storage) admits public traffic. Each managed private endpoint still waits
    for approval on its target, which no preview can see (README, Data layer)."""
    for endpoint in graph.of(ADF_MANAGED_PRIVATE_ENDPOINT):
        if text(endpoint.props, "properties.privateLinkResourceId") == target_id and same(peek(endpoint.props, "properties.groupId"), group):
            return None
    # "Azure Storage and Azure Data Lake Gen2 are not supported to be connected through public endpoint from ADF
    # Managed Virtual Network" (managed-virtual-network-private-endpoint): the lake needs its managed private endpoint.
    if target is not None and target.resource_type != STORAGE_ACCOUNT and _public_admits(graph, target):
        return None
    name = origin.factory.name if origin.factory else "the factory"
    return f"Factory '{name}''s managed network has no managed private endpoint to {target_id.rsplit('/', 1)[-1]} ({group})"


def _vnet_of(graph: Graph, subnet_id: str | None) -> PolicyResource | None:
    vnets = graph.of(VIRTUAL_NETWORK)
    for vnet in vnets:
        vid = graph.resource_id(vnet)
        if subnet_id and vid and subnet_id.startswith(f"{vid}/subnets/"):
            return vnet
    return vnets[0] if vnets and subnet_id is None else None


def _people_origin(graph: Graph) -> Origin:
    """Operators and callers: through the stack's VNet (Bastion, a hub, VPN) where it has one, else the internet."""
    vnet = graph.one(VIRTUAL_NETWORK)
    return Origin("vnet", vnet=vnet) if vnet else Origin("internet")


def _with(graph: Graph, source: PolicyResource | None, target: PolicyResource | None, scope_id: str | None = None,
          *, identity: PolicyResource | None = None, origin: Origin | None = None, scope: PolicyResource | None = None,
          target_id: str | None = None) -> Endpoints | str:
    if source is None:
        return "the source does not exist in this stack"
    if target is None and target_id is None:
        return "the target does not exist in this stack"
    tid = target_id or graph.resource_id(target)
    return Endpoints(
        principals=graph.principals(identity or source),
        origin=origin or _origin_of(graph, source),
        target=target,
        target_id=tid,
        scope_id=scope_id or tid,
        scope=scope or target,
        source=source,
    )  # fmt: skip


def _child_id(parent_id: str | None, path: str) -> str | None:
    return f"{parent_id}/{path}".lower() if parent_id else None


def _container(graph: Graph, account: PolicyResource | None, name: str) -> str | None:
    return _child_id(graph.resource_id(account), f"blobServices/default/containers/{name}")


def _hub(graph: Graph, name: str) -> str | None:
    return _child_id(graph.resource_id(graph.one(EVENTHUB_NAMESPACE)), f"eventhubs/{name}")


def _workspace_storage(graph: Graph) -> PolicyResource | None:
    return graph.one(STORAGE_ACCOUNT, WORKSPACE_C)


def _registry_id(graph: Graph) -> str | None:
    """The shared Azure ML registry (another stack): the id this stack's endpoints and grants name."""
    for resource in graph.of(PRIVATE_ENDPOINT) + graph.of(ROLE_ASSIGNMENT):
        for value in [text(c, "privateLinkServiceId") for c in items(peek(resource.props, "privateLinkServiceConnections")) if isinstance(c, Mapping)] + [text(resource.props, "scope")]:
            if value and ML_REGISTRY_PATH in value and value.count("/") == 8:
                return value
    workspace = graph.one(ML_WORKSPACE)
    rules = peek(workspace.props, "managedNetwork.outboundRules") if workspace else None
    for rule in (rules.values() if isinstance(rules, Mapping) else ()):
        value = text(rule, "destination.serviceResourceId") if isinstance(rule, Mapping) else None
        if value and ML_REGISTRY_PATH in value:
            return value
    return None


def _people(graph: Graph, label: str, scope_type: str, network_target: str) -> Endpoints | str:
    """Configured people (operators, scoring callers) are the principals of the grants the platform labels for
    them (`access-operator-<n>-...`, `online-score-<n>`): they come from stack config, not from an identity."""
    assignments = [a for a in graph.of(ROLE_ASSIGNMENT) if f"-{label}-" in a.name or a.name.endswith(f"-{label}")]
    principals = {p for a in assignments if (p := text(a.props, "principalId"))}
    if not assignments:
        return f"no {label} are configured (stack config access)"
    target = graph.one(network_target)
    scope = graph.one(scope_type)
    return Endpoints(principals, _people_origin(graph), target, graph.resource_id(target), graph.resource_id(scope), scope)


DATA = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/"
SEND, RECEIVE = "Microsoft.EventHub/namespaces/eventhubs/send/action", "Microsoft.EventHub/namespaces/eventhubs/receive/action"
SUBMIT = "Microsoft.MachineLearningServices/workspaces/experiments/runs/submit/action"
TELEMETRY = "Microsoft.Insights/Telemetry/Write"


def _iot(g: Graph) -> PolicyResource | None:
    return g.one(IOT_HUB)


def _edge_pulls(g: Graph) -> Endpoints | str:
    """IoT Edge devices pull the module and model images (edgeAgent, with the registry token of the base deployment)."""
    if not any(peek(r.props, "kind") == EDGE_DEPLOYMENT_KIND for r in g.of(DYNAMIC)):
        return "no IoT Edge deployments (edge.targetCondition is not set)"
    registry = g.one(REGISTRY)
    if registry is None:
        return "the target does not exist in this stack"
    return Endpoints(set(), Origin("sites"), registry, g.resource_id(registry), None)


def _compute(g: Graph) -> PolicyResource | None:
    return g.one(ML_COMPUTE)


def _cluster_zone(zone: str) -> Callable[[Graph], Endpoints | str]:
    """The training cluster's identity to one lake zone (its container)."""
    return lambda g: _with(g, _compute(g), g.one(STORAGE_ACCOUNT, LAKE), _container(g, g.one(STORAGE_ACCOUNT, LAKE), zone))


def _function(g: Graph) -> PolicyResource | None:
    return g.one(WEB_APP, RETRAIN)


def _runner_identity(g: Graph) -> PolicyResource | None:
    return g.one(USER_IDENTITY, RUNNERS)


def _runners(g: Graph, target: PolicyResource | None, scope_id: str | None = None, target_id: str | None = None) -> Endpoints | str:
    environment = g.one(CONTAINER_APPS_ENVIRONMENT, RUNNERS)
    if environment is None:
        return "GitHub-hosted runners sign in as the deploy identity (no runners in a public stack)"
    return _with(g, environment, target, scope_id, identity=_runner_identity(g), target_id=target_id)


def _promotion_token(g: Graph) -> Endpoints | str:
    """The retrain function reads its GitHub token (retrainTrigger.promotion) from one secret, granted on the secret."""
    secret = g.one(KEY_VAULT_SECRET, RETRAIN)
    if secret is None:
        return "no promotion dispatch is configured (retrainTrigger.promotion with a token)"
    return _with(g, _function(g), g.one(KEY_VAULT), scope_id=g.resource_id(secret))


def _endpoint_identity(g: Graph) -> PolicyResource | None:
    return g.one(ONLINE_ENDPOINT)


def _insights(g: Graph) -> PolicyResource | None:
    return g.one(APP_INSIGHTS)


FLOWS: tuple[Flow, ...] = (
    Flow("devices-to-iothub", "IoT devices (internet, per-device auth)", "IoT Hub", None, (),
         lambda g: Endpoints(set(), Origin("internet"), _iot(g), g.resource_id(_iot(g)), None) if _iot(g) else "no IoT Hub",
         "keep the hub's public access Enabled with the sites' IP filter (iotHub.deviceIpRanges)"),
    Flow("edge-devices-pull-images", "IoT Edge devices (the sites: iotHub.deviceIpRanges; registry token)",
         "container registry (module and model images)", None, (), _edge_pulls,
         "keep the registry's public access Enabled for the sites: networkRuleSet defaultAction Deny with an IP rule per "
         "iotHub.deviceIpRanges entry (the stack does this when edge.targetCondition is set)"),
    Flow("iothub-to-eventhubs", "IoT Hub (system identity, trusted service)", "Event Hubs `telemetry`", None, (SEND,),
         lambda g: _with(g, _iot(g), g.one(EVENTHUB_NAMESPACE), _hub(g, "telemetry"), origin=Origin("trusted")),
         "give the hub a system identity with Azure Event Hubs Data Sender on `telemetry`; let trusted services bypass the namespace firewall",
         network="trusted"),
    Flow("iothub-to-lake", "IoT Hub (system identity, trusted service)", "lake `raw`", None, (DATA + "write",),
         lambda g: _with(g, _iot(g), g.one(STORAGE_ACCOUNT, LAKE), _container(g, g.one(STORAGE_ACCOUNT, LAKE), "raw"), origin=Origin("trusted")),
         "grant the hub's system identity Storage Blob Data Contributor on `raw`; add the hub as a resource-instance rule of the lake",
         network="trusted"),
    Flow("capture-to-lake", "Event Hubs Capture (namespace identity, trusted)", "lake `raw`", None, (DATA + "write",),
         lambda g: _with(g, g.one(EVENTHUB_NAMESPACE), g.one(STORAGE_ACCOUNT, LAKE), _container(g, g.one(STORAGE_ACCOUNT, LAKE), "raw"), origin=Origin("trusted")),
         "grant the namespace identity Storage Blob Data Contributor on `raw`; add the namespace as a resource-instance rule",
         network="trusted"),
    Flow("compute-reads-raw", "training cluster (managed network)", "lake `raw`", "dfs", (DATA + "read",), _cluster_zone("raw"),
         "add an outbound private-endpoint rule to the lake (dfs) and grant the cluster Storage Blob Data Reader on `raw`"),
    Flow("compute-writes-features", "training cluster (managed network)", "lake `features`", "blob", (DATA + "write",), _cluster_zone("features"),
         "add an outbound private-endpoint rule to the lake (blob) and grant the cluster Storage Blob Data Contributor on `features`"),
    Flow("compute-to-workspace-storage", "training cluster (managed network)", "workspace storage (outputs, MLflow)", "blob", (DATA + "write",),
         lambda g: _with(g, _compute(g), _workspace_storage(g)),
         "grant the cluster Storage Blob Data Contributor on the workspace storage"),
    Flow("compute-to-key-vault", "training cluster (managed network)", "Key Vault secrets", "vault", ("Microsoft.KeyVault/vaults/secrets/getSecret/action",),
         lambda g: _with(g, _compute(g), g.one(KEY_VAULT)),
         "grant the cluster Key Vault Secrets User on the vault"),
    Flow("compute-pulls-images", "training cluster (managed network)", "container registry", "registry", ("Microsoft.ContainerRegistry/registries/pull/read",),
         lambda g: _with(g, _compute(g), g.one(REGISTRY)),
         "grant the cluster AcrPull on the registry"),
    # The gate of a training run and the scheduled monitor read the live model(s) from the shared registry.
    Flow("compute-reads-models", "training cluster (managed network)", "shared Azure ML registry (models)", ("amlregistry",),
         ("Microsoft.MachineLearningServices/registries/assets/read",),
         lambda g: _with(g, _compute(g), None, target_id=_registry_id(g)) if _registry_id(g) else "no shared registry is referenced",
         "add an outbound private-endpoint rule to the registry; grant the cluster AzureML Registry User"),
    Flow("batch-to-queues-and-tables", "batch jobs (ParallelRunStep, managed network)", "workspace storage queues and tables", ("queue", "table"),
         ("Microsoft.Storage/storageAccounts/queueServices/queues/messages/write", "Microsoft.Storage/storageAccounts/tableServices/tables/entities/write"),
         lambda g: _with(g, _compute(g), _workspace_storage(g)),
         "add outbound private-endpoint rules to the workspace storage (queue, table); grant Queue and Table Data Contributor"),
    # The scheduled monitor job runs on the cluster as its identity; it reads the captures in `raw` (compute-reads-raw).
    Flow("monitor-writes-predictions", "monitor job (cluster identity, managed network)", "lake `predictions`", "blob", (DATA + "write",),
         _cluster_zone("predictions"), "grant the cluster Storage Blob Data Contributor on `predictions`"),
    Flow("monitor-reads-labels", "monitor job (cluster identity, managed network)", "lake `labels`", "blob", (DATA + "read",),
         _cluster_zone("labels"), "grant the cluster Storage Blob Data Reader on `labels`"),
    Flow("monitor-writes-reports", "monitor job (cluster identity, managed network)", "lake `monitoring`", "blob", (DATA + "write",),
         _cluster_zone("monitoring"), "grant the cluster Storage Blob Data Contributor on `monitoring`"),
    Flow("monitor-to-app-insights", "monitor job (cluster identity, managed network)", "Application Insights ingestion", "azuremonitor", (TELEMETRY,),
         lambda g: _monitor(g, _compute(g)),
         "add an outbound private-endpoint rule to the Azure Monitor private link scope; grant Monitoring Metrics Publisher"),
    Flow("deployment-pulls-images", "online deployments (endpoint identity)", "container registry", "registry", ("Microsoft.ContainerRegistry/registries/pull/read",),
         lambda g: _with(g, _endpoint_identity(g), g.one(REGISTRY)),
         "grant the endpoint's user-assigned identity AcrPull before the endpoint exists"),
    Flow("deployment-reads-models", "online deployments (endpoint identity)", "shared Azure ML registry (models, environments)", ("amlregistry",),
         ("Microsoft.MachineLearningServices/registries/assets/read",),
         lambda g: _with(g, _endpoint_identity(g), None, target_id=_registry_id(g)) if _registry_id(g) else "no shared registry is referenced",
         "add an outbound private-endpoint rule to the registry; grant the endpoint identity AzureML Registry User"),
    Flow("deployment-sends-predictions", "online deployments (endpoint identity)", "Event Hubs `predictions`", "namespace", (SEND,),
         lambda g: _with(g, _endpoint_identity(g), g.one(EVENTHUB_NAMESPACE), _hub(g, "predictions")),
         "grant the endpoint identity Azure Event Hubs Data Sender on `predictions`"),
    Flow("callers-score", "scoring callers (access.scoringCallers)", "online endpoint", "amlworkspace",
         ("Microsoft.MachineLearningServices/workspaces/onlineEndpoints/score/action",),
         lambda g: _scoring(g),
         "give callers a path (the workspace's private endpoint in the VNet) and AzureML Data Scientist on the endpoint"),
    Flow("ci-submits-jobs", "CI runners (runners subnet)", "workspace API", "amlworkspace", (SUBMIT,),
         lambda g: _runners(g, g.one(ML_WORKSPACE)),
         "add the workspace's private endpoint (amlworkspace) to the VNet; grant the runner identity AzureML Data Scientist"),
    Flow("ci-uploads-code", "CI runners (runners subnet)", "workspace storage (code snapshots)", "blob", (DATA + "write",),
         lambda g: _runners(g, _workspace_storage(g)),
         "add the workspace storage's blob private endpoint; grant the runner identity Storage Blob Data Contributor"),
    Flow("ci-registers-assets", "CI runners (runners subnet)", "shared Azure ML registry", "amlregistry",
         ("Microsoft.MachineLearningServices/registries/assets/write",),
         lambda g: _runners(g, None, target_id=_registry_id(g)) if _registry_id(g) else "no shared registry is referenced",
         "add a private endpoint to the shared registry; grant the runner identity AzureML Registry User"),
    Flow("ci-pulls-runner-image", "CI runners (runners subnet)", "container registry (runner image)", "registry",
         ("Microsoft.ContainerRegistry/registries/pull/read",),
         lambda g: _runners(g, g.one(REGISTRY)),
         "grant the runner identity AcrPull; add the registry's private endpoint"),
    Flow("ci-reads-runner-token", "CI runners' job (its identity, runners subnet)", "Key Vault (the runner token)", "vault",
         ("Microsoft.KeyVault/vaults/secrets/getSecret/action",),
         lambda g: _runners(g, g.one(KEY_VAULT)),
         "add the vault's private endpoint (vault) to the VNet; grant the runner identity Key Vault Secrets User"),
    Flow("ci-deploys-function", "CI runners (runners subnet)", "retrain function (code deploy)", "sites", ("Microsoft.Web/sites/write",),
         lambda g: _runners(g, _function(g)),
         "add the function's `sites` private endpoint; grant the runner identity Website Contributor on the app"),
    Flow("function-to-host-storage", "retrain function (functions subnet)", "its host storage", ("blob", "queue", "table"), (DATA + "write", DATA + "read"),
         lambda g: _with(g, _function(g), g.one(STORAGE_ACCOUNT, RETRAIN)),
         "add the host storage's blob, queue and table private endpoints; grant Storage Blob Data Owner"),
    Flow("function-submits-training", "retrain function (functions subnet)", "workspace API", "amlworkspace", (SUBMIT,),
         lambda g: _with(g, _function(g), g.one(ML_WORKSPACE)),
         "add the workspace's private endpoint to the VNet; grant the function AzureML Data Scientist"),
    Flow("function-uploads-code", "retrain function (functions subnet)", "workspace storage (code snapshots)", "blob", (DATA + "write",),
         lambda g: _with(g, _function(g), _workspace_storage(g)),
         "grant the function Storage Blob Data Contributor on the workspace storage"),
    Flow("function-reads-alerts", "retrain function (functions subnet)", "Event Hubs `alerts`", "namespace", (RECEIVE,),
         lambda g: _with(g, _function(g), g.one(EVENTHUB_NAMESPACE), _hub(g, "alerts")),
         "add the namespace's private endpoint; grant the function Azure Event Hubs Data Receiver on `alerts`"),
    Flow("function-to-app-insights", "retrain function (functions subnet)", "Application Insights ingestion", "azuremonitor", (TELEMETRY,),
         lambda g: _monitor(g, _function(g)),
         "add the Azure Monitor private link scope's endpoint; grant Monitoring Metrics Publisher"),
    Flow("function-reads-promotion-token", "retrain function (functions subnet)", "Key Vault (the GitHub token)", "vault",
         ("Microsoft.KeyVault/vaults/secrets/getSecret/action",),
         lambda g: _promotion_token(g),
         "add the vault's private endpoint (vault) to the VNet; grant the function Key Vault Secrets User on the secret"),
    Flow("alerts-to-function", "action group (its identity, trusted service)", "Event Hubs `alerts`", None, (SEND,),
         lambda g: _with(g, g.one(ACTION_GROUP), g.one(EVENTHUB_NAMESPACE), _hub(g, "alerts"), origin=Origin("trusted")),
         "give the action group an identity with Azure Event Hubs Data Sender on `alerts`; let trusted services bypass the firewall",
         network="trusted"),
    Flow("factory-writes-raw", "Data Factory (system identity, its managed network)", "lake `raw` (batch ingestion)", "dfs", (DATA + "write",),
         lambda g: _with(g, g.one(DATA_FACTORY), g.one(STORAGE_ACCOUNT, LAKE), _container(g, g.one(STORAGE_ACCOUNT, LAKE), "raw")),
         "add a managed private endpoint (dfs) from the factory's managed network to the lake and approve it; grant the "
         "factory's identity Storage Blob Data Contributor on `raw`"),
    Flow("factory-reads-keyvault", "Data Factory (system identity, its managed network)", "Key Vault (source credentials)", "vault",
         ("Microsoft.KeyVault/vaults/secrets/getSecret/action",),
         lambda g: _with(g, g.one(DATA_FACTORY), g.one(KEY_VAULT)),
         "add a managed private endpoint (vault) from the factory's managed network and approve it; grant the factory's "
         "identity Key Vault Secrets User on the vault"),
    Flow("operators-use-workspace", "operators (access.operators)", "workspace", "amlworkspace",
         ("Microsoft.MachineLearningServices/workspaces/experiments/runs/read",),
         lambda g: _people(g, "operator", ML_WORKSPACE, ML_WORKSPACE),
         "grant operators AzureML Data Scientist on the workspace; reach the VNet (Bastion, hub, VPN) where its endpoint is"),
    Flow("operators-query-logs", "operators (access.operators)", "Log Analytics queries", None,
         ("Microsoft.OperationalInsights/workspaces/analytics/query/action",),
         lambda g: _people(g, "operator", LOG_ANALYTICS, LOG_ANALYTICS),
         "grant operators Log Analytics Reader; keep queries open to Entra ID callers (or query through the scope)"),
)


def _monitor(g: Graph, source: PolicyResource | None) -> Endpoints | str:
    """Telemetry goes to App Insights; in a private stack through the scope, which must hold App Insights."""
    insights = _insights(g)
    scope = g.one(PRIVATE_LINK_SCOPE)
    if scope is None or insights is None:
        return _with(g, source, insights)
    scoped = any(text(r.props, "linkedResourceId") == g.resource_id(insights) or insights in references(r, "linkedResourceId")
                 for r in g.of(PRIVATE_LINK_SCOPED_RESOURCE))  # fmt: skip
    if not scoped:
        return f"broken: Application Insights '{insights.name}' is not in the Azure Monitor private link scope"
    return _with(g, source, scope, g.resource_id(insights), scope=insights)


def _scoring(g: Graph) -> Endpoints | str:
    endpoint = g.one(ONLINE_ENDPOINT)
    if endpoint is None:
        return "no online endpoint"
    people = _people(g, "score", ONLINE_ENDPOINT, ML_WORKSPACE)
    if isinstance(people, str):
        return people
    if _public_admits(g, endpoint):  # public endpoint: callers need only the role
        return Endpoints(people.principals, Origin("internet"), endpoint, g.resource_id(endpoint), g.resource_id(endpoint), endpoint)
    return people


def _groups(flow: Flow) -> tuple[str, ...]:
    return (flow.group,) if isinstance(flow.group, str) else tuple(flow.group or ())


def _network_problem(graph: Graph, flow: Flow, resolved: Endpoints) -> str | None:
    origin, target, target_id = resolved.origin, resolved.target, resolved.target_id or ""
    if flow.network == "trusted":
        if not graph.system_identity(resolved.source) and resolved.source is not None and resolved.source.resource_type == IOT_HUB:
            return f"IotHubResource '{resolved.source.name}' has no system-assigned identity, which trusted-service access requires"
        return _trusted_admits(graph, resolved.source, target) if target is not None else None
    if origin.kind == "sites":
        return _sites_problem(graph, target) if target is not None else None
    if origin.kind == "internet":
        if target is None:
            return None  # another stack's service: its own policy decides what it admits
        return None if _public_admits(graph, target) else f"{target.resource_type.rsplit(':', 1)[-1]} '{target.name}' admits no public traffic and the source has no private path"
    if origin.kind == "managed":
        if origin.workspace is None:
            return "no workspace managed network"
        for group in _groups(flow):
            problem = _outbound_problem(graph, origin.workspace, target, target_id, group)
            if problem:
                return problem
        return None
    if origin.kind == "factory":
        for group in _groups(flow):
            problem = _factory_endpoint_problem(graph, origin, target, target_id, group)
            if problem:
                return problem
        return None
    if origin.kind == "vnet":
        if flow.group is None:
            return None if target is None or _public_admits(graph, target) or target.resource_type == LOG_ANALYTICS else f"{target.name} admits no public traffic"
        for group in _groups(flow):
            problem = _endpoint_problem(graph, origin, target_id, group)
            if problem:
                return problem
        return None
    return None


def evaluate(resources: Iterable[PolicyResource]) -> list[FlowResult]:
    """Every flow of FLOWS on one stack's resources: open, broken (with the missing piece) or not applicable."""
    graph = Graph(list(resources))
    if graph.one(ML_WORKSPACE) is None:
        return []  # not an environment stack (the shared stack has no flows of its own)
    return [_evaluate(graph, flow) for flow in FLOWS]


def _evaluate(graph: Graph, flow: Flow) -> FlowResult:
    resolved = flow.resolve(graph)
    if isinstance(resolved, str):
        if resolved.startswith("broken: "):
            return FlowResult(flow, "broken", resolved.removeprefix("broken: "))
        return FlowResult(flow, "not-applicable", resolved)
    urn = (resolved.source or resolved.target or graph.resources[0]).urn
    if resolved.target_id is None and resolved.target is not None:
        return FlowResult(flow, "not-evaluated", "the target's id is not known yet", urn)
    problem = _network_problem(graph, flow, resolved)
    if problem is None and flow.needs:
        problem = _rbac_problem(graph, resolved.principals, resolved.scope_id, resolved.scope, flow.needs)
    return FlowResult(flow, "broken" if problem else "open", problem or "", urn)


@conditional
def _broken(resources: list[PolicyResource], _settings: Settings) -> Iterator[tuple[str, str]]:
    for result in evaluate(resources):
        if result.status == "broken":
            yield result.urn, f"flow {result.flow.name} ({result.flow.source} -> {result.flow.target}) is broken: {result.detail}; fix: {result.flow.fix}"


platform_flows_open = StackRule(
    name="platform-flows-open",
    description="Every flow of the platform gets through: a network path from its origin and a role granting what it needs.",
    check=_broken,
    severity=Severity.CRITICAL,
    pillar=SECURITY,
    remediation="add the missing piece the message names (components build each one; see the README's flow table)",
    why="Closing public access is half a control: a consumer without a private path and a role is a broken platform.",
    references=References(docs="https://learn.microsoft.com/azure/machine-learning/how-to-managed-network"),
)
