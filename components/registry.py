"""Container registry for training and serving images: identity pulls only, private outside dev."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import containerregistry

from components.context import PlatformComponent, PlatformContext, enabled
from components.diagnostics import send_diagnostics


@dataclass(frozen=True)
class RegistryArgs:
    sku: str = "Premium"
    public_network_access: bool = False
    zone_redundant: bool = False


class ContainerRegistry(PlatformComponent):
    TYPE = "mlops:containers:ContainerRegistry"
    OUTPUTS = ("registry_id", "registry_name", "login_server")

    def __init__(self, name: str, ctx: PlatformContext, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, ctx, opts)
        premium = args.sku == "Premium"
        registry = containerregistry.Registry(
            f"{name}-cr",
            registry_name=ctx.naming.name("cr"),
            resource_group_name=ctx.resource_group_name,
            location=ctx.location,
            sku=containerregistry.SkuArgs(name=args.sku),
            admin_user_enabled=False,
            anonymous_pull_enabled=False,
            public_network_access=enabled(args.public_network_access),
            network_rule_bypass_options="AzureServices",
            # Zone redundancy and the retention policy exist only on Premium.
            zone_redundancy=enabled(premium and args.zone_redundant),
            policies=containerregistry.PoliciesArgs(
                retention_policy=containerregistry.RetentionPolicyArgs(days=30, status="enabled")
            )
            if premium
            else None,
            tags=ctx.tags,
            opts=self.child(stateful=True),
        )
        send_diagnostics(name, ctx, registry.id, self.child())
        self.registry_id: pulumi.Output[str] = registry.id
        self.registry_name: pulumi.Output[str] = registry.name
        self.login_server: pulumi.Output[str] = registry.login_server
        self._register()
