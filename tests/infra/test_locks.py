"""CanNotDelete locks: every stateful resource (but the ML workspace) outside dev gets one scoped to it, from the
component base's child(stateful=True); `locks` is stack config, validated like every key."""

from __future__ import annotations

import pytest

from components.base import LOCK_LEVEL, LOCK_NAME
from core.config import load_stack_config
from mlops.mockrun import run_stack
from policies.rules import resource_types as t
from policies.rules.resource_types import MANAGEMENT_LOCK, ML_WORKSPACE, PROTECTED
from policies.rules.stack import LOCKED
from tests.infra.test_config import config_error


def _locks_by_scope(record) -> dict[str, list]:
    found: dict[str, list] = {}
    for lock in record.of_type(MANAGEMENT_LOCK):
        found.setdefault(lock.inputs["scope"], []).append(lock)
    return found


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_each_stateful_resource_outside_dev_has_one_cannot_delete_lock(stacks, environment):
    record = stacks[environment]
    locks = _locks_by_scope(record)
    stateful = [r for r in record.resources if r.type in PROTECTED]
    assert {r.type for r in stateful} >= {t.STORAGE_ACCOUNT, t.KEY_VAULT, ML_WORKSPACE}
    for resource in stateful:
        mine = locks.pop(resource.outputs["id"], [])
        if resource.type == ML_WORKSPACE:
            assert mine == [], "the workspace is protected, not locked (a lock would block deleting its deployments)"
            continue
        [lock] = mine
        assert lock.inputs == {"scope": resource.outputs["id"], "level": LOCK_LEVEL, "lockName": LOCK_NAME, "notes": lock.inputs["notes"]}
        assert lock.name == f"{resource.name}-lock" and lock.parent == resource.parent
        assert resource.urn in lock.property_dependencies["scope"]  # created after the resource, deleted before it
        assert not lock.protect, "a lock must be removable by `pulumi up` with locks: false"
    assert locks == {}, "a lock on something that is not stateful"


def test_dev_has_no_locks_and_the_shared_registry_is_locked(stacks):
    assert stacks["dev"].of_type(MANAGEMENT_LOCK) == []
    shared = run_stack("shared")
    registry = shared.one(t.ML_REGISTRY)
    [lock] = shared.of_type(MANAGEMENT_LOCK)
    assert lock.inputs["scope"] == registry.outputs["id"] and registry.type in LOCKED


def test_locks_config_defaults_on_and_dev_turns_it_off(tmp_path):
    assert load_stack_config("staging").locks is True and load_stack_config("prod").locks is True
    assert load_stack_config("dev").locks is False
    error = config_error(tmp_path, "staging", "  mlops-platform:locks: sometimes\n")
    assert (error.source.endswith("Pulumi.staging.yaml"), error.key) == (True, "mlops-platform:locks")
    assert "valid boolean" in error.message


def test_locks_follow_config_not_protect(run_stack_with):
    record = run_stack_with("staging", locks="false")
    assert record.of_type(MANAGEMENT_LOCK) == []
    assert all(r.protect for r in record.resources if r.type in PROTECTED)
