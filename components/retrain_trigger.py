"""The retrain trigger's infrastructure: a Flex Consumption Function App that receives the alert webhook
(`pipelines/retrain_trigger/`) and submits the training pipeline to the workspace as its own identity.

Secure by default: system-assigned identity only (no keys for storage or Application Insights), HTTPS only,
TLS 1.2, FTPS and basic-auth publishing off, logs to Log Analytics. The function's own storage account holds
only the deployment package and the cool-down claims.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi_azure_native import web

from components.context import PlatformComponent, PlatformContext
from components.diagnostics import send_diagnostics
from components.roles import Grant, grant
from components.storage_account import private_containers, secure_storage_account, send_blob_diagnostics

FUNCTION_ROUTE = "api/retrain"
PACKAGE_CONTAINER = "app-package"
STATE_CONTAINER = "retrain-state"


@dataclass(frozen=True)
class RetrainTriggerArgs:
    """Required: where to submit (workspace), where to report (Application Insights), the subscription for role
    definitions. Optional: cool-down and scale. The function's storage is private by default; a Flex plan then
    needs VNet integration to reach it, so a stack without private networking relaxes it explicitly
    (`retrainTrigger.storagePublicNetworkAccess`, dev). Shared keys stay off either way."""

    workspace_id: pulumi.Input[str]
    workspace_name: pulumi.Input[str]
    subscription_id: pulumi.Input[str]
    application_insights_id: pulumi.Input[str]
    application_insights_connection_string: pulumi.Input[str]
    stack_outputs: pulumi.Input[Mapping[str, Any]]  # the outputs contract (camelCase keys), without secrets
    training: Mapping[str, Any]  # the stack's training config (TrainingConfig.model_dump(by_alias=True))
    cooldown_minutes: int = 360
    maximum_instance_count: int = 10
    instance_memory_mb: int = 2048
    python_version: str = "3.11"
    storage_public_network_access: bool = False


class RetrainTrigger(PlatformComponent):
    TYPE = "mlops:monitoring:RetrainTrigger"
    OUTPUTS = ("function_app_id", "principal_id", "webhook_url")

    def __init__(self, name: str, ctx: PlatformContext, args: RetrainTriggerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, ctx, opts)
        account = secure_storage_account(
            f"{name}-st",
            ctx,
            account_name=ctx.naming.name("st", "fn"),
            sku="Standard_LRS",
            public_network_access=args.storage_public_network_access,
            opts=self.child(stateful=True),  # holds the cool-down claims: one incident retrains once
        )
        send_blob_diagnostics(f"{name}-st", ctx, account, self.child())
        containers = private_containers(name, ctx, account.name, (PACKAGE_CONTAINER, STATE_CONTAINER), self.child())
        blob_endpoint = account.primary_endpoints.apply(lambda endpoints: endpoints.blob)
        app_name = ctx.naming.name("func", "retrain")
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
            "APPLICATIONINSIGHTS_CONNECTION_STRING": args.application_insights_connection_string,
            "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "Authorization=AAD",  # local auth is off on App Insights
            "MLOPS_STACK": ctx.naming.environment,
            "AZURE_SUBSCRIPTION_ID": args.subscription_id,
            "AZURE_RESOURCE_GROUP": ctx.resource_group_name,
            "AZUREML_WORKSPACE_NAME": args.workspace_name,
            "MLOPS_RETRAIN_COOLDOWN_MINUTES": str(args.cooldown_minutes),
            "MLOPS_STATE_CONTAINER_URL": pulumi.Output.concat(blob_endpoint, STATE_CONTAINER),
            "MLOPS_STACK_OUTPUTS": pulumi.Output.from_input(args.stack_outputs).apply(lambda v: json.dumps(v, sort_keys=True)),
            "MLOPS_TRAINING_CONFIG": json.dumps(dict(args.training), sort_keys=True),
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
            public_network_access="Enabled",  # Azure Monitor action groups call it over the internet (function key)
            site_config=web.SiteConfigArgs(
                min_tls_version="1.2",
                scm_min_tls_version="1.2",
                ftps_state="Disabled",
                http20_enabled=True,
            ),
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
        web.WebAppApplicationSettings(  # a resource of its own: the secret connection string stays out of siteConfig
            f"{name}-settings",
            name=app.name,
            resource_group_name=ctx.resource_group_name,
            properties=settings,
            opts=self.child(),
        )
        for policy in (web.WebAppFtpAllowed, web.WebAppScmAllowed):  # no basic-auth publishing credentials
            policy(
                f"{name}-{policy.__name__.removeprefix('WebApp').lower()}",
                name=app.name,
                resource_group_name=ctx.resource_group_name,
                allow=False,
                opts=self.child(),
            )
        principal_id = app.identity.apply(lambda identity: identity.principal_id)
        for label, role, scope in (
            ("workspace", "AzureML Data Scientist", args.workspace_id),
            ("storage", "Storage Blob Data Contributor", account.id),
            ("insights", "Monitoring Metrics Publisher", args.application_insights_id),
        ):
            grant(name, args.subscription_id, Grant(label, principal_id, role, scope), self.child())
        send_diagnostics(f"{name}-func", ctx, app.id, self.child())
        keys = web.list_web_app_host_keys_output(name=app.name, resource_group_name=ctx.resource_group_name)

        self.function_app_id: pulumi.Output[str] = app.id
        self.principal_id: pulumi.Output[str] = principal_id
        self.webhook_url: pulumi.Output[str] = pulumi.Output.secret(
            pulumi.Output.concat(
                "https://", app.default_host_name, f"/{FUNCTION_ROUTE}?code=",
                keys.apply(lambda k: (k.function_keys or {}).get("default", "")),
            )
        )  # fmt: skip
        self._register()
