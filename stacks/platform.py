"""The composition: which components each stack gets and how they are wired. Settings come from the config."""

from __future__ import annotations

import pulumi
from pulumi_azure_native import authorization, resources

from components.compute import ComputeCluster, ComputeClusterArgs
from components.context import PlatformContext, standard_tags
from components.datalake import DataLake, DataLakeArgs
from components.keyvault import KeyVault, KeyVaultArgs
from components.mlworkspace import MlWorkspace, MlWorkspaceArgs
from components.monitoring import Monitoring, MonitoringArgs
from components.registry import ContainerRegistry, RegistryArgs
from stacks.config import PlatformConfig, load_program_config
from stacks.outputs import export_outputs


def build_platform(cfg: PlatformConfig | None = None) -> None:
    """Declare every resource of the current stack and export the outputs contract."""
    cfg = cfg or load_program_config()
    naming = cfg.naming
    public = cfg.network.public_network_access
    tags = standard_tags(naming, cfg.owner, cfg.cost_center, cfg.extra_tags)

    group = resources.ResourceGroup(
        "platform-rg",
        resource_group_name=naming.name("rg"),
        location=cfg.location,
        tags=tags,
        opts=pulumi.ResourceOptions(protect=cfg.protect),
    )
    ctx = PlatformContext(
        naming=naming, tags=tags, location=cfg.location, resource_group_name=group.name, protect=cfg.protect
    )

    monitoring = Monitoring(
        "monitoring",
        ctx,
        MonitoringArgs(retention_days=cfg.monitoring.log_retention_days, public_network_access=public),
    )
    ctx = ctx.with_diagnostics(monitoring.log_analytics_workspace_id)

    lake = DataLake(
        "lake",
        ctx,
        DataLakeArgs(
            sku=cfg.storage.sku,
            public_network_access=public,
            blob_soft_delete_days=cfg.storage.blob_soft_delete_days,
            container_soft_delete_days=cfg.storage.container_soft_delete_days,
            raw_to_cool_after_days=cfg.storage.raw_to_cool_after_days,
        ),
    )
    client = authorization.get_client_config_output()
    vault = KeyVault(
        "vault",
        ctx,
        KeyVaultArgs(
            tenant_id=client.tenant_id,
            sku=cfg.key_vault.sku,
            soft_delete_retention_days=cfg.key_vault.soft_delete_retention_days,
            public_network_access=public,
        ),
    )
    registry = ContainerRegistry(
        "registry",
        ctx,
        RegistryArgs(sku=cfg.registry.sku, public_network_access=public, zone_redundant=cfg.is_production),
    )
    workspace = MlWorkspace(
        "workspace",
        ctx,
        MlWorkspaceArgs(
            storage_account_id=lake.storage_account_id,
            key_vault_id=vault.key_vault_id,
            registry_id=registry.registry_id,
            application_insights_id=monitoring.application_insights_id,
            public_network_access=public,
            isolation_mode=cfg.workspace.isolation_mode,
        ),
    )
    compute = ComputeCluster(
        "compute",
        ctx,
        ComputeClusterArgs(
            workspace_name=workspace.workspace_name,
            vm_size=cfg.compute.vm_size,
            vm_priority=cfg.compute.vm_priority,
            min_nodes=cfg.compute.min_nodes,
            max_nodes=cfg.compute.max_nodes,
            idle_minutes_before_scale_down=cfg.compute.idle_minutes_before_scale_down,
            node_public_ip=cfg.compute.node_public_ip,
        ),
    )

    export_outputs(
        {
            "environment": cfg.environment,
            "resource_group_name": group.name,
            "location": cfg.location,
            "workspace_name": workspace.workspace_name,
            "compute_name": compute.compute_name,
            "storage_account_name": lake.storage_account_name,
            "container_urls": lake.container_urls,
            "key_vault_uri": vault.key_vault_uri,
            "registry_login_server": registry.login_server,
            "log_analytics_workspace_id": monitoring.log_analytics_workspace_id,
            "application_insights_connection_string": monitoring.application_insights_connection_string,
            "mlflow_tracking_uri": workspace.mlflow_tracking_uri,
        }
    )
