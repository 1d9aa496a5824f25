"""Monitoring: the Log Analytics workspace every diagnostic setting targets, and workspace-based Application Insights."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import applicationinsights, operationalinsights

from components.context import PlatformComponent, PlatformContext, enabled


@dataclass(frozen=True)
class MonitoringArgs:
    retention_days: int = 90
    public_network_access: bool = False


class Monitoring(PlatformComponent):
    TYPE = "mlops:monitoring:Monitoring"
    OUTPUTS = (
        "log_analytics_workspace_id",
        "application_insights_id",
        "application_insights_connection_string",
    )

    def __init__(self, name: str, ctx: PlatformContext, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, ctx, opts)
        access = enabled(args.public_network_access)
        logs = operationalinsights.Workspace(
            f"{name}-log",
            workspace_name=ctx.naming.name("log"),
            resource_group_name=ctx.resource_group_name,
            location=ctx.location,
            sku=operationalinsights.WorkspaceSkuArgs(name="PerGB2018"),
            retention_in_days=args.retention_days,
            features=operationalinsights.WorkspaceFeaturesArgs(
                disable_local_auth=True,
                enable_log_access_using_only_resource_permissions=True,
            ),
            public_network_access_for_ingestion=access,
            public_network_access_for_query=access,
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
            ingestion_mode="LogAnalytics",
            disable_local_auth=True,
            retention_in_days=args.retention_days,
            public_network_access_for_ingestion=access,
            public_network_access_for_query=access,
            tags=ctx.tags,
            opts=self.child(),
        )
        self.log_analytics_workspace_id: pulumi.Output[str] = logs.id
        self.application_insights_id: pulumi.Output[str] = insights.id
        self.application_insights_connection_string: pulumi.Output[str] = pulumi.Output.secret(
            insights.connection_string
        )
        self._register()
