"""Batch scoring: an endpoint and, when the stack names a model, a deployment on the training cluster."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import machinelearningservices as ml

from components.context import PlatformComponent, PlatformContext
from components.serving import model_version_id
from stacks.config import BatchConfig

BATCH_DEPLOYMENT = "default"
OUTPUT_FILE = "predictions.csv"


@dataclass(frozen=True)
class BatchScoringArgs:
    workspace_id: pulumi.Input[str]
    workspace_name: pulumi.Input[str]
    compute_id: pulumi.Input[str]
    output_uri: pulumi.Input[str]
    settings: BatchConfig


class BatchScoring(PlatformComponent):
    TYPE = "mlops:serving:BatchScoring"
    OUTPUTS = ("endpoint_id", "endpoint_name", "deployment_name")

    def __init__(self, name: str, ctx: PlatformContext, args: BatchScoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, ctx, opts)
        settings = args.settings
        endpoint = ml.BatchEndpoint(
            f"{name}-endpoint",
            endpoint_name=ctx.naming.name("mlbe"),
            workspace_name=args.workspace_name,
            resource_group_name=ctx.resource_group_name,
            location=ctx.location,
            identity=ml.ManagedServiceIdentityArgs(type="SystemAssigned"),
            properties=ml.BatchEndpointPropertiesArgs(auth_mode="AADToken", description="Batch scoring of lake data"),
            tags=ctx.tags,
            opts=self.child(),
        )
        self.deployment_name: str | None = None
        if settings.model:
            ml.BatchDeployment(
                f"{name}-{BATCH_DEPLOYMENT}",
                deployment_name=BATCH_DEPLOYMENT,
                endpoint_name=endpoint.name,
                workspace_name=args.workspace_name,
                resource_group_name=ctx.resource_group_name,
                location=ctx.location,
                properties=ml.BatchDeploymentPropertiesArgs(
                    description=f"{settings.model} on the training cluster",
                    # An MLflow model needs no scoring script or environment for batch scoring.
                    model=ml.IdAssetReferenceArgs(
                        reference_type="Id", asset_id=model_version_id(args.workspace_id, settings.model)
                    ),
                    compute=args.compute_id,
                    resources=ml.DeploymentResourceConfigurationArgs(instance_count=settings.instance_count),
                    mini_batch_size=settings.mini_batch_size,
                    max_concurrency_per_instance=settings.max_concurrency_per_instance,
                    retry_settings=ml.BatchRetrySettingsArgs(
                        max_retries=settings.max_retries, timeout=f"PT{settings.retry_timeout_seconds}S"
                    ),
                    error_threshold=settings.error_threshold,
                    output_action="AppendRow",
                    output_file_name=OUTPUT_FILE,
                    logging_level="Info",
                    # Jobs write their output under the curated zone; invocations read this property.
                    properties={"outputUri": args.output_uri},
                ),
                tags=ctx.tags,
                opts=self.child(),
            )
            self.deployment_name = BATCH_DEPLOYMENT
        self.endpoint_id: pulumi.Output[str] = endpoint.id
        self.endpoint_name: pulumi.Output[str] = endpoint.name
        self._register()
