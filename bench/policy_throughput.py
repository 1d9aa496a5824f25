"""Policy throughput through the Analyzer protocol: the full pack side by side with its floor.

The floor is a pack with the same number of resource and stack policies whose checks return at once, so
both pay what pulumi-policy costs per policy (it deserializes the request once per policy); the ratio shows
what the rules themselves add. Both packs run side by side, their rounds alternating, so the load of other
processes on the machine falls on both alike. Target: full / floor >= 0.8.

    .venv/bin/python bench/policy_throughput.py [--rounds N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pulumi.runtime.proto import analyzer_pb2 as proto  # noqa: E402

from mlops.analyzer import PACK_DIR, PolicyAnalyzer  # noqa: E402
from mlops.mockrun import run_stack  # noqa: E402

FLOOR_PACK = """\
from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy, StackValidationPolicy


def nothing(args, report):
    return None


PolicyPack(
    name="floor",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[ResourceValidationPolicy(name=f"r{{i}}", description="returns at once", validate=nothing) for i in range({resource})]
    + [StackValidationPolicy(name=f"s{{i}}", description="returns at once", validate=nothing) for i in range({stack})],
)
"""


def resources() -> list:
    """Every custom resource of the three stacks, as the engine would send them to Analyze."""
    return [r for env in ("dev", "staging", "prod") for r in run_stack(env).resources if r.custom]


def warm_up(analyzer: PolicyAnalyzer, environment: str | None, workload: list) -> None:
    analyzer.configure(environment)
    for resource in workload:
        analyzer.analyze(resource.type, resource.inputs, resource.urn, resource.name)


def one_round(analyzer: PolicyAnalyzer, workload: list) -> float:
    """Seconds for one sequential pass of Analyze calls over the workload."""
    start = time.perf_counter()
    for resource in workload:
        analyzer.analyze(resource.type, resource.inputs, resource.urn, resource.name, resource.protect)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    workload = resources()
    with PolicyAnalyzer(PACK_DIR) as full, tempfile.TemporaryDirectory() as tmp:
        kinds = [p.policy_type for p in full.info().policies]
        resource_count = kinds.count(proto.POLICY_TYPE_RESOURCE)
        stack_count = len(kinds) - resource_count
        floor_dir = Path(tmp)
        (floor_dir / "PulumiPolicy.yaml").write_text("runtime: python\n")
        (floor_dir / "__main__.py").write_text(FLOOR_PACK.format(resource=resource_count, stack=stack_count))
        with PolicyAnalyzer(floor_dir) as floor:
            warm_up(full, "prod", workload)
            warm_up(floor, None, workload)
            # Rounds alternate between the two packs, so load from other processes falls on both alike.
            full_seconds = floor_seconds = 0.0
            for _ in range(args.rounds):
                full_seconds += one_round(full, workload)
                floor_seconds += one_round(floor, workload)
    calls = args.rounds * len(workload)
    full_rate, floor_rate = calls / full_seconds, calls / floor_seconds
    print(f"workload: {len(workload)} resources x {args.rounds} rounds, {resource_count} resource + {stack_count} stack policies")
    print("| pack | resources/s |")
    print("|---|---:|")
    print(f"| full pack (prod config) | {full_rate:,.0f} |")
    print(f"| floor (same policy count, return at once) | {floor_rate:,.0f} |")
    print(f"| ratio full / floor | {full_rate / floor_rate:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
