"""The IoT Edge deployment resource (components/edge_deployments.py) at the HTTP boundary.

azure-iot-hub's IoTHubConfigurationManager, msrest and azure-identity run unchanged down to `requests`, where the wire
(tests/azure/wire.py) plays Entra ID and the hub's configurations API: each test asserts the method, URL, api-version,
headers (the bearer token Entra issued for the IoT Hub audience, If-Match) and body the real SDK sent.
"""

from __future__ import annotations

import copy

import pytest
from azure.identity import ClientAssertionCredential
from msrest.exceptions import HttpOperationError

from components.edge_deployments import (
    EDGE_DEPLOYMENT_KIND,
    IOT_HUB_AUDIENCE,
    EdgeDeploymentProvider,
    configuration_manager,
    create_deployment,
    delete_deployment,
    update_deployment,
)
from components.edge_manifest import ScoringRelease, configuration_id, layered_manifest
from tests.azure.wire import AzureWire, Reply

TENANT = "11111111-1111-1111-1111-111111111111"
CLIENT = "22222222-2222-2222-2222-222222222222"
TOKEN_PATH = f"/{TENANT}/oauth2/v2.0/token"
HUB = "iot-mlops-dev-weu.azure-devices.net"
API = "2021-04-12"
CONTENT = {"modulesContent": layered_manifest(ScoringRelease("cr.azurecr.io", "0.1.0", "predictive-maintenance", "3", "azureml://m/3"))}
ID = configuration_id("mlops-dev", "fleet", CONTENT)
PATH = f"/configurations/{ID}"
PROPS = {
    "kind": EDGE_DEPLOYMENT_KIND,
    "hubHostName": HUB,
    "configurationId": ID,
    "content": CONTENT,
    "targetCondition": "tags.environment='dev'",
    "priority": 10.0,  # the engine hands dynamic providers doubles
    "labels": {"mlops-stage": "fleet"},
    "stage": "fleet",
    "model": "predictive-maintenance:3",
}


def configuration(etag: str, **changes) -> dict:
    """A configuration as IoT Hub answers it (read-only fields included)."""
    body = {
        "id": ID, "schemaVersion": "1.0", "labels": {"mlops-stage": "fleet"}, "content": {"modulesContent": CONTENT["modulesContent"]},
        "targetCondition": "tags.environment='dev'", "priority": 10, "etag": etag, "createdTimeUtc": "2026-12-01T00:00:00Z",
        "lastUpdatedTimeUtc": "2026-12-01T00:00:00Z", "systemMetrics": {"results": {}, "queries": {}}, "metrics": {"results": {}, "queries": {}},
    }  # fmt: skip
    return {**body, **changes}


def error(status: int, code: str) -> Reply:
    return Reply(status, {"Message": f"ErrorCode:{code};", "ExceptionMessage": ""})


@pytest.fixture
def hub():
    """The wire for every `requests` call, Entra ID answering the client-credentials grant."""
    with AzureWire() as wire:
        wire.on("POST", TOKEN_PATH, Reply(200, {"token_type": "Bearer", "expires_in": 3599, "access_token": "iot-token"}))
        credential = ClientAssertionCredential(TENANT, CLIENT, lambda: "federated-assertion")
        yield wire, configuration_manager(HUB, credential)


def hub_calls(wire):
    return [c for c in wire.calls if c.host == HUB]


def test_create_puts_the_configuration_with_an_entra_token_for_iot_hub(hub):
    wire, manager = hub
    wire.on("PUT", PATH, Reply(201, configuration("e1")))

    assert create_deployment(PROPS, manager) == "e1"

    [sign_in] = [c for c in wire.calls if c.path == TOKEN_PATH]
    assert sign_in.form()["scope"] == f"{IOT_HUB_AUDIENCE}/.default"
    [put] = hub_calls(wire)
    assert (put.method, put.url.split("?")[0], put.api_version) == ("PUT", f"https://{HUB}{PATH}", API)
    assert put.headers["Authorization"] == "Bearer iot-token"
    assert "If-Match" not in put.headers  # a create carries no ETag
    assert put.json() == {
        "id": ID, "schemaVersion": "1.0", "labels": {"mlops-stage": "fleet"}, "content": CONTENT,
        "targetCondition": "tags.environment='dev'", "priority": 10,
    }  # fmt: skip
    assert wire.unrouted == []


def test_a_create_that_finds_its_own_configuration_adopts_it(hub):
    wire, manager = hub
    wire.on("PUT", PATH, error(409, "ConfigurationAlreadyExists"), Reply(200, configuration("e3")))
    wire.on("GET", PATH, Reply(200, configuration("e1")), Reply(200, configuration("e2")))

    assert create_deployment(PROPS, manager) == "e3"

    assert [(c.method, c.path) for c in hub_calls(wire)] == [("PUT", PATH), ("GET", PATH), ("GET", PATH), ("PUT", PATH)]
    assert hub_calls(wire)[-1].headers["If-Match"] == "e2"


def test_a_create_that_finds_other_content_fails_naming_the_id(hub):
    wire, manager = hub
    other = copy.deepcopy(CONTENT["modulesContent"])
    other["scorer"]["properties.desired"]["modelVersion"] = "2"
    wire.on("PUT", PATH, error(409, "ConfigurationAlreadyExists"))
    wire.on("GET", PATH, Reply(200, configuration("e1", content={"modulesContent": other})))

    with pytest.raises(RuntimeError, match=f"{ID} exists with other content"):
        create_deployment(PROPS, manager)
    assert [c.method for c in hub_calls(wire)] == ["PUT", "GET"]


def test_update_writes_the_mutable_fields_with_the_etag_and_retries_once_after_412(hub):
    wire, manager = hub
    moved = {**PROPS, "targetCondition": "tags.environment='dev' AND tags.site='a'", "priority": 15.0}
    wire.on("GET", PATH, Reply(200, configuration("e1")), Reply(200, configuration("e2")))
    wire.on("PUT", PATH, error(412, "PreconditionFailed"), Reply(200, configuration("e3", priority=15)))

    assert update_deployment(moved, manager) == "e3"

    puts = [c for c in hub_calls(wire) if c.method == "PUT"]
    assert [p.headers["If-Match"] for p in puts] == ["e1", "e2"]
    assert puts[-1].json()["targetCondition"] == "tags.environment='dev' AND tags.site='a'"
    assert puts[-1].json()["priority"] == 15 and puts[-1].json()["content"] == CONTENT  # the content as created
    assert all(p.headers["Authorization"] == "Bearer iot-token" for p in hub_calls(wire))


def test_a_second_412_fails(hub):
    wire, manager = hub
    wire.on("GET", PATH, Reply(200, configuration("e1")), Reply(200, configuration("e2")))
    wire.on("PUT", PATH, error(412, "PreconditionFailed"), error(412, "PreconditionFailed"))

    with pytest.raises(HttpOperationError):
        update_deployment(PROPS, manager)
    assert [c.method for c in hub_calls(wire)] == ["GET", "PUT", "GET", "PUT"]


@pytest.mark.parametrize(("status", "fails"), [(204, False), (404, False), (403, True)])
def test_delete_sends_any_etag_and_takes_a_configuration_already_gone(hub, status, fails):
    wire, manager = hub
    wire.on("DELETE", PATH, Reply(status, None) if status != 403 else error(403, "IotHubUnauthorizedAccess"))

    if fails:
        with pytest.raises(HttpOperationError):
            delete_deployment(PROPS, manager)
    else:
        delete_deployment(PROPS, manager)
    [delete] = hub_calls(wire)
    assert (delete.method, delete.api_version, delete.headers["If-Match"]) == ("DELETE", API, "*")
    assert delete.headers["Authorization"] == "Bearer iot-token"


def test_a_content_change_is_a_replace_and_a_condition_change_an_update():
    provider = EdgeDeploymentProvider()
    newer = {"modulesContent": layered_manifest(ScoringRelease("cr.azurecr.io", "0.1.0", "predictive-maintenance", "4", "azureml://m/4"))}
    replaced = {**PROPS, "content": newer, "configurationId": configuration_id("mlops-dev", "fleet", newer), "model": "predictive-maintenance:4"}
    diff = provider.diff("id", {**PROPS, "etag": "e1"}, replaced)
    assert diff.changes and sorted(diff.replaces) == ["configurationId", "content"] and diff.delete_before_replace is False
    moved = provider.diff("id", {**PROPS, "etag": "e1"}, {**PROPS, "priority": 12.0})
    assert moved.changes and moved.replaces == []
    assert not provider.diff("id", {**PROPS, "etag": "e1"}, dict(PROPS)).changes  # the ETag is state, not input
