"""The follow-up settings (components/arm_settings.py) at the HTTP boundary.

The real azure-core / azure-mgmt-core / azure-identity code runs; only the wire is fake (tests/azure/wire.py): an
azure-core transport answering scripted responses, or a local HTTPS server on 127.0.0.1 playing GitHub's OIDC
endpoint, Entra ID and Azure Resource Manager. The provider is driven through Pulumi's dynamic-provider servicer,
as the engine drives it (pickled provider, properties as protobuf Structs).
"""

from __future__ import annotations

import base64
import contextvars
import copy
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dill
import pulumi.dynamic
import pytest
from azure.core.exceptions import HttpResponseError
from azure.identity import ClientAssertionCredential, DefaultAzureCredential
from pulumi.dynamic import dynamic as pulumi_dynamic
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2
from pulumi.runtime.sync_await import _sync_await
from pulumi_azure_native.iothub import outputs as iot_outputs
from pulumi_azure_native.machinelearningservices import outputs as ml_outputs

from components import arm_settings
from components.arm_settings import (
    ARM_SCOPE,
    BATCH_DEFAULT_KIND,
    IOT_ROUTING_KIND,
    OIDC_AUDIENCE,
    TRAFFIC_KIND,
    ArmSetting,
    ArmSettingProvider,
    apply_setting,
    arm_client,
    github_oidc_assertion,
    platform_credential,
    revision,
)
from tests.azure.wire import AzureWire, Call, LocalHttps, Reply, WireTransport, self_signed_certificate

ARM_HOST = "management.azure.com"
ENTRA_HOST = "login.microsoftonline.com"
TENANT = "11111111-1111-1111-1111-111111111111"
CLIENT = "22222222-2222-2222-2222-222222222222"
TOKEN_PATH = f"/{TENANT}/oauth2/v2.0/token"
SUBSCRIPTION = "/subscriptions/33333333-3333-3333-3333-333333333333"
GROUP = f"{SUBSCRIPTION}/resourceGroups/mlops-dev-rg"
WORKSPACE_ID = f"{GROUP}/providers/Microsoft.MachineLearningServices/workspaces/mlops-dev-mlw"
ENDPOINT_ID = f"{WORKSPACE_ID}/onlineEndpoints/mlops-dev-ept"
BATCH_ID = f"{WORKSPACE_ID}/batchEndpoints/mlops-dev-bep"
HUB_ID = f"{GROUP}/providers/Microsoft.Devices/IotHubs/mlops-dev-iot"
ML_OPERATIONS = f"{SUBSCRIPTION}/providers/Microsoft.MachineLearningServices/locations/westeurope"
ML_API, IOT_API = "2025-12-01", "2023-06-30"
# The GitHub runner's OIDC endpoint (ACTIONS_ID_TOKEN_REQUEST_URL already carries an api-version).
OIDC_PATH = "/00000000-0000-0000-0000-000000000000/_apis/distributedtask/hubs/Actions/plans/p/jobs/j/idtoken"
REQUEST_TOKEN = "runtime-request-token"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CREDENTIAL_ENV = (
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "ARM_CLIENT_ID",
    "ARM_TENANT_ID",
    "AZURE_AUTHORITY_HOST",
    "AZURE_CLIENT_SECRET",
    "AZURE_FEDERATED_TOKEN_FILE",
)


@pytest.fixture(autouse=True)
def no_ambient_credentials(monkeypatch):
    """Runs on CI runners must not pick up the runner's own identity."""
    for name in CREDENTIAL_ENV:
        monkeypatch.delenv(name, raising=False)


def token(value: str) -> Reply:
    return Reply(200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": value})


def arm_error(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"error": {"code": code, "message": message}})


def endpoint_body(traffic: dict[str, int], mirror: dict[str, int], state: str = "Succeeded") -> dict[str, Any]:
    """An online endpoint as Azure ML's GET returns it (read-only fields and nulls included)."""
    return {
        "id": ENDPOINT_ID,
        "name": "mlops-dev-ept",
        "type": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
        "location": "westeurope",
        "kind": "Managed",
        "tags": {"environment": "dev"},
        "identity": {"type": "UserAssigned", "userAssignedIdentities": {f"{GROUP}/providers/x/id": {"clientId": "c"}}},
        "properties": {
            "authMode": "AADToken",
            "publicNetworkAccess": "Disabled",
            "description": None,
            "keys": None,
            "provisioningState": state,
            "scoringUri": "https://mlops-dev-ept.westeurope.inference.ml.azure.com/score",
            "traffic": traffic,
            "mirrorTraffic": mirror,
        },
        "systemData": {"createdBy": "deployer", "lastModifiedAt": "2026-01-01T00:00:00Z"},
    }


def batch_body(defaults: Any) -> dict[str, Any]:
    properties = {"authMode": "AADToken", "provisioningState": "Succeeded", "scoringUri": "https://b/jobs"}
    if defaults != "absent":
        properties["defaults"] = defaults
    return {"id": BATCH_ID, "name": "mlops-dev-bep", "location": "westeurope", "tags": {}, "properties": properties}


def hub_body(routing: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": HUB_ID,
        "name": "mlops-dev-iot",
        "type": "Microsoft.Devices/IotHubs",
        "location": "westeurope",
        "etag": "AAAAAAFD6M4=",
        "sku": {"name": "S1", "tier": "Standard", "capacity": 1},
        "identity": {"type": "SystemAssigned", "principalId": "p", "tenantId": TENANT},
        "properties": {
            "minTlsVersion": "1.2",
            "disableLocalAuth": True,
            "ipFilterRules": [{"filterName": "field", "action": "Accept", "ipMask": "0.0.0.0/0"}],
            "eventHubEndpoints": {"events": {"retentionTimeInDays": 1, "partitionCount": 4}},
            "routing": routing,
            "state": "Active",
            "provisioningState": "Succeeded",
            "hostName": "mlops-dev-iot.azure-devices.net",
        },
    }


ROUTING = {
    "endpoints": {
        "eventHubs": [
            {"name": "telemetry-eventhub", "authenticationType": "identityBased", "entityPath": "telemetry"}
        ],
        "storageContainers": [
            {"name": "raw-lake", "containerName": "raw", "authenticationType": "identityBased", "batchFrequencyInSeconds": 300}
        ],
    },
    "routes": [{"name": "telemetry-to-eventhubs", "source": "DeviceMessages", "endpointNames": ["telemetry-eventhub"]}],
    "fallbackRoute": {"name": "$fallback", "source": "DeviceMessages", "endpointNames": ["events"], "isEnabled": True},
}
TRAFFIC = {"traffic": {"blue": 90, "green": 10}, "mirrorTraffic": {"green": 20}}
# What the ArmSetting resource sends: the kind's values plus descriptive inputs and the revision, none of which
# belong in the ARM body.
TRAFFIC_PROPS = {
    "kind": TRAFFIC_KIND,
    "resourceId": ENDPOINT_ID,
    **TRAFFIC,
    "endpointName": "mlops-dev-ept",
    "deployments": ["blue", "green"],
    "revision": "0123456789abcdef",
}
BATCH_PROPS = {"kind": BATCH_DEFAULT_KIND, "resourceId": BATCH_ID, "deploymentName": "green", "revision": "r1"}
HUB_PROPS = {"kind": IOT_ROUTING_KIND, "resourceId": HUB_ID, "routing": ROUTING, "revision": "r1"}


def with_properties(body: dict[str, Any], **properties: Any) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    changed["properties"].update(properties)
    return changed


@dataclass
class Arm:
    wire: AzureWire
    transport: WireTransport
    client: Any

    def calls(self) -> list[Call]:
        return self.wire.requests_to(ARM_HOST)

    def route(self) -> list[tuple[str, str]]:
        return [(seen.method, seen.path) for seen in self.calls()]


@pytest.fixture
def arm() -> Arm:
    """arm_client() over the wire, signed in by a real ClientAssertionCredential whose token comes from the wire."""
    wire = AzureWire().on("POST", TOKEN_PATH, token("arm-token"))
    transport = WireTransport(wire)
    credential = ClientAssertionCredential(TENANT, CLIENT, lambda: "federated-assertion", transport=transport)
    return Arm(wire, transport, arm_client(credential, transport=transport))


# --- apply_setting: the requests it makes ---------------------------------------------------------------------


def test_traffic_is_written_into_the_endpoint_and_the_async_operation_polled_to_success(arm):
    before = endpoint_body({"blue": 100}, {})
    after = endpoint_body(TRAFFIC["traffic"], TRAFFIC["mirrorTraffic"])
    operation = f"{ML_OPERATIONS}/mfeOperationsStatus/op-1"
    status_url = f"https://{ARM_HOST}{operation}?api-version={ML_API}"
    arm.wire.on("GET", ENDPOINT_ID, Reply(200, before), Reply(200, after))
    updating = with_properties(before, provisioningState="Updating")
    arm.wire.on("PUT", ENDPOINT_ID, Reply(201, updating, {"Azure-AsyncOperation": status_url}))
    arm.wire.on(
        "GET",
        operation,
        Reply(200, {"status": "InProgress"}, {"Retry-After": "2"}),
        Reply(200, {"status": "InProgress"}),
        Reply(200, {"status": "Succeeded"}),
    )

    result = apply_setting(TRAFFIC_PROPS, arm.client)

    assert result == after
    assert arm.route() == [
        ("GET", ENDPOINT_ID),
        ("PUT", ENDPOINT_ID),
        ("GET", operation),
        ("GET", operation),
        ("GET", operation),
        ("GET", ENDPOINT_ID),  # the final GET of the PUT's URL
    ]
    calls = arm.calls()
    assert [seen.query["api-version"] for seen in calls] == [ML_API] * 6
    assert {seen.headers["authorization"] for seen in calls} == {"Bearer arm-token"}
    put = calls[1]
    assert put.json() == with_properties(before, **TRAFFIC)  # only the managed keys changed
    assert put.headers["content-type"] == "application/json"
    assert "if-match" not in put.headers  # Azure ML returns no etag
    [sign_in] = arm.wire.requests_to(ENTRA_HOST)
    assert sign_in.path == TOKEN_PATH and sign_in.form()["scope"] == ARM_SCOPE
    # Polls wait as Azure asks (Retry-After), and never spin when it does not say.
    assert len(arm.transport.sleeps) == 2 and arm.transport.sleeps[0] == 2
    assert arm.transport.sleeps[1] >= 1


@pytest.mark.parametrize("defaults", ["absent", None, {"deploymentName": "blue"}], ids=["absent", "null", "set"])
def test_batch_default_is_set_and_the_location_polled_to_the_resource(arm, defaults):
    before = batch_body(defaults)
    after = copy.deepcopy(before)
    after["properties"]["defaults"] = {"deploymentName": "green"}
    operation = f"{ML_OPERATIONS}/mfeOperationResults/op-2"
    location = {"Location": f"https://{ARM_HOST}{operation}?api-version={ML_API}"}
    arm.wire.on("GET", BATCH_ID, Reply(200, before))
    arm.wire.on("PUT", BATCH_ID, Reply(202, None, location))
    arm.wire.on("GET", operation, Reply(202, None, location), Reply(200, after))

    result = apply_setting(BATCH_PROPS, arm.client)

    assert result == after
    assert arm.route() == [("GET", BATCH_ID), ("PUT", BATCH_ID), ("GET", operation), ("GET", operation)]
    assert all(seen.query["api-version"] == ML_API for seen in arm.calls())
    assert arm.calls()[1].json() == after


def test_iot_hub_routing_is_put_with_the_hubs_etag(arm):
    before = hub_body({"endpoints": {}, "routes": [], "fallbackRoute": ROUTING["fallbackRoute"]})
    after = with_properties(before, routing=ROUTING)
    operation = f"{HUB_ID}/operationResults/b3NfaWhfMQ=="
    status_url = f"https://{ARM_HOST}{operation}?api-version={IOT_API}&operationSource=os_ih"
    arm.wire.on("GET", HUB_ID, Reply(200, before), Reply(200, after))
    accepted = with_properties(before, provisioningState="Accepted")
    arm.wire.on("PUT", HUB_ID, Reply(201, accepted, {"Azure-AsyncOperation": status_url}))
    arm.wire.on("GET", operation, Reply(200, {"status": "Running"}), Reply(200, {"status": "Succeeded"}))

    assert apply_setting(HUB_PROPS, arm.client) == after

    assert arm.route() == [("GET", HUB_ID), ("PUT", HUB_ID), ("GET", operation), ("GET", operation), ("GET", HUB_ID)]
    assert [seen.query["api-version"] for seen in arm.calls()] == [IOT_API] * 5
    put = arm.calls()[1]
    assert put.headers["if-match"] == "AAAAAAFD6M4="
    assert put.json() == after  # etag, sku, identity, IP filter and the built-in endpoint kept


# --- apply_setting: failures surface, naming the resource -----------------------------------------------------


def test_a_missing_resource_fails_the_get_and_nothing_is_put(arm):
    arm.wire.on("GET", ENDPOINT_ID, arm_error(404, "UserError", "Could not find the requested online endpoint."))

    with pytest.raises(HttpResponseError) as failure:
        apply_setting(TRAFFIC_PROPS, arm.client)

    assert failure.value.status_code == 404
    assert ENDPOINT_ID in failure.value.message and "UserError" in failure.value.message
    assert arm.route() == [("GET", ENDPOINT_ID)]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"[]", "application/json"), (b"null", "application/json"), (b"<html>gateway</html>", "text/html")],
    ids=["list", "null", "html"],
)
def test_a_get_that_is_not_a_resource_fails_clearly_and_nothing_is_put(arm, body, content_type):
    arm.wire.on("GET", ENDPOINT_ID, Reply(200, body, {"Content-Type": content_type}))

    with pytest.raises(HttpResponseError, match="JSON object") as failure:
        apply_setting(TRAFFIC_PROPS, arm.client)

    assert ENDPOINT_ID in failure.value.message
    assert arm.route() == [("GET", ENDPOINT_ID)]


@pytest.mark.parametrize(
    ("props", "body", "status", "code"),
    [
        (TRAFFIC_PROPS, endpoint_body({"blue": 100}, {}), 409, "Conflict"),
        (HUB_PROPS, hub_body({}), 412, "PreconditionFailed"),  # the hub changed since the GET: etag mismatch
    ],
    ids=["conflict", "etag-mismatch"],
)
def test_a_refused_put_surfaces_once_and_is_not_polled(arm, props, body, status, code):
    resource_id = props["resourceId"]
    arm.wire.on("GET", resource_id, Reply(200, body))
    arm.wire.on("PUT", resource_id, arm_error(status, code, "The request was refused."))

    with pytest.raises(HttpResponseError) as failure:
        apply_setting(props, arm.client)

    assert failure.value.status_code == status
    assert resource_id in failure.value.message and code in failure.value.message
    assert arm.route() == [("GET", resource_id), ("PUT", resource_id)]


def test_a_failed_async_operation_raises_naming_the_resource_and_azures_reason(arm):
    operation = f"{ML_OPERATIONS}/mfeOperationsStatus/op-3"
    before = endpoint_body({"blue": 100}, {})
    arm.wire.on("GET", ENDPOINT_ID, Reply(200, before))
    status_url = f"https://{ARM_HOST}{operation}?api-version={ML_API}"
    arm.wire.on("PUT", ENDPOINT_ID, Reply(201, before, {"Azure-AsyncOperation": status_url}))
    failed = {"status": "Failed", "error": {"code": "BadArgument", "message": "Deployment 'green' does not exist."}}
    arm.wire.on("GET", operation, Reply(200, {"status": "InProgress"}), Reply(200, failed))

    with pytest.raises(HttpResponseError) as failure:
        apply_setting(TRAFFIC_PROPS, arm.client)

    message = failure.value.message
    assert ENDPOINT_ID in message and "BadArgument" in message and "'green' does not exist" in message
    assert arm.route() == [("GET", ENDPOINT_ID), ("PUT", ENDPOINT_ID), ("GET", operation), ("GET", operation)]


def test_a_resource_whose_provisioning_fails_raises_naming_it(arm):
    before = hub_body({})
    arm.wire.on("GET", HUB_ID, Reply(200, before), Reply(200, with_properties(before, provisioningState="Failed")))
    arm.wire.on("PUT", HUB_ID, Reply(201, with_properties(before, provisioningState="Updating")))  # polled by its body

    with pytest.raises(HttpResponseError) as failure:
        apply_setting(HUB_PROPS, arm.client)

    assert HUB_ID in failure.value.message and "Failed" in failure.value.message
    assert arm.route() == [("GET", HUB_ID), ("PUT", HUB_ID), ("GET", HUB_ID)]


# --- the credential: GitHub OIDC -> Entra ID, else DefaultAzureCredential --------------------------------------


@pytest.fixture(scope="session")
def certificate(tmp_path_factory):
    return self_signed_certificate(tmp_path_factory.mktemp("wire"))


@pytest.fixture
def local_azure(monkeypatch, certificate):
    """A local HTTPS server playing GitHub's OIDC endpoint and Entra ID, reached through the workflow's
    environment as in GitHub Actions (the Azure login action's variable names)."""
    wire = AzureWire()
    with LocalHttps(wire, certificate) as server:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate[0]))
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.setenv(name, "127.0.0.1")
        monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", f"{server.url}{OIDC_PATH}?api-version=2.0")
        monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", REQUEST_TOKEN)
        monkeypatch.setenv("AZURE_CLIENT_ID", CLIENT)
        monkeypatch.setenv("AZURE_TENANT_ID", TENANT)
        monkeypatch.setenv("AZURE_AUTHORITY_HOST", server.url)
        yield wire, server


def test_github_oidc_assertion_asks_for_the_entra_audience_with_the_request_token(local_azure):
    wire, _server = local_azure
    wire.on("GET", OIDC_PATH, Reply(200, {"count": 1, "value": "github-oidc-jwt"}))

    assert github_oidc_assertion() == "github-oidc-jwt"

    [request] = wire.calls
    assert request.method == "GET" and request.path == OIDC_PATH
    assert request.query == {"api-version": "2.0", "audience": OIDC_AUDIENCE}
    assert OIDC_AUDIENCE == "api://AzureADTokenExchange"
    assert request.headers["authorization"] == f"bearer {REQUEST_TOKEN}"


def test_github_oidc_refusal_surfaces(local_azure):
    wire, _server = local_azure
    wire.on("GET", OIDC_PATH, Reply(403, {"message": "Resource not accessible by integration"}))

    with pytest.raises(HttpResponseError) as failure:
        github_oidc_assertion()

    assert failure.value.status_code == 403


@pytest.mark.parametrize("prefix", ["AZURE", "ARM"])
def test_platform_credential_in_a_workflow_trades_a_fresh_github_token_for_each_token(local_azure, monkeypatch, prefix):
    wire, _server = local_azure
    if prefix == "ARM":  # the names Terraform and Pulumi's own Azure login use
        for name, value in (("CLIENT_ID", CLIENT), ("TENANT_ID", TENANT)):
            monkeypatch.delenv(f"AZURE_{name}")
            monkeypatch.setenv(f"ARM_{name}", value)
    wire.on("GET", OIDC_PATH, Reply(200, {"value": "github-jwt-1"}), Reply(200, {"value": "github-jwt-2"}))
    wire.on("POST", TOKEN_PATH, token("arm-token"), token("ml-token"))

    credential = platform_credential()

    assert isinstance(credential, ClientAssertionCredential)
    assert credential.get_token(ARM_SCOPE).token == "arm-token"
    assert credential.get_token("https://ml.azure.com/.default").token == "ml-token"
    assert [(seen.method, seen.path) for seen in wire.calls] == [("GET", OIDC_PATH), ("POST", TOKEN_PATH)] * 2
    exchanges = [seen.form() for seen in wire.calls if seen.path == TOKEN_PATH]
    assert [form["client_assertion"] for form in exchanges] == ["github-jwt-1", "github-jwt-2"]
    assert {form["client_assertion_type"] for form in exchanges} == {JWT_BEARER}
    assert {form["client_id"] for form in exchanges} == {CLIENT}
    assert [form["scope"] for form in exchanges] == [ARM_SCOPE, "https://ml.azure.com/.default"]


@pytest.mark.parametrize(
    "missing", ["ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "AZURE_CLIENT_ID", "AZURE_TENANT_ID"]
)
def test_platform_credential_outside_a_federated_workflow_is_the_default_chain(local_azure, monkeypatch, missing):
    wire, _server = local_azure
    monkeypatch.delenv(missing)

    assert isinstance(platform_credential(), DefaultAzureCredential)
    assert wire.calls == []


# --- the provider, driven as the engine drives it ---------------------------------------------------------------


class _GrpcContext:
    def abort(self, code, details):
        raise AssertionError(f"{code}: {details}")


def struct(props: dict[str, Any]):
    """Properties as the engine sends them: with the pickled provider, as a protobuf Struct (numbers as doubles)."""
    provider = pulumi_dynamic.serialize_provider(ArmSettingProvider())
    return _sync_await(rpc.serialize_properties({**props, "__provider": provider}, {}))


def _dynamic_provider_servicer() -> type:
    """Pulumi's dynamic-provider servicer, the code behind `python -m pulumi.dynamic` that the engine starts. That
    module ends with an unconditional `main()` (a gRPC server waiting forever), so it is loaded without that call."""
    path = Path(pulumi.dynamic.__file__).with_name("__main__.py")
    source, call, rest = path.read_text().rpartition("\nmain()")
    assert call and not rest.strip(), f"{path} no longer ends by calling main()"
    module = types.ModuleType("pulumi_dynamic_servicer")
    module.__file__, module.__package__ = str(path), "pulumi.dynamic"
    exec(compile(source, str(path), "exec"), module.__dict__)
    return module.DynamicResourceProviderServicer


DynamicResourceProviderServicer = _dynamic_provider_servicer()


def engine(method: str, request) -> Any:
    """One call of the servicer, in a copy of the context (it reconfigures the runtime's settings)."""
    servicer = DynamicResourceProviderServicer()
    return contextvars.copy_context().run(getattr(servicer, method), request, _GrpcContext())


@pytest.fixture
def local_arm(local_azure, monkeypatch):
    """The local server also plays Azure Resource Manager; the provider reaches it with its own client."""
    wire, server = local_azure
    monkeypatch.setattr(arm_settings, "ARM_ENDPOINT", server.url)
    wire.on("GET", OIDC_PATH, Reply(200, {"value": "github-jwt"}))
    wire.on("POST", TOKEN_PATH, token("arm-token"))
    return wire


URN = "urn:pulumi:dev::mlops-platform::mlops:serving:OnlineServing$pulumi-python:dynamic:Resource::serving-traffic"


def test_create_signs_in_through_github_and_writes_the_setting(local_arm):
    before = endpoint_body({"blue": 100}, {})
    after = with_properties(before, **TRAFFIC)
    local_arm.on("GET", ENDPOINT_ID, Reply(200, before)).on("PUT", ENDPOINT_ID, Reply(200, after))

    created = engine("Create", provider_pb2.CreateRequest(urn=URN, properties=struct(TRAFFIC_PROPS)))

    assert created.id == f"{ENDPOINT_ID}#{TRAFFIC_KIND}"
    outs = rpc.deserialize_properties(created.properties)
    assert {key: outs[key] for key in TRAFFIC_PROPS} == TRAFFIC_PROPS
    assert [(seen.method, seen.path) for seen in local_arm.calls] == [
        ("GET", OIDC_PATH),
        ("POST", TOKEN_PATH),
        ("GET", ENDPOINT_ID),
        ("PUT", ENDPOINT_ID),
    ]
    get, put = local_arm.calls[2:]
    assert get.headers["authorization"] == put.headers["authorization"] == "Bearer arm-token"
    assert put.query == {"api-version": ML_API}
    assert put.json() == after
    # The engine delivers numbers as doubles; Azure ML's traffic percentages are integers.
    assert all(type(value) is int for value in put.json()["properties"]["traffic"].values())


def test_update_writes_the_new_values(local_arm):
    before = endpoint_body(TRAFFIC["traffic"], TRAFFIC["mirrorTraffic"])
    news = {**TRAFFIC_PROPS, "traffic": {"green": 100}, "mirrorTraffic": {}}
    after = with_properties(before, traffic={"green": 100}, mirrorTraffic={})
    local_arm.on("GET", ENDPOINT_ID, Reply(200, before)).on("PUT", ENDPOINT_ID, Reply(200, after))

    updated = engine(
        "Update",
        provider_pb2.UpdateRequest(
            id=f"{ENDPOINT_ID}#{TRAFFIC_KIND}", urn=URN, olds=struct(TRAFFIC_PROPS), news=struct(news)
        ),
    )

    assert rpc.deserialize_properties(updated.properties)["traffic"] == {"green": 100}
    [put] = [seen for seen in local_arm.calls if seen.method == "PUT"]
    assert put.json() == after


def test_delete_leaves_the_resource_alone(local_arm):
    engine("Delete", provider_pb2.DeleteRequest(id=f"{HUB_ID}#{IOT_ROUTING_KIND}", urn=URN, properties=struct(HUB_PROPS)))

    assert local_arm.calls == []


@pytest.mark.parametrize(
    ("change", "changes", "replaces"),
    [
        ({}, False, []),
        ({"traffic": {"blue": 100}}, True, []),
        ({"mirrorTraffic": {}}, True, []),
        ({"revision": "fedcba9876543210"}, True, []),
        ({"deployments": ["blue"]}, True, []),
        ({"resourceId": f"{WORKSPACE_ID}/onlineEndpoints/other"}, True, ["resourceId"]),
        ({"kind": BATCH_DEFAULT_KIND}, True, ["kind"]),
    ],
    ids=["same", "traffic", "mirror", "revision", "described", "resource", "kind"],
)
def test_diff_replaces_on_identity_and_updates_on_values(change, changes, replaces):
    request = provider_pb2.DiffRequest(
        id=f"{ENDPOINT_ID}#{TRAFFIC_KIND}", urn=URN, olds=struct(TRAFFIC_PROPS), news=struct({**TRAFFIC_PROPS, **change})
    )

    diff = engine("Diff", request)

    expected = provider_pb2.DiffResponse.DIFF_SOME if changes else provider_pb2.DiffResponse.DIFF_NONE
    assert diff.changes == expected
    assert list(diff.replaces) == replaces
    assert diff.deleteBeforeReplace is False


def test_the_provider_pickles_by_reference():
    provider = ArmSettingProvider()

    pickled = dill.dumps(provider)
    as_pulumi_does = dill.loads(base64.b64decode(pulumi_dynamic.serialize_provider(provider)))

    assert type(dill.loads(pickled)) is ArmSettingProvider
    assert type(as_pulumi_does) is ArmSettingProvider
    assert b"components.arm_settings" in pickled and b"apply_setting" not in pickled  # a reference, not the code


def test_a_setting_takes_exactly_its_kinds_values():
    with pytest.raises(ValueError, match="mlops:endpoint-traffic takes \\['mirrorTraffic', 'traffic'\\]"):
        ArmSetting("t", TRAFFIC_KIND, ENDPOINT_ID, {"traffic": {"blue": 100}}, "r")


# --- revision: a digest of what the resource holds besides the setting -----------------------------------------


TRAFFIC_KEYS = ("traffic", "mirrorTraffic")  # as components/serving.py names them


def resolved(output) -> str:
    return _sync_await(output.future())


def online_endpoint(traffic=None, mirror=None, auth_mode="AADToken"):
    return ml_outputs.OnlineEndpointPropertiesResponse(
        auth_mode=auth_mode,
        provisioning_state="Succeeded",
        scoring_uri="s",
        swagger_uri="w",
        traffic=traffic,
        mirror_traffic=mirror,
    )


def batch_endpoint(deployment=None, auth_mode="AADToken"):
    defaults = ml_outputs.BatchEndpointDefaultsResponse(deployment_name=deployment)
    return ml_outputs.BatchEndpointPropertiesResponse(
        auth_mode=auth_mode, provisioning_state="Succeeded", scoring_uri="s", swagger_uri="w", defaults=defaults
    )


def iot_hub(routes=(), tls="1.2"):
    routing = iot_outputs.RoutingPropertiesResponse(routes=list(routes))
    return iot_outputs.IotHubPropertiesResponse(
        host_name="h", locations=[], provisioning_state="Succeeded", state="Active", min_tls_version=tls, routing=routing
    )


@pytest.mark.parametrize(
    ("build", "managed", "set_values", "other"),
    [
        # The components' calls, on the output types azure-native resolves `properties` to (snake_case keys).
        (online_endpoint, TRAFFIC_KEYS, {"traffic": {"blue": 90}, "mirror": {"blue": 10}}, {"auth_mode": "Key"}),
        (batch_endpoint, ("defaults",), {"deployment": "green"}, {"auth_mode": "Key"}),
        (iot_hub, ("routing",), {"routes": [{"name": "r"}]}, {"tls": "1.0"}),
    ],
    ids=["traffic", "batch-default", "iot-routing"],
)
def test_revision_ignores_the_managed_keys_and_follows_the_rest(build, managed, set_values, other):
    unset = resolved(revision(build(), *managed))

    assert resolved(revision(build(**set_values), *managed)) == unset
    assert resolved(revision(build(**other), *managed)) != unset
    assert resolved(revision(build(**set_values), *managed[:0])) != unset  # they do count when not managed


def test_revision_of_plain_inputs():
    without = resolved(revision({"authMode": "Key"}, "traffic"))
    assert resolved(revision({"authMode": "Key", "traffic": {"blue": 1}}, "traffic")) == without
    assert resolved(revision({"authMode": "AADToken"}, "traffic")) != without


# --- put_child: the Data Factory managed virtual network ------------------------------------------------------------

FACTORY_VNET_ID = f"{GROUP}/providers/Microsoft.DataFactory/factories/adf-mlops-dev-weu-1a2b/managedVirtualNetworks/default"


def test_the_factory_managed_network_is_put_once_with_its_api_version(arm):
    from components.arm_settings import ADF_MANAGED_VNET_KIND, put_child

    body = {"id": FACTORY_VNET_ID, "name": "default", "properties": {"vNetId": "4a1f", "alias": "adf-mlops"}}
    arm.wire.on("PUT", FACTORY_VNET_ID, Reply(200, body))
    result = put_child({"kind": ADF_MANAGED_VNET_KIND, "resourceId": FACTORY_VNET_ID, "body": {"properties": {}}}, arm.client)
    assert result == body
    [put] = arm.calls()
    assert (put.method, put.path, put.query["api-version"]) == ("PUT", FACTORY_VNET_ID, "2018-06-01")
    assert put.json() == {"properties": {}} and put.headers["authorization"] == "Bearer arm-token"


def test_a_refused_managed_network_names_the_resource(arm):
    from components.arm_settings import ADF_MANAGED_VNET_KIND, put_child

    arm.wire.on("PUT", FACTORY_VNET_ID, Reply(403, {"error": {"code": "AuthorizationFailed", "message": "no write"}}))
    with pytest.raises(HttpResponseError, match=f"PUT {FACTORY_VNET_ID} failed \\(403\\)"):
        put_child({"kind": ADF_MANAGED_VNET_KIND, "resourceId": FACTORY_VNET_ID, "body": {"properties": {}}}, arm.client)
