"""Event Hubs: the streaming entry (telemetry in, predictions out), identity-only, captured into the raw zone."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import eventhub

from components.context import PlatformComponent, PlatformContext, enabled
from components.diagnostics import send_diagnostics
from components.roles import Grant, grant

CAPTURED_HUB = "telemetry"
# Every token Capture supports, so archives never collide: {Namespace}/{EventHub}/{PartitionId}/date/time.
ARCHIVE_NAME_FORMAT = "{Namespace}/{EventHub}/{PartitionId}/{Year}/{Month}/{Day}/{Hour}/{Minute}/{Second}"


@dataclass(frozen=True)
class HubArgs:
    partitions: int = 2
    retention_hours: int = 24
    consumer_groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class EventHubsArgs:
    subscription_id: pulumi.Input[str]
    capture_account_id: pulumi.Input[str]
    capture_container_name: pulumi.Input[str]
    capture_container_id: pulumi.Input[str]
    hubs: Mapping[str, HubArgs] = field(default_factory=dict)
    sku: str = "Standard"
    capacity: int = 1
    public_network_access: bool = False
    zone_redundant: bool = False
    capture_enabled: bool = True
    capture_interval_seconds: int = 300
    capture_size_limit_mb: int = 300


class EventHubs(PlatformComponent):
    TYPE = "mlops:ingestion:EventHubs"
    OUTPUTS = ("namespace_id", "namespace_name", "namespace_fqdn", "principal_id", "hub_names", "hub_ids")

    def __init__(self, name: str, ctx: PlatformContext, args: EventHubsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, ctx, opts)
        namespace = eventhub.Namespace(
            f"{name}-evhns",
            namespace_name=ctx.naming.name("evhns"),
            resource_group_name=ctx.resource_group_name,
            location=ctx.location,
            sku=eventhub.SkuArgs(name=args.sku, tier=args.sku, capacity=args.capacity),
            identity=eventhub.IdentityArgs(type="SystemAssigned"),
            disable_local_auth=True,
            minimum_tls_version="1.2",
            public_network_access=enabled(args.public_network_access),
            zone_redundant=args.zone_redundant,
            kafka_enabled=args.sku != "Basic",
            tags=ctx.tags,
            opts=self.child(stateful=True),
        )
        principal_id = namespace.identity.apply(lambda i: i.principal_id)
        capture_access = grant(
            name,
            args.subscription_id,
            Grant("capture-to-raw", principal_id, "Storage Blob Data Contributor", args.capture_container_id),
            self.child(),
        )
        hubs: dict[str, eventhub.EventHub] = {}
        for hub_name, hub in args.hubs.items():
            capture = hub_name == CAPTURED_HUB and args.capture_enabled
            hubs[hub_name] = eventhub.EventHub(
                f"{name}-{hub_name}",
                event_hub_name=hub_name,
                namespace_name=namespace.name,
                resource_group_name=ctx.resource_group_name,
                partition_count=hub.partitions,
                retention_description=eventhub.RetentionDescriptionArgs(
                    cleanup_policy="Delete", retention_time_in_hours=hub.retention_hours
                ),
                capture_description=self._capture(args) if capture else None,
                # Capture writes with the namespace identity: its data role must exist first.
                opts=self.child(depends_on=[capture_access] if capture else None),
            )
            for group in hub.consumer_groups:
                eventhub.ConsumerGroup(
                    f"{name}-{hub_name}-{group}",
                    consumer_group_name=group,
                    event_hub_name=hubs[hub_name].name,
                    namespace_name=namespace.name,
                    resource_group_name=ctx.resource_group_name,
                    opts=self.child(),
                )
        send_diagnostics(name, ctx, namespace.id, self.child())
        self.namespace_id: pulumi.Output[str] = namespace.id
        self.namespace_name: pulumi.Output[str] = namespace.name
        self.namespace_fqdn: pulumi.Output[str] = namespace.name.apply(lambda n: f"{n}.servicebus.windows.net")
        self.principal_id: pulumi.Output[str] = principal_id
        self.hub_names: list[str] = list(hubs)
        self.hub_ids: pulumi.Output[dict[str, str]] = pulumi.Output.all(*(h.id for h in hubs.values())).apply(
            lambda ids: dict(zip(hubs, ids))
        )
        self._register()

    @staticmethod
    def _capture(args: EventHubsArgs) -> eventhub.CaptureDescriptionArgs:
        return eventhub.CaptureDescriptionArgs(
            enabled=True,
            encoding="Avro",
            interval_in_seconds=args.capture_interval_seconds,
            size_limit_in_bytes=args.capture_size_limit_mb * 1024 * 1024,
            skip_empty_archives=True,
            destination=eventhub.DestinationArgs(
                name="EventHubArchive.AzureBlockBlob",
                storage_account_resource_id=args.capture_account_id,
                blob_container=args.capture_container_name,
                archive_name_format=ARCHIVE_NAME_FORMAT,
                identity=eventhub.CaptureIdentityArgs(type="SystemAssigned"),
            ),
        )
