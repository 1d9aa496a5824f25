"""Metrics to Application Insights from the retrain function, in a leaf module the function can import (drift.py,
which sets up the drift metric's exporter the same way, imports numpy and scipy, which the function does not install).

The platform's Application Insights has local (key) auth disabled, so the exporter authenticates with Entra ID
(`DefaultAzureCredential`: a managed identity in Azure, the developer's login locally); the identity needs
Monitoring Metrics Publisher on the component. Values land in `customMetrics`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics import MeterProvider

APPINSIGHTS_ENV = "APPLICATIONINSIGHTS_CONNECTION_STRING"


def appinsights_meter_provider(connection_string: str, export_interval_millis: float = math.inf) -> MeterProvider:
    """A meter provider exporting to the Application Insights of `connection_string`. With the default interval it
    exports only when flushed or shut down (one-shot commands); a long-running host passes a finite interval."""
    from azure.identity import DefaultAzureCredential
    from azure.monitor.opentelemetry.exporter import AzureMonitorMetricExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    exporter = AzureMonitorMetricExporter(
        connection_string=connection_string, credential=DefaultAzureCredential(), disable_offline_storage=True
    )
    return MeterProvider(metric_readers=[PeriodicExportingMetricReader(exporter, export_interval_millis)])
