"""A real azmlinfsrv process on loopback with pipelines/score.py: valid requests score, each bad kind gets its 4xx.

The model is the training pipeline's own (train step: one-hot encoder that ignores unknown categories, forest),
saved and registered by the train and register steps in a temporary MLflow store, then fetched the way
`python -m mlops serve` fetches the latest local version.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops.commands.serve import HOST, download_model, free_port, latest_model_uri, start_server, stop_server
from pipelines.sample_data import FEATURES, generate_telemetry
from tests.monitoring.test_scoring_properties import names, payloads, scalars

ROW = {"machine_type": "A", "temperature": 71.5, "vibration": 3.2, "pressure": 6.1, "rotation_speed": 1490.0,
       "voltage": 231.0, "humidity": 48.0, "operating_hours": 12000.0}  # fmt: skip


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    import mlflow

    from pipelines.onnx_export import save_onnx
    from pipelines.registry import MODEL_NAME
    from pipelines.steps.register import register_model
    from pipelines.steps.train import save_model, save_reference_profile, train_model

    folder = tmp_path_factory.mktemp("registry")
    frame = generate_telemetry(1500, seed=3)
    model = train_model(frame, n_estimators=10, max_depth=4)
    save_model(model, frame, folder / "saved")
    frame.to_parquet(folder / "train.parquet")
    save_reference_profile(folder / "train.parquet", folder / "saved")
    save_onnx(model, folder / "saved", frame)  # the register step requires the train step's files, the export too
    tracking_uri = f"sqlite:///{folder / 'mlflow.db'}"
    mlflow.set_tracking_uri(tracking_uri)  # restored below: other tests use their own stores
    try:
        experiment = mlflow.create_experiment("scoring-test", artifact_location=(folder / "artifacts").as_uri())
        with mlflow.start_run(experiment_id=experiment):
            register_model(folder / "saved", frame[list(FEATURES)].head(5), {"stack": "test"})
    finally:
        mlflow.set_tracking_uri(None)
    uri = latest_model_uri(tracking_uri)
    assert uri == f"models:/{MODEL_NAME}/1"
    return download_model(uri, tracking_uri, folder / "model")


IDLE_SECONDS = 2  # the test server's body idle timeout (MLOPS_BODY_IDLE_SECONDS; 10 by default)


@pytest.fixture(scope="session")
def server(model_dir, tmp_path_factory):
    port = free_port()
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    process = start_server(model_dir, port, log_path, env={"MLOPS_BODY_IDLE_SECONDS": str(IDLE_SECONDS)})
    yield f"http://{HOST}:{port}", log_path
    stop_server(process)


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
    # the training pipeline's encoder ignores unknown categories: without the check this scored with 200
    "unknown category": (as_json({"input_data": [{**ROW, "machine_type": "Z"}]}), 422, "row 0: 'machine_type' is 'Z'; the model knows A, B, C"),
    # regressions: each of these was a 500
    "deep nesting": (b'{"input_data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400, "JSON nested 100001 levels deep; at most 8"),
    "integer beyond float range": (as_json({"input_data": [{**ROW, "temperature": 10**400}]}), 400, "malformed JSON: integer 1000000000000000000000000000000000000000... is out of range (64 bits)"),
    "number beyond float range": (b'{"input_data": [{"temperature": 1e400}]}', 400, "malformed JSON: number 1e400 is out of range"),
    "list-valued column names": (as_json({"input_data": {"columns": [["temperature"]], "data": [[1.0]]}}), 400, "input_data.columns must be an array of feature names (strings)"),
    "repeated column names": (as_json({"input_data": {"columns": ["voltage", "voltage"], "data": [[1.0, 2.0]]}}), 400, "input_data.columns names a feature more than once: voltage"),
    "lone surrogate": (b'{"input_data": [{"machine_type": "\\ud800"}]}', 400, "malformed JSON: a string holds a lone surrogate '\\ud800'"),
    "lone surrogate key": (b'{"input_data": [{"\\udfff": 1}]}', 400, "malformed JSON: a string holds a lone surrogate '\\udfff'"),
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


def raw_exchange(url: str, request: bytes, timeout: float = 30) -> bytes:
    """Send raw bytes to the server, close our side, and read its answer until it closes the connection."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as connection:
        connection.sendall(request)
        connection.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


HEAD = b"POST /score HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nConnection: close\r\n"


@pytest.mark.parametrize(
    "chunks", [b"zz\r\n{}\r\n0\r\n\r\n", b"5\r\n{}\r\n0\r\n\r\n", b"2\r\n{}"], ids=["bad-size", "short-chunk", "truncated"]
)
def test_a_bad_chunked_body_is_400(server, chunks):
    answer = raw_exchange(server[0], HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + chunks)
    assert answer.startswith(b"HTTP/1.1 400 ") and b"malformed request body" in answer


def test_a_body_over_the_cap_is_413_before_it_is_read(server):
    """The declared length is refused at once (the body is never sent here); a chunked body when it passes 4 MiB."""
    answer = raw_exchange(server[0], HEAD + b"Content-Length: 104857600\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 413 ") and b"body is 104857600 bytes; at most 4194304" in answer
    chunk = b" " * 65536
    chunked = b"%x\r\n%s\r\n" % (len(chunk), chunk) * 65 + b"0\r\n\r\n"
    answer = raw_exchange(server[0], HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + chunked)
    assert answer.startswith(b"HTTP/1.1 413 ") and b"body is more than 4194304 bytes" in answer


def test_a_valid_chunked_body_scores(server):
    body = as_json({"input_data": [ROW]})
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:10], body[10:])) + b"0\r\n\r\n"
    answer = raw_exchange(server[0], HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + chunked)
    assert answer.startswith(b"HTTP/1.1 200 ") and b'"predictions"' in answer


def test_slow_clients_block_neither_scoring_nor_the_health_probe(server):
    """Two clients stall, one in its headers and one in its body; others are still served, the stalled body
    gets 408 after the idle timeout. (The old single sync worker served nobody until its 300 s timeout.)"""
    url = server[0]
    host, port = url.removeprefix("http://").split(":")
    stalled_headers = socket.create_connection((host, int(port)))
    stalled_body = socket.create_connection((host, int(port)), timeout=30)
    try:
        stalled_headers.sendall(b"POST /score HTTP/1.1\r\nHost: local")
        stalled_body.sendall(HEAD + b"Content-Length: 100\r\n\r\n{")
        assert post(url, as_json({"input_data": [ROW]}))[0] == 200
        with urllib.request.urlopen(url + "/", timeout=30) as health:
            assert health.status == 200
        answer = b""
        while chunk := stalled_body.recv(65536):  # the server closes the connection after its answer
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 408 ") and f"stalled for {IDLE_SECONDS} s".encode() in answer
    finally:
        stalled_headers.close()
        stalled_body.close()


FUZZ = settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


@FUZZ
@given(
    st.one_of(
        payloads.map(lambda p: json.dumps(p, allow_nan=True).encode()),
        st.binary(max_size=200),
        st.builds(lambda row, key, value: as_json({"input_data": [{**row, key: value}]}), st.just(ROW), names, scalars),
    ),
    st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain", ""]),
)
def test_fuzzed_requests_never_get_a_5xx(server, body, content_type):
    """A bounded fuzz run against the live server: malformed bodies, odd values, content types."""
    request = urllib.request.Request(server[0] + "/score", data=body, headers={"Content-Type": content_type} if content_type else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, answer = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, answer = error.code, error.read()
    assert status < 500, (status, answer)
    assert set(json.loads(answer)) <= {"predictions", "error"}


def imported_modules(path) -> set[str]:
    """Every module a file imports, at the top or inside functions (absolute imports)."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def installed_closure(requirements: list[str]) -> set[str]:
    """The distributions the requirements install here, their dependencies included (the installed metadata;
    extras and requirements whose markers do not apply are left out)."""
    from importlib import metadata

    from packaging.requirements import Requirement

    todo, seen = [Requirement(r) for r in requirements], set()
    while todo:
        requirement = todo.pop()
        name = requirement.name.lower().replace("_", "-")
        if name in seen or (requirement.marker and not requirement.marker.evaluate({"extra": ""})):
            continue
        seen.add(name)
        todo.extend(Requirement(r) for r in metadata.requires(name) or [])
    return seen


def test_the_image_runs_the_server_as_mlops_serve_does():
    import sys
    from importlib import metadata

    from core.paths import ROOT_DIR
    from mlops.commands.serve import SERVER_ENV

    dockerfile = (ROOT_DIR / "pipelines" / "images" / "serving" / "Dockerfile").read_text()
    assert all(f'{key}="{value}"' in dockerfile or f"{key}={value}" in dockerfile for key, value in SERVER_ENV.items())
    from pipelines.serving_context import PROJECT_FILES

    assert "COPY pipelines/ /app/pipelines/" in dockerfile  # the helper modules, copied into the build context
    copied = {source for target, source in PROJECT_FILES.items() if target.startswith("pipelines/")}
    assert all((ROOT_DIR / path).is_file() for path in copied)
    # The pipelines modules the image's code imports are exactly the ones copied in (collect.py among them) ...
    sources = [ROOT_DIR / source for source in PROJECT_FILES.values()]
    modules = {name for path in sources for name in imported_modules(path)}
    project = {f"{name.replace('.', '/')}.py" for name in modules if name.startswith("pipelines.") and (ROOT_DIR / f"{name.replace('.', '/')}.py").is_file()}
    assert project == copied - {"pipelines/__init__.py"} and "pipelines/collect.py" in project
    # ... and every other module they import comes with the image's requirements (or the standard library).
    requirements = [line for line in (ROOT_DIR / "pipelines" / "images" / "serving" / "requirements.txt").read_text().splitlines()
                    if line.strip() and not line.startswith("#")]  # fmt: skip
    installed = installed_closure(requirements)
    providers = metadata.packages_distributions()
    third_party = {name.split(".")[0] for name in modules} - set(sys.stdlib_module_names) - {"pipelines", "__future__"}
    uncovered = {top for top in third_party if not {d.lower() for d in providers.get(top, [top])} & installed}
    assert uncovered == set()
    assert {"azure", "fastavro", "pyarrow"} <= third_party  # collect.py's own, so the check above looked at them


def test_serve_prints_its_url_after_the_server_banner_and_cleans_up_on_sigterm(model_dir, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    port, scratch, capture = free_port(), tmp_path / "tmp", tmp_path / "capture"
    scratch.mkdir()
    command = [sys.executable, "-m", "mlops", "serve", "--stack", "dev", "--port", str(port), "--model-uri", str(model_dir),
               "--collect", str(capture)]  # fmt: skip
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
        assert next(p.name for p in scratch.iterdir()).startswith("mlops-serve-")
        assert post(f"http://{HOST}:{port}", as_json({"input_data": [ROW]}))[0] == 200
        process.send_signal(signal.SIGTERM)  # the event goes within a second, or at the worker's exit (atexit)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert list(scratch.iterdir()) == []  # the downloaded model is gone
    # --collect: the request, in Capture's layout, with the local metadata
    from pipelines.collect import parse_capture_path, parse_event, read_capture_file

    [avro] = list(capture.rglob("*.avro"))
    assert parse_capture_path(avro.relative_to(capture).as_posix()).hub == "predictions"
    [record] = list(read_capture_file(avro))
    event = parse_event(record["Body"])
    assert event["rows"] == [ROW] and (event["endpoint"], event["deployment"]) == ("local", "local")
    assert (event["model_name"], event["model_version"]) == (str(model_dir), "") and event["request_id"]
