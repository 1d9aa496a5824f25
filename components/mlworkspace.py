"""The Azure ML workspace with its own storage account, the lake's zones as datastores, and its managed network.

- Workspace storage: a StorageV2 account without hierarchical namespace (Azure ML refuses an HNS account as
  the workspace's storage: "Cannot use storage with HNS enabled"), shared keys off, identity datastores.
- Datastores: each lake zone is an identity-based ADLS Gen2 datastore (no credentials: the caller's identity).
- Managed network (`workspace.isolationMode`): provisioned when the workspace is created (online deployments
  cannot be created before), with the cluster building images (a registry behind a network cannot), and
  outbound private-endpoint rules to everything jobs and deployments reach beyond the workspace's own storage,
  Key Vault and registry (those get their endpoints automatically). FQDN rules only for a package mirror.
- The workspace identity approves the managed private endpoints on the targets (not automatic since April 2025).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import machinelearningservices as ml
from pulumi_azure_native import storage

from components.base import PlatformComponent
from components.context import PlatformContext, enabled
from components.storage_account import secure_storage_account

WORKSPACE_STORAGE_GROUPS = ("blob", "file", "queue", "table")  # queue and table: batch jobs (ParallelRunStep)


@dataclass(frozen=True)
class OutboundTarget:
    """A private-endpoint outbound rule of the managed network: `subresource` of the resource `target_id`."""

    target_id: pulumi.Input[str]
    """The id of the resource the rule reaches."""
    subresource: str
    """Its private-link group (blob, dfs, namespace, amlregistry, ...)."""


@dataclass(frozen=True)
class MlWorkspaceArgs:
    """Required: the associated resources, isolation, the image-build cluster's name (created after the
    workspace, by name), outbound targets (rule name -> target), package-mirror FQDNs, the lake's zones."""

    vault_id: pulumi.Input[str]
    """The stack's Key Vault (the workspace's associated vault)."""
    container_registry_id: pulumi.Input[str]
    """The stack's container registry (the workspace's images)."""
    application_insights_id: pulumi.Input[str]
    """The stack's Application Insights."""
    storage_sku: storage.SkuName
    """The workspace storage account's redundancy."""
    isolation_mode: str
    """The managed network: Disabled, AllowInternetOutbound or AllowOnlyApprovedOutbound."""
    image_build_compute: str
    """The cluster that builds images (created after the workspace, by name)."""
    outbound: Mapping[str, OutboundTarget]
    """Outbound private-endpoint rules: rule name -> target."""
    package_mirror_fqdns: Sequence[str]
    """FQDN rules for a package mirror (AllowOnlyApprovedOutbound only)."""
    firewall_sku: ml.FirewallSku
    """The managed network's firewall SKU when FQDN rules need one."""
    lake_account_name: pulumi.Input[str]
    """The lake's account, registered as datastores."""
    lake_zones: Sequence[str]
    """The lake's zones: one datastore each."""
    approver_scopes: Sequence[pulumi.Input[str]]
    """Where the workspace identity approves its managed private endpoints."""


class MlWorkspace(PlatformComponent):
    TYPE = "mlops:ml:MlWorkspace"
    OUTPUTS = ("resource_id", "resource_name", "principal_id", "mlflow_tracking_uri", "storage_account_id",
               "storage_account_name", "datastores")  # fmt: skip

    def __init__(self, name: str, ctx: PlatformContext, args: MlWorkspaceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, ctx, opts)
        account = secure_storage_account(
            f"{name}-st",
            ctx,
            account_name=ctx.naming.name("st", "mlw"),
            sku=args.storage_sku,
            opts=self.child(stateful=True),
            access_tier=storage.AccessTier.HOT,
            is_hns_enabled=False,
        )
        self.blob_diagnostics(account, "st")
        self.private_endpoints(account.id, WORKSPACE_STORAGE_GROUPS, label="st")
        isolated = args.isolation_mode != "Disabled"
        approved_only = args.isolation_mode == "AllowOnlyApprovedOutbound"
        # Batch jobs (ParallelRunStep) use the workspace storage's queues and tables: those endpoints are not created
        # automatically (how-to-managed-network, "Scenario: Use batch endpoints or ParallelRunStep").
        outbound = {**args.outbound, **{f"storage-{group}": OutboundTarget(account.id, group) for group in ("queue", "table")}}
        rules: dict[str, ml.PrivateEndpointOutboundRuleArgs | ml.FqdnOutboundRuleArgs] = {
            rule: ml.PrivateEndpointOutboundRuleArgs(
                type="PrivateEndpoint",
                category=ml.RuleCategory.USER_DEFINED,
                destination=ml.PrivateEndpointDestinationArgs(
                    service_resource_id=target.target_id, subresource_target=target.subresource, spark_enabled=False
                ),
            )
            for rule, target in outbound.items()
        }
        rules.update(
            {
                f"mirror-{index}": ml.FqdnOutboundRuleArgs(type="FQDN", category=ml.RuleCategory.USER_DEFINED, destination=fqdn)
                for index, fqdn in enumerate(args.package_mirror_fqdns if approved_only else ())
            }
        )
        workspace = ml.Workspace(
            f"{name}-mlw",
            workspace_name=ctx.naming.name("mlw"),
            resource_group_name=ctx.resource_group_name,
            location=ctx.location,
            kind="Default",
            sku=ml.SkuArgs(name="Basic", tier="Basic"),
            identity=ml.ManagedServiceIdentityArgs(type=ml.ManagedServiceIdentityType.SYSTEM_ASSIGNED),
            storage_account=account.id,
            key_vault=args.vault_id,
            container_registry=args.container_registry_id,
            application_insights=args.application_insights_id,
            system_datastores_auth_mode="Identity",
            public_network_access=enabled(not ctx.private, ml.PublicNetworkAccessType),
            allow_public_access_when_behind_vnet=False,
            managed_network=ml.ManagedNetworkSettingsArgs(
                isolation_mode=args.isolation_mode,
                outbound_rules=(rules or None) if isolated else None,
                firewall_sku=args.firewall_sku if approved_only and args.package_mirror_fqdns else None,
            ),
            provision_network_now=True if isolated else None,
            image_build_compute=args.image_build_compute if isolated else None,
            v1_legacy_mode=False,
            tags=ctx.tags,
            # Protected, not locked: a lock is inherited by child resources, and every rollout (promote --complete or
            # --rollback) deletes an online deployment under the workspace. A deleted workspace is soft-deleted for
            # 14 days. The pack's stateful-resources-locked exempts the workspace for the same reason.
            opts=self.child(stateful=True, lock=False),
        )
        self.private_endpoints(workspace.id, ["amlworkspace"])
        self.diagnostics(workspace.id)
        principal_id = workspace.identity.apply(lambda i: i.principal_id)
        if isolated:
            for index, scope in enumerate(args.approver_scopes):
                self.grant(f"approve-endpoints-{index}", principal_id, "Azure AI Enterprise Network Connection Approver", scope)
        datastores = {
            zone: ml.Datastore(
                f"{name}-ds-{zone}",
                name=zone,
                workspace_name=workspace.name,
                resource_group_name=ctx.resource_group_name,
                properties=ml.AzureDataLakeGen2DatastoreArgs(
                    datastore_type="AzureDataLakeGen2",
                    account_name=args.lake_account_name,
                    filesystem=zone,
                    credentials=ml.NoneDatastoreCredentialsArgs(credentials_type="None"),
                    # Studio and service-side reads of the lake use the workspace identity.
                    service_data_access_auth_identity="WorkspaceSystemAssignedIdentity",
                    description=f"The lake's {zone} zone (identity-based)",
                ),
                opts=self.child(),
            )
            for zone in args.lake_zones
        }
        self.resource_id: pulumi.Output[str] = workspace.id
        """The workspace's id."""
        self.resource_name: pulumi.Output[str] = workspace.name
        """The workspace's name."""
        self.principal_id: pulumi.Output[str] = principal_id
        """The workspace's system-assigned identity."""
        self.mlflow_tracking_uri: pulumi.Output[str] = workspace.ml_flow_tracking_uri
        """The workspace's MLflow tracking URI (azureml://...)."""
        self.storage_account_id: pulumi.Output[str] = account.id
        """The workspace storage account's id."""
        self.storage_account_name: pulumi.Output[str] = account.name
        """The workspace storage account's name."""
        self.datastores: list[str] = list(datastores)
        """The datastores' names (the lake's zones)."""
        self._register()
