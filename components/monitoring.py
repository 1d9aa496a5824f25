"""Monitoring: the Log Analytics workspace every diagnostic setting targets, workspace-based Application Insights
and, in a private stack, the Azure Monitor Private Link Scope (AMPLS) through which telemetry is ingested.

Private stacks close ingestion from public networks: the retrain function (VNet-integrated) and jobs on the
workspace's managed network (an outbound private-endpoint rule to the scope) send through the scope's private
endpoint. Queries stay open to Entra-authenticated callers: queries through Azure Resource Manager (the portal's
log views, alert evaluation) cannot use a private link (README, "Network"), and local auth is off everywhere.
Diagnostic settings write over Microsoft's own channel and are not affected by either setting.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import applicationinsights, monitor, operationalinsights

from components.base import PlatformComponent
from components.context import PlatformContext, enabled

AMPLS_GROUP = "azuremonitor"


@dataclass(frozen=True)
class MonitoringArgs:
    retention_days: int
    """Days Log Analytics and Application Insights keep data."""


class Monitoring(PlatformComponent):
    TYPE = "mlops:monitoring:Monitoring"
    OUTPUTS = (
        "resource_id",
        "resource_name",
        "application_insights_id",
        "application_insights_connection_string",
        "private_link_scope_id",
    )

    def __init__(self, name: str, ctx: PlatformContext, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, ctx, opts)
        ingestion = enabled(not ctx.private, operationalinsights.PublicNetworkAccessType)
        logs = operationalinsights.Workspace(
            f"{name}-log",
            workspace_name=ctx.naming.name("log"),
            resource_group_name=ctx.resource_group_name,
            location=ctx.location,
            sku=operationalinsights.WorkspaceSkuArgs(name=operationalinsights.WorkspaceSkuNameEnum.PER_GB2018),
            retention_in_days=args.retention_days,
            features=operationalinsights.WorkspaceFeaturesArgs(
                disable_local_auth=True,
                enable_log_access_using_only_resource_permissions=True,
            ),
            public_network_access_for_ingestion=ingestion,
            public_network_access_for_query=operationalinsights.PublicNetworkAccessType.ENABLED,
            tags=ctx.tags,
            opts=self.child(),
        )
        insights = applicationinsights.Component(
            f"{name}-appi",
            resource_name_=ctx.naming.name("appi"),
            resource_group_name=ctx.resource_group_name,
            location=ctx.location,
            kind="web",
            application_type="web",
            workspace_resource_id=logs.id,
            ingestion_mode=applicationinsights.IngestionMode.LOG_ANALYTICS,
            disable_local_auth=True,
            retention_in_days=args.retention_days,
            public_network_access_for_ingestion=enabled(not ctx.private, applicationinsights.PublicNetworkAccessType),
            public_network_access_for_query=applicationinsights.PublicNetworkAccessType.ENABLED,
            tags=ctx.tags,
            opts=self.child(),
        )
        self.private_link_scope_id: pulumi.Output[str] | None = None
        """The Azure Monitor Private Link Scope's id; None in a public stack."""
        if ctx.private:
            scope = monitor.PrivateLinkScope(
                f"{name}-ampls",
                scope_name=ctx.naming.name("ampls"),
                resource_group_name=ctx.resource_group_name,
                location="global",
                # PrivateOnly ingestion: the VNet sends telemetry only to resources in the scope;
                # Open queries: as above, queries stay possible for Entra-authenticated callers.
                access_mode_settings=monitor.AccessModeSettingsArgs(ingestion_access_mode="PrivateOnly", query_access_mode="Open"),
                tags=ctx.tags,
                opts=self.child(),
            )
            for label, resource in (("log", logs), ("appi", insights)):
                monitor.PrivateLinkScopedResource(
                    f"{name}-ampls-{label}",
                    name=label,
                    scope_name=scope.name,
                    resource_group_name=ctx.resource_group_name,
                    linked_resource_id=resource.id,
                    opts=self.child(),
                )
            self.private_endpoints(scope.id, [AMPLS_GROUP])
            self.private_link_scope_id = scope.id
        self.resource_id: pulumi.Output[str] = logs.id
        """The Log Analytics workspace's id (every diagnostic setting's target)."""
        self.resource_name: pulumi.Output[str] = logs.name
        """The Log Analytics workspace's name."""
        self.application_insights_id: pulumi.Output[str] = insights.id
        """Application Insights' id."""
        self.application_insights_connection_string: pulumi.Output[str] = pulumi.Output.secret(
            insights.connection_string
        )
        """Application Insights' connection string (a secret)."""
        self._register()
