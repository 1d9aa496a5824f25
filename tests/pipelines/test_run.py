"""`python -m mlops pipeline run` end to end on small data, and every kind of bad input (exit 2, nothing registered)."""

import json
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.models import Model

from core.config import load_stack_config
from core.metrics import PROFILE_FILE
from pipelines import runner
from pipelines.drift import ReferenceProfile
from pipelines.registry import MODEL_NAME, PRODUCTION_ALIAS, registered_versions
from pipelines.sample_data import FEATURES
from pipelines.steps.prep import TEST_SIZE, data_version
from tests.pipelines.conftest import cli, write


def versions() -> list[str]:
    """Registered versions in the test's local store (the store the runner uses); none if it was never created."""
    if not (runner.mlops_home() / "mlflow.db").exists():
        return []
    runner.use_local_tracking("dev", runner.mlops_home())
    return [str(v.version) for v in registered_versions()]


def test_run_registers_the_model_with_lineage_tags(sample, tmp_path, capsys):
    data = write(sample, tmp_path / "telemetry.csv")
    record = tmp_path / "run.json"
    code, err = cli(capsys, "pipeline", "run", "--stack", "dev", "--data", str(data), "--out", str(record))
    assert code == 0, err
    assert versions() == ["1"]
    assert json.loads(record.read_text()) == {"stack": "dev", "status": "Completed", "job": None, "model": f"{MODEL_NAME}:1"}
    version = MlflowClient().get_model_version(MODEL_NAME, "1")
    tags = version.tags
    assert tags["data_version"] == data_version(sample)
    assert tags["stack"] == "dev" and tags["gate"] == "passed"
    assert len(tags["git_commit"]) == 40 or tags["git_commit"] == "unknown"
    assert 0.75 <= float(tags["auc"]) <= 0.95  # dev's training.minAuc is 0.75
    model = Model.load(f"models:/{MODEL_NAME}/1")
    assert [c.name for c in model.signature.inputs] == ["machine_type", *list(sample.columns[4:11])]
    assert model.saved_input_example_info is not None
    # The drift reference profile of the training split is a file of the registered version, for the monitor.
    files = Path(mlflow.artifacts.download_artifacts(f"models:/{MODEL_NAME}/1", dst_path=str(tmp_path / "v1")))
    profile = ReferenceProfile.load(files / PROFILE_FILE)
    assert list(profile.features) == list(FEATURES)
    assert profile.rows == len(sample) - round(len(sample) * TEST_SIZE)
    assert "✓ register  predictive-maintenance version 1" in err
    assert not list(tmp_path.glob("mlruns")) and runner.mlops_home().is_relative_to(tmp_path)


def test_gate_compares_with_production_and_a_refusal_leaves_the_registry_unchanged(
    sample, tmp_path, capsys, monkeypatch
):
    data = write(sample, tmp_path / "telemetry.parquet")
    assert cli(capsys, "pipeline", "run", "-s", "dev", "-d", str(data))[0] == 0
    MlflowClient().set_registered_model_alias(MODEL_NAME, PRODUCTION_ALIAS, "1")
    code, err = cli(capsys, "pipeline", "run", "-s", "dev", "-d", str(data))
    assert code == 0 and "within 0.0200 of production version 1" in err

    config = load_stack_config("dev")
    strict = config.model_copy(update={"training": config.training.model_copy(update={"min_auc": 0.99})})
    monkeypatch.setattr(runner, "load_stack_config", lambda stack: strict)
    code, err = cli(capsys, "pipeline", "run", "-s", "dev", "-d", str(data))
    assert code == 1
    assert "refused: evaluation gate: AUC 0." in err and "is below the minimum 0.9900 (training.minAuc)" in err
    assert versions() == ["1", "2"]


def _missing_column(frame):
    return frame.drop(columns=["vibration"])


def _wrong_dtype(frame):
    return frame.assign(temperature=frame["temperature"].astype(str).where(frame.index != 4, "hot"))


def _nulls(frame):
    frame = frame.copy()
    frame.loc[[2, 9], "device_id"] = None
    return frame


def _out_of_range(frame):
    frame = frame.copy()
    frame.loc[6, "humidity"] = 140.0
    return frame


@pytest.mark.parametrize(
    ("corrupt", "expected"),
    [
        (_missing_column, "expect_table_columns_to_match_set(table): missing column(s) vibration"),
        (_wrong_dtype, "expect_column_to_have_dtype(temperature): observed 'str'"),
        (_nulls, "expect_column_values_to_not_be_null(device_id): 2 of 3000 values unexpected"),
        (_out_of_range, "expect_column_values_to_be_between(humidity): 1 of 3000 values unexpected (e.g. 140.0)"),
    ],
    ids=["missing-column", "wrong-dtype", "nulls", "out-of-range"],
)
def test_invalid_data_exits_2_naming_the_expectation(sample, tmp_path, capsys, corrupt, expected):
    data = write(corrupt(sample), tmp_path / "telemetry.csv")
    code, err = cli(capsys, "pipeline", "run", "--stack", "dev", "--data", str(data))
    assert code == 2
    [line] = [line for line in err.splitlines() if line.startswith("error:")]
    assert expected in line and "Traceback" not in err
    assert versions() == [] and not (runner.mlops_home() / "mlflow.db").exists()  # no run, no registration


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.csv", b"", "empty file"),
        ("header-only.csv", b"event_id,device_id\n", "no rows"),
        ("corrupt.csv", b'event_id,device_id\n"a,b\nc,d,e,f\n', "corrupt CSV"),
        ("corrupt.parquet", b"PAR1 this is not parquet", "corrupt Parquet"),
        ("telemetry.json", b"{}", "unsupported format '.json'"),
    ],
    ids=["empty-file", "no-rows", "corrupt-csv", "corrupt-parquet", "unknown-format"],
)
def test_unreadable_files_exit_2(tmp_path, capsys, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    code, err = cli(capsys, "pipeline", "run", "--stack", "dev", "--data", str(path))
    assert code == 2 and expected in err and "Traceback" not in err
    assert versions() == []


def test_missing_file_exits_2_before_anything_runs(tmp_path, capsys):
    code, err = cli(capsys, "pipeline", "run", "--stack", "dev", "--data", str(tmp_path / "nope.csv"))
    assert (code, err.strip()) == (2, f"error: --data: {tmp_path / 'nope.csv'}: no such file")
    assert not runner.mlops_home().exists()


def test_unknown_stack_exits_2(capsys):
    code, err = cli(capsys, "pipeline", "run", "--stack", "qa")
    assert code == 2 and err.strip() == "error: --stack: no stack 'qa' (no stacks/Pulumi.qa.yaml); available: dev, staging, prod, shared"
    assert not runner.mlops_home().exists()
    assert mlflow.active_run() is None
