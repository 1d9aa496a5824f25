"""Key Vault: RBAC-only, purge-protected; in a private stack reached through its private endpoint only."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import keyvault

from components.base import PlatformComponent
from components.context import PlatformContext, enabled


@dataclass(frozen=True)
class KeyVaultArgs:
    sku: keyvault.SkuName
    """standard or premium."""
    soft_delete_retention_days: int
    """Days a deleted vault or secret can be recovered (7-90)."""


class KeyVault(PlatformComponent):
    TYPE = "mlops:security:KeyVault"
    OUTPUTS = ("resource_id", "resource_name", "vault_uri")

    def __init__(self, name: str, ctx: PlatformContext, args: KeyVaultArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, ctx, opts)
        vault = keyvault.Vault(
            f"{name}-kv",
            vault_name=ctx.naming.name("kv"),
            resource_group_name=ctx.resource_group_name,
            location=ctx.location,
            properties=keyvault.VaultPropertiesArgs(
                tenant_id=ctx.tenant_id,
                sku=keyvault.SkuArgs(family=keyvault.SkuFamily.A, name=args.sku),
                enable_rbac_authorization=True,
                enable_soft_delete=True,
                soft_delete_retention_in_days=args.soft_delete_retention_days,
                enable_purge_protection=True,
                enabled_for_deployment=False,
                enabled_for_disk_encryption=False,
                enabled_for_template_deployment=False,
                public_network_access=enabled(not ctx.private),  # a plain string in VaultPropertiesArgs
                network_acls=keyvault.NetworkRuleSetArgs(
                    default_action=keyvault.NetworkRuleAction.DENY if ctx.private else keyvault.NetworkRuleAction.ALLOW,
                    # The workspace reads its secrets as a trusted Azure service.
                    bypass=keyvault.NetworkRuleBypassOptions.AZURE_SERVICES,
                ),
            ),
            tags=ctx.tags,
            opts=self.child(stateful=True),
        )
        self.private_endpoints(vault.id, ["vault"])
        self.diagnostics(vault.id)
        self.resource_id: pulumi.Output[str] = vault.id
        """The vault's id."""
        self.resource_name: pulumi.Output[str] = vault.name
        """The vault's name."""
        self.vault_uri: pulumi.Output[str] = vault.properties.vault_uri
        """The vault's URI, https://<name>.vault.azure.net/."""
        self._register()


def github_token_secret(name: str, ctx: PlatformContext, vault_name: pulumi.Input[str], secret_name: str,
                        token: pulumi.Input[str], opts: pulumi.ResourceOptions) -> keyvault.Secret:  # fmt: skip
    """A GitHub token from the stack's secret config as a Key Vault secret (the runners' scaler token, the retrain
    function's dispatch token): only the identity granted on it reads it at run time."""
    return keyvault.Secret(
        name,
        secret_name=secret_name,
        vault_name=vault_name,
        resource_group_name=ctx.resource_group_name,
        properties=keyvault.SecretPropertiesArgs(value=pulumi.Output.secret(token), content_type="GitHub token"),
        opts=opts,
    )
