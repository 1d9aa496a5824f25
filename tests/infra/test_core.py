"""The core platform per environment: secure properties, environment differences, protect flags, tags, outputs."""

from __future__ import annotations

import pytest

from components.context import REQUIRED_TAG_KEYS
from components.naming import RULES
from mlops.mockrun import Secret
from stacks.outputs import StackOutputs

STORAGE = "azure-native:storage:StorageAccount"
VAULT = "azure-native:keyvault:Vault"
REGISTRY = "azure-native:containerregistry:Registry"
WORKSPACE = "azure-native:machinelearningservices:Workspace"
COMPUTE = "azure-native:machinelearningservices:Compute"
LOGS = "azure-native:operationalinsights:Workspace"
INSIGHTS = "azure-native:applicationinsights:Component"
DIAGNOSTICS = "azure-native:monitor:DiagnosticSetting"
STATEFUL = (STORAGE, VAULT, REGISTRY, WORKSPACE)
CORE_TYPES = (
    "azure-native:resources:ResourceGroup",
    LOGS,
    INSIGHTS,
    STORAGE,
    "azure-native:storage:BlobServiceProperties",
    "azure-native:storage:ManagementPolicy",
    VAULT,
    REGISTRY,
    WORKSPACE,
    COMPUTE,
    DIAGNOSTICS,
)
ENVIRONMENTS = ("dev", "staging", "prod")


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_core_type_exists(stacks, environment):
    types = {r.type for r in stacks[environment].resources}
    assert set(CORE_TYPES) <= types
    containers = {r.inputs["containerName"]: r.inputs["publicAccess"] for r in stacks[environment].of_type("azure-native:storage:BlobContainer") if r.parent.endswith("::lake")}
    assert containers == {"raw": "None", "curated": "None", "features": "None"}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_storage_is_identity_only_adls_gen2(stacks, environment):
    account = stacks[environment].named("lake-st").inputs
    assert account["kind"] == "StorageV2" and account["isHnsEnabled"] is True
    assert account["allowBlobPublicAccess"] is False
    assert account["allowSharedKeyAccess"] is False
    assert account["minimumTlsVersion"] == "TLS1_2"
    assert account["enableHttpsTrafficOnly"] is True
    blob = stacks[environment].one("azure-native:storage:BlobServiceProperties").inputs
    assert blob["deleteRetentionPolicy"]["enabled"] is True
    assert blob["containerDeleteRetentionPolicy"]["enabled"] is True
    [rule] = stacks[environment].one("azure-native:storage:ManagementPolicy").inputs["policy"]["rules"]
    assert rule["definition"]["filters"]["prefixMatch"] == ["raw/"]
    assert rule["definition"]["actions"]["baseBlob"]["tierToCool"]["daysAfterModificationGreaterThan"] == 30


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_key_vault_rbac_purge_protected(stacks, environment):
    props = stacks[environment].one(VAULT).inputs["properties"]
    assert props["enableRbacAuthorization"] is True
    assert props["enablePurgeProtection"] is True
    assert props["softDeleteRetentionInDays"] == 90


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_registry_and_monitoring_disable_local_auth(stacks, environment):
    registry = stacks[environment].one(REGISTRY).inputs
    assert registry["adminUserEnabled"] is False and registry["anonymousPullEnabled"] is False
    assert stacks[environment].one(INSIGHTS).inputs["disableLocalAuth"] is True
    assert stacks[environment].one(INSIGHTS).inputs["workspaceResourceId"].endswith("/workspaces/log-mlops-" + {"dev": "dev", "staging": "stg", "prod": "prd"}[environment] + "-weu")
    assert stacks[environment].one(LOGS).inputs["features"]["disableLocalAuth"] is True


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_workspace_wired_by_identity(stacks, environment):
    record = stacks[environment]
    workspace = record.one(WORKSPACE).inputs
    ids = {t: record.one(t).outputs["id"] for t in (VAULT, REGISTRY, INSIGHTS)} | {STORAGE: record.named("lake-st").outputs["id"]}
    assert workspace["storageAccount"] == ids[STORAGE]
    assert workspace["keyVault"] == ids[VAULT]
    assert workspace["containerRegistry"] == ids[REGISTRY]
    assert workspace["applicationInsights"] == ids[INSIGHTS]
    assert workspace["identity"]["type"] == "SystemAssigned"
    assert workspace["systemDatastoresAuthMode"] == "Identity"
    compute = record.one(COMPUTE).inputs
    assert compute["workspaceName"] == workspace["workspaceName"]
    assert compute["properties"]["disableLocalAuth"] is True
    assert compute["properties"]["properties"]["scaleSettings"]["minNodeCount"] == 0
    assert compute["identity"]["type"] == "SystemAssigned"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_diagnostics_for_storage_vault_registry_workspace(stacks, environment):
    record = stacks[environment]
    law = record.one(LOGS).outputs["id"]
    targets = {d.inputs["resourceUri"]: d.inputs["workspaceId"] for d in record.of_type(DIAGNOSTICS)}
    expected = [record.named("lake-st").outputs["id"] + "/blobServices/default"] + [record.one(t).outputs["id"] for t in (VAULT, REGISTRY, WORKSPACE)]
    for uri in expected:
        assert targets.get(uri) == law, uri


def test_dev_is_public_and_unprotected_staging_and_prod_private_and_protected(stacks):
    for environment, public in (("dev", "Enabled"), ("staging", "Disabled"), ("prod", "Disabled")):
        record = stacks[environment]
        assert record.named("lake-st").inputs["publicNetworkAccess"] == public
        assert record.named("lake-st").inputs["networkRuleSet"]["defaultAction"] == ("Allow" if public == "Enabled" else "Deny")
        assert record.one(VAULT).inputs["properties"]["networkAcls"]["defaultAction"] == ("Allow" if public == "Enabled" else "Deny")
        assert record.one(REGISTRY).inputs["publicNetworkAccess"] == public
        assert record.one(WORKSPACE).inputs["publicNetworkAccess"] == public
        for resource in (record.named("lake-st"), *(record.one(t) for t in STATEFUL if t != STORAGE)):
            type_ = resource.type
            assert resource.protect is (environment != "dev"), (environment, type_)
            assert resource.retain_on_delete is (environment != "dev"), (environment, type_)
    assert stacks["dev"].one(WORKSPACE).inputs["managedNetwork"]["isolationMode"] == "Disabled"
    assert stacks["prod"].one(WORKSPACE).inputs["managedNetwork"]["isolationMode"] == "AllowOnlyApprovedOutbound"
    assert stacks["dev"].one(COMPUTE).inputs["properties"]["properties"]["enableNodePublicIp"] is True
    assert stacks["staging"].one(COMPUTE).inputs["properties"]["properties"]["enableNodePublicIp"] is False


def test_prod_is_zone_redundant_premium_and_larger(stacks):
    assert stacks["prod"].named("lake-st").inputs["sku"]["name"] == "Standard_ZRS"
    assert stacks["dev"].named("lake-st").inputs["sku"]["name"] == "Standard_LRS"
    assert stacks["prod"].one(REGISTRY).inputs["sku"]["name"] == "Premium"
    assert stacks["prod"].one(REGISTRY).inputs["zoneRedundancy"] == "Enabled"
    assert stacks["dev"].one(REGISTRY).inputs["sku"]["name"] == "Basic"
    max_nodes = {e: stacks[e].one(COMPUTE).inputs["properties"]["properties"]["scaleSettings"]["maxNodeCount"] for e in ENVIRONMENTS}
    assert max_nodes["prod"] > max_nodes["staging"] > max_nodes["dev"]
    assert stacks["prod"].one(LOGS).inputs["retentionInDays"] == 365


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_taggable_resource_has_required_tags(stacks, environment):
    tagged = [r for r in stacks[environment].resources if r.custom and "tags" in r.inputs]
    assert len(tagged) >= 8
    for resource in tagged:
        tags = resource.inputs["tags"]
        assert set(REQUIRED_TAG_KEYS) <= set(tags), resource.urn
        assert tags["environment"] == environment and tags["managed-by"] == "pulumi"
    # top-level Azure resources that accept tags must carry them
    for resource in stacks[environment].resources:
        if resource.type in (*STATEFUL, LOGS, INSIGHTS, COMPUTE, "azure-native:resources:ResourceGroup"):
            assert "tags" in resource.inputs, resource.urn


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_exports_match_the_contract(stacks, environment):
    outputs = stacks[environment].outputs
    assert list(outputs) == StackOutputs.output_keys() or set(outputs) == set(StackOutputs.output_keys())
    assert isinstance(outputs["applicationInsightsConnectionString"], Secret)
    parsed = StackOutputs.model_validate({k: (v.value if isinstance(v, Secret) else v) for k, v in outputs.items()})
    assert parsed.workspace_name == stacks[environment].one(WORKSPACE).inputs["workspaceName"]
    assert parsed.container_urls.raw.endswith("/raw")
    assert parsed.mlflow_tracking_uri.startswith("azureml://")


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_names_satisfy_service_rules(stacks, environment):
    name_keys = {STORAGE: ("accountName", "st"), VAULT: ("vaultName", "kv"), REGISTRY: ("registryName", "cr"), WORKSPACE: ("workspaceName", "mlw"), COMPUTE: ("computeName", "mlc")}
    for resource in stacks[environment].resources:
        if resource.type not in name_keys:
            continue
        key, abbreviation = name_keys[resource.type]
        name = resource.inputs[key]
        assert RULES[abbreviation].check(name) is None, name
        assert name.lower().startswith(abbreviation)


def test_global_names_differ_between_stacks(stacks):
    names = [stacks[e].one(VAULT).inputs["vaultName"] for e in ENVIRONMENTS]
    assert len(set(names)) == 3


def test_no_recorded_input_key_is_snake_case(stacks):
    """Union-typed args given as dicts reach the provider snake_cased; the harness must catch that."""

    def keys(value):
        if isinstance(value, dict):
            for key, item in value.items():
                yield key
                yield from keys(item)
        elif isinstance(value, list):
            for item in value:
                yield from keys(item)

    for record in stacks.values():
        for resource in record.resources:
            if resource.type.startswith("azure-native:"):
                bad = [k for k in keys(resource.inputs) if "_" in k]
                assert not bad, (resource.urn, bad)


def test_no_input_is_lost_to_unresolved_outputs(stacks):
    """Inputs built from provider outputs the mocks don't return are silently dropped: check the wired ones."""
    for record in stacks.values():
        assert record.one(VAULT).inputs["properties"]["tenantId"]
        assert record.one(INSIGHTS).inputs["workspaceResourceId"]
        assert record.one(COMPUTE).inputs["workspaceName"]
        for setting in record.of_type(DIAGNOSTICS):
            assert setting.inputs["resourceUri"] and setting.inputs["workspaceId"], setting.urn
        for container in record.of_type("azure-native:storage:BlobContainer"):
            assert container.inputs["accountName"], container.urn
