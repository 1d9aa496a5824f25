"""The edge model: the trained scikit-learn pipeline exported to ONNX (skl2onnx) and checked against itself.

`save_onnx` converts the pipeline with one input per feature of the MLflow signature (strings for a categorical
feature, float32 for a numeric one), writes the signature's columns and the training categories into the file's
metadata_props (the edge module validates rows with them, without MLflow), then scores the test split through
the edge module's own runner (`pipelines.edge.model.OnnxModel`) and compares with scikit-learn: every label
equal, every class probability within `PROBABILITY_TOLERANCE`. Any difference refuses the step (exit 1) with
one line, before the file is written, so a model whose export disagrees is never registered.

Why float32 inputs: scikit-learn's trees cast X to float32 before comparing with their thresholds; an ONNX tree
fed doubles compares in double and sends values near a threshold the other way (on the sample data: 14 of 600
test rows off by up to 0.011). Fed float32, the only difference left is float32 summation of the trees' leaf
values (about 2e-7 for 200 trees), hence the tolerance of 1e-5.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow.models import Model
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.pipeline import Pipeline

from core.errors import Refused
from pipelines.edge.model import OnnxModel
from pipelines.model_metadata import CATEGORIES, COLUMNS, ONNX_FILE
from pipelines.signature_rules import input_columns

PROBABILITY_TOLERANCE = 1e-5  # absolute, per class probability
# Opsets the export targets: what the edge image's ONNX Runtime (pipelines/edge/requirements.txt) runs.
TARGET_OPSET = {"": 18, "ai.onnx.ml": 3}
_NUMERIC = {"double", "float", "long", "integer"}


def initial_types(columns: dict[str, str]) -> list[tuple[str, object]]:
    """One [N, 1] input per signature column: string for text, float32 for numbers (see the module's note)."""
    types = []
    for name, kind in columns.items():
        if kind == "string":
            types.append((name, StringTensorType([None, 1])))
        elif kind in _NUMERIC:
            types.append((name, FloatTensorType([None, 1])))
        else:
            raise ValueError(f"column '{name}' has MLflow type {kind}, which the ONNX export does not map")
    return types


def export_onnx(model: Pipeline, columns: dict[str, str], categories: dict[str, list[str]]) -> bytes:
    """The serialized ONNX model, probabilities as a plain tensor (no ZipMap), signature in metadata_props."""
    exported = convert_sklearn(model, initial_types=initial_types(columns), options={"zipmap": False}, target_opset=TARGET_OPSET)
    for key, value in ((COLUMNS, columns), (CATEGORIES, categories)):
        entry = exported.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    return exported.SerializeToString()


def check_parity(model: Pipeline, exported: OnnxModel, frame: pd.DataFrame) -> None:
    """Refused unless ONNX Runtime's labels equal scikit-learn's and its probabilities are within tolerance."""
    features = frame[list(exported.columns)]
    expected_labels, expected = model.predict(features), model.predict_proba(features)
    scores = exported.score(features.to_dict("records"))
    if scores.probabilities.shape != expected.shape:
        raise Refused(f"ONNX parity: probabilities of shape {scores.probabilities.shape}; scikit-learn gives {expected.shape}")
    gap = np.abs(scores.probabilities.astype(np.float64) - expected).max(axis=1)
    labels = scores.labels != expected_labels
    off = labels | (gap > PROBABILITY_TOLERANCE)
    if off.any():
        raise Refused(
            f"ONNX parity: {int(off.sum())} of {len(frame)} test rows differ from scikit-learn ({int(labels.sum())} labels; "
            f"largest probability difference {gap.max():.3g}, tolerance {PROBABILITY_TOLERANCE:g})"
        )


def save_onnx(model: Pipeline, model_dir: Path, test: pd.DataFrame) -> Path:
    """Export the pipeline saved in `model_dir` (its MLflow signature and categories), check parity on the test
    split, and write `ONNX_FILE` into the folder."""
    saved = Model.load(str(model_dir))
    content = export_onnx(model, input_columns(saved, str(model_dir)), (saved.metadata or {}).get(CATEGORIES) or {})
    check_parity(model, OnnxModel(content), test)
    path = Path(model_dir) / ONNX_FILE
    path.write_bytes(content)
    return path
