"""The Azure ML registry (shared stack): models and scoring environments promoted from dev to staging to prod.

A registry is Azure ML's documented way to use one model in several workspaces: deployments reference
`azureml://registries/<name>/models/<model>/versions/<v>`. Azure creates the registry's own storage account and
container registry in a managed resource group; their ids are outputs, because a private workspace needs
private endpoints (and managed-network outbound rules) to the registry, its storage and its container registry
(how-to-registry-network-isolation). Creating an environment in a registry whose container registry is private
is not supported, so the registry's public access is a config choice of the shared stack.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import machinelearningservices as ml

from components.base import PlatformComponent
from components.context import PlatformContext, enabled


@dataclass(frozen=True)
class MlRegistryArgs:
    public_network_access: bool
    """Whether the registry is reachable from public networks."""
    replication_locations: Sequence[str]
    """Regions the registry replicates to, besides the stack's own."""


def _region(location: str) -> ml.RegistryRegionArmDetailsArgs:
    return ml.RegistryRegionArmDetailsArgs(
        location=location,
        acr_details=[ml.AcrDetailsArgs(system_created_acr_account=ml.SystemCreatedAcrAccountArgs(acr_account_sku="Premium"))],
        storage_account_details=[
            ml.StorageAccountDetailsArgs(
                system_created_storage_account=ml.SystemCreatedStorageAccountArgs(
                    storage_account_type="Standard_ZRS", storage_account_hns_enabled=False, allow_blob_public_access=False
                )
            )
        ],
    )


def _primary_ids(regions) -> tuple[str, str]:
    """The ids Azure reports for the primary region's system-created storage account and container registry."""
    region = regions[0]
    storage = region.storage_account_details[0].system_created_storage_account.arm_resource_id.resource_id
    acr = region.acr_details[0].system_created_acr_account.arm_resource_id.resource_id
    return storage, acr


class MlRegistry(PlatformComponent):
    TYPE = "mlops:ml:MlRegistry"
    OUTPUTS = ("resource_id", "resource_name", "principal_id", "storage_account_id", "container_registry_id")

    def __init__(self, name: str, ctx: PlatformContext, args: MlRegistryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, ctx, opts)
        registry = ml.Registry(
            f"{name}-mlr",
            registry_name=ctx.naming.name("mlr"),
            resource_group_name=ctx.resource_group_name,
            location=ctx.location,
            identity=ml.ManagedServiceIdentityArgs(type="SystemAssigned"),
            public_network_access=enabled(args.public_network_access),
            region_details=[_region(ctx.location), *(_region(location) for location in args.replication_locations)],
            tags=ctx.tags,
            opts=self.child(stateful=True),
        )
        self.resource_id: pulumi.Output[str] = registry.id
        """The registry's id."""
        self.resource_name: pulumi.Output[str] = registry.name
        """The registry's name."""
        self.principal_id: pulumi.Output[str] = registry.identity.apply(lambda i: i.principal_id)
        """The registry's system-assigned identity."""
        ids = registry.region_details.apply(_primary_ids)
        self.storage_account_id: pulumi.Output[str] = ids.apply(lambda pair: pair[0])
        """The primary region's system-created storage account."""
        self.container_registry_id: pulumi.Output[str] = ids.apply(lambda pair: pair[1])
        """The primary region's system-created container registry."""
        self._register()
