"""Online serving: a managed endpoint, its blue/green deployments from stack config, and the traffic split.

Deployments reference the registered model version by ARM id (`<workspace>/models/<name>/versions/<v>`)
and the serving environment image in the stack's registry, which bakes in the scoring script
(`pipelines/score.py`) and the Azure ML inference server.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import machinelearningservices as ml

from components.context import PlatformComponent, PlatformContext, enabled
from components.diagnostics import send_diagnostics
from components.roles import Grant, grant
from components.traffic import EndpointTraffic, EndpointTrafficArgs
from stacks.config import DeploymentConfig, ProbeConfig

SERVING_ENVIRONMENT = "mlops-serving"
INFERENCE_PORT = 5001  # azmlinfsrv


def model_version_id(workspace_id: pulumi.Input[str], model: str) -> pulumi.Output[str]:
    """`name:version` -> the model-version ARM id ARM expects where azure-ai-ml accepts short names."""
    name, version = model.split(":")
    return pulumi.Output.concat(workspace_id, f"/models/{name}/versions/{version}")


def _probe(probe: ProbeConfig) -> ml.ProbeSettingsArgs:
    return ml.ProbeSettingsArgs(
        initial_delay=f"PT{probe.initial_delay_seconds}S",
        period=f"PT{probe.period_seconds}S",
        timeout=f"PT{probe.timeout_seconds}S",
        failure_threshold=probe.failure_threshold,
        success_threshold=1,
    )


@dataclass(frozen=True)
class OnlineServingArgs:
    subscription_id: pulumi.Input[str]
    workspace_id: pulumi.Input[str]
    workspace_name: pulumi.Input[str]
    registry_id: pulumi.Input[str]
    registry_login_server: pulumi.Input[str]
    storage_account_id: pulumi.Input[str]
    environment_image: str
    deployments: Sequence[DeploymentConfig] = ()
    traffic: dict[str, int] | None = None
    mirror_traffic: dict[str, int] | None = None
    auth_mode: str = "AADToken"
    public_network_access: bool = False
    egress_public_network_access: bool = False


class OnlineServing(PlatformComponent):
    TYPE = "mlops:serving:OnlineServing"
    OUTPUTS = ("endpoint_id", "endpoint_name", "scoring_uri", "principal_id", "deployment_ids")

    def __init__(self, name: str, ctx: PlatformContext, args: OnlineServingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, ctx, opts)
        image_name, image_version = args.environment_image.rsplit(":", 1)
        environment = ml.EnvironmentVersion(
            f"{name}-environment",
            name=SERVING_ENVIRONMENT,
            version=image_version,
            workspace_name=args.workspace_name,
            resource_group_name=ctx.resource_group_name,
            properties=ml.EnvironmentVersionPropertiesArgs(
                description="Scoring image: pipelines/score.py on the Azure ML inference server",
                image=pulumi.Output.concat(args.registry_login_server, "/", image_name, ":", image_version),
                os_type="Linux",
                inference_config=ml.InferenceContainerPropertiesArgs(
                    liveness_route=ml.RouteArgs(path="/", port=INFERENCE_PORT),
                    readiness_route=ml.RouteArgs(path="/", port=INFERENCE_PORT),
                    scoring_route=ml.RouteArgs(path="/score", port=INFERENCE_PORT),
                ),
            ),
            opts=self.child(),
        )
        endpoint = ml.OnlineEndpoint(
            f"{name}-endpoint",
            endpoint_name=ctx.naming.name("mloe"),
            workspace_name=args.workspace_name,
            resource_group_name=ctx.resource_group_name,
            location=ctx.location,
            kind="Managed",
            identity=ml.ManagedServiceIdentityArgs(type="SystemAssigned"),
            properties=ml.OnlineEndpointPropertiesArgs(
                auth_mode=args.auth_mode,
                public_network_access=enabled(args.public_network_access),
                description="Online scoring; traffic is set by the endpoint-traffic resource",
            ),
            tags=ctx.tags,
            # The split belongs to EndpointTraffic, so the endpoint never fights it.
            opts=self.child(ignore_changes=["properties.traffic", "properties.mirrorTraffic"]),
        )
        send_diagnostics(name, ctx, endpoint.id, self.child())
        principal_id = endpoint.identity.apply(lambda i: i.principal_id)
        access = [
            grant(name, args.subscription_id, item, self.child())
            for item in (
                Grant("pull-images", principal_id, "AcrPull", args.registry_id),
                Grant("read-lake", principal_id, "Storage Blob Data Reader", args.storage_account_id),
            )
        ]
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
                    model=model_version_id(args.workspace_id, spec.model),
                    environment_id=environment.id,
                    instance_type=spec.instance_type,
                    app_insights_enabled=True,
                    egress_public_network_access=enabled(args.egress_public_network_access),
                    request_settings=ml.OnlineRequestSettingsArgs(
                        request_timeout=f"PT{spec.request_timeout_ms / 1000:g}S",
                        max_concurrent_requests_per_instance=spec.max_concurrent_requests_per_instance,
                    ),
                    liveness_probe=_probe(spec.liveness_probe),
                    readiness_probe=_probe(spec.readiness_probe),
                    scale_settings=ml.DefaultScaleSettingsArgs(scale_type="Default"),
                ),
                tags=ctx.tags,
                opts=self.child(depends_on=access),
            )
            for spec in args.deployments
        }
        EndpointTraffic(
            f"{name}-traffic",
            EndpointTrafficArgs(
                subscription_id=args.subscription_id,
                resource_group_name=ctx.resource_group_name,
                workspace_name=args.workspace_name,
                endpoint_name=endpoint.name,
                traffic=args.traffic or {},
                mirror_traffic=args.mirror_traffic or {},
                deployments=list(deployments),
            ),
            opts=self.child(depends_on=[endpoint, *deployments.values()]),
        )
        self.endpoint_id: pulumi.Output[str] = endpoint.id
        self.endpoint_name: pulumi.Output[str] = endpoint.name
        self.scoring_uri: pulumi.Output[str] = endpoint.properties.scoring_uri
        self.principal_id: pulumi.Output[str] = principal_id
        self.deployment_names: list[str] = list(deployments)
        self.deployment_ids: pulumi.Output[dict[str, str]] = pulumi.Output.all(
            *(d.id for d in deployments.values())
        ).apply(lambda ids: dict(zip(deployments, ids)))
        self._register()
