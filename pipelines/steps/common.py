"""What every step shares: flags from ports, one-line errors with the documented exit codes, reading tables.

A step's folder outputs hold fixed file names (below), so the next step finds them by port alone.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow

from core.errors import EXIT_BAD_INPUT, EXIT_REFUSED, BadInput, Refused, first_line
from pipelines.sample_data import SCHEMA, TIMESTAMP_COLUMN
from pipelines.steps import Step

TRAINING_DATA_FILE = "training.parquet"  # in the gather step's `data` folder
TRAIN_FILE = "train.parquet"
TEST_FILE = "test.parquet"
FEATURES_META = "features.json"
RESULT_FILE = {
    "validation_result": "validation_result.json",
    "metrics": "metrics.json",
    "verdict": "verdict.json",
    "registered": "registered.json",
}
_PARSERS = {"integer": int, "number": float, "string": str}


def parse_args(step: Step, argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Flags named exactly like the step's ports; every port is required."""
    parser = argparse.ArgumentParser(prog=f"python -m {step.module_name}", description=step.description)
    for port in (*step.inputs, *step.outputs):
        parser.add_argument(
            f"--{port.name}", required=not port.optional, type=Path if port.is_path else _PARSERS[port.type], help=port.description
        )
    return parser.parse_args(argv)


def step_main(step: Step, run: Callable[[argparse.Namespace], Any], argv: Sequence[str] | None = None) -> int:
    """Run one step as a script (how Azure ML runs it): one line and exit 1/2 for a refusal/bad input."""
    try:
        run(parse_args(step, argv))
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Refused as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    return 0


def read_table(path: Path) -> pd.DataFrame:
    """Telemetry from a .csv or .parquet file, or the gather step's folder (its TRAINING_DATA_FILE); unreadable input
    raises BadInput naming the file."""
    if path.is_dir():
        path = path / TRAINING_DATA_FILE
    if not path.is_file():
        raise BadInput(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise BadInput(f"{path}: empty file")
    readers = {".csv": ("CSV", _read_csv), ".parquet": ("Parquet", pd.read_parquet)}
    if path.suffix not in readers:
        raise BadInput(f"{path}: unsupported format '{path.suffix}'; use .csv or .parquet")
    kind, reader = readers[path.suffix]
    try:
        frame = reader(path)
    except pd.errors.EmptyDataError:
        raise BadInput(f"{path}: empty file (no header)") from None
    except (ValueError, UnicodeDecodeError, pyarrow.ArrowException, OSError) as exc:
        raise BadInput(f"{path}: corrupt {kind}: {first_line(exc)}") from None
    if frame.empty:
        raise BadInput(f"{path}: no rows")
    return _parse_timestamps(frame)


def _read_csv(path: Path) -> pd.DataFrame:
    """Text columns stay text even when they look numeric; numbers are inferred (text there is a dtype failure)."""
    return pd.read_csv(path, dtype={name: "str" for name, spec in SCHEMA.items() if spec.kind in ("string", "category")})


def _parse_timestamps(frame: pd.DataFrame) -> pd.DataFrame:
    """CSV has no timestamp type: parse ISO-8601 text to the schema's datetime64[ns, UTC] (naive text is UTC).

    Text that does not parse stays text, so validation reports it as a dtype failure of that column.
    """
    column = frame.get(TIMESTAMP_COLUMN)
    if column is None or not pd.api.types.is_string_dtype(column):
        return frame
    try:
        parsed = pd.to_datetime(column, format="ISO8601", utc=True).dt.as_unit("ns")
    except (ValueError, TypeError):
        return frame
    return frame.assign(**{TIMESTAMP_COLUMN: parsed})


def write_json(folder: Path, port: str, value: Any) -> Path:
    """Strict JSON: a NaN or infinite number (an undefined metric) is written as null."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / RESULT_FILE[port]
    path.write_text(json.dumps(finite_or_null(value), indent=2, default=str, allow_nan=False))
    return path


def finite_or_null(value: Any) -> Any:
    """A JSON-ready value with every non-finite float replaced by None, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite_or_null(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_null(item) for item in value]
    return value


def read_json(folder: Path, port: str) -> Any:
    path = folder / RESULT_FILE[port]
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise BadInput(f"--{port}: {path} is missing") from None


def read_features(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """The train and test splits and the features metadata (data version, rows) written by `prep`."""
    meta = json.loads((folder / FEATURES_META).read_text())
    return pd.read_parquet(folder / TRAIN_FILE), pd.read_parquet(folder / TEST_FILE), meta


def log_to_run(params: dict[str, Any] | None = None, metrics: dict[str, float] | None = None) -> None:
    """Log to the current MLflow run: the local runner's, or the one Azure ML opens for the step's job.

    Without either, nothing is logged, so running a step by hand never creates runs in a default store.
    """
    import mlflow

    if mlflow.active_run() is None and not os.environ.get("MLFLOW_RUN_ID"):
        return
    if params:
        mlflow.log_params(params)
    if metrics:
        mlflow.log_metrics(metrics)
