"""The ONNX model as the edge module runs it: ONNX Runtime on validated rows, no MLflow, scikit-learn or pandas.

The file is the train step's export (`pipelines/onnx_export.py`): one input tensor per feature, shape [N, 1]
(strings for a categorical feature, float32 for a numeric one: the forest compares in float32, as scikit-learn
does), outputs `label` (int64, [N]) and `probabilities` (float32, [N, classes]), and in its metadata_props the
signature's columns and the training categories (JSON), which the signature rules check rows against. The train
step's parity check scores the test split through this same class, so what it proves is what the device runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnxruntime

from pipelines.model_metadata import CATEGORIES, COLUMNS

# ONNX tensor element types of the export's inputs and the numpy dtype each is fed as.
_FEED_DTYPES = {"tensor(string)": np.object_, "tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64}
LABEL_OUTPUT = "label"
PROBABILITIES_OUTPUT = "probabilities"


class ModelFileError(ValueError):
    """A file that is not a usable export: not ONNX, or without the inputs, outputs or metadata the module needs."""


@dataclass(frozen=True)
class Scores:
    labels: np.ndarray  # int64 [N]
    probabilities: np.ndarray  # float32 [N, classes]


class OnnxModel:
    """One loaded export: its input signature (columns, categories) and an ONNX Runtime session."""

    def __init__(self, content: bytes):
        try:
            self.session = onnxruntime.InferenceSession(content, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ModelFileError(f"not a loadable ONNX model: {type(exc).__name__}: {str(exc)[:200]}") from None
        meta = self.session.get_modelmeta().custom_metadata_map
        try:
            self.columns: dict[str, str] = json.loads(meta[COLUMNS])
            self.categories = {name: frozenset(values) for name, values in json.loads(meta.get(CATEGORIES, "{}")).items()}
        except (KeyError, ValueError, TypeError, AttributeError):
            raise ModelFileError(f"the ONNX model has no '{COLUMNS}' signature in its metadata") from None
        self.inputs = {node.name: node.type for node in self.session.get_inputs()}
        outputs = [node.name for node in self.session.get_outputs()]
        if set(self.inputs) != set(self.columns) or any(kind not in _FEED_DTYPES for kind in self.inputs.values()):
            raise ModelFileError(f"the ONNX model's inputs {sorted(self.inputs)} do not match its signature {sorted(self.columns)}")
        if outputs[:2] != [LABEL_OUTPUT, PROBABILITIES_OUTPUT]:
            raise ModelFileError(f"the ONNX model's outputs are {outputs}; expected {[LABEL_OUTPUT, PROBABILITIES_OUTPUT]}")

    def feed(self, rows: list[dict[str, Any]]) -> dict[str, np.ndarray]:
        """Validated rows as the session's inputs: one [N, 1] array per feature, in the input's dtype."""
        return {
            name: np.array([row[name] for row in rows], dtype=_FEED_DTYPES[kind]).reshape(-1, 1)
            for name, kind in self.inputs.items()
        }

    def score(self, rows: list[dict[str, Any]]) -> Scores:
        labels, probabilities = self.session.run([LABEL_OUTPUT, PROBABILITIES_OUTPUT], self.feed(rows))
        return Scores(np.asarray(labels).reshape(-1), np.asarray(probabilities))
