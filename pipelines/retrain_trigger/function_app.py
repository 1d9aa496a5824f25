"""Azure Function (Python v2 programming model): consumes the alerts that the action group publishes to the Event Hubs
hub `alerts` (common alert schema), one event per invocation; everything about an alert is decided in `trigger.py`.

The trigger connects with the app's managed identity (Azure Event Hubs Data Receiver on the hub): `connection` names
the app-setting prefix `AlertsEventHub`, whose `__fullyQualifiedNamespace` the component sets, and the hub and
consumer group are the app settings `MLOPS_ALERTS_HUB` and `MLOPS_ALERTS_CONSUMER_GROUP` (`%...%` expressions), so
no name or secret is written here (components/retrain_trigger.py sets all four).

What happens to an event:
- submitted, or ignored (resolved, same incident, the rule's cool-down): one log line;
- refused (4xx: not a usable common-schema alert): a warning line and `REJECTED_ALERTS_METRIC` + 1 (Application
  Insights `customMetrics`), never an exception: a poison event is checkpointed past and cannot hold the partition;
- submitted, and the stack configures `retrainTrigger.promotion`: `train.yml` is dispatched in GitHub with the job
  (`dispatch.py`), so the job's completion opens the promotion PR; a failed dispatch is a warning line and
  `DISPATCH_FAILURES_METRIC` + 1, never a failed invocation (the job is submitted and its claims stand);
- failed submission (5xx; `handle_alert` has released its claims): `SubmissionFailed` is raised, so the retry policy
  below runs the event again. Event Hubs checkpoints only once the retries are over, so a partition waits about
  4.5 minutes at most (10, 20, 40, 80 s, then the 2-minute cap; the host adds a little jitter); after the last
  retry the event is given up and the host logs the error.

The retry policy is declared on the function: for Event Hubs triggers Azure Functions supports retry policies at
function level only (host.json-level retries were a preview, removed in December 2022; "Azure Functions error
handling and retries", functions-bindings-error-pages).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

import azure.functions as func
from opentelemetry import metrics

from core.contracts import APPINSIGHTS_ENV
from core.metrics import DISPATCH_FAILURES_METRIC, REJECTED_ALERTS_METRIC
from pipelines.retrain_trigger.dispatch import DispatchError, PromotionDispatch, dispatch
from pipelines.retrain_trigger.trigger import (
    ClaimStore,
    Outcome,
    TriggerSettings,
    handle_alert,
    submit_training,
    workspace_client,
)
from pipelines.telemetry import appinsights_meter_provider

ALERTS_CONNECTION = "AlertsEventHub"  # app setting AlertsEventHub__fullyQualifiedNamespace (identity-based)
ALERTS_HUB_SETTING = "MLOPS_ALERTS_HUB"
ALERTS_CONSUMER_GROUP_SETTING = "MLOPS_ALERTS_CONSUMER_GROUP"
RETRY_COUNT = 5
RETRY_MIN_INTERVAL = timedelta(seconds=10)
RETRY_MAX_INTERVAL = timedelta(minutes=2)
METRICS_EXPORT_INTERVAL_MS = 60_000

log = logging.getLogger("mlops.retrain")
app = func.FunctionApp()


class SubmissionFailed(RuntimeError):
    """The training pipeline could not be submitted; raised so that the function's retry policy runs again."""


@dataclass(frozen=True)
class Runtime:
    settings: TriggerSettings
    store: ClaimStore
    meters: metrics.MeterProvider
    rejected: metrics.Counter
    dispatch_failures: metrics.Counter
    promotion: PromotionDispatch | None


@cache
def _runtime() -> Runtime:
    """Built once per host process from the app settings."""
    settings = TriggerSettings.from_env()
    connection_string = os.environ.get(APPINSIGHTS_ENV)
    meters = (
        appinsights_meter_provider(connection_string, METRICS_EXPORT_INTERVAL_MS)
        if connection_string
        else metrics.get_meter_provider()  # OpenTelemetry's global provider: a no-op unless the process set one
    )
    rejected = meters.get_meter("mlops.retrain").create_counter(
        REJECTED_ALERTS_METRIC, unit="1", description="alerts the retrain function refused (not a usable alert)"
    )
    dispatch_failures = meters.get_meter("mlops.retrain").create_counter(
        DISPATCH_FAILURES_METRIC, unit="1", description="submitted retrain jobs whose promotion workflow could not be started"
    )
    return Runtime(settings, settings.store(), meters, rejected, dispatch_failures, PromotionDispatch.from_env(os.environ))


def process(body: bytes) -> Outcome:
    """One alert through `handle_alert`, submitting with azure-ai-ml as the app's managed identity; a submitted job
    is then handed to the promotion workflow (`promote`)."""
    runtime = _runtime()
    settings = runtime.settings
    outcome = handle_alert(body, settings, runtime.store, submit=lambda stack: submit_training(workspace_client(settings), stack))
    if outcome.status == 202 and runtime.promotion is not None:
        outcome.body["promotion"] = promote(runtime, outcome.body)
    return outcome


def promote(runtime: Runtime, submitted: dict[str, object]) -> str:
    """Dispatch the promotion workflow for a submitted job: "dispatched", or why not (logged and counted)."""
    from azure.identity import DefaultAzureCredential

    promotion = runtime.promotion
    assert promotion is not None
    try:
        dispatch(promotion, runtime.settings.stack, str(submitted["job"]), str(submitted["alert_id"]), DefaultAzureCredential())
    except DispatchError as exc:
        log.warning(json.dumps({"event": "retrain_promotion_not_dispatched", "job": submitted["job"], "error": str(exc)}))
        runtime.dispatch_failures.add(1, {"stack": runtime.settings.stack})
        _flush(runtime)
        return f"not dispatched: {exc}"
    log.info(json.dumps({"event": "retrain_promotion_dispatched", "job": submitted["job"], "workflow": promotion.url}))
    return f"dispatched {promotion.workflow} in {promotion.repository}"


def _interval(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


@app.function_name("retrain")
@app.retry(
    strategy="exponential_backoff",
    max_retry_count=str(RETRY_COUNT),
    minimum_interval=_interval(RETRY_MIN_INTERVAL),
    maximum_interval=_interval(RETRY_MAX_INTERVAL),
)
@app.event_hub_message_trigger(
    arg_name="event",
    event_hub_name=f"%{ALERTS_HUB_SETTING}%",
    connection=ALERTS_CONNECTION,
    consumer_group=f"%{ALERTS_CONSUMER_GROUP_SETTING}%",
    cardinality="one",
)
def retrain(event: func.EventHubEvent) -> None:
    outcome = process(event.get_body())
    if outcome.status >= 500:
        raise SubmissionFailed(outcome.body.get("error", f"status {outcome.status}"))
    if outcome.status >= 400:
        count_rejection(outcome, {"sequence_number": event.sequence_number, "enqueued_time": str(event.enqueued_time)})


def count_rejection(outcome: Outcome, event: dict[str, object]) -> None:
    """A refused event: a warning line (with where it sat in the hub) and the rejected-alerts metric + 1."""
    runtime = _runtime()
    log.warning(json.dumps({"event": "retrain_alert_rejected", "status": outcome.status, **outcome.body, **event}))
    runtime.rejected.add(1, {"stack": runtime.settings.stack, "status": str(outcome.status)})
    _flush(runtime)


def _flush(runtime: Runtime) -> None:
    force_flush = getattr(runtime.meters, "force_flush", None)  # the SDK's provider has it; the API's no-op does not
    if force_flush is not None:
        force_flush()  # a Flex instance can be scaled in before the next periodic export
