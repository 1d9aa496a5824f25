"""The request rules of the model's input signature, shared by the online scoring script and the edge module.

A body must be JSON `{"input_data": ROWS}` where ROWS is a list of objects (one per row, keyed by feature) or
the split form `{"columns": [...], "data": [[...], ...]}` (Azure ML's format for MLflow models). It is parsed
with its size, nesting depth and number range bounded (`pipelines/json_limits.py`), then every row is checked
against the signature's columns: all features present, no others, JSON types matching the column types,
numbers within the column type's range, no null/NaN/Infinity, at most `max_rows` rows, and a categorical value
the model was trained on. A refusal is a `RequestError` with the HTTP status the online endpoint answers, a
one-line reason, and a short `code` (one of `REASONS`) that the edge module counts by.

Standard library only: the scoring image and the edge module image both ship this file (no pandas, no MLflow).
"""

from __future__ import annotations

from typing import Any

from pipelines.json_limits import BAD_NUMBER, MALFORMED_JSON, TOO_DEEP, TOO_LARGE, JsonLimitError, loads_bounded

DEFAULT_MAX_ROWS = 1000
MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 8  # {"input_data": {"data": [[value]]}} is 4 deep
SHOWN = 5  # names listed in one message at most

# Why a request was refused (RequestError.code): the JSON limits' kinds, then the signature's.
BAD_SHAPE = "bad_shape"  # not {"input_data": rows}, no rows, a row that is no object, a broken split form
TOO_MANY_ROWS = "too_many_rows"
MISSING_FEATURE = "missing_feature"
UNKNOWN_FEATURE = "unknown_feature"
NULL_VALUE = "null_value"
WRONG_TYPE = "wrong_type"
OUT_OF_RANGE = "out_of_range"
UNKNOWN_CATEGORY = "unknown_category"
REASONS = (
    TOO_LARGE, TOO_DEEP, BAD_NUMBER, MALFORMED_JSON, BAD_SHAPE, TOO_MANY_ROWS, MISSING_FEATURE, UNKNOWN_FEATURE,
    NULL_VALUE, WRONG_TYPE, OUT_OF_RANGE, UNKNOWN_CATEGORY,
)  # fmt: skip


class RequestError(Exception):
    """A request the model cannot score: answered with `status` and `reason`, never a 500; `code` is its kind."""

    def __init__(self, status: int, reason: str, code: str):
        super().__init__(reason)
        self.status, self.reason, self.code = status, reason, code


def input_columns(metadata: Any, uri: str) -> dict[str, str]:
    """The model's input columns and their MLflow types, from its signature (an `mlflow.models.Model`)."""
    schema = metadata.get_input_schema()
    if schema is None or not schema.has_input_names():
        raise RuntimeError(f"{uri}: the model has no named input signature; log it with a signature")
    return {spec.name: spec.type.name for spec in schema.inputs}


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
_JSON_TYPE = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}


def _listed(names: list[str]) -> str:
    """At most SHOWN names, each cut to 40 characters, for a one-line message."""
    shown = ", ".join(name if len(name) <= 40 else name[:40] + "..." for name in names[:SHOWN])
    return shown + (f" (and {len(names) - SHOWN} more)" if len(names) > SHOWN else "")


def parse_rows(
    body: bytes,
    columns: dict[str, str],
    max_rows: int,
    categories: dict[str, frozenset[str]] | None = None,
    max_bytes: int = MAX_BODY_BYTES,
) -> list[dict[str, Any]]:
    """The request's rows, validated against the signature's columns; RequestError with the reason otherwise."""
    try:
        payload = loads_bounded(body, max_bytes, MAX_DEPTH)
    except JsonLimitError as exc:
        raise RequestError(exc.status, exc.reason, exc.code) from None
    if not isinstance(payload, dict) or "input_data" not in payload:
        raise RequestError(400, 'expected a JSON object {"input_data": [{feature: value, ...}, ...]}', BAD_SHAPE)
    rows = _rows(payload["input_data"])
    if not rows:
        raise RequestError(400, "input_data has no rows", BAD_SHAPE)
    if len(rows) > max_rows:
        raise RequestError(413, f"{len(rows)} rows; at most {max_rows} per request", TOO_MANY_ROWS)
    expected = set(columns)
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise RequestError(400, f"row {index}: expected an object of feature values, got {_json_type(row)}", BAD_SHAPE)
        missing, extra = sorted(expected - set(row)), sorted(set(row) - expected)
        if missing:
            raise RequestError(400, f"row {index}: missing features: {_listed(missing)}", MISSING_FEATURE)
        if extra:
            raise RequestError(400, f"row {index}: unknown features: {_listed(extra)}", UNKNOWN_FEATURE)
        for name, kind in columns.items():
            value = row[name]
            if value is None:
                raise RequestError(400, f"row {index}: '{name}' is null", NULL_VALUE)
            accepts, fits = _ACCEPTS.get(kind, _ANY)
            if not accepts(value):
                raise RequestError(400, f"row {index}: '{name}' must be {kind}, got {_json_type(value)}", WRONG_TYPE)
            if not fits(value):
                raise RequestError(400, f"row {index}: '{name}' is out of range for {kind}", OUT_OF_RANGE)
    for name, known in (categories or {}).items():
        for index, row in enumerate(rows):
            if name in row and row[name] not in known:
                raise RequestError(
                    422,
                    f"row {index}: '{name}' is {_listed([str(row[name])])!r}; the model knows {_listed(sorted(known))}",
                    UNKNOWN_CATEGORY,
                )
    return rows


def _rows(data: Any) -> list:
    """Records as they are; the split form {"columns", "data"} turned into records."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict) and set(data) <= {"columns", "data", "index"} and {"columns", "data"} <= set(data):
        columns, values = data["columns"], data["data"]
        if not isinstance(columns, list) or not isinstance(values, list):
            raise RequestError(400, "input_data.columns and input_data.data must be arrays", BAD_SHAPE)
        if not all(isinstance(column, str) for column in columns):
            raise RequestError(400, "input_data.columns must be an array of feature names (strings)", BAD_SHAPE)
        repeated = sorted({column for column in columns if columns.count(column) > 1})
        if repeated:
            raise RequestError(400, f"input_data.columns names a feature more than once: {_listed(repeated)}", BAD_SHAPE)
        for index, row in enumerate(values):
            if not isinstance(row, list) or len(row) != len(columns):
                raise RequestError(400, f"input_data.data[{index}]: expected an array of {len(columns)} values", BAD_SHAPE)
        return [dict(zip(columns, row)) for row in values]
    raise RequestError(400, 'input_data must be an array of row objects or {"columns": [...], "data": [[...]]}', BAD_SHAPE)


def _json_type(value: Any) -> str:
    return _JSON_TYPE.get(type(value), type(value).__name__)
