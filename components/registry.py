"""Container registry: identity pulls only; in a private stack Premium and reached through its private endpoint.

The trusted-services bypass stays on: `az acr import` (how the bootstrap brings the CI runner image in) works
into a network-restricted registry only through it (README, "Azure facts"). Pulls by managed identity need the
registry to accept ARM-audience tokens (Container Apps jobs pull the runner image that way).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import containerregistry

from components.base import PlatformComponent
from components.context import PlatformContext, enabled


@dataclass(frozen=True)
class RegistryArgs:
    sku: containerregistry.SkuName
    """Basic, Standard or Premium (private stacks need Premium)."""
    zone_redundant: bool
    """Whether the registry spans availability zones (Premium only)."""


class ContainerRegistry(PlatformComponent):
    TYPE = "mlops:containers:ContainerRegistry"
    OUTPUTS = ("resource_id", "resource_name", "login_server")

    def __init__(self, name: str, ctx: PlatformContext, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, ctx, opts)
        premium = args.sku == containerregistry.SkuName.PREMIUM
        registry = containerregistry.Registry(
            f"{name}-cr",
            registry_name=ctx.naming.name("cr"),
            resource_group_name=ctx.resource_group_name,
            location=ctx.location,
            sku=containerregistry.SkuArgs(name=args.sku),
            admin_user_enabled=False,
            anonymous_pull_enabled=False,
            public_network_access=enabled(not ctx.private, containerregistry.PublicNetworkAccess),
            network_rule_bypass_options=containerregistry.NetworkRuleBypassOptions.AZURE_SERVICES,
            # Zone redundancy and the retention policy exist only on Premium.
            zone_redundancy=enabled(premium and args.zone_redundant, containerregistry.ZoneRedundancy),
            policies=containerregistry.PoliciesArgs(
                retention_policy=containerregistry.RetentionPolicyArgs(days=30, status=containerregistry.PolicyStatus.ENABLED) if premium else None,
                azure_ad_authentication_as_arm_policy=containerregistry.AzureADAuthenticationAsArmPolicyArgs(
                    status=containerregistry.AzureADAuthenticationAsArmPolicyStatus.ENABLED
                ),
            ),
            tags=ctx.tags,
            opts=self.child(stateful=True),
        )
        self.private_endpoints(registry.id, ["registry"])
        self.diagnostics(registry.id)
        self.resource_id: pulumi.Output[str] = registry.id
        """The registry's id."""
        self.resource_name: pulumi.Output[str] = registry.name
        """The registry's name."""
        self.login_server: pulumi.Output[str] = registry.login_server
        """The registry's login server, <name>.azurecr.io."""
        self._register()
