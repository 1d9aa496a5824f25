"""The retrain Function's Event Hubs entry point: the decorated function's own code, called with a real
`azure.functions.EventHubEvent` carrying the common-alert-schema fixtures. The submission is faked at
`JobOperations.create_or_update` (the `submitted` fixture of test_retrain_trigger.py), claims are file-backed, and the
rejected-alerts counter is read through OpenTelemetry's SDK (an in-memory reader on the global meter provider)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import azure.functions as func
import pytest
from opentelemetry import metrics
from opentelemetry.sdk.metrics import Counter, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader

from components.retrain_trigger import EVENTHUB_CONNECTION
from core.metrics import REJECTED_ALERTS_METRIC
from core.paths import ROOT_DIR
from pipelines.retrain_trigger import function_app
from policies.rules import resource_types as t
from stacks.platform import ALERTS_CONSUMER_GROUP, ALERTS_HUB
from tests.monitoring.test_retrain_trigger import alert, as_json, resolved, stack_outputs_json, submitted  # noqa: F401

HOST_JSON = ROOT_DIR / "pipelines" / "retrain_trigger" / "host.json"
ENQUEUED = datetime(2026, 11, 25, 10, 15, 9, tzinfo=UTC)

[FUNCTION] = function_app.app.get_functions()
RETRAIN = FUNCTION.get_user_function()


def event(body: bytes, sequence_number: int = 41) -> func.EventHubEvent:
    """One event as the Event Hubs trigger hands it to a `cardinality="one"` function."""
    return func.EventHubEvent(body=body, sequence_number=sequence_number, enqueued_time=ENQUEUED, offset="4096")


@pytest.fixture(scope="session")
def metric_reader() -> InMemoryMetricReader:
    """OpenTelemetry's global meter provider, read in memory (delta: each collection holds what happened since the
    last). The Function uses the global provider when no Application Insights connection string is set."""
    reader = InMemoryMetricReader(preferred_temporality={Counter: AggregationTemporality.DELTA})
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    return reader


@pytest.fixture
def rejections(metric_reader, submitted, monkeypatch):
    """Read after the event: {attributes: count} of the rejected-alerts counter since the test started."""
    monkeypatch.delenv("APPLICATIONINSIGHTS_CONNECTION_STRING", raising=False)
    metric_reader.get_metrics_data()  # forget what earlier tests counted

    def read() -> dict[tuple[tuple[str, str], ...], int]:
        data = metric_reader.get_metrics_data()
        return {
            tuple(sorted(point.attributes.items())): point.value
            for resource in (data.resource_metrics if data else [])
            for scope in resource.scope_metrics
            for metric in scope.metrics
            if metric.name == REJECTED_ALERTS_METRIC
            for point in metric.data.data_points
            if point.value
        }

    return read


# --- the binding ------------------------------------------------------------------------------------------------


def test_the_trigger_reads_the_alerts_hub_through_the_app_settings_the_component_sets(stacks):
    [binding] = json.loads(FUNCTION.get_function_json())["bindings"]
    assert binding == {
        "direction": "IN",
        "type": "eventHubTrigger",
        "name": "event",
        "connection": "AlertsEventHub",
        "eventHubName": "%MLOPS_ALERTS_HUB%",
        "consumerGroup": "%MLOPS_ALERTS_CONSUMER_GROUP%",
        "cardinality": "ONE",
    }
    assert function_app.ALERTS_CONNECTION == EVENTHUB_CONNECTION
    settings = stacks["dev"].one(t.WEB_APP_SETTINGS).inputs["properties"].value
    assert settings["AlertsEventHub__fullyQualifiedNamespace"] == stacks["dev"].outputs["eventhubsNamespaceFqdn"]
    assert (settings["MLOPS_ALERTS_HUB"], settings["MLOPS_ALERTS_CONSUMER_GROUP"]) == (ALERTS_HUB, ALERTS_CONSUMER_GROUP)
    assert not any("SharedAccessKey" in str(value) for value in settings.values())  # identity-based: no secret


def test_failures_are_retried_by_a_function_level_exponential_policy():
    assert FUNCTION.get_function_name() == "retrain"
    assert FUNCTION.get_settings_dict("retry_policy") == {
        "setting_name": "retry_policy",
        "strategy": "exponential_backoff",
        "max_retry_count": "5",
        "minimum_interval": "00:00:10",
        "maximum_interval": "00:02:00",
    }


def test_host_json_uses_the_bundle_with_identity_based_event_hubs_and_no_app_level_retry():
    """Bundle 4.x carries the Event Hubs extension 6.x; identity-based connections exist since extension 5.x.
    Event Hubs retries are function-level only, so host.json has none (it would be ignored)."""
    host = json.loads(HOST_JSON.read_text())
    assert host["version"] == "2.0"
    assert host["extensionBundle"] == {"id": "Microsoft.Azure.Functions.ExtensionBundle", "version": "[4.*, 5.0.0)"}
    assert "retry" not in host


# --- events -----------------------------------------------------------------------------------------------------


def test_a_fired_alert_submits_the_stacks_training_pipeline_once(submitted, rejections):
    assert RETRAIN(event(as_json(alert()))) is None
    [sent] = submitted
    assert (sent.experiment_name, sent.workspace) == ("predictive-maintenance-training-dev", "mlw-mlops-dev-weu")
    assert list(sent.job.jobs) == ["gather", "validate", "prep", "train", "evaluate", "gate", "register"]
    assert RETRAIN(event(as_json(alert()), sequence_number=42)) is None  # the action group notified twice
    assert len(submitted) == 1 and rejections() == {}


def test_a_resolved_alert_submits_nothing(submitted, rejections):
    assert RETRAIN(event(as_json(resolved()))) is None
    assert submitted == [] and rejections() == {}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"{not json", "malformed JSON"),
        (as_json({"schemaId": "azureMonitorCommonAlertSchema", "data": []}), "data.essentials is missing"),
        (as_json(alert(monitorCondition="Acknowledged")), "data.essentials.monitorCondition must be Fired or Resolved"),
    ],
    ids=["not-json", "no-essentials", "unknown-condition"],
)
def test_a_poison_event_is_logged_and_counted_never_raised(submitted, rejections, caplog, body, error):
    with caplog.at_level(logging.WARNING, logger="mlops.retrain"):
        assert RETRAIN(event(body)) is None  # returning lets the host checkpoint past it
    [record] = [json.loads(r.getMessage()) for r in caplog.records if r.levelno == logging.WARNING]
    assert record["event"] == "retrain_alert_rejected" and record["status"] == 400
    assert record["error"].startswith(error) and record["sequence_number"] == 41
    assert rejections() == {(("stack", "dev"), ("status", "400")): 1}
    assert submitted == []


def test_a_failed_submission_raises_for_the_retry_policy_and_the_retry_submits(submitted, rejections):
    submitted.failure = ConnectionError("workspace unreachable")
    with pytest.raises(function_app.SubmissionFailed, match=r"^submission failed: ConnectionError: workspace unreachable$"):
        RETRAIN(event(as_json(alert())))
    submitted.failure = None  # the host runs the same event again: its claims were released
    assert RETRAIN(event(as_json(alert()))) is None
    assert len(submitted) == 1 and rejections() == {}
