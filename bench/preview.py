"""Preview speed: `preview --stack all` (policies + a base diff) against the floor, and growth with stacks.

The floor is the same process evaluating one stack under bare mocks (no policies, no diff). The full run is
`build_reports(all stacks, base=HEAD)`: every stack under mocks, the policy pack over the Analyzer protocol,
and the program at HEAD evaluated in a worktree subprocess. "first" is the first full run (the base is
evaluated); "warm" is the best of the runs after it (the base state comes from the per-commit cache).
Growth is measured in throw-away copies of the project with 8 and 16 stacks (the extra stack files are copies
of staging).

    .venv/bin/python bench/preview.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(fn, repeat: int) -> tuple[float, float]:
    """(first run, best of the following runs)."""
    start = time.perf_counter()
    fn()
    first, best = time.perf_counter() - start, float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return first, best


def worker(repeat: int) -> None:
    """Runs inside a project copy: prints the floor and the full preview time as JSON."""
    sys.path.insert(0, str(Path.cwd()))
    from mlops.commands.preview import build_reports
    from mlops.mockrun import run_stack
    from mlops.options import stack_names

    stacks = stack_names("all")
    _, floor = timed(lambda: run_stack(stacks[0]), repeat)
    first, warm = timed(lambda: build_reports(stacks, base="HEAD"), repeat)
    print(json.dumps({"stacks": len(stacks), "floor": floor, "first": first, "warm": warm}))


def project_with(stack_count: int, workdir: Path) -> Path:
    copy = workdir / f"project-{stack_count}"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".venv", ".git", ".mlops", "__pycache__", "tests", "bench", "mlruns"))
    existing = len(list((copy / "stacks").glob("Pulumi.*.yaml")))
    if stack_count > existing:
        template = (copy / "stacks" / "Pulumi.staging.yaml").read_text()
        for index in range(stack_count - existing):
            (copy / "stacks" / f"Pulumi.env{index:02d}.yaml").write_text(template)
    for command in (["init", "-q"], ["add", "-A"], ["-c", "user.email=b@example.com", "-c", "user.name=b", "commit", "-qm", "base"]):
        subprocess.run(["git", *command], cwd=copy, check=True, capture_output=True)
    return copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.repeat)
        return
    rows = []
    with tempfile.TemporaryDirectory(prefix="mlops-bench-") as tmp:
        for count in (4, 8, 16):
            copy = project_with(count, Path(tmp))
            done = subprocess.run(
                [sys.executable, str(ROOT / "bench" / "preview.py"), "--worker", "--repeat", str(args.repeat if count == 4 else 1)],
                cwd=copy, capture_output=True, text=True, check=True, env={**os.environ, "MLOPS_HOME": str(copy / ".mlops")},
            )
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"{'stacks':>6} {'floor s':>8} {'first s':>8} {'warm s':>7} {'warm/stack s':>13} {'first/floor':>12} {'warm/floor':>11}")
    for r in rows:
        print(
            f"{r['stacks']:>6} {r['floor']:>8.2f} {r['first']:>8.2f} {r['warm']:>7.2f} {r['warm'] / r['stacks']:>13.2f} "
            f"{r['first'] / r['floor']:>12.1f} {r['warm'] / r['floor']:>11.1f}"
        )


if __name__ == "__main__":
    main()
