"""The data lake: ADLS Gen2 with raw / curated / features zones, identity-only access and soft delete."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import storage

from components.context import PlatformComponent, PlatformContext
from components.storage_account import private_containers, secure_storage_account, send_blob_diagnostics

ZONES = ("raw", "curated", "features")


@dataclass(frozen=True)
class DataLakeArgs:
    sku: str = "Standard_LRS"
    public_network_access: bool = False
    blob_soft_delete_days: int = 7
    container_soft_delete_days: int = 7
    raw_to_cool_after_days: int = 30


class DataLake(PlatformComponent):
    TYPE = "mlops:data:DataLake"
    OUTPUTS = ("storage_account_id", "storage_account_name", "blob_endpoint", "dfs_endpoint", "container_urls", "container_ids")

    def __init__(self, name: str, ctx: PlatformContext, args: DataLakeArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, ctx, opts)
        account = secure_storage_account(
            f"{name}-st",
            ctx,
            account_name=ctx.naming.name("st"),
            sku=args.sku,
            public_network_access=args.public_network_access,
            opts=self.child(stateful=True),
            access_tier="Hot",
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
                        type="Lifecycle",
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
        send_blob_diagnostics(name, ctx, account, self.child(depends_on=[blob_service]))
        self.storage_account_id: pulumi.Output[str] = account.id
        self.storage_account_name: pulumi.Output[str] = account.name
        self.blob_endpoint: pulumi.Output[str] = account.primary_endpoints.blob
        self.dfs_endpoint: pulumi.Output[str] = account.primary_endpoints.dfs
        self.container_urls: pulumi.Output[dict[str, str]] = pulumi.Output.all(
            account.primary_endpoints.blob, *(c.name for c in containers.values())
        ).apply(lambda v: {zone: f"{v[0].rstrip('/')}/{container}" for zone, container in zip(ZONES, v[1:])})
        self.container_ids: dict[str, pulumi.Output[str]] = {zone: c.id for zone, c in containers.items()}
        self._register()
