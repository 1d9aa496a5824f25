"""IoT Edge deployments (IoT Hub configurations) as a dynamic resource: one per base or layered deployment.

azure-native has no resource for IoT Hub configurations: they live on the hub's data plane
(`PUT https://<hub>.azure-devices.net/configurations/{id}?api-version=2021-04-12`). The provider calls it with
`azure-iot-hub`'s `IoTHubConfigurationManager.from_token_credential`, signed in with an Entra token for
`https://iothubs.azure.net` (the hub's local auth is off; the deploying identity holds IoT Hub Data Contributor on
the hub, granted by the stack). azure-iot-hub 2.7 installs on Python 3.11 from wheels (it brings uamqp, which the
configuration calls do not use).

A configuration's content is immutable: only `targetCondition`, `priority`, `labels` and `metrics` can be updated
(Set-AzIotHubConfiguration: "Configuration content is immutable"). So the id carries a digest of the content
(edge_manifest.configuration_id) and `diff` answers a replace for a content change (a new model, a new image tag):
the new configuration is created first, then the old one deleted. A change of only the target condition or the
priority is an update in place, written with the configuration's ETag (If-Match); a 412 (someone else wrote it
meanwhile) reads it again and retries once.

It registers as `pulumi-python:dynamic:Resource` with the marker input `kind: EDGE_DEPLOYMENT_KIND`, which the
policies and the preview recognise; the provider lives in this importable module, so it pickles by reference.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
from pulumi import dynamic

from components.arm_settings import _whole_numbers, platform_credential

EDGE_DEPLOYMENT_KIND = "mlops:iot-edge-deployment"
IOT_HUB_AUDIENCE = "https://iothubs.azure.net"
SCHEMA_VERSION = "1.0"  # of the configuration object (REST reference), not of the manifest
MUTABLE = ("targetCondition", "priority", "labels")
# A change of these makes a new configuration: the id (it carries the content's digest), the content, the hub.
IDENTITY_KEYS = ("configurationId", "content", "hubHostName")


def configuration_manager(host_name: str, credential=None):
    """The IoT Hub configurations client of one hub, signed in with an Entra token (audience IOT_HUB_AUDIENCE)."""
    from azure.iot.hub import IoTHubConfigurationManager

    return IoTHubConfigurationManager.from_token_credential(host_name, credential or platform_credential())


def _status(error: Exception) -> int | None:
    response = getattr(error, "response", None)
    return getattr(response, "status_code", None)


def _configuration(props: Mapping[str, Any], etag: str | None = None):
    from azure.iot.hub.models import Configuration, ConfigurationContent

    return Configuration(
        id=props["configurationId"],
        schema_version=SCHEMA_VERSION,
        labels=dict(props.get("labels") or {}),
        # The engine hands numbers as doubles (7200.0); the manifest's integer fields take integers.
        content=ConfigurationContent(modules_content=_whole_numbers(props["content"]["modulesContent"])),
        target_condition=props["targetCondition"],
        priority=int(props["priority"]),
        etag=etag,
    )


def create_deployment(props: Mapping[str, Any], manager=None) -> str:
    """Create the configuration; returns its ETag. A 409 (it exists, e.g. a create retried after a lost answer) adopts
    the existing one when its content is ours and updates its mutable fields; otherwise it fails naming the id."""
    from msrest.exceptions import HttpOperationError

    manager = manager or configuration_manager(props["hubHostName"])
    try:
        return manager.create_configuration(_configuration(props)).etag
    except HttpOperationError as error:
        if _status(error) != 409:
            raise
    existing = manager.get_configuration(props["configurationId"])
    if (existing.content.modules_content if existing.content else None) != _whole_numbers(props["content"]["modulesContent"]):
        raise RuntimeError(f"IoT Hub configuration {props['configurationId']} exists with other content; delete it or change the stack")
    return update_deployment(props, manager)


def update_deployment(props: Mapping[str, Any], manager=None) -> str:
    """Write the mutable fields with the configuration's current ETag; one retry after a 412. Returns the new ETag."""
    from msrest.exceptions import HttpOperationError

    manager = manager or configuration_manager(props["hubHostName"])
    for attempt in range(2):
        current = manager.get_configuration(props["configurationId"])
        try:
            return manager.update_configuration(_configuration(props, current.etag), current.etag).etag
        except HttpOperationError as error:
            if _status(error) != 412 or attempt:
                raise
    raise AssertionError("unreachable")


def delete_deployment(props: Mapping[str, Any], manager=None) -> None:
    """Delete the configuration (any ETag); one already gone (404) is deleted."""
    from msrest.exceptions import HttpOperationError

    manager = manager or configuration_manager(props["hubHostName"])
    try:
        manager.delete_configuration(props["configurationId"], "*")
    except HttpOperationError as error:
        if _status(error) != 404:
            raise


class EdgeDeploymentProvider(dynamic.ResourceProvider):
    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        etag = create_deployment(props)
        return dynamic.CreateResult(id_=f"{props['hubHostName']}/configurations/{props['configurationId']}", outs={**props, "etag": etag})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        replaces = [key for key in IDENTITY_KEYS if olds.get(key) != news.get(key)]
        changed = [key for key in news.keys() | olds.keys() if key not in ("__provider", "etag") and olds.get(key) != news.get(key)]
        return dynamic.DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        return dynamic.UpdateResult(outs={**news, "etag": update_deployment(news)})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        delete_deployment(props)


class EdgeDeployment(dynamic.Resource):
    """One IoT Edge deployment: `content` is `{"modulesContent": ...}`; `described` carries what policies and the
    preview read besides (stage, model, image, the stack's registry)."""

    def __init__(
        self,
        name: str,
        hub_host_name: pulumi.Input[str],
        configuration_id: pulumi.Input[str],
        content: pulumi.Input[Mapping[str, Any]],
        target_condition: str,
        priority: int,
        labels: Mapping[str, str],
        described: Mapping[str, Any],
        opts: pulumi.ResourceOptions | None = None,
    ):
        props = {
            "kind": EDGE_DEPLOYMENT_KIND,
            "hubHostName": hub_host_name,
            "configurationId": configuration_id,
            "content": content,
            "targetCondition": target_condition,
            "priority": priority,
            "labels": dict(labels),
            **described,
        }
        # The engine (and the offline preview) show a content change as the replace `diff` answers.
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(replace_on_changes=list(IDENTITY_KEYS)))
        super().__init__(EdgeDeploymentProvider(), name, props, opts)
        self.configuration_id: pulumi.Output[str] = self.configurationId  # outputs keep the input keys
