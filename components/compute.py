"""The training cluster: scales to zero, identity-only, no public node IPs unless a stack allows them."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import machinelearningservices as ml

from components.base import PlatformComponent
from components.context import PlatformContext


@dataclass(frozen=True)
class ComputeClusterArgs:
    """The cluster's name is fixed by naming (the workspace names it as its image-build compute first)."""

    workspace_name: pulumi.Input[str]
    """The workspace the cluster belongs to."""
    vm_size: str
    """The nodes' VM size."""
    vm_priority: str
    """Dedicated or LowPriority."""
    min_nodes: int
    """Nodes kept when idle (0: scale to zero)."""
    max_nodes: int
    """The most nodes a scale-out reaches."""
    idle_minutes_before_scale_down: int
    """Idle minutes before a node is released."""
    node_public_ip: bool
    """Whether nodes get a public IP (off with a managed network)."""


def cluster_name(ctx: PlatformContext) -> str:
    return ctx.naming.name("mlc", "cpu")


class ComputeCluster(PlatformComponent):
    TYPE = "mlops:ml:ComputeCluster"
    OUTPUTS = ("resource_id", "resource_name", "principal_id")

    def __init__(self, name: str, ctx: PlatformContext, args: ComputeClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, ctx, opts)
        cluster = ml.Compute(
            f"{name}-mlc",
            compute_name=cluster_name(ctx),
            workspace_name=args.workspace_name,
            resource_group_name=ctx.resource_group_name,
            location=ctx.location,
            identity=ml.ManagedServiceIdentityArgs(type=ml.ManagedServiceIdentityType.SYSTEM_ASSIGNED),
            properties=ml.AmlComputeArgs(
                compute_type="AmlCompute",
                disable_local_auth=True,
                properties=ml.AmlComputePropertiesArgs(
                    vm_size=args.vm_size,
                    vm_priority=args.vm_priority,
                    os_type=ml.OsType.LINUX,
                    enable_node_public_ip=args.node_public_ip,
                    remote_login_port_public_access=ml.RemoteLoginPortPublicAccess.DISABLED,
                    scale_settings=ml.ScaleSettingsArgs(
                        min_node_count=args.min_nodes,
                        max_node_count=args.max_nodes,
                        node_idle_time_before_scale_down=f"PT{args.idle_minutes_before_scale_down}M",
                    ),
                ),
            ),
            tags=ctx.tags,
            opts=self.child(),
        )
        self.resource_id: pulumi.Output[str] = cluster.id
        """The cluster's id."""
        self.resource_name: pulumi.Output[str] = cluster.name
        """The cluster's name."""
        self.principal_id: pulumi.Output[str] = cluster.identity.apply(lambda i: i.principal_id)
        """The cluster's system-assigned identity (what jobs and the monitor run as)."""
        self._register()
