"""`python -m mlops serve` as users run it: stopping it stops the whole server, so nothing keeps the port; what
would make the server fail to boot is refused before it starts.

Regressions: SIGTERM to `mlops serve` left gunicorn running (orphaned, still bound to the port); a --model-uri
that is no model started a server whose worker failed to boot (exit 3).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from core.paths import ROOT_DIR
from mlops.commands.serve import HOST, free_port
from tests.monitoring.test_scoring_server import model_dir  # noqa: F401  (session fixture)


def descendants(pid: int) -> set[int]:
    """Every process below `pid`, from /proc (children of children included)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_healthy(port: int, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            urllib.request.urlopen(f"http://{HOST}:{port}/", timeout=1)
            return
        except OSError:
            time.sleep(0.25)
    raise AssertionError(f"mlops serve did not become healthy: {process.stderr.read() if process.poll() is not None else ''}")


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_stopping_mlops_serve_stops_every_server_process_and_frees_the_port(model_dir, stop):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mlops", "serve", "--stack", "dev", "--port", str(port), "--model-uri", str(model_dir)],
        cwd=ROOT_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    server: set[int] = set()
    try:
        wait_healthy(port, process)
        server = descendants(process.pid)
        assert len(server) >= 2  # gunicorn's master and its worker
        process.send_signal(stop)
        assert process.wait(timeout=60) == 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(alive(pid) for pid in server):
            time.sleep(0.1)
        assert not [pid for pid in server if alive(pid)]
        with pytest.raises(ConnectionRefusedError), socket.create_connection((HOST, port), timeout=5):
            pass
    finally:
        for pid in server | {process.pid}:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def run_serve(capsys, *args: str) -> tuple[int, str]:
    from mlops.cli import main

    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--stack", "dev", *args])
    return exit_info.value.code, capsys.readouterr().err.splitlines()[-1]  # after MLflow's download progress bar


def test_a_model_uri_that_is_no_model_is_refused_before_the_server_starts(tmp_path, capsys):
    not_a_model = tmp_path / "data.csv"
    not_a_model.write_text("a,b\n1,2\n")
    code, err = run_serve(capsys, "--port", str(free_port()), "--model-uri", str(not_a_model))
    assert code == 2 and err.startswith(f"error: --model-uri: '{not_a_model}' is not a model the scoring script can serve: ")


def test_a_port_in_use_is_refused(model_dir, capsys):
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, err = run_serve(capsys, "--port", str(port), "--model-uri", str(model_dir))
    assert code == 2 and err.startswith(f"error: --port: {port} on 127.0.0.1 is not free")
