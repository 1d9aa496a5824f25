"""IoT Hub: TLS 1.2, identity-only, private outside dev."""

from pulumi_policy import Severity

from .base import SECURITY, ResourceRule, expect
from .resource_types import IOT_HUB

HUB = (IOT_HUB,)

iothub_min_tls = ResourceRule(
    name="iothub-min-tls-1-2",
    description="IoT Hubs reject TLS versions older than 1.2.",
    types=HUB,
    check=expect("properties.minTlsVersion", "1.2"),
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation='set properties.min_tls_version="1.2" (only when creating the hub)',
    psrule="Azure.IoTHub.MinTLS",
)

iothub_local_auth = ResourceRule(
    name="iothub-local-auth-disabled",
    description="IoT Hub service APIs accept only Entra ID identities (no shared access policies).",
    types=HUB,
    check=expect("properties.disableLocalAuth", True, default=False),
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation="set properties.disable_local_auth=True on the hub",
)

iothub_public_network = ResourceRule(
    name="iothub-public-network-disabled",
    description="IoT Hubs are not reachable from public networks.",
    types=HUB,
    check=expect("properties.publicNetworkAccess", "Disabled", default="Enabled"),
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation='set properties.public_network_access="Disabled" (stack config network.publicNetworkAccess: false)',
    checkov="CKV_AZURE_108",
)
