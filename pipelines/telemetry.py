"""Metrics to Application Insights, for the drift check and the retrain function alike; a leaf module the function
can import (it installs neither numpy nor scipy).

The platform's Application Insights has local (key) auth disabled, so the exporter authenticates with Entra ID
(`DefaultAzureCredential`: a managed identity in Azure, the developer's login locally); the identity needs
Monitoring Metrics Publisher on the component. Values land in `customMetrics`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from azure.monitor.opentelemetry.exporter import AzureMonitorMetricExporter
    from opentelemetry.sdk.metrics import MeterProvider

APPINSIGHTS_ENV = "APPLICATIONINSIGHTS_CONNECTION_STRING"


def _exporter(connection_string: str) -> AzureMonitorMetricExporter:
    """Raises ValueError for a malformed connection string."""
    from azure.identity import DefaultAzureCredential
    from azure.monitor.opentelemetry.exporter import AzureMonitorMetricExporter

    return AzureMonitorMetricExporter(
        connection_string=connection_string, credential=DefaultAzureCredential(), disable_offline_storage=True
    )


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
