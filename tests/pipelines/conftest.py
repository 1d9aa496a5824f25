"""Pipelines tests: every test gets its own MLOPS_HOME (MLflow SQLite store, artifacts, step outputs) under
tmp_path and runs from tmp_path, so nothing is written into the repository."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
import pytest

from core.outputs import StackOutputs
from mlops.cli import main
from mlops.outputs import load_outputs
from pipelines.sample_data import generate_telemetry

SMALL_ROWS = 3000


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    monkeypatch.chdir(tmp_path)
    yield
    while mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(None)


@pytest.fixture(scope="session")
def sample() -> pd.DataFrame:
    """A small, learnable sample (fast to train, enough positives for an AUC)."""
    return generate_telemetry(SMALL_ROWS, seed=11)


@pytest.fixture(scope="session")
def dev_outputs() -> StackOutputs:
    return load_outputs("dev")


def write(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return path


def cli(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str]:
    """Run `python -m mlops ...` in-process: its exit code and stderr."""
    capsys.readouterr()
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    return code, capsys.readouterr().err
