"""The data lake: ADLS Gen2 with its zones (raw / curated / features for data, predictions / labels / monitoring
for the monitoring loop), identity-only access and soft delete.

The lake is not the workspace's storage (Azure ML refuses a hierarchical namespace there); the workspace
registers each zone as an identity-based ADLS Gen2 datastore. In a private stack it is reached through its
`blob` and `dfs` private endpoints, and its firewall lets exactly its trusted writers in from outside any
network: the IoT Hub's routing and Event Hubs Capture (resource-instance rules, see storage_account.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import storage

from components.base import PlatformComponent
from components.context import PlatformContext
from components.storage_account import private_containers, secure_storage_account

# raw: what arrives (IoT Hub routing, Event Hubs Capture of telemetry and of the scored requests); curated and
# features: prepared data; predictions: the scored requests as Parquet (the monitor compacts the captures);
# labels: ground truth that arrives later; monitoring: the monitor's drift and quality reports.
ZONES = ("raw", "curated", "features", "predictions", "labels", "monitoring")


@dataclass(frozen=True)
class DataLakeArgs:
    """Redundancy, retention and tiering from the typed config; `trusted_writers`: ids of the Azure resources
    that write into the lake as trusted services (their system-assigned identities hold the data roles)."""

    sku: storage.SkuName
    """The account's redundancy (Standard_LRS, Standard_ZRS, ...)."""
    blob_soft_delete_days: int
    """Days a deleted blob can be restored."""
    container_soft_delete_days: int
    """Days a deleted container can be restored."""
    raw_to_cool_after_days: int
    """Days after which raw blobs move to the Cool tier."""
    trusted_writers: Sequence[pulumi.Input[str]]
    """Ids of the Azure resources that write as trusted services (resource-instance rules)."""
    raw_immutability_days: int
    """Days a raw blob is write-once after it is written; 0: no WORM policy (dev)."""


class DataLake(PlatformComponent):
    TYPE = "mlops:data:DataLake"
    OUTPUTS = ("resource_id", "resource_name", "blob_endpoint", "dfs_endpoint", "container_urls", "container_ids")

    def __init__(self, name: str, ctx: PlatformContext, args: DataLakeArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, ctx, opts)
        account = secure_storage_account(
            f"{name}-st",
            ctx,
            account_name=ctx.naming.name("st"),
            sku=args.sku,
            trusted_writers=args.trusted_writers,
            opts=self.child(stateful=True),
            access_tier=storage.AccessTier.HOT,
            is_hns_enabled=True,
        )
        blob_service = storage.BlobServiceProperties(
            f"{name}-blob",
            account_name=account.name,
            resource_group_name=ctx.resource_group_name,
            blob_services_name="default",
            delete_retention_policy=storage.DeleteRetentionPolicyArgs(enabled=True, days=args.blob_soft_delete_days),
            container_delete_retention_policy=storage.DeleteRetentionPolicyArgs(
                enabled=True, days=args.container_soft_delete_days
            ),
            opts=self.child(),
        )
        containers = private_containers(
            name, ctx, account.name, ZONES, self.child(depends_on=[blob_service])
        )
        if args.raw_immutability_days:
            self._write_once_raw(name, ctx, account, containers["raw"], args.raw_immutability_days)
        storage.ManagementPolicy(
            f"{name}-lifecycle",
            account_name=account.name,
            resource_group_name=ctx.resource_group_name,
            management_policy_name="default",
            policy=storage.ManagementPolicySchemaArgs(
                rules=[
                    storage.ManagementPolicyRuleArgs(
                        name="raw-to-cool",
                        enabled=True,
                        type=storage.RuleType.LIFECYCLE,
                        definition=storage.ManagementPolicyDefinitionArgs(
                            filters=storage.ManagementPolicyFilterArgs(blob_types=["blockBlob"], prefix_match=["raw/"]),
                            actions=storage.ManagementPolicyActionArgs(
                                base_blob=storage.ManagementPolicyBaseBlobArgs(
                                    tier_to_cool=storage.DateAfterModificationArgs(
                                        days_after_modification_greater_than=args.raw_to_cool_after_days
                                    )
                                )
                            ),
                        ),
                    )
                ]
            ),
            opts=self.child(),
        )
        self.blob_diagnostics(account, depends_on=[blob_service])
        self.private_endpoints(account.id, ["blob", "dfs"])
        self.resource_id: pulumi.Output[str] = account.id
        """The lake's storage account id."""
        self.resource_name: pulumi.Output[str] = account.name
        """The lake's storage account name."""
        self.blob_endpoint: pulumi.Output[str] = account.primary_endpoints.blob
        """The account's blob endpoint."""
        self.dfs_endpoint: pulumi.Output[str] = account.primary_endpoints.dfs
        """The account's dfs (ADLS Gen2) endpoint."""
        self.container_urls: pulumi.Output[dict[str, str]] = pulumi.Output.all(
            account.primary_endpoints.blob, *(c.name for c in containers.values())
        ).apply(lambda v: {zone: f"{v[0].rstrip('/')}/{container}" for zone, container in zip(ZONES, v[1:])})
        """Zone -> its container's blob URL."""
        self.container_ids: dict[str, pulumi.Output[str]] = {zone: c.id for zone, c in containers.items()}
        """Zone -> its container's id (the scope of zone-level roles)."""
        self._register()

    def _write_once_raw(self, name: str, ctx: PlatformContext, account, raw, days: int) -> storage.BlobContainerImmutabilityPolicy:
        """A time-based retention (WORM) policy on `raw`: for `days` after a blob is written nobody can overwrite or
        delete it; creating new blobs stays allowed, which is all Event Hubs Capture, IoT Hub routing and Data Factory
        do (each writes new files). Container-level WORM is supported with a hierarchical namespace, where a blob under
        it cannot be renamed or moved either (immutable-container-level-worm-policies). Appends to existing blobs stay
        refused (allowProtectedAppendWrites false): a registered training file cannot grow either.

        Left **unlocked**: an unlocked policy can be shortened or removed (by whoever may delete it; Pulumi's protect
        guards it outside dev), a locked one only lengthened, never removed. Locking is a separate, irreversible ARM
        action, documented in the README (Data layer) rather than taken by the program. The lifecycle rule on `raw`
        only moves blobs to Cool, which immutability allows; a delete rule there would fail during the retention."""
        return storage.BlobContainerImmutabilityPolicy(
            f"{name}-raw-worm",
            account_name=account.name,
            container_name=raw.name,
            resource_group_name=ctx.resource_group_name,
            immutability_policy_name="default",
            immutability_period_since_creation_in_days=days,
            allow_protected_append_writes=False,
            opts=self.child(stateful=True, lock=False, depends_on=[raw]),
        )
