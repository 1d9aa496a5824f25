"""Scoring script for the Azure ML inference server (`azmlinfsrv`), locally and in the online deployments.

`init()` loads the MLflow model that Azure ML mounts under `AZUREML_MODEL_DIR` (the one directory holding an
`MLmodel` file), or the model at `MLOPS_MODEL_URI` when set (any MLflow model URI or path; for local runs).

`run()` takes the raw request (the `rawhttp` decorator), so a bad request gets a 4xx with a JSON reason instead
of a 500: the body must be JSON `{"input_data": ROWS}` where ROWS is a list of objects (one per row, keyed by
feature) or the split form `{"columns": [...], "data": [[...], ...]}` (Azure ML's format for MLflow models).
Limits come first: the body is read against a size cap and an idle timeout, and parsed with its nesting depth
and number range bounded (`pipelines/json_limits.py`). Every row is then checked against the model's input
signature: all features present, no others, JSON types matching the column types, numbers within the column
type's range, no null/NaN/Infinity, at most `MLOPS_MAX_ROWS` rows; a categorical value the model was not trained
on is 422 (the train step records the categories in the model's metadata). Each request is logged as one JSON
line (inputs, predictions or the rejection reason) on the `mlops.scoring` logger, which the deployment ships to
Application Insights, so production inputs feed the drift check.

Every good prediction is also handed to the inference data collector (`pipelines/collect.py`: the Event Hubs
`predictions` hub, whose Capture lands in the lake, or a local Capture folder; configured from the environment).
Handing over is a non-blocking queue put; a full queue, a collector error or a failed send is counted and logged,
and never changes the answer.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from azureml_inference_server_http.api.aml_request import AMLRequest, rawhttp
from azureml_inference_server_http.api.aml_response import AMLResponse
from flask import g
from mlflow.exceptions import MlflowException

from pipelines import collect
from pipelines.json_limits import JsonLimitError, loads_bounded
from pipelines.model_metadata import CATEGORIES

MODEL_URI_ENV = "MLOPS_MODEL_URI"
MAX_ROWS_ENV = "MLOPS_MAX_ROWS"
DEFAULT_MAX_ROWS = 1000
MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 8  # {"input_data": {"data": [[value]]}} is 4 deep
BODY_IDLE_ENV = "MLOPS_BODY_IDLE_SECONDS"
DEFAULT_BODY_IDLE_SECONDS = 10.0  # a client that sends no body bytes for this long gets 408
READ_CHUNK = 64 * 1024
SHOWN = 5  # names listed in one message at most

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


def input_columns(metadata: Any, uri: str) -> dict[str, str]:
    """The model's input columns and their MLflow types, from its signature (an `mlflow.models.Model`)."""
    schema = metadata.get_input_schema()
    if schema is None or not schema.has_input_names():
        raise RuntimeError(f"{uri}: the model has no named input signature; log it with a signature")
    return {spec.name: spec.type.name for spec in schema.inputs}


def init() -> None:
    import mlflow.pyfunc

    handler = logging.StreamHandler()  # one JSON object per line, whatever the server's log format
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.handlers[:], log.propagate = [handler], False
    log.setLevel(logging.INFO)
    uri = os.environ.get(MODEL_URI_ENV) or str(find_model_dir(Path(os.environ["AZUREML_MODEL_DIR"])))
    model = mlflow.pyfunc.load_model(uri)
    categories = (model.metadata.metadata or {}).get(CATEGORIES) or {}
    _state.update(
        model=model,
        uri=uri,
        columns=input_columns(model.metadata, uri),
        categories={name: frozenset(values) for name, values in categories.items()},
        max_rows=int(os.environ.get(MAX_ROWS_ENV, DEFAULT_MAX_ROWS)),
        body_idle_seconds=float(os.environ.get(BODY_IDLE_ENV, DEFAULT_BODY_IDLE_SECONDS)),
    )
    log.info(json.dumps({"event": "model_loaded", "model": uri, "features": _state["columns"], "categories": categories}))
    _state["collector"] = collect.collector_from_env(scorer=collect.positive_class_scorer(model))


# JSON value check per MLflow column type (bool is not a number here, although Python says it is an int), and
# the range the column type holds: a double or float32 stays finite, a long or integer fits its bits.
def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_ACCEPTS = {
    "double": (_number, lambda v: abs(v) <= 1.7976931348623157e308),
    "float": (_number, lambda v: abs(v) <= 3.4028234663852886e38),
    "long": (_integer, lambda v: -(2**63) <= v < 2**63),
    "integer": (_integer, lambda v: -(2**31) <= v < 2**31),
    "boolean": (lambda v: isinstance(v, bool), lambda v: True),
    "string": (lambda v: isinstance(v, str), lambda v: True),
}
_ANY = (lambda v: True, lambda v: True)
_DTYPES = {"double": "float64", "float": "float32", "long": "int64", "integer": "int32", "boolean": "bool"}
_JSON_TYPE = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}


def _listed(names: list[str]) -> str:
    """At most SHOWN names, each cut to 40 characters, for a one-line message."""
    shown = ", ".join(name if len(name) <= 40 else name[:40] + "..." for name in names[:SHOWN])
    return shown + (f" (and {len(names) - SHOWN} more)" if len(names) > SHOWN else "")


def parse_rows(
    body: bytes, columns: dict[str, str], max_rows: int, categories: dict[str, frozenset[str]] | None = None
) -> list[dict[str, Any]]:
    """The request's rows, validated against the signature's columns; RequestError with the reason otherwise."""
    try:
        payload = loads_bounded(body, MAX_BODY_BYTES, MAX_DEPTH)
    except JsonLimitError as exc:
        raise RequestError(exc.status, exc.reason) from None
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
            raise RequestError(400, f"row {index}: missing features: {_listed(missing)}")
        if extra:
            raise RequestError(400, f"row {index}: unknown features: {_listed(extra)}")
        for name, kind in columns.items():
            value = row[name]
            if value is None:
                raise RequestError(400, f"row {index}: '{name}' is null")
            accepts, fits = _ACCEPTS.get(kind, _ANY)
            if not accepts(value):
                raise RequestError(400, f"row {index}: '{name}' must be {kind}, got {_json_type(value)}")
            if not fits(value):
                raise RequestError(400, f"row {index}: '{name}' is out of range for {kind}")
    for name, known in (categories or {}).items():
        for index, row in enumerate(rows):
            if name in row and row[name] not in known:
                raise RequestError(
                    422, f"row {index}: '{name}' is {_listed([str(row[name])])!r}; the model knows {_listed(sorted(known))}"
                )
    return rows


def _rows(data: Any) -> list:
    """Records as they are; the split form {"columns", "data"} turned into records."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict) and set(data) <= {"columns", "data", "index"} and {"columns", "data"} <= set(data):
        columns, values = data["columns"], data["data"]
        if not isinstance(columns, list) or not isinstance(values, list):
            raise RequestError(400, "input_data.columns and input_data.data must be arrays")
        if not all(isinstance(column, str) for column in columns):
            raise RequestError(400, "input_data.columns must be an array of feature names (strings)")
        repeated = sorted({column for column in columns if columns.count(column) > 1})
        if repeated:
            raise RequestError(400, f"input_data.columns names a feature more than once: {_listed(repeated)}")
        for index, row in enumerate(values):
            if not isinstance(row, list) or len(row) != len(columns):
                raise RequestError(400, f"input_data.data[{index}]: expected an array of {len(columns)} values")
        return [dict(zip(columns, row)) for row in values]
    raise RequestError(400, 'input_data must be an array of row objects or {"columns": [...], "data": [[...]]}')


def to_frame(rows: list[dict[str, Any]], columns: dict[str, str]):
    """Validated rows as the DataFrame the model's signature expects: its column order and dtypes."""
    import pandas as pd

    frame = pd.DataFrame.from_records(rows, columns=list(columns))
    return frame.astype({name: _DTYPES[kind] for name, kind in columns.items() if kind in _DTYPES})


def _json_type(value: Any) -> str:
    return _JSON_TYPE.get(type(value), type(value).__name__)


def read_body(request: AMLRequest, idle_seconds: float) -> bytes:
    """The body, at most MAX_BODY_BYTES (413; a larger Content-Length is refused unread); every read waits at
    most `idle_seconds` for the client (408); a body the server cannot decode (a bad chunked encoding) is 400."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise RequestError(413, f"body is {request.content_length} bytes; at most {MAX_BODY_BYTES}")
    sock = request.environ.get("gunicorn.socket")
    if sock is not None:
        sock.settimeout(idle_seconds)
    chunks, size = [], 0
    try:
        while chunk := request.stream.read(READ_CHUNK):
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise RequestError(413, f"body is more than {MAX_BODY_BYTES} bytes")
            chunks.append(chunk)
    except TimeoutError:
        raise RequestError(408, f"the request body stalled for {idle_seconds:g} s") from None
    except RequestError:
        raise
    except Exception as exc:  # noqa: BLE001  the WSGI server's body errors (gunicorn.http.errors.*) share no other base
        raise RequestError(400, f"malformed request body: {type(exc).__name__}: {str(exc)[:200]}") from None
    finally:
        if sock is not None:
            sock.settimeout(None)
    return b"".join(chunks)


def _answer(status: int, body: dict, record: dict) -> AMLResponse:
    log.info(json.dumps({**record, "status": status}, default=str))
    return AMLResponse(body, status, json_str=True)


def _hand_over(request_id: str, received: dt.datetime, frame: Any, predictions: list) -> None:
    """Give the scored request to the collector, if there is one; nothing that happens there reaches the answer."""
    collector = _state.get("collector")
    if collector is None:
        return
    try:
        collector.collect(collect.Prediction(request_id, received, frame, predictions))
    except Exception as exc:  # noqa: BLE001  collection never turns a good prediction into an error
        log.warning(json.dumps({"event": "collect_failed", "request_id": request_id, "reason": f"{type(exc).__name__}: {exc}"}))


@rawhttp
def run(request: AMLRequest) -> AMLResponse:
    started = time.perf_counter()
    received = dt.datetime.now(dt.timezone.utc)
    record: dict[str, Any] = {"event": "score", "request_id": getattr(g, "request_id", "")}
    if request.method != "POST":
        return _answer(405, {"error": "method not allowed; POST JSON to /score"}, record)
    if request.mimetype and request.mimetype != "application/json":
        return _answer(415, {"error": f"content type {request.mimetype}; send application/json"}, record)
    columns = _state["columns"]
    try:
        body = read_body(request, _state["body_idle_seconds"])
        rows = parse_rows(body, columns, _state["max_rows"], _state["categories"])
    except RequestError as exc:
        return _answer(exc.status, {"error": exc.reason}, {**record, "reason": exc.reason})
    try:
        frame = to_frame(rows, columns)
        predictions = _state["model"].predict(frame)
    except (ValueError, MlflowException) as exc:  # valid JSON the model still cannot score
        reason = f"the model cannot score these rows: {(str(exc).splitlines() or [type(exc).__name__])[0]}"
        return _answer(422, {"error": reason}, {**record, "reason": reason})
    values = predictions.tolist() if hasattr(predictions, "tolist") else list(predictions)
    record.update(rows=len(rows), inputs=rows, predictions=values, ms=round((time.perf_counter() - started) * 1e3, 3))
    _hand_over(record["request_id"], received, frame, values)
    return _answer(200, {"predictions": values}, record)
