"""Container registry: identity pulls only; in a private stack Premium and reached through its private endpoint.

The trusted-services bypass stays on: `az acr import` (how the bootstrap brings the CI runner image in) works
into a network-restricted registry only through it (README, "Azure facts"). Pulls by managed identity need the
registry to accept ARM-audience tokens (Container Apps jobs pull the runner image that way).

Edge devices in the field pull the module and model images over the internet (IoT Edge has no private path to a
registry short of a VPN or a connected registry). So a private stack with edge devices keeps the private endpoint
for the platform and opens the public endpoint to the sites only: public access Enabled, `networkRuleSet`
defaultAction Deny with one Allow IP rule per `iotHub.deviceIpRanges` entry. IP rules exist only on Premium, at most
100, apply to the public endpoint and not to private endpoints, and `Disabled` overrides them all
(container-registry-access-selected-networks). Dedicated data endpoints (Premium) serve the layers from
`<registry>.<region>.data.azurecr.io` instead of `*.blob.core.windows.net`, so a site's outbound firewall names two
hosts of this registry only (container-registry-dedicated-data-endpoints). Without edge devices the public endpoint
stays Disabled.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    site_ip_ranges: Sequence[str]
    """Private stacks with edge devices: the sites' egress ranges, the only public sources admitted (see above)."""


class ContainerRegistry(PlatformComponent):
    TYPE = "mlops:containers:ContainerRegistry"
    OUTPUTS = ("resource_id", "resource_name", "login_server")

    def __init__(self, name: str, ctx: PlatformContext, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, ctx, opts)
        premium = args.sku == containerregistry.SkuName.PREMIUM
        sites = ctx.private and bool(args.site_ip_ranges)
        registry = containerregistry.Registry(
            f"{name}-cr",
            registry_name=ctx.naming.name("cr"),
            resource_group_name=ctx.resource_group_name,
            location=ctx.location,
            sku=containerregistry.SkuArgs(name=args.sku),
            admin_user_enabled=False,
            anonymous_pull_enabled=False,
            public_network_access=enabled(not ctx.private or sites, containerregistry.PublicNetworkAccess),
            network_rule_set=containerregistry.NetworkRuleSetArgs(
                default_action=containerregistry.DefaultAction.DENY,
                ip_rules=[containerregistry.IPRuleArgs(i_p_address_or_range=r, action=containerregistry.Action.ALLOW) for r in args.site_ip_ranges],
            ) if sites else None,
            data_endpoint_enabled=True if sites else None,
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
