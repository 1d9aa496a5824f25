"""gather: the training data, the telemetry history plus the labelled predictions of the recent window.

A retrain after drift should learn what the model now sees, not only the history that drifted away. With
`training.recentWindow` set (e.g. "14d"), the predictions the deployments collected in that window
(`predictions/<endpoint>/<yyyy>/<mm>/<dd>/`, every endpoint's, pipelines/collect.py) that have a label by now
(`labels/<yyyy>/<mm>/<dd>/`, joined on request_id and row, as the monitor joins them) become telemetry rows:
the features as scored, `failure` = the label, `event_id` = `<endpoint>:<request_id>:<row>`, `device_id` =
`endpoint:<endpoint>` (a prediction does not know its machine), `timestamp` = the request time. They are appended to
the history, and the validation step checks the whole, so a collected row outside the sensor ranges fails the run
as any other would. Predictions without a label are left out and counted, never guessed. Without a window (the
default, and every local run) the data is the history as it is.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from core.errors import BadInput
from pipelines.sample_data import FEATURES, LABEL, SCHEMA
from pipelines.steps import NOT_SET, step
from pipelines.steps.common import TRAINING_DATA_FILE, read_table, step_main

STEP = step("gather")
SUMMARY_FILE = "gather.json"


@dataclass(frozen=True)
class Gathered:
    history_rows: int
    recent_rows: int  # labelled predictions appended
    unlabelled_rows: int  # predictions of the window without a label yet (left out)
    window: str

    @property
    def rows(self) -> int:
        return self.history_rows + self.recent_rows


def labelled_recent(predictions: Path, labels: Path, since: datetime, until: datetime) -> tuple[pd.DataFrame, int]:
    """The window's collected predictions (every endpoint's) that have a label, as telemetry rows, and how many
    had none."""
    from pipelines.monitor import MonitorInputError, read_labels

    try:
        truth = read_labels(labels, since, until)
    except MonitorInputError as exc:
        raise BadInput(str(exc)) from None
    frames, unlabelled = [], 0
    for endpoint in sorted(p.name for p in Path(predictions).iterdir() if p.is_dir()) if Path(predictions).is_dir() else []:
        frame, missing = _endpoint_rows(Path(predictions), endpoint, truth, since, until)
        frames.append(frame)
        unlabelled += missing
    recent = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(SCHEMA))
    return recent, unlabelled


def _endpoint_rows(predictions: Path, endpoint: str, truth: pd.DataFrame, since: datetime, until: datetime) -> tuple[pd.DataFrame, int]:
    from pipelines.collect import NoPredictions, read_window

    try:
        collected = read_window(predictions, endpoint, since, until).to_pandas()
    except NoPredictions:
        return pd.DataFrame(columns=list(SCHEMA)), 0
    joined = collected.astype({"request_id": str, "row": "int64"}).merge(truth, on=["request_id", "row"], how="inner")
    frame = pd.DataFrame({
        "event_id": endpoint + ":" + joined["request_id"] + ":" + joined["row"].astype(str),
        "device_id": f"endpoint:{endpoint}",
        "timestamp": pd.to_datetime(joined["time"], utc=True).astype("datetime64[ns, UTC]"),
        **{name: joined[name] for name in FEATURES},
        LABEL: joined["label"].astype("int64"),
    })  # fmt: skip
    return frame, len(collected) - len(joined)


def gather(history: pd.DataFrame, recent: pd.DataFrame) -> pd.DataFrame:
    """History then the recent rows, in the history's columns (the recent rows' types follow the history's)."""
    if recent.empty:
        return history
    return pd.concat([history, recent[list(history.columns)].astype(history.dtypes.to_dict())], ignore_index=True)


def run(args: argparse.Namespace, now: datetime | None = None) -> Gathered:
    history = read_table(args.history)
    recent, unlabelled = pd.DataFrame(columns=list(history.columns)), 0
    if args.recent_window != NOT_SET:
        from core.sections import WINDOW, window_hours

        if not WINDOW.fullmatch(args.recent_window):
            raise BadInput(f"--recent_window: {args.recent_window!r} is not a window such as 24h or 14d (or 'none')")
        for name in ("predictions", "labels"):
            if getattr(args, name) is None:
                raise BadInput(f"--{name}: missing; --recent_window {args.recent_window} reads the collected predictions and their labels")
        until = now or datetime.now(UTC)
        since = until - timedelta(hours=window_hours(args.recent_window))
        recent, unlabelled = labelled_recent(args.predictions, args.labels, since, until)
        missing = [name for name in SCHEMA if name not in history.columns]
        if missing and not recent.empty:
            raise BadInput(f"--history: {args.history}: missing column(s) {', '.join(missing)}; the recent rows cannot be appended")
    data = gather(history, recent)
    args.data.mkdir(parents=True, exist_ok=True)
    data.to_parquet(args.data / TRAINING_DATA_FILE, index=False)
    summary = Gathered(len(history), len(recent), unlabelled, args.recent_window)
    (args.data / SUMMARY_FILE).write_text(json.dumps(asdict(summary), indent=2))
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    return step_main(STEP, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
