"""Container registry: identity pulls only, private and Premium outside dev; public only to the IoT Edge sites."""

from collections.abc import Iterator, Mapping

from pulumi_policy import PolicyResource, Severity

from .base import (
    COST,
    RELIABILITY,
    REQUIRED_SETTING,
    SECURITY,
    ResourceRule,
    Settings,
    StackRule,
    conditional,
    expect,
    if_setting,
    only_if,
)
from .graph import text
from .references import References
from .resource_types import DYNAMIC, EDGE_DEPLOYMENT_KIND, IOT_HUB, REGISTRY
from .values import UNKNOWN, items, peek, same, shown

SELECTED_NETWORKS_DOCS = "https://learn.microsoft.com/azure/container-registry/container-registry-access-selected-networks"

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

def site_ranges(resources: list[PolicyResource]) -> set[str]:
    """The sites' egress ranges: the IoT Hub's IP filter (iotHub.deviceIpRanges), where the edge devices connect from."""
    ranges: set[str] = set()
    for hub in (r for r in resources if r.resource_type == IOT_HUB):
        for rule in items(peek(hub.props, "properties.networkRuleSets.ipRules")):
            if isinstance(rule, Mapping) and same(rule.get("action"), "Allow") and text(rule, "ipMask"):
                ranges.add(text(rule, "ipMask") or "")
    return ranges


def site_rules(registry: PolicyResource) -> list[str] | None:
    """The IP rules of a registry that denies by default (Enabled from selected networks); None when it does not."""
    rules = peek(registry.props, "networkRuleSet")
    if not isinstance(rules, Mapping) or not same(rules.get("defaultAction"), "Deny"):
        return None
    return [text(rule, "iPAddressOrRange") or "" for rule in items(rules.get("ipRules")) if isinstance(rule, Mapping)]


@conditional
def _public_registries(resources: list[PolicyResource], _settings: Settings) -> Iterator[tuple[str, str]]:
    edge = any(r.resource_type == DYNAMIC and peek(r.props, "kind") == EDGE_DEPLOYMENT_KIND for r in resources)
    sites = site_ranges(resources)
    for registry in (r for r in resources if r.resource_type == REGISTRY):
        access = peek(registry.props, "publicNetworkAccess")
        if access is UNKNOWN or same(access, "Disabled"):
            continue
        state = shown(access) if isinstance(access, str) else "not set, so Azure uses 'Enabled'"
        admitted = site_rules(registry)
        if not admitted:
            yield registry.urn, f"publicNetworkAccess is {state} with no network rule denying by default; it must be 'Disabled'"
        elif not edge:
            yield registry.urn, (
                f"publicNetworkAccess is {state} for {', '.join(admitted)}, but no IoT Edge deployment in this stack pulls "
                "from the registry; it must be 'Disabled'"
            )
        elif outside := [r for r in admitted if r not in sites]:
            yield registry.urn, f"the registry admits {', '.join(outside)}, which the IoT Hub's IP filter does not list as a site (iotHub.deviceIpRanges)"


registry_public_network = StackRule(
    name="registry-public-network-disabled",
    description="The registry is not reachable from public networks, except from the IoT Edge sites where the stack has edge devices.",
    check=_public_registries,
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation=(
        'set public_network_access="Disabled" (needs Premium; stack config network.mode: private); with IoT Edge devices '
        "(edge.targetCondition), Enabled with networkRuleSet defaultAction Deny and one IP rule per iotHub.deviceIpRanges entry"
    ),
    why=(
        "The registry should be reachable only through its private endpoint. IoT Edge devices in the field have no "
        "private path: they pull module and model images over the internet, so a stack with edge devices opens the "
        "public endpoint to the sites' ranges and to nothing else (IP rules apply to the public endpoint only)."
    ),
    references=References(
        psrule="Azure.ACR.Firewall",
        checkov="CKV_AZURE_139",
        docs=("https://learn.microsoft.com/azure/container-registry/container-registry-private-link", SELECTED_NETWORKS_DOCS),
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
