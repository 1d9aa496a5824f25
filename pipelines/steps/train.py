"""train: a scikit-learn random forest on the features, hyper-parameters from the stack config, fixed seed.

The model is one sklearn Pipeline (one-hot machine type + forest), saved in MLflow format with a signature
and an input example, so it scores raw telemetry columns wherever it is loaded (evaluate, serving). Beside the
model, in its folder, goes the drift reference profile of the training split (`PROFILE_FILE`): the register step
makes it a file of the registered version, and the scheduled monitor compares production data against it. So
does the edge model (`ONNX_FILE`, `pipelines/onnx_export.py`): the pipeline exported to ONNX, written only after
ONNX Runtime's predictions on the test split matched scikit-learn's (a mismatch refuses the step, exit 1).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import mlflow.sklearn
import pandas as pd
from mlflow.models import infer_signature
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from core.metrics import PROFILE_FILE
from pipelines.model_metadata import CATEGORIES
from pipelines.onnx_export import save_onnx
from pipelines.sample_data import CATEGORICAL_FEATURES, FEATURES, LABEL, NUMERIC_FEATURES
from pipelines.steps import step
from pipelines.steps.common import TRAIN_FILE, log_to_run, read_features, step_main
from pipelines.steps.prep import SEED

STEP = step("train")
EXAMPLE_ROWS = 5
# MLflow saves sklearn models with skops, which loads only reviewed types; the forest's tree storage is one,
# safe here because this pipeline wrote the file itself.
SKOPS_TRUSTED_TYPES = ["sklearn.tree._tree.Tree"]


def build_model(n_estimators: int, max_depth: int, seed: int = SEED) -> Pipeline:
    encode = ColumnTransformer(
        [("machine_type", OneHotEncoder(handle_unknown="ignore"), list(CATEGORICAL_FEATURES))],
        remainder="passthrough",
    )
    forest = RandomForestClassifier(
        n_estimators=n_estimators, max_depth=max_depth, class_weight="balanced_subsample", random_state=seed, n_jobs=-1
    )
    return Pipeline([("encode", encode), ("forest", forest)])


def train_model(train: pd.DataFrame, n_estimators: int, max_depth: int, seed: int = SEED) -> Pipeline:
    return build_model(n_estimators, max_depth, seed).fit(train[list(FEATURES)], train[LABEL])


def training_categories(features: pd.DataFrame) -> dict[str, list[str]]:
    """The categories of each categorical feature seen in training (the scoring script refuses others)."""
    return {name: sorted(str(value) for value in features[name].dropna().unique()) for name in CATEGORICAL_FEATURES}


def save_model(model: Pipeline, features: pd.DataFrame, path) -> None:
    """MLflow format with the training categories as metadata; pinned requirements instead of MLflow's slow
    requirement inference."""
    example = features[list(FEATURES)].head(EXAMPLE_ROWS)
    mlflow.sklearn.save_model(
        model,
        path,
        signature=infer_signature(example, model.predict(example)),
        input_example=example,
        pip_requirements=mlflow.sklearn.get_default_pip_requirements(),
        skops_trusted_types=SKOPS_TRUSTED_TYPES,
        metadata={CATEGORIES: training_categories(features)},
    )


def save_reference_profile(train_file: Path, model_dir: Path) -> None:
    """The drift reference profile of the training data's model inputs (a Parquet file), into the model's folder."""
    from pipelines.drift import build_profile  # numpy/scipy/pyarrow, as the drift check loads them

    build_profile(Path(train_file), list(FEATURES)).save(Path(model_dir) / PROFILE_FILE)


def run(args: argparse.Namespace) -> Pipeline:
    train, test, _ = read_features(args.features)
    model = train_model(train, args.n_estimators, args.max_depth)
    save_model(model, train, args.model)
    save_reference_profile(Path(args.features) / TRAIN_FILE, args.model)
    save_onnx(model, args.model, test)
    log_to_run(params={"n_estimators": args.n_estimators, "max_depth": args.max_depth, "seed": SEED,
                       "numeric_features": ",".join(NUMERIC_FEATURES)})
    return model


def main(argv: Sequence[str] | None = None) -> int:
    return step_main(STEP, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
