"""Key Vault: RBAC-only, purge-protected, closed to the internet outside dev."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import keyvault

from components.context import PlatformComponent, PlatformContext, enabled
from components.diagnostics import send_diagnostics


@dataclass(frozen=True)
class KeyVaultArgs:
    tenant_id: pulumi.Input[str]
    sku: str = "standard"
    soft_delete_retention_days: int = 90
    public_network_access: bool = False


class KeyVault(PlatformComponent):
    TYPE = "mlops:security:KeyVault"
    OUTPUTS = ("key_vault_id", "key_vault_name", "key_vault_uri")

    def __init__(self, name: str, ctx: PlatformContext, args: KeyVaultArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, ctx, opts)
        vault = keyvault.Vault(
            f"{name}-kv",
            vault_name=ctx.naming.name("kv"),
            resource_group_name=ctx.resource_group_name,
            location=ctx.location,
            properties=keyvault.VaultPropertiesArgs(
                tenant_id=args.tenant_id,
                sku=keyvault.SkuArgs(family="A", name=args.sku),
                enable_rbac_authorization=True,
                enable_soft_delete=True,
                soft_delete_retention_in_days=args.soft_delete_retention_days,
                enable_purge_protection=True,
                enabled_for_deployment=False,
                enabled_for_disk_encryption=False,
                enabled_for_template_deployment=False,
                public_network_access=enabled(args.public_network_access),
                network_acls=keyvault.NetworkRuleSetArgs(
                    default_action="Allow" if args.public_network_access else "Deny",
                    bypass="AzureServices",
                ),
            ),
            tags=ctx.tags,
            opts=self.child(stateful=True),
        )
        send_diagnostics(name, ctx, vault.id, self.child())
        self.key_vault_id: pulumi.Output[str] = vault.id
        self.key_vault_name: pulumi.Output[str] = vault.name
        self.key_vault_uri: pulumi.Output[str] = vault.properties.vault_uri
        self._register()
