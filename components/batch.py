"""Batch scoring: an endpoint and, when the stack names a model, a deployment on the training cluster.

The model comes from the shared Azure ML registry. The deployment becomes the endpoint's default (what an
endpoint-level invocation runs) through a follow-up setting created after it, as Azure ML's own examples do:
endpoint, then deployment, then `defaults.deploymentName` (arm_settings.py). Jobs run on ParallelRunStep, which
needs the workspace storage's queue and table (outbound rules and roles in the workspace and access components).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import machinelearningservices as ml

from components.arm_settings import BATCH_DEFAULT_KIND, ArmSetting, revision
from components.base import PlatformComponent
from components.context import PlatformContext
from components.serving import Principal, registry_asset_id

BATCH_DEPLOYMENT = "default"
OUTPUT_FILE = "predictions.csv"


@dataclass(frozen=True)
class BatchDeploymentSpec:
    model: str
    """The model, `name:version` in the shared Azure ML registry."""
    mini_batch_size: int
    """Files per mini-batch."""
    max_retries: int
    """Retries of a failed mini-batch."""
    retry_timeout_seconds: int
    """How long one mini-batch may take before it is retried."""
    max_concurrency_per_instance: int
    """Parallel mini-batches per node."""
    instance_count: int
    """Nodes of the training cluster a job uses."""
    error_threshold: int
    """Failed files a job tolerates before it stops (-1: ignore every failure)."""


@dataclass(frozen=True)
class BatchScoringArgs:
    workspace_id: pulumi.Input[str]
    """The workspace's id: the scope of the callers' role."""
    workspace_name: pulumi.Input[str]
    """The workspace the endpoint lives in."""
    compute_id: pulumi.Input[str]
    """The cluster the deployment runs on."""
    ml_registry_name: pulumi.Input[str]
    """The shared Azure ML registry the model comes from."""
    deployment: BatchDeploymentSpec | None
    """The deployment, or None while the stack names no batch model."""
    callers: Sequence[Principal]
    """Who may invoke the endpoint (AzureML Data Scientist on the workspace)."""


class BatchScoring(PlatformComponent):
    TYPE = "mlops:serving:BatchScoring"
    OUTPUTS = ("resource_id", "resource_name", "deployment_name")

    def __init__(self, name: str, ctx: PlatformContext, args: BatchScoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, ctx, opts)
        endpoint = ml.BatchEndpoint(
            f"{name}-endpoint",
            endpoint_name=ctx.naming.name("mlbe"),
            workspace_name=args.workspace_name,
            resource_group_name=ctx.resource_group_name,
            location=ctx.location,
            properties=ml.BatchEndpointPropertiesArgs(auth_mode="AADToken", description="Batch scoring of lake data"),
            tags=ctx.tags,
            opts=self.child(ignore_changes=["properties.defaults"]),
        )
        for index, caller in enumerate(args.callers):
            # Invoking creates jobs in the workspace (how-to-authenticate-batch-endpoint): the workspace is the scope.
            self.grant(f"invoke-{index}", caller.object_id, "AzureML Data Scientist", args.workspace_id, principal_type=caller.type)
        self.deployment_name: str | None = None
        """The default deployment's name, None without a deployment."""
        spec = args.deployment
        if spec is not None:
            deployment = ml.BatchDeployment(
                f"{name}-{BATCH_DEPLOYMENT}",
                deployment_name=BATCH_DEPLOYMENT,
                endpoint_name=endpoint.name,
                workspace_name=args.workspace_name,
                resource_group_name=ctx.resource_group_name,
                location=ctx.location,
                properties=ml.BatchDeploymentPropertiesArgs(
                    description=f"{spec.model} on the training cluster",
                    # An MLflow model needs no scoring script or environment for batch scoring.
                    model=ml.IdAssetReferenceArgs(
                        reference_type="Id", asset_id=registry_asset_id(args.ml_registry_name, "models", spec.model)
                    ),
                    compute=args.compute_id,
                    resources=ml.DeploymentResourceConfigurationArgs(instance_count=spec.instance_count),
                    mini_batch_size=spec.mini_batch_size,
                    max_concurrency_per_instance=spec.max_concurrency_per_instance,
                    retry_settings=ml.BatchRetrySettingsArgs(
                        max_retries=spec.max_retries, timeout=f"PT{spec.retry_timeout_seconds}S"
                    ),
                    error_threshold=spec.error_threshold,
                    output_action="AppendRow",
                    output_file_name=OUTPUT_FILE,
                    logging_level="Info",
                ),
                tags=ctx.tags,
                opts=self.child(),
            )
            ArmSetting(
                f"{name}-default",
                BATCH_DEFAULT_KIND,
                endpoint.id,
                {"deploymentName": BATCH_DEPLOYMENT},
                revision(endpoint.properties, "defaults", also=[endpoint.tags]),
                opts=self.child(depends_on=[endpoint, deployment]),
            )
            self.deployment_name = BATCH_DEPLOYMENT
        self.resource_id: pulumi.Output[str] = endpoint.id
        """The batch endpoint's id."""
        self.resource_name: pulumi.Output[str] = endpoint.name
        """The batch endpoint's name."""
        self._register()
