"""The one resource that carries an online endpoint's traffic split.

azure-native has no traffic resource, traffic may only name deployments that exist, and one resource cannot
be written twice in one update. So the endpoint ignores `properties.traffic` and this dynamic resource,
created after every deployment, sets the split through the Azure ML API. On a rollout Pulumi creates the new
deployment, then updates this resource (traffic moves), then deletes retired deployments (deletes run last).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi import dynamic

TRAFFIC_KIND = "mlops:endpoint-traffic"
_IDENTITY_KEYS = ("subscriptionId", "resourceGroupName", "workspaceName", "endpointName")


def apply_traffic(props: dict[str, Any]) -> None:
    """Set the endpoint's live and mirrored traffic with azure-ai-ml (runs only inside a real `pulumi up`)."""
    from azure.ai.ml import MLClient
    from azure.identity import DefaultAzureCredential

    client = MLClient(
        DefaultAzureCredential(), props["subscriptionId"], props["resourceGroupName"], props["workspaceName"]
    )
    endpoint = client.online_endpoints.get(props["endpointName"])
    endpoint.traffic = {name: int(share) for name, share in props["traffic"].items()}
    endpoint.mirror_traffic = {name: int(share) for name, share in props.get("mirrorTraffic", {}).items()}
    client.online_endpoints.begin_create_or_update(endpoint).result()


class TrafficProvider(dynamic.ResourceProvider):
    """Create and update set the split; delete leaves it (the endpoint or its deployments go with it)."""

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        apply_traffic(props)
        return dynamic.CreateResult(id_=f"{props['endpointName']}/traffic", outs=props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        changed = [key for key in ("traffic", "mirrorTraffic", "deployments") if olds.get(key) != news.get(key)]
        replaces = [key for key in _IDENTITY_KEYS if olds.get(key) != news.get(key)]
        return dynamic.DiffResult(changes=bool(changed or replaces), replaces=replaces, delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        apply_traffic(news)
        return dynamic.UpdateResult(outs=news)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None


@dataclass(frozen=True)
class EndpointTrafficArgs:
    subscription_id: pulumi.Input[str]
    resource_group_name: pulumi.Input[str]
    workspace_name: pulumi.Input[str]
    endpoint_name: pulumi.Input[str]
    traffic: dict[str, int]
    mirror_traffic: dict[str, int]
    deployments: list[str]


class EndpointTraffic(dynamic.Resource):
    """Registers as `pulumi-python:dynamic:Resource` with the marker input `kind: mlops:endpoint-traffic`."""

    def __init__(self, name: str, args: EndpointTrafficArgs, opts: pulumi.ResourceOptions | None = None):
        props = {
            "kind": TRAFFIC_KIND,
            "subscriptionId": args.subscription_id,
            "resourceGroupName": args.resource_group_name,
            "workspaceName": args.workspace_name,
            "endpointName": args.endpoint_name,
            "traffic": dict(args.traffic),
            "mirrorTraffic": dict(args.mirror_traffic),
            "deployments": list(args.deployments),
        }
        super().__init__(TrafficProvider(), name, props, opts)
