"""Online serving: a managed endpoint, its blue/green deployments from stack config, and the traffic split.

Deployments take their model and their scoring environment from the shared Azure ML registry
(`azureml://registries/<registry>/models/<name>/versions/<v>`, `.../environments/<name>/versions/<v>`): the
documented way to use one model in several workspaces. The environment image bakes in the scoring script
(`pipelines/score.py`) and the Azure ML inference server.

The endpoint runs as a user-assigned identity that holds its roles before the endpoint exists: a
system-assigned identity gets AcrPull and a storage reader role from Azure ML automatically, and an explicit
assignment of the same role and scope fails with 409 RoleAssignmentExists (concept-endpoints-online-auth).
A new environment has no deployments until bootstrap has registered a model and an environment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import machinelearningservices as ml

from components.arm_settings import TRAFFIC_KIND, ArmSetting, revision
from components.base import PlatformComponent
from components.context import PlatformContext, enabled
from core.naming import Naming

INFERENCE_PORT = 5001  # azmlinfsrv


def endpoint_name(naming: Naming) -> str:
    """The online endpoint's name (known before it exists: the deployments' collection metadata carries it)."""
    return naming.name("mloe")


def registry_asset_id(registry_name: pulumi.Input[str], kind: str, reference: str) -> pulumi.Output[str]:
    """`name:version` of a model or environment -> its id in the Azure ML registry, as ARM accepts it."""
    name, version = reference.split(":")
    return pulumi.Output.concat("azureml://registries/", registry_name, f"/{kind}/{name}/versions/{version}")


@dataclass(frozen=True)
class ProbeSpec:
    initial_delay_seconds: int
    """Seconds before the first probe."""
    period_seconds: int
    """Seconds between probes."""
    timeout_seconds: int
    """Seconds a probe may take."""
    failure_threshold: int
    """Failed probes before the container counts as down."""


@dataclass(frozen=True)
class DeploymentSpec:
    """One blue/green slot: its name, the model (`name:version` in the registry), size and probes."""

    name: str
    """The slot's name (blue, green)."""
    model: str
    """The model, `name:version` in the shared Azure ML registry."""
    environment: str
    """Its scoring environment, `name:version` in the registry."""
    instance_type: str
    """The VM size of its instances."""
    instance_count: int
    """Instances (the deployment's sku.capacity)."""
    request_timeout_ms: int
    """How long one scoring request may take."""
    max_concurrent_requests_per_instance: int
    """Requests one instance handles at once."""
    liveness_probe: ProbeSpec
    """When a container is restarted."""
    readiness_probe: ProbeSpec
    """When a container takes traffic."""
    environment_variables: Mapping[str, pulumi.Input[str]]
    """The scoring script's settings (where it collects to)."""


@dataclass(frozen=True)
class Principal:
    object_id: str
    """The Entra object id."""
    type: str
    """Group or ServicePrincipal."""


@dataclass(frozen=True)
class OnlineServingArgs:
    workspace_name: pulumi.Input[str]
    """The workspace the endpoint lives in."""
    container_registry_id: pulumi.Input[str]
    """The stack's container registry (the endpoint identity's AcrPull)."""
    workspace_storage_id: pulumi.Input[str]
    """The workspace storage (the endpoint identity's reader role)."""
    ml_registry_name: pulumi.Input[str]
    """The shared Azure ML registry models and environments come from."""
    ml_registry_id: pulumi.Input[str]
    """Its id: the scope of the endpoint identity's registry role."""
    predictions_hub_id: pulumi.Input[str]
    """The hub scored requests are sent to (Data Sender scope)."""
    deployments: Sequence[DeploymentSpec]
    """The blue/green slots."""
    traffic: Mapping[str, int]
    """Slot -> percent of live traffic (sums to 100, or empty)."""
    mirror_traffic: Mapping[str, int]
    """Slot -> percent of mirrored traffic (at most 50)."""
    auth_mode: str
    """AADToken, AMLToken or Key."""
    scoring_callers: Sequence[Principal]
    """Who may score (AzureML Data Scientist on the endpoint)."""


def _probe(probe: ProbeSpec) -> ml.ProbeSettingsArgs:
    return ml.ProbeSettingsArgs(
        initial_delay=f"PT{probe.initial_delay_seconds}S",
        period=f"PT{probe.period_seconds}S",
        timeout=f"PT{probe.timeout_seconds}S",
        failure_threshold=probe.failure_threshold,
        success_threshold=1,
    )


class OnlineServing(PlatformComponent):
    TYPE = "mlops:serving:OnlineServing"
    OUTPUTS = ("resource_id", "resource_name", "principal_id", "scoring_uri", "deployment_ids")

    def __init__(self, name: str, ctx: PlatformContext, args: OnlineServingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, ctx, opts)
        identity = self.user_assigned_identity("online")
        access = [
            self.grant("pull-images", identity.principal_id, "AcrPull", args.container_registry_id),
            self.grant("read-workspace-storage", identity.principal_id, "Storage Blob Data Reader", args.workspace_storage_id),
            # Models and environments come from the shared registry; no narrower built-in role reads its assets.
            self.grant("read-registry", identity.principal_id, "AzureML Registry User", args.ml_registry_id),
            self.grant("send-predictions", identity.principal_id, "Azure Event Hubs Data Sender", args.predictions_hub_id),
        ]
        endpoint = ml.OnlineEndpoint(
            f"{name}-endpoint",
            endpoint_name=endpoint_name(ctx.naming),
            workspace_name=args.workspace_name,
            resource_group_name=ctx.resource_group_name,
            location=ctx.location,
            kind="Managed",
            identity=ml.ManagedServiceIdentityArgs(type="UserAssigned", user_assigned_identities=[identity.id]),
            properties=ml.OnlineEndpointPropertiesArgs(
                auth_mode=args.auth_mode,
                # Private: scoring only through the workspace's private endpoint (concept-secure-online-endpoint).
                public_network_access=enabled(not ctx.private, ml.PublicNetworkAccessType),
                description="Online scoring; traffic is set by the endpoint-traffic resource",
            ),
            tags=ctx.tags,
            # The split belongs to the traffic setting, so the endpoint never fights it.
            opts=self.child(ignore_changes=["properties.traffic", "properties.mirrorTraffic"], depends_on=access),
        )
        self.diagnostics(endpoint.id)
        for index, caller in enumerate(args.scoring_callers):
            # The score action is in AzureML Data Scientist; at endpoint scope it covers this endpoint only.
            self.grant(f"score-{index}", caller.object_id, "AzureML Data Scientist", endpoint.id, principal_type=caller.type)
        deployments = {
            spec.name: ml.OnlineDeployment(
                f"{name}-{spec.name}",
                deployment_name=spec.name,
                endpoint_name=endpoint.name,
                workspace_name=args.workspace_name,
                resource_group_name=ctx.resource_group_name,
                location=ctx.location,
                kind="Managed",
                sku=ml.SkuArgs(name="Default", capacity=spec.instance_count),
                properties=ml.ManagedOnlineDeploymentArgs(
                    endpoint_compute_type="Managed",
                    description=f"{spec.model} on {spec.instance_type}",
                    model=registry_asset_id(args.ml_registry_name, "models", spec.model),
                    environment_id=registry_asset_id(args.ml_registry_name, "environments", spec.environment),
                    instance_type=spec.instance_type,
                    app_insights_enabled=True,
                    # Set explicitly (the SDK's default is Enabled); with a managed network the workspace's
                    # outbound rules decide egress instead.
                    egress_public_network_access=enabled(not ctx.private, ml.EgressPublicNetworkAccessType),
                    request_settings=ml.OnlineRequestSettingsArgs(
                        request_timeout=f"PT{spec.request_timeout_ms / 1000:g}S",
                        max_concurrent_requests_per_instance=spec.max_concurrent_requests_per_instance,
                    ),
                    liveness_probe=_probe(spec.liveness_probe),
                    readiness_probe=_probe(spec.readiness_probe),
                    # DefaultAzureCredential in the container signs in as the endpoint's user-assigned identity.
                    environment_variables={**spec.environment_variables, "AZURE_CLIENT_ID": identity.client_id},
                    scale_settings=ml.DefaultScaleSettingsArgs(scale_type="Default"),
                ),
                tags=ctx.tags,
                opts=self.child(),
            )
            for spec in args.deployments
        }
        ArmSetting(
            f"{name}-traffic",
            TRAFFIC_KIND,
            endpoint.id,
            {"traffic": dict(args.traffic), "mirrorTraffic": dict(args.mirror_traffic)},
            revision(endpoint.properties, "traffic", "mirrorTraffic", also=[endpoint.tags]),
            described={"endpointName": endpoint.name, "deployments": list(deployments)},
            opts=self.child(depends_on=[endpoint, *deployments.values()]),
        )
        self.resource_id: pulumi.Output[str] = endpoint.id
        """The endpoint's id."""
        self.resource_name: pulumi.Output[str] = endpoint.name
        """The endpoint's name."""
        self.principal_id: pulumi.Output[str] = identity.principal_id
        """The endpoint's user-assigned identity (holds its roles before it exists)."""
        self.scoring_uri: pulumi.Output[str] = endpoint.properties.scoring_uri
        """The endpoint's scoring URI."""
        self.deployment_names: list[str] = list(deployments)
        self.deployment_ids: pulumi.Output[dict[str, str]] = pulumi.Output.all(
            *(d.id for d in deployments.values())
        ).apply(lambda ids: dict(zip(deployments, ids)))
        """Slot -> its deployment's id (the scope of its alerts)."""
        self._register()
