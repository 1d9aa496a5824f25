"""The scoring path collects: `score.init()` and `score.run()` with the training pipeline's real MLflow model, as
the inference server calls them, and collection configured from the environment as the stack sets it.

- to a local Capture folder (`MLOPS_COLLECT_DIR`): the Avro files appear in Capture's layout, and `compact` gives
  Parquet under `<endpoint>/<yyyy>/<mm>/<dd>/` with the signature's columns, prediction, score and metadata;
- to Event Hubs (`MLOPS_EVENTHUB_NAMESPACE`), at the wire (tests/azure/wire.py): the REST batch send with an Entra
  token for Event Hubs; a 401 is a counted failure and the answer stays the same;
- a failing collector (its folder is a file; its queue full) answers exactly as no collector does.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading

import pyarrow.parquet as pq
import pytest
from flask import Flask, Request, g
from werkzeug.test import EnvironBuilder

from core import contracts
from pipelines import collect
from tests.azure.wire import token_for
from tests.monitoring.test_scoring_server import ROW, model_dir  # noqa: F401  (session fixture)

NAMESPACE = "evhns-mlops-dev-weu.servicebus.windows.net"
SECOND = {**ROW, "machine_type": "B", "temperature": 95, "vibration": 9.0}  # 95: an integer for a double column
DEPLOYMENT = {collect.ENDPOINT_ENV: "pm-dev", collect.DEPLOYMENT_ENV: "blue", collect.MODEL_ENV: "predictive-maintenance:1"}


@pytest.fixture
def scoring(model_dir, monkeypatch):
    """`start(**env)` runs score.init() in that environment and returns the module; its collector is closed and
    the scoring logger restored afterwards."""
    from pipelines import score

    logger = logging.getLogger("mlops.scoring")
    saved = (logger.handlers[:], logger.propagate, logger.level)
    monkeypatch.setattr(score, "_state", {})
    monkeypatch.setenv("MLOPS_MODEL_URI", str(model_dir))
    for name in contracts.COLLECT_ENV:
        monkeypatch.delenv(name, raising=False)

    def start(**env: str):
        for name in contracts.COLLECT_ENV:
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        if score._state.get("collector"):
            score._state["collector"].close()
        score.init()
        logger.propagate = True  # caplog sees the lines too
        return score

    yield start
    if score._state.get("collector"):
        score._state["collector"].close()
    logger.handlers[:], logger.propagate, logger.level = saved


def post(score, rows: list[dict], request_id: str = "req-1") -> tuple[int, dict]:
    environ = EnvironBuilder(method="POST", data=json.dumps({"input_data": rows}), content_type="application/json").get_environ()
    with Flask("score").app_context():
        g.request_id = request_id  # what the inference server sets per request
        response = score.run(Request(environ))
    return response.status_code, json.loads(response.get_data())


def expected_scores(model_dir, rows):
    import mlflow.sklearn
    from mlflow.models import Model

    from pipelines.score import input_columns, to_frame

    columns = input_columns(Model.load(str(model_dir)), "test")
    return mlflow.sklearn.load_model(str(model_dir)).predict_proba(to_frame(rows, columns))[:, 1].tolist(), columns


def test_a_scored_request_lands_in_capture_layout_and_compacts_to_dated_parquet(scoring, model_dir, tmp_path):
    before = dt.datetime.now(dt.UTC)
    score = scoring(**DEPLOYMENT, **{collect.COLLECT_DIR_ENV: str(tmp_path / "capture")})
    status, body = post(score, [ROW, SECOND])
    assert status == 200 and len(body["predictions"]) == 2
    collector = score._state["collector"]
    assert collector.flush(10) and vars(collector.counts) == {"collected": 1, "dropped": 0, "failed": 0}
    after = dt.datetime.now(dt.UTC)

    [avro] = list((tmp_path / "capture").rglob("*.avro"))
    parsed = collect.parse_capture_path(avro.relative_to(tmp_path / "capture").as_posix())
    assert (parsed.namespace, parsed.hub) == ("local", "predictions") and before - dt.timedelta(seconds=1) <= parsed.window <= after

    summary = collect.compact(tmp_path / "capture", tmp_path / "predictions", before - dt.timedelta(minutes=1), after + dt.timedelta(minutes=1))
    assert (summary.files, summary.events, summary.rows, summary.bad) == (1, 1, 2, {})
    [parquet] = summary.written
    day = parsed.window.date()
    assert parquet.parent == tmp_path / "predictions" / "pm-dev" / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}"

    table = pq.read_table(parquet)
    scores, columns = expected_scores(model_dir, [ROW, SECOND])
    assert table.column_names == [*columns, "prediction", "score", *collect.METADATA_COLUMNS]  # the signature, then ours
    arrow_type = {"double": "double", "string": "string", "long": "int64"}
    assert {name: str(table.schema.field(name).type) for name in columns} == {n: arrow_type[t] for n, t in columns.items()}
    rows = table.to_pylist()
    assert [{name: row[name] for name in columns} for row in rows] == [ROW, {**SECOND, "temperature": 95.0}]
    assert [row["prediction"] for row in rows] == body["predictions"]
    assert [row["score"] for row in rows] == pytest.approx(scores)  # the positive class's probability
    assert {(row["request_id"], row["endpoint"], row["deployment"], row["model_name"], row["model_version"]) for row in rows} == {
        ("req-1", "pm-dev", "blue", "predictive-maintenance", "1")}
    assert all(before <= row["time"] <= after for row in rows)


def test_a_failing_collector_answers_exactly_as_no_collector(scoring, tmp_path, caplog):
    baseline = post(scoring(**DEPLOYMENT), [ROW, SECOND])  # collection off
    assert baseline[0] == 200

    (tmp_path / "occupied").write_text("a file where the folder should be")
    score = scoring(**DEPLOYMENT, **{collect.COLLECT_DIR_ENV: str(tmp_path / "occupied")})
    with caplog.at_level(logging.WARNING, logger="mlops.scoring"):
        assert post(score, [ROW, SECOND]) == baseline
        assert score._state["collector"].flush(10)
    assert vars(score._state["collector"].counts) == {"collected": 0, "dropped": 0, "failed": 1}
    [failure] = [json.loads(r.getMessage()) for r in caplog.records if '"collect_failed"' in r.getMessage()]
    assert failure["endpoint"] == "pm-dev" and failure["failed"] == 1


def test_a_full_queue_drops_without_changing_the_answer(scoring, tmp_path):
    baseline = post(scoring(**DEPLOYMENT), [ROW])
    score = scoring(**DEPLOYMENT)

    class Held:  # a sink that is slow to answer, as Event Hubs can be
        entered, gate = threading.Event(), threading.Event()

        def send(self, bodies, properties):
            self.entered.set()
            self.gate.wait(10)

    sink = Held()
    score._state["collector"] = collect.Collector(sink, collect.Metadata.from_env(), queue_size=1, max_wait=0.0)
    assert post(score, [ROW], "r1") == baseline and sink.entered.wait(5)  # r1 is being sent
    assert post(score, [ROW], "r2") == baseline  # queued
    assert post(score, [ROW], "r3") == baseline  # the queue is full: dropped, the answer is the same
    sink.gate.set()
    assert score._state["collector"].flush(10)
    assert vars(score._state["collector"].counts) == {"collected": 2, "dropped": 1, "failed": 0}


# --- to Event Hubs, at the wire -------------------------------------------------------------------------------

HUB_PATH = rf"{NAMESPACE.replace('.', chr(92) + '.')}/predictions/messages"


def test_the_scoring_path_sends_each_request_to_the_predictions_hub(azure, scoring):
    azure.route("POST", HUB_PATH, lambda call: (201, None))
    score = scoring(**DEPLOYMENT, **{collect.NAMESPACE_ENV: NAMESPACE, collect.HUB_ENV: "predictions"})
    status, body = post(score, [ROW, SECOND], "req-7")
    assert status == 200 and score._state["collector"].flush(10)
    assert score._state["collector"].counts.collected == 1

    [send] = azure.requests_to(NAMESPACE)
    assert (send.method, send.path, send.query) == ("POST", "/predictions/messages", {"timeout": "60", "api-version": "2014-01"})
    assert send.headers["Content-Type"] == "application/vnd.microsoft.servicebus.json"
    assert send.bearer == token_for("https://eventhubs.azure.net")  # the Event Hubs audience
    [sign_in] = [c for c in azure.calls if c.path.endswith("/oauth2/v2.0/token")]
    assert sign_in.form()["scope"] == "https://eventhubs.azure.net/.default"
    [entry] = send.json()
    assert set(entry) == {"Body", "UserProperties"} and entry["UserProperties"] == {"request_id": "req-7", "part": "0"}
    event = json.loads(entry["Body"])
    assert {k: event[k] for k in ("request_id", "endpoint", "deployment", "model_name", "model_version")} == {
        "request_id": "req-7", "endpoint": "pm-dev", "deployment": "blue", "model_name": "predictive-maintenance", "model_version": "1"}
    assert event["rows"] == [ROW, {**SECOND, "temperature": 95.0}] and event["predictions"] == body["predictions"]
    assert len(event["scores"]) == 2 and all(0 <= s <= 1 for s in event["scores"])
    assert collect.parse_event(entry["Body"])["time"].tzinfo is not None


def test_a_refused_send_is_counted_and_the_answer_stays_the_same(azure, scoring):
    baseline = post(scoring(**DEPLOYMENT), [ROW])
    error = {"error": {"code": 401, "message": "Unauthorized: the identity lacks Azure Event Hubs Data Sender"}}
    azure.route("POST", HUB_PATH, lambda call: (401, error))
    score = scoring(**DEPLOYMENT, **{collect.NAMESPACE_ENV: NAMESPACE})
    assert post(score, [ROW]) == baseline
    assert score._state["collector"].flush(10)
    assert vars(score._state["collector"].counts) == {"collected": 0, "dropped": 0, "failed": 1}
    assert len(azure.requests_to(NAMESPACE)) == 1  # a 401 is not retried
