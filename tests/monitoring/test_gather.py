"""The gather step: a retrain learns from the history plus the recent window's labelled predictions, collected the
way the scoring script collects them (Capture's Avro, compacted to the predictions zone) and joined with the labels
that arrived; unlabelled predictions are counted and left out; the whole then passes the same validation."""

from __future__ import annotations

import argparse
import datetime as dt
import json

import pandas as pd
import pytest

from pipelines.collect import compact
from pipelines.sample_data import FEATURES, LABEL, SCHEMA, generate_telemetry
from pipelines.steps import gather, validate
from pipelines.steps.common import read_table
from tests.monitoring.test_monitor_job import ENDPOINT, NOW, collect, labels


@pytest.fixture
def lake(tmp_path):
    """Two days ago: 500 rows served and half of them labelled by now; 20 days ago: 500 more, all labelled."""
    recent, old = generate_telemetry(500, seed=21, drifted=True), generate_telemetry(500, seed=22)
    served = NOW - dt.timedelta(days=2)
    ids = collect(tmp_path / "raw", "blue", recent, served, "r")
    labels(tmp_path / "labels", recent, ids, NOW - dt.timedelta(days=1), fraction=0.5)
    earlier = NOW - dt.timedelta(days=20)
    labels(tmp_path / "labels", old, collect(tmp_path / "raw", "blue", old, earlier, "o"), earlier + dt.timedelta(hours=1))
    compact(tmp_path / "raw", tmp_path / "predictions", NOW - dt.timedelta(days=30), NOW)
    history = tmp_path / "history.parquet"
    generate_telemetry(2000, seed=7).to_parquet(history)
    return tmp_path, recent


def args(root, window: str, **ports) -> argparse.Namespace:
    values = {"history": root / "history.parquet", "predictions": root / "predictions", "labels": root / "labels",
              "recent_window": window, "data": root / "data"}
    values.update(ports)
    return argparse.Namespace(**values)


def test_the_recent_labelled_predictions_join_the_history_as_telemetry_rows(lake):
    root, recent = lake
    summary = gather.run(args(root, "14d"), now=NOW)
    assert (summary.history_rows, summary.recent_rows, summary.unlabelled_rows) == (2000, 250, 250)  # 20 days ago: outside
    data = read_table(root / "data")
    assert len(data) == 2250 and list(data.columns) == list(SCHEMA)
    appended = data.iloc[2000:]
    assert appended["event_id"].iloc[0] == f"{ENDPOINT}:r-0:0" and set(appended["device_id"]) == {f"endpoint:{ENDPOINT}"}
    labelled = recent.iloc[:250]  # labels() keeps the first half of the rows, request by request
    assert appended[list(FEATURES)].reset_index(drop=True).equals(labelled[list(FEATURES)].reset_index(drop=True))
    assert appended[LABEL].tolist() == labelled[LABEL].tolist()
    assert (appended["timestamp"] == pd.Timestamp(NOW - dt.timedelta(days=2))).all()
    assert validate.validate_frame(data).success  # the same suite as the history alone
    assert json.loads((root / "data" / gather.SUMMARY_FILE).read_text())["recent_rows"] == 250


def test_without_a_window_the_data_is_the_history(lake):
    root, _recent = lake
    summary = gather.run(args(root, "none", predictions=None, labels=None), now=NOW)
    assert (summary.rows, summary.recent_rows) == (2000, 0)
    assert read_table(root / "data").equals(read_table(root / "history.parquet"))


def test_a_window_with_no_collected_predictions_adds_nothing(tmp_path):
    generate_telemetry(300, seed=7).to_parquet(tmp_path / "history.parquet")
    (tmp_path / "predictions").mkdir()
    assert gather.run(args(tmp_path, "7d"), now=NOW).rows == 300


@pytest.mark.parametrize(
    ("ports", "message"),
    [
        ({"recent_window": "2w"}, "--recent_window: '2w' is not a window such as 24h or 14d"),
        ({"labels": None}, "--labels: missing; --recent_window 14d reads the collected predictions and their labels"),
    ],
)
def test_bad_arguments_are_bad_input(lake, ports, message):
    root, _recent = lake
    with pytest.raises(gather.BadInput, match="^" + message.replace("(", r"\(")):
        gather.run(args(root, "14d", **ports), now=NOW)


def test_a_labels_file_without_the_label_column_is_bad_input(lake):
    root, _recent = lake
    folder = root / "labels" / f"{NOW:%Y}" / f"{NOW:%m}" / f"{NOW:%d}"
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"request_id": ["r-0"], "outcome": [1]}).to_parquet(folder / "bad.parquet")
    with pytest.raises(gather.BadInput, match="missing column"):
        gather.run(args(root, "14d"), now=NOW)
