import json

import pytest

from pipelines.sample_data import LABEL
from pipelines.steps import STEPS, validate
from pipelines.steps.common import RESULT_FILE, parse_args
from pipelines.steps.evaluate import evaluate_model
from pipelines.steps.gate import decide
from pipelines.steps.prep import data_version, prepare
from pipelines.steps.train import train_model
from tests.pipelines.conftest import write


def test_valid_sample_passes_every_expectation(sample):
    report = validate.validate_frame(sample)
    assert report.success and report.failures == []
    assert report.result["statistics"]["evaluated_expectations"] == report.result["statistics"]["successful_expectations"] == 39


def test_violations_are_named_by_expectation_and_column(sample):
    bad = sample.drop(columns=["humidity"]).assign(voltage=sample["voltage"].astype(str))
    bad.loc[3, "temperature"] = None
    bad.loc[5, "pressure"] = 99.0
    bad.loc[7, "event_id"] = bad.loc[8, "event_id"]
    report = validate.validate_frame(bad)
    assert not report.success
    assert report.failures == [
        "expect_table_columns_to_match_set(table): missing column(s) humidity",
        "expect_column_to_have_dtype(voltage): observed 'str'",
        "expect_column_values_to_be_unique(event_id): 2 of 3000 values unexpected "
        "(e.g. 'evt-0011-00000008', 'evt-0011-00000008')",
        "expect_column_values_to_not_be_null(temperature): 1 of 3000 values unexpected (e.g. nan)",
        "expect_column_values_to_be_between(pressure): 1 of 3000 values unexpected (e.g. 99.0)",
    ]


def test_validate_main_saves_the_result_and_exits_2_on_violations(sample, tmp_path, capsys):
    data = write(sample.assign(failure=0), tmp_path / "one-class.csv")
    code = validate.main(["--data", str(data), "--validation_result", str(tmp_path / "out")])
    saved = json.loads((tmp_path / "out" / RESULT_FILE["validation_result"]).read_text())
    assert code == 2 and saved["success"] is False
    assert "expect_column_distinct_values_to_contain_set(failure): expected value(s) absent: 1" in capsys.readouterr().err


def test_flags_are_the_port_names():
    for step in STEPS:
        flags = [f"--{p.name}" for p in (*step.inputs, *step.outputs)]
        argv = [part for flag in flags for part in (flag, "1")]
        assert set(vars(parse_args(step, argv))) == {p.name for p in (*step.inputs, *step.outputs)}


def test_prep_splits_stratified_and_versions_by_content(sample, tmp_path):
    features = prepare(sample)
    assert (len(features.train), len(features.test)) == (2400, 600)
    assert features.test[LABEL].mean() == pytest.approx(sample[LABEL].mean(), abs=0.005)
    assert features.data_version == data_version(sample.copy())
    changed = sample.copy()
    changed.loc[0, "temperature"] += 0.01
    assert data_version(changed) != features.data_version


def test_train_and_evaluate_give_consistent_metrics(sample):
    features = prepare(sample)
    metrics = evaluate_model(train_model(features.train, n_estimators=50, max_depth=6), features.test)
    (tn, fp), (fn, tp) = metrics.confusion_matrix
    assert tn + fp + fn + tp == metrics.test_rows == 600
    assert metrics.precision == pytest.approx(tp / (tp + fp))
    assert metrics.recall == pytest.approx(tp / (tp + fn))
    assert 0.8 <= metrics.auc <= 0.95


def test_gate_passes_a_good_first_model():
    verdict = decide(0.86, min_auc=0.8, max_auc_regression=0.02)
    assert verdict.passed
    assert verdict.reasons == ["AUC 0.8600 meets the minimum 0.8000", "no production model to compare with"]


def test_gate_refuses_below_the_minimum():
    verdict = decide(0.79, min_auc=0.8, max_auc_regression=0.02)
    assert not verdict.passed
    assert verdict.reasons[0] == "AUC 0.7900 is below the minimum 0.8000 (training.minAuc)"


def test_gate_refuses_a_regression_beyond_the_margin_only():
    assert decide(0.85, 0.8, 0.02, production_auc=0.86, production_version="3").passed
    verdict = decide(0.83, 0.8, 0.02, production_auc=0.86, production_version="3")
    assert not verdict.passed
    assert verdict.reasons[1] == (
        "AUC 0.8300 is 0.0300 below production version 3 (0.8600), more than the allowed 0.0200 "
        "(training.maxAucRegression)"
    )
