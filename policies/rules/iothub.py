"""IoT Hub: TLS 1.2, identity-only, private outside dev."""

from collections.abc import Mapping
from typing import Any

from pulumi_policy import Severity

from .base import SECURITY, ResourceRule, Settings, expect
from .references import References
from .resource_types import IOT_HUB
from .values import WRONG_TYPE, as_text, get, items, same

HUB = (IOT_HUB,)

iothub_min_tls = ResourceRule(
    name="iothub-min-tls-1-2",
    description="IoT Hubs reject TLS versions older than 1.2.",
    types=HUB,
    check=expect("properties.minTlsVersion", "1.2"),
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation='set properties.min_tls_version="1.2" (only when creating the hub)',
    why="TLS 1.0 and 1.1 have known weaknesses.",
    references=References(
        psrule="Azure.IoTHub.MinTLS",
        docs="https://learn.microsoft.com/azure/iot-hub/iot-hub-tls-support",
    ),
)

iothub_local_auth = ResourceRule(
    name="iothub-local-auth-disabled",
    description="IoT Hub service APIs accept only Entra ID identities (no shared access policies).",
    types=HUB,
    check=expect("properties.disableLocalAuth", True, default=False),
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation="set properties.disable_local_auth=True on the hub",
    why="Shared access policies are keys that bypass Entra ID for the service APIs.",
    references=References(docs="https://learn.microsoft.com/azure/iot-hub/authenticate-authorize-azure-ad"),
)

def _device_ingress(props: Mapping[str, Any], _settings: Settings) -> list[str]:
    """Devices in the field cannot use a private endpoint, so ingress stays public, limited to the sites' ranges."""
    access = as_text(get(props, "properties.publicNetworkAccess"))
    if access is WRONG_TYPE or (isinstance(access, str) and access.lower() == "disabled"):
        return []
    rules = get(props, "properties.networkRuleSets")
    if isinstance(rules, Mapping) and same(get(rules, "defaultAction"), "Deny") and items(get(rules, "ipRules")):
        return []
    return ["properties.publicNetworkAccess is 'Enabled' without an IP filter (networkRuleSets with defaultAction "
            "'Deny' and the sites' ipRules); it must be 'Disabled' or filtered"]


iothub_public_network = ResourceRule(
    name="iothub-device-ingress-restricted",
    description="IoT Hub accepts devices only from the configured sites' address ranges (or no public access at all).",
    types=HUB,
    check=_device_ingress,
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation="set stack config iotHub.deviceIpRanges to the sites' egress ranges (network.mode: private filters with them)",
    why=(
        "Device ingress stays public because field devices cannot use a private endpoint, so it must be limited to "
        "the sites' address ranges."
    ),
    references=References(
        docs="https://learn.microsoft.com/azure/iot-hub/iot-hub-ip-filtering",
        note="CKV_AZURE_108 exists only among Checkov's Terraform checks.",
    ),
)
