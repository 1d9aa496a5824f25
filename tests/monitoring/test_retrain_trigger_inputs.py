"""The retrain trigger on hostile and unlucky input: limits before parsing, claims kept only for a submission,
keys that cannot collide. Regressions first, then property tests of the alert parser and the handler."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.retrain_trigger import trigger
from tests.monitoring.test_retrain_trigger import NOW, SETTINGS, alert, as_json

PROPERTY = settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
RUNTIME = trigger.TriggerSettings.from_env({k: v for k, v in SETTINGS.items() if k != trigger.RETRAIN_RULES_ENV})  # cool-down 60 minutes; any rule retrains


class Submissions(list):
    """What `handle_alert` submitted (its `submit` callable is the seam the Function passes azure-ai-ml through)."""

    def __init__(self, failure: BaseException | None = None):
        super().__init__()
        self.failure = failure

    def __call__(self, stack: str) -> str:
        if self.failure is not None:
            raise self.failure
        self.append(stack)
        return f"job-{len(self)}"


def handle(body: bytes, store, submit, now=NOW):
    return trigger.handle_alert(body, RUNTIME, store, submit, now=now)


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400, "JSON nested 100001 levels deep; at most 32"),
        (b" " * (trigger.MAX_ALERT_BYTES + 1), 413, f"body is {trigger.MAX_ALERT_BYTES + 1} bytes; at most {trigger.MAX_ALERT_BYTES}"),
        (as_json(alert(alertId="   ")), 400, "data.essentials.alertId is missing, blank or not a string"),
        (as_json(alert(alertRule="")), 400, "data.essentials.alertRule is missing, blank or not a string"),
        (b'{"schemaId": NaN}', 400, "malformed JSON: NaN is not a valid JSON number"),
    ],
    ids=["deep-nesting", "too-big", "blank-id", "blank-rule", "nan"],
)
def test_malformed_payloads_are_answered_before_anything_is_claimed(body, status, error):
    store, submitted = trigger.MemoryStore(), Submissions()
    outcome = handle(body, store, submitted)
    assert (outcome.status, outcome.body) == (status, {"error": error})
    assert store.claims == {} and submitted == []


def test_an_alert_ignored_for_the_cool_down_is_not_remembered_as_a_retrain():
    store, submitted = trigger.MemoryStore(), Submissions()
    assert handle(as_json(alert()), store, submitted).status == 202
    other = as_json(alert(alertId="/subscriptions/0/providers/Microsoft.AlertsManagement/alerts/second"))
    assert handle(other, store, submitted).body["reason"].startswith("cool-down")
    later = NOW + timedelta(minutes=61)  # the rule's cool-down is over; the second incident notifies again
    outcome = handle(other, store, submitted, now=later)
    assert (outcome.status, outcome.body["action"]) == (202, "submitted") and len(submitted) == 2


def test_a_cancelled_invocation_releases_its_claims():
    store = trigger.MemoryStore()
    with pytest.raises(asyncio.CancelledError):
        handle(as_json(alert()), store, Submissions(asyncio.CancelledError()))
    assert store.claims == {}
    assert handle(as_json(alert()), store, Submissions()).status == 202


@pytest.mark.parametrize(
    ("first", "second"),
    [("/alerts/a/b", "/alerts/a_b"), ("x" * 10 + "y" * 300, "z" * 10 + "y" * 300)],
    ids=["same-after-replacing-characters", "same-last-200-characters"],
)
def test_different_alert_ids_never_share_a_claim(first, second):
    store, submitted = trigger.MemoryStore(), Submissions()
    assert handle(as_json(alert(alertId=first, alertRule="rule-1")), store, submitted).status == 202
    outcome = handle(as_json(alert(alertId=second, alertRule="rule-2")), store, submitted)
    # not "this incident already triggered a retrain": its own incident, held back only by the stack's cool-down
    assert (outcome.status, outcome.body["reason"]) == (200, "cool-down: this stack retrained less than 60 minutes ago")
    outcome = handle(as_json(alert(alertId=second, alertRule="rule-2")), store, submitted, now=NOW + timedelta(minutes=61))
    assert outcome.status == 202, outcome.body
    keys = sorted(store.claims)
    assert len(keys) == 3 and all(len(key.split("/")[1]) == 64 for key in keys)  # two incidents, one stack


def test_stacks_never_share_a_cool_down():
    assert trigger.claim_keys(trigger.Alert("id", "r", "Fired", "", ""), "a")[1] != trigger.claim_keys(trigger.Alert("id", "r", "Fired", "", ""), "a/b")[1]


# --- properties ---------------------------------------------------------------------------------------------------

texts = st.text(max_size=12) | st.sampled_from(["Fired", "Resolved", " ", "azureMonitorCommonAlertSchema"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(texts, c, max_size=3),
    max_leaves=10,
)
essentials = st.dictionaries(st.sampled_from(["alertId", "alertRule", "monitorCondition", "severity", "firedDateTime"]), json_values)
payloads = st.one_of(
    json_values,
    st.fixed_dictionaries({"schemaId": texts, "data": json_values | st.fixed_dictionaries({"essentials": essentials | json_values})}),
    st.builds(lambda e: alert(**e), essentials),
)


@PROPERTY
@given(st.one_of(st.binary(max_size=300), payloads.map(lambda p: json.dumps(p).encode())))
def test_any_body_is_an_alert_or_an_alert_error(body):
    try:
        parsed = trigger.parse_alert(body)
    except trigger.AlertError as exc:
        assert exc.status in (400, 413) and str(exc)
        return
    assert parsed.alert_id.strip() and parsed.rule.strip() and parsed.condition in trigger.CONDITIONS


@PROPERTY
@given(st.one_of(st.binary(max_size=300), payloads.map(lambda p: json.dumps(p).encode())), st.booleans())
def test_the_handler_always_answers_and_keeps_claims_only_for_a_submission(body, fails):
    store = trigger.MemoryStore()
    submitted = Submissions(ConnectionError("down") if fails else None)
    outcome = handle(body, store, submitted)
    assert outcome.status in (200, 202, 400, 413, 503)
    json.dumps(outcome.body).encode("utf-8")
    assert bool(store.claims) == (outcome.status == 202)
