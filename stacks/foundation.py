"""What every stack starts from: its resource group and the context its components share."""

from __future__ import annotations

import pulumi
from pulumi_azure_native import authorization, resources

from components.context import PlatformContext, standard_tags
from components.serving import Principal
from stacks.config import PlatformConfig, SharedConfig


def base_context(cfg: PlatformConfig | SharedConfig) -> tuple[resources.ResourceGroup, PlatformContext]:
    """The stack's resource group (protected outside dev) and the context every component shares."""
    tags = standard_tags(cfg.naming, cfg.owner, cfg.cost_center, cfg.extra_tags)
    group = resources.ResourceGroup(
        "platform-rg",
        resource_group_name=cfg.naming.name("rg"),
        location=cfg.location,
        tags=tags,
        opts=pulumi.ResourceOptions(protect=cfg.protect),
    )
    client = authorization.get_client_config_output()
    ctx = PlatformContext(
        naming=cfg.naming,
        tags=tags,
        location=cfg.location,
        resource_group_name=group.name,
        subscription_id=client.subscription_id,
        tenant_id=client.tenant_id,
        protect=cfg.protect,
    )
    return group, ctx


def principals(configured) -> list[Principal]:
    """Configured Entra principals (operators, callers) as the components take them."""
    return [Principal(p.object_id, p.type) for p in configured]
