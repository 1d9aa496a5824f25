"""The one table of resource types the platform declares: each type's token (azure-native v3 modules), its ARM id
template and what the policies, the preview and the mocks need to know of it.

The pack runs in its own process and imports only pulumi-policy and its own modules, so the table lives here; the
preview (mlops/preview), the mock harness (mlops/mockrun.py) and the tests import it from here. A type string spelled
anywhere else is a copy that can drift: name the constant instead.

Per type, four facts, decided once:
- **stateful**: replacing or deleting it loses data (the preview's data-loss guard blocks that in protected stacks).
- **protected**: `protect`ed (and, but LOCK_EXEMPT, CanNotDelete-locked) outside dev, by the component that creates it
  (components/base.py `child(stateful=True)`); the pack's stateful-resources-protected / -locked check it. Every
  protected type is stateful. A blob container and an event hub are stateful but not protected on their own: they are
  children of a protected, locked account / namespace, whose lock they inherit (lock-resources, "Lock inheritance":
  https://learn.microsoft.com/azure/azure-resource-manager/management/lock-resources), and the data-loss guard blocks
  their replacement or deletion.
- **tracked**: a regional resource that carries tags and a location (the pack's required-tags and allowed-locations).
- **diagnostics**: emits resource logs, so a diagnostic setting must send them to Log Analytics
  (diagnostics-to-log-analytics); the setting names it by its ARM id (the template's last segment).
"""

from __future__ import annotations

from dataclasses import dataclass

RESOURCE_GROUP = "azure-native:resources:ResourceGroup"
LOG_ANALYTICS = "azure-native:operationalinsights:Workspace"
APP_INSIGHTS = "azure-native:applicationinsights:Component"
STORAGE_ACCOUNT = "azure-native:storage:StorageAccount"
BLOB_SERVICE = "azure-native:storage:BlobServiceProperties"
BLOB_CONTAINER = "azure-native:storage:BlobContainer"
STORAGE_MANAGEMENT_POLICY = "azure-native:storage:ManagementPolicy"
BLOB_IMMUTABILITY_POLICY = "azure-native:storage:BlobContainerImmutabilityPolicy"
KEY_VAULT = "azure-native:keyvault:Vault"
KEY_VAULT_SECRET = "azure-native:keyvault:Secret"
REGISTRY = "azure-native:containerregistry:Registry"
ML_WORKSPACE = "azure-native:machinelearningservices:Workspace"
ML_COMPUTE = "azure-native:machinelearningservices:Compute"
ML_ENVIRONMENT_VERSION = "azure-native:machinelearningservices:EnvironmentVersion"
ML_DATASTORE = "azure-native:machinelearningservices:Datastore"
ML_OUTBOUND_RULE = "azure-native:machinelearningservices:ManagedNetworkSettingsRule"
ML_REGISTRY = "azure-native:machinelearningservices:Registry"
ML_SCHEDULE = "azure-native:machinelearningservices:Schedule"
ONLINE_ENDPOINT = "azure-native:machinelearningservices:OnlineEndpoint"
ONLINE_DEPLOYMENT = "azure-native:machinelearningservices:OnlineDeployment"
BATCH_ENDPOINT = "azure-native:machinelearningservices:BatchEndpoint"
BATCH_DEPLOYMENT = "azure-native:machinelearningservices:BatchDeployment"
EVENTHUB_NAMESPACE = "azure-native:eventhub:Namespace"
EVENTHUB_RULE_SET = "azure-native:eventhub:NamespaceNetworkRuleSet"
EVENTHUB = "azure-native:eventhub:EventHub"
EVENTHUB_CONSUMER_GROUP = "azure-native:eventhub:ConsumerGroup"
IOT_HUB = "azure-native:iothub:IotHubResource"
IOT_DPS = "azure-native:deviceprovisioningservices:IotDpsResource"
USER_IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
MANAGEMENT_LOCK = "azure-native:authorization:ManagementLockByScope"
ACTION_GROUP = "azure-native:monitor:ActionGroup"
METRIC_ALERT = "azure-native:monitor:MetricAlert"
SCHEDULED_QUERY_RULE = "azure-native:monitor:ScheduledQueryRule"
DIAGNOSTIC_SETTING = "azure-native:monitor:DiagnosticSetting"
PRIVATE_LINK_SCOPE = "azure-native:monitor:PrivateLinkScope"
PRIVATE_LINK_SCOPED_RESOURCE = "azure-native:monitor:PrivateLinkScopedResource"
WEB_APP = "azure-native:web:WebApp"
APP_SERVICE_PLAN = "azure-native:web:AppServicePlan"
WEB_APP_SETTINGS = "azure-native:web:WebAppApplicationSettings"
FTP_PUBLISHING = "azure-native:web:WebAppFtpAllowed"
SCM_PUBLISHING = "azure-native:web:WebAppScmAllowed"
AUTH_SETTINGS_V2 = "azure-native:web:WebAppAuthSettingsV2"
VIRTUAL_NETWORK = "azure-native:network:VirtualNetwork"
NETWORK_SECURITY_GROUP = "azure-native:network:NetworkSecurityGroup"
PUBLIC_IP = "azure-native:network:PublicIPAddress"
NAT_GATEWAY = "azure-native:network:NatGateway"
BASTION_HOST = "azure-native:network:BastionHost"
VNET_PEERING = "azure-native:network:VirtualNetworkPeering"
PRIVATE_ENDPOINT = "azure-native:network:PrivateEndpoint"
DNS_ZONE_GROUP = "azure-native:network:PrivateDnsZoneGroup"
PRIVATE_DNS_ZONE = "azure-native:privatedns:PrivateZone"
DNS_ZONE_LINK = "azure-native:privatedns:VirtualNetworkLink"
CONTAINER_APPS_ENVIRONMENT = "azure-native:app:ManagedEnvironment"
CONTAINER_APPS_JOB = "azure-native:app:Job"
DATA_FACTORY = "azure-native:datafactory:Factory"
ADF_LINKED_SERVICE = "azure-native:datafactory:LinkedService"
ADF_DATASET = "azure-native:datafactory:Dataset"
ADF_PIPELINE = "azure-native:datafactory:Pipeline"
ADF_TRIGGER = "azure-native:datafactory:Trigger"
ADF_INTEGRATION_RUNTIME = "azure-native:datafactory:IntegrationRuntime"
ADF_MANAGED_PRIVATE_ENDPOINT = "azure-native:datafactory:ManagedPrivateEndpoint"
DYNAMIC = "pulumi-python:dynamic:Resource"
# Marker inputs (`kind`) of the follow-up settings (components/arm_settings.py): dynamic resources.
TRAFFIC_KIND = "mlops:endpoint-traffic"
BATCH_DEFAULT_KIND = "mlops:batch-default-deployment"
IOT_ROUTING_KIND = "mlops:iothub-routing"
ADF_MANAGED_VNET_KIND = "mlops:datafactory-managed-vnet"  # a child resource the program PUTs (arm_settings.ArmChild)
EDGE_DEPLOYMENT_KIND = "mlops:iot-edge-deployment"  # components/edge_deployments.py


@dataclass(frozen=True)
class ResourceType:
    """One resource type: its token, its ARM id template and the per-type facts of the module docstring."""

    token: str
    """The Pulumi type token (`azure-native:<module>:<Type>`)."""
    arm_id: str | None = None
    """The ARM id template; placeholders are input keys, `{sub}` the subscription. None: the mocks make one up."""
    stateful: bool = False
    """Replacing or deleting it loses data."""
    protected: bool = False
    """Protected and locked outside dev by the component that creates it."""
    tracked: bool = False
    """A regional resource: carries tags and a location."""
    diagnostics: bool = False
    """Emits resource logs that a diagnostic setting sends to Log Analytics."""

    def __post_init__(self) -> None:
        if self.protected and not self.stateful:
            raise ValueError(f"{self.token}: a protected type is stateful")
        if self.diagnostics and not self.arm_id:
            raise ValueError(f"{self.token}: a log source needs its ARM id template (diagnostic settings name it by id)")


_RG = "/subscriptions/{sub}/resourceGroups/{resourceGroupName}"
_MLW = _RG + "/providers/Microsoft.MachineLearningServices/workspaces/{workspaceName}"
_EVH = _RG + "/providers/Microsoft.EventHub/namespaces/{namespaceName}"
_ST = _RG + "/providers/Microsoft.Storage/storageAccounts/{accountName}"
_NET = _RG + "/providers/Microsoft.Network"
_ADF = _RG + "/providers/Microsoft.DataFactory/factories/{factoryName}"
_SITE = _RG + "/providers/Microsoft.Web/sites/{name}"
_INSIGHTS = _RG + "/providers/Microsoft.Insights"

_T = ResourceType
TABLE: tuple[ResourceType, ...] = (
    _T(RESOURCE_GROUP, _RG, tracked=True),
    _T(LOG_ANALYTICS, _RG + "/providers/Microsoft.OperationalInsights/workspaces/{workspaceName}", tracked=True),
    _T(APP_INSIGHTS, _INSIGHTS + "/components/{resourceName}", tracked=True),
    _T(STORAGE_ACCOUNT, _ST, stateful=True, protected=True, tracked=True, diagnostics=True),
    _T(BLOB_SERVICE, _ST + "/blobServices/default"),
    _T(BLOB_CONTAINER, _ST + "/blobServices/default/containers/{containerName}", stateful=True),
    _T(STORAGE_MANAGEMENT_POLICY, _ST + "/managementPolicies/default"),
    _T(BLOB_IMMUTABILITY_POLICY, _ST + "/blobServices/default/containers/{containerName}/immutabilityPolicies/{immutabilityPolicyName}"),
    _T(KEY_VAULT, _RG + "/providers/Microsoft.KeyVault/vaults/{vaultName}", stateful=True, protected=True, tracked=True, diagnostics=True),
    _T(KEY_VAULT_SECRET, _RG + "/providers/Microsoft.KeyVault/vaults/{vaultName}/secrets/{secretName}"),
    _T(REGISTRY, _RG + "/providers/Microsoft.ContainerRegistry/registries/{registryName}", stateful=True, protected=True,
       tracked=True, diagnostics=True),
    _T(ML_WORKSPACE, _MLW, stateful=True, protected=True, tracked=True, diagnostics=True),
    _T(ML_COMPUTE, _MLW + "/computes/{computeName}", tracked=True),
    _T(ML_ENVIRONMENT_VERSION, _MLW + "/environments/{name}/versions/{version}"),
    _T(ML_DATASTORE, _MLW + "/datastores/{name}"),
    _T(ML_OUTBOUND_RULE),
    _T(ML_REGISTRY, _RG + "/providers/Microsoft.MachineLearningServices/registries/{registryName}", stateful=True, protected=True),
    _T(ML_SCHEDULE),
    _T(ONLINE_ENDPOINT, _MLW + "/onlineEndpoints/{endpointName}", tracked=True, diagnostics=True),
    _T(ONLINE_DEPLOYMENT, _MLW + "/onlineEndpoints/{endpointName}/deployments/{deploymentName}", tracked=True),
    _T(BATCH_ENDPOINT, _MLW + "/batchEndpoints/{endpointName}", tracked=True),
    _T(BATCH_DEPLOYMENT, _MLW + "/batchEndpoints/{endpointName}/deployments/{deploymentName}", tracked=True),
    _T(EVENTHUB_NAMESPACE, _EVH, stateful=True, protected=True, tracked=True, diagnostics=True),
    _T(EVENTHUB_RULE_SET, _EVH + "/networkRuleSets/default"),
    _T(EVENTHUB, _EVH + "/eventhubs/{eventHubName}", stateful=True),
    _T(EVENTHUB_CONSUMER_GROUP, _EVH + "/eventhubs/{eventHubName}/consumergroups/{consumerGroupName}"),
    _T(IOT_HUB, _RG + "/providers/Microsoft.Devices/IotHubs/{resourceName}", stateful=True, protected=True, tracked=True,
       diagnostics=True),
    # Its enrollments and linked hubs are data: a new service starts without them.
    _T(IOT_DPS, _RG + "/providers/Microsoft.Devices/provisioningServices/{provisioningServiceName}", stateful=True,
       protected=True, tracked=True),
    _T(USER_IDENTITY, _RG + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{resourceName}", tracked=True),
    _T(ROLE_ASSIGNMENT, "{scope}/providers/Microsoft.Authorization/roleAssignments/{roleAssignmentName}"),
    _T(MANAGEMENT_LOCK, "{scope}/providers/Microsoft.Authorization/locks/{lockName}"),
    _T(ACTION_GROUP, _INSIGHTS + "/actionGroups/{actionGroupName}", tracked=True),
    _T(METRIC_ALERT, _INSIGHTS + "/metricAlerts/{ruleName}", tracked=True),
    _T(SCHEDULED_QUERY_RULE, _INSIGHTS + "/scheduledQueryRules/{ruleName}", tracked=True),
    _T(DIAGNOSTIC_SETTING, "{resourceUri}/providers/Microsoft.Insights/diagnosticSettings/{name}"),
    _T(PRIVATE_LINK_SCOPE, _INSIGHTS + "/privateLinkScopes/{scopeName}"),
    _T(PRIVATE_LINK_SCOPED_RESOURCE, _INSIGHTS + "/privateLinkScopes/{scopeName}/scopedResources/{name}"),
    _T(WEB_APP, _SITE, tracked=True),
    _T(APP_SERVICE_PLAN, _RG + "/providers/Microsoft.Web/serverfarms/{name}", tracked=True),
    _T(WEB_APP_SETTINGS, _SITE + "/config/appsettings"),
    _T(FTP_PUBLISHING, _SITE + "/basicPublishingCredentialsPolicies/ftp"),
    _T(SCM_PUBLISHING, _SITE + "/basicPublishingCredentialsPolicies/scm"),
    _T(AUTH_SETTINGS_V2),
    _T(VIRTUAL_NETWORK, _NET + "/virtualNetworks/{virtualNetworkName}"),
    _T(NETWORK_SECURITY_GROUP, _NET + "/networkSecurityGroups/{networkSecurityGroupName}"),
    _T(PUBLIC_IP, _NET + "/publicIPAddresses/{publicIpAddressName}"),
    _T(NAT_GATEWAY, _NET + "/natGateways/{natGatewayName}"),
    _T(BASTION_HOST, _NET + "/bastionHosts/{bastionHostName}"),
    _T(VNET_PEERING, _NET + "/virtualNetworks/{virtualNetworkName}/virtualNetworkPeerings/{virtualNetworkPeeringName}"),
    _T(PRIVATE_ENDPOINT, _NET + "/privateEndpoints/{privateEndpointName}"),
    _T(DNS_ZONE_GROUP, _NET + "/privateEndpoints/{privateEndpointName}/privateDnsZoneGroups/{privateDnsZoneGroupName}"),
    _T(PRIVATE_DNS_ZONE, _NET + "/privateDnsZones/{privateZoneName}"),
    _T(DNS_ZONE_LINK, _NET + "/privateDnsZones/{privateZoneName}/virtualNetworkLinks/{virtualNetworkLinkName}"),
    _T(CONTAINER_APPS_ENVIRONMENT, _RG + "/providers/Microsoft.App/managedEnvironments/{environmentName}"),
    _T(CONTAINER_APPS_JOB, _RG + "/providers/Microsoft.App/jobs/{jobName}"),
    _T(DATA_FACTORY, _ADF, tracked=True),
    _T(ADF_LINKED_SERVICE, _ADF + "/linkedservices/{linkedServiceName}"),
    _T(ADF_DATASET, _ADF + "/datasets/{datasetName}"),
    _T(ADF_PIPELINE, _ADF + "/pipelines/{pipelineName}"),
    _T(ADF_TRIGGER, _ADF + "/triggers/{triggerName}"),
    _T(ADF_INTEGRATION_RUNTIME, _ADF + "/integrationruntimes/{integrationRuntimeName}"),
    _T(ADF_MANAGED_PRIVATE_ENDPOINT, _ADF + "/managedVirtualNetworks/{managedVirtualNetworkName}/managedPrivateEndpoints/{managedPrivateEndpointName}"),
    _T(DYNAMIC),  # the follow-up settings and the edge deployments: told apart by their `kind` marker
)
TYPES: dict[str, ResourceType] = {entry.token: entry for entry in TABLE}


def _where(flag: str) -> tuple[str, ...]:
    return tuple(entry.token for entry in TABLE if getattr(entry, flag))


STATEFUL = _where("stateful")  # the preview's data-loss guard
PROTECTED = _where("protected")  # stateful-resources-protected (and -locked, but its exemptions)
TRACKED = _where("tracked")  # required tags, allowed locations
LOG_SOURCES = _where("diagnostics")  # diagnostics-to-log-analytics
ARM_IDS: dict[str, str] = {entry.token: entry.arm_id for entry in TABLE if entry.arm_id}  # the mocks' ids, the preview's identity keys
ALERTS = (METRIC_ALERT, SCHEDULED_QUERY_RULE)


def is_stateful(type_: str) -> bool:
    """Whether replacing or deleting a resource of this type loses data (unknown types: no)."""
    entry = TYPES.get(type_)
    return entry is not None and entry.stateful
