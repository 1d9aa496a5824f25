"""Benchmark: the Great Expectations telemetry suite on 1M rows — rows per second and peak memory.

Runs `validate_frame` (the pipeline's validate step) on the built-in sample, after one warm-up run on a small
frame so imports and GE's registry set-up are not counted; the time is the best of --repeat runs. Memory:
the frame's own size, the peak allocated during one extra (untimed) validation traced by tracemalloc (numpy
and pandas report to it), and the process's peak resident set size.
Usage: .venv/bin/python bench/validate.py [--rows N] [--repeat K]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console
from rich.table import Table

from pipelines.sample_data import generate_telemetry
from pipelines.steps.validate import validate_frame


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    validate_frame(generate_telemetry(1_000))  # warm-up
    frame = generate_telemetry(args.rows)
    seconds = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        report = validate_frame(frame)
        seconds.append(time.perf_counter() - started)
        assert report.success, report.message()
    best = min(seconds)
    tracemalloc.start()
    validate_frame(frame)
    traced_peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()

    table = Table(title=f"Great Expectations suite ({report.result['statistics']['evaluated_expectations']} expectations)")
    columns = ("rows", "seconds", "rows/second", "frame MiB", "validation peak MiB", "process peak RSS MiB")
    for column in columns:
        table.add_column(column, justify="right")
    frame_mib = frame.memory_usage(deep=True).sum() / 2**20
    table.add_row(
        f"{args.rows:,}", f"{best:.2f}", f"{args.rows / best:,.0f}", f"{frame_mib:,.0f}", f"{traced_peak:,.0f}",
        f"{peak_mib():,.0f}",
    )
    Console().print(table)


if __name__ == "__main__":
    main()
