"""Drift check speed and memory: ours (pipelines/drift.py) vs Evidently's DataDriftPreset, same data, same run.

    .venv/bin/python bench/drift.py [--rows 1000000] [--features 50]
    .venv/bin/python bench/drift.py --rows 1000000 3000000 --ours-only     # memory flat in the number of rows

Writes a seeded reference and current Parquet file (half of the features shifted) into bench/results/, then runs
each tool in its own process, so each has its own peak memory (ru_maxrss from wait4): ours in this virtualenv,
Evidently 0.7 in bench/.venv-bench (created from bench/requirements-bench.txt on first use: Evidently needs
pandas < 3). Each process times reading the data and computing the whole result (ours also writes its JSON and
HTML reports; Evidently's snapshot is turned into a dict). Then PSI is compared on Evidently's own bins (Sturges
edges over both samples): our `psi()` on those histograms vs Evidently's PSI stat test.

Ours also runs as `compare`: a process that loads the saved reference profile and streams the current file in
chunks (`python -m mlops drift -r profile.npz -c current.parquet`), whose peak memory must not grow with the
rows. `--ours-only` leaves Evidently out (it needs minutes and gigabytes at these sizes).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
BENCH_VENV = BENCH_DIR / ".venv-bench"
BENCH_PYTHON = BENCH_VENV / "bin" / "python"
RESULTS = BENCH_DIR / "results"


def ensure_bench_venv() -> None:
    if BENCH_PYTHON.exists():
        return
    subprocess.run([shutil.which("python3") or "python3", "-m", "venv", str(BENCH_VENV)], check=True)
    pip = [str(BENCH_PYTHON), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-r", str(BENCH_DIR / "requirements-bench.txt")], check=True)


def make_data(rows: int, features: int) -> tuple[Path, Path]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    RESULTS.mkdir(exist_ok=True)
    reference, current = RESULTS / f"reference-{rows}x{features}.parquet", RESULTS / f"current-{rows}x{features}.parquet"
    if reference.exists() and current.exists():
        return reference, current
    rng = np.random.default_rng(42)
    names = [f"f{i:02d}" for i in range(features)]
    for path, shift in ((reference, 0.0), (current, 0.5)):
        columns = {}
        for i, name in enumerate(names):
            values = rng.normal(10.0 * i, 1.0 + i % 5, rows)
            if shift and i % 2 == 0:  # every other feature drifts by half a standard deviation
                values += shift * (1.0 + i % 5)
            columns[name] = values
        pq.write_table(pa.table(columns), path, row_group_size=262_144)
    return reference, current


def run_measured(command: list[str]) -> tuple[dict, float]:
    """Run one worker; its JSON result and its peak resident memory in MiB."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, cwd=ROOT)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"worker failed: {' '.join(command[:4])}")
    return json.loads(output.decode().strip().splitlines()[-1]), usage.ru_maxrss / 1024


def worker_ours(reference: Path, current: Path) -> dict:
    sys.path.insert(0, str(ROOT))
    from core.config import DriftConfig
    from pipelines import drift
    from pipelines.drift_report import write_reports

    started = time.perf_counter()
    profile = drift.build_profile(reference)
    profile.save(profile_path(reference))
    profiled = time.perf_counter()
    result = drift.compare_files(profile, current, DriftConfig())
    write_reports(result, RESULTS / "ours")
    finished = time.perf_counter()
    return {"seconds": finished - started, "profile_seconds": profiled - started, "compare_seconds": finished - profiled,
            "drifted": len(result.drifted_features)}  # fmt: skip


def worker_compare(reference: Path, current: Path) -> dict:
    """The comparison alone, from the saved profile: what a scheduled drift check runs."""
    sys.path.insert(0, str(ROOT))
    from core.config import DriftConfig
    from pipelines import drift
    from pipelines.drift_report import write_reports

    started = time.perf_counter()
    result = drift.compare_files(drift.ReferenceProfile.load(profile_path(reference)), current, DriftConfig())
    write_reports(result, RESULTS / "ours")
    return {"seconds": time.perf_counter() - started, "drifted": len(result.drifted_features)}


def profile_path(reference: Path) -> Path:
    return reference.with_suffix(".profile.npz")


def worker_evidently(reference: Path, current: Path) -> dict:
    import numpy as np
    import pandas as pd
    from evidently import Report
    from evidently.legacy.calculations.stattests.psi import _psi
    from evidently.legacy.core import ColumnType
    from evidently.presets import DataDriftPreset

    started = time.perf_counter()
    ref, cur = pd.read_parquet(reference), pd.read_parquet(current)
    snapshot = Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref)
    summary = snapshot.dict()
    seconds = time.perf_counter() - started
    psi = {}
    for name in ref.columns:  # Evidently's PSI and its bins (not timed)
        edges = np.histogram_bin_edges(np.concatenate([ref[name].values, cur[name].values]), bins="sturges")
        psi[name] = {"value": float(_psi(ref[name], cur[name], ColumnType.Numerical, 0.1)[0]), "edges": edges.tolist()}
    [drifted] = [m["value"]["count"] for m in summary["metrics"] if str(m["metric_name"]).startswith("DriftedColumnsCount")]
    return {"seconds": seconds, "psi": psi, "drifted": int(drifted)}


def psi_agreement(reference: Path, current: Path, evidently_psi: dict) -> dict[str, float]:
    """Largest |our PSI - Evidently's PSI| over the features, both on Evidently's bins: over all features, and over
    those without an empty bin (the tools fill empty bins differently: we use 1e-4, Evidently min share / 1e6)."""
    import numpy as np
    import pyarrow.parquet as pq

    sys.path.insert(0, str(ROOT))
    from pipelines.drift import psi

    worst = {"all_features": 0.0, "features_without_empty_bins": 0.0}
    for name, theirs in evidently_psi.items():
        edges = np.array(theirs["edges"])
        ref = pq.read_table(reference, columns=[name]).column(0).to_numpy()
        cur = pq.read_table(current, columns=[name]).column(0).to_numpy()
        ref_counts, cur_counts = np.histogram(ref, edges)[0], np.histogram(cur, edges)[0]
        difference = abs(psi(ref_counts, cur_counts) - theirs["value"])
        for key in worst if ref_counts.all() and cur_counts.all() else ["all_features"]:
            worst[key] = max(worst[key], difference)
    return worst


WORKERS = {"ours": worker_ours, "compare": worker_compare, "evidently": worker_evidently}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--ours-only", action="store_true", help="leave Evidently out")
    parser.add_argument("--worker", choices=sorted(WORKERS))
    parser.add_argument("--reference", type=Path)
    parser.add_argument("--current", type=Path)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(WORKERS[args.worker](args.reference, args.current)))
        return

    if not args.ours_only:
        ensure_bench_venv()
    results = [run_one(rows, args.features, args.ours_only) for rows in args.rows]
    print(json.dumps(results, indent=2))
    print("\n| rows | profile + compare s | peak MiB | compare from the saved profile s | peak MiB |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        print(f"| {r['rows']:,} | {r['ours_seconds']} | {r['ours_peak_mib']:,} | {r['compare_seconds']} | {r['compare_peak_mib']:,} |")


def run_one(rows: int, features: int, ours_only: bool) -> dict:
    reference, current = make_data(rows, features)
    files = ["--reference", str(reference), "--current", str(current)]
    ours, ours_mib = run_measured([sys.executable, __file__, "--worker", "ours", *files])
    compare, compare_mib = run_measured([sys.executable, __file__, "--worker", "compare", *files])
    result = {
        "rows": rows,
        "features": features,
        "ours_seconds": round(ours["seconds"], 2),
        "ours_profile_seconds": round(ours["profile_seconds"], 2),
        "ours_compare_seconds": round(ours["compare_seconds"], 2),
        "ours_peak_mib": round(ours_mib),
        "compare_seconds": round(compare["seconds"], 2),
        "compare_peak_mib": round(compare_mib),
        "drifted_features": {"ours": ours["drifted"], "compare": compare["drifted"]},
    }
    if not ours_only:
        theirs, theirs_mib = run_measured([str(BENCH_PYTHON), __file__, "--worker", "evidently", *files])
        result |= {
            "evidently_seconds": round(theirs["seconds"], 2),
            "speedup": round(theirs["seconds"] / ours["seconds"], 1),
            "evidently_peak_mib": round(theirs_mib),
            "memory_ratio": round(ours_mib / theirs_mib, 3),
            "psi_max_abs_difference_on_same_bins": psi_agreement(reference, current, theirs["psi"]),
        }
        result["drifted_features"]["evidently"] = theirs["drifted"]
    (RESULTS / f"drift-{rows}x{features}.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
