"""Diagnostic settings: every resource that emits logs sends them to the stack's Log Analytics workspace."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
from pulumi_azure_native import monitor, storage

from components.context import PlatformContext

DIAGNOSTIC_SETTING_NAME = "to-log-analytics"
BLOB_METRICS = ("Transaction",)  # a blob service's metric category (it has no AllMetrics)


def blob_service_id(account: storage.StorageAccount) -> pulumi.Output[str]:
    """The id of a storage account's blob service: where its blob logs come from."""
    return account.id.apply(lambda account_id: f"{account_id}/blobServices/default")


def send_diagnostics(
    name: str,
    ctx: PlatformContext,
    resource_uri: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
    *,
    log_category_groups: Sequence[str] = ("allLogs",),
    metric_categories: Sequence[str] = ("AllMetrics",),
) -> monitor.DiagnosticSetting:
    """All logs and metrics of one resource to Log Analytics (resource-specific tables)."""
    if ctx.diagnostics_workspace_id is None:
        raise ValueError(f"{name}: the context has no diagnostics workspace; create Monitoring first")
    return monitor.DiagnosticSetting(
        f"{name}-diag",
        name=DIAGNOSTIC_SETTING_NAME,
        resource_uri=resource_uri,
        workspace_id=ctx.diagnostics_workspace_id,
        log_analytics_destination_type="Dedicated",
        logs=[monitor.DiagnosticsLogSettingsArgs(category_group=group, enabled=True) for group in log_category_groups],
        metrics=[monitor.DiagnosticsMetricSettingsArgs(category=category, enabled=True) for category in metric_categories],
        opts=opts,
    )
