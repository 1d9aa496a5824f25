"""Running the program twice yields the same desired state: names, inputs and dependencies are deterministic,
so a second `pulumi up` has nothing to do (the reference modules deploy twice, `init` and `idem`, to prove it)."""

from __future__ import annotations

import pytest

from mlops.mockrun import run_stack
from mlops.preview.diff import diff_states
from mlops.preview.state import from_recorded


@pytest.mark.parametrize("environment", ["shared", "dev", "staging", "prod"])
def test_a_second_run_changes_nothing(environment):
    first, second = run_stack(environment), run_stack(environment)
    changes = diff_states(from_recorded(first.resources), from_recorded(second.resources), guard_data=True)
    assert len(changes) == len(first.resources) > 0  # components are diffed too (Pulumi counts them)
    assert [(c.op, c.name) for c in changes if c.op != "same"] == []
    assert first.outputs == second.outputs
