"""The scoring request parser on any input: rows the model can take, or a RequestError with a 4xx; never another
exception (which the server would answer with a 500)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.json_limits import JsonLimitError, loads_bounded, nesting_depth
from pipelines.sample_data import FEATURES, NUMERIC_FEATURES
from pipelines.score import RequestError, parse_rows, to_frame

PROPERTY = settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
COLUMNS = {"machine_type": "string", **dict.fromkeys(NUMERIC_FEATURES, "double")}
CATEGORIES = {"machine_type": frozenset({"A", "B", "C"})}

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=8),
    st.sampled_from(["A", "B", "Z", "\ud800", "1e400", 10**400, -(10**30), 2**63, 1e308]),
)  # fmt: skip
names = st.sampled_from([*FEATURES, "colour", "\udfff", ""])
json_values = st.recursive(scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3), max_leaves=8)
rows = st.dictionaries(names, scalars | json_values, max_size=10)
records = st.lists(rows | json_values, max_size=4)
split = st.fixed_dictionaries({"columns": st.lists(names | json_values, max_size=9), "data": st.lists(st.lists(scalars, max_size=9), max_size=3)})
payloads = st.one_of(json_values, st.fixed_dictionaries({"input_data": st.one_of(records, split, json_values)}))


def check(body: bytes) -> None:
    try:
        parsed = parse_rows(body, COLUMNS, 1000, CATEGORIES)
    except RequestError as exc:
        assert 400 <= exc.status < 500 and exc.reason and "\n" not in exc.reason
        json.dumps({"error": exc.reason}).encode("utf-8")  # the answer can be written
        return
    json.dumps(parsed).encode("utf-8")  # the request log line can be written
    frame = to_frame(parsed, COLUMNS)  # what the model gets: the signature's columns and dtypes
    assert list(frame.columns) == list(COLUMNS) and len(frame) == len(parsed)
    assert frame[list(NUMERIC_FEATURES)].notna().all().all()


@PROPERTY
@given(payloads)
def test_any_json_payload_is_rows_or_a_4xx(payload):
    check(json.dumps(payload, allow_nan=True, ensure_ascii=True).encode())


@PROPERTY
@given(st.binary(max_size=300))
def test_any_bytes_are_rows_or_a_4xx(body):
    check(body)


@PROPERTY
@given(st.lists(st.sampled_from([b"[", b"]", b"{", b"}", b'"', b"\\", b"1", b",", b":"]), max_size=60).map(b"".join))
def test_the_depth_prescan_agrees_with_the_parser(body):
    """Where json parses the text, the pre-scan's depth is the real depth; the parser never recurses deeper."""
    try:
        value = json.loads(body)
    except ValueError:
        return
    assert nesting_depth(body) == depth(value)


def depth(value) -> int:
    if isinstance(value, (list, dict)):
        children = value.values() if isinstance(value, dict) else value
        return 1 + max((depth(child) for child in children), default=0)
    return 0


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (b"[" * 10, 400, "JSON nested 10 levels deep; at most 8"),
        (b'["[[[[[[[[[[["]', None, None),  # brackets inside a string do not count
        (b"x" * 11, 413, "body is 11 bytes; at most 10"),
        (b"NaN", 400, "malformed JSON: NaN is not a valid JSON number"),
        (b'"\xed\xa0\x80"', 400, "malformed JSON: a string holds a lone surrogate '\\ud800'"),  # UTF-8-encoded surrogate
    ],
)
def test_loads_bounded(body, status, reason):
    if status is None:
        assert loads_bounded(body, 100, 8) == ["[[[[[[[[[[["]
        return
    with pytest.raises(JsonLimitError) as info:
        loads_bounded(body, 10 if status == 413 else 100, 8)
    assert (info.value.status, info.value.reason) == (status, reason)


def test_a_value_beyond_a_float32_column_is_400():
    """A float (float32) column holds at most 3.4e38; the README's model has only doubles, so the parser is asked."""
    row = {"x": 1e39}
    with pytest.raises(RequestError) as info:
        parse_rows(json.dumps({"input_data": [row]}).encode(), {"x": "float"}, 10)
    assert (info.value.status, info.value.reason) == (400, "row 0: 'x' is out of range for float")
    assert parse_rows(json.dumps({"input_data": [{"x": 3.0e38}]}).encode(), {"x": "float"}, 10) == [{"x": 3.0e38}]


def test_valid_json_the_model_cannot_score_is_422_with_the_models_first_line(monkeypatch):
    from flask import Request  # what the server hands run() (AMLRequest only marks the type)
    from werkzeug.test import EnvironBuilder

    from pipelines import score

    class Raises:
        def predict(self, frame):
            raise ValueError("could not convert 'x'\nsecond line")

    row = {"machine_type": "A", **dict.fromkeys(NUMERIC_FEATURES, 1.0)}
    state = {"model": Raises(), "columns": COLUMNS, "categories": {}, "max_rows": 10, "body_idle_seconds": 1.0}
    monkeypatch.setattr(score, "_state", state)
    environ = EnvironBuilder(method="POST", data=json.dumps({"input_data": [row]}), content_type="application/json").get_environ()
    from flask import Flask

    with Flask("score").app_context():  # run() reads the request id from flask.g, as under the server
        response = score.run(Request(environ))
    assert (response.status_code, json.loads(response.get_data())) == (422, {"error": "the model cannot score these rows: could not convert 'x'"})
