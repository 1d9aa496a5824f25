"""prep: the model's features as Parquet (stratified train/test split, fixed seed) and the data version.

The data version is a content hash of the validated input (pandas' row hashing, column names included), so
the same telemetry gets the same version whether it came as CSV or Parquet, and any changed value changes it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from sklearn.model_selection import train_test_split

from core.errors import BadInput
from pipelines.sample_data import FEATURES, LABEL
from pipelines.steps import step
from pipelines.steps.common import FEATURES_META, TEST_FILE, TRAIN_FILE, read_json, read_table, step_main

STEP = step("prep")
SEED = 7
TEST_SIZE = 0.2
# Rows each label class needs so that the stratified split leaves at least one of it in the test split (and
# so in the train split): below this, the test split can hold one class and its AUC is undefined.
MIN_ROWS_PER_CLASS = math.ceil(1 / TEST_SIZE)
SPLIT_RULE = (
    f"each label class needs at least {MIN_ROWS_PER_CLASS} rows so that the stratified "
    f"{round((1 - TEST_SIZE) * 100)}/{round(TEST_SIZE * 100)} split has it in the test split, where the AUC is measured"
)


@dataclass(frozen=True)
class Features:
    train: pd.DataFrame
    test: pd.DataFrame
    data_version: str

    @property
    def meta(self) -> dict:
        return {"data_version": self.data_version, "train_rows": len(self.train), "test_rows": len(self.test)}


def data_version(frame: pd.DataFrame) -> str:
    """sha256 over the column names and pandas' per-row hashes, in row order."""
    digest = hashlib.sha256(json.dumps(list(frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return f"sha256:{digest.hexdigest()}"


def prepare(frame: pd.DataFrame, seed: int = SEED, test_size: float = TEST_SIZE) -> Features:
    counts = frame[LABEL].value_counts()
    if len(counts) < 2 or counts.min() < MIN_ROWS_PER_CLASS:
        shown = ", ".join(f"{label}: {count}" for label, count in sorted(counts.items()))
        raise BadInput(f"label '{LABEL}' cannot be split for evaluation (rows per class: {shown or 'none'}); {SPLIT_RULE}")
    columns = [*FEATURES, LABEL]
    train, test = train_test_split(frame[columns], test_size=test_size, stratify=frame[LABEL], random_state=seed)
    return Features(train.reset_index(drop=True), test.reset_index(drop=True), data_version(frame))


def run(args: argparse.Namespace) -> Features:
    """Refuse input that validation did not pass; write train/test Parquet and the features metadata."""
    if not read_json(args.validation_result, "validation_result").get("success"):
        raise BadInput(f"--validation_result: {args.validation_result} records a failed validation")
    features = prepare(read_table(args.data))
    args.features.mkdir(parents=True, exist_ok=True)
    features.train.to_parquet(args.features / TRAIN_FILE, index=False)
    features.test.to_parquet(args.features / TEST_FILE, index=False)
    (args.features / FEATURES_META).write_text(json.dumps(features.meta, indent=2))
    return features


def main(argv: Sequence[str] | None = None) -> int:
    return step_main(STEP, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
