"""Scoring script for the Azure ML inference server (`azmlinfsrv`), locally and in the online deployments.

`init()` loads the MLflow model that Azure ML mounts under `AZUREML_MODEL_DIR` (the one directory holding an
`MLmodel` file), or the model at `MLOPS_MODEL_URI` when set (any MLflow model URI or path; for local runs).

`run()` takes the raw request (`@rawhttp`), so a bad request gets a 4xx with a JSON reason instead of a 500:
the body must be JSON `{"input_data": ROWS}` where ROWS is a list of objects (one per row, keyed by feature)
or the split form `{"columns": [...], "data": [[...], ...]}` (Azure ML's format for MLflow models). Every row
is checked against the model's input signature: all features present, no others, JSON types matching the
column types, no null/NaN/Infinity, at most `MLOPS_MAX_ROWS` rows. Each request is logged as one JSON line
(inputs, predictions or the rejection reason) on the `mlops.scoring` logger, which the deployment ships to
Application Insights, so production inputs feed the drift check.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from azureml_inference_server_http.api.aml_request import AMLRequest, rawhttp
from flask import g
from mlflow.exceptions import MlflowException
from azureml_inference_server_http.api.aml_response import AMLResponse

MODEL_URI_ENV = "MLOPS_MODEL_URI"
MAX_ROWS_ENV = "MLOPS_MAX_ROWS"
DEFAULT_MAX_ROWS = 1000
MAX_BODY_BYTES = 4 * 1024 * 1024

log = logging.getLogger("mlops.scoring")
_state: dict[str, Any] = {}


class RequestError(Exception):
    """A request the model cannot score: answered with `status` and `reason`, never a 500."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def find_model_dir(root: Path) -> Path:
    """The single directory under `root` with an MLmodel file (Azure ML mounts `<root>/<model folder>/...`)."""
    found = sorted(path.parent for path in root.rglob("MLmodel"))
    if len(found) != 1:
        raise RuntimeError(f"expected one MLflow model (MLmodel file) under {root}, found {len(found)}")
    return found[0]


def init() -> None:
    import mlflow.pyfunc

    handler = logging.StreamHandler()  # one JSON object per line, whatever the server's log format
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.handlers[:], log.propagate = [handler], False
    log.setLevel(logging.INFO)
    uri = os.environ.get(MODEL_URI_ENV) or str(find_model_dir(Path(os.environ["AZUREML_MODEL_DIR"])))
    model = mlflow.pyfunc.load_model(uri)
    schema = model.metadata.get_input_schema()
    if schema is None or not schema.has_input_names():
        raise RuntimeError(f"{uri}: the model has no named input signature; log it with a signature")
    _state.update(
        model=model,
        uri=uri,
        columns={spec.name: spec.type.name for spec in schema.inputs},
        max_rows=int(os.environ.get(MAX_ROWS_ENV, DEFAULT_MAX_ROWS)),
    )
    log.info(json.dumps({"event": "model_loaded", "model": uri, "features": _state["columns"]}))


# JSON value check per MLflow column type; bool is not a number here, although Python says it is an int.
_ACCEPTS = {
    "double": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "long": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
}
_DTYPES = {"double": "float64", "float": "float32", "long": "int64", "integer": "int32", "boolean": "bool"}
_JSON_TYPE = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a valid JSON number")


def parse_rows(body: bytes, columns: dict[str, str], max_rows: int) -> list[dict[str, Any]]:
    """The request's rows, validated against the signature's columns; RequestError with the reason otherwise."""
    if len(body) > MAX_BODY_BYTES:
        raise RequestError(413, f"body is {len(body)} bytes; at most {MAX_BODY_BYTES}")
    try:
        payload = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestError(400, f"malformed JSON: {exc}") from None
    if not isinstance(payload, dict) or "input_data" not in payload:
        raise RequestError(400, 'expected a JSON object {"input_data": [{feature: value, ...}, ...]}')
    rows = _rows(payload["input_data"])
    if not rows:
        raise RequestError(400, "input_data has no rows")
    if len(rows) > max_rows:
        raise RequestError(413, f"{len(rows)} rows; at most {max_rows} per request")
    expected = set(columns)
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise RequestError(400, f"row {index}: expected an object of feature values, got {_json_type(row)}")
        missing, extra = sorted(expected - set(row)), sorted(set(row) - expected)
        if missing:
            raise RequestError(400, f"row {index}: missing features: {', '.join(missing)}")
        if extra:
            raise RequestError(400, f"row {index}: unknown features: {', '.join(extra)}")
        for name, kind in columns.items():
            value = row[name]
            if value is None:
                raise RequestError(400, f"row {index}: '{name}' is null")
            if not _ACCEPTS.get(kind, lambda v: True)(value):
                raise RequestError(400, f"row {index}: '{name}' must be {kind}, got {_json_type(value)}")
    return rows


def _rows(data: Any) -> list:
    """Records as they are; the split form {"columns", "data"} turned into records."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict) and set(data) <= {"columns", "data", "index"} and {"columns", "data"} <= set(data):
        columns, values = data["columns"], data["data"]
        if not isinstance(columns, list) or not isinstance(values, list):
            raise RequestError(400, "input_data.columns and input_data.data must be arrays")
        for index, row in enumerate(values):
            if not isinstance(row, list) or len(row) != len(columns):
                raise RequestError(400, f"input_data.data[{index}]: expected an array of {len(columns)} values")
        return [dict(zip(columns, row)) for row in values]
    raise RequestError(400, 'input_data must be an array of row objects or {"columns": [...], "data": [[...]]}')


def _json_type(value: Any) -> str:
    return _JSON_TYPE.get(type(value), type(value).__name__)


def _answer(status: int, body: dict, record: dict) -> AMLResponse:
    log.info(json.dumps({**record, "status": status}, default=str))
    return AMLResponse(body, status, json_str=True)


@rawhttp
def run(request: AMLRequest) -> AMLResponse:
    import pandas as pd

    started = time.perf_counter()
    record: dict[str, Any] = {"event": "score", "request_id": getattr(g, "request_id", "")}
    if request.method != "POST":
        return _answer(405, {"error": "method not allowed; POST JSON to /score"}, record)
    if request.mimetype and request.mimetype != "application/json":
        return _answer(415, {"error": f"content type {request.mimetype}; send application/json"}, record)
    try:
        rows = parse_rows(request.get_data(cache=False), _state["columns"], _state["max_rows"])
    except RequestError as exc:
        return _answer(exc.status, {"error": exc.reason}, {**record, "reason": exc.reason})
    columns = _state["columns"]
    frame = pd.DataFrame.from_records(rows, columns=list(columns))
    frame = frame.astype({name: _DTYPES[kind] for name, kind in columns.items() if kind in _DTYPES})
    try:
        predictions = _state["model"].predict(frame)
    except (ValueError, MlflowException) as exc:  # valid JSON the model still cannot score, e.g. an unknown category
        reason = f"the model cannot score these rows: {str(exc).splitlines()[0]}"
        return _answer(422, {"error": reason}, {**record, "reason": reason})
    values = predictions.tolist() if hasattr(predictions, "tolist") else list(predictions)
    record.update(rows=len(rows), inputs=rows, predictions=values, ms=round((time.perf_counter() - started) * 1e3, 3))
    return _answer(200, {"predictions": values}, record)
