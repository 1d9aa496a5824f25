"""Resource type tokens the rules look at, named once (azure-native v3 modules)."""

RESOURCE_GROUP = "azure-native:resources:ResourceGroup"
LOG_ANALYTICS = "azure-native:operationalinsights:Workspace"
APP_INSIGHTS = "azure-native:applicationinsights:Component"
STORAGE_ACCOUNT = "azure-native:storage:StorageAccount"
BLOB_SERVICE = "azure-native:storage:BlobServiceProperties"
BLOB_CONTAINER = "azure-native:storage:BlobContainer"
KEY_VAULT = "azure-native:keyvault:Vault"
KEY_VAULT_SECRET = "azure-native:keyvault:Secret"
REGISTRY = "azure-native:containerregistry:Registry"
ML_WORKSPACE = "azure-native:machinelearningservices:Workspace"
ML_COMPUTE = "azure-native:machinelearningservices:Compute"
ONLINE_ENDPOINT = "azure-native:machinelearningservices:OnlineEndpoint"
ONLINE_DEPLOYMENT = "azure-native:machinelearningservices:OnlineDeployment"
BATCH_ENDPOINT = "azure-native:machinelearningservices:BatchEndpoint"
BATCH_DEPLOYMENT = "azure-native:machinelearningservices:BatchDeployment"
EVENTHUB_NAMESPACE = "azure-native:eventhub:Namespace"
EVENTHUB_RULE_SET = "azure-native:eventhub:NamespaceNetworkRuleSet"
EVENTHUB = "azure-native:eventhub:EventHub"
IOT_HUB = "azure-native:iothub:IotHubResource"
IOT_DPS = "azure-native:deviceprovisioningservices:IotDpsResource"
USER_IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
ACTION_GROUP = "azure-native:monitor:ActionGroup"
METRIC_ALERT = "azure-native:monitor:MetricAlert"
SCHEDULED_QUERY_RULE = "azure-native:monitor:ScheduledQueryRule"
DIAGNOSTIC_SETTING = "azure-native:monitor:DiagnosticSetting"
WEB_APP = "azure-native:web:WebApp"
APP_SERVICE_PLAN = "azure-native:web:AppServicePlan"
FTP_PUBLISHING = "azure-native:web:WebAppFtpAllowed"
SCM_PUBLISHING = "azure-native:web:WebAppScmAllowed"
AUTH_SETTINGS_V2 = "azure-native:web:WebAppAuthSettingsV2"
DYNAMIC = "pulumi-python:dynamic:Resource"
MANAGEMENT_LOCK = "azure-native:authorization:ManagementLockByScope"
VIRTUAL_NETWORK = "azure-native:network:VirtualNetwork"
PRIVATE_ENDPOINT = "azure-native:network:PrivateEndpoint"
DNS_ZONE_GROUP = "azure-native:network:PrivateDnsZoneGroup"
PRIVATE_DNS_ZONE = "azure-native:privatedns:PrivateZone"
DNS_ZONE_LINK = "azure-native:privatedns:VirtualNetworkLink"
PRIVATE_LINK_SCOPE = "azure-native:monitor:PrivateLinkScope"
PRIVATE_LINK_SCOPED_RESOURCE = "azure-native:monitor:PrivateLinkScopedResource"
CONTAINER_APPS_ENVIRONMENT = "azure-native:app:ManagedEnvironment"
CONTAINER_APPS_JOB = "azure-native:app:Job"
ML_DATASTORE = "azure-native:machinelearningservices:Datastore"
ML_REGISTRY = "azure-native:machinelearningservices:Registry"
ML_OUTBOUND_RULE = "azure-native:machinelearningservices:ManagedNetworkSettingsRule"
BLOB_IMMUTABILITY_POLICY = "azure-native:storage:BlobContainerImmutabilityPolicy"
DATA_FACTORY = "azure-native:datafactory:Factory"
ADF_LINKED_SERVICE = "azure-native:datafactory:LinkedService"
ADF_INTEGRATION_RUNTIME = "azure-native:datafactory:IntegrationRuntime"
ADF_MANAGED_PRIVATE_ENDPOINT = "azure-native:datafactory:ManagedPrivateEndpoint"
# Marker inputs (`kind`) of the follow-up settings (components/arm_settings.py): dynamic resources.
TRAFFIC_KIND = "mlops:endpoint-traffic"
BATCH_DEFAULT_KIND = "mlops:batch-default-deployment"
IOT_ROUTING_KIND = "mlops:iothub-routing"
ADF_MANAGED_VNET_KIND = "mlops:datafactory-managed-vnet"  # a child resource the program PUTs (arm_settings.ArmChild)
EDGE_DEPLOYMENT_KIND = "mlops:iot-edge-deployment"  # components/edge_deployments.py

ALERTS = (METRIC_ALERT, SCHEDULED_QUERY_RULE)

# Tracked (regional) resources: they carry tags and a location.
TRACKED = (
    RESOURCE_GROUP,
    LOG_ANALYTICS,
    APP_INSIGHTS,
    STORAGE_ACCOUNT,
    KEY_VAULT,
    REGISTRY,
    ML_WORKSPACE,
    ML_COMPUTE,
    ONLINE_ENDPOINT,
    ONLINE_DEPLOYMENT,
    BATCH_ENDPOINT,
    BATCH_DEPLOYMENT,
    EVENTHUB_NAMESPACE,
    IOT_HUB,
    IOT_DPS,
    USER_IDENTITY,
    ACTION_GROUP,
    METRIC_ALERT,
    SCHEDULED_QUERY_RULE,
    WEB_APP,
    APP_SERVICE_PLAN,
    DATA_FACTORY,
)

# Stateful resources: losing one loses data or identity; protected (and, but the ML workspace, locked) outside dev.
STATEFUL = (STORAGE_ACCOUNT, KEY_VAULT, REGISTRY, ML_WORKSPACE, ML_REGISTRY, EVENTHUB_NAMESPACE, IOT_HUB, IOT_DPS)
