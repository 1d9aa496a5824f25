"""A real azmlinfsrv process on loopback with pipelines/score.py: valid requests score, each bad kind gets its 4xx.

The model is a tiny scikit-learn pipeline logged with a signature and registered in a temporary MLflow store,
then fetched the way `python -m mlops serve` fetches the latest local version.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from mlops.commands.serve import HOST, download_model, free_port, latest_model_uri, start_server
from pipelines.sample_data import FEATURES, LABEL, NUMERIC_FEATURES, generate_telemetry

ROW = {"machine_type": "A", "temperature": 71.5, "vibration": 3.2, "pressure": 6.1, "rotation_speed": 1490.0,
       "voltage": 231.0, "humidity": 48.0, "operating_hours": 12000.0}  # fmt: skip


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    import mlflow
    from mlflow.models import infer_signature
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from pipelines.registry import MODEL_NAME

    folder = tmp_path_factory.mktemp("registry")
    frame = generate_telemetry(1500, seed=3)
    features = frame[list(FEATURES)]
    model = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["machine_type"]), (StandardScaler(), list(NUMERIC_FEATURES))),
        LogisticRegression(),
    ).fit(features, frame[LABEL])
    tracking_uri = f"sqlite:///{folder / 'mlflow.db'}"
    mlflow.set_tracking_uri(tracking_uri)  # restored below: other tests use their own stores
    try:
        experiment = mlflow.create_experiment("scoring-test", artifact_location=(folder / "artifacts").as_uri())
        with mlflow.start_run(experiment_id=experiment):
            mlflow.sklearn.log_model(
                model, name="model", signature=infer_signature(features, model.predict(features)),
                registered_model_name=MODEL_NAME,
            )  # fmt: skip
    finally:
        mlflow.set_tracking_uri(None)
    uri = latest_model_uri(tracking_uri)
    assert uri == f"models:/{MODEL_NAME}/1"
    return download_model(uri, tracking_uri, folder / "model")


@pytest.fixture(scope="session")
def server(model_dir, tmp_path_factory):
    port = free_port()
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    process = start_server(model_dir, port, log_path)
    yield f"http://{HOST}:{port}", log_path
    process.terminate()
    process.wait(timeout=30)


def post(url: str, body: bytes, content_type: str = "application/json") -> tuple[int, dict]:
    request = urllib.request.Request(url + "/score", data=body, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def as_json(value) -> bytes:
    return json.dumps(value).encode()


def test_valid_records_and_split_requests_score(server):
    url, log_path = server
    status, body = post(url, as_json({"input_data": [ROW, {**ROW, "temperature": 95.0, "vibration": 9.0}]}))
    assert status == 200 and len(body["predictions"]) == 2 and set(body["predictions"]) <= {0, 1}
    split = {"input_data": {"columns": list(ROW), "data": [list(ROW.values())]}}
    assert post(url, as_json(split)) == (200, {"predictions": body["predictions"][:1]})
    assert post(url, as_json({"input_data": [{**ROW, "temperature": 71}]}))[0] == 200  # an integer is a double
    logged = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith('{"event": "score"')]
    scored = [entry for entry in logged if entry["status"] == 200]
    assert scored[0]["inputs"][0] == ROW and scored[0]["predictions"] == body["predictions"]


BAD_REQUESTS = {
    "malformed JSON": (b'{"input_data": [', 400, "malformed JSON"),
    "NaN literal": (b'{"input_data": [{"temperature": NaN}]}', 400, "malformed JSON: NaN is not a valid JSON number"),
    "not an object": (as_json([ROW]), 400, 'expected a JSON object {"input_data"'),
    "wrong shape": (as_json({"input_data": "rows"}), 400, "input_data must be an array of row objects"),
    "split row length": (as_json({"input_data": {"columns": ["a"], "data": [[1, 2]]}}), 400, "input_data.data[0]: expected an array of 1 values"),
    "row not an object": (as_json({"input_data": [[1, 2]]}), 400, "row 0: expected an object of feature values, got array"),
    "no rows": (as_json({"input_data": []}), 400, "input_data has no rows"),
    "missing feature": (as_json({"input_data": [{k: v for k, v in ROW.items() if k != "voltage"}]}), 400, "row 0: missing features: voltage"),
    "extra feature": (as_json({"input_data": [ROW, {**ROW, "colour": "red"}]}), 400, "row 1: unknown features: colour"),
    "string for number": (as_json({"input_data": [{**ROW, "pressure": "high"}]}), 400, "row 0: 'pressure' must be double, got string"),
    "boolean for number": (as_json({"input_data": [{**ROW, "pressure": True}]}), 400, "row 0: 'pressure' must be double, got boolean"),
    "number for string": (as_json({"input_data": [{**ROW, "machine_type": 3}]}), 400, "row 0: 'machine_type' must be string, got integer"),
    "null value": (as_json({"input_data": [{**ROW, "humidity": None}]}), 400, "row 0: 'humidity' is null"),
    "too many rows": (as_json({"input_data": [ROW] * 1001}), 413, "1001 rows; at most 1000 per request"),
    "unknown category": (as_json({"input_data": [{**ROW, "machine_type": "Z"}]}), 422, "the model cannot score these rows"),
}


@pytest.mark.parametrize("kind", BAD_REQUESTS)
def test_bad_request_gets_its_4xx_with_a_reason(server, kind):
    body, status, reason = BAD_REQUESTS[kind]
    answer = post(server[0], body)
    assert answer[0] == status and answer[1]["error"].startswith(reason)


def test_wrong_content_type_is_415(server):
    assert post(server[0], as_json({"input_data": [ROW]}), "text/plain") == (415, {"error": "content type text/plain; send application/json"})


def test_server_listens_on_loopback_only(server):
    """Every listening IPv4/IPv6 socket on the server's port is bound to 127.0.0.1 (from /proc/net)."""
    port = f"{int(server[0].rsplit(':', 1)[1]):04X}"
    listening = [
        fields[1].split(":")[0]
        for table in ("/proc/net/tcp", "/proc/net/tcp6")
        for fields in (line.split() for line in open(table).read().splitlines()[1:])
        if fields[1].endswith(f":{port}") and fields[3] == "0A"
    ]
    assert listening and set(listening) == {"0100007F"}


def test_serve_prints_its_url_after_the_server_banner_and_cleans_up_on_sigterm(model_dir, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    port, scratch = free_port(), tmp_path / "tmp"
    scratch.mkdir()
    command = [sys.executable, "-m", "mlops", "serve", "--stack", "dev", "--port", str(port), "--model-uri", str(model_dir)]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "TMPDIR": str(scratch)}
    )
    lines = []
    try:
        for line in process.stdout:
            lines.append(line.rstrip())
            if line.startswith("serving "):
                break
        assert lines[-1] == f"serving {model_dir} on http://{HOST}:{port}/score (Ctrl-C stops)"
        banner = next(i for i, text in enumerate(lines) if "Azure ML Inferencing HTTP server" in text)
        assert banner < len(lines) - 1
        assert urllib.request.urlopen(f"http://{HOST}:{port}/", timeout=5).status == 200  # healthy when announced
        assert [p.name for p in scratch.iterdir()][0].startswith("mlops-serve-")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert list(scratch.iterdir()) == []  # the downloaded model is gone
