"""Event Hubs namespace: identity-only, TLS 1.2, private and zone-redundant where required."""

from collections.abc import Iterator

from pulumi_policy import PolicyResource, Severity

from .base import (
    RELIABILITY,
    REQUIRED_SETTING,
    SECURITY,
    ResourceRule,
    Settings,
    StackRule,
    conditional,
    expect,
    if_setting,
)
from .graph import references, text
from .references import References
from .resource_types import EVENTHUB_NAMESPACE, EVENTHUB_RULE_SET
from .values import UNKNOWN, items, peek, same, shown

NAMESPACE = (EVENTHUB_NAMESPACE,)

eventhub_local_auth = ResourceRule(
    name="eventhub-local-auth-disabled",
    description="Event Hubs accepts only Entra ID identities (no SAS keys).",
    types=NAMESPACE,
    check=expect("disableLocalAuth", True, default=False),
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation="set disable_local_auth=True and grant Event Hubs data roles to managed identities",
    why="SAS keys are shared secrets that bypass Entra ID and RBAC.",
    references=References(
        psrule="Azure.EventHub.DisableLocalAuth",
        docs="https://learn.microsoft.com/azure/event-hubs/authenticate-shared-access-signature",
    ),
)

eventhub_min_tls = ResourceRule(
    name="eventhub-min-tls-1-2",
    description="Event Hubs namespaces reject TLS versions older than 1.2.",
    types=NAMESPACE,
    check=expect("minimumTlsVersion", "1.2", "1.3"),
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation='set minimum_tls_version="1.2" on the namespace',
    why="TLS 1.0 and 1.1 have known weaknesses.",
    references=References(
        psrule="Azure.EventHub.MinTLS",
        checkov="CKV_AZURE_223",
        docs="https://learn.microsoft.com/azure/event-hubs/transport-layer-security-enforce-minimum-version",
    ),
)

def _closes(rule_set: PolicyResource) -> bool:
    """A network rule set that lets in nothing but trusted Azure services (and private endpoints)."""
    props = rule_set.props
    opened = any(items(peek(props, key)) for key in ("ipRules", "virtualNetworkRules"))
    return same(peek(props, "defaultAction"), "Deny") and not opened and peek(props, "trustedServiceAccessEnabled") is True


@conditional
def _open_namespaces(resources: list[PolicyResource], _settings: Settings) -> Iterator[tuple[str, str]]:
    rule_sets = [r for r in resources if r.resource_type == EVENTHUB_RULE_SET]
    for namespace in (r for r in resources if r.resource_type == EVENTHUB_NAMESPACE):
        access = peek(namespace.props, "publicNetworkAccess")
        if access is UNKNOWN or (isinstance(access, str) and access.lower() in ("disabled", "securedbyperimeter")):
            continue
        names = {text(namespace.props, "namespaceName"), text(namespace.props, "name")} - {None}
        own = [
            rs for rs in rule_sets
            if text(rs.props, "namespaceName") in names or namespace in references(rs, "namespaceName")
        ]  # fmt: skip
        if any(_closes(rs) for rs in own):
            continue
        yield namespace.urn, (
            f"Namespace '{namespace.name}' is open to public networks: publicNetworkAccess is "
            f"{shown(access) if isinstance(access, str) else 'not set (Enabled)'} and no network rule set denies by default"
        )


eventhub_public_network = StackRule(
    name="eventhub-public-network-restricted",
    description="Event Hubs namespaces are reached through private endpoints; public access only for trusted Azure services.",
    check=_open_namespaces,
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation='declare a NamespaceNetworkRuleSet with default_action="Deny", trusted_service_access_enabled=True and '
    "no IP or network rules, or set public_network_access=\"Disabled\" (stack config network.mode: private)",
    why="The namespace should be reachable through its private endpoint and by trusted Azure services only.",
    references=References(
        psrule="Azure.EventHub.Firewall",
        docs="https://learn.microsoft.com/azure/event-hubs/network-security",
    ),
)


eventhub_zone_redundant = ResourceRule(
    name="eventhub-zone-redundant",
    description="Where the environment requires it, the Event Hubs namespace is zone-redundant.",
    types=NAMESPACE,
    check=if_setting("required", expect("zoneRedundant", True, default=False)),
    config=REQUIRED_SETTING,
    severity=Severity.MEDIUM,
    pillar=RELIABILITY,
    remediation="set zone_redundant=True on the namespace",
    why="A zone outage would stop ingestion.",
    references=References(
        docs="https://learn.microsoft.com/azure/reliability/reliability-event-hubs",
        note="CKV_AZURE_228 exists only among Checkov's Terraform checks.",
    ),
)
