"""Azure Machine Learning: workspace, compute cluster, online and batch endpoints and deployments."""

from pulumi_policy import Severity

from .base import COST, OPERATIONS, RELIABILITY, SECURITY, ResourceRule, at_least, expect, expect_setting, only_if
from .references import References
from .resource_types import BATCH_ENDPOINT, ML_COMPUTE, ML_WORKSPACE, ONLINE_DEPLOYMENT, ONLINE_ENDPOINT

WORKSPACE = (ML_WORKSPACE,)
AML_COMPUTE = ("properties.computeType", "AmlCompute")

ml_workspace_public_network = ResourceRule(
    name="ml-workspace-public-network-disabled",
    description="The ML workspace is not reachable from public networks.",
    types=WORKSPACE,
    check=expect("publicNetworkAccess", "Disabled", default="Enabled"),
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation='set public_network_access="Disabled" (stack config network.mode: private)',
    why="The workspace API should be reachable only through its private endpoint.",
    references=References(
        psrule="Azure.ML.PublicAccess",
        checkov="CKV2_AZURE_49",
        docs="https://learn.microsoft.com/azure/machine-learning/how-to-configure-private-link",
        note="The Terraform-only CKV_AZURE_144 was replaced by the ARM check CKV2_AZURE_49.",
    ),
)

ml_workspace_managed_network = ResourceRule(
    name="ml-workspace-managed-network",
    description="The ML workspace runs compute in a managed virtual network with outbound isolation.",
    types=WORKSPACE,
    check=expect("managedNetwork.isolationMode", "AllowOnlyApprovedOutbound", "AllowInternetOutbound", default="Disabled"),
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation="set stack config workspace.isolationMode: AllowOnlyApprovedOutbound",
    why="Without a managed network, compute runs outside any network isolation and cannot reach private resources.",
    references=References(docs="https://learn.microsoft.com/azure/machine-learning/how-to-managed-network"),
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

ml_deployment_egress = ResourceRule(
    name="ml-deployment-egress-disabled",
    description="Online deployments cannot reach public networks (egress through the workspace only).",
    types=(ONLINE_DEPLOYMENT,),
    check=expect("properties.egressPublicNetworkAccess", "Disabled", default="Enabled"),
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation='set properties.egress_public_network_access="Disabled" explicitly (the SDK default is Enabled)',
    why="A deployment with public egress can send data anywhere on the internet.",
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

