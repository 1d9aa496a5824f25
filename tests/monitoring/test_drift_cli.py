"""`python -m mlops drift`: exit 0 without drift, 1 with drift, 2 on bad input; reports and metric line written."""

from __future__ import annotations

import json
import re

import pytest

from core.contracts import APPINSIGHTS_ENV
from mlops.cli import main
from pipelines.drift import DRIFT_METRIC
from tests.azure.wire import token_for

INSTRUMENTATION_KEY = "00000000-0000-4000-8000-0000000000aa"
INGESTION = "westeurope-5.in.applicationinsights.azure.com"
TRACK = rf"{re.escape(INGESTION)}/+v2\.1/track"  # the exporter joins the endpoint's trailing slash and its path


def run(*argv: str) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(["drift", *argv])
    return exit_info.value.code


def test_no_drift_exits_0_and_writes_reports(telemetry, tmp_path, capsys):
    code = run("-r", str(telemetry["reference"]), "-c", str(telemetry["reference"]), "--out", str(tmp_path))
    assert code == 0
    assert json.loads((tmp_path / "drift.json").read_text())["drift_share"] == 0
    assert (tmp_path / "drift.html").read_text().startswith("<!DOCTYPE html>")
    captured = capsys.readouterr()
    assert f"{DRIFT_METRIC}=0.000 (sent to log)" in captured.out
    assert captured.out.splitlines()[0].split() == ["verdict", "feature", "PSI", "JS", "KS", "D", "KS", "p", "W1", "norm"]


def test_drift_exits_1_and_names_the_features(telemetry, tmp_path, capsys, caplog):
    code = run(
        "-r", str(telemetry["reference"]), "-c", str(telemetry["drifted_csv"]), "--out", str(tmp_path),
        "--exclude", "failure", "--save-profile", str(tmp_path / "profile.npz"),
    )  # fmt: skip
    assert code == 1
    captured = capsys.readouterr()
    assert "refused: drift found in machine_type, temperature, vibration (share 0.38 >= 0.3)" in captured.err
    table = [line.split() for line in captured.out.splitlines()[1:9]]
    assert [row[0] for row in table] == ["DRIFT"] * 3 + ["ok"] * 5  # drifted features first
    assert {row[1] for row in table[:3]} == {"machine_type", "temperature", "vibration"}
    vibration = next(row for row in table if row[1] == "vibration")
    assert float(vibration[2]) > 0.2 and float(vibration[5]) < 0.01  # PSI material, KS rejects
    [line] = [r.getMessage() for r in caplog.records if r.name == "mlops.drift"]
    assert json.loads(line) | {"current": "", "reference": ""} == {
        "metric": DRIFT_METRIC, "value": 3 / 8, "dataset_drift": True, "stack": "local", "current": "", "reference": "",
        "drifted_features": ["machine_type", "temperature", "vibration"],
    }  # fmt: skip
    assert run("-r", str(tmp_path / "profile.npz"), "-c", str(telemetry["drifted"]), "--out", str(tmp_path)) == 1


def test_stack_thresholds_are_used(telemetry, tmp_path):
    """dev's drift config: the drifted sample still drifts with the stack's thresholds."""
    assert run("-r", str(telemetry["reference"]), "-c", str(telemetry["drifted"]), "-o", str(tmp_path), "--stack", "dev") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-c", "{reference}", "-r", "{missing}"], "error: cannot read {missing}: no such file"),
        (["-r", "{reference}", "-c", "{reference}", "--features", "nope"], "error: reference data lacks columns: nope"),
        (["-r", "{reference}", "-c", "{reference}", "--stack", "nosuch"], "error: --stack: no stack 'nosuch' (no stacks/Pulumi.nosuch.yaml); available: dev, staging, prod, shared"),
    ],
)
def test_bad_input_exits_2_with_one_line(telemetry, tmp_path, capsys, args, message):
    values = {"reference": telemetry["reference"], "missing": tmp_path / "missing.parquet"}
    assert run(*[a.format(**values) for a in args], "--out", str(tmp_path)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(message.format(**values)) and "Traceback" not in "".join(err)


@pytest.fixture
def app_insights(azure, monkeypatch):
    """The platform's Application Insights at the wire (local auth off: the exporter signs in with Entra ID)."""
    monkeypatch.setenv(APPINSIGHTS_ENV, f"InstrumentationKey={INSTRUMENTATION_KEY};IngestionEndpoint=https://{INGESTION}/")
    for own_telemetry in ("APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL", "APPLICATIONINSIGHTS_SDKSTATS_DISABLED"):
        monkeypatch.setenv(own_telemetry, "true")  # the exporter's reports about itself, sent at exit
    return azure


def test_the_drift_metric_reaches_application_insights_with_an_entra_token(telemetry, tmp_path, capsys, app_insights):
    app_insights.route("POST", TRACK, {"itemsReceived": 1, "itemsAccepted": 1, "errors": []})
    code = run("-r", str(telemetry["reference"]), "-c", str(telemetry["drifted"]), "--out", str(tmp_path), "--stack", "dev")
    assert code == 1 and app_insights.unrouted == []
    [sign_in] = [c for c in app_insights.calls if c.path.endswith("/oauth2/v2.0/token")]
    assert "scope=https%3A%2F%2Fmonitor.azure.com%2F%2F.default" in sign_in.body  # Azure Monitor's audience
    [track] = app_insights.requests_to(INGESTION)
    assert track.bearer == token_for("https://monitor.azure.com/")
    [envelope] = track.json()
    data = envelope["data"]["baseData"]
    assert (envelope["name"], envelope["iKey"]) == ("Microsoft.ApplicationInsights.Metric", INSTRUMENTATION_KEY)
    assert data["metrics"] == [{"name": DRIFT_METRIC, "value": 4 / 9, "count": 1}]
    assert data["properties"] == {"stack": "dev", "reference": str(telemetry["reference"]), "current": str(telemetry["drifted"])}
    assert f"{DRIFT_METRIC}=0.444 (sent to appinsights)" in capsys.readouterr().out


def test_a_metric_application_insights_refuses_is_exit_2_naming_the_connection_string(telemetry, tmp_path, capsys, app_insights):
    refused = {"itemsReceived": 1, "itemsAccepted": 0, "errors": [{"index": 0, "statusCode": 403, "message": "Forbidden"}]}
    app_insights.route("POST", TRACK, refused, status=403)
    code = run("-r", str(telemetry["reference"]), "-c", str(telemetry["reference"]), "--out", str(tmp_path))
    captured = capsys.readouterr()
    assert code == 2 and len(app_insights.requests_to(INGESTION)) == 1
    assert f"{DRIFT_METRIC}=0.000 (NOT sent to appinsights)" in captured.out
    assert captured.err.strip().splitlines()[-1] == (
        f"error: {APPINSIGHTS_ENV}: Application Insights did not accept the drift metric (the exporter's warning "
        "above says why; the identity needs Monitoring Metrics Publisher on the component)"
    )
