"""Compliant resources, one per type the rules look at (shapes as the platform records them), and edits."""

from __future__ import annotations

import copy
from typing import Any

from components.edge_manifest import Registry, ScoringRelease, base_manifest, configuration_id, layered_manifest
from policies.rules import resource_types as t

SUB = "/subscriptions/00000000-0000-0000-0000-000000000000"
RG = f"{SUB}/resourceGroups/rg-mlops-prd-weu"
WORKSPACE_ID = f"{RG}/providers/Microsoft.MachineLearningServices/workspaces/mlw-mlops-prd-weu"
LOG_ID = f"{RG}/providers/Microsoft.OperationalInsights/workspaces/log-mlops-prd-weu"
ACTION_GROUP_ID = f"{RG}/providers/Microsoft.Insights/actionGroups/ag-mlops-prd-weu"
BLOB_DATA_READER = f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
TAGS = {"environment": "prod", "workload": "mlops", "owner": "ml-team", "cost-center": "cc-1", "managed-by": "pulumi"}
PLACE = {"location": "westeurope", "tags": TAGS, "resourceGroupName": "rg-mlops-prd-weu"}
DELETE = object()  # an edit that removes the key

# IoT Edge deployments as components/edge.py records them, with manifests from the real generator.
LOGIN_SERVER = "crmlopsprdweu7f66.azurecr.io"
MODEL_SHA256 = "5e" * 32  # the version's onnx_sha256 tag
LAYERED = {"modulesContent": layered_manifest(ScoringRelease(LOGIN_SERVER, "0.1.0", "predictive-maintenance", "3", MODEL_SHA256))}
BASE = {"modulesContent": base_manifest(Registry(LOGIN_SERVER, "edge-pull", "[secret]"))}


def edge_deployment(stage: str, content: dict[str, Any], condition: str, priority: float, **described: Any) -> dict[str, Any]:
    return {
        "kind": t.EDGE_DEPLOYMENT_KIND,
        "hubHostName": "iot-mlops-prd-weu.azure-devices.net",
        "configurationId": configuration_id("mlops-prod", stage, content),
        "content": content,
        "targetCondition": condition,
        "priority": priority,
        "labels": {"mlops-stage": stage},
        "stage": stage,
        "registryLoginServer": LOGIN_SERVER,
        **described,
    }


FLEET = edge_deployment("fleet", LAYERED, "tags.environment='prod'", 10.0, model="predictive-maintenance:3",
                        image=f"{LOGIN_SERVER}/mlops/edge:0.1.0", verifiedOnCanary="predictive-maintenance:3")  # fmt: skip
EDGE_BASE = edge_deployment("base", BASE, "tags.environment='prod'", 0.0)


def with_module(content: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A copy of a manifest with one value set; `path` walks the manifest's own keys (which contain dots)."""
    changed = copy.deepcopy(content)
    node = changed
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return changed


SCORER = ("modulesContent", "$edgeAgent", "properties.desired.modules.scorer", "settings")
HOST_ACCESS = {option: with_module(LAYERED, (*SCORER, "createOptions"), f'{{"HostConfig":{{{option}}}}}')
               for option in ('"Privileged":true', '"NetworkMode":"host"', '"CapAdd":["SYS_ADMIN"]')}  # fmt: skip
FLOATING_RUNTIME = with_module(BASE, ("modulesContent", "$edgeAgent", "properties.desired", "systemModules", "edgeHub", "settings", "image"),
                               "mcr.microsoft.com/azureiotedge-hub:latest")  # fmt: skip

COMPLIANT: dict[str, dict[str, Any]] = {
    t.RESOURCE_GROUP: {"resourceGroupName": "rg-mlops-prd-weu", "location": "westeurope", "tags": TAGS},
    t.STORAGE_ACCOUNT: {
        **PLACE,
        "accountName": "stmlopsprdweu7f66",
        "kind": "StorageV2",
        "sku": {"name": "Standard_ZRS"},
        "allowBlobPublicAccess": False,
        "allowSharedKeyAccess": False,
        "allowCrossTenantReplication": False,
        "defaultToOAuthAuthentication": True,
        "enableHttpsTrafficOnly": True,
        "minimumTlsVersion": "TLS1_2",
        "publicNetworkAccess": "Disabled",
        "networkRuleSet": {"defaultAction": "Deny", "bypass": "AzureServices"},
        "encryption": {"requireInfrastructureEncryption": True},
    },
    t.BLOB_SERVICE: {
        "accountName": "stmlopsprdweu7f66",
        "blobServicesName": "default",
        "deleteRetentionPolicy": {"enabled": True, "days": 30.0},
        "containerDeleteRetentionPolicy": {"enabled": True, "days": 30.0},
    },
    t.BLOB_CONTAINER: {"accountName": "stmlopsprdweu7f66", "containerName": "raw", "publicAccess": "None"},
    t.KEY_VAULT: {
        **PLACE,
        "vaultName": "kv-mlops-prd-weu-7f66",
        "properties": {
            "tenantId": "11111111-1111-1111-1111-111111111111",
            "sku": {"family": "A", "name": "standard"},
            "enableRbacAuthorization": True,
            "enableSoftDelete": True,
            "softDeleteRetentionInDays": 90.0,
            "enablePurgeProtection": True,
            "publicNetworkAccess": "Disabled",
            "networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices"},
        },
    },
    t.REGISTRY: {
        **PLACE,
        "registryName": "crmlopsprdweu7f66",
        "sku": {"name": "Premium"},
        "adminUserEnabled": False,
        "anonymousPullEnabled": False,
        "publicNetworkAccess": "Disabled",
        "zoneRedundancy": "Enabled",
        "policies": {"retentionPolicy": {"days": 30.0, "status": "enabled"}, "exportPolicy": {"status": "disabled"}},
    },
    t.ML_WORKSPACE: {
        **PLACE,
        "workspaceName": "mlw-mlops-prd-weu",
        "identity": {"type": "SystemAssigned"},
        "publicNetworkAccess": "Disabled",
        "allowPublicAccessWhenBehindVnet": False,
        "managedNetwork": {"isolationMode": "AllowOnlyApprovedOutbound"},
        "provisionNetworkNow": True,
        "imageBuildCompute": "mlc-cpu-prd",
        "systemDatastoresAuthMode": "Identity",
    },
    t.ML_OUTBOUND_RULE: {
        "resourceGroupName": "rg-mlops-prd-weu",
        "workspaceName": "mlw-mlops-prd-weu",
        "ruleName": "lake-blob",
        "properties": {
            "type": "PrivateEndpoint",
            "category": "UserDefined",
            "destination": {"serviceResourceId": f"{RG}/providers/Microsoft.Storage/storageAccounts/st", "subresourceTarget": "blob"},
        },
    },
    t.ML_COMPUTE: {
        **PLACE,
        "computeName": "mlc-cpu-prd",
        "properties": {
            "computeType": "AmlCompute",
            "disableLocalAuth": True,
            "properties": {
                "vmSize": "Standard_DS3_v2",
                "enableNodePublicIp": False,
                "remoteLoginPortPublicAccess": "Disabled",
                "scaleSettings": {"minNodeCount": 0.0, "maxNodeCount": 4.0},
            },
        },
    },
    t.ONLINE_ENDPOINT: {
        **PLACE,
        "endpointName": "mloe-mlops-prd-weu-7f66",
        "properties": {"authMode": "AADToken", "publicNetworkAccess": "Disabled"},
    },
    t.ONLINE_DEPLOYMENT: {
        **PLACE,
        "endpointName": "mloe-mlops-prd-weu-7f66",
        "deploymentName": "blue",
        "sku": {"name": "Default", "capacity": 2.0},
        "properties": {
            "endpointComputeType": "Managed",
            "egressPublicNetworkAccess": "Disabled",
            "appInsightsEnabled": True,
        },
    },
    t.BATCH_ENDPOINT: {**PLACE, "endpointName": "mlbe-mlops-prd-weu-7f66", "properties": {"authMode": "AADToken"}},
    t.EVENTHUB_NAMESPACE: {
        **PLACE,
        "namespaceName": "evhns-mlops-prd-weu-7f66",
        "disableLocalAuth": True,
        "minimumTlsVersion": "1.2",
        "publicNetworkAccess": "Disabled",
        "zoneRedundant": True,
    },
    t.IOT_HUB: {
        **PLACE,
        "resourceName": "iot-mlops-prd-weu-7f66",
        "properties": {"minTlsVersion": "1.2", "disableLocalAuth": True, "publicNetworkAccess": "Disabled"},
    },
    t.APP_INSIGHTS: {**PLACE, "disableLocalAuth": True, "workspaceResourceId": LOG_ID, "retentionInDays": 90.0},
    t.LOG_ANALYTICS: {**PLACE, "workspaceName": "log-mlops-prd-weu", "features": {"disableLocalAuth": True}, "retentionInDays": 90.0},
    t.USER_IDENTITY: {**PLACE, "resourceName": "id-mlops-iot-prd-weu"},
    t.ACTION_GROUP: {
        **PLACE,
        "location": "global",
        "actionGroupName": "ag-mlops-prd-weu",
        "enabled": True,
        "emailReceivers": [{"name": "team", "emailAddress": "ml-team@example.com"}],
    },
    t.WEB_APP: {
        **PLACE,
        "name": "func-mlops-retrain-prd-weu-7f66",
        "kind": "functionapp,linux",
        "httpsOnly": True,
        "identity": {"type": "SystemAssigned"},
        # Public, but the app denies what no rule allows and its deployment site follows the same rules.
        "publicNetworkAccess": "Enabled",
        "siteConfig": {
            "minTlsVersion": "1.2",
            "ftpsState": "Disabled",
            "remoteDebuggingEnabled": False,
            "cors": {"allowedOrigins": ["https://portal.azure.com"], "supportCredentials": False},
            "ipSecurityRestrictionsDefaultAction": "Deny",
            "scmIpSecurityRestrictionsUseMain": True,
        },
    },
    t.APP_SERVICE_PLAN: {
        **PLACE,
        "name": "asp-mlops-retrain-prd-weu-7f66",
        "sku": {"name": "FC1", "tier": "FlexConsumption"},
        "zoneRedundant": True,
    },
    t.FTP_PUBLISHING: {"name": "func-mlops-retrain-prd-weu-7f66", "resourceGroupName": "rg-mlops-prd-weu", "allow": False},
    t.SCM_PUBLISHING: {"name": "func-mlops-retrain-prd-weu-7f66", "resourceGroupName": "rg-mlops-prd-weu", "allow": False},
    t.METRIC_ALERT: {**PLACE, "location": "global", "enabled": True, "actions": [{"actionGroupId": ACTION_GROUP_ID}]},
    t.SCHEDULED_QUERY_RULE: {**PLACE, "enabled": True, "actions": {"actionGroups": [ACTION_GROUP_ID]}},
    t.DATA_FACTORY: {**PLACE, "factoryName": "adf-mlops-prd-weu-7f66", "identity": {"type": "SystemAssigned"}, "publicNetworkAccess": "Disabled"},
    t.ADF_LINKED_SERVICE: {
        "factoryName": "adf-mlops-prd-weu-7f66",
        "resourceGroupName": "rg-mlops-prd-weu",
        "linkedServiceName": "ls_src_orders",
        "properties": {
            "type": "AzureSqlDatabase",
            "connectionString": {"type": "AzureKeyVaultSecret", "secretName": "orders-sql",
                                 "store": {"referenceName": "ls_key_vault", "type": "LinkedServiceReference"}},
            "connectVia": {"referenceName": "ir_managed_vnet", "type": "IntegrationRuntimeReference"},
        },
    },
    t.ROLE_ASSIGNMENT: {
        "principalId": "2db72ca4-8819-5243-9861-b2f5c84645e3",
        "principalType": "ServicePrincipal",
        "roleDefinitionId": BLOB_DATA_READER,
        "scope": f"{RG}/providers/Microsoft.Storage/storageAccounts/stmlopsprdweu7f66",
    },
    t.DYNAMIC: FLEET,  # the only dynamic resource judged alone: the others' rules are stack rules
}


def edited(type_: str, path: str, value: Any) -> dict[str, Any]:
    """The compliant fixture of `type_` with one key (a dotted path) set to `value`, or removed with DELETE."""
    props = copy.deepcopy(COMPLIANT[type_])
    *parents, key = path.split(".")
    node = props
    for part in parents:
        node = node.setdefault(part, {})
    if value is DELETE:
        node.pop(key, None)
    else:
        node[key] = value
    return props
