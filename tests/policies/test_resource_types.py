"""The one table of resource types (policies/rules/resource_types.py): the policies, the preview and the mock harness
read the same objects from it, and every type the program declares is in it."""

from __future__ import annotations

import pytest

from mlops import mockrun
from mlops.preview import diff, replace
from policies.rules import governance, stack
from policies.rules import resource_types as t


def test_policies_and_preview_use_the_tables_sets():
    assert stack.PROTECTED is t.PROTECTED  # stateful-resources-protected and -locked
    assert governance.TRACKED is t.TRACKED  # required tags, allowed locations
    assert diff.is_stateful is t.is_stateful  # the preview's data-loss guard
    assert replace.ARM_IDS is t.ARM_IDS and mockrun.ARM_IDS is t.ARM_IDS  # identity keys, mock ids
    assert set(stack.LOG_SOURCE_KEYS) == set(t.LOG_SOURCES)


def test_what_is_protected_and_what_loses_data():
    assert t.PROTECTED == (t.STORAGE_ACCOUNT, t.KEY_VAULT, t.REGISTRY, t.ML_WORKSPACE, t.ML_REGISTRY,
                           t.EVENTHUB_NAMESPACE, t.IOT_HUB, t.IOT_DPS)  # fmt: skip
    # Stateful beyond the protected: children of a protected, locked parent, guarded by the data-loss check.
    assert set(t.STATEFUL) - set(t.PROTECTED) == {t.BLOB_CONTAINER, t.EVENTHUB}
    assert [t.is_stateful(x) for x in (t.BLOB_CONTAINER, t.ROLE_ASSIGNMENT, "azure-native:unknown:Type")] == [True, False, False]


def test_log_sources_are_named_by_their_arm_ids():
    assert stack.LOG_SOURCE_KEYS[t.KEY_VAULT] == ("/providers/microsoft.keyvault/vaults/", "vaultName")
    assert stack.LOG_SOURCE_KEYS[t.ONLINE_ENDPOINT] == ("/onlineendpoints/", "endpointName")


def test_a_protected_type_must_be_stateful():
    with pytest.raises(ValueError, match="azure-native:x:Y: a protected type is stateful"):
        t.ResourceType("azure-native:x:Y", "/x/{name}", protected=True)


def test_every_declared_type_is_in_the_table(stacks):
    declared = {r.type for record in stacks.values() for r in record.resources if r.custom}
    assert sorted(declared - set(t.TYPES)) == []
