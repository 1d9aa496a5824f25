"""Key Vault: RBAC-only, recoverable, closed to the internet outside dev."""

from pulumi_policy import Severity

from .base import RELIABILITY, SECURITY, ResourceRule, all_of, at_least, expect
from .references import References
from .resource_types import KEY_VAULT

VAULT = (KEY_VAULT,)

keyvault_purge_protection = ResourceRule(
    name="keyvault-purge-protection",
    description="Key Vaults have purge protection: deleted vaults and secrets cannot be purged early.",
    types=VAULT,
    check=expect("properties.enablePurgeProtection", True, default=False),
    severity=Severity.HIGH,
    pillar=RELIABILITY,
    remediation="set properties.enable_purge_protection=True (it cannot be turned off again)",
    why=(
        "Without purge protection a deleted vault or secret can be purged at once, and the secrets are lost for good."
    ),
    references=References(
        psrule="Azure.KeyVault.PurgeProtect",
        checkov="CKV_AZURE_110",
        docs="https://learn.microsoft.com/azure/key-vault/general/soft-delete-overview",
    ),
)

keyvault_soft_delete = ResourceRule(
    name="keyvault-soft-delete-retention",
    description="Key Vaults keep deleted vaults and items for at least the configured retention.",
    types=VAULT,
    check=all_of(
        expect("properties.enableSoftDelete", True, default=True),
        at_least("properties.softDeleteRetentionInDays", "minDays", default=90),
    ),
    config={"minDays": {"type": "number", "minimum": 7, "maximum": 90, "default": 90}},
    severity=Severity.MEDIUM,
    pillar=RELIABILITY,
    remediation="keep enable_soft_delete on and soft_delete_retention_in_days >= minDays "
    "(stack config keyVault.softDeleteRetentionDays)",
    why="Soft delete keeps deleted vaults and items recoverable for the retention period.",
    references=References(
        psrule="Azure.KeyVault.SoftDelete",
        checkov="CKV_AZURE_111",
        docs="https://learn.microsoft.com/azure/key-vault/general/soft-delete-overview",
    ),
)

keyvault_rbac = ResourceRule(
    name="keyvault-rbac-authorization",
    description="Key Vault data access is authorized by Azure RBAC, not vault access policies.",
    types=VAULT,
    check=expect("properties.enableRbacAuthorization", True, default=False),
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation="set properties.enable_rbac_authorization=True and grant Key Vault data roles",
    why=(
        "Access policies are a second, vault-local permission system; Azure RBAC puts vault data access under the "
        "same roles and audit as everything else."
    ),
    references=References(
        psrule="Azure.KeyVault.RBAC",
        docs="https://learn.microsoft.com/azure/key-vault/general/rbac-guide",
    ),
)

keyvault_network_default_deny = ResourceRule(
    name="keyvault-network-default-deny",
    description="The Key Vault firewall denies traffic by default; only trusted Azure services bypass it.",
    types=VAULT,
    check=expect("properties.networkAcls.defaultAction", "Deny", default="Allow"),
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation='set properties.network_acls.default_action="Deny" (stack config network.mode: private)',
    why="With the firewall open by default, any network can reach the vault.",
    references=References(
        psrule="Azure.KeyVault.Firewall",
        checkov="CKV_AZURE_109",
        docs="https://learn.microsoft.com/azure/key-vault/general/network-security",
    ),
)

keyvault_public_network = ResourceRule(
    name="keyvault-public-network-disabled",
    description="Key Vaults are not reachable from public networks.",
    types=VAULT,
    check=expect("properties.publicNetworkAccess", "Disabled", default="Enabled"),
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation='set properties.public_network_access="Disabled" (stack config network.mode: private)',
    why="Secrets should be reachable only through the vault's private endpoint.",
    references=References(
        checkov="CKV_AZURE_189",
        docs=(
            "https://learn.microsoft.com/azure/key-vault/general/private-link-service",
            "https://learn.microsoft.com/azure/key-vault/general/network-security",
        ),
    ),
)
