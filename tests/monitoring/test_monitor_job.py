"""The scheduled monitor job (`python -m pipelines.monitor`) on collected requests written the way the scoring script
writes them: per-slot drift against each model's own profile, quality on late labels, metrics at the Application
Insights wire, and every kind of bad input is exit 2 with nothing published."""

from __future__ import annotations

import datetime as dt
import json
import re

import numpy as np
import pandas as pd
import pytest

from core.contracts import APPINSIGHTS_ENV
from core.metrics import DRIFT_METRIC, FEATURE_PSI_METRIC, PROFILE_FILE, QUALITY_METRIC
from core.sections import DriftConfig
from pipelines import monitor
from pipelines.collect import CaptureDirSink, Metadata, Prediction, event_bodies
from pipelines.drift import build_profile
from pipelines.sample_data import FEATURES, LABEL, generate_telemetry

NOW = dt.datetime(2026, 12, 2, 6, 0, tzinfo=dt.UTC)
ENDPOINT = "mloe-mlops-dev-weu"
INGESTION = "westeurope-5.in.applicationinsights.azure.com"
TRACK = rf"{re.escape(INGESTION)}/+v2\.1/track"
ROWS_PER_REQUEST = 50


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Two model folders holding only what the monitor reads of them: the training data's reference profile."""
    folder = tmp_path_factory.mktemp("models")
    reference = folder / "train.parquet"
    generate_telemetry(3000, seed=7).to_parquet(reference)
    dirs = {}
    for slot in ("blue", "green"):
        dirs[slot] = folder / slot
        dirs[slot].mkdir()
        build_profile(reference, list(FEATURES)).save(dirs[slot] / PROFILE_FILE)
    return dirs


def collect(root, slot: str, frame: pd.DataFrame, when: dt.datetime, prefix: str) -> list[str]:
    """Send the frame as requests of one slot through the collector's own event format into Capture's layout;
    scores follow the label (a good model), predictions are the thresholded score. Returns the request ids."""
    sink = CaptureDirSink(root, namespace="evhns-mlops-dev", clock=lambda: when)  # Capture enqueued them then
    metadata = Metadata(ENDPOINT, slot, "predictive-maintenance", "4" if slot == "blue" else "5")
    rng = np.random.default_rng(0)
    ids = []
    for start in range(0, len(frame), ROWS_PER_REQUEST):
        chunk = frame.iloc[start:start + ROWS_PER_REQUEST]
        scores = np.clip(chunk[LABEL] * 0.6 + rng.uniform(0, 0.4, len(chunk)), 0, 1).tolist()
        request_id = f"{prefix}-{start // ROWS_PER_REQUEST}"
        bodies = event_bodies(Prediction(request_id, when, chunk[[f for f in FEATURES if f in chunk]], [int(s > 0.5) for s in scores]), metadata,
                              scorer=lambda _frame, s=scores: s)  # fmt: skip
        sink.send(bodies, [{"request_id": request_id}] * len(bodies))
        ids.append(request_id)
    return ids


def labels(root, frame: pd.DataFrame, ids: list[str], when: dt.datetime, fraction: float = 1.0, flip: bool = False) -> int:
    rows = [{"request_id": request_id, "row": row, "label": int(1 - label if flip else label)}
            for index, request_id in enumerate(ids)
            for row, label in enumerate(frame[LABEL].iloc[index * ROWS_PER_REQUEST:(index + 1) * ROWS_PER_REQUEST])]  # fmt: skip
    kept = rows[: int(len(rows) * fraction)]
    folder = root / f"{when:%Y}" / f"{when:%m}" / f"{when:%d}"
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(kept).to_parquet(folder / f"labels-{len(list(folder.iterdir()))}.parquet")
    return len(kept)


def argv(tmp_path, models, *extra: str, slots=("blue", "green")) -> list[str]:
    ports = ["--captures", str(tmp_path / "raw"), "--predictions", str(tmp_path / "predictions"), "--labels", str(tmp_path / "labels"),
             "--reports", str(tmp_path / "monitoring"), "--endpoint", ENDPOINT, "--stack", "dev", "--now", NOW.isoformat()]  # fmt: skip
    for slot in slots:
        ports += ["--model", f"{slot}={models[slot]}", "--model-ref", f"{slot}=predictive-maintenance:{4 if slot == 'blue' else 5}"]
    return [*ports, *extra]


@pytest.fixture
def lake(tmp_path):
    """blue served drifted traffic, green traffic like its training data; all labelled within the hour."""
    drifted, steady = generate_telemetry(1000, seed=11, drifted=True), generate_telemetry(1000, seed=12)
    when = NOW - dt.timedelta(hours=2)
    blue = collect(tmp_path / "raw", "blue", drifted, when, "b")
    green = collect(tmp_path / "raw", "green", steady, when, "g")
    labels(tmp_path / "labels", drifted, blue, NOW - dt.timedelta(hours=1), fraction=0.5)
    labels(tmp_path / "labels", steady, green, NOW - dt.timedelta(hours=1))
    return tmp_path


@pytest.fixture
def app_insights(azure, monkeypatch):
    monkeypatch.setenv(APPINSIGHTS_ENV, f"InstrumentationKey=00000000-0000-4000-8000-0000000000aa;IngestionEndpoint=https://{INGESTION}/")
    for own_telemetry in ("APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL", "APPLICATIONINSIGHTS_SDKSTATS_DISABLED"):
        monkeypatch.setenv(own_telemetry, "true")
    monkeypatch.setenv(monitor.DRIFT_CONFIG_ENV, DriftConfig(drift_share=0.3).model_dump_json(by_alias=True))
    return azure


def test_each_slot_is_checked_against_its_own_profile_and_every_metric_is_published(lake, models, app_insights, capsys):
    app_insights.route("POST", TRACK, {"itemsReceived": 20, "itemsAccepted": 20, "errors": []})
    assert monitor.main(argv(lake, models)) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{ENDPOINT}/blue predictive-maintenance:4: 1000 rows, {DRIFT_METRIC}=")
    assert "(drift: " in out[0] and "AUC 1.000 on 500 labelled rows (500 unlabelled)" in out[0]
    assert out[1].startswith(f"{ENDPOINT}/green predictive-maintenance:5: 1000 rows") and "(drift" not in out[1]
    # compacted Parquet under the dated folder, and the reports per slot
    assert sorted(p.name for p in (lake / "predictions" / ENDPOINT / "2026" / "12" / "02").iterdir())[0].startswith("evhns-mlops-dev-predictions-")
    for slot in ("blue", "green"):
        folder = lake / "monitoring" / "2026-12-02" / slot
        assert {p.name for p in folder.iterdir()} == {"drift.json", "drift.html", monitor.QUALITY_FILE}
        quality = json.loads((folder / monitor.QUALITY_FILE).read_text())
        assert quality["scored_by"] == "score" and quality["rows"] == 1000
    # one export with everything, as the job's identity
    [track] = app_insights.requests_to(INGESTION)
    metrics = [(e["data"]["baseData"]["metrics"][0]["name"], e["data"]["baseData"]["properties"]) for e in track.json()]
    drift = [props["deployment"] for name, props in metrics if name == DRIFT_METRIC]
    assert sorted(drift) == ["blue", "green"]
    auc = {props["deployment"]: props for name, props in metrics if name == QUALITY_METRIC}
    assert auc["blue"] == {"stack": "dev", "endpoint": ENDPOINT, "deployment": "blue", "model": "predictive-maintenance:4", "scored_by": "score"}
    psi = {(props["deployment"], props["feature"]) for name, props in metrics if name == FEATURE_PSI_METRIC}
    assert psi == {(slot, feature) for slot in ("blue", "green") for feature in FEATURES}


def test_labels_join_on_request_and_row_and_the_unlabelled_are_counted(lake, models):
    result = monitor.run(monitor.parse_args(argv(lake, models)), env={})
    blue = next(c for c in result.checks if c.deployment == "blue")
    assert (blue.quality.rows, blue.quality.labelled, blue.quality.unlabelled) == (1000, 500, 500)
    assert blue.quality.auc == 1.0 and blue.quality.precision == 1.0 and blue.quality.recall == 1.0


def test_labels_that_contradict_the_model_lower_its_auc(tmp_path, models):
    frame = generate_telemetry(600, seed=5)
    ids = collect(tmp_path / "raw", "blue", frame, NOW - dt.timedelta(hours=3), "b")
    labels(tmp_path / "labels", frame, ids, NOW - dt.timedelta(hours=1), flip=True)
    [check] = monitor.run(monitor.parse_args(argv(tmp_path, models, slots=("blue",))), env={}).checks
    assert check.quality.auc == 0.0 and (QUALITY_METRIC, 0.0, {"scored_by": "score"}) in check.metrics()


def test_a_slot_without_traffic_is_idle_not_an_error(tmp_path, models):
    collect(tmp_path / "raw", "blue", generate_telemetry(200, seed=3), NOW - dt.timedelta(hours=1), "b")
    result = monitor.run(monitor.parse_args(argv(tmp_path, models)), env={})
    assert [c.deployment for c in result.checks] == ["blue"] and result.idle == ["green"]
    assert result.checks[0].quality.note == "no labels have arrived for these predictions yet"


def _bad(case, tmp_path, models):
    frame = generate_telemetry(300, seed=3)
    when = NOW - dt.timedelta(hours=1)
    if case == "empty-window":
        collect(tmp_path / "raw", "blue", frame, NOW - dt.timedelta(days=3), "old")  # outside the 24h window
    elif case == "schema":
        collect(tmp_path / "raw", "blue", frame.drop(columns=["temperature"]), when, "b")
    else:
        ids = collect(tmp_path / "raw", "blue", frame, when, "b")
        labels(tmp_path / "labels", frame, ids, when)
        folder = tmp_path / "labels" / f"{when:%Y}" / f"{when:%m}" / f"{when:%d}"
        if case == "labels-columns":
            pd.DataFrame({"request_id": ["b-0"], "outcome": [1]}).to_parquet(folder / "other.parquet")
        elif case == "labels-values":
            pd.DataFrame({"request_id": ["b-0"], "label": [2]}).to_parquet(folder / "other.parquet")
        elif case == "labels-not-parquet":
            (folder / "broken.parquet").write_text("not parquet")
    missing = {"blue": tmp_path / "no-profile"} if case == "no-profile" else models
    (tmp_path / "no-profile").mkdir(exist_ok=True)
    return argv(tmp_path, missing, slots=("blue",))


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("empty-window", f"--predictions: no collected predictions of endpoint '{ENDPOINT}' from 2026-12-01 06:00 to 2026-12-02 06:00 UTC"),
        ("no-profile", "has no drift reference profile (drift_profile.npz)"),
        ("schema", "blue: the collected predictions no longer match its model's reference profile"),
        ("labels-columns", "missing column(s) label; expected request_id, label (and row)"),
        ("labels-values", "--labels: label must be 0 or 1"),
        ("labels-not-parquet", "broken.parquet: not a Parquet file"),
    ],
)
def test_bad_input_is_exit_2_and_nothing_is_published(case, message, tmp_path, models, app_insights, capsys):
    app_insights.route("POST", TRACK, {"itemsReceived": 1, "itemsAccepted": 1, "errors": []})
    assert monitor.main(_bad(case, tmp_path, models)) == 2
    [line] = capsys.readouterr().err.strip().splitlines()[-1:]
    assert line.startswith("error: ") and message in line
    assert app_insights.requests_to(INGESTION) == []
    assert not (tmp_path / "monitoring").exists()


def test_a_refused_export_is_exit_2_naming_the_connection_string(lake, models, app_insights, capsys):
    app_insights.route("POST", TRACK, {"itemsReceived": 1, "itemsAccepted": 0, "errors": [{"index": 0, "statusCode": 403, "message": "Forbidden"}]}, status=403)
    assert monitor.main(argv(lake, models)) == 2
    assert "error: APPLICATIONINSIGHTS_CONNECTION_STRING: Application Insights did not accept the metrics" in capsys.readouterr().err


@pytest.mark.parametrize(("flag", "value", "message"), [("--window", "24m", "expected a window like 24h or 7d"),
                                                        ("--model", "blue", "expected DEPLOYMENT=VALUE"),
                                                        ("--now", "yesterday", "expected an ISO 8601 time")])  # fmt: skip
def test_bad_arguments_are_usage_errors(tmp_path, models, flag, value, message, capsys):
    args = argv(tmp_path, models, flag, value)
    with pytest.raises(SystemExit) as exit_info:
        monitor.parse_args(args)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize(("variables", "client_id"), [({"DEFAULT_IDENTITY_CLIENT_ID": "cluster-identity"}, "cluster-identity"),
                                                      ({"AZURE_CLIENT_ID": "deployment-identity"}, "deployment-identity"),
                                                      ({}, None)])  # fmt: skip
def test_on_an_azure_ml_compute_the_exporter_signs_in_as_the_identity_azure_ml_names(azure, monkeypatch, variables, client_id):
    """An Azure ML compute cluster names the job's managed identity in DEFAULT_IDENTITY_CLIENT_ID ("Set up
    authentication between Azure ML and other services", compute cluster); its token endpoint is MSI_ENDPOINT."""
    from pipelines.telemetry import credential

    for name in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "IDENTITY_ENDPOINT", "DEFAULT_IDENTITY_CLIENT_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MSI_ENDPOINT", "https://msi.azureml.local/token")
    monkeypatch.setenv("MSI_SECRET", "offline")
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    azure.route("GET", r"msi\.azureml\.local/token", {"access_token": "t", "expires_on": 4102444800, "resource": "https://monitor.azure.com"})
    assert credential().get_token("https://monitor.azure.com/.default").token == "t"
    [call] = azure.requests_to("msi.azureml.local")
    assert call.headers["secret"] == "offline" and call.query.get("resource") == "https://monitor.azure.com"
    assert call.query.get("clientid") == client_id
