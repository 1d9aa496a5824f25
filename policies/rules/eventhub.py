"""Event Hubs namespace: identity-only, TLS 1.2, private and zone-redundant where required."""

from pulumi_policy import Severity

from .base import RELIABILITY, REQUIRED_SETTING, SECURITY, ResourceRule, expect, if_setting
from .resource_types import EVENTHUB_NAMESPACE

NAMESPACE = (EVENTHUB_NAMESPACE,)

eventhub_local_auth = ResourceRule(
    name="eventhub-local-auth-disabled",
    description="Event Hubs accepts only Entra ID identities (no SAS keys).",
    types=NAMESPACE,
    check=expect("disableLocalAuth", True, default=False),
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation="set disable_local_auth=True and grant Event Hubs data roles to managed identities",
    psrule="Azure.EventHub.DisableLocalAuth",
)

eventhub_min_tls = ResourceRule(
    name="eventhub-min-tls-1-2",
    description="Event Hubs namespaces reject TLS versions older than 1.2.",
    types=NAMESPACE,
    check=expect("minimumTlsVersion", "1.2", "1.3"),
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation='set minimum_tls_version="1.2" on the namespace',
    psrule="Azure.EventHub.MinTLS",
    checkov="CKV_AZURE_223",
)

eventhub_public_network = ResourceRule(
    name="eventhub-public-network-disabled",
    description="Event Hubs namespaces are not reachable from public networks.",
    types=NAMESPACE,
    check=expect("publicNetworkAccess", "Disabled", "SecuredByPerimeter", default="Enabled"),
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation='set public_network_access="Disabled" (stack config network.publicNetworkAccess: false)',
    psrule="Azure.EventHub.Firewall",
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
    checkov="CKV_AZURE_228",
)
