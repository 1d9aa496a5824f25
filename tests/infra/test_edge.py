"""The edge target under mocks: per stack, the DPS, the deployer's IoT Hub data role, and one IoT Edge deployment per
config entry (plus the base), with the manifests built from the stack's own registry, hub and config."""

from __future__ import annotations

import json

import pytest

from components.arm_settings import _whole_numbers
from components.edge_deployments import EDGE_DEPLOYMENT_KIND, IDENTITY_KEYS
from components.edge_manifest import EDGE_AGENT_IMAGE, check_manifest, configuration_id
from components.roles import BUILT_IN_ROLES
from core.config import load_stack_config
from mlops.mockrun import CLIENT_OBJECT_ID, Secret
from policies.rules import resource_types as t
from policies.rules.resource_types import DYNAMIC, IOT_DPS, IOT_HUB, REGISTRY, ROLE_ASSIGNMENT
from tests.conftest import run_with

ENVIRONMENTS = ("dev", "staging", "prod")


def edge_deployments(record) -> dict[str, object]:
    return {r.inputs["stage"]: r for r in record.of_type(DYNAMIC) if r.inputs.get("kind") == EDGE_DEPLOYMENT_KIND}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_stack_gets_the_deployments_its_config_declares(stacks, environment):
    record, cfg = stacks[environment], load_stack_config(environment)
    found = edge_deployments(record)
    assert set(found) == {"base", *(d.name for d in cfg.edge.deployments)}
    hub = record.one(IOT_HUB)
    login = record.one(REGISTRY).outputs["loginServer"]
    grant = record.named("edge-deployer-configurations")
    for stage, resource in found.items():
        inputs = resource.inputs
        assert inputs["hubHostName"] == hub.outputs["properties"]["hostName"]
        # the id hashes the content as the program built it (integers; the record has the engine's doubles)
        assert inputs["configurationId"] == configuration_id(f"mlops-{environment}", stage, _whole_numbers(inputs["content"]))
        assert check_manifest(inputs["content"]["modulesContent"]) == []
        assert inputs["registryLoginServer"] == login
        assert grant.urn in resource.dependencies  # written only once the deployer holds its data role
        assert sorted(resource.replace_on_changes) == sorted(IDENTITY_KEYS)  # content is immutable: a replace
    base = found["base"].inputs
    assert base["targetCondition"] == cfg.edge.target_condition and base["priority"] == cfg.edge.priority
    agent = base["content"]["modulesContent"]["$edgeAgent"]["properties.desired"]
    assert agent["systemModules"]["edgeAgent"]["settings"]["image"] == EDGE_AGENT_IMAGE
    for entry in cfg.edge.deployments:
        inputs = found[entry.name].inputs
        assert (inputs["model"], inputs["targetCondition"], inputs["priority"]) == (entry.model, entry.target_condition, entry.priority)
        module = inputs["content"]["modulesContent"]["$edgeAgent"]["properties.desired.modules.scorer"]
        assert module["settings"]["image"] == inputs["image"] == f"{login}/mlops/edge:{cfg.edge.image_tag}"
        twin = inputs["content"]["modulesContent"]["scorer"]["properties.desired"]
        assert (twin["modelName"], twin["modelVersion"]) == tuple(entry.model.split(":"))
        name, version = entry.model.split(":")
        # The model comes as an image of the stack's registry into the volume the scorer reads, checked by its digest.
        model = inputs["content"]["modulesContent"]["$edgeAgent"]["properties.desired.modules.model"]
        assert model["settings"]["image"] == inputs["modelImage"] == f"{login}/mlops/edge-model/{name}:{version}"
        assert model["env"]["MODEL_TARGET"]["value"] == f"/models/{name}/{version}/model.onnx"
        assert twin["modelUri"] == f"file:///models/{name}/{version}/model.onnx"
        assert twin["modelSha256"] == inputs["modelSha256"] == entry.model_sha256


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_deployer_holds_iot_hub_data_contributor_on_the_hub(stacks, environment):
    record = stacks[environment]
    grant = record.named("edge-deployer-configurations")
    assert grant.type == ROLE_ASSIGNMENT
    assert grant.inputs["principalId"] == CLIENT_OBJECT_ID  # getClientConfig's objectId: who runs `pulumi up`
    assert grant.inputs["scope"] == record.one(IOT_HUB).outputs["id"]
    assert grant.inputs["roleDefinitionId"].endswith(BUILT_IN_ROLES["IoT Hub Data Contributor"])


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_stack_has_a_device_provisioning_service(stacks, environment):
    record, cfg = stacks[environment], load_stack_config(environment)
    dps = record.one(IOT_DPS)
    assert dps.inputs["sku"] == {"name": "S1", "capacity": 1}
    assert dps.inputs["properties"]["publicNetworkAccess"] == "Enabled"  # devices provision from the field
    assert dps.inputs["properties"]["allocationPolicy"] == "Hashed"
    assert "properties.iotHubs" in dps.ignore_changes  # the link is a bootstrap step (it needs the hub's key)
    assert dps.protect == cfg.protect and dps.inputs["tags"]["environment"] == environment
    assert ("ipFilterRules" in dps.inputs["properties"]) == cfg.network.private
    diagnostics = [r for r in record.of_type(t.DIAGNOSTIC_SETTING) if r.inputs["resourceUri"] == dps.outputs["id"]]
    assert len(diagnostics) == 1


def test_a_stack_without_edge_devices_has_no_deployments_and_no_grant():
    record = run_with("staging", edge=json.dumps({"deployments": []}))
    assert edge_deployments(record) == {}
    assert [r for r in record.of_type(ROLE_ASSIGNMENT) if r.name == "edge-deployer-configurations"] == []
    assert record.one(IOT_DPS)  # devices can still be provisioned


def test_the_registry_password_makes_the_base_manifest_secret_and_only_it(stacks):
    values = json.dumps({**json.loads(__import__("core.config", fromlist=["x"]).read_stack_values("dev")[0]["mlops-platform:edge"]),
                         "registryPassword": "p4ssw0rd-from-bootstrap"})  # fmt: skip
    found = edge_deployments(run_with("dev", edge=values))
    content = found["base"].inputs["content"]
    assert isinstance(content, Secret)  # in state and in the preview: the base's manifest holds the token's password
    [credentials] = content.value["modulesContent"]["$edgeAgent"]["properties.desired"]["runtime"]["settings"]["registryCredentials"].values()
    assert credentials == {"address": found["fleet"].inputs["registryLoginServer"], "username": "edge-pull", "password": "p4ssw0rd-from-bootstrap"}
    assert not isinstance(found["fleet"].inputs["content"], Secret) and not isinstance(found["canary"].inputs["content"], Secret)
    assert found["base"].inputs["configurationId"] != edge_deployments(stacks["dev"])["base"].inputs["configurationId"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_registry_admits_the_sites_only_in_a_private_stack_with_edge_devices(stacks, environment):
    registry, cfg = stacks[environment].one(REGISTRY), load_stack_config(environment)
    inputs = registry.inputs
    if not cfg.network.private:  # dev: public, no network rules
        assert inputs["publicNetworkAccess"] == "Enabled" and "networkRuleSet" not in inputs
        return
    # staging and prod have edge devices (edge.targetCondition): public access from the sites' ranges only, the
    # private endpoint for the platform, dedicated data endpoints for the layers.
    assert cfg.edge.target_condition
    assert inputs["publicNetworkAccess"] == "Enabled"
    assert inputs["networkRuleSet"] == {
        "defaultAction": "Deny",
        "ipRules": [{"action": "Allow", "iPAddressOrRange": str(r)} for r in cfg.iot_hub.device_ip_ranges],
    }
    assert inputs["dataEndpointEnabled"] is True and inputs["networkRuleBypassOptions"] == "AzureServices"
    endpoints = [r for r in stacks[environment].of_type("azure-native:network:PrivateEndpoint") if r.name.startswith("registry-")]
    assert len(endpoints) == 1


def test_a_private_stack_without_edge_devices_keeps_its_registry_closed():
    record = run_with("staging", edge=json.dumps({"deployments": []}))
    inputs = record.one(REGISTRY).inputs
    assert inputs["publicNetworkAccess"] == "Disabled"
    assert "networkRuleSet" not in inputs and "dataEndpointEnabled" not in inputs
