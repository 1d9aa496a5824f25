"""evaluate: AUC, precision, recall and the confusion matrix of a model on the held-out test split."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import mlflow.sklearn
import pandas as pd
from sklearn.metrics import confusion_matrix, precision_score, recall_score, roc_auc_score

from pipelines.sample_data import FEATURES, LABEL
from pipelines.steps import step
from pipelines.steps.common import log_to_run, read_features, step_main, write_json

STEP = step("evaluate")


@dataclass(frozen=True)
class Metrics:
    auc: float
    precision: float
    recall: float
    confusion_matrix: list[list[int]]  # [[true negatives, false positives], [false negatives, true positives]]
    test_rows: int

    def scalars(self) -> dict[str, float]:
        return {"auc": self.auc, "precision": self.precision, "recall": self.recall}


def evaluate_model(model, test: pd.DataFrame) -> Metrics:
    """Scores with `predict_proba` for the AUC and `predict` (threshold 0.5) for the rest."""
    features, truth = test[list(FEATURES)], test[LABEL]
    predicted = model.predict(features)
    return Metrics(
        auc=float(roc_auc_score(truth, model.predict_proba(features)[:, 1])),
        precision=float(precision_score(truth, predicted, zero_division=0)),
        recall=float(recall_score(truth, predicted, zero_division=0)),
        confusion_matrix=confusion_matrix(truth, predicted, labels=[0, 1]).tolist(),
        test_rows=len(test),
    )


def run(args: argparse.Namespace) -> Metrics:
    _, test, _ = read_features(args.features)
    metrics = evaluate_model(mlflow.sklearn.load_model(str(args.model)), test)
    write_json(args.metrics, "metrics", asdict(metrics))
    log_to_run(metrics=metrics.scalars())
    return metrics


def main(argv: Sequence[str] | None = None) -> int:
    return step_main(STEP, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
