"""The `shared` stack: what every environment uses, today the Azure ML registry models and environments are
promoted through. Environment stacks read its outputs (`SharedOutputs`) through a StackReference."""

from __future__ import annotations

from components.ml_registry import MlRegistry, MlRegistryArgs
from core.config import SharedConfig
from core.outputs import SharedOutputs
from stacks.foundation import base_context, export_outputs


def build_shared(cfg: SharedConfig) -> None:
    group, ctx = base_context(cfg)
    registry = MlRegistry(
        "registry",
        ctx,
        MlRegistryArgs(
            public_network_access=cfg.ml_registry.public_network_access,
            replication_locations=cfg.ml_registry.replication_locations,
        ),
    )
    export_outputs(
        SharedOutputs,
        {
            "resource_group_name": group.name,
            "location": cfg.location,
            "registry_name": registry.resource_name,
            "registry_id": registry.resource_id,
            "registry_storage_account_id": registry.storage_account_id,
            "registry_container_registry_id": registry.container_registry_id,
        },
    )
