"""Metrics to Application Insights, for the drift check and the retrain function alike; a leaf module the function
can import (it installs neither numpy nor scipy).

The platform's Application Insights has local (key) auth disabled, so the exporter authenticates with Entra ID
(`DefaultAzureCredential`: a managed identity in Azure, the developer's login locally); the identity needs
Monitoring Metrics Publisher on the component. Values land in `customMetrics`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from azure.identity import DefaultAzureCredential
    from azure.monitor.opentelemetry.exporter import AzureMonitorMetricExporter
    from opentelemetry.sdk.metrics import MeterProvider

# On an Azure ML compute cluster the job's managed identity is the one this variable names: "ManagedIdentityCredential
# (client_id=os.environ.get('DEFAULT_IDENTITY_CLIENT_ID'))" (how-to-identity-based-service-authentication, compute cluster).
AML_IDENTITY_ENV = "DEFAULT_IDENTITY_CLIENT_ID"


def credential() -> DefaultAzureCredential:
    """DefaultAzureCredential, with the managed identity an Azure ML compute cluster names (AML_IDENTITY_ENV), else
    AZURE_CLIENT_ID's (its own default), else the system-assigned one; the developer's login locally."""
    from azure.identity import DefaultAzureCredential

    client_id = os.environ.get(AML_IDENTITY_ENV) or os.environ.get("AZURE_CLIENT_ID")
    return DefaultAzureCredential(managed_identity_client_id=client_id)


def _exporter(connection_string: str) -> AzureMonitorMetricExporter:
    """Raises ValueError for a malformed connection string."""
    from azure.monitor.opentelemetry.exporter import AzureMonitorMetricExporter

    return AzureMonitorMetricExporter(connection_string=connection_string, credential=credential(), disable_offline_storage=True)


def appinsights_meter_provider(connection_string: str, export_interval_millis: float) -> MeterProvider:
    """A meter provider for a long-running host: exports to the Application Insights of `connection_string` every
    `export_interval_millis` and when flushed."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    return MeterProvider(metric_readers=[PeriodicExportingMetricReader(_exporter(connection_string), export_interval_millis)])


class OneShotExport:
    """Metrics of a one-shot command: record on `provider`, then `send()` exports them once and says whether
    Application Insights accepted them (a periodic reader logs a refused export and carries on, so a command that
    used one would report a metric that never arrived)."""

    def __init__(self, connection_string: str) -> None:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader

        self._exporter = _exporter(connection_string)
        self._reader = InMemoryMetricReader()
        self.provider = MeterProvider(metric_readers=[self._reader])

    def send(self) -> bool:
        from opentelemetry.sdk.metrics.export import MetricExportResult

        data = self._reader.get_metrics_data()
        try:
            result = MetricExportResult.SUCCESS if data is None else self._exporter.export(data)
        finally:
            self.provider.shutdown()
            self._exporter.shutdown()
        return result is MetricExportResult.SUCCESS
