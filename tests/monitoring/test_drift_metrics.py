"""Drift metrics equal scipy's on the same inputs, verdicts follow the thresholds, chunking changes nothing."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import ks_2samp, wasserstein_distance

from core.config import DriftConfig
from pipelines import drift
from pipelines.drift_report import write_reports
from pipelines.sample_data import DRIFTED_FEATURES, FEATURES

LIMITS = DriftConfig()


def profile_of(frame: pd.DataFrame, tmp_path, **options) -> drift.ReferenceProfile:
    path = tmp_path / "reference.parquet"
    frame.to_parquet(path)
    return drift.build_profile(path, **options)


def compare(profile: drift.ReferenceProfile, frame: pd.DataFrame) -> drift.DriftResult:
    return drift.compare_table(profile, pa.Table.from_pandas(frame, preserve_index=False), LIMITS)


@pytest.fixture(scope="module")
def shifted(tmp_path_factory):
    """Continuous reference and a shifted, wider current sample, small enough for exact in-memory scipy."""
    rng = np.random.default_rng(1)
    reference = pd.DataFrame({"x": rng.normal(0, 1, 3000), "c": rng.choice(["a", "b", "c"], 3000, p=[0.5, 0.3, 0.2])})
    current = pd.DataFrame({"x": rng.normal(0.3, 1.2, 2000), "c": rng.choice(["a", "b", "d"], 2000, p=[0.3, 0.3, 0.4])})
    profile = profile_of(reference, tmp_path_factory.mktemp("shifted"))
    return reference, current, profile, {f.name: f for f in compare(profile, current).features}


def test_ks_statistic_and_p_value_equal_scipy(shifted):
    reference, current, _, result = shifted
    expected = ks_2samp(reference["x"], current["x"], method="asymp")
    assert result["x"].ks_statistic == pytest.approx(expected.statistic, abs=1e-15)
    assert result["x"].ks_p_value == pytest.approx(expected.pvalue, rel=1e-12)
    assert result["x"].ks_p_value < 1e-6


def test_wasserstein_equals_scipy_within_the_reported_bound(shifted):
    reference, current, _, result = shifted
    expected = wasserstein_distance(reference["x"], current["x"]) / reference["x"].std(ddof=0)
    feature = result["x"]
    assert abs(feature.wasserstein - expected) <= feature.wasserstein_error_bound + 1e-12
    assert feature.wasserstein_error_bound < 1e-3 * expected
    assert feature.wasserstein == pytest.approx(expected, rel=1e-3)


def test_psi_and_jensen_shannon_equal_a_direct_computation_on_the_same_bins(shifted):
    reference, current, _profile, result = shifted
    feature = result["x"]
    edges = np.quantile(reference["x"], np.arange(1, 10) / 10, method="inverted_cdf")
    ref_counts = np.bincount(np.searchsorted(edges, reference["x"], side="right"), minlength=10)
    cur_counts = np.bincount(np.searchsorted(edges, current["x"], side="right"), minlength=10)
    assert feature.reference_counts == ref_counts.tolist() and feature.current_counts == cur_counts.tolist()
    p, q = ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum()
    assert feature.psi == pytest.approx(np.sum((q - p) * np.log(q / p)), rel=1e-12)
    assert feature.jensen_shannon == pytest.approx(jensenshannon(p, q, base=2), rel=1e-12)


def test_categorical_psi_and_js_pool_unseen_categories(shifted):
    _, current, _, result = shifted
    feature = result["c"]
    assert feature.bins == ["a", "b", "c", drift.UNSEEN] and feature.unseen == ["d"]
    ref = np.array(feature.reference_counts) / sum(feature.reference_counts)
    cur = np.array(feature.current_counts) / sum(feature.current_counts)
    assert feature.current_counts[3] == (current["c"] == "d").sum() and feature.reference_counts[3] == 0
    p, q = np.where(ref == 0, drift.PSI_EPSILON, ref), np.where(cur == 0, drift.PSI_EPSILON, cur)
    assert feature.psi == pytest.approx(np.sum((q - p) * np.log(q / p)), rel=1e-12)
    assert feature.jensen_shannon == pytest.approx(jensenshannon(ref, cur, base=2), rel=1e-12)
    assert feature.drifted and result["x"].drifted


def test_identical_data_has_no_drift(telemetry):
    profile = drift.build_profile(telemetry["reference"], features=FEATURES)
    result = drift.compare_files(profile, telemetry["reference"], LIMITS)
    assert result.drifted_features == [] and result.drift_share == 0 and not result.dataset_drift
    for feature in result.features:
        assert feature.psi == 0 and feature.jensen_shannon == 0
        if feature.kind == "numeric":
            assert feature.ks_statistic == 0 and feature.ks_p_value == 1 and feature.wasserstein == 0


def test_drifted_sample_drifts_on_exactly_the_shifted_features(telemetry):
    profile = drift.build_profile(telemetry["reference"], features=FEATURES)
    result = drift.compare_files(profile, telemetry["drifted"], LIMITS)
    assert sorted(result.drifted_features) == sorted(DRIFTED_FEATURES)
    assert result.drift_share == pytest.approx(3 / len(FEATURES)) and result.dataset_drift
    unchanged = [f for f in result.features if f.name not in DRIFTED_FEATURES]
    assert all(f.psi == 0 and f.ks_statistic == 0 for f in unchanged)


def test_chunked_equals_in_memory_and_csv_equals_parquet(telemetry):
    profile = drift.build_profile(telemetry["reference"], features=FEATURES)
    whole = drift.compare_table(profile, pq.read_table(telemetry["drifted"]), LIMITS)
    for result in (
        drift.compare_files(profile, telemetry["drifted"], LIMITS, chunk_rows=997),
        drift.compare_files(profile, telemetry["drifted_csv"], LIMITS),
    ):
        for chunked, in_memory in zip(result.features, whole.features):
            assert chunked.current_counts == in_memory.current_counts
            assert chunked.ks_statistic == in_memory.ks_statistic
            for metric in ("psi", "jensen_shannon", "ks_p_value", "wasserstein"):
                expected = getattr(in_memory, metric)
                assert getattr(chunked, metric) == (expected if expected is None else pytest.approx(expected, rel=1e-9, abs=1e-12))


def test_saved_profile_gives_the_same_result(telemetry, tmp_path):
    profile = drift.build_profile(telemetry["reference"], features=FEATURES)
    loaded = drift.ReferenceProfile.load(profile.save(tmp_path / "profile.npz"))
    first, second = (drift.compare_files(p, telemetry["drifted"], LIMITS) for p in (profile, loaded))
    assert json.dumps(first.to_dict()["features"]) == json.dumps(second.to_dict()["features"])


def test_bounded_reference_sample_keeps_ks_against_that_sample(tmp_path):
    rng = np.random.default_rng(3)
    profile = profile_of(pd.DataFrame({"x": rng.normal(size=5000)}), tmp_path, sample_size=1000, seed=4)
    reference = profile.features["x"]
    assert reference.sample_rows == 1000 and reference.rows == 5000 and sum(reference.bin_counts) == 5000
    current = rng.normal(0.1, 1, 3000)
    sample = np.repeat(reference.grid, reference.grid_counts)
    feature = compare(profile, pd.DataFrame({"x": current})).features[0]
    assert feature.ks_statistic == pytest.approx(ks_2samp(sample, current, method="asymp").statistic, abs=1e-15)


def test_constant_reference_column_is_compared_by_value(tmp_path):
    profile = profile_of(pd.DataFrame({"x": [5.0] * 100}), tmp_path)
    assert profile.features["x"].bin_labels == ["5", drift.OTHER]
    same = compare(profile, pd.DataFrame({"x": [5.0] * 50})).features[0]
    moved = compare(profile, pd.DataFrame({"x": [5.0] * 25 + [7.0] * 25})).features[0]
    assert not same.drifted and same.wasserstein == 0
    assert moved.drifted and moved.current_counts == [25, 25] and moved.wasserstein == pytest.approx(1.0)
    assert "constant reference" in moved.note


def test_nulls_are_counted_and_left_out(tmp_path):
    profile = profile_of(pd.DataFrame({"x": [1.0, 2.0, None, 3.0], "c": ["a", None, "b", "a"]}), tmp_path)
    result = compare(profile, pd.DataFrame({"x": [np.nan, 2.0, 3.0], "c": ["a", "b", None]}))
    x, c = result.features
    assert (x.reference_nulls, x.current_nulls, x.current_rows) == (1, 1, 2)
    assert (c.reference_nulls, c.current_nulls, c.current_rows) == (1, 1, 2)


NUMBERS = pa.float64()


@pytest.mark.parametrize(
    ("reference", "current", "message"),
    [
        ({"x": ([None, None], NUMBERS)}, {"x": ([1.0], NUMBERS)}, "reference column 'x' has no values (all null)"),
        ({"x": ([1.0, 2.0], NUMBERS)}, {"x": ([None, None], NUMBERS)}, "current column 'x' has no values (all null)"),
        ({"x": ([1.0, 2.0], NUMBERS)}, {"x": ([], NUMBERS)}, "the current data has no rows"),
        ({"x": ([1.0], NUMBERS), "y": ([1.0], NUMBERS)}, {"x": ([1.0], NUMBERS)}, "current data lacks columns: y"),
        ({"x": ([1.0, 2.0], NUMBERS)}, {"x": (["a"], pa.string())}, "'x' is numeric in the reference but categorical (string)"),
    ],
)
def test_unusable_data_raises_one_clear_error(tmp_path, reference, current, message):
    paths = []
    for name, columns in (("reference", reference), ("current", current)):
        paths.append(tmp_path / f"{name}.parquet")
        pq.write_table(pa.table({c: pa.array(v, type=t) for c, (v, t) in columns.items()}), paths[-1])
    with pytest.raises(drift.DriftInputError, match=re.escape(message)):
        drift.compare_files(drift.build_profile(paths[0]), paths[1], LIMITS)


def test_unreadable_file_is_bad_input(tmp_path):
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    with pytest.raises(drift.DriftInputError, match=r"cannot read .*bad\.parquet"):
        drift.build_profile(bad)


def test_identifier_and_time_columns_are_skipped_by_default(telemetry):
    profile = drift.build_profile(telemetry["reference"], exclude=("failure",))
    assert list(profile.features) == list(FEATURES)
    assert set(profile.skipped) == {"event_id", "device_id", "timestamp", "failure"}


def test_reports_are_self_contained(telemetry, tmp_path):
    profile = drift.build_profile(telemetry["reference"], features=FEATURES)
    result = drift.compare_files(profile, telemetry["drifted"], LIMITS)
    json_path, html_path = write_reports(result, tmp_path)
    data = json.loads(json_path.read_text())
    assert data["metric"] == drift.DRIFT_METRIC and data["drift_share"] == result.drift_share
    html = html_path.read_text()
    assert html.count("<svg") == len(FEATURES) and "<script" not in html and "<link" not in html
    assert "src=" not in html and "url(" not in html


def test_charts_have_axes_and_values():
    from pipelines.drift_report import histogram_svg

    svg = histogram_svg(["A", "B", "C"], reference=[50, 30, 20], current=[20, 30, 50])
    assert ">share of rows</text>" in svg and ">bin</text>" in svg
    assert [f">{p}</text>" in svg for p in ("0%", "25%", "50%")] == [True, True, True]  # y ticks of the 50% maximum
    values = re.findall(r'font-size="8" text-anchor="middle">(\d+%)</text>', svg)
    assert values == ["50%", "20%", "30%", "30%", "20%", "50%"]  # reference, current per bin, written above the bars
    assert re.findall(r'rotate\(-30[^>]*>(\w)</text>', svg) == ["A", "B", "C"]


def test_metric_goes_to_the_meter_with_its_name(telemetry):
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    profile = drift.build_profile(telemetry["reference"], features=FEATURES)
    result = drift.compare_files(profile, telemetry["drifted"], LIMITS)
    reader = InMemoryMetricReader()
    sink = drift.emit_drift_metric(result, {"stack": "dev"}, MeterProvider(metric_readers=[reader]))
    [metric] = [m for rm in reader.get_metrics_data().resource_metrics for sm in rm.scope_metrics for m in sm.metrics]
    [point] = metric.data.data_points
    assert (sink, metric.name, point.value, dict(point.attributes)) == ("appinsights", "mlops_drift_share", result.drift_share, {"stack": "dev"})
