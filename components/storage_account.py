"""Storage account building blocks shared by the components that own one (the data lake, the retrain trigger).

The secure settings of an account are defined here once, so no component can forget one: identity-only
access (shared keys off, OAuth by default), HTTPS and TLS 1.2, no public blobs, no cross-tenant replication,
and the firewall denying by default unless the stack opens public network access.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pulumi
from pulumi_azure_native import storage

from components.context import PlatformContext, enabled
from components.diagnostics import send_diagnostics


def secure_storage_account(
    resource_name: str,
    ctx: PlatformContext,
    *,
    account_name: str,
    sku: str,
    public_network_access: bool,
    opts: pulumi.ResourceOptions,
    **settings: Any,
) -> storage.StorageAccount:
    """A StorageV2 account with the platform's secure settings; `settings` adds the caller's own (HNS, tier)."""
    return storage.StorageAccount(
        resource_name,
        account_name=account_name,
        resource_group_name=ctx.resource_group_name,
        location=ctx.location,
        kind="StorageV2",
        sku=storage.SkuArgs(name=sku),
        allow_blob_public_access=False,
        allow_shared_key_access=False,
        default_to_o_auth_authentication=True,
        enable_https_traffic_only=True,
        minimum_tls_version="TLS1_2",
        allow_cross_tenant_replication=False,
        public_network_access=enabled(public_network_access),
        network_rule_set=storage.NetworkRuleSetArgs(
            default_action="Allow" if public_network_access else "Deny", bypass="AzureServices"
        ),
        tags=ctx.tags,
        opts=opts,
        **settings,
    )


def private_containers(
    prefix: str, ctx: PlatformContext, account_name: pulumi.Input[str], names: Iterable[str], opts: pulumi.ResourceOptions
) -> dict[str, storage.BlobContainer]:
    """Blob containers without public access, by name."""
    return {
        container: storage.BlobContainer(
            f"{prefix}-{container}",
            container_name=container,
            account_name=account_name,
            resource_group_name=ctx.resource_group_name,
            public_access="None",
            opts=opts,
        )
        for container in names
    }


def send_blob_diagnostics(
    name: str, ctx: PlatformContext, account: storage.StorageAccount, opts: pulumi.ResourceOptions
) -> None:
    """Blob service logs and transaction metrics to Log Analytics (the account itself emits no logs)."""
    send_diagnostics(
        name,
        ctx,
        account.id.apply(lambda account_id: f"{account_id}/blobServices/default"),
        opts,
        metric_categories=("Transaction",),
    )
