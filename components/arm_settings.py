"""Follow-up settings: dynamic resources that set one property of an Azure resource after what it names exists.

Some settings cannot be written when their resource is created, because they name things created later or need
grants that exist only after it:
- an online endpoint's traffic split (`properties.traffic`, `mirrorTraffic`) may name only deployments that
  exist, and the deployments need the endpoint (azure-native has no traffic resource);
- a batch endpoint's default deployment (`properties.defaults.deploymentName`), likewise;
- an IoT Hub's routing (`properties.routing`): endpoints authenticate with the hub's system-assigned identity,
  which exists only after the hub and must hold its data roles first (trusted-service access requires the
  system-assigned identity: IoT Hub virtual network support, Event Hubs private link docs).

So the resource itself ignores the property and one of these, created after everything it names, reads the
resource from Azure Resource Manager, sets the property and writes it back (IoT Hub: with the ETag, as its API
requires). Each carries a `revision` of its resource's other inputs: a later update of the resource (a PUT
without the property may reset it) changes the revision, and the setting is written again in the same `up`.

They register as `pulumi-python:dynamic:Resource` with a marker input `kind` (TRAFFIC_KIND, ...) that policies
and the preview recognise; the provider lives in this importable module, so it pickles by reference.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi import dynamic

ARM_ENDPOINT = "https://management.azure.com"
ARM_SCOPE = "https://management.azure.com/.default"
TRAFFIC_KIND = "mlops:endpoint-traffic"
BATCH_DEFAULT_KIND = "mlops:batch-default-deployment"
IOT_ROUTING_KIND = "mlops:iothub-routing"
# GitHub Actions OIDC (how workflows sign in): a fresh assertion per token, so long runs outlive the 10-minute
# OIDC token that the Azure CLI credential cannot renew (Azure/azure-cli#28708).
GITHUB_OIDC_URL, GITHUB_OIDC_TOKEN = "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
OIDC_AUDIENCE = "api://AzureADTokenExchange"
# Seconds between polls of a long-running operation when Azure's answer has no Retry-After (which is honoured).
POLL_INTERVAL = 10


@dataclass(frozen=True)
class SettingKind:
    """One kind of follow-up setting: the REST API version of its resource type and where each input goes."""

    api_version: str
    paths: Mapping[str, tuple[str, ...]]  # input key -> path in the resource's ARM body


KINDS: dict[str, SettingKind] = {
    TRAFFIC_KIND: SettingKind(
        "2025-12-01", {"traffic": ("properties", "traffic"), "mirrorTraffic": ("properties", "mirrorTraffic")}
    ),
    BATCH_DEFAULT_KIND: SettingKind("2025-12-01", {"deploymentName": ("properties", "defaults", "deploymentName")}),
    IOT_ROUTING_KIND: SettingKind("2023-06-30", {"routing": ("properties", "routing")}),
}
IDENTITY_KEYS = ("kind", "resourceId")  # a change of these is a new setting (replace)


def revision(properties: pulumi.Input[Any], *managed: str, also: Sequence[pulumi.Input[Any]] = ()) -> pulumi.Output[str]:
    """A digest of a resource's properties without the keys a setting manages (which Azure echoes back), and of
    `also` (its tags, its ETag): whatever changes when the resource is written again. `managed` names the keys as
    ARM does (camelCase); a resource's `properties` output resolves to an azure-native output type whose keys are
    snake_case (`mirror_traffic`), so both spellings are left out."""
    ignored = set(managed) | {re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key).lower() for key in managed}

    def digest(values: list[Any]) -> str:
        value, *rest = values
        value = {k: v for k, v in value.items() if k not in ignored} if isinstance(value, dict) else value
        return hashlib.sha256(json.dumps([value, *rest], sort_keys=True, default=str).encode()).hexdigest()[:16]

    return pulumi.Output.all(properties, *also).apply(digest)


def github_oidc_assertion() -> str:
    """The workflow's OIDC token for Entra ID workload identity federation, fetched fresh each time."""
    from azure.core.pipeline.transport import RequestsTransport
    from azure.core.rest import HttpRequest

    request = HttpRequest(
        "GET",
        os.environ[GITHUB_OIDC_URL],
        params={"audience": OIDC_AUDIENCE},
        headers={"Authorization": f"bearer {os.environ[GITHUB_OIDC_TOKEN]}", "Accept": "application/json"},
    )
    with RequestsTransport() as transport:
        response = transport.send(request)
        response.raise_for_status()
        return response.json()["value"]


def platform_credential():
    """GitHub Actions OIDC when running in a workflow with a federated identity, else DefaultAzureCredential."""
    from azure.identity import ClientAssertionCredential, DefaultAzureCredential

    client_id = os.environ.get("AZURE_CLIENT_ID") or os.environ.get("ARM_CLIENT_ID")
    tenant_id = os.environ.get("AZURE_TENANT_ID") or os.environ.get("ARM_TENANT_ID")
    if os.environ.get(GITHUB_OIDC_URL) and os.environ.get(GITHUB_OIDC_TOKEN) and client_id and tenant_id:
        return ClientAssertionCredential(tenant_id, client_id, github_oidc_assertion)
    return DefaultAzureCredential()


def arm_client(credential=None, **kwargs: Any):
    """An Azure Resource Manager pipeline: bearer auth (with ARM's claims challenges), retries, logging."""
    from azure.core.configuration import Configuration
    from azure.core.pipeline import policies
    from azure.mgmt.core import ARMPipelineClient
    from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy, ARMHttpLoggingPolicy

    config = Configuration(**kwargs)
    config.authentication_policy = ARMChallengeAuthenticationPolicy(credential or platform_credential(), ARM_SCOPE)
    config.retry_policy = policies.RetryPolicy(**kwargs)
    config.logging_policy = policies.NetworkTraceLoggingPolicy(**kwargs)
    config.http_logging_policy = ARMHttpLoggingPolicy(**kwargs)
    config.user_agent_policy = policies.UserAgentPolicy(sdk_moniker="mlops-platform", **kwargs)
    return ARMPipelineClient(base_url=ARM_ENDPOINT, config=config, **kwargs)


def _whole_numbers(value: Any) -> Any:
    """The engine hands a dynamic provider its numbers as doubles (protobuf Struct values): 90.0 where the program
    wrote 90. ARM's integer fields (traffic percentages, IoT Hub batch frequencies) take integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(item) for item in value]
    return value


def _set(body: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        if not isinstance(body.get(key), dict):  # absent, or null as Azure ML returns unset objects
            body[key] = {}
        body = body[key]
    body[path[-1]] = value


def _failure(what: str, response: Any):
    """An HttpResponseError whose message says what failed on which resource. azure-core replaces any message it is
    given with the ARM error in the body ("(Conflict) ..."), which names neither, so the prefix is added after."""
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.core.exceptions import ARMErrorFormat

    error = HttpResponseError(message=what, response=response, error_format=ARMErrorFormat)
    if error.message != what:
        error.message = f"{what}: {error.message}"
        error.args = (error.message,)
    return error


def apply_setting(props: Mapping[str, Any], client=None) -> dict[str, Any]:
    """GET the resource, set the kind's properties from `props`, PUT it back and wait; returns the final body.
    Raises HttpResponseError naming the resource when a call is refused or the operation fails."""
    from azure.core.rest import HttpRequest

    kind = KINDS[props["kind"]]
    resource_id = props["resourceId"]
    client = client or arm_client()
    current = client.send_request(HttpRequest("GET", f"{ARM_ENDPOINT}{resource_id}", params={"api-version": kind.api_version}))
    if current.status_code != 200:
        raise _failure(f"GET {resource_id} failed ({current.status_code})", current)
    try:
        body = current.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise _failure(f"GET {resource_id} did not return the resource as a JSON object", current)
    for key, path in kind.paths.items():
        _set(body, path, _whole_numbers(props[key]))
    headers = {"Content-Type": "application/json"}
    if body.get("etag"):
        headers["If-Match"] = body["etag"]  # IoT Hub: an update must carry the resource's ETag
    return _put(client, resource_id, kind.api_version, body, headers) or body


def _put(client, resource_id: str, api_version: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any] | None:
    """PUT `body` at the resource and wait for the operation (ARM's long-running-operation protocol); the final body.
    Raises HttpResponseError naming the resource when the PUT is refused or the operation fails."""
    from azure.core.exceptions import HttpResponseError
    from azure.core.polling import LROPoller
    from azure.core.rest import HttpRequest
    from azure.mgmt.core.polling.arm_polling import ARMPolling

    request = HttpRequest("PUT", f"{ARM_ENDPOINT}{resource_id}", params={"api-version": api_version}, headers=headers, json=body)
    response = client._pipeline.run(request)
    status = response.http_response.status_code
    if status not in (200, 201, 202):
        raise _failure(f"PUT {resource_id} failed ({status})", response.http_response)
    poller = LROPoller(client, response, lambda pipeline_response: pipeline_response.http_response.json(), ARMPolling(POLL_INTERVAL))
    try:
        return poller.result()
    except HttpResponseError as error:
        raise _failure(f"PUT {resource_id}: the operation ended {poller.status()}", error.response) from error


class _PutProvider(dynamic.ResourceProvider):
    """Create and update write through `_write`; a change of `kind` or `resourceId` replaces; delete leaves Azure as
    it is (the resource, or the parent, goes with what it belongs to)."""

    def _write(self, props: dict[str, Any]) -> None:
        raise NotImplementedError

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        self._write(props)
        return dynamic.CreateResult(id_=self._id(props), outs=props)

    @staticmethod
    def _id(props: dict[str, Any]) -> str:
        return f"{props['resourceId']}#{props['kind']}"

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        replaces = [key for key in IDENTITY_KEYS if olds.get(key) != news.get(key)]
        changed = [key for key in news.keys() | olds.keys() if key != "__provider" and olds.get(key) != news.get(key)]
        return dynamic.DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        self._write(news)
        return dynamic.UpdateResult(outs=news)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None


class ArmSettingProvider(_PutProvider):
    """Create and update write the setting; delete leaves it (the resource or what it names goes with it)."""

    def _write(self, props: dict[str, Any]) -> None:
        apply_setting(props)


class ArmSetting(dynamic.Resource):
    """`kind` (a key of KINDS), the resource's id, the values for the kind's paths, the resource's revision, and
    descriptive inputs policies read (e.g. the deployments a traffic split may name)."""

    def __init__(
        self,
        name: str,
        kind: str,
        resource_id: pulumi.Input[str],
        values: Mapping[str, Any],
        resource_revision: pulumi.Input[str],
        described: Mapping[str, Any] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        if set(values) != set(KINDS[kind].paths):
            raise ValueError(f"{kind} takes {sorted(KINDS[kind].paths)}, got {sorted(values)}")
        props = {"kind": kind, "resourceId": resource_id, **values, **(described or {}), "revision": resource_revision}
        super().__init__(ArmSettingProvider(), name, props, opts)


# --- child resources azure-native has no resource for ------------------------------------------------------------
# A Data Factory's managed virtual network (`factories/<f>/managedVirtualNetworks/default`, api 2018-06-01) exists in
# ARM and Bicep (learn.microsoft.com/azure/templates/microsoft.datafactory/factories/managedvirtualnetworks) but not in
# pulumi-azure-native 3.29's datafactory module; its integration runtime and managed private endpoints need it. So a
# dynamic resource PUTs it; deleting it is left to the factory's deletion (a factory's children go with it).
ADF_MANAGED_VNET_KIND = "mlops:datafactory-managed-vnet"
CHILD_KINDS: dict[str, str] = {ADF_MANAGED_VNET_KIND: "2018-06-01"}  # kind -> API version of its resource type


def put_child(props: Mapping[str, Any], client=None) -> dict[str, Any]:
    """PUT `props["body"]` at `props["resourceId"]` and wait; returns the final body. HttpResponseError naming the id."""
    body = _whole_numbers(dict(props["body"]))
    return _put(client or arm_client(), props["resourceId"], CHILD_KINDS[props["kind"]], body, {"Content-Type": "application/json"}) or {}


class ArmChildProvider(_PutProvider):
    """Create and update PUT the child; delete leaves it to its parent's deletion."""

    @staticmethod
    def _id(props: dict[str, Any]) -> str:
        return props["resourceId"]

    def _write(self, props: dict[str, Any]) -> None:
        put_child(props)


class ArmChild(dynamic.Resource):
    """`kind` (a key of CHILD_KINDS), the child's ARM id and its body."""

    def __init__(self, name: str, kind: str, resource_id: pulumi.Input[str], body: Mapping[str, Any],
                 opts: pulumi.ResourceOptions | None = None):
        if kind not in CHILD_KINDS:
            raise ValueError(f"unknown child kind {kind}; known: {sorted(CHILD_KINDS)}")
        super().__init__(ArmChildProvider(), name, {"kind": kind, "resourceId": resource_id, "body": dict(body)}, opts)
