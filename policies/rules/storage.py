"""Storage: the data lake account, its blob service and containers."""

from collections.abc import Mapping
from typing import Any

from pulumi_policy import Severity

from .base import (
    NOT_APPLICABLE,
    RELIABILITY,
    REQUIRED_SETTING,
    SECURITY,
    ResourceRule,
    Settings,
    all_of,
    at_least,
    conditional,
    expect,
    if_setting,
)
from .facts import facts
from .references import References
from .resource_types import BLOB_CONTAINER, BLOB_SERVICE, STORAGE_ACCOUNT
from .values import WRONG_TYPE, as_text, get, items, same

STORAGE = facts("storage")
ZONE_REDUNDANT_SKUS = tuple(STORAGE["redundancy"]["zoneRedundantSkus"])

ACCOUNT = (STORAGE_ACCOUNT,)
SOFT_DELETE_DAYS = {"minDays": {"type": "number", "minimum": 1, "maximum": 365, "default": 7}}

storage_https_only = ResourceRule(
    name="storage-https-only",
    description="Storage accounts accept only HTTPS (secure transfer required).",
    types=ACCOUNT,
    check=expect("enableHttpsTrafficOnly", True, default=True),
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation="set enable_https_traffic_only=True on the storage account",
    why="Plain HTTP exposes data and credentials on the wire.",
    references=References(
        psrule="Azure.Storage.SecureTransfer",
        checkov="CKV_AZURE_3",
        docs="https://learn.microsoft.com/azure/storage/common/storage-require-secure-transfer",
    ),
)

storage_min_tls = ResourceRule(
    name="storage-min-tls-1-2",
    description="Storage accounts reject TLS versions older than 1.2.",
    types=ACCOUNT,
    check=expect("minimumTlsVersion", "TLS1_2", "TLS1_3", default="TLS1_0"),
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation='set minimum_tls_version="TLS1_2" on the storage account',
    why="TLS 1.0 and 1.1 have known weaknesses and are being retired by Azure Storage.",
    references=References(
        psrule="Azure.Storage.MinTLS",
        checkov="CKV_AZURE_44",
        docs="https://learn.microsoft.com/azure/storage/common/transport-layer-security-configure-minimum-version",
    ),
)

storage_blob_public_access = ResourceRule(
    name="storage-blob-public-access-disabled",
    description="Storage accounts do not allow anonymous (public) blob access.",
    types=ACCOUNT,
    check=expect("allowBlobPublicAccess", False, default=False),
    severity=Severity.CRITICAL,
    pillar=SECURITY,
    remediation="set allow_blob_public_access=False on the storage account",
    why="Anonymous read access lets anyone with a URL read the platform's data.",
    references=References(
        psrule="Azure.Storage.BlobPublicAccess",
        docs="https://learn.microsoft.com/azure/storage/blobs/anonymous-read-access-prevent",
        note="CKV_AZURE_190 exists only among Checkov's Terraform checks.",
    ),
)

storage_shared_key = ResourceRule(
    name="storage-shared-key-disabled",
    description="Storage accounts refuse shared key (account key and SAS) authorization; identities only.",
    types=ACCOUNT,
    check=expect("allowSharedKeyAccess", False, default=True),
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation="set allow_shared_key_access=False and grant data roles to managed identities",
    why=(
        "Account keys and SAS tokens are shared secrets that bypass Entra ID and RBAC; with them off, every access is "
        "an identity with a role."
    ),
    references=References(
        psrule="Azure.Storage.LocalAuth",
        docs="https://learn.microsoft.com/azure/storage/common/shared-key-authorization-prevent",
        note="CKV2_AZURE_40 exists only among Checkov's Terraform checks.",
    ),
)

storage_oauth_default = ResourceRule(
    name="storage-oauth-default",
    description="The portal and tools use Entra ID, not account keys, to reach storage data.",
    types=ACCOUNT,
    check=expect("defaultToOAuthAuthentication", True, default=False),
    severity=Severity.LOW,
    pillar=SECURITY,
    remediation="set default_to_o_auth_authentication=True on the storage account",
    why="Without it the portal and tools fall back to account keys, which shared key off makes fail.",
    references=References(
        docs="https://learn.microsoft.com/azure/storage/blobs/authorize-data-operations-portal#default-to-microsoft-entra-authorization-in-the-azure-portal",
    ),
)

storage_cross_tenant_replication = ResourceRule(
    name="storage-cross-tenant-replication-disabled",
    description="Object replication to storage accounts in other Entra ID tenants is not allowed.",
    types=ACCOUNT,
    check=expect("allowCrossTenantReplication", False, default=False),
    severity=Severity.MEDIUM,
    pillar=SECURITY,
    remediation="set allow_cross_tenant_replication=False on the storage account",
    why="Object replication to another tenant copies data out of the organisation's control.",
    references=References(
        docs="https://learn.microsoft.com/azure/storage/blobs/object-replication-prevent-cross-tenant-policies",
    ),
)

storage_network_default_deny = ResourceRule(
    name="storage-network-default-deny",
    description="The storage firewall denies traffic by default; only trusted Azure services (or nothing) bypass it.",
    types=ACCOUNT,
    # bypass also takes Logging and Metrics (comma-separated): exactly AzureServices or None, nothing else.
    check=all_of(
        expect("networkRuleSet.defaultAction", "Deny", default="Allow"),
        expect("networkRuleSet.bypass", "AzureServices", "None", default="AzureServices"),
    ),
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation='set network_rule_set.default_action="Deny" with bypass="AzureServices" or "None" (stack config network.mode: private)',
    why="With the firewall open by default, any network can reach the account's endpoints.",
    references=References(
        psrule="Azure.Storage.Firewall",
        checkov="CKV_AZURE_35",
        docs=(
            "https://learn.microsoft.com/azure/storage/common/storage-network-security",
            "https://learn.microsoft.com/azure/storage/common/storage-network-security-set-default-access",
            "https://learn.microsoft.com/rest/api/storagerp/storage-accounts/create",
        ),
    ),
)

def _public_network_restricted(props: Mapping[str, Any], _settings: Settings) -> list[str]:
    """Private endpoints only, or "Enabled from selected networks" with no network selected: the only way Azure
    services outside any network (IoT Hub routing, Event Hubs Capture) can write, as resource instances."""
    access = as_text(get(props, "publicNetworkAccess"))
    if access is WRONG_TYPE or (isinstance(access, str) and access.lower() == "disabled"):
        return []
    rules = get(props, "networkRuleSet")
    if not isinstance(rules, Mapping):
        return ["publicNetworkAccess is 'Enabled' with no networkRuleSet, so every network may connect; "
                "it must be 'Disabled', or 'Enabled' with defaultAction 'Deny' and only resource-instance rules"]
    opened = [key for key in ("ipRules", "virtualNetworkRules") if items(get(rules, key))]
    if not same(get(rules, "defaultAction"), "Deny") or opened:
        what = f"{' and '.join(opened)} open it" if opened else "networkRuleSet.defaultAction is not 'Deny'"
        return [f"publicNetworkAccess is 'Enabled' and {what}; only private endpoints and resource-instance rules may reach it"]
    if not items(get(rules, "resourceAccessRules")):
        return ["publicNetworkAccess is 'Enabled' but no resource instance needs it (no resourceAccessRules); "
                "it must be 'Disabled'"]
    return []


storage_public_network = ResourceRule(
    name="storage-public-network-restricted",
    description="Storage accounts are reached through private endpoints; public access is open only to named trusted Azure resources.",
    types=ACCOUNT,
    check=_public_network_restricted,
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation='use secure_storage_account: public_network_access="Disabled", or "Enabled" with default_action="Deny" '
    "and resource_access_rules for the trusted writers only (stack config network.mode: private)",
    why=(
        "Public network access opens the account to the internet; the only exception is named trusted Azure resources "
        "(IoT Hub routing, Event Hubs Capture), which need 'Enabled from selected networks'."
    ),
    references=References(
        checkov="CKV_AZURE_59",
        docs=(
            "https://learn.microsoft.com/azure/storage/common/storage-network-security-set-default-access",
            "https://learn.microsoft.com/azure/storage/common/storage-network-security",
        ),
    ),
)


@conditional
def _resource_access_own(props: Mapping[str, Any], _settings: Settings) -> list[str]:
    """Resource-instance rules name single resources of the account's own resource group: no wildcard (which would
    admit every resource of a type in a group, a subscription or the tenant), no resource of another group."""
    rule_set = get(props, "networkRuleSet")
    listed = items(get(rule_set, "resourceAccessRules")) if isinstance(rule_set, Mapping) else []
    rules = [rule for rule in listed if isinstance(rule, Mapping)]
    if not rules:
        return NOT_APPLICABLE  # no resource-instance rule
    group = as_text(get(props, "resourceGroupName"))
    problems = []
    for rule in rules:
        resource = as_text(get(rule, "resourceId"))
        if not isinstance(resource, str):
            continue
        if "*" in resource:
            problems.append(f"resourceAccessRules admits {resource!r}, a wildcard; name one resource of this platform")
        elif isinstance(group, str) and f"/resourcegroups/{group.lower()}/providers/" not in resource.lower():
            problems.append(f"resourceAccessRules admits {resource!r}, which is not in the account's resource group {group!r}")
    return problems


storage_resource_access_own = ResourceRule(
    name="storage-resource-access-own",
    description="Resource-instance firewall rules admit only single resources of the platform's own resource group.",
    types=ACCOUNT,
    check=_resource_access_own,
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation="pass only the platform's own writers (the IoT hub, the Event Hubs namespace) as trusted_writers of "
    "secure_storage_account; never a wildcard",
    why="A wildcard or foreign resource-instance rule lets resources the platform does not own through the firewall.",
    references=References(docs=STORAGE["resourceInstanceRules"]["source"]),
)

storage_zone_redundant = ResourceRule(
    name="storage-zone-redundant",
    description="Where the environment requires it, storage accounts replicate across availability zones (ZRS, GZRS, RA-GZRS).",
    types=ACCOUNT,
    check=if_setting("required", expect("sku.name", *ZONE_REDUNDANT_SKUS)),
    config=REQUIRED_SETTING,
    severity=Severity.HIGH,
    pillar=RELIABILITY,
    remediation="set stack config storage.sku to Standard_ZRS, Standard_GZRS or Standard_RAGZRS",
    why="Locally redundant storage loses the data with its datacenter; prod's data must survive a zone failure.",
    references=References(docs=STORAGE["redundancy"]["source"]),
)

storage_infrastructure_encryption = ResourceRule(
    name="storage-infrastructure-encryption",
    description="New storage accounts encrypt data twice (infrastructure encryption); advisory, because it is chosen only at creation.",
    types=ACCOUNT,
    check=expect("encryption.requireInfrastructureEncryption", True, default=False),
    severity=Severity.LOW,
    pillar=SECURITY,
    remediation="set encryption.require_infrastructure_encryption=True on a new account only: on an existing one it "
    "replaces the account (the preview calls that out and blocks it where stateful resources are protected)",
    why="A second layer of encryption at the infrastructure level protects data if one algorithm or key is compromised.",
    references=References(docs=STORAGE["infrastructureEncryption"]["source"]),
)


storage_blob_soft_delete = ResourceRule(
    name="storage-blob-soft-delete",
    description="Deleted blobs are kept for a retention period (blob soft delete).",
    types=(BLOB_SERVICE,),
    check=all_of(
        expect("deleteRetentionPolicy.enabled", True, default=False),
        at_least("deleteRetentionPolicy.days", "minDays", default=7),
    ),
    config=SOFT_DELETE_DAYS,
    severity=Severity.MEDIUM,
    pillar=RELIABILITY,
    remediation="enable delete_retention_policy with days >= minDays (stack config storage.blobSoftDeleteDays)",
    why="A deleted or overwritten blob is gone at once without soft delete.",
    references=References(
        psrule="Azure.Storage.SoftDelete",
        docs="https://learn.microsoft.com/azure/storage/blobs/soft-delete-blob-overview",
        note="CKV2_AZURE_38 exists only among Checkov's Terraform checks.",
    ),
)

storage_container_soft_delete = ResourceRule(
    name="storage-container-soft-delete",
    description="Deleted containers are kept for a retention period (container soft delete).",
    types=(BLOB_SERVICE,),
    check=all_of(
        expect("containerDeleteRetentionPolicy.enabled", True, default=False),
        at_least("containerDeleteRetentionPolicy.days", "minDays", default=7),
    ),
    config=SOFT_DELETE_DAYS,
    severity=Severity.MEDIUM,
    pillar=RELIABILITY,
    remediation="enable container_delete_retention_policy with days >= minDays "
    "(stack config storage.containerSoftDeleteDays)",
    why="Deleting a container deletes every blob in it; container soft delete keeps them for the retention period.",
    references=References(
        psrule="Azure.Storage.ContainerSoftDelete",
        docs="https://learn.microsoft.com/azure/storage/blobs/soft-delete-container-overview",
    ),
)

storage_container_private = ResourceRule(
    name="storage-container-private",
    description="Blob containers allow no anonymous read access.",
    types=(BLOB_CONTAINER,),
    check=expect("publicAccess", "None", default="None"),
    severity=Severity.CRITICAL,
    pillar=SECURITY,
    remediation='set public_access="None" on the blob container',
    why="A container with public access serves its blobs to anyone.",
    references=References(
        psrule="Azure.Storage.BlobAccessType",
        checkov="CKV_AZURE_34",
        docs="https://learn.microsoft.com/azure/storage/blobs/anonymous-read-access-configure",
    ),
)
