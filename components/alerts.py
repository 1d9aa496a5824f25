"""Alerts as code: one action group and the metric and log alerts that watch serving, ingestion and data.

Metric alerts are validated by Azure at creation (a metric name the resource type does not have is refused), so
every rule is checked against the supported-metrics table (`policies/rules/azure/metrics.json`, the same one the
`deploy-metric-alert-metric-exists` rule uses) when it is declared. The action group publishes to the Event Hubs
`alerts` hub, which the retrain function consumes (no secret, no inbound: see retrain_trigger.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import monitor

from components.base import PlatformComponent
from components.context import PlatformContext
from core.azure_facts import metric
from core.naming import Naming

ENDPOINTS_NS = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
DEPLOYMENTS_NS = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments"


def alert_rule_name(naming: Naming, label: str) -> str:
    """An alert rule's name: what the common alert schema carries as essentials.alertRule."""
    return naming.name("alrt", label)


@dataclass(frozen=True)
class MetricRule:
    """One static-threshold metric alert on one resource."""

    label: str
    """The rule's label: its alert rule name (alert_rule_name) and its criterion's name."""
    description: str
    """What the alert means, shown with it."""
    scope: pulumi.Input[str]
    """The id of the one resource the metric is read from."""
    namespace: str
    """The resource type's metric namespace (supported-metrics reference)."""
    metric: str
    """The metric's name, checked against policies/rules/azure/metrics.json."""
    operator: str
    """How the value compares with the threshold (GreaterThan, LessThan, ...)."""
    threshold: float
    """The value that fires the alert (the stack's alerts config)."""
    aggregation: str = "Average"
    """How it aggregates; not configuration: a fact of the metric (Average unless its table says otherwise)."""
    dimensions: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """Dimension filters (name -> values); not configuration: part of the rule's definition, none by default."""

    def __post_init__(self) -> None:
        known = metric(self.namespace, self.metric)  # KeyError: no such metric for this resource type
        if self.aggregation not in known["aggregations"]:
            raise ValueError(f"{self.metric} aggregates with {known['aggregations']}, not {self.aggregation}")
        unknown = set(self.dimensions) - set(known["dimensions"])
        if unknown:
            raise ValueError(f"{self.metric} has no dimension {sorted(unknown)}; it has {known['dimensions']}")


@dataclass(frozen=True)
class LogMetricRule:
    """A log alert on a custom metric the platform publishes to Application Insights (the monitor's drift share,
    the live model's AUC): fires when the worst value of the last hour crosses the threshold."""

    label: str
    """The rule's label: its alert rule name (alert_rule_name)."""
    description: str
    """What the alert means, shown with it."""
    metric: str
    """The custom metric in Application Insights (pipelines/metrics.py)."""
    operator: str
    """GreaterThan (the worst value is the Maximum) or LessThan (the Minimum), or their OrEqual forms."""
    threshold: float
    """The value that fires the alert (the stack's drift and training config)."""

    @property
    def aggregation(self) -> str:
        return "Maximum" if self.operator.startswith("Greater") else "Minimum"

    def fires(self, value: float) -> bool:
        """Whether a value crosses the threshold (the offline loop evaluates the rule as Azure Monitor would)."""
        return {"GreaterThan": value > self.threshold, "GreaterThanOrEqual": value >= self.threshold,
                "LessThan": value < self.threshold, "LessThanOrEqual": value <= self.threshold}[self.operator]


@dataclass(frozen=True)
class EventHubTarget:
    """Where the action group publishes alerts (common alert schema): a hub of the stack's namespace."""

    namespace_name: pulumi.Input[str]
    """The stack's Event Hubs namespace."""
    hub_name: str
    """The hub the action group publishes to."""
    hub_id: pulumi.Input[str]
    """That hub's id: the scope of the action group's Data Sender role."""


@dataclass(frozen=True)
class AlertsArgs:
    email_receivers: Sequence[tuple[str, str]]
    """(receiver name, address) pairs that get every alert."""
    webhook_urls: Mapping[str, pulumi.Input[str]]
    """Receiver name -> webhook URL (a secret), if the stack configures one."""
    retrain: EventHubTarget
    """Where alerts are published for the retrain function."""
    severity: int
    """The severity of every alert rule of the stack."""
    metric_rules: Sequence[MetricRule]
    """The metric alerts (serving, ingestion, storage)."""
    log_scope: pulumi.Input[str]
    """Application Insights, where the monitor's metrics land (the log alerts' scope)."""
    log_rules: Sequence[LogMetricRule]
    """The log alerts on the monitor's custom metrics (the retraining rules)."""


class Alerts(PlatformComponent):
    TYPE = "mlops:monitoring:Alerts"
    OUTPUTS = ("resource_id", "resource_name", "principal_id", "alert_ids")

    def __init__(self, name: str, ctx: PlatformContext, args: AlertsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, ctx, opts)
        group = monitor.ActionGroup(
            f"{name}-ag",
            action_group_name=ctx.naming.name("ag"),
            group_short_name=f"mlops{ctx.naming.environment_code}"[:12],
            resource_group_name=ctx.resource_group_name,
            location="global",
            enabled=True,
            email_receivers=[
                monitor.MicrosoftCommonEmailReceiverArgs(name=receiver, email_address=address, use_common_alert_schema=True)
                for receiver, address in args.email_receivers
            ],
            webhook_receivers=[
                monitor.WebhookReceiverArgs(name=receiver, service_uri=url, use_common_alert_schema=True)
                for receiver, url in args.webhook_urls.items()
            ],
            event_hub_receivers=[
                monitor.EventHubReceiverArgs(
                    name="retrain",
                    event_hub_name_space=args.retrain.namespace_name,
                    event_hub_name=args.retrain.hub_name,
                    subscription_id=ctx.subscription_id,
                    tenant_id=ctx.tenant_id,
                    use_common_alert_schema=True,
                    # Local auth is off on the namespace: publish as the action group's own identity.
                    managed_identity="SystemAssigned",
                )
            ],
            identity=monitor.ManagedServiceIdentityArgs(type="SystemAssigned"),
            tags=ctx.tags,
            opts=self.child(),
        )
        group_principal = group.identity.apply(lambda identity: identity.principal_id if identity else None)
        self.grant("publish-alerts", group_principal, "Azure Event Hubs Data Sender", args.retrain.hub_id)
        actions = [monitor.MetricAlertActionArgs(action_group_id=group.id)]

        def common(rule: MetricRule | LogMetricRule) -> dict:
            """What every alert rule of the stack shares: its name, group, description, state and severity."""
            return {"rule_name": alert_rule_name(ctx.naming, rule.label), "resource_group_name": ctx.resource_group_name,
                        "description": rule.description, "enabled": True, "severity": args.severity, "tags": ctx.tags, "opts": self.child()}  # fmt: skip

        alerts = [
            monitor.MetricAlert(
                f"{name}-{rule.label}",
                **common(rule),
                location="global",
                scopes=[rule.scope],
                evaluation_frequency="PT1M",
                window_size="PT5M",
                auto_mitigate=True,
                criteria=monitor.MetricAlertSingleResourceMultipleMetricCriteriaArgs(
                    odata_type="Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
                    all_of=[
                        monitor.MetricCriteriaArgs(
                            criterion_type="StaticThresholdCriterion",
                            name=rule.label,
                            metric_namespace=rule.namespace,
                            metric_name=rule.metric,
                            operator=rule.operator,
                            threshold=rule.threshold,
                            time_aggregation=rule.aggregation,
                            dimensions=[
                                monitor.MetricDimensionArgs(name=dim, operator="Include", values=list(values))
                                for dim, values in rule.dimensions.items()
                            ]
                            or None,
                        )
                    ],
                ),
                actions=actions,
            )
            for rule in args.metric_rules
        ]
        logged = [
            monitor.ScheduledQueryRule(
                f"{name}-{rule.label}",
                **common(rule),
                location=ctx.location,
                kind="LogAlert",
                scopes=[args.log_scope],
                evaluation_frequency="PT15M",
                window_size="PT1H",
                criteria=monitor.ScheduledQueryRuleCriteriaArgs(
                    all_of=[
                        monitor.ConditionArgs(
                            query=f"customMetrics | where name == '{rule.metric}' | project TimeGenerated = timestamp, value",
                            time_aggregation=rule.aggregation,
                            metric_measure_column="value",
                            operator=rule.operator,
                            threshold=rule.threshold,
                            failing_periods=monitor.ConditionFailingPeriodsArgs(
                                number_of_evaluation_periods=1, min_failing_periods_to_alert=1
                            ),
                        )
                    ]
                ),
                actions=monitor.ActionsArgs(action_groups=[group.id]),
                auto_mitigate=True,
            )
            for rule in args.log_rules
        ]
        self.resource_id: pulumi.Output[str] = group.id
        """The action group's id."""
        self.resource_name: pulumi.Output[str] = group.name
        """The action group's name."""
        self.principal_id: pulumi.Output[str] = group_principal
        """The action group's system-assigned identity (publishes to Event Hubs)."""
        self.alert_ids: pulumi.Output[list[str]] = pulumi.Output.all(*(a.id for a in [*alerts, *logged]))
        """The ids of every metric and log alert rule."""
        self._register()
