"""The Event Hubs sender at the HTTP wire (tests/azure/wire.py's WireTransport under azure-core): the batch it
POSTs, retries on a 5xx (the back-off is recorded, not slept), and a failure that stays a counted failure."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from pipelines.collect import BATCH_CONTENT_TYPE, Collector, EventHubsSender, Metadata, Prediction, SendError
from tests.azure.wire import Reply, WireTransport, token_for

NAMESPACE = "evhns-mlops-prod-weu.servicebus.windows.net"
PATH = "/predictions/messages"
T0 = dt.datetime(2025, 3, 14, 10, 0, tzinfo=dt.UTC)
ROWS = [{"machine_type": "A", "temperature": 71.5}]


@pytest.fixture
def sender(azure):
    transport = WireTransport(azure)
    return EventHubsSender(f"https://{NAMESPACE}/", "predictions", transport=transport), transport


def test_a_batch_is_one_post_of_every_event(azure, sender):
    client, _ = sender
    azure.on("POST", PATH, Reply(201))
    collector = Collector(client, Metadata("pm-prod", "green", "predictive-maintenance", "4"), max_wait=5.0)
    for n in range(3):
        assert collector.collect(Prediction(f"r{n}", T0, ROWS, [n % 2]))
    assert collector.flush(10) and collector.counts.collected == 3  # flush sends at once, not after max_wait
    [send] = azure.requests_to(NAMESPACE)
    assert send.url == f"https://{NAMESPACE}{PATH}?timeout=60&api-version=2014-01"
    assert send.headers["Content-Type"] == BATCH_CONTENT_TYPE and send.bearer == token_for("https://eventhubs.azure.net")
    assert [json.loads(entry["Body"])["request_id"] for entry in send.json()] == ["r0", "r1", "r2"]
    assert [entry["UserProperties"]["request_id"] for entry in send.json()] == ["r0", "r1", "r2"]


def test_a_5xx_is_retried_then_counted_as_failed(azure, sender):
    client, transport = sender
    busy = Reply(503, {"error": {"code": 503, "message": "ServerBusy"}})
    azure.on("POST", PATH, busy, busy, busy, busy)
    with pytest.raises(SendError, match="Event Hubs answered 503"):
        client.send(['{"request_id": "r1"}'], [{"request_id": "r1", "part": "0"}])
    assert len(azure.requests_to(NAMESPACE)) == 4 and len(transport.sleeps) >= 2  # 3 retries, backing off
    azure.on("POST", PATH, busy, Reply(201))
    collector = Collector(client, Metadata("pm-prod"), max_wait=0.0)
    assert collector.collect(Prediction("r2", T0, ROWS, [1])) and collector.flush(10)
    assert collector.counts.collected == 1  # a transient 503 does not lose the event
    azure.on("POST", PATH, busy, busy, busy, busy)
    assert collector.collect(Prediction("r3", T0, ROWS, [1])) and collector.flush(10) and collector.close()
    assert (collector.counts.collected, collector.counts.failed) == (1, 1)


def test_a_batch_stays_under_the_publication_limit(azure, sender):
    client, _ = sender
    azure.route("POST", NAMESPACE.replace(".", r"\.") + PATH, lambda call: (201, None))
    collector = Collector(client, Metadata("pm-prod"), max_wait=5.0)
    rows = [{"text": "x" * 1000, "n": float(n)} for n in range(200)]  # about 200 KB per request
    for n in range(10):
        collector.collect(Prediction(f"r{n}", T0, rows, [0] * 200))
    assert collector.flush(20) and collector.counts.collected == 10
    sends = azure.requests_to(NAMESPACE)
    assert len(sends) >= 2 and all(len(json.dumps(send.json()).encode()) <= 1024 * 1024 for send in sends)
    assert sorted(json.loads(e["Body"])["request_id"] for s in sends for e in s.json()) == [f"r{n}" for n in range(10)]
