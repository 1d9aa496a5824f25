"""The scheduled monitor job: an Azure ML schedule (cron) that runs one command job on the training cluster, as the
cluster's managed identity, in an environment the stack declares on the training image.

A schedule's job is defined in ARM without any upload: the command runs code baked into the image
(pipelines/images/training/Dockerfile copies the modules the monitor imports), its inputs and outputs are
datastore and registry paths, and `identity: Managed` makes the job read and write them as the cluster's identity
(identity-based data access). Facts (how-to-schedule-pipeline-job): the cron expression has five fields and Azure
ML ignores DAYS and MONTHS (core/config.py refuses them); a schedule must be disabled before it can be deleted,
so the schedule's name never changes and Pulumi updates it in place; "even after assigning a managed identity to a
schedule, the author must retain their job run permissions for the schedule to function".
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import machinelearningservices as ml

from components.base import PlatformComponent
from components.context import PlatformContext

ENVIRONMENT_NAME = "mlops-monitor"


@dataclass(frozen=True)
class JobPort:
    """One input or output of the job: its Azure ML type (`uri_folder`, `mlflow_model`), path and delivery mode."""

    kind: str
    """The Azure ML type: uri_folder or mlflow_model."""
    uri: pulumi.Input[str]
    """The datastore or registry path."""
    mode: str
    """How the job gets it: ReadOnlyMount, ReadWriteMount, ..."""


@dataclass(frozen=True)
class MonitorJobArgs:
    workspace_name: pulumi.Input[str]
    """The workspace the schedule and the environment live in."""
    compute_id: pulumi.Input[str]
    """The cluster the job runs on (as its identity)."""
    image: pulumi.Input[str]
    """The training image in the stack's registry (it holds the monitor's code)."""
    command: pulumi.Input[str]
    """`python -m pipelines.monitor ...` with ${{inputs.x}} / ${{outputs.x}}."""
    inputs: Mapping[str, JobPort]
    """Input name -> port."""
    outputs: Mapping[str, JobPort]
    """Output name -> port."""
    environment_variables: Mapping[str, pulumi.Input[str]]
    """The job's environment (drift config, telemetry connection)."""
    cron: str
    """Five-field cron, UTC (the stack's monitoring.schedule)."""
    experiment_name: str
    """The experiment the runs are filed under."""


def environment_version(image: str) -> str:
    """An environment version is immutable: another image is another version (a short hash of the reference)."""
    return hashlib.sha256(image.encode()).hexdigest()[:12]


class MonitorJob(PlatformComponent):
    TYPE = "mlops:monitoring:MonitorJob"
    OUTPUTS = ("resource_id", "resource_name", "environment_id")

    def __init__(self, name: str, ctx: PlatformContext, args: MonitorJobArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, ctx, opts)
        environment = ml.EnvironmentVersion(
            f"{name}-env",
            name=ENVIRONMENT_NAME,
            version=pulumi.Output.from_input(args.image).apply(environment_version),
            workspace_name=args.workspace_name,
            resource_group_name=ctx.resource_group_name,
            properties=ml.EnvironmentVersionPropertiesArgs(
                image=args.image,
                os_type="Linux",
                description="The training image, which also holds the monitor's code (pipelines.monitor)",
            ),
            opts=self.child(),
        )
        job = ml.CommandJobArgs(
            job_type="Command",
            display_name="monitor",
            description="Drift of the collected predictions and quality on late labels; publishes the alert metrics",
            experiment_name=args.experiment_name,
            compute_id=args.compute_id,
            environment_id=environment.id,
            command=args.command,
            identity=ml.ManagedIdentityArgs(identity_type="Managed"),
            inputs={
                key: (ml.MLFlowModelJobInputArgs if port.kind == "mlflow_model" else ml.UriFolderJobInputArgs)(
                    job_input_type=port.kind, uri=port.uri, mode=port.mode
                )
                for key, port in args.inputs.items()
            },
            outputs={
                key: ml.UriFolderJobOutputArgs(job_output_type=port.kind, uri=port.uri, mode=port.mode)
                for key, port in args.outputs.items()
            },
            environment_variables=dict(args.environment_variables),
        )
        schedule = ml.Schedule(
            f"{name}-schedule",
            name=ctx.naming.name("sch", "monitor"),
            workspace_name=args.workspace_name,
            resource_group_name=ctx.resource_group_name,
            properties=ml.SchedulePropertiesArgs(
                display_name="monitor",
                description="Runs the monitor job on the stack's monitoring.schedule",
                is_enabled=True,
                trigger=ml.CronTriggerArgs(trigger_type="Cron", expression=args.cron, time_zone="UTC"),
                action=ml.JobScheduleActionArgs(action_type="CreateJob", job_definition=job),
                tags=ctx.tags,
            ),
            opts=self.child(),
        )
        self.resource_id: pulumi.Output[str] = schedule.id
        """The schedule's id."""
        self.resource_name: pulumi.Output[str] = schedule.name
        """The schedule's name."""
        self.environment_id: pulumi.Output[str] = environment.id
        """The environment version the job runs in."""
        self._register()
