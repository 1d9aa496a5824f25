"""Every resource rule over the Analyzer protocol: a compliant fixture passes; one edited key fails the rule
with the exact message (what is wrong + how to fix it) against the resource's URN."""

from __future__ import annotations

import pytest

from policies.rules import RESOURCE_RULES
from policies.rules import resource_types as t
from tests.policies.policy_fixtures import COMPLIANT, DELETE, edited

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
    ("registry-public-network-disabled", t.REGISTRY, "publicNetworkAccess", "Enabled", "publicNetworkAccess is 'Enabled'; it must be 'Disabled'"),
    ("registry-premium-sku", t.REGISTRY, "sku.name", "Standard", "sku.name is 'Standard'; it must be 'Premium'"),
    ("registry-retention-policy", t.REGISTRY, "policies.retentionPolicy.status", "disabled", "policies.retentionPolicy.status is 'disabled'; it must be 'enabled'"),
    ("registry-zone-redundant", t.REGISTRY, "zoneRedundancy", "Disabled", "zoneRedundancy is 'Disabled'; it must be 'Enabled'"),
    ("ml-workspace-public-network-disabled", t.ML_WORKSPACE, "publicNetworkAccess", "Enabled", "publicNetworkAccess is 'Enabled'; it must be 'Disabled'"),
    ("ml-workspace-managed-network", t.ML_WORKSPACE, "managedNetwork.isolationMode", "Disabled", "managedNetwork.isolationMode is 'Disabled'; it must be 'AllowOnlyApprovedOutbound' or 'AllowInternetOutbound'"),
    ("ml-workspace-identity-datastores", t.ML_WORKSPACE, "systemDatastoresAuthMode", "accessKey", "systemDatastoresAuthMode is 'accessKey'; it must be 'Identity'"),
    ("ml-workspace-managed-identity", t.ML_WORKSPACE, "identity.type", "None", "identity.type is 'None'; it must be 'SystemAssigned' or 'UserAssigned' or 'SystemAssigned,UserAssigned' or 'SystemAssigned, UserAssigned'"),
    ("ml-compute-local-auth-disabled", t.ML_COMPUTE, "properties.disableLocalAuth", False, "properties.disableLocalAuth is false; it must be true"),
    ("ml-compute-scale-to-zero", t.ML_COMPUTE, "properties.properties.scaleSettings.minNodeCount", 1.0, "properties.properties.scaleSettings.minNodeCount is 1; it must be 0"),
    ("ml-compute-no-public-ip", t.ML_COMPUTE, "properties.properties.enableNodePublicIp", DELETE, "properties.properties.enableNodePublicIp is not set, so Azure uses true; it must be false"),
    ("ml-compute-ssh-disabled", t.ML_COMPUTE, "properties.properties.remoteLoginPortPublicAccess", "Enabled", "properties.properties.remoteLoginPortPublicAccess is 'Enabled'; it must be 'Disabled'"),
    ("ml-endpoint-token-auth", t.ONLINE_ENDPOINT, "properties.authMode", "Key", "properties.authMode is 'Key'; it must be 'AADToken'"),
    ("ml-endpoint-public-network-disabled", t.ONLINE_ENDPOINT, "properties.publicNetworkAccess", "Enabled", "properties.publicNetworkAccess is 'Enabled'; it must be 'Disabled'"),
    ("ml-deployment-egress-disabled", t.ONLINE_DEPLOYMENT, "properties.egressPublicNetworkAccess", DELETE, "properties.egressPublicNetworkAccess is not set, so Azure uses 'Enabled'; it must be 'Disabled'"),
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
    ("publishing-basic-auth-disabled", t.SCM_PUBLISHING, "allow", True, "allow is true; it must be false"),
    ("publishing-basic-auth-disabled", t.FTP_PUBLISHING, "allow", DELETE, "allow is not set, so Azure uses true; it must be false"),
    ("required-tags", t.STORAGE_ACCOUNT, "tags.owner", DELETE, "required tags missing or empty: owner"),
    ("required-tags", t.USER_IDENTITY, "tags", DELETE, "required tags missing or empty: environment, workload, owner, cost-center, managed-by"),
    ("allowed-locations", t.RESOURCE_GROUP, "location", "eastus", "location 'eastus' is not one of westeurope, northeurope"),
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
]


@pytest.mark.parametrize(("environment", "type_", "path", "value", "expected"), CONFIG_CASES)
def test_environment_config_sets_levels_and_settings(pack, environment, type_, path, value, expected):
    pack.configure(environment)
    found = pack.analyze(type_, edited(type_, path, value))
    assert [(v.policy, v.enforcement) for v in found] == expected
