"""The shared stack: the Azure ML registry every environment promotes models and environments through."""

from __future__ import annotations

from core.outputs import SharedOutputs
from mlops.mockrun import run_stack
from policies.rules import resource_types as t

REGISTRY = t.ML_REGISTRY


def test_shared_stack_holds_the_registry_and_exports_its_contract():
    record = run_stack("shared")
    registry = record.one(REGISTRY)
    assert registry.inputs["registryName"] == "mlr-mlops-shared-weu-" + registry.inputs["registryName"].rsplit("-", 1)[1]
    assert registry.inputs["identity"] == {"type": "SystemAssigned"}
    assert registry.inputs["publicNetworkAccess"] == "Enabled"  # Pulumi.shared.yaml: dev reaches it publicly
    [region] = registry.inputs["regionDetails"]
    assert region["location"] == "westeurope"
    assert region["acrDetails"] == [{"systemCreatedAcrAccount": {"acrAccountSku": "Premium"}}]
    assert region["storageAccountDetails"] == [{"systemCreatedStorageAccount": {
        "storageAccountType": "Standard_ZRS", "storageAccountHnsEnabled": False, "allowBlobPublicAccess": False}}]  # fmt: skip
    assert registry.protect is True and registry.retain_on_delete is True
    outputs = SharedOutputs.model_validate(record.outputs)
    assert outputs.registry_id == registry.outputs["id"] and outputs.registry_name == registry.inputs["registryName"]
    assert "/resourceGroups/azureml-rg-" in outputs.registry_storage_account_id
    assert outputs.registry_container_registry_id.split("/providers/")[1].startswith("Microsoft.ContainerRegistry/registries/")


def test_environments_read_the_registry_through_a_stack_reference(stacks):
    shared = run_stack("shared").outputs
    for record in stacks.values():
        assert record.outputs["mlRegistryName"] == shared["registryName"]


def test_a_missing_shared_stack_is_reported():
    import pytest

    with pytest.raises(Exception, match="StackReference 'shared': no outputs of that stack"):
        run_stack("dev", references={})
