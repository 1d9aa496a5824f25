"""Storage account building blocks shared by the components that own one (the data lake, the retrain trigger).

The secure settings of an account are defined here once, so no component can forget one: identity-only
access (shared keys off, OAuth by default), HTTPS and TLS 1.2, no public blobs, no cross-tenant replication,
and the network access of the stack's mode (see `secure_storage_account`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pulumi
from pulumi_azure_native import storage

from components.context import PlatformContext, enabled


def secure_storage_account(
    resource_name: str,
    ctx: PlatformContext,
    *,
    account_name: str,
    sku: storage.SkuName,
    opts: pulumi.ResourceOptions,
    trusted_writers: Sequence[pulumi.Input[str]] = (),
    **settings: Any,
) -> storage.StorageAccount:
    """A StorageV2 account with the platform's secure settings; `settings` adds the caller's own (HNS, tier).

    Network access follows the stack: public mode allows every network (Entra ID auth only). A private stack
    reaches the account through private endpoints only (public access Disabled), unless Azure services must
    write to it from outside any network (`trusted_writers`, resource ids: IoT Hub routing, Event Hubs Capture):
    then public access is "Enabled from selected networks" with no network selected, `defaultAction: Deny`,
    the trusted-services bypass and one resource-instance rule per writer, because those exceptions exist only
    in that mode (README, "Network": storage-network-security-trusted-azure-services).
    """
    if not ctx.private:
        public, rules = (
            storage.PublicNetworkAccess.ENABLED,
            storage.NetworkRuleSetArgs(default_action=storage.DefaultAction.ALLOW, bypass=storage.Bypass.AZURE_SERVICES),
        )
    else:
        public = enabled(bool(trusted_writers), storage.PublicNetworkAccess)
        rules = storage.NetworkRuleSetArgs(
            default_action=storage.DefaultAction.DENY,
            bypass=storage.Bypass.AZURE_SERVICES if trusted_writers else storage.Bypass.NONE,
            resource_access_rules=[
                storage.ResourceAccessRuleArgs(tenant_id=ctx.tenant_id, resource_id=writer) for writer in trusted_writers
            ]
            or None,
        )
    return storage.StorageAccount(
        resource_name,
        account_name=account_name,
        resource_group_name=ctx.resource_group_name,
        location=ctx.location,
        kind=storage.Kind.STORAGE_V2,
        sku=storage.SkuArgs(name=sku),
        allow_blob_public_access=False,
        allow_shared_key_access=False,
        default_to_o_auth_authentication=True,
        enable_https_traffic_only=True,
        minimum_tls_version=storage.MinimumTlsVersion.TLS1_2,
        allow_cross_tenant_replication=False,
        public_network_access=public,
        network_rule_set=rules,
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
            public_access=storage.PublicAccess.NONE,
            opts=opts,
        )
        for container in names
    }
