"""Scoring script for the Azure ML inference server (`azmlinfsrv`), locally and in the online deployments.

`init()` loads the MLflow model that Azure ML mounts under `AZUREML_MODEL_DIR` (the one directory holding an
`MLmodel` file), or the model at `MLOPS_MODEL_URI` when set (any MLflow model URI or path; for local runs).

`run()` takes the raw request (the `rawhttp` decorator), so a bad request gets a 4xx with a JSON reason instead
of a 500: the body must be JSON `{"input_data": ROWS}` where ROWS is a list of objects (one per row, keyed by
feature) or the split form `{"columns": [...], "data": [[...], ...]}` (Azure ML's format for MLflow models).
Limits come first: the body is read against a size cap and an idle timeout, and parsed with its nesting depth
and number range bounded (`pipelines/json_limits.py`). Every row is then checked against the model's input
signature (`pipelines/signature_rules.py`, which the edge module shares): all features present, no others, JSON
types matching the column types, numbers within the column type's range, no null/NaN/Infinity, at most
`MLOPS_MAX_ROWS` rows; a categorical value the model was not trained on is 422 (the train step records the
categories in the model's metadata). Each request is logged as one JSON
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
from pipelines.json_limits import TOO_LARGE
from pipelines.model_metadata import CATEGORIES
from pipelines.signature_rules import (
    DEFAULT_MAX_ROWS,
    MAX_BODY_BYTES,
    RequestError,
    input_columns,
    parse_rows,
)

MODEL_URI_ENV = "MLOPS_MODEL_URI"
MAX_ROWS_ENV = "MLOPS_MAX_ROWS"
BODY_IDLE_ENV = "MLOPS_BODY_IDLE_SECONDS"
DEFAULT_BODY_IDLE_SECONDS = 10.0  # a client that sends no body bytes for this long gets 408
READ_CHUNK = 64 * 1024

log = logging.getLogger("mlops.scoring")
_state: dict[str, Any] = {}


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


_DTYPES = {"double": "float64", "float": "float32", "long": "int64", "integer": "int32", "boolean": "bool"}


def to_frame(rows: list[dict[str, Any]], columns: dict[str, str]):
    """Validated rows as the DataFrame the model's signature expects: its column order and dtypes."""
    import pandas as pd

    frame = pd.DataFrame.from_records(rows, columns=list(columns))
    return frame.astype({name: _DTYPES[kind] for name, kind in columns.items() if kind in _DTYPES})


def read_body(request: AMLRequest, idle_seconds: float) -> bytes:
    """The body, at most MAX_BODY_BYTES (413; a larger Content-Length is refused unread); every read waits at
    most `idle_seconds` for the client (408); a body the server cannot decode (a bad chunked encoding) is 400."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise RequestError(413, f"body is {request.content_length} bytes; at most {MAX_BODY_BYTES}", TOO_LARGE)
    sock = request.environ.get("gunicorn.socket")
    if sock is not None:
        sock.settimeout(idle_seconds)
    chunks, size = [], 0
    try:
        while chunk := request.stream.read(READ_CHUNK):
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise RequestError(413, f"body is more than {MAX_BODY_BYTES} bytes", TOO_LARGE)
            chunks.append(chunk)
    except TimeoutError:
        raise RequestError(408, f"the request body stalled for {idle_seconds:g} s", "stalled") from None
    except RequestError:
        raise
    except Exception as exc:
        raise RequestError(400, f"malformed request body: {type(exc).__name__}: {str(exc)[:200]}", "malformed_body") from None
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
    except Exception as exc:
        log.warning(json.dumps({"event": "collect_failed", "request_id": request_id, "reason": f"{type(exc).__name__}: {exc}"}))


@rawhttp
def run(request: AMLRequest) -> AMLResponse:
    started = time.perf_counter()
    received = dt.datetime.now(dt.UTC)
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
