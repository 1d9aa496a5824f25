"""IoT Hub: device telemetry routed to Event Hubs (hot path) and the raw zone (cold path), identity-only.

Writing through the Event Hubs and storage firewalls as a trusted Microsoft service requires the hub's
*system-assigned* identity (IoT Hub virtual network support; Event Hubs trusted services). That identity exists
only after the hub, and identity-based routing endpoints are part of the hub resource, so: the hub is created
with a system identity and no custom routing (it ignores `properties.routing`), its identity gets its data
roles, and then a follow-up setting (arm_settings.py) writes the endpoints and routes.

Device ingress stays public by nature (devices are in the field): per-device authentication (X.509 or device
SAS; service-side shared access policies are off), TLS 1.2, and in a private stack an IP filter admitting only
the configured sites. The service side (routing consumers, the registry manager) has a private endpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import iothub

from components.arm_settings import IOT_ROUTING_KIND, ArmSetting, revision
from components.base import PlatformComponent
from components.context import PlatformContext

HOT_ENDPOINT = "telemetry-eventhub"
COLD_ENDPOINT = "raw-lake"
RESERVED_ENDPOINT_NAMES = ("events", "fileNotifications", "$default")  # IoT Hub REST reference


@dataclass(frozen=True)
class IotHubArgs:
    eventhubs_namespace_fqdn: pulumi.Input[str]
    """The Event Hubs namespace the hot path routes to."""
    telemetry_hub_name: str
    """The event hub telemetry is routed to."""
    telemetry_hub_id: pulumi.Input[str]
    """That hub's id: the scope of the hub identity's Data Sender role."""
    storage_blob_endpoint: pulumi.Input[str]
    """The lake's blob endpoint (the cold path)."""
    raw_container_name: str
    """The container the cold path writes into (raw)."""
    raw_container_id: pulumi.Input[str]
    """That container's id: the scope of the hub identity's write role."""
    sku: str
    """The hub's tier and size (B1-B3, S1-S3)."""
    units: int
    """Units of that tier."""
    cold_path_batch_seconds: int
    """How often the cold path writes a batch."""
    device_ip_ranges: Sequence[str]
    """The sites' ranges admitted for device ingress in a private stack."""


def routing(args: IotHubArgs) -> dict:
    """The hub's routing as the IoT Hub REST API spells it: both endpoints use the hub's system identity."""
    return {
        "endpoints": {
            "eventHubs": [
                {
                    "name": HOT_ENDPOINT,
                    "authenticationType": "identityBased",
                    "endpointUri": pulumi.Output.concat("sb://", args.eventhubs_namespace_fqdn),
                    "entityPath": args.telemetry_hub_name,
                }
            ],
            "storageContainers": [
                {
                    "name": COLD_ENDPOINT,
                    "authenticationType": "identityBased",
                    "endpointUri": args.storage_blob_endpoint,
                    "containerName": args.raw_container_name,
                    "encoding": "avro",
                    "fileNameFormat": "iothub/{iothub}/{partition}/{YYYY}/{MM}/{DD}/{HH}/{mm}",
                    "batchFrequencyInSeconds": args.cold_path_batch_seconds,
                    "maxChunkSizeInBytes": 100 * 1024 * 1024,
                }
            ],
            "serviceBusQueues": [],
            "serviceBusTopics": [],
        },
        "routes": [
            {"name": "telemetry-to-eventhubs", "source": "DeviceMessages", "condition": "true",
             "endpointNames": [HOT_ENDPOINT], "isEnabled": True},
            {"name": "telemetry-to-lake", "source": "DeviceMessages", "condition": "true",
             "endpointNames": [COLD_ENDPOINT], "isEnabled": True},
        ],
        # Messages matching no route still reach the built-in endpoint instead of being dropped.
        "fallbackRoute": {"name": "$fallback", "source": "DeviceMessages", "condition": "true",
                          "endpointNames": ["events"], "isEnabled": True},
    }  # fmt: skip


class IotHub(PlatformComponent):
    TYPE = "mlops:ingestion:IotHub"
    OUTPUTS = ("resource_id", "resource_name", "principal_id", "host_name")

    def __init__(self, name: str, ctx: PlatformContext, args: IotHubArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, ctx, opts)
        ip_filter = ctx.private and bool(args.device_ip_ranges)
        hub = iothub.IotHubResource(
            f"{name}-iot",
            resource_name_=ctx.naming.name("iot"),
            resource_group_name=ctx.resource_group_name,
            location=ctx.location,
            sku=iothub.IotHubSkuInfoArgs(name=args.sku, capacity=args.units),
            identity=iothub.ArmIdentityArgs(type=iothub.ResourceIdentityType.SYSTEM_ASSIGNED),
            properties=iothub.IotHubPropertiesArgs(
                min_tls_version="1.2",
                disable_local_auth=True,
                disable_device_sas=False,  # devices authenticate with per-device SAS or X.509; service SAS is off
                disable_module_sas=True,
                public_network_access=iothub.PublicNetworkAccess.ENABLED,  # device ingress: devices cannot use a private endpoint
                network_rule_sets=iothub.NetworkRuleSetPropertiesArgs(
                    default_action=iothub.DefaultAction.DENY,
                    apply_to_built_in_event_hub_endpoint=True,
                    ip_rules=[
                        iothub.NetworkRuleSetIpRuleArgs(filter_name=f"site-{index}", action=iothub.NetworkRuleIPAction.ALLOW, ip_mask=mask)
                        for index, mask in enumerate(args.device_ip_ranges)
                    ],
                )
                if ip_filter
                else None,
            ),
            tags=ctx.tags,
            # Routing is written by the follow-up setting below, once the identity holds its roles.
            opts=self.child(stateful=True, ignore_changes=["properties.routing"]),
        )
        principal_id = hub.identity.apply(lambda identity: identity.principal_id)
        access = [
            self.grant("send-telemetry", principal_id, "Azure Event Hubs Data Sender", args.telemetry_hub_id),
            self.grant("write-raw", principal_id, "Storage Blob Data Contributor", args.raw_container_id),
        ]
        ArmSetting(
            f"{name}-routing",
            IOT_ROUTING_KIND,
            hub.id,
            {"routing": routing(args)},
            revision(hub.properties, "routing", also=[hub.tags, hub.etag]),
            opts=self.child(depends_on=[hub, *access]),
        )
        self.private_endpoints(hub.id, ["iotHub"])
        self.diagnostics(hub.id)
        self.resource_id: pulumi.Output[str] = hub.id
        """The hub's id."""
        self.resource_name: pulumi.Output[str] = hub.name
        """The hub's name."""
        self.host_name: pulumi.Output[str] = hub.properties.host_name
        """The hub's host name (devices, the registry manager, edge deployments)."""
        self.principal_id: pulumi.Output[str] = principal_id
        """The hub's system-assigned identity (routes as a trusted service)."""
        self._register()
