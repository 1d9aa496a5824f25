"""Event Hubs: the streaming entry (telemetry in, predictions out, alerts to the retrain function), identity-only,
telemetry and predictions captured into the raw zone.

In a private stack the namespace is reached through its `namespace` private endpoint, and its firewall admits
exactly the trusted Azure services that write to it from outside any network: the IoT Hub (its system-assigned
identity routes telemetry) and Azure Monitor action groups (alerts). That needs public access "Enabled" with a
network rule set that denies by default and lets trusted services bypass it (Event Hubs private link docs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import eventhub

from components.base import PlatformComponent
from components.context import PlatformContext

CAPTURED_HUBS = ("telemetry", "predictions")  # the scored requests too: the monitor compacts them into Parquet
# Every token Capture supports, so archives never collide: {Namespace}/{EventHub}/{PartitionId}/date/time.
ARCHIVE_NAME_FORMAT = "{Namespace}/{EventHub}/{PartitionId}/{Year}/{Month}/{Day}/{Hour}/{Minute}/{Second}"


@dataclass(frozen=True)
class HubArgs:
    partitions: int
    """Partitions (fixed at creation on Standard)."""
    retention_hours: int
    """Hours events are kept."""
    consumer_groups: tuple[str, ...]
    """Consumer groups besides $Default."""


@dataclass(frozen=True)
class EventHubsArgs:
    capture_account_id: pulumi.Input[str]
    """The lake's id, where Capture writes."""
    capture_container_name: pulumi.Input[str]
    """The container Capture writes into (raw)."""
    capture_container_id: pulumi.Input[str]
    """That container's id: the scope of the namespace's write role."""
    hubs: Mapping[str, HubArgs]
    """Hub name -> its settings."""
    sku: str
    """Basic, Standard or Premium (name and tier)."""
    capacity: int
    """Throughput or processing units."""
    zone_redundant: bool
    """Whether the namespace spans availability zones."""
    capture_enabled: bool
    """Whether the captured hubs are archived into the lake."""
    capture_interval_seconds: int
    """Capture's time window (60-900 s)."""
    capture_size_limit_mb: int
    """Capture's size window."""


class EventHubs(PlatformComponent):
    TYPE = "mlops:ingestion:EventHubs"
    OUTPUTS = ("resource_id", "resource_name", "namespace_fqdn", "principal_id", "hub_names", "hub_ids")

    def __init__(self, name: str, ctx: PlatformContext, args: EventHubsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, ctx, opts)
        namespace = eventhub.Namespace(
            f"{name}-evhns",
            namespace_name=ctx.naming.name("evhns"),
            resource_group_name=ctx.resource_group_name,
            location=ctx.location,
            sku=eventhub.SkuArgs(name=args.sku, tier=args.sku, capacity=args.capacity),
            identity=eventhub.IdentityArgs(type=eventhub.ManagedServiceIdentityType.SYSTEM_ASSIGNED),
            disable_local_auth=True,
            minimum_tls_version="1.2",
            # Private stacks: "Enabled" for the trusted services only, closed by the rule set below.
            public_network_access=eventhub.PublicNetworkAccess.ENABLED,
            zone_redundant=args.zone_redundant,
            kafka_enabled=args.sku != "Basic",
            tags=ctx.tags,
            opts=self.child(stateful=True),
        )
        if ctx.private:
            eventhub.NamespaceNetworkRuleSet(
                f"{name}-firewall",
                namespace_name=namespace.name,
                resource_group_name=ctx.resource_group_name,
                public_network_access=eventhub.PublicNetworkAccessFlag.ENABLED,
                default_action=eventhub.DefaultAction.DENY,
                trusted_service_access_enabled=True,
                ip_rules=[],
                virtual_network_rules=[],
                opts=self.child(),
            )
        self.private_endpoints(namespace.id, ["namespace"])
        principal_id = namespace.identity.apply(lambda i: i.principal_id)
        capture_access = self.grant("capture-to-raw", principal_id, "Storage Blob Data Contributor", args.capture_container_id)
        hubs: dict[str, eventhub.EventHub] = {}
        for hub_name, hub in args.hubs.items():
            capture = hub_name in CAPTURED_HUBS and args.capture_enabled
            hubs[hub_name] = eventhub.EventHub(
                f"{name}-{hub_name}",
                event_hub_name=hub_name,
                namespace_name=namespace.name,
                resource_group_name=ctx.resource_group_name,
                partition_count=hub.partitions,
                retention_description=eventhub.RetentionDescriptionArgs(
                    cleanup_policy=eventhub.CleanupPolicyRetentionDescription.DELETE, retention_time_in_hours=hub.retention_hours
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
        self.diagnostics(namespace.id)
        self.resource_id: pulumi.Output[str] = namespace.id
        """The namespace's id."""
        self.resource_name: pulumi.Output[str] = namespace.name
        """The namespace's name."""
        self.namespace_fqdn: pulumi.Output[str] = namespace.name.apply(lambda n: f"{n}.servicebus.windows.net")
        """The namespace's host name (identity-based connections use it)."""
        self.principal_id: pulumi.Output[str] = principal_id
        """The namespace's system-assigned identity (what Capture writes as)."""
        self.hub_names: list[str] = list(hubs)
        """The hubs, in config order."""
        self.hub_ids: pulumi.Output[dict[str, str]] = pulumi.Output.all(*(h.id for h in hubs.values())).apply(
            lambda ids: dict(zip(hubs, ids))
        )
        """Hub name -> its id (the scope of hub-level roles)."""
        self._register()

    @staticmethod
    def _capture(args: EventHubsArgs) -> eventhub.CaptureDescriptionArgs:
        return eventhub.CaptureDescriptionArgs(
            enabled=True,
            encoding=eventhub.EncodingCaptureDescription.AVRO,
            interval_in_seconds=args.capture_interval_seconds,
            size_limit_in_bytes=args.capture_size_limit_mb * 1024 * 1024,
            skip_empty_archives=True,
            destination=eventhub.DestinationArgs(
                name="EventHubArchive.AzureBlockBlob",
                storage_account_resource_id=args.capture_account_id,
                blob_container=args.capture_container_name,
                archive_name_format=ARCHIVE_NAME_FORMAT,
                identity=eventhub.CaptureIdentityArgs(type=eventhub.CaptureIdentityType.SYSTEM_ASSIGNED),
            ),
        )
