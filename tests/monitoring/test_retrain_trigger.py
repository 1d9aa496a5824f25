"""The retrain trigger Function's decisions: common-alert-schema payloads (fired, resolved, malformed), cool-down, and
the submission faked at `MLClient.jobs.create_or_update` (the azure-ai-ml boundary). The Event Hubs entry point
around them is tested in test_retrain_function.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from azure.ai.ml.operations import JobOperations

from pipelines.retrain_trigger import function_app, trigger
from policies.rules import resource_types as t
from tests.conftest import run_with

ALERTS = Path(__file__).parent / "alerts"
NOW = datetime(2026, 11, 25, 10, 16, tzinfo=UTC)
SETTINGS = {
    "MLOPS_STACK": "dev",
    "AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000000",
    "AZURE_RESOURCE_GROUP": "rg-mlops-dev-weu",
    "AZUREML_WORKSPACE_NAME": "mlw-mlops-dev-weu",
    "MLOPS_RETRAIN_COOLDOWN_MINUTES": "60",
    "MLOPS_RETRAIN_RULES": "alrt-mlops-drift-dev-weu,alrt-mlops-quality-dev-weu",
}


def alert(name: str = "drift_log_alert_fired", **essentials) -> dict:
    payload = json.loads((ALERTS / f"{name}.json").read_text())
    payload["data"]["essentials"].update(essentials)
    return payload


def resolved() -> dict:
    return alert(monitorCondition="Resolved", resolvedDateTime="2026-11-25T11:15:08Z")


@pytest.fixture(scope="module")
def stack_outputs_json() -> str:
    """dev's stack outputs as the component writes them into the app settings (here: from the mock run)."""
    from mlops.outputs import load_outputs

    outputs = load_outputs("dev").model_dump(by_alias=True, mode="json")
    return json.dumps({k: v for k, v in outputs.items() if k != "applicationInsightsConnectionString"})


class SubmittedJobs(list):
    failure: Exception | None = None


@pytest.fixture
def submitted(monkeypatch, tmp_path, stack_outputs_json) -> list:
    """Run the Function with file-backed claims; record what reaches MLClient.jobs.create_or_update."""
    calls = SubmittedJobs()

    def create_or_update(self, job, *, experiment_name=None, **kwargs):
        if calls.failure:
            raise calls.failure
        calls.append(SimpleNamespace(job=job, experiment_name=experiment_name, workspace=self._operation_scope.workspace_name))
        return SimpleNamespace(name=f"retrain-{len(calls)}")

    monkeypatch.setattr(JobOperations, "create_or_update", create_or_update)
    app_settings = {**SETTINGS, "MLOPS_STACK_OUTPUTS": stack_outputs_json, "MLOPS_STATE_FILE": str(tmp_path / "claims.json")}
    for key, value in app_settings.items():
        monkeypatch.setenv(key, value)
    function_app._runtime.cache_clear()
    yield calls
    function_app._runtime.cache_clear()


def call(body: bytes) -> tuple[int, dict]:
    """What the Function decides for one alert, with its runtime wiring (app settings, claims, azure-ai-ml)."""
    outcome = function_app.process(body)
    return outcome.status, outcome.body


def as_json(value) -> bytes:
    return json.dumps(value).encode()


def test_fired_alert_submits_the_stacks_training_pipeline(submitted):
    status, body = call(as_json(alert()))
    assert (status, body["action"], body["job"], body["rule"]) == (202, "submitted", "retrain-1", "alrt-mlops-drift-dev-weu")
    [sent] = submitted
    assert (sent.experiment_name, sent.workspace) == ("predictive-maintenance-training-dev", "mlw-mlops-dev-weu")
    assert sent.job.type == "pipeline" and list(sent.job.jobs) == ["gather", "validate", "prep", "train", "evaluate", "gate", "register"]
    assert sent.job.display_name == "predictive-maintenance training (dev)"


def test_one_incident_retrains_once(submitted):
    assert call(as_json(alert()))[0] == 202
    status, body = call(as_json(alert()))
    assert (status, body["reason"]) == (200, "this incident already triggered a retrain") and len(submitted) == 1


def test_a_retraining_alert_within_the_stack_cool_down_is_ignored(submitted):
    assert call(as_json(alert()))[0] == 202
    again = alert(alertId="/subscriptions/0/providers/Microsoft.AlertsManagement/alerts/another-incident")
    status, body = call(as_json(again))
    assert (status, body["reason"]) == (200, "cool-down: this stack retrained less than 60 minutes ago")
    # the quality alert firing beside the drift alert on the same degradation does not train a second time
    quality = alert(alertId="/subscriptions/0/providers/Microsoft.AlertsManagement/alerts/q", alertRule="alrt-mlops-quality-dev-weu")
    assert call(as_json(quality))[1]["reason"].startswith("cool-down")
    assert len(submitted) == 1


def test_only_the_retraining_rules_retrain(submitted):
    """The action group carries the operational alerts too; the stack names the drift and quality rules."""
    status, body = call(as_json(alert("latency_metric_alert_fired")))
    assert (status, body["action"], body["reason"]) == (200, "ignored", "not a retraining rule (MLOPS_RETRAIN_RULES)")
    assert submitted == []
    record = run_with("dev")
    settings = record.one(t.WEB_APP_SETTINGS).inputs["properties"].value
    assert sorted(settings["MLOPS_RETRAIN_RULES"].split(",")) == sorted(a.inputs["ruleName"] for a in record.of_type(t.SCHEDULED_QUERY_RULE))
    assert SETTINGS["MLOPS_RETRAIN_RULES"] == settings["MLOPS_RETRAIN_RULES"]  # the recorded payloads carry these names


def test_resolved_alert_is_ignored(submitted):
    status, body = call(as_json(resolved()))
    assert (status, body["action"], body["reason"]) == (200, "ignored", "the alert is resolved") and submitted == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "malformed JSON"),
        (as_json({"data": {}}), "schemaId must be 'azureMonitorCommonAlertSchema'"),
        (as_json({"schemaId": "azureMonitorCommonAlertSchema", "data": []}), "data.essentials is missing"),
        (as_json(alert(alertId=None)), "data.essentials.alertId is missing, blank or not a string"),
        (as_json(alert(monitorCondition="Acknowledged")), "data.essentials.monitorCondition must be Fired or Resolved"),
    ],
)
def test_malformed_payload_is_400(submitted, body, reason):
    status, answer = call(body)
    assert status == 400 and answer["error"].startswith(reason) and submitted == []


def test_failed_submission_is_503_and_frees_the_claims(submitted):
    submitted.failure = ConnectionError("workspace unreachable")
    status, body = call(as_json(alert()))
    assert (status, body["error"]) == (503, "submission failed: ConnectionError: workspace unreachable")
    submitted.failure = None  # the function's retry policy runs it again: now it goes through
    assert call(as_json(alert()))[0] == 202 and len(submitted) == 1


@pytest.mark.parametrize("kind", ["memory", "file"])
def test_claim_stores_expire_and_release(kind, tmp_path):
    claims = trigger.MemoryStore() if kind == "memory" else trigger.FileStore(tmp_path / "claims.json")
    later = NOW + timedelta(minutes=5)
    assert claims.claim("rule/dev/x", later, NOW) and not claims.claim("rule/dev/x", later, NOW)
    assert claims.claim("rule/dev/x", later + timedelta(minutes=5), later + timedelta(seconds=1))  # expired: taken over
    claims.release("rule/dev/x")
    assert claims.claim("rule/dev/x", later, NOW)


def test_missing_app_settings_name_them():
    with pytest.raises(RuntimeError, match="app settings missing: AZURE_RESOURCE_GROUP, AZUREML_WORKSPACE_NAME"):
        trigger.TriggerSettings.from_env({"MLOPS_STACK": "dev", "AZURE_SUBSCRIPTION_ID": "x"})
