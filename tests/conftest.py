"""The mock harness every test builds on: each stack's recorded resource graph, run once per session."""

from __future__ import annotations

import pytest

from mlops.mockrun import StackRecord, run_stack, stack_config_values

ENVIRONMENTS = ("dev", "staging", "prod")


@pytest.fixture(scope="session")
def stacks() -> dict[str, StackRecord]:
    return {environment: run_stack(environment) for environment in ENVIRONMENTS}


def run_with(environment: str, **overrides: str) -> StackRecord:
    """Run a stack with some config values replaced (keys without the `mlops-platform:` prefix)."""
    values, secrets = stack_config_values(environment)
    values.update({f"mlops-platform:{key}": value for key, value in overrides.items()})
    return run_stack(environment, values, secrets)
