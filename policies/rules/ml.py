"""Azure Machine Learning: workspace, compute cluster, online and batch endpoints and deployments."""

from collections.abc import Mapping
from typing import Any

from pulumi_policy import Severity

from .base import (
    COST,
    NOT_APPLICABLE,
    OPERATIONS,
    RELIABILITY,
    SECURITY,
    ResourceRule,
    Settings,
    all_of,
    at_least,
    conditional,
    expect,
    expect_setting,
    only_if,
    string_list,
)
from .references import References
from .resource_types import (
    BATCH_ENDPOINT,
    ML_COMPUTE,
    ML_OUTBOUND_RULE,
    ML_WORKSPACE,
    ONLINE_DEPLOYMENT,
    ONLINE_ENDPOINT,
)
from .values import as_text, get, items, same

WORKSPACE = (ML_WORKSPACE,)
AML_COMPUTE = ("properties.computeType", "AmlCompute")

MANAGED_NETWORK_SOURCE = "https://learn.microsoft.com/azure/machine-learning/how-to-managed-network"

ml_workspace_public_network = ResourceRule(
    name="ml-workspace-public-network-disabled",
    description="The ML workspace is not reachable from public networks, not even through the legacy behind-VNet flag.",
    types=WORKSPACE,
    # allowPublicAccessWhenBehindVnet (the v1 flag) opens a workspace behind private endpoints to public networks.
    check=all_of(
        expect("publicNetworkAccess", "Disabled", default="Enabled"),
        expect("allowPublicAccessWhenBehindVnet", False, default=False),
    ),
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation='set public_network_access="Disabled" and allow_public_access_when_behind_vnet=False (stack config network.mode: private)',
    why="The workspace API should be reachable only through its private endpoint.",
    references=References(
        psrule="Azure.ML.PublicAccess",
        checkov="CKV2_AZURE_49",
        docs="https://learn.microsoft.com/azure/machine-learning/how-to-configure-private-link",
        note="The Terraform-only CKV_AZURE_144 was replaced by the ARM check CKV2_AZURE_49.",
    ),
)

def _isolation_mode(props: Mapping[str, Any], settings: Settings) -> list[str]:
    allowed = tuple(mode for mode in items(settings["allowedIsolationModes"]) if isinstance(mode, str))
    return expect("managedNetwork.isolationMode", *allowed, default="Disabled")(props, settings) if allowed else []


ml_workspace_managed_network = ResourceRule(
    name="ml-workspace-managed-network",
    description="The ML workspace's managed network isolates outbound traffic as the environment requires "
    "(it governs online deployments' egress too).",
    types=WORKSPACE,
    check=_isolation_mode,
    config={
        "allowedIsolationModes": {
            "type": "array",
            "items": {"type": "string", "enum": ["Disabled", "AllowInternetOutbound", "AllowOnlyApprovedOutbound"]},
            "default": ["AllowOnlyApprovedOutbound"],
            "description": "Managed network isolation modes this environment accepts.",
        }
    },
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation="set stack config workspace.isolationMode: AllowOnlyApprovedOutbound",
    why="Without a managed network, compute runs outside any network isolation and cannot reach private resources.",
    references=References(docs=MANAGED_NETWORK_SOURCE),
)


def _fqdn_destinations(resource_type_props: Mapping[str, Any]) -> list[str] | None:
    """The FQDN outbound rules' destinations of a workspace (`managedNetwork.outboundRules`) or of one
    ManagedNetworkSettingsRule (`properties`); None when it has no FQDN rule."""
    outbound = get(resource_type_props, "managedNetwork.outboundRules")
    rules = list(outbound.values()) if isinstance(outbound, Mapping) else [get(resource_type_props, "properties")]
    found = [as_text(get(rule, "destination")) for rule in rules if isinstance(rule, Mapping) and same(get(rule, "type"), "FQDN")]
    return [d for d in found if isinstance(d, str)] if found else None


@conditional
def _fqdns_allowed(props: Mapping[str, Any], settings: Settings) -> list[str]:
    destinations = _fqdn_destinations(props)
    if destinations is None:
        return NOT_APPLICABLE  # no FQDN outbound rule (private-endpoint and service-tag rules only)
    allowed = {host.lower() for host in items(settings["allowedFqdns"]) if isinstance(host, str)}
    extra = sorted({d for d in destinations if d.lower() not in allowed})
    if extra:
        listed = ", ".join(sorted(allowed)) or "none"
        return [f"the managed network has FQDN outbound rules to {', '.join(map(repr, extra))}; allowedFqdns names {listed}"]
    return []


ml_workspace_outbound_fqdns = ResourceRule(
    name="ml-workspace-outbound-fqdn-allowed",
    description="The workspace's managed network has FQDN outbound rules only to the hosts the environment allows (its package mirror).",
    types=(ML_WORKSPACE, ML_OUTBOUND_RULE),
    check=_fqdns_allowed,
    config={
        "allowedFqdns": string_list(
            "Hosts FQDN outbound rules may reach: the stack config's workspace.packageMirrorFqdns (a test keeps both equal)."
        )
    },
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation="set stack config workspace.packageMirrorFqdns and allowedFqdns in policies/config/<env>.json to the same hosts",
    why="An FQDN rule opens the managed network to a public host; only the environment's package mirror should be one.",
    references=References(docs=MANAGED_NETWORK_SOURCE),
)

ml_workspace_identity_datastores = ResourceRule(
    name="ml-workspace-identity-datastores",
    description="The workspace's system datastores authenticate with its identity, not storage keys.",
    types=WORKSPACE,
    check=expect("systemDatastoresAuthMode", "Identity", default="accessKey"),
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation='set system_datastores_auth_mode="Identity"',
    why=(
        "Key-based system datastores need storage account keys, which shared key off rejects; identity-based ones use "
        "roles."
    ),
    references=References(
        docs="https://learn.microsoft.com/azure/machine-learning/how-to-disable-local-auth-storage",
    ),
)

ml_workspace_managed_identity = ResourceRule(
    name="ml-workspace-managed-identity",
    description="The ML workspace has a managed identity to reach storage, Key Vault and the registry.",
    types=WORKSPACE,
    check=expect(
        "identity.type", "SystemAssigned", "UserAssigned", "SystemAssigned,UserAssigned", "SystemAssigned, UserAssigned"
    ),
    severity=Severity.MEDIUM,
    pillar=SECURITY,
    remediation='set identity=ManagedServiceIdentityArgs(type="SystemAssigned")',
    why="The workspace reaches its storage, vault and registry as an identity with roles, not with keys.",
    references=References(
        docs="https://learn.microsoft.com/azure/machine-learning/how-to-identity-based-service-authentication",
    ),
)

ml_compute_local_auth = ResourceRule(
    name="ml-compute-local-auth-disabled",
    description="ML compute accepts only Entra ID authentication (no local keys).",
    types=(ML_COMPUTE,),
    check=only_if(*AML_COMPUTE, then=expect("properties.disableLocalAuth", True, default=False)),
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation="set properties.disable_local_auth=True on the compute",
    why="Local authentication gives compute access with keys instead of Entra ID identities.",
    references=References(
        psrule="Azure.ML.DisableLocalAuth",
        docs="https://learn.microsoft.com/azure/machine-learning/how-to-integrate-azure-policy",
        note="CKV_AZURE_142 exists only among Checkov's Terraform checks.",
    ),
)

ml_compute_scale_to_zero = ResourceRule(
    name="ml-compute-scale-to-zero",
    description="Compute clusters scale down to zero nodes when idle.",
    types=(ML_COMPUTE,),
    check=only_if(*AML_COMPUTE, then=expect("properties.properties.scaleSettings.minNodeCount", 0, default=0)),
    severity=Severity.LOW,
    pillar=COST,
    remediation="set stack config compute.minNodes: 0",
    why="A cluster that keeps a minimum of nodes bills for them while no job runs.",
    references=References(
        docs="https://learn.microsoft.com/azure/machine-learning/how-to-create-attach-compute-cluster",
        note="CKV_AZURE_150 exists only among Checkov's Terraform checks.",
    ),
)

ml_compute_no_public_ip = ResourceRule(
    name="ml-compute-no-public-ip",
    description="Compute cluster nodes have no public IP addresses.",
    types=(ML_COMPUTE,),
    check=only_if(*AML_COMPUTE, then=expect("properties.properties.enableNodePublicIp", False, default=True)),
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation="set stack config compute.nodePublicIp: false (needs workspace.isolationMode other than Disabled)",
    why="Nodes with public IPs are reachable from the internet.",
    references=References(
        docs=(
            "https://learn.microsoft.com/azure/machine-learning/how-to-managed-network",
            "https://learn.microsoft.com/azure/machine-learning/how-to-secure-training-vnet",
        ),
    ),
)

ml_compute_ssh_disabled = ResourceRule(
    name="ml-compute-ssh-disabled",
    description="The SSH port of compute cluster nodes is closed to public access.",
    types=(ML_COMPUTE,),
    check=only_if(
        *AML_COMPUTE,
        then=expect("properties.properties.remoteLoginPortPublicAccess", "Disabled", default="NotSpecified"),
    ),
    severity=Severity.MEDIUM,
    pillar=SECURITY,
    remediation='set properties.properties.remote_login_port_public_access="Disabled"',
    why="An open SSH port on training nodes is an inbound path from the internet.",
    references=References(
        docs="https://learn.microsoft.com/azure/machine-learning/how-to-create-attach-compute-cluster",
    ),
)

ml_endpoint_auth_mode = ResourceRule(
    name="ml-endpoint-token-auth",
    description="Online endpoints authenticate callers with tokens (Entra ID), never with static keys.",
    types=(ONLINE_ENDPOINT,),
    check=expect_setting("properties.authMode", "allowedAuthModes"),
    config={
        "allowedAuthModes": {
            "type": "array",
            "items": {"type": "string", "enum": ["AADToken", "AMLToken", "Key"]},
            "default": ["AADToken"],
            "description": "Auth modes this environment accepts.",
        }
    },
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation='set properties.auth_mode="AADToken" and grant callers the endpoint scoring role',
    why=(
        "Key authentication uses long-lived shared keys; token auth ties every call to an Entra ID identity (or a "
        "short-lived Azure ML token where the environment allows it)."
    ),
    references=References(
        docs="https://learn.microsoft.com/azure/machine-learning/how-to-authenticate-online-endpoint",
    ),
)

ml_endpoint_public_network = ResourceRule(
    name="ml-endpoint-public-network-disabled",
    description="Online endpoints are not reachable from public networks.",
    types=(ONLINE_ENDPOINT,),
    check=expect("properties.publicNetworkAccess", "Disabled", default="Enabled"),
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation='set properties.public_network_access="Disabled" (stack config network.mode: private)',
    why="Scoring should be reachable only through the workspace's private endpoint.",
    references=References(docs="https://learn.microsoft.com/azure/machine-learning/how-to-secure-online-endpoint"),
)

ml_deployment_min_instances = ResourceRule(
    name="ml-deployment-min-instances",
    description="Online deployments run at least the environment's minimum number of instances.",
    types=(ONLINE_DEPLOYMENT,),
    check=at_least("sku.capacity", "minInstances", default=1),
    config={"minInstances": {"type": "number", "minimum": 1, "default": 2, "description": "Instances per deployment."}},
    severity=Severity.MEDIUM,
    pillar=RELIABILITY,
    remediation="set the deployment's instance_count (sku.capacity) to at least minInstances in the serving config",
    why="A single instance means downtime at every restart or node upgrade.",
    references=References(docs="https://learn.microsoft.com/azure/machine-learning/how-to-deploy-online-endpoints"),
)

ml_deployment_app_insights = ResourceRule(
    name="ml-deployment-app-insights",
    description="Online deployments send request telemetry to Application Insights.",
    types=(ONLINE_DEPLOYMENT,),
    check=expect("properties.appInsightsEnabled", True, default=False),
    severity=Severity.LOW,
    pillar=OPERATIONS,
    remediation="set properties.app_insights_enabled=True on the deployment",
    why="Without Application Insights the deployment's requests, failures and latency are not recorded.",
    references=References(docs="https://learn.microsoft.com/azure/machine-learning/how-to-monitor-online-endpoints"),
)

ml_batch_endpoint_auth = ResourceRule(
    name="ml-batch-endpoint-aad-auth",
    description="Batch endpoints authenticate callers with Entra ID tokens.",
    types=(BATCH_ENDPOINT,),
    check=expect("properties.authMode", "AADToken", default="AADToken"),
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation='set properties.auth_mode="AADToken" on the batch endpoint',
    why="Batch endpoints that accept keys can be invoked by anyone holding one.",
    references=References(
        docs="https://learn.microsoft.com/azure/machine-learning/how-to-authenticate-batch-endpoint",
    ),
)

