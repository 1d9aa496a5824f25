"""The composition: which components each stack gets and how they are wired. Settings come from the config."""

from __future__ import annotations

import pulumi
from pulumi_azure_native import authorization, resources

from components.alerts import ENDPOINTS_NS, DEPLOYMENTS_NS, Alerts, AlertsArgs, MetricRule
from components.batch import BatchScoring, BatchScoringArgs
from components.compute import ComputeCluster, ComputeClusterArgs
from components.context import PlatformContext, standard_tags
from components.datalake import DataLake, DataLakeArgs
from components.eventhubs import EventHubs, EventHubsArgs, HubArgs
from components.iothub import IotHub, IotHubArgs
from components.keyvault import KeyVault, KeyVaultArgs
from components.mlworkspace import MlWorkspace, MlWorkspaceArgs
from components.monitoring import Monitoring, MonitoringArgs
from components.registry import ContainerRegistry, RegistryArgs
from components.roles import Grant, WorkloadAccess
from components.serving import OnlineServing, OnlineServingArgs
from components.retrain_trigger import RetrainTrigger, RetrainTriggerArgs
from pipelines.metrics import DRIFT_METRIC
from stacks.config import AlertsConfig, PlatformConfig, load_program_config
from stacks.outputs import StackOutputs, contract_keys, export_outputs


def build_platform(cfg: PlatformConfig | None = None) -> None:
    """Declare every resource of the current stack and export the outputs contract."""
    cfg = cfg or load_program_config()
    naming = cfg.naming
    public = cfg.network.public_network_access
    tags = standard_tags(naming, cfg.owner, cfg.cost_center, cfg.extra_tags)

    group = resources.ResourceGroup(
        "platform-rg",
        resource_group_name=naming.name("rg"),
        location=cfg.location,
        tags=tags,
        opts=pulumi.ResourceOptions(protect=cfg.protect),
    )
    ctx = PlatformContext(
        naming=naming, tags=tags, location=cfg.location, resource_group_name=group.name, protect=cfg.protect
    )

    monitoring = Monitoring(
        "monitoring",
        ctx,
        MonitoringArgs(retention_days=cfg.monitoring.log_retention_days, public_network_access=public),
    )
    ctx = ctx.with_diagnostics(monitoring.log_analytics_workspace_id)

    lake = DataLake(
        "lake",
        ctx,
        DataLakeArgs(
            sku=cfg.storage.sku,
            public_network_access=public,
            blob_soft_delete_days=cfg.storage.blob_soft_delete_days,
            container_soft_delete_days=cfg.storage.container_soft_delete_days,
            raw_to_cool_after_days=cfg.storage.raw_to_cool_after_days,
        ),
    )
    client = authorization.get_client_config_output()
    vault = KeyVault(
        "vault",
        ctx,
        KeyVaultArgs(
            tenant_id=client.tenant_id,
            sku=cfg.key_vault.sku,
            soft_delete_retention_days=cfg.key_vault.soft_delete_retention_days,
            public_network_access=public,
        ),
    )
    registry = ContainerRegistry(
        "registry",
        ctx,
        RegistryArgs(sku=cfg.registry.sku, public_network_access=public, zone_redundant=cfg.is_production),
    )
    workspace = MlWorkspace(
        "workspace",
        ctx,
        MlWorkspaceArgs(
            storage_account_id=lake.storage_account_id,
            key_vault_id=vault.key_vault_id,
            registry_id=registry.registry_id,
            application_insights_id=monitoring.application_insights_id,
            public_network_access=public,
            isolation_mode=cfg.workspace.isolation_mode,
        ),
    )
    compute = ComputeCluster(
        "compute",
        ctx,
        ComputeClusterArgs(
            workspace_name=workspace.workspace_name,
            vm_size=cfg.compute.vm_size,
            vm_priority=cfg.compute.vm_priority,
            min_nodes=cfg.compute.min_nodes,
            max_nodes=cfg.compute.max_nodes,
            idle_minutes_before_scale_down=cfg.compute.idle_minutes_before_scale_down,
            node_public_ip=cfg.compute.node_public_ip,
        ),
    )

    access_grants = [
        Grant("workspace-lake", workspace.principal_id, "Storage Blob Data Contributor", lake.storage_account_id),
        Grant("workspace-secrets", workspace.principal_id, "Key Vault Secrets User", vault.key_vault_id),
        Grant("workspace-push-images", workspace.principal_id, "AcrPush", registry.registry_id),
        Grant("compute-read-raw", compute.principal_id, "Storage Blob Data Reader", lake.container_ids["raw"]),
        Grant("compute-write-curated", compute.principal_id, "Storage Blob Data Contributor", lake.container_ids["curated"]),
        Grant("compute-write-features", compute.principal_id, "Storage Blob Data Contributor", lake.container_ids["features"]),
        Grant("compute-secrets", compute.principal_id, "Key Vault Secrets User", vault.key_vault_id),
        Grant("compute-pull-images", compute.principal_id, "AcrPull", registry.registry_id),
    ]
    WorkloadAccess("access", ctx, client.subscription_id, access_grants)

    hubs = cfg.event_hubs
    events = EventHubs(
        "events",
        ctx,
        EventHubsArgs(
            subscription_id=client.subscription_id,
            capture_account_id=lake.storage_account_id,
            capture_container_name="raw",
            capture_container_id=lake.container_ids["raw"],
            hubs={
                hub: HubArgs(h.partitions, h.retention_hours, tuple(h.consumer_groups)) for hub, h in hubs.hubs.items()
            },
            sku=hubs.sku,
            capacity=hubs.capacity,
            public_network_access=public,
            zone_redundant=cfg.is_production,
            capture_enabled=hubs.capture.enabled,
            capture_interval_seconds=hubs.capture.interval_seconds,
            capture_size_limit_mb=hubs.capture.size_limit_mb,
        ),
    )
    iot = IotHub(
        "iot",
        ctx,
        IotHubArgs(
            subscription_id=client.subscription_id,
            eventhubs_namespace_fqdn=events.namespace_fqdn,
            telemetry_hub_name="telemetry",
            telemetry_hub_id=events.hub_ids.apply(lambda ids: ids["telemetry"]),
            storage_blob_endpoint=lake.blob_endpoint,
            raw_container_name="raw",
            raw_container_id=lake.container_ids["raw"],
            sku=cfg.iot_hub.sku,
            units=cfg.iot_hub.units,
            public_network_access=public,
            cold_path_batch_seconds=cfg.iot_hub.cold_path_batch_seconds,
        ),
    )
    serving = OnlineServing(
        "online",
        ctx,
        OnlineServingArgs(
            subscription_id=client.subscription_id,
            workspace_id=workspace.workspace_id,
            workspace_name=workspace.workspace_name,
            registry_id=registry.registry_id,
            registry_login_server=registry.login_server,
            storage_account_id=lake.storage_account_id,
            environment_image=cfg.serving.environment_image,
            deployments=cfg.serving.deployments,
            traffic=cfg.serving.traffic,
            mirror_traffic=cfg.serving.mirror_traffic,
            auth_mode=cfg.serving.auth_mode,
            public_network_access=public,
            egress_public_network_access=public,
        ),
    )
    batch = BatchScoring(
        "batch",
        ctx,
        BatchScoringArgs(
            workspace_id=workspace.workspace_id,
            workspace_name=workspace.workspace_name,
            compute_id=compute.compute_id,
            output_uri=lake.container_urls.apply(lambda urls: urls["curated"] + "/batch-scoring"),
            settings=cfg.batch,
        ),
    )
    outputs = {
        "environment": cfg.environment,
        "resource_group_name": group.name,
        "location": cfg.location,
        "workspace_id": workspace.workspace_id,
        "workspace_name": workspace.workspace_name,
        "compute_name": compute.compute_name,
        "storage_account_name": lake.storage_account_name,
        "container_urls": lake.container_urls,
        "key_vault_uri": vault.key_vault_uri,
        "registry_login_server": registry.login_server,
        "log_analytics_workspace_id": monitoring.log_analytics_workspace_id,
        "application_insights_connection_string": monitoring.application_insights_connection_string,
        "mlflow_tracking_uri": workspace.mlflow_tracking_uri,
        "online_endpoint_name": serving.endpoint_name,
        "scoring_uri": serving.scoring_uri,
        "batch_endpoint_name": batch.endpoint_name,
        "eventhubs_namespace_fqdn": events.namespace_fqdn,
        "event_hub_names": events.hub_names,
        "iot_hub_hostname": iot.hostname,
        # Known before the action group exists (it needs the trigger's webhook): the id from its name.
        "action_group_id": pulumi.Output.concat(
            "/subscriptions/", client.subscription_id, "/resourceGroups/", group.name,
            "/providers/Microsoft.Insights/actionGroups/", naming.name("ag"),
        ),
    }  # fmt: skip
    trigger = RetrainTrigger(
        "retrain",
        ctx,
        RetrainTriggerArgs(
            workspace_id=workspace.workspace_id,
            workspace_name=workspace.workspace_name,
            subscription_id=client.subscription_id,
            application_insights_id=monitoring.application_insights_id,
            application_insights_connection_string=monitoring.application_insights_connection_string,
            stack_outputs=contract_keys({k: v for k, v in outputs.items() if k not in StackOutputs.secret_fields()}),
            training=cfg.training.model_dump(by_alias=True),
            cooldown_minutes=cfg.retrain_trigger.cooldown_minutes,
            maximum_instance_count=cfg.retrain_trigger.maximum_instances,
            storage_public_network_access=cfg.retrain_trigger.storage_public_network_access,
        ),
    )
    webhooks = {"retrain": trigger.webhook_url}
    if cfg.alerts.webhook_url:
        webhooks["webhook"] = pulumi.Output.secret(cfg.alerts.webhook_url)
    alerts = Alerts(
        "alerts",
        ctx,
        AlertsArgs(
            email_receivers=[(r.name, r.address) for r in cfg.alerts.email_receivers],
            webhook_urls=webhooks,
            severity=cfg.alerts.severity,
            metric_rules=metric_rules(cfg.alerts, serving, events, iot, lake),
            drift_scope=monitoring.application_insights_id,
            drift_metric=DRIFT_METRIC,
            drift_threshold=cfg.drift.drift_share,
        ),
    )
    export_outputs({**outputs, "action_group_id": alerts.action_group_id})


def metric_rules(
    thresholds: AlertsConfig, serving: OnlineServing, events: EventHubs, iot: IotHub, lake: DataLake
) -> list[MetricRule]:
    """The metric alerts per stack: serving latency and errors, deployment saturation, ingestion, storage."""
    rules = [
        MetricRule("latency", "Online endpoint latency above threshold (ms)", serving.endpoint_id, ENDPOINTS_NS,
                   "RequestLatency", "GreaterThan", thresholds.latency_ms),
        MetricRule("http-5xx", "Online endpoint 5xx responses per minute", serving.endpoint_id, ENDPOINTS_NS,
                   "RequestsPerMinute", "GreaterThan", thresholds.http_5xx_per_minute, "Total",
                   {"statusCodeClass": ["5xx"]}),
        MetricRule("eventhubs-throttled", "Event Hubs throttled requests", events.namespace_id,
                   "Microsoft.EventHub/namespaces", "ThrottledRequests", "GreaterThan", thresholds.throttled_requests,
                   "Total"),
        MetricRule("iot-routing-dropped", "IoT Hub telemetry dropped by routing", iot.hub_id, "Microsoft.Devices/IotHubs",
                   "d2c.telemetry.egress.dropped", "GreaterThanOrEqual", thresholds.routing_failures, "Total"),
        MetricRule("storage-availability", "Data lake availability below threshold (%)", lake.storage_account_id,
                   "Microsoft.Storage/storageAccounts", "Availability", "LessThan",
                   thresholds.storage_availability_percent),
    ]
    for deployment in serving.deployment_names:
        scope = serving.deployment_ids.apply(lambda ids, d=deployment: ids[d])
        rules += [
            MetricRule(f"{deployment}-cpu", f"Deployment {deployment} CPU utilization (%)", scope, DEPLOYMENTS_NS,
                       "CpuUtilizationPercentage", "GreaterThan", thresholds.cpu_percent),
            MetricRule(f"{deployment}-memory", f"Deployment {deployment} memory utilization (%)", scope,
                       DEPLOYMENTS_NS, "MemoryUtilizationPercentage", "GreaterThan", thresholds.memory_percent),
        ]
    return rules
