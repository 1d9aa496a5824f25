"""monitor: the scheduled check of the served models, `python -m pipelines.monitor`, as the stack's Azure ML schedule
runs it.

One run, in order (each link of the monitoring loop in the README):
1. compact: the Event Hubs Capture files of the `predictions` hub become Parquet under
   `<predictions>/<endpoint>/<yyyy>/<mm>/<dd>/` (pipelines.collect);
2. drift, per deployment slot with rows in the window: its collected rows against the reference profile that is a
   file of its model version (`PROFILE_FILE`, saved by training) -> `<reports>/<yyyy-mm-dd>/<slot>/drift.json|html`;
3. quality, per slot: its predictions of the longer label window joined with the labels that arrived since
   (`<labels>/<yyyy>/<mm>/<dd>/*.parquet`: `request_id`, optional `row`, `label`) -> AUC, precision and recall ->
   `<reports>/<yyyy-mm-dd>/<slot>/quality.json`; rows without a label are counted, never guessed;
4. publish: `mlops_drift_share`, `mlops_feature_psi` per feature and `mlops_model_auc` to Application Insights in
   one export, as the job's identity (Monitoring Metrics Publisher), with the slot and model as dimensions. The
   stack's log alerts fire on them and the action group hands the alert to the retrain trigger.

Bad input (no collected rows in the window, a model without a reference profile, collected data that no longer
matches the profile, malformed labels, a refused export) is one line and exit 2, and nothing is published before
every input was read. Drift or low quality is not a failure of the job (exit 0): deciding is the alerts' part.

Settings come from the job's command line and environment, which the stack writes from its config
(`MLOPS_DRIFT_CONFIG`: the stack's `drift` section as JSON).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from core.contracts import DRIFT_CONFIG_ENV
from core.metrics import DRIFT_METRIC, FEATURE_PSI_METRIC, PROFILE_FILE, QUALITY_METRIC
from core.sections import WINDOW, window_hours

LABEL_COLUMNS = ("request_id", "label")  # and optionally `row`, the row's index in its request (default 0)
QUALITY_FILE = "quality.json"

log = logging.getLogger("mlops.monitor")


class MonitorInputError(ValueError):
    """An input the monitor cannot use: exit 2, nothing published."""


@dataclass(frozen=True)
class Quality:
    """The live model on the labelled rows of the label window; metrics are None when undefined, with `note`."""

    rows: int
    labelled: int
    unlabelled: int
    auc: float | None = None
    precision: float | None = None
    recall: float | None = None
    scored_by: str | None = None  # "score" (probability) or "prediction" (the class; a coarser AUC)
    note: str = ""


@dataclass
class DeploymentCheck:
    """One deployment slot's check: its model, its rows in the window, drift against its model's profile, quality."""

    deployment: str
    model: str
    rows: int
    drift_share: float
    dataset_drift: bool
    drifted_features: list[str]
    feature_psi: dict[str, float]
    quality: Quality
    reports: list[str] = field(default_factory=list)

    def metrics(self) -> list[tuple[str, float, dict[str, str]]]:
        """What is published beside the drift share (emit_drift_metric's): (metric, value, extra attributes)."""
        values = [(FEATURE_PSI_METRIC, psi, {"feature": name}) for name, psi in sorted(self.feature_psi.items())]
        if self.quality.auc is not None:
            values.append((QUALITY_METRIC, self.quality.auc, {"scored_by": self.quality.scored_by or ""}))
        return values


@dataclass
class MonitorResult:
    endpoint: str
    since: str
    until: str
    checks: list[DeploymentCheck]
    idle: list[str]  # deployments without rows in the window (no traffic)
    compacted: dict[str, Any] = field(default_factory=dict)


def window(now: datetime, hours: int) -> tuple[datetime, datetime]:
    return now - timedelta(hours=hours), now


def load_reference(model_dir: Path):
    """The drift reference profile that is a file of the model version at `model_dir`."""
    from pipelines.drift import DriftInputError, ReferenceProfile

    path = Path(model_dir) / PROFILE_FILE
    if not path.is_file():
        raise MonitorInputError(
            f"--model: {model_dir} has no drift reference profile ({PROFILE_FILE}); register the model with the "
            "training pipeline, which saves it with the model"
        )
    try:
        return ReferenceProfile.load(path)
    except DriftInputError as exc:
        raise MonitorInputError(str(exc)) from None


def read_labels(labels_root: Path, since: datetime, until: datetime):
    """The labels under the dated folders from `since` to `until` as a DataFrame (request_id, row, label); empty
    when none arrived. A file without the label columns is bad input."""
    import pandas as pd

    frames = []
    day = since.date()
    while day <= until.date():
        folder = Path(labels_root) / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}"
        for path in sorted(folder.glob("*.parquet")) if folder.is_dir() else []:
            try:
                frame = pd.read_parquet(path)
            except Exception as exc:
                raise MonitorInputError(f"--labels: {path}: not a Parquet file ({type(exc).__name__})") from None
            missing = [name for name in LABEL_COLUMNS if name not in frame.columns]
            if missing:
                raise MonitorInputError(f"--labels: {path}: missing column(s) {', '.join(missing)}; expected request_id, label (and row)")
            frame = frame.assign(row=frame["row"] if "row" in frame.columns else 0)
            frames.append(frame[["request_id", "row", "label"]])
        day += timedelta(days=1)
    if not frames:
        return pd.DataFrame({"request_id": pd.Series(dtype=str), "row": pd.Series(dtype="int64"), "label": pd.Series(dtype="int64")})
    labels = pd.concat(frames, ignore_index=True).astype({"request_id": str, "row": "int64"})
    if not labels["label"].isin([0, 1]).all():
        raise MonitorInputError("--labels: label must be 0 or 1")
    return labels.drop_duplicates(["request_id", "row"], keep="last")  # a corrected label replaces the first one


def quality(predictions, labels) -> Quality:
    """AUC, precision and recall of the collected predictions that have a label (joined on request_id and row)."""
    from sklearn.metrics import precision_score, recall_score, roc_auc_score

    joined = predictions.merge(labels, on=["request_id", "row"], how="left")
    labelled = joined[joined["label"].notna()]
    counts = {"rows": len(joined), "labelled": len(labelled), "unlabelled": len(joined) - len(labelled)}
    if labelled.empty:
        return Quality(**counts, note="no labels have arrived for these predictions yet")
    truth = labelled["label"].astype(int)
    if truth.nunique() < 2:
        return Quality(**counts, note=f"the labelled rows have one class only (label {truth.iloc[0]}): AUC is undefined")
    has_scores = "score" in labelled.columns and labelled["score"].notna().all()
    ranking = labelled["score"] if has_scores else labelled["prediction"]
    predicted = labelled["prediction"].astype(int)
    return Quality(
        **counts,
        auc=float(roc_auc_score(truth, ranking)),
        precision=float(precision_score(truth, predicted, zero_division=0)),
        recall=float(recall_score(truth, predicted, zero_division=0)),
        scored_by="score" if has_scores else "prediction",
    )


def _rows_of(table, deployment: str):
    import pyarrow.compute as pc

    return table.filter(pc.equal(table["deployment"], deployment))


def run(args: argparse.Namespace, env: dict[str, str] | os._Environ = os.environ) -> MonitorResult:
    """Every input is read and checked first; then the reports are written and the metrics published once."""
    from core.sections import DriftConfig
    from pipelines import collect
    from pipelines.drift import DriftInputError, appinsights_export, compare_table, emit_drift_metric
    from pipelines.drift_report import write_reports

    now = args.now or datetime.now(UTC)
    limits = DriftConfig.model_validate_json(env.get(DRIFT_CONFIG_ENV) or "{}")
    try:
        export = appinsights_export(env)
    except DriftInputError as exc:
        raise MonitorInputError(str(exc)) from None
    since, until = window(now, args.window_hours)
    label_since, _ = window(now, max(args.label_window_hours, args.window_hours))
    compacted = collect.compact(args.captures, args.predictions, label_since, until) if args.captures else None
    try:
        current = collect.read_window(args.predictions, args.endpoint, since, until)
        recent = collect.read_window(args.predictions, args.endpoint, label_since, until)
    except collect.NoPredictions as exc:
        raise MonitorInputError(f"--predictions: {exc}") from None
    labels = read_labels(args.labels, label_since, until) if args.labels else None

    checks, idle, drifts = [], [], []
    for deployment, model_dir in args.models.items():
        rows = _rows_of(current, deployment)
        if rows.num_rows == 0:
            idle.append(deployment)
            continue
        profile = load_reference(model_dir)
        try:
            drift = compare_table(profile, rows, limits, f"{args.endpoint}/{deployment} {since:%Y-%m-%dT%H:%M}..{until:%Y-%m-%dT%H:%M}")
        except DriftInputError as exc:
            raise MonitorInputError(
                f"{deployment}: the collected predictions no longer match its model's reference profile: {exc}"
            ) from None
        served = _rows_of(recent, deployment).to_pandas()
        scored = quality(served, labels) if labels is not None else Quality(len(served), 0, len(served), note="no --labels folder")
        checks.append(DeploymentCheck(
            deployment=deployment, model=args.model_refs.get(deployment, str(model_dir)), rows=rows.num_rows,
            drift_share=drift.drift_share, dataset_drift=drift.dataset_drift, drifted_features=drift.drifted_features,
            feature_psi={f.name: f.psi for f in drift.features if math.isfinite(f.psi)}, quality=scored,
        ))  # fmt: skip
        drifts.append(drift)
    if not checks:
        raise MonitorInputError(
            f"--predictions: no rows of {', '.join(args.models)} between {since:%Y-%m-%dT%H:%M} and {until:%Y-%m-%dT%H:%M} "
            f"under {args.predictions}/{args.endpoint}"
        )

    day = Path(args.reports) / f"{now:%Y-%m-%d}"
    for check, drift in zip(checks, drifts):
        out = day / check.deployment
        check.reports = [str(path) for path in write_reports(drift, out)]
        (out / QUALITY_FILE).write_text(json.dumps(asdict(check.quality), indent=2, allow_nan=False) + "\n")
        check.reports.append(str(out / QUALITY_FILE))
        attributes = {"stack": args.stack, "endpoint": args.endpoint, "deployment": check.deployment, "model": check.model}
        emit_drift_metric(drift, attributes, export.provider if export else None)
        publish(check, attributes, export.provider if export else None)
    if export is not None and not export.send():
        raise MonitorInputError(
            "APPLICATIONINSIGHTS_CONNECTION_STRING: Application Insights did not accept the metrics (the exporter's "
            "warning above says why; the job's identity needs Monitoring Metrics Publisher on the component)"
        )
    summary = {"files": compacted.files, "rows": compacted.rows, "bad": compacted.bad} if compacted is not None else {}
    return MonitorResult(args.endpoint, since.isoformat(), until.isoformat(), checks, idle, summary)


def publish(check: DeploymentCheck, attributes: dict[str, str], meter_provider=None) -> None:
    """Per-feature PSI and the model's AUC as gauges on `meter_provider` (the drift share is `emit_drift_metric`'s),
    and one log line each."""
    for metric, value, extra in check.metrics():
        log.info(json.dumps({"metric": metric, "value": value, **attributes, **extra}, sort_keys=True))
        if meter_provider is not None:
            gauge = meter_provider.get_meter("mlops.monitor").create_gauge(metric, unit="1")
            gauge.set(value, {**attributes, **extra})


def summary(result: MonitorResult) -> str:
    """One line per deployment checked."""
    lines = []
    for c in result.checks:
        q = c.quality
        auc = f"AUC {q.auc:.3f} on {q.labelled} labelled rows ({q.unlabelled} unlabelled)" if q.auc is not None else f"no AUC: {q.note}"
        drifted = f" (drift: {', '.join(c.drifted_features)})" if c.dataset_drift else ""
        lines.append(f"{result.endpoint}/{c.deployment} {c.model}: {c.rows} rows, {DRIFT_METRIC}={c.drift_share:.3f}{drifted}; {auc}")
    return "\n".join(lines + [f"{result.endpoint}/{d}: no rows in the window" for d in result.idle])


def _hours(value: str) -> int:
    if not WINDOW.fullmatch(value):
        raise argparse.ArgumentTypeError(f"{value!r}: expected a window like 24h or 7d")
    return window_hours(value)


def _pair(value: str) -> tuple[str, str]:
    slot, sep, rest = value.partition("=")
    if not sep or not slot or not rest:
        raise argparse.ArgumentTypeError(f"{value!r}: expected DEPLOYMENT=VALUE")
    return slot, rest


def _instant(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: expected an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pipelines.monitor", description=__doc__.splitlines()[0])
    parser.add_argument("--captures", type=Path, help="Event Hubs Capture folder of the predictions hub (compacted first)")
    parser.add_argument("--predictions", type=Path, required=True, help="collected predictions (Parquet, dated folders)")
    parser.add_argument("--labels", type=Path, help="labels folder (Parquet, dated folders)")
    parser.add_argument("--model", type=_pair, action="append", required=True, metavar="DEPLOYMENT=DIR",
                        help="a deployment slot and its model version's folder (MLflow model with its profile); repeat per slot")
    parser.add_argument("--model-ref", type=_pair, action="append", default=[], metavar="DEPLOYMENT=NAME:VERSION",
                        help="a deployment slot's model, for the metrics")
    parser.add_argument("--reports", type=Path, required=True, help="where <date>/drift.json|html and quality.json go")
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--window", dest="window_hours", type=_hours, default=24)
    parser.add_argument("--label-window", dest="label_window_hours", type=_hours, default=24 * 7)
    parser.add_argument("--now", type=_instant, help="the end of the windows (default: now)")
    args = parser.parse_args(argv)
    args.models = {slot: Path(folder) for slot, folder in args.model}
    args.model_refs = dict(args.model_ref)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(format="%(message)s", stream=sys.stderr)
    logging.getLogger("mlops").setLevel(logging.INFO)
    try:
        result = run(parse_args(argv))
    except MonitorInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
