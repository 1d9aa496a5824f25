import pandas as pd
import pytest

from pipelines.sample_data import DRIFTED_FEATURES, FEATURES, LABEL, SCHEMA, generate_telemetry, write_sample
from pipelines.steps.common import read_table


def test_columns_and_dtypes_are_the_schema():
    frame = generate_telemetry(500)
    assert list(frame.columns) == list(SCHEMA)
    assert str(frame["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert frame[["temperature", "vibration", "operating_hours"]].dtypes.eq("float64").all()
    assert frame[LABEL].dtype == "int64"
    assert set(frame["machine_type"]) == {"A", "B", "C"}
    assert frame["event_id"].is_unique
    assert set(FEATURES) | {LABEL, "event_id", "device_id", "timestamp"} == set(SCHEMA)


def test_deterministic_per_seed_with_a_plausible_failure_rate():
    frame = generate_telemetry()
    pd.testing.assert_frame_equal(frame, generate_telemetry())
    assert not frame.equals(generate_telemetry(seed=8))
    assert 0.05 <= frame[LABEL].mean() <= 0.10


def test_drift_changes_exactly_the_drifted_features():
    base, drifted = generate_telemetry(5000), generate_telemetry(5000, drifted=True)
    changed = {column for column in base.columns if not base[column].equals(drifted[column])}
    assert changed == {*DRIFTED_FEATURES, LABEL}  # the label follows the drifted sensors
    assert drifted["temperature"].mean() - base["temperature"].mean() > 4
    assert (drifted["machine_type"] == "C").mean() == pytest.approx(0.5, abs=0.03)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_written_sample_reads_back_identically(tmp_path, suffix):
    path = write_sample(tmp_path / f"telemetry{suffix}", rows=300, seed=3)
    pd.testing.assert_frame_equal(read_table(path), generate_telemetry(300, seed=3))
