"""The README runs top to bottom: every fenced bash block marked `<!-- runnable -->` runs, line by line and in order,
in a scratch copy of the project (a git repository whose `origin/main` is its only commit), with the sample data
the README itself creates. A line exits 0 unless its comment says `# exit N`. Then the scoring table and the
`curl` example are checked against the inference server running the model the README's pipeline run trained.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from core.paths import ROOT_DIR
from tests.conftest import git

README = (ROOT_DIR / "README.md").read_text()
RUNNABLE = re.compile(r"<!-- runnable -->\n```bash\n(.*?)```", re.S)
ROW = {"machine_type": "A", "temperature": 71.5, "vibration": 3.2, "pressure": 6.1, "rotation_speed": 1490.0,
       "voltage": 231.0, "humidity": 48.0, "operating_hours": 12000.0}  # fmt: skip
FAILING = {**ROW, "temperature": 118.0, "vibration": 14.0, "operating_hours": 60000.0}


def runnable_lines() -> list[str]:
    return [line for block in RUNNABLE.findall(README) for line in block.splitlines() if line.strip()]


def expected_exit(line: str) -> int:
    found = re.search(r"#\s*exit (\d)", line)
    return int(found.group(1)) if found else 0


def body(value) -> bytes:
    return json.dumps(value).encode()


# The request behind each row of the README's scoring table (its first column, verbatim).
TABLE_REQUESTS: dict[str, tuple[bytes, str]] = {
    "valid rows": (body({"input_data": [ROW, FAILING]}), "application/json"),
    '`{"input_data": [`': (b'{"input_data": [', "application/json"),
    "a `NaN` / `Infinity` literal": (b'{"input_data": [{"temperature": NaN}]}', "application/json"),
    '`{"input_data": "rows"}`': (body({"input_data": "rows"}), "application/json"),
    "a feature left out": (body({"input_data": [{k: v for k, v in ROW.items() if k != "voltage"}]}), "application/json"),
    "an unknown feature": (body({"input_data": [ROW, {**ROW, "colour": "red"}]}), "application/json"),
    '`"pressure": "high"` / `true`': (body({"input_data": [{**ROW, "pressure": "high"}]}), "application/json"),
    '`"humidity": null`': (body({"input_data": [{**ROW, "humidity": None}]}), "application/json"),
    "`10**400`, or `1e400`": (body({"input_data": [{**ROW, "temperature": 10**400}]}), "application/json"),
    "100,000 nested `[`": (b'{"input_data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "application/json"),
    'a lone surrogate (`"\\ud800"`)': (b'{"input_data": [{"machine_type": "\\ud800"}]}', "application/json"),
    "split form with non-string or repeated column names": (
        body({"input_data": {"columns": [["temperature"]], "data": [[1.0]]}}), "application/json"),
    "1,001 rows (`MLOPS_MAX_ROWS`, default 1000)": (body({"input_data": [ROW] * 1001}), "application/json"),
    "`Content-Type: text/plain`": (body({"input_data": [ROW]}), "text/plain"),
    "a category the model was not trained on": (body({"input_data": [{**ROW, "machine_type": "Z"}]}), "application/json"),
}
# Rows a plain POST against the README's model cannot produce, and the test that checks each.
CHECKED_ELSEWHERE = {
    "a number the column type cannot hold (a float32 above 3.4e38)": "tests/monitoring/test_scoring_properties.py::test_a_value_beyond_a_float32_column_is_400",
    "a malformed chunked body": "tests/monitoring/test_scoring_server.py::test_a_bad_chunked_body_is_400 (raw socket)",
    "a body that stops arriving for 10 s (`MLOPS_BODY_IDLE_SECONDS`)": "tests/monitoring/test_scoring_server.py::test_slow_clients_block_neither_scoring_nor_the_health_probe",
    "a body over 4 MiB (a larger `Content-Length` is refused unread)": "tests/monitoring/test_scoring_server.py::test_a_body_over_the_cap_is_413_before_it_is_read",
    "valid JSON the model still cannot score": "tests/monitoring/test_scoring_properties.py::test_valid_json_the_model_cannot_score_is_422_with_the_models_first_line",
}


def scoring_table() -> list[tuple[str, int, dict]]:
    """(request, status, body) per row of the table under `| request | answer |`."""
    table = README[README.index("| request | answer |"):].split("\n\n", 1)[0].splitlines()[2:]
    rows = []
    for line in table:
        request, answer = [cell.strip() for cell in line.strip("|").split(" | ", 1)]
        status, _, payload = re.match(r"`([^`]*)`", answer.replace("\\|", "|")).group(1).partition(" ")
        rows.append((request, int(status), json.loads(payload)))
    return rows


def post(url: str, data: bytes, content_type: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=data, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_readme_marks_its_blocks_and_every_table_row_has_a_request():
    assert len(RUNNABLE.findall(README)) >= 4
    rows = [request for request, _, _ in scoring_table()]
    assert sorted(rows) == sorted([*TABLE_REQUESTS, *CHECKED_ELSEWHERE])


def test_the_readme_runs_top_to_bottom(project_repo: Path):
    git(project_repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MLOPS_"))}
    env |= {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}", "NO_COLOR": "1"}
    env |= {f"GIT_{who}_{what}": value for who in ("AUTHOR", "COMMITTER") for what, value in (("NAME", "r"), ("EMAIL", "r@example.com"))}
    failures = []
    for line in runnable_lines():
        done = subprocess.run(["bash", "-c", line], cwd=project_repo, env=env, capture_output=True, text=True, timeout=600)
        if done.returncode != expected_exit(line):
            failures.append(f"{line}\n  exit {done.returncode}, expected {expected_exit(line)}: {done.stderr.strip()[-800:]}")
    assert failures == []

    # The scoring table and the curl example, against the model the pipeline run above registered.
    from mlops.commands.serve import download_model, free_port, latest_model_uri, start_server

    tracking = f"sqlite:///{project_repo / '.mlops' / 'mlflow.db'}"
    model = download_model(latest_model_uri(tracking), tracking, project_repo / "served-model")
    port = free_port()
    server = start_server(model, port, project_repo / "server.log")
    try:
        stated = {request: (status, payload) for request, status, payload in scoring_table() if request in TABLE_REQUESTS}
        answers = {request: post(f"http://127.0.0.1:{port}/score", *TABLE_REQUESTS[request]) for request in stated}
        assert answers == stated
        [curl] = [line for line in README.splitlines() if line.startswith("curl -s localhost:5001/score")]
        done = subprocess.run(["bash", "-c", curl.replace("localhost:5001", f"127.0.0.1:{port}")], capture_output=True, text=True, timeout=60)
        assert json.loads(done.stdout) == json.loads(re.search(r"The `curl` answers `([^`]*)`", README).group(1))
    finally:
        server.terminate()
        server.wait(timeout=30)
