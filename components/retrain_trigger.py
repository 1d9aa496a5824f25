"""The retrain trigger's infrastructure: a Flex Consumption Function App that consumes the alerts the action group
publishes to the Event Hubs `alerts` hub (`pipelines/retrain_trigger/`) and submits the training pipeline to the
workspace as its own identity.

Why an Event Hubs receiver and not a webhook: it needs no secret anywhere (no function key read at plan time,
which fails when the host cannot start and needs rights a Reader lacks) and no inbound path at all: Azure
Monitor action groups are a trusted service of Event Hubs (Event Hubs private link docs, "Azure Monitor
(Diagnostic Settings and Action Groups)"), and the function reads the hub with an identity-based connection.

Flex Consumption: a `siteConfig` of only the inbound settings Flex accepts (remote debugging off, access restrictions;
Flex rejects netFrameworkVersion, ftpsState, linuxFxVersion and more, and the SDK's SiteConfigArgs would inject
netFrameworkVersion), runtime and scale in `functionAppConfig`, the package in a blob container read by the system
identity. It has no HTTP route, so nothing needs Entra ID sign-in on it (the pack's function-entra-auth would demand
it the moment the app took public HTTP requests). In a private stack: VNet integration on the delegated `functions`
subnet, public access off (code deploys come from the runners through the `sites` private endpoint), host storage
private with `blob`, `queue`, `table` endpoints, telemetry through the Azure Monitor private link scope.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi_azure_native import storage, web

from components.base import PlatformComponent
from components.context import PlatformContext, enabled
from components.keyvault import github_token_secret
from components.storage_account import private_containers, secure_storage_account

PACKAGE_CONTAINER = "app-package"
STATE_CONTAINER = "retrain-state"
EVENTHUB_CONNECTION = "AlertsEventHub"  # the trigger's `connection`: <name>__fullyQualifiedNamespace
STORAGE_GROUPS = ("blob", "queue", "table")


def inbound_site_config(public: bool) -> dict[str, Any]:
    """The app's siteConfig: remote debugging off, no CORS, and where its public access is on (dev) the app itself
    denies every request (no rule allows anything: nothing calls it) while its deployment (SCM) site stays open to the
    GitHub-hosted runners that deploy dev's code, with Entra ID only (basic-auth publishing is off).

    A plain dict on purpose: the SDK's SiteConfigArgs injects netFrameworkVersion, http20Enabled and localMySqlEnabled
    defaults, and Flex rejects netFrameworkVersion; a dict is sent with exactly these keys (a harness test holds the
    recorded keys to policies/rules/azure/flex_consumption.json's acceptedSiteConfig)."""
    config: dict[str, Any] = {"remote_debugging_enabled": False}
    if public:
        config |= {
            "ip_security_restrictions_default_action": "Deny",
            "scm_ip_security_restrictions_use_main": False,
            "scm_ip_security_restrictions_default_action": "Allow",
        }
    return config


def function_app_name(ctx: PlatformContext) -> str:
    """The Function App's name: known before it exists, so the stack outputs it reads can already name it."""
    return ctx.naming.name("func", "retrain")


@dataclass(frozen=True)
class PromotionDispatch:
    """The GitHub workflow a submitted retrain job is handed to (pipelines/retrain_trigger/dispatch.py)."""

    repository: str
    """The repository, owner/name."""
    workflow: str
    """The workflow file, e.g. train.yml."""
    ref: str
    """The branch it runs from."""
    token: pulumi.Input[str]
    """The GitHub token (Actions write), a Pulumi secret."""
    token_secret_name: str
    """The Key Vault secret that holds it."""
    vault_name: pulumi.Input[str]
    """The stack's Key Vault."""
    vault_uri: pulumi.Input[str]
    """The vault's URI, https://<vault>.vault.azure.net/."""


@dataclass(frozen=True)
class RetrainTriggerArgs:
    """Where to submit (workspace and its storage, for code snapshots), where alerts arrive (the Event Hubs
    namespace and hub), where to report (Application Insights), the function's scale and the settings it reads."""

    workspace_id: pulumi.Input[str]
    """The workspace the function submits to (its role's scope)."""
    workspace_name: pulumi.Input[str]
    """The workspace's name (the function's setting)."""
    workspace_storage_id: pulumi.Input[str]
    """The workspace storage, where code snapshots go (its role's scope)."""
    eventhubs_namespace_fqdn: pulumi.Input[str]
    """The namespace the alerts arrive in."""
    alerts_hub_name: str
    """The hub the action group publishes to."""
    alerts_hub_id: pulumi.Input[str]
    """That hub's id: the scope of the function's Data Receiver role."""
    alerts_consumer_group: str
    """The function's consumer group of that hub."""
    application_insights_id: pulumi.Input[str]
    """Application Insights (the function's publisher role)."""
    application_insights_connection_string: pulumi.Input[str]
    """Where the function sends its telemetry."""
    stack_outputs: pulumi.Input[Mapping[str, Any]]
    """The outputs contract (camelCase keys), without secrets."""
    training: Mapping[str, Any]
    """The stack's training config (TrainingConfig.model_dump(by_alias=True))."""
    cooldown_minutes: int
    """Minutes after a retrain during which another alert does not retrain."""
    retrain_rules: Sequence[str]
    """Names of the alert rules that retrain (the others are only notified)."""
    maximum_instance_count: int
    """The Flex Consumption app's scale-out limit."""
    instance_memory_mb: int
    """Memory per instance."""
    python_version: str
    """The Functions Python runtime."""
    storage_sku: storage.SkuName
    """The host storage's redundancy: the stack's (zone-redundant in prod)."""
    promotion: PromotionDispatch | None
    """The GitHub hand-over of submitted jobs; None: they are not handed over."""


class RetrainTrigger(PlatformComponent):
    TYPE = "mlops:monitoring:RetrainTrigger"
    OUTPUTS = ("resource_id", "resource_name", "principal_id", "package_container_id")

    def __init__(self, name: str, ctx: PlatformContext, args: RetrainTriggerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, ctx, opts)
        account = secure_storage_account(
            f"{name}-st",
            ctx,
            account_name=ctx.naming.name("st", "fn"),
            sku=args.storage_sku,
            opts=self.child(stateful=True),  # holds the cool-down claims: one incident retrains once
        )
        self.blob_diagnostics(account, "st")
        self.private_endpoints(account.id, STORAGE_GROUPS, label="st")
        containers = private_containers(name, ctx, account.name, (PACKAGE_CONTAINER, STATE_CONTAINER), self.child())
        blob_endpoint = account.primary_endpoints.apply(lambda endpoints: endpoints.blob)
        app_name = function_app_name(ctx)
        plan = web.AppServicePlan(
            f"{name}-plan",
            name=app_name.replace("func-", "asp-", 1),
            resource_group_name=ctx.resource_group_name,
            location=ctx.location,
            kind="functionapp",
            reserved=True,  # Linux
            sku=web.SkuDescriptionArgs(name="FC1", tier="FlexConsumption"),
            tags=ctx.tags,
            opts=self.child(),
        )
        settings = {
            "AzureWebJobsStorage__accountName": account.name,
            "AzureWebJobsStorage__credential": "managedidentity",
            f"{EVENTHUB_CONNECTION}__fullyQualifiedNamespace": args.eventhubs_namespace_fqdn,
            "MLOPS_ALERTS_HUB": args.alerts_hub_name,
            "MLOPS_ALERTS_CONSUMER_GROUP": args.alerts_consumer_group,
            "APPLICATIONINSIGHTS_CONNECTION_STRING": args.application_insights_connection_string,
            "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "Authorization=AAD",  # local auth is off on App Insights
            "MLOPS_STACK": ctx.naming.environment,
            "AZURE_SUBSCRIPTION_ID": ctx.subscription_id,
            "AZURE_RESOURCE_GROUP": ctx.resource_group_name,
            "AZUREML_WORKSPACE_NAME": args.workspace_name,
            "MLOPS_RETRAIN_COOLDOWN_MINUTES": str(args.cooldown_minutes),
            "MLOPS_RETRAIN_RULES": ",".join(args.retrain_rules),
            "MLOPS_STATE_CONTAINER_URL": pulumi.Output.concat(blob_endpoint, STATE_CONTAINER),
            "MLOPS_STACK_OUTPUTS": pulumi.Output.from_input(args.stack_outputs).apply(lambda v: json.dumps(v, sort_keys=True)),
            "MLOPS_TRAINING_CONFIG": json.dumps(dict(args.training), sort_keys=True),
        }
        token_secret = None
        if args.promotion is not None:
            promotion = args.promotion
            token_secret = github_token_secret(
                f"{name}-promotion-token", ctx, promotion.vault_name, promotion.token_secret_name, promotion.token, self.child()
            )
            settings |= {
                "MLOPS_PROMOTION_REPOSITORY": promotion.repository,
                "MLOPS_PROMOTION_WORKFLOW": promotion.workflow,
                "MLOPS_PROMOTION_REF": promotion.ref,
                "MLOPS_PROMOTION_TOKEN_URL": pulumi.Output.concat(promotion.vault_uri, "secrets/", promotion.token_secret_name),
            }
        app = web.WebApp(
            f"{name}-func",
            name=app_name,
            resource_group_name=ctx.resource_group_name,
            location=ctx.location,
            kind="functionapp,linux",
            server_farm_id=plan.id,
            https_only=True,
            identity=web.ManagedServiceIdentityArgs(type="SystemAssigned"),
            # Nothing calls the app: alerts arrive through Event Hubs. Private stacks deploy code through the
            # `sites` private endpoint from the runners; dev deploys from GitHub-hosted runners.
            public_network_access=enabled(not ctx.private),
            site_config=inbound_site_config(public=not ctx.private),
            virtual_network_subnet_id=ctx.network.subnet_ids["functions"] if ctx.network else None,
            function_app_config=web.FunctionAppConfigArgs(
                deployment=web.FunctionsDeploymentArgs(
                    storage=web.FunctionsDeploymentStorageArgs(
                        type="blobContainer",
                        value=pulumi.Output.concat(blob_endpoint, PACKAGE_CONTAINER),
                        authentication=web.FunctionsDeploymentStorageAuthenticationArgs(type="SystemAssignedIdentity"),
                    )
                ),
                runtime=web.FunctionsRuntimeArgs(name="python", version=args.python_version),
                scale_and_concurrency=web.FunctionsScaleAndConcurrencyArgs(
                    maximum_instance_count=args.maximum_instance_count, instance_memory_mb=args.instance_memory_mb
                ),
            ),
            tags=ctx.tags,
            opts=self.child(depends_on=list(containers.values())),
        )
        principal_id = app.identity.apply(lambda identity: identity.principal_id)
        # The host needs its storage before it starts: roles first, then the settings that point it there.
        host_access = [
            self.grant("host-storage", principal_id, "Storage Blob Data Owner", account.id),
            self.grant("host-diagnostics", principal_id, "Storage Table Data Contributor", account.id),
        ]
        web.WebAppApplicationSettings(  # a resource of its own: the secret connection string stays out of the app
            f"{name}-settings",
            name=app.name,
            resource_group_name=ctx.resource_group_name,
            properties=settings,
            opts=self.child(depends_on=host_access),
        )
        for policy in (web.WebAppFtpAllowed, web.WebAppScmAllowed):  # no basic-auth publishing credentials
            policy(
                f"{name}-{policy.__name__.removeprefix('WebApp').lower()}",
                name=app.name,
                resource_group_name=ctx.resource_group_name,
                allow=False,
                opts=self.child(),
            )
        for label, role, scope in (
            ("workspace", "AzureML Data Scientist", args.workspace_id),
            ("code-snapshots", "Storage Blob Data Contributor", args.workspace_storage_id),
            ("receive-alerts", "Azure Event Hubs Data Receiver", args.alerts_hub_id),
            ("insights", "Monitoring Metrics Publisher", args.application_insights_id),
        ):
            self.grant(label, principal_id, role, scope)
        if token_secret is not None:  # the one secret, not the vault: the function reads nothing else there
            self.grant("read-promotion-token", principal_id, "Key Vault Secrets User", token_secret.id)
        self.private_endpoints(app.id, ["sites"], label="func")
        self.diagnostics(app.id, "func")
        self.resource_id: pulumi.Output[str] = app.id
        """The Function App's id."""
        self.resource_name: pulumi.Output[str] = app.name
        """The Function App's name."""
        self.principal_id: pulumi.Output[str] = principal_id
        """The app's system-assigned identity (what it submits as)."""
        self.package_container_id: pulumi.Output[str] = containers[PACKAGE_CONTAINER].id
        """The container the app's code package is deployed to."""
        self._register()
