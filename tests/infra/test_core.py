"""The core platform per environment: secure properties, environment differences, protect flags, tags, outputs."""

from __future__ import annotations

import pytest

from components.context import REQUIRED_TAG_KEYS
from components.datalake import ZONES
from core.naming import RULES
from core.outputs import StackOutputs
from mlops.records import Secret
from policies.rules import resource_types as t

STORAGE = t.STORAGE_ACCOUNT
VAULT = t.KEY_VAULT
REGISTRY = t.REGISTRY
WORKSPACE = t.ML_WORKSPACE
COMPUTE = t.ML_COMPUTE
LOGS = t.LOG_ANALYTICS
INSIGHTS = t.APP_INSIGHTS
DIAGNOSTICS = t.DIAGNOSTIC_SETTING
STATEFUL = (STORAGE, VAULT, REGISTRY, WORKSPACE)
CORE_TYPES = (
    t.RESOURCE_GROUP,
    LOGS,
    INSIGHTS,
    STORAGE,
    t.BLOB_SERVICE,
    t.STORAGE_MANAGEMENT_POLICY,
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
    containers = {r.inputs["containerName"]: r.inputs["publicAccess"] for r in stacks[environment].of_type(t.BLOB_CONTAINER) if r.parent.endswith("::lake")}
    assert containers == dict.fromkeys(("raw", "curated", "features", "predictions", "labels", "monitoring"), "None")


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_storage_is_identity_only_adls_gen2(stacks, environment):
    account = stacks[environment].named("lake-st").inputs
    assert account["kind"] == "StorageV2" and account["isHnsEnabled"] is True
    assert account["allowBlobPublicAccess"] is False
    assert account["allowSharedKeyAccess"] is False
    assert account["minimumTlsVersion"] == "TLS1_2"
    assert account["enableHttpsTrafficOnly"] is True
    blob = stacks[environment].one(t.BLOB_SERVICE).inputs
    assert blob["deleteRetentionPolicy"]["enabled"] is True
    assert blob["containerDeleteRetentionPolicy"]["enabled"] is True
    [rule] = stacks[environment].one(t.STORAGE_MANAGEMENT_POLICY).inputs["policy"]["rules"]
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
def test_workspace_wired_by_identity_to_its_own_storage(stacks, environment):
    record = stacks[environment]
    workspace = record.one(WORKSPACE).inputs
    ids = {type_: record.one(type_).outputs["id"] for type_ in (VAULT, REGISTRY, INSIGHTS)}
    storage = record.named("workspace-st")
    # Azure ML refuses an HNS account as the workspace's storage: it has its own StorageV2 account, the lake is a datastore.
    assert workspace["storageAccount"] == storage.outputs["id"] != record.named("lake-st").outputs["id"]
    assert storage.inputs["kind"] == "StorageV2" and storage.inputs["isHnsEnabled"] is False
    assert storage.inputs["allowSharedKeyAccess"] is False
    assert record.named("lake-st").inputs["isHnsEnabled"] is True
    assert workspace["keyVault"] == ids[VAULT]
    assert workspace["containerRegistry"] == ids[REGISTRY]
    assert workspace["applicationInsights"] == ids[INSIGHTS]
    assert workspace["identity"]["type"] == "SystemAssigned"
    assert workspace["systemDatastoresAuthMode"] == "Identity"
    assert workspace["allowPublicAccessWhenBehindVnet"] is False
    datastores = {d.inputs["name"]: d.inputs["properties"] for d in record.of_type(t.ML_DATASTORE)}
    assert set(datastores) == set(ZONES)
    for zone, props in datastores.items():
        assert props == {
            "datastoreType": "AzureDataLakeGen2",
            "accountName": record.named("lake-st").inputs["accountName"],
            "filesystem": zone,
            "credentials": {"credentialsType": "None"},
            "serviceDataAccessAuthIdentity": "WorkspaceSystemAssignedIdentity",
            "description": f"The lake's {zone} zone (identity-based)",
        }
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
    accounts = [record.named(name).outputs["id"] + "/blobServices/default" for name in ("lake-st", "workspace-st", "retrain-st")]
    expected = accounts + [record.one(type_).outputs["id"] for type_ in (VAULT, REGISTRY, WORKSPACE)]
    for uri in expected:
        assert targets.get(uri) == law, uri


def test_dev_is_public_and_unprotected_staging_and_prod_private_and_protected(stacks):
    for environment, public in (("dev", "Enabled"), ("staging", "Disabled"), ("prod", "Disabled")):
        record = stacks[environment]
        # The lake is "Enabled from selected networks" with no network selected in private stacks: only its
        # trusted writers get in from outside (test_network covers the exact rules).
        lake = record.named("lake-st").inputs
        assert lake["publicNetworkAccess"] == "Enabled"
        assert lake["networkRuleSet"]["defaultAction"] == ("Allow" if public == "Enabled" else "Deny")
        assert record.named("workspace-st").inputs["publicNetworkAccess"] == public
        assert record.named("retrain-st").inputs["publicNetworkAccess"] == public
        assert record.one(VAULT).inputs["properties"]["publicNetworkAccess"] == public
        assert record.one(VAULT).inputs["properties"]["networkAcls"]["defaultAction"] == ("Allow" if public == "Enabled" else "Deny")
        # staging and prod have IoT Edge devices, which pull from the field: Enabled for the sites only (test_edge.py)
        assert record.one(REGISTRY).inputs["publicNetworkAccess"] == "Enabled"
        assert ("networkRuleSet" in record.one(REGISTRY).inputs) == (public == "Disabled")
        assert record.one(WORKSPACE).inputs["publicNetworkAccess"] == public
        for resource in (*record.of_type(STORAGE), *(record.one(type_) for type_ in STATEFUL if type_ != STORAGE)):
            assert resource.protect is (environment != "dev"), (environment, resource.name)
            assert resource.retain_on_delete is (environment != "dev"), (environment, resource.name)
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
        if resource.type in (*STATEFUL, LOGS, INSIGHTS, COMPUTE, t.RESOURCE_GROUP):
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


def test_soft_deleted_names_change_with_the_name_suffix(run_stack_with, stacks):
    """A deleted workspace keeps its name 14 days, a purge-protected vault for its retention: dev's names carry
    the suffix derived from `nameSuffix`, so a destroyed dev can be created again at once with a new suffix."""
    again = run_stack_with("dev", nameSuffix="d2")
    for type_, key in ((WORKSPACE, "workspaceName"), (VAULT, "vaultName")):
        before, after = stacks["dev"].one(type_).inputs[key], again.one(type_).inputs[key]
        assert before != after and before.rsplit("-", 1)[0] == after.rsplit("-", 1)[0]


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
        for container in record.of_type(t.BLOB_CONTAINER):
            assert container.inputs["accountName"], container.urn


def test_the_program_reads_no_secret_at_plan_time(stacks):
    """The only invoke is the client config (tenant and subscription): no host keys or other secrets are listed,
    which would fail when a host cannot start and needs rights a Reader (a PR preview) lacks."""
    for record in stacks.values():
        assert record.calls == ["azure-native:authorization:getClientConfig"]
