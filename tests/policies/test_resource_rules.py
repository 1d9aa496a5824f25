"""Every resource rule over the Analyzer protocol: a compliant fixture passes; one edited key fails the rule
with the exact message (what is wrong + how to fix it) against the resource's URN; and every conditional rule has
a case it does not apply to.

"Conditional", defined mechanically: a rule whose check can answer NOT_APPLICABLE (policies/rules/base.py) for some
inputs of its types. The gate combinators (`only_if`, `unless_present`, `if_setting`) and checks decorated with
`@conditional` can; `ResourceRule.conditional` says which. Every conditional rule needs a not-applicable case (here,
or in test_deploy_rules.RESOURCE_CASES), which passes over the protocol and whose check answers NOT_APPLICABLE; and
test_rule_robustness checks, on random inputs, that no check answers NOT_APPLICABLE without being declared so.
"""

from __future__ import annotations

import pytest

from mlops.analyzer import load_policy_config
from policies.rules import RESOURCE_RULES
from policies.rules import resource_types as t
from policies.rules.base import NOT_APPLICABLE
from tests.policies.policy_fixtures import (
    COMPLIANT,
    DELETE,
    FLOATING_RUNTIME,
    HOST_ACCESS,
    LAYERED,
    LOGIN_SERVER,
    RG,
    edited,
    with_module,
)

RULES = {rule.name: rule for rule in RESOURCE_RULES}

# (rule, resource type, key edited, new value, the problem the message must state)
CASES = [
    ("storage-https-only", t.STORAGE_ACCOUNT, "enableHttpsTrafficOnly", False, "enableHttpsTrafficOnly is false; it must be true"),
    ("storage-min-tls-1-2", t.STORAGE_ACCOUNT, "minimumTlsVersion", "TLS1_1", "minimumTlsVersion is 'TLS1_1'; it must be 'TLS1_2' or 'TLS1_3'"),
    ("storage-min-tls-1-2", t.STORAGE_ACCOUNT, "minimumTlsVersion", DELETE, "minimumTlsVersion is not set, so Azure uses 'TLS1_0'; it must be 'TLS1_2' or 'TLS1_3'"),
    ("storage-blob-public-access-disabled", t.STORAGE_ACCOUNT, "allowBlobPublicAccess", True, "allowBlobPublicAccess is true; it must be false"),
    ("storage-shared-key-disabled", t.STORAGE_ACCOUNT, "allowSharedKeyAccess", DELETE, "allowSharedKeyAccess is not set, so Azure uses true; it must be false"),
    ("storage-oauth-default", t.STORAGE_ACCOUNT, "defaultToOAuthAuthentication", False, "defaultToOAuthAuthentication is false; it must be true"),
    ("storage-cross-tenant-replication-disabled", t.STORAGE_ACCOUNT, "allowCrossTenantReplication", True, "allowCrossTenantReplication is true; it must be false"),
    ("storage-network-default-deny", t.STORAGE_ACCOUNT, "networkRuleSet.defaultAction", "Allow", "networkRuleSet.defaultAction is 'Allow'; it must be 'Deny'"),
    ("storage-network-default-deny", t.STORAGE_ACCOUNT, "networkRuleSet.bypass", "AzureServices, Logging", "networkRuleSet.bypass is 'AzureServices, Logging'; it must be 'AzureServices' or 'None'"),
    ("storage-resource-access-own", t.STORAGE_ACCOUNT, "networkRuleSet.resourceAccessRules", [{"tenantId": "t", "resourceId": "/subscriptions/s/resourcegroups/*/providers/Microsoft.Devices/IotHubs/*"}],
     "resourceAccessRules admits '/subscriptions/s/resourcegroups/*/providers/Microsoft.Devices/IotHubs/*', a wildcard; name one resource of this platform"),
    ("storage-resource-access-own", t.STORAGE_ACCOUNT, "networkRuleSet.resourceAccessRules", [{"tenantId": "t", "resourceId": "/subscriptions/s/resourceGroups/rg-other/providers/Microsoft.EventHub/namespaces/evhns"}],
     "resourceAccessRules admits '/subscriptions/s/resourceGroups/rg-other/providers/Microsoft.EventHub/namespaces/evhns', which is not in the account's resource group 'rg-mlops-prd-weu'"),
    ("storage-zone-redundant", t.STORAGE_ACCOUNT, "sku.name", "Standard_LRS", "sku.name is 'Standard_LRS'; it must be 'Standard_ZRS' or 'Standard_GZRS' or 'Standard_RAGZRS' or 'Premium_ZRS'"),
    ("storage-infrastructure-encryption", t.STORAGE_ACCOUNT, "encryption", DELETE, "encryption.requireInfrastructureEncryption is not set, so Azure uses false; it must be true"),
    ("storage-public-network-restricted", t.STORAGE_ACCOUNT, "publicNetworkAccess", "Enabled", "publicNetworkAccess is 'Enabled' but no resource instance needs it (no resourceAccessRules); it must be 'Disabled'"),
    ("storage-blob-soft-delete", t.BLOB_SERVICE, "deleteRetentionPolicy.days", 3.0, "deleteRetentionPolicy.days is 3; it must be at least 7"),
    ("storage-container-soft-delete", t.BLOB_SERVICE, "containerDeleteRetentionPolicy.enabled", False, "containerDeleteRetentionPolicy.enabled is false; it must be true"),
    ("storage-container-private", t.BLOB_CONTAINER, "publicAccess", "Blob", "publicAccess is 'Blob'; it must be 'None'"),
    ("keyvault-purge-protection", t.KEY_VAULT, "properties.enablePurgeProtection", DELETE, "properties.enablePurgeProtection is not set, so Azure uses false; it must be true"),
    ("keyvault-soft-delete-retention", t.KEY_VAULT, "properties.softDeleteRetentionInDays", 30.0, "properties.softDeleteRetentionInDays is 30; it must be at least 90"),
    ("keyvault-soft-delete-retention", t.KEY_VAULT, "properties.enableSoftDelete", False, "properties.enableSoftDelete is false; it must be true"),
    ("keyvault-rbac-authorization", t.KEY_VAULT, "properties.enableRbacAuthorization", False, "properties.enableRbacAuthorization is false; it must be true"),
    ("keyvault-network-default-deny", t.KEY_VAULT, "properties.networkAcls.defaultAction", "Allow", "properties.networkAcls.defaultAction is 'Allow'; it must be 'Deny'"),
    ("keyvault-public-network-disabled", t.KEY_VAULT, "properties.publicNetworkAccess", "Enabled", "properties.publicNetworkAccess is 'Enabled'; it must be 'Disabled'"),
    ("registry-admin-user-disabled", t.REGISTRY, "adminUserEnabled", True, "adminUserEnabled is true; it must be false"),
    ("registry-anonymous-pull-disabled", t.REGISTRY, "anonymousPullEnabled", True, "anonymousPullEnabled is true; it must be false"),
    ("registry-premium-sku", t.REGISTRY, "sku.name", "Standard", "sku.name is 'Standard'; it must be 'Premium'"),
    ("registry-retention-policy", t.REGISTRY, "policies.retentionPolicy.status", "disabled", "policies.retentionPolicy.status is 'disabled'; it must be 'enabled'"),
    ("registry-zone-redundant", t.REGISTRY, "zoneRedundancy", "Disabled", "zoneRedundancy is 'Disabled'; it must be 'Enabled'"),
    ("registry-export-disabled", t.REGISTRY, "policies.exportPolicy", DELETE, "policies.exportPolicy.status is not set, so Azure uses 'enabled'; it must be 'disabled'"),
    ("ml-workspace-public-network-disabled", t.ML_WORKSPACE, "publicNetworkAccess", "Enabled", "publicNetworkAccess is 'Enabled'; it must be 'Disabled'"),
    ("ml-workspace-public-network-disabled", t.ML_WORKSPACE, "allowPublicAccessWhenBehindVnet", True, "allowPublicAccessWhenBehindVnet is true; it must be false"),
    ("ml-workspace-managed-network", t.ML_WORKSPACE, "managedNetwork.isolationMode", "Disabled", "managedNetwork.isolationMode is 'Disabled'; it must be 'AllowOnlyApprovedOutbound'"),
    ("ml-workspace-managed-network", t.ML_WORKSPACE, "managedNetwork", DELETE, "managedNetwork.isolationMode is not set, so Azure uses 'Disabled'; it must be 'AllowOnlyApprovedOutbound'"),
    ("ml-workspace-managed-network", t.ML_WORKSPACE, "managedNetwork.isolationMode", "AllowInternetOutbound", "managedNetwork.isolationMode is 'AllowInternetOutbound'; it must be 'AllowOnlyApprovedOutbound'"),
    ("ml-workspace-outbound-fqdn-allowed", t.ML_WORKSPACE, "managedNetwork.outboundRules", {"mirror-0": {"type": "FQDN", "category": "UserDefined", "destination": "pypi.org"}},
     "the managed network has FQDN outbound rules to 'pypi.org'; allowedFqdns names none"),
    ("ml-workspace-outbound-fqdn-allowed", t.ML_OUTBOUND_RULE, "properties", {"type": "FQDN", "category": "UserDefined", "destination": "evil.example.com"},
     "the managed network has FQDN outbound rules to 'evil.example.com'; allowedFqdns names none"),
    ("ml-workspace-identity-datastores", t.ML_WORKSPACE, "systemDatastoresAuthMode", "accessKey", "systemDatastoresAuthMode is 'accessKey'; it must be 'Identity'"),
    ("ml-workspace-managed-identity", t.ML_WORKSPACE, "identity.type", "None", "identity.type is 'None'; it must be 'SystemAssigned' or 'UserAssigned' or 'SystemAssigned,UserAssigned' or 'SystemAssigned, UserAssigned'"),
    ("ml-compute-local-auth-disabled", t.ML_COMPUTE, "properties.disableLocalAuth", False, "properties.disableLocalAuth is false; it must be true"),
    ("ml-compute-scale-to-zero", t.ML_COMPUTE, "properties.properties.scaleSettings.minNodeCount", 1.0, "properties.properties.scaleSettings.minNodeCount is 1; it must be 0"),
    ("ml-compute-no-public-ip", t.ML_COMPUTE, "properties.properties.enableNodePublicIp", DELETE, "properties.properties.enableNodePublicIp is not set, so Azure uses true; it must be false"),
    ("ml-compute-ssh-disabled", t.ML_COMPUTE, "properties.properties.remoteLoginPortPublicAccess", "Enabled", "properties.properties.remoteLoginPortPublicAccess is 'Enabled'; it must be 'Disabled'"),
    ("ml-endpoint-token-auth", t.ONLINE_ENDPOINT, "properties.authMode", "Key", "properties.authMode is 'Key'; it must be 'AADToken'"),
    ("ml-endpoint-public-network-disabled", t.ONLINE_ENDPOINT, "properties.publicNetworkAccess", "Enabled", "properties.publicNetworkAccess is 'Enabled'; it must be 'Disabled'"),
    ("ml-deployment-min-instances", t.ONLINE_DEPLOYMENT, "sku.capacity", 1.0, "sku.capacity is 1; it must be at least 2"),
    ("ml-deployment-min-instances", t.ONLINE_DEPLOYMENT, "sku", DELETE, "sku.capacity is 1 (Azure's default, not set); it must be at least 2"),
    ("ml-deployment-app-insights", t.ONLINE_DEPLOYMENT, "properties.appInsightsEnabled", False, "properties.appInsightsEnabled is false; it must be true"),
    ("ml-batch-endpoint-aad-auth", t.BATCH_ENDPOINT, "properties.authMode", "Key", "properties.authMode is 'Key'; it must be 'AADToken'"),
    ("eventhub-local-auth-disabled", t.EVENTHUB_NAMESPACE, "disableLocalAuth", False, "disableLocalAuth is false; it must be true"),
    ("eventhub-min-tls-1-2", t.EVENTHUB_NAMESPACE, "minimumTlsVersion", "1.0", "minimumTlsVersion is '1.0'; it must be '1.2' or '1.3'"),
    ("eventhub-zone-redundant", t.EVENTHUB_NAMESPACE, "zoneRedundant", False, "zoneRedundant is false; it must be true"),
    ("iothub-min-tls-1-2", t.IOT_HUB, "properties.minTlsVersion", DELETE, "properties.minTlsVersion is not set; it must be '1.2'"),
    ("iothub-local-auth-disabled", t.IOT_HUB, "properties.disableLocalAuth", False, "properties.disableLocalAuth is false; it must be true"),
    ("iothub-device-ingress-restricted", t.IOT_HUB, "properties.publicNetworkAccess", "Enabled", "properties.publicNetworkAccess is 'Enabled' without an IP filter (networkRuleSets with defaultAction 'Deny' and the sites' ipRules); it must be 'Disabled' or filtered"),
    ("loganalytics-local-auth-disabled", t.LOG_ANALYTICS, "features.disableLocalAuth", False, "features.disableLocalAuth is false; it must be true"),
    ("loganalytics-retention", t.LOG_ANALYTICS, "retentionInDays", 30.0, "retentionInDays is 30; it must be at least 90"),
    ("appinsights-local-auth-disabled", t.APP_INSIGHTS, "disableLocalAuth", False, "disableLocalAuth is false; it must be true"),
    ("appinsights-workspace-based", t.APP_INSIGHTS, "workspaceResourceId", DELETE, "workspaceResourceId is not set; it must name a Log Analytics workspace"),
    ("appinsights-retention", t.APP_INSIGHTS, "retentionInDays", 30.0, "retentionInDays is 30; it must be at least 90"),
    ("action-group-enabled", t.ACTION_GROUP, "enabled", False, "enabled is false; it must be true"),
    ("action-group-has-receiver", t.ACTION_GROUP, "emailReceivers", [], "the action group has no receivers"),
    ("alert-enabled", t.METRIC_ALERT, "enabled", False, "enabled is false; it must be true"),
    ("alert-enabled", t.SCHEDULED_QUERY_RULE, "enabled", "false", "enabled is false; it must be true"),
    ("alert-has-action", t.METRIC_ALERT, "actions", [], "the alert has no action group in its actions"),
    ("alert-has-action", t.SCHEDULED_QUERY_RULE, "actions.actionGroups", [], "the alert has no action group in its actions"),
    ("role-no-privileged-roles", t.ROLE_ASSIGNMENT, "roleDefinitionId", "/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "the assignment grants Owner (/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635)"),
    ("role-no-privileged-roles", t.ROLE_ASSIGNMENT, "roleDefinitionId", "B24988AC-6180-42A0-AB88-20F7382DD24C", "the assignment grants Contributor (B24988AC-6180-42A0-AB88-20F7382DD24C)"),
    ("role-principal-type-not-user", t.ROLE_ASSIGNMENT, "principalType", "User", "principalType is 'User'; it must be 'ServicePrincipal' or 'Group' or 'ForeignGroup' or 'Device'"),
    ("role-principal-type-not-user", t.ROLE_ASSIGNMENT, "principalType", DELETE, "principalType is not set; it must be 'ServicePrincipal' or 'Group' or 'ForeignGroup' or 'Device'"),
    ("role-scope-resource-group-or-below", t.ROLE_ASSIGNMENT, "scope", "/subscriptions/s1", "the assignment is scoped to '/subscriptions/s1', above any resource group"),
    ("function-https-only", t.WEB_APP, "httpsOnly", DELETE, "httpsOnly is not set, so Azure uses false; it must be true"),
    ("function-min-tls-1-2", t.WEB_APP, "siteConfig.minTlsVersion", "1.0", "siteConfig.minTlsVersion is '1.0'; it must be '1.2' or '1.3'"),
    ("function-ftp-disabled", t.WEB_APP, "siteConfig.ftpsState", "FtpsOnly", "siteConfig.ftpsState is 'FtpsOnly'; it must be 'Disabled'"),
    ("function-managed-identity", t.WEB_APP, "identity", DELETE, "identity.type is not set; it must be 'SystemAssigned' or 'UserAssigned' or 'SystemAssigned, UserAssigned'"),
    ("function-remote-debugging-disabled", t.WEB_APP, "siteConfig.remoteDebuggingEnabled", True, "siteConfig.remoteDebuggingEnabled is true; it must be false"),
    ("function-cors-restricted", t.WEB_APP, "siteConfig.cors.allowedOrigins", ["https://portal.azure.com", "*"], "siteConfig.cors.allowedOrigins contains '*'; it must name the origins that call the app"),
    ("function-cors-restricted", t.WEB_APP, "siteConfig.cors", {"allowedOrigins": ["https://*.contoso.com"], "supportCredentials": True},
     "siteConfig.cors.supportCredentials is true with wildcard origins 'https://*.contoso.com'; credentials need exact origins"),
    ("function-inbound-restricted", t.WEB_APP, "siteConfig.ipSecurityRestrictionsDefaultAction", DELETE, "siteConfig.ipSecurityRestrictionsDefaultAction is not set, so Azure uses 'Allow'; it must be 'Deny'"),
    ("function-inbound-restricted", t.WEB_APP, "siteConfig.ipSecurityRestrictions", [{"name": "anyone", "ipAddress": "Any", "action": "Allow", "priority": 100.0}],
     "siteConfig.ipSecurityRestrictions allows 'anyone' ('Any'), which is not a service tag or subnet the policy config names (allowedServiceTags, allowedSubnets)"),
    ("function-inbound-restricted", t.WEB_APP, "siteConfig.ipSecurityRestrictions", [{"name": "action-group", "ipAddress": "ActionGroup", "tag": "ServiceTag", "action": "Allow", "priority": 100.0}],
     "siteConfig.ipSecurityRestrictions allows 'action-group' ('ActionGroup'), which is not a service tag or subnet the policy config names (allowedServiceTags, allowedSubnets)"),
    ("function-scm-inbound-restricted", t.WEB_APP, "siteConfig.scmIpSecurityRestrictionsUseMain", False, "siteConfig.scmIpSecurityRestrictionsDefaultAction is not set, so Azure uses 'Allow'; it must be 'Deny'"),
    ("function-python-runtime-supported", t.WEB_APP, "functionAppConfig", {"runtime": {"name": "python", "version": "3.9"}}, "functionAppConfig.runtime.version is '3.9'; Flex Consumption runs Python 3.10, 3.11, 3.12"),
    ("function-flex-zone-redundant", t.APP_SERVICE_PLAN, "zoneRedundant", DELETE, "zoneRedundant is not set, so Azure uses false; it must be true"),
    ("publishing-basic-auth-disabled", t.SCM_PUBLISHING, "allow", True, "allow is true; it must be false"),
    ("publishing-basic-auth-disabled", t.FTP_PUBLISHING, "allow", DELETE, "allow is not set, so Azure uses true; it must be false"),
    ("required-tags", t.STORAGE_ACCOUNT, "tags.owner", DELETE, "required tags missing or empty: owner"),
    ("required-tags", t.USER_IDENTITY, "tags", DELETE, "required tags missing or empty: environment, workload, owner, cost-center, managed-by"),
    ("allowed-locations", t.RESOURCE_GROUP, "location", "eastus", "location 'eastus' is not one of westeurope, northeurope"),
    ("datafactory-managed-identity", t.DATA_FACTORY, "identity", DELETE, "identity.type is not set; it must be 'SystemAssigned' or 'SystemAssigned,UserAssigned'"),
    ("datafactory-public-network-disabled", t.DATA_FACTORY, "publicNetworkAccess", DELETE,
     "publicNetworkAccess is not set, so Azure uses 'Enabled'; it must be 'Disabled'"),
    ("datafactory-linked-service-key-vault-secrets", t.ADF_LINKED_SERVICE, "properties.password", {"type": "SecureString", "value": "hunter2"},
     "properties.password holds a secret inline; it must be an AzureKeyVaultSecret reference"),
    ("datafactory-linked-service-key-vault-secrets", t.ADF_LINKED_SERVICE, "properties.connectionString", "Server=tcp:x;Password=hunter2",
     "properties.connectionString holds a secret inline; it must be an AzureKeyVaultSecret reference"),
    # IoT Edge deployments (the compliant fixture: the fleet's layered deployment from components/edge_manifest.py)
    ("edge-modules-from-stack-registry", t.DYNAMIC, "content",
     with_module(LAYERED, ("modulesContent", "$edgeAgent", "properties.desired.modules.scorer", "settings", "image"), "crother.azurecr.io/mlops/edge:0.1.0"),
     f"module 'scorer' pulls 'crother.azurecr.io/mlops/edge:0.1.0', not an image of the stack's registry '{LOGIN_SERVER}'"),
    # The model travels as an image too: from the stack's registry only.
    ("edge-modules-from-stack-registry", t.DYNAMIC, "content",
     with_module(LAYERED, ("modulesContent", "$edgeAgent", "properties.desired.modules.model", "settings", "image"), "docker.io/someone/model:3"),
     f"module 'model' pulls 'docker.io/someone/model:3', not an image of the stack's registry '{LOGIN_SERVER}'"),
    *(("edge-modules-not-privileged", t.DYNAMIC, "content", content, message) for content, message in zip(HOST_ACCESS.values(), (
        "module 'scorer' sets HostConfig.Privileged=true", "module 'scorer' sets HostConfig.NetworkMode=\"host\"",
        "module 'scorer' sets HostConfig.CapAdd"))),
    ("edge-runtime-pinned", t.DYNAMIC, "content", FLOATING_RUNTIME,
     "systemModules.edgeHub runs 'mcr.microsoft.com/azureiotedge-hub:latest'; it must be mcr.microsoft.com/azureiotedge-hub:<major>.<minor>[.<patch>]"),
    ("edge-fleet-model-canaried", t.DYNAMIC, "verifiedOnCanary", DELETE,
     "the fleet runs 'predictive-maintenance:3', which no canary stage ran before it (verifiedOnCanary: none)"),
    ("edge-fleet-model-canaried", t.DYNAMIC, "verifiedOnCanary", "predictive-maintenance:2",
     "the fleet runs 'predictive-maintenance:3', which no canary stage ran before it (verifiedOnCanary: predictive-maintenance:2)"),
]


@pytest.mark.parametrize("type_", sorted(COMPLIANT))
def test_compliant_fixture_passes_every_rule(analyzer, type_):
    assert analyzer.analyze(type_, COMPLIANT[type_]) == []


@pytest.mark.parametrize(("rule", "type_", "path", "value", "problem"), CASES, ids=[f"{c[0]}:{c[2]}" for c in CASES])
def test_one_edited_key_fails_the_rule(analyzer, rule, type_, path, value, problem):
    [violation] = [v for v in analyzer.analyze(type_, edited(type_, path, value), name="edited") if v.policy == rule]
    definition = RULES[rule]
    assert violation.policy == rule
    assert violation.urn.endswith(f"::{type_}::edited")
    assert violation.enforcement == "mandatory"
    assert violation.message == f"{definition.description}\n{problem}. Fix: {definition.remediation}"


def test_every_resource_rule_has_a_failing_case():
    from tests.policies.test_deploy_rules import RESOURCE_CASES

    assert {case[0] for case in CASES} | {case[0] for case in RESOURCE_CASES} == set(RULES)


FLEX_RUNTIME = {"runtime": {"name": "python", "version": "3.11"}, "scaleAndConcurrency": {"maximumInstanceCount": 40.0, "instanceMemoryMB": 2048.0}}
PE_RULE = {"type": "PrivateEndpoint", "category": "UserDefined",
           "destination": {"serviceResourceId": f"{RG}/providers/Microsoft.Storage/storageAccounts/st", "subresourceTarget": "blob"}}

# (rule, resource type, key edited, new value, environment whose policy config applies or None for the pack's defaults)
NOT_APPLICABLE_CASES = [
    ("storage-resource-access-own", t.STORAGE_ACCOUNT, "networkRuleSet.resourceAccessRules", [], None),
    ("storage-zone-redundant", t.STORAGE_ACCOUNT, "sku.name", "Standard_LRS", "staging"),
    ("registry-retention-policy", t.REGISTRY, "sku.name", "Standard", None),
    ("registry-export-disabled", t.REGISTRY, "publicNetworkAccess", "Enabled", None),
    ("registry-zone-redundant", t.REGISTRY, "zoneRedundancy", "Disabled", "staging"),
    ("registry-zone-redundant", t.REGISTRY, "sku.name", "Standard", None),
    ("ml-workspace-outbound-fqdn-allowed", t.ML_WORKSPACE, "managedNetwork.outboundRules", {"lake-blob": PE_RULE}, None),
    ("ml-workspace-outbound-fqdn-allowed", t.ML_OUTBOUND_RULE, "properties", PE_RULE, None),
    ("ml-compute-local-auth-disabled", t.ML_COMPUTE, "properties.computeType", "ComputeInstance", None),
    ("ml-compute-scale-to-zero", t.ML_COMPUTE, "properties.computeType", "ComputeInstance", None),
    ("ml-compute-no-public-ip", t.ML_COMPUTE, "properties.computeType", "Kubernetes", None),
    ("ml-compute-ssh-disabled", t.ML_COMPUTE, "properties.computeType", "ComputeInstance", None),
    ("eventhub-zone-redundant", t.EVENTHUB_NAMESPACE, "zoneRedundant", False, "staging"),
    ("function-ftp-disabled", t.WEB_APP, "functionAppConfig", FLEX_RUNTIME, None),
    ("function-cors-restricted", t.WEB_APP, "siteConfig.cors", DELETE, None),
    ("function-inbound-restricted", t.WEB_APP, "publicNetworkAccess", "Disabled", None),
    ("function-scm-inbound-restricted", t.WEB_APP, "publicNetworkAccess", "Disabled", None),
    ("function-python-runtime-supported", t.WEB_APP, "functionAppConfig", {**FLEX_RUNTIME, "runtime": {"name": "node", "version": "20"}}, None),
    ("function-python-runtime-supported", t.WEB_APP, "siteConfig.cors", DELETE, None),  # not a Flex app
    ("function-flex-zone-redundant", t.APP_SERVICE_PLAN, "zoneRedundant", False, "staging"),
    ("function-flex-zone-redundant", t.APP_SERVICE_PLAN, "sku", {"name": "EP1", "tier": "ElasticPremium"}, None),
    ("edge-modules-from-stack-registry", t.DYNAMIC, "kind", t.TRAFFIC_KIND, None),
    ("edge-modules-not-privileged", t.DYNAMIC, "kind", t.TRAFFIC_KIND, None),
    ("edge-runtime-pinned", t.DYNAMIC, "stage", "fleet", None),  # a layered deployment: the base carries the runtime
    ("edge-fleet-model-canaried", t.DYNAMIC, "stage", "canary", None),
]


def rule_settings(rule: str, environment: str | None) -> dict:
    """The rule's settings as Configure sends them for an environment (its policy config's properties, else defaults)."""
    entry = load_policy_config(environment).get(rule) if environment else None
    return RULES[rule].settings({k: v for k, v in entry.items() if k != "enforcementLevel"} if isinstance(entry, dict) else {})


@pytest.mark.parametrize(("rule", "type_", "path", "value", "environment"), NOT_APPLICABLE_CASES,
                         ids=[f"{c[0]}:{c[2]}" for c in NOT_APPLICABLE_CASES])
def test_a_conditional_rule_does_not_apply_to_its_not_applicable_case(pack, rule, type_, path, value, environment):
    props = edited(type_, path, value)
    pack.configure(environment)
    assert [v for v in pack.analyze(type_, props, name="na") if v.policy == rule] == []
    assert RULES[rule].check(props, rule_settings(rule, environment)) is NOT_APPLICABLE


def test_every_conditional_resource_rule_has_a_not_applicable_case():
    """As test_every_resource_rule_has_a_failing_case insists on a failing case (conditional: see the module docstring)."""
    from tests.policies.test_deploy_rules import RESOURCE_CASES

    covered = {case[0] for case in NOT_APPLICABLE_CASES} | {case[0] for case in RESOURCE_CASES if case[5] is not None}
    assert covered == {rule.name for rule in RESOURCE_RULES if rule.conditional}


# Rule settings and levels from an environment's policy config change the verdict.
CONFIG_CASES = [
    ("dev", t.ONLINE_ENDPOINT, "properties.authMode", "AMLToken", []),
    ("prod", t.ONLINE_ENDPOINT, "properties.authMode", "AMLToken", [("ml-endpoint-token-auth", "mandatory")]),
    ("dev", t.ONLINE_DEPLOYMENT, "sku.capacity", 1.0, []),
    ("staging", t.ONLINE_DEPLOYMENT, "sku.capacity", 1.0, []),
    ("prod", t.ONLINE_DEPLOYMENT, "sku.capacity", 1.0, [("ml-deployment-min-instances", "mandatory")]),
    ("staging", t.REGISTRY, "zoneRedundancy", "Disabled", []),
    ("prod", t.REGISTRY, "zoneRedundancy", "Disabled", [("registry-zone-redundant", "mandatory")]),
    ("dev", t.LOG_ANALYTICS, "retentionInDays", 30.0, []),
    ("prod", t.LOG_ANALYTICS, "retentionInDays", 90.0, [("loganalytics-retention", "mandatory")]),
    ("dev", t.KEY_VAULT, "properties.publicNetworkAccess", "Enabled", [("keyvault-public-network-disabled", "advisory")]),
    ("staging", t.KEY_VAULT, "properties.publicNetworkAccess", "Enabled", [("keyvault-public-network-disabled", "mandatory")]),
    ("dev", t.STORAGE_ACCOUNT, "allowSharedKeyAccess", True, [("storage-shared-key-disabled", "mandatory")]),
    # A prod lake downgraded to LRS is blocked; dev and staging take LRS.
    ("prod", t.STORAGE_ACCOUNT, "sku.name", "Standard_LRS", [("storage-zone-redundant", "mandatory")]),
    ("staging", t.STORAGE_ACCOUNT, "sku.name", "Standard_LRS", []),
    ("dev", t.STORAGE_ACCOUNT, "sku.name", "Standard_LRS", []),
    # A fleet model change without a canary stage: blocked in prod, advice in dev and staging.
    ("prod", t.DYNAMIC, "verifiedOnCanary", DELETE, [("edge-fleet-model-canaried", "mandatory")]),
    ("staging", t.DYNAMIC, "verifiedOnCanary", DELETE, [("edge-fleet-model-canaried", "advisory")]),
    ("dev", t.DYNAMIC, "verifiedOnCanary", DELETE, [("edge-fleet-model-canaried", "advisory")]),
    ("prod", t.WEB_APP, "siteConfig.remoteDebuggingEnabled", True, [("function-remote-debugging-disabled", "mandatory")]),
    ("prod", t.WEB_APP, "siteConfig.cors.allowedOrigins", ["*"], [("function-cors-restricted", "mandatory")]),
    ("prod", t.WEB_APP, "siteConfig.ipSecurityRestrictionsDefaultAction", "Allow", [("function-inbound-restricted", "mandatory")]),
    ("dev", t.WEB_APP, "siteConfig.scmIpSecurityRestrictionsUseMain", False, [("function-scm-inbound-restricted", "advisory")]),
    ("prod", t.ML_WORKSPACE, "allowPublicAccessWhenBehindVnet", True, [("ml-workspace-public-network-disabled", "mandatory")]),
    ("dev", t.ML_WORKSPACE, "managedNetwork.isolationMode", "Disabled", [("ml-workspace-managed-network", "advisory")]),
    ("prod", t.APP_SERVICE_PLAN, "zoneRedundant", False, [("function-flex-zone-redundant", "advisory")]),
    ("staging", t.APP_SERVICE_PLAN, "zoneRedundant", False, []),
    ("prod", t.STORAGE_ACCOUNT, "encryption", {}, [("storage-infrastructure-encryption", "advisory")]),
]


@pytest.mark.parametrize(("environment", "type_", "path", "value", "expected"), CONFIG_CASES)
def test_environment_config_sets_levels_and_settings(pack, environment, type_, path, value, expected):
    pack.configure(environment)
    found = pack.analyze(type_, edited(type_, path, value))
    assert [(v.policy, v.enforcement) for v in found] == expected


def test_inbound_rules_allow_exactly_the_service_tags_and_subnets_the_config_names(tmp_path):
    """A webhook receiver's environment names the ActionGroup tag and a subnet: those pass, another tag does not."""
    import json

    from mlops.analyzer import PolicyAnalyzer

    allowed = {"enforcementLevel": "mandatory", "allowedServiceTags": ["ActionGroup"], "allowedSubnets": ["snet-runners"]}
    (tmp_path / "webhook.json").write_text(json.dumps({"all": "mandatory", "function-inbound-restricted": allowed}))
    subnet = f"{RG}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/snet-runners"
    rules = [{"name": "action-group", "ipAddress": "ActionGroup", "tag": "ServiceTag", "action": "Allow", "priority": 100.0},
             {"name": "runners", "vnetSubnetResourceId": subnet, "action": "Allow", "priority": 200.0}]
    other = [{"name": "event-grid", "ipAddress": "AzureEventGrid", "tag": "ServiceTag", "action": "Allow", "priority": 300.0}]
    with PolicyAnalyzer(config_dir=tmp_path) as pack:
        pack.configure("webhook")
        found = lambda value: [v.message.split("\n")[1] for v in pack.analyze(t.WEB_APP, edited(t.WEB_APP, "siteConfig.ipSecurityRestrictions", value))  # noqa: E731
                               if v.policy == "function-inbound-restricted"]
        assert found(rules) == []
        assert found(rules + other) == [
            "siteConfig.ipSecurityRestrictions allows 'event-grid' ('AzureEventGrid'), which is not a service tag or subnet the "
            f"policy config names (allowedServiceTags, allowedSubnets). Fix: {RULES['function-inbound-restricted'].remediation}"
        ]
