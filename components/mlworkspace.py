"""The Azure ML workspace, wired to the lake, Key Vault, registry and Application Insights by identity."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import machinelearningservices as ml

from components.context import PlatformComponent, PlatformContext, enabled
from components.diagnostics import send_diagnostics


@dataclass(frozen=True)
class MlWorkspaceArgs:
    storage_account_id: pulumi.Input[str]
    key_vault_id: pulumi.Input[str]
    registry_id: pulumi.Input[str]
    application_insights_id: pulumi.Input[str]
    public_network_access: bool = False
    isolation_mode: str = "AllowOnlyApprovedOutbound"


class MlWorkspace(PlatformComponent):
    TYPE = "mlops:ml:MlWorkspace"
    OUTPUTS = ("workspace_id", "workspace_name", "principal_id", "mlflow_tracking_uri")

    def __init__(self, name: str, ctx: PlatformContext, args: MlWorkspaceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, ctx, opts)
        workspace = ml.Workspace(
            f"{name}-mlw",
            workspace_name=ctx.naming.name("mlw"),
            resource_group_name=ctx.resource_group_name,
            location=ctx.location,
            kind="Default",
            sku=ml.SkuArgs(name="Basic", tier="Basic"),
            identity=ml.ManagedServiceIdentityArgs(type="SystemAssigned"),
            storage_account=args.storage_account_id,
            key_vault=args.key_vault_id,
            container_registry=args.registry_id,
            application_insights=args.application_insights_id,
            system_datastores_auth_mode="Identity",
            public_network_access=enabled(args.public_network_access),
            managed_network=ml.ManagedNetworkSettingsArgs(isolation_mode=args.isolation_mode),
            v1_legacy_mode=False,
            tags=ctx.tags,
            opts=self.child(stateful=True),
        )
        send_diagnostics(name, ctx, workspace.id, self.child())
        self.workspace_id: pulumi.Output[str] = workspace.id
        self.workspace_name: pulumi.Output[str] = workspace.name
        self.principal_id: pulumi.Output[str] = workspace.identity.apply(lambda i: i.principal_id)
        self.mlflow_tracking_uri: pulumi.Output[str] = workspace.ml_flow_tracking_uri
        self._register()
