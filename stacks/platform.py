"""The composition: which components each stack gets and how they are wired. Settings come from the config.

An environment stack is built capability by capability (`build_environment`), each step a function whose
parameters and result (a small frozen dataclass) show what it wires to what:
network (private stacks: the spoke and the endpoints to the shared registry; every later component puts its private
endpoints there) -> core (Log Analytics and Application Insights, the lake, Key Vault, the container registry) ->
ingestion (Event Hubs, IoT Hub, Data Factory) -> ml (the workspace and its cluster) -> serving (online, batch, edge)
-> runners (private stacks) -> the outputs contract -> monitoring (the retrain function, alerts, the scheduled
monitor) -> access (the run-time data-plane roles of every platform flow). The `shared` stack builds the Azure ML
registry that environments promote models and environments through (shared.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi_azure_native import containerregistry, keyvault, storage
from pulumi_azure_native import machinelearningservices as ml

from components.access import WorkloadAccess
from components.alerts import Alerts, AlertsArgs, EventHubTarget, LogMetricRule, MetricRule, alert_rule_name
from components.batch import BatchDeploymentSpec, BatchScoring, BatchScoringArgs
from components.compute import ComputeCluster, ComputeClusterArgs, cluster_name
from components.context import PlatformContext
from components.datafactory import BatchSource, DataFactory, DataFactoryArgs
from components.datalake import ZONES, DataLake, DataLakeArgs
from components.edge import EdgeArgs, EdgeEntry, EdgeRollout
from components.eventhubs import EventHubs, EventHubsArgs, HubArgs
from components.iothub import IotHub, IotHubArgs
from components.keyvault import KeyVault, KeyVaultArgs
from components.mlworkspace import MlWorkspace, MlWorkspaceArgs, OutboundTarget
from components.monitor_job import JobPort, MonitorJob, MonitorJobArgs
from components.monitoring import AMPLS_GROUP, Monitoring, MonitoringArgs
from components.network import Network, NetworkArgs
from components.private_access import RemotePrivateEndpoints, RemoteService
from components.registry import ContainerRegistry, RegistryArgs
from components.retrain_trigger import PromotionDispatch, RetrainTrigger, RetrainTriggerArgs, function_app_name
from components.roles import Grant
from components.runners import CiRunners, CiRunnersArgs
from components.serving import (
    DeploymentSpec,
    OnlineServing,
    OnlineServingArgs,
    ProbeSpec,
    endpoint_name,
    registry_asset_id,
)
from core import contracts
from core.azure_facts import PRIVATE_DNS_ZONES
from core.config import AlertsConfig, PlatformConfig, PromotionDispatchConfig, SharedConfig
from core.contracts import APPINSIGHTS_ENV
from core.metrics import DRIFT_METRIC, QUALITY_METRIC
from core.outputs import SharedOutputs, StackOutputs, contract_keys
from stacks.foundation import base_context, export_outputs, load_program_config, principals
from stacks.shared import build_shared

ALERTS_HUB = "alerts"  # the action group publishes here; the retrain function consumes it
ALERTS_CONSUMER_GROUP = "retrain"
ENDPOINTS_NS = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
DEPLOYMENTS_NS = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments"


def build_platform(cfg: PlatformConfig | SharedConfig | None = None) -> None:
    """Declare every resource of the current stack and export its outputs contract."""
    cfg = cfg or load_program_config()  # a ConfigError is a RunError: Pulumi prints its one line, no traceback
    if isinstance(cfg, SharedConfig):
        build_shared(cfg)
    else:
        build_environment(cfg)


@dataclass(frozen=True)
class Core:
    """What every capability builds on: the context (with the spoke network and the diagnostics workspace), logs and
    telemetry, the lake, secrets and images."""

    ctx: PlatformContext
    monitoring: Monitoring
    lake: DataLake
    vault: KeyVault
    registry: ContainerRegistry


@dataclass(frozen=True)
class Ingestion:
    """Where data comes in: streaming (Event Hubs, IoT Hub) and batch (Data Factory)."""

    events: EventHubs
    iot: IotHub
    factory: DataFactory

    def hub_id(self, hub: str) -> pulumi.Output[str]:
        """The id of one hub of the stack's Event Hubs namespace."""
        return self.events.hub_ids.apply(lambda ids: ids[hub])


@dataclass(frozen=True)
class Ml:
    """Training: the workspace (its storage, datastores and managed network) and its cluster."""

    workspace: MlWorkspace
    compute: ComputeCluster


@dataclass(frozen=True)
class Serving:
    """Where models run: the online endpoint, batch scoring and the IoT Edge rollout."""

    online: OnlineServing
    batch: BatchScoring
    edge: EdgeRollout


@dataclass(frozen=True)
class MonitoringLoop:
    """Alerts and the retrain function they reach (the scheduled monitor job publishes what they watch)."""

    trigger: RetrainTrigger
    alerts: Alerts


def build_environment(cfg: PlatformConfig) -> None:
    """An environment stack, capability by capability; each step's inputs and result show the wiring."""
    group, ctx = base_context(cfg)
    shared = SharedOutputs.reference(pulumi.StackReference(cfg.shared_stack))
    ctx = build_network(cfg, ctx, shared)
    core = build_core(cfg, ctx)
    ingestion = build_ingestion(cfg, core)
    ml = build_ml(cfg, core, ingestion, group, shared)
    serving = build_serving(cfg, core, ingestion, ml, shared)
    runners = build_runners(cfg, core)
    outputs = stack_outputs(cfg, group, core, ingestion, ml, serving, runners, shared)
    loop = build_monitoring(cfg, core, ingestion, ml, serving, shared, outputs)
    build_access(cfg, core, ingestion, ml, loop, runners, shared)
    export_outputs(StackOutputs, {**outputs, "action_group_id": loop.alerts.resource_id,
                                  "retrain_function_name": loop.trigger.resource_name})  # fmt: skip


def build_network(cfg: PlatformConfig, ctx: PlatformContext, shared: SharedOutputs) -> PlatformContext:
    """In a private stack: the spoke network and this stack's private endpoints to the shared Azure ML registry. Returns
    the context every later component puts its private endpoints in (unchanged in a public stack)."""
    net = cfg.network
    if not net.private:
        return ctx
    network = Network(
        "network",
        ctx,
        NetworkArgs(
            address_space=str(net.address_space),
            subnets={key: str(prefix) for key, prefix in net.subnet_plan.items()},
            zones=PRIVATE_DNS_ZONES,
            hub_vnet_id=net.hub.vnet_id,
            hub_zone_ids=dict(net.hub.private_dns_zones),
            dns_servers=[str(server) for server in net.hub.dns_servers],
        ),
    )
    ctx = ctx.with_network(network.private_network)
    RemotePrivateEndpoints(
        "ml-registry",
        ctx,
        [
            RemoteService("mlr", shared.registry_id, ["amlregistry"]),
            RemoteService("st", shared.registry_storage_account_id, ["blob"]),
            RemoteService("cr", shared.registry_container_registry_id, ["registry"]),
        ],
    )
    return ctx


def build_core(cfg: PlatformConfig, ctx: PlatformContext) -> Core:
    """Log Analytics and Application Insights (every later diagnostic setting targets them), the lake, Key Vault and
    the container registry."""
    naming = cfg.naming
    monitoring = Monitoring("monitoring", ctx, MonitoringArgs(retention_days=cfg.monitoring.log_retention_days))
    ctx = ctx.with_diagnostics(monitoring.resource_id)
    # The lake's trusted writers are named by id before they exist, so neither side waits for the other.
    iot_hub_id = ctx.resource_id(f"Microsoft.Devices/IotHubs/{naming.name('iot')}")
    namespace_id = ctx.resource_id(f"Microsoft.EventHub/namespaces/{naming.name('evhns')}")
    lake = DataLake(
        "lake",
        ctx,
        DataLakeArgs(
            sku=storage.SkuName(cfg.storage.sku),
            blob_soft_delete_days=cfg.storage.blob_soft_delete_days,
            container_soft_delete_days=cfg.storage.container_soft_delete_days,
            raw_to_cool_after_days=cfg.storage.raw_to_cool_after_days,
            trusted_writers=[iot_hub_id, namespace_id],
            raw_immutability_days=cfg.storage.raw_immutability_days,
        ),
    )
    vault = KeyVault(
        "vault", ctx, KeyVaultArgs(sku=keyvault.SkuName(cfg.key_vault.sku), soft_delete_retention_days=cfg.key_vault.soft_delete_retention_days)
    )
    # Edge devices pull module and model images from the field: a private stack with edge devices admits its sites.
    sites = [str(r) for r in cfg.iot_hub.device_ip_ranges] if cfg.edge.target_condition else []
    registry = ContainerRegistry(
        "registry",
        ctx,
        RegistryArgs(sku=containerregistry.SkuName(cfg.registry.sku), zone_redundant=cfg.is_production, site_ip_ranges=sites),
    )
    return Core(ctx, monitoring, lake, vault, registry)


def build_ingestion(cfg: PlatformConfig, core: Core) -> Ingestion:
    """Event Hubs (captured into `raw`, plus the `alerts` hub the retrain function consumes), the IoT Hub routing into
    it and the lake, and Data Factory copying the batch sources into `raw`."""
    ctx, lake = core.ctx, core.lake
    factory = DataFactory(
        "factory",
        ctx,
        DataFactoryArgs(
            lake_account_id=lake.resource_id,
            lake_dfs_endpoint=lake.dfs_endpoint,
            raw_container_id=lake.container_ids["raw"],
            vault_id=core.vault.resource_id,
            vault_uri=core.vault.vault_uri,
            sources=batch_sources(cfg),
        ),
    )
    hubs = {hub: HubArgs(h.partitions, h.retention_hours, tuple(h.consumer_groups)) for hub, h in cfg.event_hubs.hubs.items()}
    hubs[ALERTS_HUB] = HubArgs(partitions=2, retention_hours=24, consumer_groups=(ALERTS_CONSUMER_GROUP,))
    events = EventHubs(
        "events",
        ctx,
        EventHubsArgs(
            capture_account_id=lake.resource_id,
            capture_container_name="raw",
            capture_container_id=lake.container_ids["raw"],
            hubs=hubs,
            sku=cfg.event_hubs.sku,
            capacity=cfg.event_hubs.capacity,
            zone_redundant=cfg.is_production,
            capture_enabled=cfg.event_hubs.capture.enabled,
            capture_interval_seconds=cfg.event_hubs.capture.interval_seconds,
            capture_size_limit_mb=cfg.event_hubs.capture.size_limit_mb,
        ),
    )
    iot = IotHub(
        "iot",
        ctx,
        IotHubArgs(
            eventhubs_namespace_fqdn=events.namespace_fqdn,
            telemetry_hub_name="telemetry",
            telemetry_hub_id=events.hub_ids.apply(lambda ids: ids["telemetry"]),
            storage_blob_endpoint=lake.blob_endpoint,
            raw_container_name="raw",
            raw_container_id=lake.container_ids["raw"],
            sku=cfg.iot_hub.sku,
            units=cfg.iot_hub.units,
            cold_path_batch_seconds=cfg.iot_hub.cold_path_batch_seconds,
            device_ip_ranges=[str(r) for r in cfg.iot_hub.device_ip_ranges],
        ),
    )
    return Ingestion(events, iot, factory)


def build_ml(cfg: PlatformConfig, core: Core, ingestion: Ingestion, group: pulumi.Resource, shared: SharedOutputs) -> Ml:
    """The workspace, with managed-network outbound rules to everything its jobs and deployments reach, and its
    training cluster (which also builds its images)."""
    ctx, lake = core.ctx, core.lake
    outbound = {
        "lake-blob": OutboundTarget(lake.resource_id, "blob"),
        "lake-dfs": OutboundTarget(lake.resource_id, "dfs"),
        "eventhubs": OutboundTarget(ingestion.events.resource_id, "namespace"),
        "registry": OutboundTarget(shared.registry_id, "amlregistry"),
        "registry-storage": OutboundTarget(shared.registry_storage_account_id, "blob"),
        "registry-acr": OutboundTarget(shared.registry_container_registry_id, "registry"),
    }
    if core.monitoring.private_link_scope_id is not None:
        outbound["monitor"] = OutboundTarget(core.monitoring.private_link_scope_id, AMPLS_GROUP)
    workspace = MlWorkspace(
        "workspace",
        ctx,
        MlWorkspaceArgs(
            vault_id=core.vault.resource_id,
            container_registry_id=core.registry.resource_id,
            application_insights_id=core.monitoring.application_insights_id,
            storage_sku=storage.SkuName(cfg.storage.sku),
            isolation_mode=cfg.workspace.isolation_mode,
            image_build_compute=cluster_name(ctx),
            outbound=outbound,
            package_mirror_fqdns=cfg.workspace.package_mirror_fqdns,
            firewall_sku=ml.FirewallSku(cfg.workspace.firewall_sku),
            lake_account_name=lake.resource_name,
            lake_zones=ZONES,
            approver_scopes=[group.id, shared.registry_id, shared.registry_storage_account_id,
                             shared.registry_container_registry_id],
        ),
    )  # fmt: skip
    compute = ComputeCluster(
        "compute",
        ctx,
        ComputeClusterArgs(
            workspace_name=workspace.resource_name,
            vm_size=cfg.compute.vm_size,
            vm_priority=cfg.compute.vm_priority,
            min_nodes=cfg.compute.min_nodes,
            max_nodes=cfg.compute.max_nodes,
            idle_minutes_before_scale_down=cfg.compute.idle_minutes_before_scale_down,
            node_public_ip=cfg.compute.node_public_ip,
        ),
    )
    return Ml(workspace, compute)


def build_serving(cfg: PlatformConfig, core: Core, ingestion: Ingestion, ml: Ml, shared: SharedOutputs) -> Serving:
    """The online endpoint with its blue/green deployments, batch scoring on the cluster, and the IoT Edge rollout."""
    ctx, serving_cfg = core.ctx, cfg.serving
    edge_rollout = edge(cfg, ctx, ingestion.iot, core.registry)
    online = OnlineServing(
        "online",
        ctx,
        OnlineServingArgs(
            workspace_name=ml.workspace.resource_name,
            container_registry_id=core.registry.resource_id,
            workspace_storage_id=ml.workspace.storage_account_id,
            ml_registry_name=shared.registry_name,
            ml_registry_id=shared.registry_id,
            predictions_hub_id=ingestion.hub_id("predictions"),
            deployments=[deployment_spec(d, serving_cfg.environment, collection(d, cfg.naming, ingestion.events))
                         for d in serving_cfg.deployments],
            traffic=serving_cfg.traffic,
            mirror_traffic=serving_cfg.mirror_traffic,
            auth_mode=serving_cfg.auth_mode,
            scoring_callers=principals(cfg.access.scoring_callers),
        ),
    )  # fmt: skip
    batch = BatchScoring(
        "batch",
        ctx,
        BatchScoringArgs(
            workspace_id=ml.workspace.resource_id,
            workspace_name=ml.workspace.resource_name,
            compute_id=ml.compute.resource_id,
            ml_registry_name=shared.registry_name,
            deployment=batch_spec(cfg),
            callers=principals(cfg.access.batch_callers),
        ),
    )
    return Serving(online, batch, edge_rollout)


def build_runners(cfg: PlatformConfig, core: Core) -> CiRunners | None:
    """In a private stack: the self-hosted CI runners inside its network (none in a public one)."""
    if not cfg.network.private:
        return None
    settings = cfg.runners
    return CiRunners(
        "runners",
        core.ctx,
        CiRunnersArgs(
            registry_login_server=core.registry.login_server,
            container_registry_id=core.registry.resource_id,
            vault_name=core.vault.resource_name,
            vault_uri=core.vault.vault_uri,
            vault_id=core.vault.resource_id,
            github_owner=settings.github_owner or "",
            repositories=settings.repositories,
            image=settings.image,
            token_secret_name=settings.token_secret_name,
            token=settings.token,
            max_executions=settings.max_executions,
            cpu=settings.cpu,
        ),
    )


def stack_outputs(cfg: PlatformConfig, group: pulumi.Resource, core: Core, ingestion: Ingestion, ml: Ml,
                  serving: Serving, runners: CiRunners | None, shared: SharedOutputs) -> dict[str, Any]:
    """The outputs contract's values (by field name). The action group and the retrain function are named before they
    exist (the function's own settings hold these outputs); the export takes their ids from the resources."""
    ctx = core.ctx
    return {
        "environment": cfg.environment,
        "resource_group_name": group.name,
        "location": cfg.location,
        "workspace_id": ml.workspace.resource_id,
        "workspace_name": ml.workspace.resource_name,
        "workspace_storage_account_name": ml.workspace.storage_account_name,
        "compute_name": ml.compute.resource_name,
        "storage_account_name": core.lake.resource_name,
        "container_urls": core.lake.container_urls,
        "key_vault_uri": core.vault.vault_uri,
        "registry_login_server": core.registry.login_server,
        "training_image": training_image(cfg, core.registry),
        "ml_registry_name": shared.registry_name,
        "log_analytics_workspace_id": core.monitoring.resource_id,
        "application_insights_connection_string": core.monitoring.application_insights_connection_string,
        "mlflow_tracking_uri": ml.workspace.mlflow_tracking_uri,
        "online_endpoint_name": serving.online.resource_name,
        "scoring_uri": serving.online.scoring_uri,
        "batch_endpoint_name": serving.batch.resource_name,
        "eventhubs_namespace_fqdn": ingestion.events.namespace_fqdn,
        "event_hub_names": ingestion.events.hub_names,
        "iot_hub_hostname": ingestion.iot.host_name,
        "runner_label": runners.label if runners else None,
        "action_group_id": ctx.resource_id(f"Microsoft.Insights/actionGroups/{cfg.naming.name('ag')}"),
        "retrain_function_name": function_app_name(ctx),
        "live_model": cfg.serving.live_model,
    }  # fmt: skip


def build_monitoring(cfg: PlatformConfig, core: Core, ingestion: Ingestion, ml: Ml, serving: Serving,
                     shared: SharedOutputs, outputs: dict[str, Any]) -> MonitoringLoop:
    """The retrain function, the action group with the metric and log alerts that reach it, and (once the stack
    serves a model) the scheduled monitor job."""  # fmt: skip
    ctx, naming = core.ctx, cfg.naming
    retraining = retraining_rules(cfg)
    trigger = RetrainTrigger(
        "retrain",
        ctx,
        RetrainTriggerArgs(
            workspace_id=ml.workspace.resource_id,
            workspace_name=ml.workspace.resource_name,
            workspace_storage_id=ml.workspace.storage_account_id,
            eventhubs_namespace_fqdn=ingestion.events.namespace_fqdn,
            alerts_hub_name=ALERTS_HUB,
            alerts_hub_id=ingestion.hub_id(ALERTS_HUB),
            alerts_consumer_group=ALERTS_CONSUMER_GROUP,
            application_insights_id=core.monitoring.application_insights_id,
            application_insights_connection_string=core.monitoring.application_insights_connection_string,
            stack_outputs=contract_keys({k: v for k, v in outputs.items() if k not in StackOutputs.secret_fields()}),
            training=cfg.training.model_dump(by_alias=True),
            cooldown_minutes=cfg.retrain_trigger.cooldown_minutes,
            retrain_rules=[alert_rule_name(naming, rule.label) for rule in retraining],
            maximum_instance_count=cfg.retrain_trigger.maximum_instances,
            instance_memory_mb=cfg.retrain_trigger.instance_memory_mb,
            python_version=cfg.retrain_trigger.python_version,
            storage_sku=storage.SkuName(cfg.storage.sku),
            promotion=promotion_dispatch(cfg.retrain_trigger.promotion, core.vault),
        ),
    )
    webhooks = {"webhook": pulumi.Output.secret(cfg.alerts.webhook_url)} if cfg.alerts.webhook_url else {}
    alerts = Alerts(
        "alerts",
        ctx,
        AlertsArgs(
            email_receivers=[(r.name, r.address) for r in cfg.alerts.email_receivers],
            webhook_urls=webhooks,
            retrain=EventHubTarget(namespace_name=ingestion.events.resource_name, hub_name=ALERTS_HUB,
                                   hub_id=ingestion.hub_id(ALERTS_HUB)),
            severity=cfg.alerts.severity,
            metric_rules=[*metric_rules(cfg.alerts, serving.online, ingestion.events, ingestion.iot, core.lake),
                          ingestion_rule(cfg.alerts, ingestion.factory)],
            log_scope=core.monitoring.application_insights_id,
            log_rules=retraining,
        ),
    )  # fmt: skip
    if cfg.serving.deployments:
        monitor_schedule(cfg, ctx, ml.workspace, ml.compute, core.registry, core.monitoring, serving.online, shared)
    return MonitoringLoop(trigger, alerts)


def build_access(cfg: PlatformConfig, core: Core, ingestion: Ingestion, ml: Ml, loop: MonitoringLoop,
                 runners: CiRunners | None, shared: SharedOutputs) -> WorkloadAccess:
    """The run-time data-plane roles of every platform flow (grants that gate a resource's creation live in its
    component)."""  # fmt: skip
    return WorkloadAccess("access", core.ctx, flow_grants(cfg, core, ingestion, ml, loop.trigger, runners, shared))


def batch_sources(cfg: PlatformConfig) -> list[BatchSource]:
    """The configured batch sources (`ingestion.batch`) as the factory takes them."""
    return [
        BatchSource(
            name=s.name, kind=s.kind, secret_name=s.secret_name, folder=s.raw_folder(), frequency=s.schedule.frequency,
            interval=s.schedule.interval, start_time=s.schedule.start_time, table=s.table, url=s.url,
            relative_url=s.relative_url, host=s.host, port=s.port, host_key_fingerprint=s.host_key_fingerprint,
            remote_folder=s.folder, user_name=s.user_name,
        )
        for s in cfg.ingestion.batch
    ]


def ingestion_rule(thresholds: AlertsConfig, factory: DataFactory) -> MetricRule:
    """Failed batch ingestion: any failed pipeline run of the factory (a source down, an unapproved endpoint)."""
    return MetricRule("ingestion-failed-runs", "Data Factory pipeline runs failed (batch ingestion into raw)", factory.resource_id,
                      "Microsoft.DataFactory/factories", "PipelineFailedRuns", "GreaterThanOrEqual",
                      thresholds.ingestion_failed_runs, "Total")


def edge(cfg: PlatformConfig, ctx, iot: IotHub, registry: ContainerRegistry) -> EdgeRollout:
    """The Device Provisioning Service and the IoT Edge deployments of `edge` (base and layered)."""
    e = cfg.edge
    password = pulumi.Output.secret(e.registry_password) if e.registry_password else None
    return EdgeRollout(
        "edge",
        ctx,
        EdgeArgs(
            iot_hub_id=iot.resource_id,
            iot_hub_host_name=iot.host_name,
            registry_login_server=registry.login_server,
            deployer_principal_id=ctx.deployer_id,
            id_prefix=f"{cfg.workload}-{cfg.environment}",
            target_condition=e.target_condition,
            priority=e.priority,
            registry_username=e.registry_username,
            registry_password=password,
            image_tag=e.image_tag,
            deployments=[EdgeEntry(d.name, d.model, d.model_sha256, d.target_condition, d.priority, d.verified_on_canary) for d in e.deployments],
            device_ip_ranges=[str(r) for r in cfg.iot_hub.device_ip_ranges],
        ),
    )


def retraining_rules(cfg: PlatformConfig) -> list[LogMetricRule]:
    """The alerts that retrain: drift of the collected inputs, and the served model's AUC on late labels."""
    return [
        LogMetricRule("drift", "Share of drifted features at or above the stack's drift.driftShare; triggers retraining",
                      DRIFT_METRIC, "GreaterThanOrEqual", cfg.drift.drift_share),
        LogMetricRule("quality", "The served model's AUC on labelled predictions below training.minAuc; triggers retraining",
                      QUALITY_METRIC, "LessThan", cfg.training.min_auc),
    ]


def promotion_dispatch(promotion: PromotionDispatchConfig | None, vault: KeyVault) -> PromotionDispatch | None:
    """The retrain function's hand-over of submitted jobs to GitHub, when configured with a token."""
    if promotion is None or promotion.token is None:
        return None
    return PromotionDispatch(
        repository=promotion.repository, workflow=promotion.workflow, ref=promotion.ref, token=promotion.token,
        token_secret_name=promotion.token_secret_name, vault_name=vault.resource_name,
        vault_uri=vault.vault_uri,
    )  # fmt: skip


def training_image(cfg: PlatformConfig, registry) -> pulumi.Output[str]:
    """The image the pipeline's steps and the scheduled monitor run in: training.image in the stack's registry."""
    return pulumi.Output.concat(registry.login_server, "/", cfg.training.image)


def monitor_schedule(cfg: PlatformConfig, ctx, workspace, compute, registry, monitoring, serving, shared) -> MonitorJob:
    """The scheduled monitor of the served models: their Capture files in `raw`, the reference profile inside each
    slot's registered model version, the labels; Parquet and reports back into the lake. Bound per deployment slot,
    not to the traffic split: a traffic change leaves the schedule as it is (a model change updates it)."""
    models = {d.name: d.model for d in cfg.serving.deployments}
    lake = lambda zone, path="": f"azureml://datastores/{zone}/paths/{path}"  # noqa: E731  the workspace's datastores
    command = serving.resource_name.apply(
        lambda endpoint: contracts.job_command(cfg.environment, endpoint, models, cfg.monitoring.window, cfg.monitoring.label_window)
    )
    slots = {contracts.model_input(slot): JobPort("mlflow_model", registry_asset_id(shared.registry_name, "models", model), "ReadOnlyMount")
             for slot, model in models.items()}  # fmt: skip
    return MonitorJob(
        "monitor",
        ctx,
        MonitorJobArgs(
            workspace_name=workspace.resource_name,
            compute_id=compute.resource_id,
            image=training_image(cfg, registry),
            command=command,
            inputs={
                # The raw zone's root: Capture names its files {Namespace}/{EventHub}/... in it (components/eventhubs.py),
                # and the monitor reads those of the predictions hub (pipelines.collect.capture_files).
                "captures": JobPort("uri_folder", lake("raw"), "ReadOnlyMount"),
                "labels": JobPort("uri_folder", lake("labels"), "ReadOnlyMount"),
                **slots,
            },
            outputs={
                "predictions": JobPort("uri_folder", lake("predictions"), "ReadWriteMount"),
                "reports": JobPort("uri_folder", lake("monitoring"), "ReadWriteMount"),
            },
            environment_variables={
                contracts.DRIFT_CONFIG_ENV: cfg.drift.model_dump_json(by_alias=True),
                # "The connection string isn't considered a security token or key" (Application Insights connection
                # strings); ingestion here needs an Entra token besides. Kept unsecret so the schedule stays reviewable.
                APPINSIGHTS_ENV: pulumi.Output.unsecret(monitoring.application_insights_connection_string),
            },
            cron=cfg.monitoring.schedule,
            experiment_name=contracts.experiment_name(cfg.environment),
        ),
    )


def collection(d, naming, events: EventHubs) -> dict[str, pulumi.Input[str]]:
    """Where a deployment's scoring script sends each scored request (pipelines/collect.py): the `predictions` hub,
    with the endpoint, slot and model as metadata."""
    return contracts.collection_env(endpoint_name(naming), d.name, d.model, namespace=events.namespace_fqdn)


def deployment_spec(d, default_environment: str | None, environment_variables: dict[str, pulumi.Input[str]]) -> DeploymentSpec:
    probe = lambda p: ProbeSpec(p.initial_delay_seconds, p.period_seconds, p.timeout_seconds, p.failure_threshold)  # noqa: E731
    return DeploymentSpec(
        name=d.name,
        model=d.model,
        environment=d.environment or default_environment,
        instance_type=d.instance_type,
        instance_count=d.instance_count,
        request_timeout_ms=d.request_timeout_ms,
        max_concurrent_requests_per_instance=d.max_concurrent_requests_per_instance,
        liveness_probe=probe(d.liveness_probe),
        readiness_probe=probe(d.readiness_probe),
        environment_variables=environment_variables,
    )


def batch_spec(cfg: PlatformConfig) -> BatchDeploymentSpec | None:
    b = cfg.batch
    if not b.model:
        return None
    return BatchDeploymentSpec(b.model, b.mini_batch_size, b.max_retries, b.retry_timeout_seconds,
                               b.max_concurrency_per_instance, b.instance_count, b.error_threshold)  # fmt: skip


def flow_grants(cfg: PlatformConfig, core: Core, ingestion: Ingestion, ml: Ml, trigger: RetrainTrigger,
                runners: CiRunners | None, shared: SharedOutputs) -> list[Grant]:
    """The run-time data-plane roles of the platform's flows (README, "Flows"), narrowest scope first."""
    workspace, lake, vault, registry, monitoring = ml.workspace, core.lake, core.vault, core.registry, core.monitoring
    hub = ingestion.hub_id
    ws_storage, cluster = workspace.storage_account_id, ml.compute.principal_id
    grants = [
        Grant("workspace-lake", workspace.principal_id, "Storage Blob Data Contributor", lake.resource_id),
        Grant("workspace-secrets", workspace.principal_id, "Key Vault Secrets User", vault.resource_id),
        Grant("workspace-push-images", workspace.principal_id, "AcrPush", registry.resource_id),
        # Jobs write outputs, logs and MLflow artifacts to the workspace's storage; batch (ParallelRunStep)
        # uses its queues and tables (how-to-disable-local-auth-storage).
        Grant("compute-workspace-blobs", cluster, "Storage Blob Data Contributor", ws_storage),
        Grant("compute-workspace-queues", cluster, "Storage Queue Data Contributor", ws_storage),
        Grant("compute-workspace-tables", cluster, "Storage Table Data Contributor", ws_storage),
        Grant("compute-read-raw", cluster, "Storage Blob Data Reader", lake.container_ids["raw"]),
        Grant("compute-write-curated", cluster, "Storage Blob Data Contributor", lake.container_ids["curated"]),
        Grant("compute-write-features", cluster, "Storage Blob Data Contributor", lake.container_ids["features"]),
        Grant("compute-secrets", cluster, "Key Vault Secrets User", vault.resource_id),
        Grant("compute-pull-images", cluster, "AcrPull", registry.resource_id),
        Grant("compute-read-registry", cluster, "AzureML Registry User", shared.registry_id),
        # The feature builder reads its consumer group of the telemetry hub.
        Grant("compute-read-telemetry", cluster, "Azure Event Hubs Data Receiver", hub("telemetry")),
        # The scheduled monitor (the cluster's identity): reads the captures in `raw` and the labels, writes the
        # Parquet predictions and its reports, publishes its metrics.
        Grant("compute-write-predictions", cluster, "Storage Blob Data Contributor", lake.container_ids["predictions"]),
        Grant("compute-read-labels", cluster, "Storage Blob Data Reader", lake.container_ids["labels"]),
        Grant("compute-write-monitoring", cluster, "Storage Blob Data Contributor", lake.container_ids["monitoring"]),
        Grant("compute-publish-metrics", cluster, "Monitoring Metrics Publisher", monitoring.application_insights_id),
    ]
    if runners is not None:
        ci = runners.runner_principal_id
        grants += [
            Grant("ci-workspace", ci, "AzureML Data Scientist", workspace.resource_id),
            Grant("ci-code-snapshots", ci, "Storage Blob Data Contributor", ws_storage),
            Grant("ci-registry-assets", ci, "AzureML Registry User", shared.registry_id),
            Grant("ci-function-package", ci, "Storage Blob Data Contributor", trigger.package_container_id),
            Grant("ci-function-deploy", ci, "Website Contributor", trigger.resource_id),
        ]
    for index, operator in enumerate(cfg.access.operators):
        grants += [
            Grant(f"operator-{index}-workspace", operator.object_id, "AzureML Data Scientist", workspace.resource_id, operator.type),
            Grant(f"operator-{index}-logs", operator.object_id, "Log Analytics Reader", monitoring.resource_id, operator.type),
        ]
    return grants


def metric_rules(
    thresholds: AlertsConfig, serving: OnlineServing, events: EventHubs, iot: IotHub, lake: DataLake
) -> list[MetricRule]:
    """The metric alerts per stack: serving latency and errors, deployment saturation, ingestion, storage."""
    rules = [
        MetricRule("latency", "Online endpoint latency above threshold (ms)", serving.resource_id, ENDPOINTS_NS,
                   "RequestLatency", "GreaterThan", thresholds.latency_ms),
        MetricRule("http-5xx", "Online endpoint 5xx responses per minute", serving.resource_id, ENDPOINTS_NS,
                   "RequestsPerMinute", "GreaterThan", thresholds.http_5xx_per_minute, "Average",
                   {"statusCodeClass": ["5xx"]}),
        MetricRule("eventhubs-throttled", "Event Hubs throttled requests", events.resource_id,
                   "Microsoft.EventHub/namespaces", "ThrottledRequests", "GreaterThan", thresholds.throttled_requests,
                   "Total"),
        MetricRule("iot-routing-dropped", "IoT Hub telemetry dropped by routing", iot.resource_id, "Microsoft.Devices/IotHubs",
                   "d2c.telemetry.egress.dropped", "GreaterThanOrEqual", thresholds.routing_failures, "Total"),
        MetricRule("storage-availability", "Data lake availability below threshold (%)", lake.resource_id,
                   "Microsoft.Storage/storageAccounts", "Availability", "LessThan",
                   thresholds.storage_availability_percent),
    ]
    for deployment in serving.deployment_names:
        scope = serving.deployment_ids.apply(lambda ids, d=deployment: ids[d])
        rules += [
            MetricRule(f"{deployment}-cpu", f"Deployment {deployment} CPU utilization (%)", scope, DEPLOYMENTS_NS,
                       "CpuUtilizationPercentage", "GreaterThan", thresholds.cpu_percent),
            MetricRule(f"{deployment}-memory", f"Deployment {deployment} memory utilization (%)", scope,
                       DEPLOYMENTS_NS, "CpuMemoryUtilizationPercentage", "GreaterThan", thresholds.memory_percent),
        ]
    return rules
