"""IoT Hub: device telemetry routed to Event Hubs (hot path) and the raw zone (cold path), identity-only.

Identity-based routing endpoints live inside the hub resource, so a system-assigned identity could not
hold its data roles before the hub needs them. A user-assigned identity is created first, granted its
roles, and only then is the hub created pointing every endpoint at it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import iothub, managedidentity

from components.context import PlatformComponent, PlatformContext, enabled
from components.diagnostics import send_diagnostics
from components.roles import Grant, grant

HOT_ENDPOINT = "telemetry-eventhub"
COLD_ENDPOINT = "raw-lake"


@dataclass(frozen=True)
class IotHubArgs:
    subscription_id: pulumi.Input[str]
    eventhubs_namespace_fqdn: pulumi.Input[str]
    telemetry_hub_name: pulumi.Input[str]
    telemetry_hub_id: pulumi.Input[str]
    storage_blob_endpoint: pulumi.Input[str]
    raw_container_name: pulumi.Input[str]
    raw_container_id: pulumi.Input[str]
    sku: str = "S1"
    units: int = 1
    public_network_access: bool = False
    cold_path_batch_seconds: int = 300


class IotHub(PlatformComponent):
    TYPE = "mlops:ingestion:IotHub"
    OUTPUTS = ("hub_id", "hub_name", "hostname", "identity_id", "principal_id")

    def __init__(self, name: str, ctx: PlatformContext, args: IotHubArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, ctx, opts)
        identity = managedidentity.UserAssignedIdentity(
            f"{name}-id",
            resource_name_=ctx.naming.name("id", "iot"),
            resource_group_name=ctx.resource_group_name,
            location=ctx.location,
            tags=ctx.tags,
            opts=self.child(),
        )
        access = [
            grant(name, args.subscription_id, item, self.child())
            for item in (
                Grant("send-telemetry", identity.principal_id, "Azure Event Hubs Data Sender", args.telemetry_hub_id),
                Grant("write-raw", identity.principal_id, "Storage Blob Data Contributor", args.raw_container_id),
            )
        ]
        endpoint_identity = iothub.ManagedIdentityArgs(user_assigned_identity=identity.id)
        hub = iothub.IotHubResource(
            f"{name}-iot",
            resource_name_=ctx.naming.name("iot"),
            resource_group_name=ctx.resource_group_name,
            location=ctx.location,
            sku=iothub.IotHubSkuInfoArgs(name=args.sku, capacity=args.units),
            identity=iothub.ArmIdentityArgs(type="UserAssigned", user_assigned_identities=[identity.id]),
            properties=iothub.IotHubPropertiesArgs(
                min_tls_version="1.2",
                disable_local_auth=True,
                disable_device_sas=False,  # devices authenticate with per-device SAS or X.509; service SAS is off
                disable_module_sas=True,
                public_network_access=enabled(args.public_network_access),
                routing=iothub.RoutingPropertiesArgs(
                    endpoints=iothub.RoutingEndpointsArgs(
                        event_hubs=[
                            iothub.RoutingEventHubPropertiesArgs(
                                name=HOT_ENDPOINT,
                                authentication_type="identityBased",
                                identity=endpoint_identity,
                                endpoint_uri=pulumi.Output.concat("sb://", args.eventhubs_namespace_fqdn),
                                entity_path=args.telemetry_hub_name,
                            )
                        ],
                        storage_containers=[
                            iothub.RoutingStorageContainerPropertiesArgs(
                                name=COLD_ENDPOINT,
                                authentication_type="identityBased",
                                identity=endpoint_identity,
                                endpoint_uri=args.storage_blob_endpoint,
                                container_name=args.raw_container_name,
                                encoding="avro",
                                file_name_format="iothub/{iothub}/{partition}/{YYYY}/{MM}/{DD}/{HH}/{mm}",
                                batch_frequency_in_seconds=args.cold_path_batch_seconds,
                                max_chunk_size_in_bytes=100 * 1024 * 1024,
                            )
                        ],
                    ),
                    routes=[
                        iothub.RoutePropertiesArgs(
                            name="telemetry-to-eventhubs",
                            source="DeviceMessages",
                            condition="true",
                            endpoint_names=[HOT_ENDPOINT],
                            is_enabled=True,
                        ),
                        iothub.RoutePropertiesArgs(
                            name="telemetry-to-lake",
                            source="DeviceMessages",
                            condition="true",
                            endpoint_names=[COLD_ENDPOINT],
                            is_enabled=True,
                        ),
                    ],
                    # Messages matching no route still reach the built-in endpoint instead of being dropped.
                    fallback_route=iothub.FallbackRoutePropertiesArgs(
                        name="$fallback",
                        source="DeviceMessages",
                        condition="true",
                        endpoint_names=["events"],
                        is_enabled=True,
                    ),
                ),
            ),
            tags=ctx.tags,
            opts=self.child(stateful=True, depends_on=access),
        )
        send_diagnostics(name, ctx, hub.id, self.child())
        self.hub_id: pulumi.Output[str] = hub.id
        self.hub_name: pulumi.Output[str] = hub.name
        self.hostname: pulumi.Output[str] = hub.properties.host_name
        self.identity_id: pulumi.Output[str] = identity.id
        self.principal_id: pulumi.Output[str] = identity.principal_id
        self._register()
