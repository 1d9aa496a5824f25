"""`python -m mlops loop`: the monitoring loop offline, end to end, with the platform's own code at every link."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from mlops.cli import main
from mlops.commands.loop import play
from pipelines.collect import read_window

STACK = "dev"
PROMOTE = "python -m mlops promote --stack staging --model predictive-maintenance:2 --traffic 10 --registry shared"


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    yield
    import mlflow

    while mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(None)


def test_drift_fires_one_retrain_whose_model_passes_the_gate(tmp_path):
    lines = []
    result = play(STACK, tmp_path / "loop", requests=25, history_rows=2500, echo=lines.append)
    assert [line.split()[0] for line in lines] == ["train", "serve", "labels", "monitor", "alert", "trigger", "pipeline", "promote"]
    assert result.model == "predictive-maintenance:1" and result.collected == 25
    assert result.drift_share >= 0.3 and result.fired == ["drift"]  # dev's drift.driftShare; the AUC held up
    # the alert an action group would send, then its re-notification: one retrain
    assert result.answers == [(202, "submitted"), (200, "this incident already triggered a retrain")]
    assert result.retrained == "predictive-maintenance:2" and result.promote == PROMOTE
    assert lines[-1] == f"promote   {PROMOTE}"
    assert "gate: AUC" in lines[-2] and "of production version 1" in lines[-2]
    # the retrain's gather step took the collected window with its labels (25 requests x 40 rows) into the data
    assert "trained on 1250 history + 1000 recent labelled rows" in lines[-2]
    # each link left its trace in the loop's lake: collected Parquet (dated), reports, claims
    lake = tmp_path / "loop" / "lake"
    [endpoint] = [p.name for p in (lake / "predictions").iterdir()]
    table = read_window(lake / "predictions", endpoint, pd.Timestamp.now(tz="UTC") - pd.Timedelta(hours=1), pd.Timestamp.now(tz="UTC") + pd.Timedelta(hours=1))
    assert table.num_rows == 25 * 40 and set(table.column("deployment").to_pylist()) == {"blue"}
    [report] = list((lake / "monitoring").glob("*/blue/drift.json"))
    assert json.loads(report.read_text())["dataset_drift"] is True
    assert len(json.loads((tmp_path / "loop" / "claims.json").read_text())) == 2  # the incident and the stack's cool-down


def test_traffic_like_the_training_data_fires_nothing(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["loop", "--stack", STACK, "--home", str(tmp_path / "loop"), "--no-drift", "--requests", "20"])
    assert exit_info.value.code in (0, None)
    out = capsys.readouterr().out
    assert "alert     nothing fired" in out and "trigger   no alert to handle" in out and "promote" not in out


def test_labels_that_turn_against_the_model_fire_the_quality_alert_and_a_worse_candidate_is_refused(tmp_path):
    """Concept drift: the inputs look as before, the outcomes flipped. The quality alert fires; the retrain on history
    plus the window cannot reach training.minAuc, so the gate refuses, nothing is registered and the trigger answers
    503 (its claims released, so the action group's retry may try again)."""
    result = play(STACK, tmp_path / "loop", drifted=False, concept_drift=True, requests=20, history_rows=2000, echo=lambda line: None)
    assert result.auc < 0.75 and result.fired == ["quality"]
    assert [status for status, _ in result.answers] == [503, 503]
    assert all("submission failed: Refused: evaluation gate: AUC" in why and "(training.minAuc)" in why for _, why in result.answers)
    assert result.retrained is None and result.promote is None
