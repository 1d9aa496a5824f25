"""Preview-time unknowns, missing optional properties and wrong value types: no crash, no false positive."""

from __future__ import annotations

import pytest
from pulumi.output import UNKNOWN

from mlops.analyzer import NOT_EVALUATED
from mlops.records import Secret
from policies.rules import resource_types as t
from tests.policies.policy_fixtures import COMPLIANT, DELETE, edited
from tests.policies.test_stack_rules import compliant_stack, diag, lock, replaced, res, traffic


def test_unknown_checked_value_is_not_evaluated(analyzer):
    found = analyzer.analyze(t.STORAGE_ACCOUNT, edited(t.STORAGE_ACCOUNT, "allowSharedKeyAccess", UNKNOWN))
    assert [(v.policy, v.enforcement) for v in found] == [("storage-shared-key-disabled", NOT_EVALUATED)]
    assert "can't run policy 'storage-shared-key-disabled'" in found[0].message
    assert "boolean" not in found[0].message or "allowSharedKeyAccess" in found[0].message


def test_unknown_object_is_not_evaluated_by_the_rules_that_read_it(analyzer):
    found = analyzer.analyze(t.KEY_VAULT, edited(t.KEY_VAULT, "properties", UNKNOWN))
    assert {v.enforcement for v in found} == {NOT_EVALUATED}
    assert sorted(v.policy for v in found) == [
        "keyvault-network-default-deny",
        "keyvault-public-network-disabled",
        "keyvault-purge-protection",
        "keyvault-rbac-authorization",
        "keyvault-soft-delete-retention",
    ]


def test_secret_values_are_checked_as_plain_values(analyzer):
    assert analyzer.analyze(t.STORAGE_ACCOUNT, edited(t.STORAGE_ACCOUNT, "allowSharedKeyAccess", Secret(False))) == []
    [violation] = analyzer.analyze(t.STORAGE_ACCOUNT, edited(t.STORAGE_ACCOUNT, "allowSharedKeyAccess", Secret(True)))
    assert violation.policy == "storage-shared-key-disabled"


# Minimal resources (required inputs only): exactly the rules whose Azure default is insecure fire.
MINIMAL = [
    (t.STORAGE_ACCOUNT, {"resourceGroupName": "rg", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}},
     ["storage-min-tls-1-2", "storage-shared-key-disabled", "storage-oauth-default", "storage-network-default-deny",
      "storage-public-network-restricted", "storage-zone-redundant", "storage-infrastructure-encryption", "required-tags"]),
    (t.BLOB_CONTAINER, {"accountName": "st", "resourceGroupName": "rg"}, []),
    (t.REGISTRY, {"resourceGroupName": "rg", "sku": {"name": "Basic"}},
     ["registry-public-network-disabled", "registry-premium-sku", "required-tags"]),
    (t.BATCH_ENDPOINT, {"resourceGroupName": "rg", "workspaceName": "w", "properties": {}}, ["required-tags"]),
    (t.ACTION_GROUP, {"resourceGroupName": "rg", "groupShortName": "ag", "enabled": True}, ["action-group-has-receiver", "required-tags"]),
    (t.ROLE_ASSIGNMENT, {"principalId": "p", "roleDefinitionId": "r", "scope": "/subscriptions/s/resourceGroups/rg"},
     ["role-principal-type-not-user"]),
]


@pytest.mark.parametrize(("type_", "props", "expected"), MINIMAL, ids=[m[0].rsplit(":", 1)[-1] for m in MINIMAL])
def test_missing_optional_properties_use_azure_defaults(analyzer, type_, props, expected):
    assert [v.policy for v in analyzer.analyze(type_, props)] == expected


WRONG_TYPES = [
    (t.STORAGE_ACCOUNT, "networkRuleSet", "Deny"),
    (t.STORAGE_ACCOUNT, "tags", ["owner"]),
    (t.STORAGE_ACCOUNT, "allowSharedKeyAccess", {"value": True}),
    (t.KEY_VAULT, "properties", [1, 2]),
    (t.REGISTRY, "sku", 3.0),
    (t.ML_COMPUTE, "properties.properties", "AmlCompute"),
    (t.ONLINE_DEPLOYMENT, "sku.capacity", "two"),
    (t.METRIC_ALERT, "actions", "ag"),
    (t.ROLE_ASSIGNMENT, "roleDefinitionId", 7.0),
    (t.RESOURCE_GROUP, "location", None),
]


@pytest.mark.parametrize(("type_", "path", "value"), WRONG_TYPES, ids=[f"{w[0].rsplit(':', 1)[-1]}:{w[1]}" for w in WRONG_TYPES])
def test_wrong_value_types_neither_crash_nor_fail(analyzer, type_, path, value):
    assert analyzer.analyze(type_, edited(type_, path, value)) == []


def test_missing_key_is_not_a_wrong_type(analyzer):
    [violation] = analyzer.analyze(t.REGISTRY, edited(t.REGISTRY, "sku", DELETE))
    assert (violation.policy, violation.message.split("\n")[1].split(".")[0]) == ("registry-premium-sku", "sku")


def test_stack_rules_use_dependencies_when_references_are_unknown(analyzer):
    stack = compliant_stack()
    vault_urn = stack[0].urn
    stack = replaced(stack, "vault-diag", props=diag("vault-diag", UNKNOWN).props, dependencies=(vault_urn,))
    stack = replaced(stack, "vault-kv", props={**COMPLIANT[t.KEY_VAULT], "vaultName": UNKNOWN})
    stack = replaced(stack, "alerts-latency", props=edited(t.METRIC_ALERT, "actions", [{"actionGroupId": UNKNOWN}]))
    stack = replaced(stack, "online-traffic", props={**traffic({}, []).props, "traffic": UNKNOWN, "deployments": UNKNOWN})
    assert analyzer.analyze_stack(stack) == []


def test_stack_rules_skip_resources_they_cannot_name(analyzer):
    unnamed = res(t.EVENTHUB_NAMESPACE, "events-evhns", {**COMPLIANT[t.EVENTHUB_NAMESPACE], "namespaceName": UNKNOWN}, protect=True)
    its_lock = lock("events-evhns-lock", UNKNOWN, dependencies=(unnamed.urn,))  # its scope is the unknown id
    assert analyzer.analyze_stack([*compliant_stack(), unnamed, its_lock]) == []
