"""Fixtures of the monitoring loop: sample telemetry files (reference, same-seed drifted, another seed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.sample_data import write_sample

ROWS = 6_000


@pytest.fixture(scope="session")
def telemetry(tmp_path_factory) -> dict[str, Path]:
    """reference: seed 7; drifted: seed 7 with the documented covariate drift (Parquet and CSV)."""
    folder = tmp_path_factory.mktemp("telemetry")
    return {
        "reference": write_sample(folder / "reference.parquet", ROWS, seed=7),
        "drifted": write_sample(folder / "drifted.parquet", ROWS, seed=7, drifted=True),
        "drifted_csv": write_sample(folder / "drifted.csv", ROWS, seed=7, drifted=True),
    }
