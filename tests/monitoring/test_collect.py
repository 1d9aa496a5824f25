"""Inference data collection without a server: the event bodies (split to fit Event Hubs), the collector's queue and
counters, Capture's layout, and compaction of Capture Avro files into dated Parquet (bad events skipped and
counted, re-runs idempotent, time windows)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from pathlib import Path

import fastavro
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines import collect
from pipelines.collect import (
    BadEvent,
    CaptureDirSink,
    Collector,
    Metadata,
    NoPredictions,
    Prediction,
    compact,
    event_bodies,
    parse_event,
    read_window,
)

UTC = dt.UTC
T0 = dt.datetime(2025, 3, 14, 10, 0, 0, tzinfo=UTC)
META = Metadata("pm-endpoint", "blue", "predictive-maintenance", "3")
ROWS = [{"machine_type": "A", "temperature": 71.5}, {"machine_type": "B", "temperature": 90.0}]
PROPERTY = settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def event(request_id="r1", when=T0, **changes) -> bytes:
    """An event body as the collector sends it, with `changes` replacing its keys."""
    body = {"request_id": request_id, "time": when.isoformat().replace("+00:00", "Z"), "endpoint": META.endpoint,
            "deployment": META.deployment, "model_name": META.model_name, "model_version": META.model_version,
            "rows": ROWS, "predictions": [0, 1], "scores": [0.1, 0.9]}  # fmt: skip
    return json.dumps({**body, **changes}).encode()


def write_capture(root: Path, window: dt.datetime, bodies: list[bytes | None], partition: str = "0") -> Path:
    """A Capture file as Event Hubs writes it: Capture's schema, at the archive name format of its window."""
    path = root / collect.capture_path("evhns-mlops-dev", collect.PREDICTIONS_HUB, partition, window)
    path.parent.mkdir(parents=True, exist_ok=True)
    records = [{"SequenceNumber": n, "Offset": str(n * 100), "EnqueuedTimeUtc": window.isoformat(), "SystemProperties": {},
                "Properties": {}, "Body": body} for n, body in enumerate(bodies)]  # fmt: skip
    with path.open("wb") as handle:
        fastavro.writer(handle, fastavro.parse_schema(collect.CAPTURE_SCHEMA), records)
    return path


# --- Capture's layout -----------------------------------------------------------------------------------------


def test_the_reader_takes_the_paths_the_hubs_archive_name_format_gives():
    from components.eventhubs import ARCHIVE_NAME_FORMAT

    assert ARCHIVE_NAME_FORMAT == collect.CAPTURE_NAME_FORMAT
    tokens = {"Namespace": "evhns-mlops-prod-weu", "EventHub": "predictions", "PartitionId": "3", "Year": "2025", "Month": "03",
                  "Day": "04", "Hour": "05", "Minute": "06", "Second": "07"}  # fmt: skip
    parsed = collect.parse_capture_path(ARCHIVE_NAME_FORMAT.format(**tokens) + ".avro")
    assert (parsed.namespace, parsed.hub, parsed.partition) == ("evhns-mlops-prod-weu", "predictions", "3")
    assert parsed.window == dt.datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert collect.capture_path("evhns-mlops-prod-weu", "predictions", "3", parsed.window) == ARCHIVE_NAME_FORMAT.format(**tokens) + ".avro"
    assert collect.parse_capture_path("evhns/predictions/3/2025/3/4/5/6/7.avro") is None  # Capture pads to two digits
    assert collect.parse_capture_path("evhns/predictions/3/2025/02/30/05/06/07.avro") is None  # no such day


def test_the_local_sink_writes_what_capture_writes(tmp_path):
    sink = CaptureDirSink(tmp_path)
    sink.send(["first", "second"], [{"request_id": "r1", "part": "0"}, {"request_id": "r2", "part": "0"}])
    sink.send(["third"], [{"request_id": "r3", "part": "0"}])  # the same second: added to the same file
    files = [f for f in tmp_path.rglob("*") if f.is_file()]
    assert len(files) in (1, 2) and all(collect.parse_capture_path(f.relative_to(tmp_path).as_posix()) for f in files)
    with files[0].open("rb") as handle:
        reader = fastavro.reader(handle)
        written = json.loads(reader.metadata["avro.schema"])
    assert written["fields"] == collect.CAPTURE_SCHEMA["fields"]
    assert written["name"] in ("EventData", "Microsoft.ServiceBus.Messaging.EventData")
    records = [r for f in sorted(files) for r in collect.read_capture_file(f)]
    assert [r["Body"] for r in records] == [b"first", b"second", b"third"]
    assert [r["SequenceNumber"] for r in records] == [0, 1, 2] and records[1]["Properties"] == {"request_id": "r2", "part": "0"}


# --- the event bodies -----------------------------------------------------------------------------------------


def test_an_event_carries_the_request_and_its_metadata():
    import pandas as pd

    frame = pd.DataFrame(ROWS)
    [body] = event_bodies(Prediction("r1", T0, frame, [0, 1]), META, scorer=lambda f: [0.25, 0.75])
    assert json.loads(body) == {
        "request_id": "r1", "time": "2025-03-14T10:00:00Z", "endpoint": "pm-endpoint", "deployment": "blue",
        "model_name": "predictive-maintenance", "model_version": "3", "rows": ROWS, "predictions": [0, 1],
        "scores": [0.25, 0.75],
    }  # fmt: skip
    assert json.loads(event_bodies(Prediction("r1", T0, ROWS, [0, 1]), META)[0])["scores"] is None  # no scorer

    def broken(frame):
        raise ValueError("predict_proba failed")

    [kept] = event_bodies(Prediction("r1", T0, frame, [0, 1]), META, scorer=broken)
    assert json.loads(kept)["scores"] is None and json.loads(kept)["rows"] == ROWS  # the rows are still collected


def test_a_request_too_large_for_one_event_is_split_and_compacts_back_whole(tmp_path):
    rows = [{"machine_type": "A", "temperature": float(n)} for n in range(300)]
    bodies = event_bodies(Prediction("big", T0, rows, list(range(300))), META, budget=4000)
    assert len(bodies) > 3 and all(collect._entry_size(body) <= 4000 for body in bodies)
    parts = [json.loads(body) for body in bodies]
    assert [(p["request_id"], p["part"], p["parts"]) for p in parts] == [("big", n, len(bodies)) for n in range(len(bodies))]
    write_capture(tmp_path / "capture", T0, [body.encode() for body in bodies])
    compact(tmp_path / "capture", tmp_path / "predictions", T0, T0 + dt.timedelta(hours=1))
    table = read_window(tmp_path / "predictions", META.endpoint, T0, T0 + dt.timedelta(hours=1))
    assert table.column("temperature").to_pylist() == [float(n) for n in range(300)]
    assert table.column("prediction").to_pylist() == list(range(300))
    assert table.column("row").to_pylist() == list(range(300))  # each row's index in the request, across the parts


def test_a_row_no_event_can_hold_is_a_counted_failure(tmp_path):
    collector = Collector(CaptureDirSink(tmp_path), META, budget=1000, max_wait=0.01)
    assert collector.collect(Prediction("huge", T0, [{"text": "x" * 2000}], [1]))
    assert collector.flush(5) and collector.close()
    assert (collector.counts.collected, collector.counts.failed) == (0, 1)
    assert not list(tmp_path.rglob("*.avro"))


# --- the collector --------------------------------------------------------------------------------------------


class GatedSink:
    """A sink that holds its first send until the test opens the gate (a slow Event Hubs); then a local folder."""

    def __init__(self, root: Path) -> None:
        self.entered, self.gate, self.inner = threading.Event(), threading.Event(), CaptureDirSink(root)

    def send(self, bodies, properties):
        self.entered.set()
        assert self.gate.wait(10)
        self.inner.send(bodies, properties)


def test_a_full_queue_drops_and_counts_without_blocking(tmp_path):
    sink = GatedSink(tmp_path)
    collector = Collector(sink, META, queue_size=1, max_wait=0.0)
    assert collector.collect(Prediction("r1", T0, ROWS, [0, 1]))
    assert sink.entered.wait(5)  # r1 is being sent, the queue is empty
    assert collector.collect(Prediction("r2", T0, ROWS, [0, 1]))  # queued
    assert not collector.collect(Prediction("r3", T0, ROWS, [0, 1]))  # full: dropped at once
    sink.gate.set()
    assert collector.flush(5) and collector.close()
    assert vars(collector.counts) == {"collected": 2, "dropped": 1, "failed": 0}
    bodies = [json.loads(r["Body"])["request_id"] for f in tmp_path.rglob("*.avro") for r in collect.read_capture_file(f)]
    assert sorted(bodies) == ["r1", "r2"]
    assert not collector.collect(Prediction("r4", T0, ROWS, [0, 1])) and collector.counts.dropped == 2  # closed


def test_failures_are_counted_and_logged_once_per_interval(tmp_path, caplog):
    (tmp_path / "file").write_text("not a folder")
    collector = Collector(CaptureDirSink(tmp_path / "file"), META, max_wait=0.0)
    with caplog.at_level(logging.WARNING, logger="mlops.scoring"):
        for n in range(3):
            collector.collect(Prediction(f"r{n}", T0, ROWS, [0, 1]))
            assert collector.flush(5)
    assert collector.close() and vars(collector.counts) == {"collected": 0, "dropped": 0, "failed": 3}
    [line] = [json.loads(r.getMessage()) for r in caplog.records if r.name == "mlops.scoring"]
    assert line["event"] == "collect_failed" and line["failed"] == 1 and line["endpoint"] == "pm-endpoint"
    assert "NotADirectoryError" in line["reason"] or "FileExistsError" in line["reason"]


def test_collection_is_off_without_a_destination(caplog):
    with caplog.at_level(logging.INFO, logger="mlops.scoring"):
        assert collect.collector_from_env(env={collect.ENDPOINT_ENV: "pm-endpoint"}) is None
    assert [json.loads(r.getMessage())["event"] for r in caplog.records if r.name == "mlops.scoring"] == ["collection_off"]


def test_metadata_comes_from_the_environment():
    env = {collect.ENDPOINT_ENV: "pm", collect.DEPLOYMENT_ENV: "green", collect.MODEL_ENV: "predictive-maintenance:12"}
    assert Metadata.from_env(env) == Metadata("pm", "green", "predictive-maintenance", "12")
    assert Metadata.from_env({collect.MODEL_ENV: "runs:/abc/model:"}) == Metadata("local", "", "runs:/abc/model", "")
    assert Metadata.from_env({}) == Metadata("local", "", "", "")


# --- compaction -----------------------------------------------------------------------------------------------

BAD = {
    "not JSON": b"{rows",
    "not a JSON object": b"[1, 2]",
    "no body": None,
    "missing rows": json.dumps({k: v for k, v in json.loads(event()).items() if k != "rows"}).encode(),
    "predictions do not match the rows": event(predictions=[0]),
    "scores do not match the rows": event(scores=[0.5]),
    "time has no time zone": event(time="2025-03-14T10:00:00"),
    "endpoint is not a valid name": event(endpoint="../../etc"),
    "a feature is named like a prediction or metadata column": event(rows=[{"prediction": 1.0}], predictions=[0], scores=None),
}


def test_bad_events_are_skipped_and_counted_by_reason(tmp_path):
    write_capture(tmp_path / "capture", T0, [event("good-1"), *BAD.values(), event("good-2")])
    summary = compact(tmp_path / "capture", tmp_path / "predictions", T0, T0 + dt.timedelta(minutes=5))
    assert (summary.files, summary.events, summary.rows) == (1, len(BAD) + 2, 4)
    assert summary.bad == dict.fromkeys(BAD, 1) and summary.skipped == len(BAD)
    [written] = summary.written
    assert written == tmp_path / "predictions/pm-endpoint/2025/03/14/evhns-mlops-dev-predictions-0-20250314T100000.parquet"
    table = pq.read_table(written)
    assert table.column_names == ["machine_type", "temperature", "prediction", "score", *collect.METADATA_COLUMNS]
    assert table.column("request_id").to_pylist() == ["good-1", "good-1", "good-2", "good-2"]
    assert str(table.schema.field("time").type) == "timestamp[us, tz=UTC]"
    assert table.to_pylist()[1] == {"machine_type": "B", "temperature": 90.0, "prediction": 1, "score": 0.9,
                                    "request_id": "good-1", "row": 1, "time": T0, "endpoint": "pm-endpoint", "deployment": "blue",
                                    "model_name": "predictive-maintenance", "model_version": "3"}  # fmt: skip
    (tmp_path / "capture" / "evhns-mlops-dev/predictions/1/2025/03/14/10/00/00.avro").parent.mkdir(parents=True)
    (tmp_path / "capture" / "evhns-mlops-dev/predictions/1/2025/03/14/10/00/00.avro").write_bytes(b"not avro")
    again = compact(tmp_path / "capture", tmp_path / "predictions", T0, T0 + dt.timedelta(minutes=5))
    assert again.bad["unreadable Avro file (ValueError)"] == 1 and again.rows == 4  # a broken file is not fatal


def test_a_rerun_overwrites_instead_of_duplicating(tmp_path):
    write_capture(tmp_path / "capture", T0, [event("r1"), event("r2")])
    window = (T0, T0 + dt.timedelta(hours=1))
    first = compact(tmp_path / "capture", tmp_path / "predictions", *window)
    rows = read_window(tmp_path / "predictions", META.endpoint, *window)
    second = compact(tmp_path / "capture", tmp_path / "predictions", *window)
    assert first.written == second.written and read_window(tmp_path / "predictions", META.endpoint, *window).equals(rows)
    assert rows.num_rows == 4 and sorted(p.name for p in (tmp_path / "predictions").rglob("*") if p.is_file()) == [
        first.written[0].name]  # nothing left beside it (no partial files)


def test_time_windows_select_capture_files_and_rows(tmp_path):
    capture, predictions = tmp_path / "capture", tmp_path / "predictions"
    late, early = dt.datetime(2025, 3, 14, 23, 59, 30, tzinfo=UTC), dt.datetime(2025, 3, 15, 0, 0, 30, tzinfo=UTC)
    write_capture(capture, dt.datetime(2025, 3, 14, 22, 0, tzinfo=UTC), [event("before")])
    write_capture(capture, dt.datetime(2025, 3, 14, 23, 59, tzinfo=UTC), [event("late", late), event("early", early)])
    write_capture(capture, dt.datetime(2025, 3, 15, 1, 0, tzinfo=UTC), [event("after", dt.datetime(2025, 3, 15, 1, 0, tzinfo=UTC))])
    summary = compact(capture, predictions, dt.datetime(2025, 3, 14, 23, 0, tzinfo=UTC), dt.datetime(2025, 3, 15, 1, 0, tzinfo=UTC))
    assert summary.files == 1 and summary.rows == 4  # the 23:59 file only; its rows go to their own days
    assert [p.relative_to(predictions).parent.as_posix() for p in summary.written] == ["pm-endpoint/2025/03/14", "pm-endpoint/2025/03/15"]
    day2 = read_window(predictions, META.endpoint, dt.datetime(2025, 3, 15, tzinfo=UTC), dt.datetime(2025, 3, 15, 1, tzinfo=UTC))
    assert set(day2.column("request_id").to_pylist()) == {"early"}
    both = read_window(predictions, META.endpoint, late, early + dt.timedelta(seconds=1))
    assert set(both.column("request_id").to_pylist()) == {"late", "early"}
    with pytest.raises(NoPredictions, match="no collected predictions of endpoint 'pm-endpoint'") as info:
        read_window(predictions, META.endpoint, dt.datetime(2025, 3, 15, 1, tzinfo=UTC), dt.datetime(2025, 3, 16, tzinfo=UTC))
    assert isinstance(info.value, ValueError)
    with pytest.raises(NoPredictions):
        read_window(predictions, "other-endpoint", late, early)


def test_read_window_promotes_types_across_files(tmp_path):
    """An integer feature in one file and a double in another read back as one double column."""
    write_capture(tmp_path / "capture", T0, [event("ints", rows=[{"x": 1}], predictions=[0], scores=None)])
    write_capture(tmp_path / "capture", T0 + dt.timedelta(minutes=1), [event("floats", rows=[{"x": 1.5}], predictions=[1], scores=None)])
    compact(tmp_path / "capture", tmp_path / "predictions", T0, T0 + dt.timedelta(hours=1))
    table = read_window(tmp_path / "predictions", META.endpoint, T0, T0 + dt.timedelta(hours=1))
    assert str(table.schema.field("x").type) == "double" and sorted(table.column("x").to_pylist()) == [1.0, 1.5]


# --- the parser, on anything ----------------------------------------------------------------------------------

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=6))
values = st.recursive(scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3), max_leaves=8)
good = st.builds(
    lambda rows, times: (rows, times),
    st.lists(st.dictionaries(st.sampled_from(["a", "b", "machine_type"]), st.floats(-1e9, 1e9) | st.text(max_size=5), min_size=1), max_size=5),
    st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=st.just(UTC)),
)


@PROPERTY
@given(st.one_of(st.binary(max_size=200), values.map(lambda v: json.dumps(v).encode()),
                 st.builds(lambda key, value: event(**{key: value}), st.sampled_from((*collect.EVENT_KEYS, "scores")), values)))  # fmt: skip
def test_any_body_is_an_event_or_a_bad_event(body):
    try:
        parsed = parse_event(body)
    except BadEvent as bad:
        assert bad.reason and "\n" not in bad.reason
        return
    assert len(parsed["rows"]) == len(parsed["predictions"]) and parsed["time"].utcoffset() == dt.timedelta(0)
    list(collect.event_rows(parsed))


@PROPERTY
@given(good, st.integers(300, 5000))
def test_what_the_collector_sends_parses_back_to_the_same_rows(case, budget):
    rows, when = case
    prediction = Prediction("req", when, rows, list(range(len(rows))))
    try:
        bodies = event_bodies(prediction, META, budget=budget)
    except collect.EventTooLarge:
        return
    parsed = [parse_event(body.encode()) for body in bodies]
    assert [row for p in parsed for row in p["rows"]] == rows
    assert [v for p in parsed for v in p["predictions"]] == list(range(len(rows)))
    assert {p["time"] for p in parsed} <= {when} and all(collect._entry_size(b) <= budget for b in bodies)
