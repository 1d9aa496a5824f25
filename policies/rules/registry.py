"""Container registry: identity pulls only, private and Premium outside dev."""

from pulumi_policy import Severity

from .base import COST, RELIABILITY, REQUIRED_SETTING, SECURITY, ResourceRule, expect, if_setting, only_if
from .references import References
from .resource_types import REGISTRY

ACR = (REGISTRY,)

registry_admin_user = ResourceRule(
    name="registry-admin-user-disabled",
    description="The registry admin user (a shared username and password) is disabled.",
    types=ACR,
    check=expect("adminUserEnabled", False, default=False),
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation="set admin_user_enabled=False and pull with AcrPull granted to managed identities",
    why="The admin user is a shared username and password with push and pull rights on every repository.",
    references=References(
        psrule="Azure.ACR.AdminUser",
        checkov="CKV_AZURE_137",
        docs="https://learn.microsoft.com/azure/container-registry/container-registry-authentication#admin-account",
    ),
)

registry_anonymous_pull = ResourceRule(
    name="registry-anonymous-pull-disabled",
    description="Images cannot be pulled anonymously.",
    types=ACR,
    check=expect("anonymousPullEnabled", False, default=False),
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation="set anonymous_pull_enabled=False",
    why="Anonymous pull lets anyone download the platform's images.",
    references=References(
        psrule="Azure.ACR.AnonymousAccess",
        checkov="CKV_AZURE_138",
        docs="https://learn.microsoft.com/azure/container-registry/anonymous-pull-access",
    ),
)

registry_public_network = ResourceRule(
    name="registry-public-network-disabled",
    description="The registry is not reachable from public networks.",
    types=ACR,
    check=expect("publicNetworkAccess", "Disabled", default="Enabled"),
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation='set public_network_access="Disabled" (needs Premium; stack config network.mode: private)',
    why="The registry should be reachable only through its private endpoint.",
    references=References(
        psrule="Azure.ACR.Firewall",
        checkov="CKV_AZURE_139",
        docs="https://learn.microsoft.com/azure/container-registry/container-registry-private-link",
    ),
)

registry_premium_sku = ResourceRule(
    name="registry-premium-sku",
    description="The registry uses the Premium SKU (private access, zone redundancy, retention policy).",
    types=ACR,
    check=expect("sku.name", "Premium"),
    severity=Severity.MEDIUM,
    pillar=RELIABILITY,
    remediation="set stack config registry.sku: Premium",
    why="Private endpoints, zone redundancy and retention policies need the Premium tier.",
    references=References(
        psrule="Azure.ACR.MinSku",
        docs="https://learn.microsoft.com/azure/container-registry/container-registry-skus",
    ),
)

registry_retention_policy = ResourceRule(
    name="registry-retention-policy",
    description="A Premium registry deletes untagged manifests after a retention period.",
    types=ACR,
    check=only_if("sku.name", "Premium", then=expect("policies.retentionPolicy.status", "enabled", default="disabled")),
    severity=Severity.LOW,
    pillar=COST,
    remediation='set policies.retention_policy.status="enabled" with a number of days',
    why="Untagged manifests accumulate with every image build and are billed as storage.",
    references=References(
        psrule="Azure.ACR.Retention",
        docs="https://learn.microsoft.com/azure/container-registry/container-registry-retention-policy",
        note="CKV_AZURE_167 exists only among Checkov's Terraform checks.",
    ),
)

registry_export_disabled = ResourceRule(
    name="registry-export-disabled",
    description="A registry closed to public networks allows no export of its images (acr import, transfer pipelines).",
    types=ACR,
    check=only_if("publicNetworkAccess", "Disabled", then=expect("policies.exportPolicy.status", "disabled", default="enabled")),
    severity=Severity.LOW,
    pillar=SECURITY,
    remediation='set policies.export_policy.status="disabled" once no workflow imports from this registry into another',
    why="With export on, anyone who may read the registry can copy its images out of a network that is otherwise closed.",
    references=References(docs="https://learn.microsoft.com/azure/container-registry/data-loss-prevention"),
)

registry_zone_redundant = ResourceRule(
    name="registry-zone-redundant",
    description="Where the environment requires it, a Premium registry is zone-redundant.",
    types=ACR,
    check=if_setting("required", only_if("sku.name", "Premium", then=expect("zoneRedundancy", "Enabled", default="Disabled"))),
    config=REQUIRED_SETTING,
    severity=Severity.MEDIUM,
    pillar=RELIABILITY,
    remediation='set zone_redundancy="Enabled" (a new registry: it cannot change after creation)',
    why="A zone outage would make images unpullable, so deployments and scale-outs fail.",
    references=References(
        checkov="CKV_AZURE_233",
        docs="https://learn.microsoft.com/azure/container-registry/zone-redundancy",
    ),
)
