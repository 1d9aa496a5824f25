"""The train step's ONNX export: ONNX Runtime agrees with scikit-learn on the sample data's test split, and a
disagreement refuses the step (exit 1, one line) and writes no file."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from pipelines.edge.model import OnnxModel, Scores
from pipelines.model_metadata import CATEGORIES, COLUMNS, ONNX_FILE
from pipelines.onnx_export import PROBABILITY_TOLERANCE, initial_types
from pipelines.sample_data import FEATURES, NUMERIC_FEATURES
from pipelines.steps import train as train_step
from tests.edge.conftest import MAX_DEPTH, N_ESTIMATORS, write_features


def test_onnx_runtime_matches_scikit_learn_on_the_test_split(trained):
    exported = OnnxModel(trained.onnx)
    features = trained.test[list(FEATURES)]
    scores = exported.score(features.to_dict("records"))
    assert len(trained.test) == 400
    np.testing.assert_array_equal(scores.labels, trained.model.predict(features))
    gap = np.abs(scores.probabilities - trained.model.predict_proba(features)).max()
    assert gap <= PROBABILITY_TOLERANCE
    assert 0 < trained.model.predict(features).sum() < len(features)  # both classes predicted: labels are a real check


def test_the_export_carries_the_signature_and_the_training_categories(trained):
    proto = onnx.load_from_string(trained.onnx)
    meta = {entry.key: json.loads(entry.value) for entry in proto.metadata_props}
    assert meta[COLUMNS] == {"machine_type": "string", **dict.fromkeys(NUMERIC_FEATURES, "double")}
    assert meta[CATEGORIES] == {"machine_type": ["A", "B", "C"]}
    assert [node.name for node in proto.graph.input] == list(FEATURES)
    assert [node.name for node in proto.graph.output] == ["label", "probabilities"]


def test_double_inputs_would_not_match_which_is_why_the_export_feeds_float32():
    kinds = dict(initial_types({"machine_type": "string", "temperature": "double"}))
    assert type(kinds["machine_type"]).__name__ == "StringTensorType" and type(kinds["temperature"]).__name__ == "FloatTensorType"
    with pytest.raises(ValueError, match="boolean"):
        initial_types({"flag": "boolean"})


@pytest.mark.parametrize("broken", ["probabilities", "labels"])
def test_a_disagreeing_export_refuses_the_train_step_and_writes_no_file(trained, tmp_path, capsys, monkeypatch, broken):
    real = OnnxModel.score

    def disagreeing(self, rows):
        scores = real(self, rows)
        if broken == "probabilities":
            return Scores(scores.labels, scores.probabilities + np.float32(0.01))
        return Scores(np.where(np.arange(len(scores.labels)) == 3, 1 - scores.labels, scores.labels), scores.probabilities)

    monkeypatch.setattr(OnnxModel, "score", disagreeing)
    features = write_features(trained, tmp_path / "features")
    argv = ["--features", str(features), "--n_estimators", str(N_ESTIMATORS), "--max_depth", str(MAX_DEPTH), "--model", str(tmp_path / "model")]
    capsys.readouterr()
    assert train_step.main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("refused: ONNX parity: ")
    if broken == "probabilities":
        assert "400 of 400 test rows differ from scikit-learn (0 labels; largest probability difference 0.01" in err
    else:
        assert "1 of 400 test rows differ from scikit-learn (1 labels;" in err
    assert not (tmp_path / "model" / ONNX_FILE).exists()


def test_the_train_step_writes_the_export_beside_the_model(trained, tmp_path):
    features = write_features(trained, tmp_path / "features")
    argv = ["--features", str(features), "--n_estimators", str(N_ESTIMATORS), "--max_depth", str(MAX_DEPTH), "--model", str(tmp_path / "model")]
    assert train_step.main(argv) == 0
    written = OnnxModel((tmp_path / "model" / ONNX_FILE).read_bytes())
    rows = trained.test[list(FEATURES)].to_dict("records")
    np.testing.assert_array_equal(written.score(rows).labels, trained.model.predict(trained.test[list(FEATURES)]))
