"""Drift on broken profiles, extreme values and large files: one clear error, strict JSON, memory that does not
grow with the rows. Regressions: a truncated profile and a bad App Insights connection string were tracebacks;
drift.json held NaN/Infinity; a real shift at 1e308 read as a Wasserstein distance of 0 (or NaN); Parquet was
buffered whole, so memory grew with the file."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy.stats import wasserstein_distance

from mlops.cli import main
from pipelines import drift
from tests.monitoring.test_drift_metrics import LIMITS


def run(*argv: str) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(["drift", *argv])
    return exit_info.value.code


def strict(text: str):
    """json.loads that refuses NaN and Infinity, as any strict JSON reader does."""
    return json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in strict JSON"))


@pytest.fixture
def profile_file(telemetry, tmp_path):
    return drift.build_profile(telemetry["reference"], exclude=("failure",)).save(tmp_path / "profile.npz")


def rewritten(path, tmp_path, change) -> str:
    """The profile saved again with `change(meta, arrays)` applied."""
    with np.load(path) as data:
        meta, arrays = json.loads(str(data["meta"])), {k: data[k] for k in data.files if k != "meta"}
    change(meta, arrays)
    target = tmp_path / "edited.npz"
    np.savez(target, meta=np.array(json.dumps(meta)), **arrays)
    return str(target)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ("truncate", "not a drift reference profile (File is not a zip file)"),
        ("no-meta", "not a drift reference profile"),
        ("bad-meta", "not a drift reference profile"),
        ("short-grid", "not a valid drift reference profile: feature 'temperature': array lengths do not match"),
        ("unsorted-grid", "not a valid drift reference profile: feature 'temperature': grid is not a sorted array"),
        ("bin-out-of-range", "not a valid drift reference profile: feature 'temperature': bins or spread out of range"),
        ("negative-counts", "not a valid drift reference profile: feature 'machine_type': counts is not an array of counts"),
    ],
)
def test_a_broken_profile_is_one_clear_error(profile_file, telemetry, tmp_path, capsys, edit, message):
    temperature = 1  # machine_type is feature 0, temperature 1
    edits = {
        "truncate": lambda: (tmp_path / "t.npz").write_bytes(profile_file.read_bytes()[: profile_file.stat().st_size // 2]) and str(tmp_path / "t.npz"),
        "no-meta": lambda: np.savez(tmp_path / "m.npz", x=np.arange(3)) or str(tmp_path / "m.npz"),
        "bad-meta": lambda: rewritten(profile_file, tmp_path, lambda m, a: m.update(features=[{"name": 3}])),
        "short-grid": lambda: rewritten(profile_file, tmp_path, lambda m, a: a.update({f"{temperature}.grid": a[f"{temperature}.grid"][:-1]})),
        "unsorted-grid": lambda: rewritten(profile_file, tmp_path, lambda m, a: a.update({f"{temperature}.grid": a[f"{temperature}.grid"][::-1].copy()})),
        "bin-out-of-range": lambda: rewritten(profile_file, tmp_path, lambda m, a: a[f"{temperature}.bin_of_cell"].__setitem__(0, 99)),
        "negative-counts": lambda: rewritten(profile_file, tmp_path, lambda m, a: a["0.counts"].__setitem__(0, -1)),
    }
    path = edits[edit]()
    assert run("-r", path, "-c", str(telemetry["reference"]), "--out", str(tmp_path / "out")) == 2
    [line] = capsys.readouterr().err.strip().splitlines()[-1:]
    assert line.startswith(f"error: {path}: ") and message in line, line


def test_an_unwritable_save_profile_is_bad_input(telemetry, tmp_path, capsys):
    """Found by the CLI fuzz run: a folder as --save-profile was an internal error."""
    assert run("-r", str(telemetry["reference"]), "-c", str(telemetry["reference"]), "--save-profile", str(tmp_path), "--out", str(tmp_path)) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"error: --save-profile: cannot write {tmp_path}: Is a directory"


def test_a_bad_app_insights_connection_string_is_bad_input_before_any_work(telemetry, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("APPLICATIONINSIGHTS_CONNECTION_STRING", "not-a-connection-string")
    assert run("-r", str(telemetry["reference"]), "-c", str(telemetry["reference"]), "--out", str(tmp_path)) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == "error: APPLICATIONINSIGHTS_CONNECTION_STRING: Invalid connection string"
    assert not (tmp_path / "drift.json").exists()


def frames(tmp_path, reference, current):
    pq.write_table(pa.table({"x": reference}), tmp_path / "ref.parquet")
    pq.write_table(pa.table({"x": current}), tmp_path / "cur.parquet")
    return drift.build_profile(tmp_path / "ref.parquet"), tmp_path / "cur.parquet"


def test_a_shift_near_the_float64_limit_is_measured(tmp_path):
    rng = np.random.default_rng(3)
    reference, current = rng.normal(0, 1, 4000) * 1e307, rng.normal(0, 1, 3000) * 1e307 + 5e307
    profile, current_file = frames(tmp_path, reference, current)
    [feature] = drift.compare_files(profile, current_file, LIMITS).features
    expected = wasserstein_distance(reference / 1e307, current / 1e307) / np.std(reference / 1e307)  # the same, scaled
    assert feature.wasserstein == pytest.approx(expected, abs=feature.wasserstein_error_bound + 1e-9)
    assert feature.wasserstein > 4 and feature.drifted and feature.undefined == {}


def test_a_metric_that_is_not_finite_is_null_with_its_reason_and_the_json_is_strict(tmp_path):
    rng = np.random.default_rng(4)
    profile, current_file = frames(tmp_path, rng.normal(0, 1, 4000), np.r_[rng.normal(0, 1, 3000), [np.inf, 1.7e308, -1.7e308]])
    result = drift.compare_files(profile, current_file, LIMITS)
    [feature] = result.features
    assert feature.wasserstein is None and feature.wasserstein_error_bound is None
    assert feature.undefined == {"wasserstein": "not finite: current values lie too far beyond the reference range (or are infinite)"}
    data = strict(result.to_json())
    assert data["features"][0]["wasserstein"] is None and data["features"][0]["ks_statistic"] > 0


def test_an_infinite_reference_value_is_bad_input(tmp_path):
    with pytest.raises(drift.DriftInputError, match="reference column 'x' holds infinite values"):
        frames(tmp_path, np.array([1.0, 2.0, np.inf]), np.array([1.0]))


def arrow_peak(path, chunk_rows: int) -> int:
    """The most memory Arrow held at once while the file's batches streamed by (its own allocation count)."""
    peak = 0
    for _ in drift.iter_batches(path, [f"c{i}" for i in range(8)], chunk_rows):
        peak = max(peak, pa.total_allocated_bytes())
    return peak


def test_streaming_a_parquet_file_holds_one_batch_not_the_file(tmp_path):
    """Peak Arrow memory while streaming is the same for a file four times larger (it grew with the file when
    the reader pre-buffered every row group)."""
    rng = np.random.default_rng(5)
    peaks = []
    for rows in (100_000, 400_000):
        path = tmp_path / f"c-{rows}.parquet"
        pq.write_table(pa.table({f"c{i}": rng.normal(size=rows) for i in range(8)}), path, row_group_size=50_000)
        peaks.append(arrow_peak(path, 10_000))
    assert peaks[1] <= 1.2 * peaks[0], peaks
