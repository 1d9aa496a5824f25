"""Private networking per stack: every closed service has a private endpoint with its DNS zones linked, dev stays
public and cheap, and what stays open is exactly the documented ingress (README, "Network")."""

from __future__ import annotations

import json

import pytest

from core.azure_facts import PRIVATE_DNS_ZONES, private_dns_zones
from core.naming import Naming
from mlops.records import Secret
from policies.rules import resource_types as t
from tests.conftest import run_with

PRIVATE = ("staging", "prod")
PE = t.PRIVATE_ENDPOINT
ZONE_GROUP = t.DNS_ZONE_GROUP
ZONE = t.PRIVATE_DNS_ZONE
LINK = t.DNS_ZONE_LINK
VNET = t.VIRTUAL_NETWORK
NSG = t.NETWORK_SECURITY_GROUP
WORKSPACE = t.ML_WORKSPACE

# Which sub-resources of which resource the private stacks reach through their VNet (by logical name).
EXPECTED_ENDPOINTS = {
    "workspace-mlw": {"amlworkspace"},
    "workspace-st": {"blob", "file", "queue", "table"},
    "lake-st": {"blob", "dfs"},
    "retrain-st": {"blob", "queue", "table"},
    "retrain-func": {"sites"},
    "vault-kv": {"vault"},
    "registry-cr": {"registry"},
    "events-evhns": {"namespace"},
    "iot-iot": {"iotHub"},
    "edge-dps": {"iotDps"},
    "monitoring-ampls": {"azuremonitor"},
    "factory-adf": {"dataFactory"},
}


def public_access(resource) -> str | None:
    """A resource's publicNetworkAccess, top-level or under `properties` (absent: None)."""
    properties = resource.inputs.get("properties")
    nested = properties.get("publicNetworkAccess") if isinstance(properties, dict) else None
    return resource.inputs.get("publicNetworkAccess") or nested


def endpoints(record) -> dict[str, set[str]]:
    """Target resource id -> the group ids of its private endpoints."""
    found: dict[str, set[str]] = {}
    for endpoint in record.of_type(PE):
        [connection] = endpoint.inputs["privateLinkServiceConnections"]
        found.setdefault(connection["privateLinkServiceId"], set()).update(connection["groupIds"])
    return found


@pytest.mark.parametrize("environment", PRIVATE)
def test_every_service_is_reached_through_private_endpoints(stacks, environment):
    record = stacks[environment]
    found = endpoints(record)
    for name, groups in EXPECTED_ENDPOINTS.items():
        assert found.pop(record.named(name).outputs["id"]) == groups, name
    registry = [i for i in found if i.endswith(f"/Microsoft.MachineLearningServices/registries/{record.outputs['mlRegistryName']}")]
    assert [found.pop(target) for target in registry] == [{"amlregistry"}]
    # the shared registry's own storage and container registry, in its managed resource group
    assert sorted(found.values(), key=sorted) == [{"blob"}, {"registry"}]
    assert all("/resourceGroups/azureml-rg-" in target for target in found)


@pytest.mark.parametrize("environment", PRIVATE)
def test_every_closed_service_has_an_endpoint(stacks, environment):
    """Derived, not listed: any resource whose public access is Disabled has at least one private endpoint."""
    record = stacks[environment]
    found = endpoints(record)
    closed = [r for r in record.resources if r.custom and public_access(r) == "Disabled"]
    assert len(closed) >= 8
    for resource in closed:
        if resource.type in (t.CONTAINER_APPS_ENVIRONMENT, t.ONLINE_ENDPOINT):
            continue  # internal environment (no inbound); the endpoint is reached through the workspace's endpoint
        assert resource.outputs["id"] in found, resource.name


@pytest.mark.parametrize("environment", PRIVATE)
def test_each_endpoint_registers_in_its_zones_which_are_linked_to_the_vnet(stacks, environment):
    record = stacks[environment]
    vnet = record.one(VNET)
    subnet = f"{vnet.outputs['id']}/subnets/snet-pe"
    zones = {z.inputs["privateZoneName"]: z for z in record.of_type(ZONE)}
    assert set(zones) == set(PRIVATE_DNS_ZONES)
    linked = {link.inputs["privateZoneName"] for link in record.of_type(LINK) if link.inputs["virtualNetwork"] == {"id": vnet.outputs["id"]}}
    assert linked == set(PRIVATE_DNS_ZONES)
    assert all(link.inputs["registrationEnabled"] is False for link in record.of_type(LINK))
    groups = {g.inputs["privateEndpointName"]: g for g in record.of_type(ZONE_GROUP)}
    for endpoint in record.of_type(PE):
        assert endpoint.inputs["subnet"] == {"id": subnet}
        assert endpoint.inputs["customNetworkInterfaceName"] == endpoint.inputs["privateEndpointName"] + "-nic"
        [group] = endpoint.inputs["privateLinkServiceConnections"][0]["groupIds"]
        configs = groups[endpoint.inputs["privateEndpointName"]].inputs["privateDnsZoneConfigs"]
        assert [c["privateDnsZoneId"] for c in configs] == [zones[z].outputs["id"] for z in private_dns_zones(group)], endpoint.name


def test_dev_is_public_and_cheap(stacks):
    record = stacks["dev"]
    for type_ in (VNET, PE, ZONE, NSG, t.NAT_GATEWAY, t.PRIVATE_LINK_SCOPE, t.CONTAINER_APPS_ENVIRONMENT):
        assert record.of_type(type_) == [], type_
    for resource in record.resources:
        assert public_access(resource) in (None, "Enabled"), resource.name


@pytest.mark.parametrize("environment", PRIVATE)
def test_what_stays_open_is_exactly_the_documented_ingress(stacks, environment):
    record = stacks[environment]
    opened = {r.name for r in record.resources if r.custom and public_access(r) == "Enabled"}
    assert opened == {"lake-st", "events-evhns", "events-firewall", "iot-iot", "edge-dps", "registry-cr"}  # the firewall: see below
    # The lake: selected networks with none selected; only its two trusted writers, by resource id.
    naming = Naming("mlops", environment, "westeurope")
    rules = record.named("lake-st").inputs["networkRuleSet"]
    writers = [rule["resourceId"] for rule in rules["resourceAccessRules"]]
    assert (rules["defaultAction"], rules["bypass"]) == ("Deny", "AzureServices") and "ipRules" not in rules
    assert writers == [record.one(t.IOT_HUB).outputs["id"], record.named("events-evhns").outputs["id"]]
    assert {rule["tenantId"] for rule in rules["resourceAccessRules"]} == {"11111111-1111-1111-1111-111111111111"}
    assert naming.name("iot") in writers[0]
    # Event Hubs: trusted services only (the IoT Hub's routing and the action group's alerts).
    firewall = record.named("events-firewall").inputs
    assert firewall == {"namespaceName": record.named("events-evhns").inputs["namespaceName"], "resourceGroupName": firewall["resourceGroupName"],
                        "publicNetworkAccess": "Enabled", "defaultAction": "Deny", "trustedServiceAccessEnabled": True,
                        "ipRules": [], "virtualNetworkRules": []}  # fmt: skip
    # IoT Hub: devices from the configured sites only; per-device auth; service-side keys off.
    hub = record.one(t.IOT_HUB).inputs["properties"]
    ranges = json.loads(__import__("core.config", fromlist=["x"]).read_stack_values(environment)[0]["mlops-platform:iotHub"])["deviceIpRanges"]
    assert hub["networkRuleSets"] == {"defaultAction": "Deny", "applyToBuiltInEventHubEndpoint": True,
                                      "ipRules": [{"filterName": f"site-{i}", "action": "Allow", "ipMask": r} for i, r in enumerate(ranges)]}  # fmt: skip
    assert hub["disableLocalAuth"] is True and hub["disableDeviceSAS"] is False
    # The registry (staging and prod have IoT Edge devices): the edge devices pull from the same sites, nobody else.
    registry = record.named("registry-cr").inputs
    assert registry["networkRuleSet"] == {"defaultAction": "Deny", "ipRules": [{"action": "Allow", "iPAddressOrRange": r} for r in ranges]}
    # DPS: devices provision from the same sites; the last rule rejects every other address (first match wins).
    filters = record.named("edge-dps").inputs["properties"]["ipFilterRules"]
    assert filters == [*({"filterName": f"site-{i}", "action": "Accept", "ipMask": r, "target": "all"} for i, r in enumerate(ranges)),
                       {"filterName": "reject-others", "action": "Reject", "ipMask": "0.0.0.0/0", "target": "all"}]  # fmt: skip
    # Monitoring: ingestion only through the private link scope; queries by Entra-authenticated callers.
    for name in ("monitoring-log", "monitoring-appi"):
        resource = record.named(name).inputs
        assert (resource["publicNetworkAccessForIngestion"], resource["publicNetworkAccessForQuery"]) == ("Disabled", "Enabled")


@pytest.mark.parametrize("environment", PRIVATE)
def test_monitoring_private_link_scope_holds_both_monitoring_resources(stacks, environment):
    record = stacks[environment]
    scope = record.one(t.PRIVATE_LINK_SCOPE)
    assert scope.inputs["accessModeSettings"] == {"ingestionAccessMode": "PrivateOnly", "queryAccessMode": "Open"}
    assert scope.inputs["location"] == "global"
    linked = {r.inputs["linkedResourceId"] for r in record.of_type(t.PRIVATE_LINK_SCOPED_RESOURCE)}
    assert linked == {record.named("monitoring-log").outputs["id"], record.named("monitoring-appi").outputs["id"]}


@pytest.mark.parametrize("environment", PRIVATE)
def test_workspace_managed_network_is_provisioned_with_its_outbound_rules(stacks, environment):
    record = stacks[environment]
    workspace = record.one(WORKSPACE).inputs
    assert workspace["provisionNetworkNow"] is True
    assert workspace["imageBuildCompute"] == record.one(t.ML_COMPUTE).inputs["computeName"]
    rules = workspace["managedNetwork"]["outboundRules"]
    targets = {name: (rule["destination"]["serviceResourceId"], rule["destination"]["subresourceTarget"]) for name, rule in rules.items()}
    lake, storage = record.named("lake-st").outputs["id"], record.named("workspace-st").outputs["id"]
    assert {name: target for name, target in targets.items() if not name.startswith("registry")} == {
        "lake-blob": (lake, "blob"), "lake-dfs": (lake, "dfs"),
        "eventhubs": (record.named("events-evhns").outputs["id"], "namespace"),
        "storage-queue": (storage, "queue"), "storage-table": (storage, "table"),
        "monitor": (record.one(t.PRIVATE_LINK_SCOPE).outputs["id"], "azuremonitor"),
    }  # fmt: skip
    assert {targets[n][1] for n in ("registry", "registry-storage", "registry-acr")} == {"amlregistry", "blob", "registry"}
    assert all(rule["type"] == "PrivateEndpoint" and rule["category"] == "UserDefined" for rule in rules.values())
    assert "firewallSku" not in workspace["managedNetwork"]  # no FQDN rule, no firewall
    # The workspace identity approves its managed endpoints (not automatic since April 2025).
    approvals = [r for r in record.of_type(t.ROLE_ASSIGNMENT) if r.name.startswith("workspace-approve-endpoints")]
    assert {a.inputs["principalId"] for a in approvals} == {record.one(WORKSPACE).outputs["identity"]["principalId"]}


def test_a_package_mirror_adds_fqdn_rules_and_a_basic_firewall():
    record = run_with("staging", workspace=json.dumps({"packageMirrorFqdns": ["pypi.org", "files.pythonhosted.org"]}))
    network = record.one(WORKSPACE).inputs["managedNetwork"]
    fqdn = {name: rule["destination"] for name, rule in network["outboundRules"].items() if rule["type"] == "FQDN"}
    assert fqdn == {"mirror-0": "pypi.org", "mirror-1": "files.pythonhosted.org"}
    assert network["firewallSku"] == "Basic"


@pytest.mark.parametrize("environment", PRIVATE)
def test_subnets_have_nsgs_delegations_and_nat_egress(stacks, environment):
    record = stacks[environment]
    subnets = {s["name"]: s for s in record.one(VNET).inputs["subnets"]}
    assert set(subnets) == {"snet-pe", "snet-func", "snet-runners"}
    nsgs = {n.outputs["id"] for n in record.of_type(NSG)}
    nat = record.one(t.NAT_GATEWAY).outputs["id"]
    for name, subnet in subnets.items():
        assert subnet["networkSecurityGroup"]["id"] in nsgs
        assert subnet["defaultOutboundAccess"] is False
        delegated = [d["serviceName"] for d in subnet.get("delegations", [])]
        assert delegated == (["Microsoft.App/environments"] if name != "snet-pe" else [])
        assert subnet.get("natGateway") == ({"id": nat} if name != "snet-pe" else None)
    assert subnets["snet-pe"]["privateEndpointNetworkPolicies"] == "Enabled"
    app = record.one(t.WEB_APP).inputs
    assert app["virtualNetworkSubnetId"].endswith("/subnets/snet-func")
    environment_ = record.one(t.CONTAINER_APPS_ENVIRONMENT).inputs
    assert environment_["vnetConfiguration"] == {"infrastructureSubnetId": record.one(VNET).outputs["id"] + "/subnets/snet-runners", "internal": True}


def test_hub_zones_are_resolved_by_the_hub_and_not_created():
    hub_zone = "/subscriptions/s1/resourceGroups/rg-hub/providers/Microsoft.Network/privateDnsZones/privatelink.vaultcore.azure.net"
    hub_vnet = "/subscriptions/s1/resourceGroups/rg-hub/providers/Microsoft.Network/virtualNetworks/vnet-hub"
    network = {"mode": "private", "addressSpace": "10.20.0.0/22",
               "hub": {"vnetId": hub_vnet, "privateDnsZones": {"privatelink.vaultcore.azure.net": hub_zone}, "dnsServers": ["10.0.0.4"]}}  # fmt: skip
    record = run_with("staging", network=json.dumps(network))
    assert "privatelink.vaultcore.azure.net" not in {z.inputs["privateZoneName"] for z in record.of_type(ZONE)}
    [vault_group] = [g for g in record.of_type(ZONE_GROUP) if g.name == "vault-pep-vault-dns"]
    assert vault_group.inputs["privateDnsZoneConfigs"] == [{"name": "privatelink-vaultcore-azure-net", "privateDnsZoneId": hub_zone}]
    vnet = record.one(VNET).inputs
    assert vnet["dhcpOptions"] == {"dnsServers": ["10.0.0.4"]}
    [peering] = record.of_type(t.VNET_PEERING)
    assert peering.inputs["remoteVirtualNetwork"] == {"id": hub_vnet} and peering.inputs["allowForwardedTraffic"] is True


def test_bastion_is_optional_and_gets_its_documented_nsg():
    record = run_with("staging", network=json.dumps({"mode": "private", "addressSpace": "10.20.0.0/22", "bastion": True}))
    subnets = {s["name"]: s for s in record.one(VNET).inputs["subnets"]}
    assert subnets["AzureBastionSubnet"]["addressPrefix"] == "10.20.1.128/26"  # the next aligned /26 after the runners
    [nsg] = [n for n in record.of_type(NSG) if n.name == "network-nsg-bastion"]
    inbound = {(r["sourceAddressPrefix"], r.get("destinationPortRange") or tuple(r["destinationPortRanges"])) for r in nsg.inputs["securityRules"] if r["direction"] == "Inbound"}
    assert inbound == {("Internet", "443"), ("GatewayManager", "443"), ("AzureLoadBalancer", "443"), ("VirtualNetwork", ("8080", "5701"))}
    [bastion] = record.of_type(t.BASTION_HOST)
    assert bastion.inputs["ipConfigurations"][0]["subnet"]["id"].endswith("/subnets/AzureBastionSubnet")


def test_runners_run_inside_the_network_with_their_own_identity(stacks, run_stack_with):
    record = stacks["staging"]
    assert record.outputs["runnerLabel"] == "mlops-staging" and stacks["dev"].outputs["runnerLabel"] is None
    assert record.of_type(t.CONTAINER_APPS_JOB) == []  # no token yet: bootstrap sets it, then the job exists
    with_token = run_stack_with("staging", runners=json.dumps({"githubOwner": "example-org", "repositories": ["mlops-platform"], "token": "ghp_x"}))
    [job] = with_token.of_type(t.CONTAINER_APPS_JOB)
    identity = with_token.named("runners-id").outputs
    config = job.inputs["configuration"]
    [rule] = config["eventTriggerConfig"]["scale"]["rules"]
    assert (rule["type"], rule["metadata"]["owner"], rule["metadata"]["repos"], rule["metadata"]["labels"]) == (
        "github-runner", "example-org", "mlops-platform", "mlops-staging")
    assert rule["auth"] == [{"secretRef": "personal-access-token", "triggerParameter": "personalAccessToken"}]
    [secret] = config["secrets"]
    vault = with_token.one(t.KEY_VAULT).outputs["properties"]["vaultUri"]
    assert secret == {"name": "personal-access-token", "keyVaultUrl": f"{vault}secrets/github-runner-token", "identity": identity["id"]}
    assert config["registries"] == [{"server": with_token.one(t.REGISTRY).outputs["loginServer"], "identity": identity["id"]}]
    token = with_token.one(t.KEY_VAULT_SECRET)
    assert token.urn in job.dependencies
    assert isinstance(token.inputs["properties"], Secret) and token.inputs["properties"].value["value"] == "ghp_x"
