"""Policy throughput through the Analyzer protocol: the full pack side by side with its floor.

The floor is a pack with the same number of resource and stack policies whose checks return at once, so
both pay what pulumi-policy costs per policy (it deserializes the request once per policy); the ratio shows
what the rules themselves add. Target: full / floor >= 0.8.

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

from mlops.analyzer import PACK_DIR, PolicyAnalyzer  # noqa: E402
from mlops.mockrun import run_stack  # noqa: E402
from pulumi.runtime.proto import analyzer_pb2 as proto  # noqa: E402

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


def throughput(analyzer: PolicyAnalyzer, environment: str | None, workload: list, rounds: int) -> float:
    analyzer.configure(environment)
    for resource in workload:  # warm-up
        analyzer.analyze(resource.type, resource.inputs, resource.urn, resource.name)
    start = time.perf_counter()
    for _ in range(rounds):
        for resource in workload:
            analyzer.analyze(resource.type, resource.inputs, resource.urn, resource.name, resource.protect)
    return rounds * len(workload) / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    workload = resources()
    with PolicyAnalyzer(PACK_DIR) as full:
        kinds = [p.policy_type for p in full.info().policies]
        resource_count = kinds.count(proto.POLICY_TYPE_RESOURCE)
        stack_count = len(kinds) - resource_count
        full_rate = throughput(full, "prod", workload, args.rounds)
    with tempfile.TemporaryDirectory() as tmp:
        floor_dir = Path(tmp)
        (floor_dir / "PulumiPolicy.yaml").write_text("runtime: python\n")
        (floor_dir / "__main__.py").write_text(FLOOR_PACK.format(resource=resource_count, stack=stack_count))
        with PolicyAnalyzer(floor_dir) as floor:
            floor_rate = throughput(floor, None, workload, args.rounds)
    print(f"workload: {len(workload)} resources x {args.rounds} rounds, {resource_count} resource + {stack_count} stack policies")
    print("| pack | resources/s |")
    print("|---|---:|")
    print(f"| full pack (prod config) | {full_rate:,.0f} |")
    print(f"| floor (same policy count, return at once) | {floor_rate:,.0f} |")
    print(f"| ratio full / floor | {full_rate / floor_rate:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
