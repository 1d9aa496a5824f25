"""Bounded loopback load on the local scoring server (azmlinfsrv + pipelines/score.py).

    .venv/bin/python bench/serve_load.py [--requests 2000] [--concurrency 8] [--rows 10] [--workers 2] [--model-uri URI]

Starts the server on a free 127.0.0.1 port (with `--model-uri`, or a tiny scikit-learn model trained here on the
sample data), sends a fixed number of valid requests with fixed concurrency, then every malformed kind of request a
fixed number of times, and stops the server. Reports p50/p99 latency and errors: the target is zero errors on
valid requests and a 4xx for every malformed one. Then the same load, side by side, with gunicorn's sync workers
(the inference server's default, which `mlops serve` replaced by threaded workers). Nothing is sent anywhere but
127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mlops.commands.serve import HOST, download_model, free_port, start_server, stop_server  # noqa: E402
from pipelines.sample_data import FEATURES, LABEL, generate_telemetry  # noqa: E402

MALFORMED = {
    "malformed JSON": b'{"input_data": [',
    "deep nesting": b'{"input_data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "integer beyond int64": b'{"input_data": [{"temperature": 1' + b"0" * 400 + b"}]}",
    "NaN": b'{"input_data": [{"temperature": NaN}]}',
    "wrong shape": b'{"input_data": "rows"}',
    "missing feature": b'{"input_data": [{"temperature": 70.0}]}',
    "wrong type": None,  # built from a valid row below
    "too many rows": None,
}


def tiny_model(folder: Path) -> Path:
    """A small model saved as an MLflow model folder, with its signature."""
    import mlflow
    from mlflow.models import infer_signature
    from sklearn.compose import make_column_transformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = generate_telemetry(5000, seed=11)
    features = frame[list(FEATURES)]
    model = make_pipeline(
        make_column_transformer((OneHotEncoder(handle_unknown="ignore"), ["machine_type"]), remainder="passthrough"),
        RandomForestClassifier(n_estimators=50, max_depth=8, random_state=0),
    ).fit(features, frame[LABEL])
    signature = infer_signature(features, model.predict(features))
    mlflow.sklearn.save_model(model, folder / "model", signature=signature, skops_trusted_types=["sklearn.tree._tree.Tree"])
    return folder / "model"


def post(url: str, body: bytes) -> tuple[int, float]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except OSError:
        status = 0  # connection error
    return status, (time.perf_counter() - started) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rows", type=int, default=10, help="rows per valid request")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--malformed-each", type=int, default=50)
    parser.add_argument("--model-uri", help="MLflow model URI (default: a tiny model trained here)")
    args = parser.parse_args()

    rows = generate_telemetry(args.rows, seed=5)[list(FEATURES)].to_dict(orient="records")
    valid = json.dumps({"input_data": rows}).encode()
    MALFORMED["wrong type"] = json.dumps({"input_data": [{**rows[0], "pressure": "high"}]}).encode()
    MALFORMED["too many rows"] = json.dumps({"input_data": rows[:1] * 1001}).encode()

    with tempfile.TemporaryDirectory(prefix="serve-load-") as tmp:
        folder = Path(tmp)
        model_dir = download_model(args.model_uri, None, folder) if args.model_uri else tiny_model(folder)
        summaries = {
            name: measure(model_dir, folder, args, valid, env)
            for name, env in (("threaded (mlops serve)", {}), ("sync (azmlinfsrv default)", {"GUNICORN_CMD_ARGS": ""}))
        }
    print(json.dumps(summaries, indent=2))
    if any(s["valid_errors"] or s["malformed_not_4xx"] for s in summaries.values()):
        raise SystemExit(1)


def measure(model_dir: Path, folder: Path, args: argparse.Namespace, valid: bytes, env: dict[str, str]) -> dict:
    """One server with `env` over SERVER_ENV, the whole load, its summary."""
    import numpy as np

    port = free_port()
    server = start_server(model_dir, port, folder / "server.log", workers=args.workers, env=env)
    url = f"http://{HOST}:{port}/score"
    try:
        with ThreadPoolExecutor(args.concurrency) as pool:
            started = time.perf_counter()
            results = list(pool.map(lambda _: post(url, valid), range(args.requests)))
            elapsed = time.perf_counter() - started
            bad = {kind: list(pool.map(lambda _, body=body: post(url, body)[0], range(args.malformed_each))) for kind, body in MALFORMED.items()}
    finally:
        stop_server(server)
    latencies = np.array([ms for status, ms in results if status == 200])
    return {
        "requests": args.requests,
        "concurrency": args.concurrency,
        "rows_per_request": args.rows,
        "server_workers": args.workers,
        "throughput_rps": round(args.requests / elapsed, 1),
        "p50_ms": round(float(np.percentile(latencies, 50)), 2) if latencies.size else None,
        "p99_ms": round(float(np.percentile(latencies, 99)), 2) if latencies.size else None,
        "valid_errors": sum(status != 200 for status, _ in results),
        "malformed_statuses": {kind: sorted(set(statuses)) for kind, statuses in bad.items()},
        "malformed_not_4xx": sum(not 400 <= s < 500 for statuses in bad.values() for s in statuses),
    }


if __name__ == "__main__":
    main()
