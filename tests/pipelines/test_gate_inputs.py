"""The gate cannot be bypassed by a number it cannot compare, and data that cannot be evaluated never reaches it.

Regressions: a NaN AUC (a test split with one class) used to pass the gate, even against a production model;
one positive label in 200 rows was a traceback from the split; an unreachable MLflow server was a traceback.
"""

from __future__ import annotations

import json
import math
import socket

import pytest

from pipelines import runner
from pipelines.sample_data import LABEL
from pipelines.steps import evaluate, gate, prep, validate
from pipelines.steps.common import FEATURES_META, RESULT_FILE, TEST_FILE, TRAIN_FILE
from pipelines.steps.gate import decide
from pipelines.steps.train import save_model, train_model
from tests.pipelines.conftest import cli, write


@pytest.mark.parametrize(
    ("numbers", "reason"),
    [
        ((math.nan, 0.8, 0.02, 0.86, "3"), "the candidate's AUC is nan: it is not a finite number; the gate cannot compare it"),
        ((None, 0.8, 0.02), "the candidate's AUC is undefined: it is not a finite number; the gate cannot compare it"),
        ((0.9, math.nan, 0.02), "training.minAuc is nan: it is not a finite number; the gate cannot compare it"),
        ((0.9, 0.8, math.inf), "training.maxAucRegression is inf: it is not a finite number; the gate cannot compare it"),
        ((0.9, 0.8, 0.02, math.nan, "3"), "production version 3's AUC is nan: it is not a finite number; the gate cannot compare it"),
    ],
)
def test_a_number_that_is_not_finite_refuses(numbers, reason):
    verdict = decide(*numbers)
    assert not verdict.passed and verdict.reasons == [reason]


def write_split(features, split, test) -> None:
    """prep's output folder for `split`, with `test` as its test split."""
    features.mkdir()
    split.train.to_parquet(features / TRAIN_FILE, index=False)
    test.to_parquet(features / TEST_FILE, index=False)
    (features / FEATURES_META).write_text(json.dumps(split.meta))


@pytest.fixture(scope="module")
def one_class_test_split(sample, tmp_path_factory):
    """prep's output as it would be if the test split held only negatives, and a model trained on the rest."""
    folder = tmp_path_factory.mktemp("one-class")
    features = folder / "features"
    split = prep.prepare(sample)
    write_split(features, split, split.test[split.test[LABEL] == 0])
    save_model(train_model(split.train, n_estimators=10, max_depth=4), split.train, folder / "model")
    return features, folder / "model"


def test_the_gate_step_refuses_an_auc_from_a_one_class_test_split(one_class_test_split, tmp_path, capsys):
    features, model = one_class_test_split
    assert evaluate.main(["--model", str(model), "--features", str(features), "--metrics", str(tmp_path / "m")]) == 0
    metrics = json.loads((tmp_path / "m" / RESULT_FILE["metrics"]).read_text())
    assert metrics["auc"] is None  # strict JSON: the undefined AUC is null, not NaN
    capsys.readouterr()
    code = gate.main(
        ["--metrics", str(tmp_path / "m"), "--features", str(features), "--min_auc", "0.8",
         "--max_auc_regression", "0.02", "--live_version", "registry", "--verdict", str(tmp_path / "v")]
    )  # fmt: skip
    assert code == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        "refused: evaluation gate: the candidate's AUC is undefined: the test split has one class (only label 0); "
        "the gate cannot compare it"
    )
    verdict = json.loads((tmp_path / "v" / RESULT_FILE["verdict"]).read_text())
    assert verdict["passed"] is False and verdict["candidate_auc"] is None


def test_a_nan_threshold_from_the_command_line_refuses(one_class_test_split, tmp_path, capsys):
    features, _model = one_class_test_split
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / RESULT_FILE["metrics"]).write_text(json.dumps({"auc": 0.9}))
    code = gate.main(
        ["--metrics", str(tmp_path / "m"), "--features", str(features), "--min_auc", "nan",
         "--max_auc_regression", "0.02", "--live_version", "registry", "--verdict", str(tmp_path / "v")]
    )  # fmt: skip
    assert code == 1 and "training.minAuc is nan" in capsys.readouterr().err


def test_validation_refuses_a_label_the_split_cannot_evaluate(sample):
    frame = sample.head(200).assign(**{LABEL: 0})
    frame.loc[5, LABEL] = 1
    report = validate.validate_frame(frame)
    assert not report.success
    assert report.failures == [
        "expect_column_sum_to_be_between(failure): observed 1; each label class needs at least 5 rows so that the "
        "stratified 80/20 split has it in the test split, where the AUC is measured"
    ]


@pytest.mark.parametrize(("positives", "passes"), [(4, False), (5, True), (195, True), (196, False)])
def test_the_split_rule_holds_at_its_bounds(sample, positives, passes):
    frame = sample.head(200).assign(**{LABEL: [1] * positives + [0] * (200 - positives)})
    assert validate.validate_frame(frame).success is passes
    if passes:
        split = prep.prepare(frame)
        assert set(split.test[LABEL]) == set(split.train[LABEL]) == {0, 1}
    else:
        with pytest.raises(prep.BadInput, match="cannot be split for evaluation"):
            prep.prepare(frame)


def test_one_positive_in_200_rows_exits_2_and_registers_nothing(sample, tmp_path, capsys):
    frame = sample.head(200).assign(**{LABEL: 0})
    frame.loc[5, LABEL] = 1
    code, err = cli(capsys, "pipeline", "run", "--stack", "dev", "--data", str(write(frame, tmp_path / "one.parquet")))
    assert code == 2 and "Traceback" not in err
    [line] = [line for line in err.splitlines() if line.startswith("error:")]
    assert "expect_column_sum_to_be_between(failure): observed 1; each label class needs at least 5 rows" in line
    assert not (runner.mlops_home() / "mlflow.db").exists()


def test_an_unreachable_mlflow_server_exits_2_naming_it(sample, tmp_path, capsys, monkeypatch):
    with socket.socket() as probe:  # a loopback port nobody listens on: connections are refused at once
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    code, err = cli(capsys, "pipeline", "run", "--stack", "dev", "--data", str(write(sample, tmp_path / "t.parquet")))
    assert code == 2 and "Traceback" not in err
    [line] = [line for line in err.splitlines() if line.startswith("error:")]
    assert line.startswith(f"error: cannot use the MLflow store http://127.0.0.1:{port} (MLFLOW_TRACKING_URI): ")


def test_the_workspace_client_is_built_from_the_stack_outputs(dev_outputs):
    """`--submit` and `promote --registry workspace` sign in to the workspace the outputs name."""
    client = runner.workspace_client(dev_outputs)
    assert (client.subscription_id, client.resource_group_name, client.workspace_name) == (
        dev_outputs.workspace_id.split("/")[2], dev_outputs.resource_group_name, dev_outputs.workspace_name,
    )  # fmt: skip


@pytest.fixture(scope="module")
def split_and_live_model(sample, tmp_path_factory):
    """prep's output on the sample and a live model (an MLflow folder, as Azure ML mounts it) trained on it."""
    folder = tmp_path_factory.mktemp("live")
    features = folder / "features"
    split = prep.prepare(sample)
    write_split(features, split, split.test)
    live = train_model(split.train, n_estimators=20, max_depth=6)
    save_model(live, split.train, folder / "live")
    return features, folder / "live", evaluate.evaluate_model(live, split.test).auc


def gate_with_live(tmp_path, features, candidate_auc: float, *live: str) -> tuple[int, dict]:
    (tmp_path / "m").mkdir(exist_ok=True)
    (tmp_path / "m" / RESULT_FILE["metrics"]).write_text(json.dumps({"auc": candidate_auc}))
    code = gate.main(["--metrics", str(tmp_path / "m"), "--features", str(features), "--min_auc", "0.5",
                      "--max_auc_regression", "0.02", *live, "--verdict", str(tmp_path / "v")])  # fmt: skip
    verdict_file = tmp_path / "v" / RESULT_FILE["verdict"]
    return code, json.loads(verdict_file.read_text()) if verdict_file.exists() else {}


def test_in_azure_ml_the_gate_compares_with_the_stacks_live_model(split_and_live_model, tmp_path):
    features, live, live_auc = split_and_live_model
    flags = ["--live_model", str(live), "--live_version", "predictive-maintenance:3"]
    code, verdict = gate_with_live(tmp_path, features, live_auc - 0.05, *flags)
    assert code == 1 and verdict["production_version"] == "3" and verdict["production_auc"] == pytest.approx(live_auc)
    assert "below production version 3" in verdict["reasons"][1]
    code, verdict = gate_with_live(tmp_path, features, live_auc - 0.01, *flags)
    assert code == 0 and verdict["passed"] is True


def test_before_the_first_deployment_there_is_nothing_to_compare_with(split_and_live_model, tmp_path):
    features, _live, _auc = split_and_live_model
    code, verdict = gate_with_live(tmp_path, features, 0.7, "--live_version", "none")
    assert code == 0 and verdict["reasons"][1] == "no production model to compare with"


def test_a_named_live_model_that_is_missing_or_not_a_model_is_bad_input(split_and_live_model, tmp_path, capsys):
    features, _live, _auc = split_and_live_model
    capsys.readouterr()
    code, _ = gate_with_live(tmp_path, features, 0.9, "--live_version", "predictive-maintenance:3")
    assert code == 2 and "--live_model: missing; --live_version names the live model predictive-maintenance:3" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    code, _ = gate_with_live(tmp_path, features, 0.9, "--live_model", str(tmp_path / "empty"), "--live_version", "predictive-maintenance:3")
    assert code == 2 and "is not an MLflow model folder" in capsys.readouterr().err
