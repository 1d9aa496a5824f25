"""The edge module's logic without a device: a batch of telemetry messages with malformed ones among them (each
counted under its reason, none raising, the good ones scored as scikit-learn scores them), and model swaps from
module twin desired properties, with the file fetched from a file:// URI as a device reads a mounted volume."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from pipelines.edge.module import EDGE_REASONS, MAX_MESSAGE_BYTES, NO_MODEL, EdgeModule, ModelFetchError, fetch_model
from pipelines.sample_data import FEATURES
from pipelines.signature_rules import DEFAULT_MAX_ROWS
from tests.edge.conftest import published

NOW = dt.datetime(2026, 12, 2, 6, 0, tzinfo=dt.UTC)


def rows_of(frame, start: int, count: int) -> list[dict]:
    return frame[list(FEATURES)].iloc[start : start + count].to_dict("records")


def message(rows) -> bytes:
    return json.dumps({"input_data": rows}).encode()


@pytest.fixture
def module(trained, tmp_path) -> EdgeModule:
    edge = EdgeModule(image_tag="1.0.0", clock=lambda: NOW)
    edge.on_desired({**published(trained.onnx, tmp_path / "blobs"), "imageTag": "1.0.0", "$version": 3}, complete=True)
    assert edge.model_error is None and edge.active is not None
    return edge


def test_a_batch_with_malformed_messages_counts_each_and_scores_the_good_ones(module, trained):
    test = trained.test
    good = [rows_of(test, 0, 5), rows_of(test, 5, 1), rows_of(test, 6, 50)]
    split = {"columns": list(FEATURES), "data": [list(row.values()) for row in rows_of(test, 56, 4)]}
    one = rows_of(test, 0, 1)[0]
    malformed = {
        "malformed_json": b'{"input_data": [',
        "bad_number": b'{"input_data": [{"temperature": NaN}]}',
        "missing_feature": message([{k: v for k, v in one.items() if k != "voltage"}]),
        "wrong_type": message([{**one, "pressure": "high"}]),
        "null_value": message([{**one, "humidity": None}]),
        "unknown_feature": message([{**one, "colour": "red"}]),
        "unknown_category": message([{**one, "machine_type": "Z"}]),
        "too_many_rows": message([one] * (DEFAULT_MAX_ROWS + 1)),
        "too_large": b'{"input_data": [' + b" " * MAX_MESSAGE_BYTES + b"]}",
        "bad_shape": b'{"rows": []}',
    }
    batch = [message(good[0]), *malformed.values(), message(good[1]), b"\xff\xfe not utf-8", json.dumps({"input_data": split}), message(good[2])]
    answers = [module.on_message(body, f"req-{index}") for index, body in enumerate(batch)]

    scored = [json.loads(answer) for answer in answers if answer is not None]
    assert [answer["requestId"] for answer in scored] == ["req-0", "req-11", "req-13", "req-14"]
    for answer, rows in zip(scored, [good[0], good[1], rows_of(test, 56, 4), good[2]]):
        frame = test[list(FEATURES)].iloc[[]].from_records(rows)
        assert answer["predictions"] == trained.model.predict(frame).tolist()
        assert answer["probabilities"] == pytest.approx(trained.model.predict_proba(frame)[:, 1].tolist(), abs=1e-5)
        assert answer["model"] == {"name": "predictive-maintenance", "version": "1"} and answer["scoredAt"] == NOW.isoformat()
    reported = module.reported()["counters"]
    expected = dict.fromkeys(EDGE_REASONS, 0) | dict.fromkeys(malformed, 1) | {"malformed_json": 2}  # + the non-UTF-8 body
    assert reported == {"received": len(batch), "scored": 4, "rows": 5 + 1 + 4 + 50, "rejected": expected}
    json.dumps(module.reported())  # the reported properties are JSON


def test_a_message_before_any_model_is_counted_not_raised():
    edge = EdgeModule(image_tag="1.0.0")
    assert edge.on_message(b'{"input_data": []}', "r") is None
    assert edge.reported()["counters"]["rejected"][NO_MODEL] == 1 and edge.reported()["model"] is None


def test_a_twin_patch_with_a_new_version_swaps_the_model(module, trained, retrained, tmp_path):
    rows = rows_of(trained.test, 0, 400)
    before = json.loads(module.on_message(message(rows), "a"))
    module.on_desired({**published(retrained.onnx, tmp_path / "blobs", version="2"), "$version": 4})
    after = json.loads(module.on_message(message(rows), "b"))
    frame = trained.test[list(FEATURES)]
    assert before["predictions"] == trained.model.predict(frame).tolist() and before["model"]["version"] == "1"
    assert after["predictions"] == retrained.model.predict(frame).tolist() and after["model"]["version"] == "2"
    assert before["probabilities"] != after["probabilities"]
    reported = module.reported()
    assert reported["model"]["version"] == "2" and reported["modelError"] is None and reported["desiredVersion"] == 4


def test_a_twin_patch_with_a_bad_hash_keeps_the_old_model_and_reports_the_error(module, retrained, tmp_path):
    desired = published(retrained.onnx, tmp_path / "blobs", version="2")
    module.on_desired({**desired, "modelSha256": "0" * 64, "$version": 4})
    reported = module.reported()
    assert reported["model"]["version"] == "1" and module.active.version == "1"
    assert reported["modelError"].startswith("the model at modelUri has SHA-256 ") and "not the desired 0000" in reported["modelError"]
    # The right hash in the next patch loads it and clears the error.
    module.on_desired({"modelSha256": desired["modelSha256"], "$version": 5})
    assert module.reported()["model"]["version"] == "2" and module.reported()["modelError"] is None


@pytest.mark.parametrize(
    ("patch", "error"),
    [
        ({"modelUri": "http://example.invalid/model.onnx"}, "modelUri scheme 'http' is not supported"),
        ({"modelUri": "file:///nonexistent/model.onnx"}, "cannot fetch modelUri: FileNotFoundError"),
        ({"modelSha256": "not-a-hash"}, "modelSha256 must be 64 hex digits"),
        ({"modelVersion": None}, "desired properties missing or not strings: modelVersion"),
    ],
)
def test_a_patch_the_module_cannot_use_keeps_the_old_model(module, patch, error):
    module.on_desired({**patch, "$version": 4})
    assert module.reported()["model"]["version"] == "1" and error in module.reported()["modelError"]


def test_a_file_that_is_no_onnx_model_keeps_the_old_model(module, tmp_path):
    module.on_desired({**published(b"not onnx", tmp_path / "blobs", version="2"), "$version": 4})
    assert module.active.version == "1" and module.reported()["modelError"].startswith("not a loadable ONNX model")


def test_an_older_twin_document_is_ignored_and_the_image_tags_are_reported(module, retrained, tmp_path):
    module.on_desired({**published(retrained.onnx, tmp_path / "blobs", version="2"), "imageTag": "0.9.0", "$version": 2})
    assert module.active.version == "1" and module.reported()["desiredImageTag"] == "1.0.0"
    module.on_desired({"imageTag": "1.1.0", "$version": 4})
    assert module.reported()["imageTag"] == "1.0.0" and module.reported()["desiredImageTag"] == "1.1.0"


def test_fetch_refuses_a_file_over_the_cap(tmp_path):
    path = tmp_path / "big.onnx"
    path.write_bytes(b"x" * 11)
    assert fetch_model(path.as_uri(), max_bytes=11) == b"x" * 11
    with pytest.raises(ModelFetchError, match="larger than 10 bytes"):
        fetch_model(path.as_uri(), max_bytes=10)
