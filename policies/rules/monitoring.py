"""Monitoring: Log Analytics, Application Insights, action groups and alert rules."""

from collections.abc import Mapping
from typing import Any

from pulumi_policy import Severity

from .base import OPERATIONS, SECURITY, ResourceRule, at_least, expect
from .references import References
from .resource_types import ACTION_GROUP, APP_INSIGHTS, LOG_ANALYTICS, METRIC_ALERT, SCHEDULED_QUERY_RULE
from .values import MISSING, WRONG_TYPE, as_list, as_text, get, items

RETENTION_DAYS = {"minDays": {"type": "number", "minimum": 30, "maximum": 730, "default": 90}}
RECEIVER_KEYS = (
    "emailReceivers",
    "webhookReceivers",
    "smsReceivers",
    "azureAppPushReceivers",
    "armRoleReceivers",
    "azureFunctionReceivers",
    "logicAppReceivers",
    "automationRunbookReceivers",
    "voiceReceivers",
    "itsmReceivers",
    "eventHubReceivers",
)

loganalytics_local_auth = ResourceRule(
    name="loganalytics-local-auth-disabled",
    description="Log Analytics accepts only Entra ID authentication (no workspace keys).",
    types=(LOG_ANALYTICS,),
    check=expect("features.disableLocalAuth", True, default=False),
    severity=Severity.MEDIUM,
    pillar=SECURITY,
    remediation="set features.disable_local_auth=True on the workspace",
    why="Workspace keys let any holder send or read logs without an identity.",
    references=References(docs="https://learn.microsoft.com/azure/azure-monitor/logs/azure-ad-authentication-logs"),
)

loganalytics_retention = ResourceRule(
    name="loganalytics-retention",
    description="Log Analytics keeps logs for at least the environment's retention.",
    types=(LOG_ANALYTICS,),
    check=at_least("retentionInDays", "minDays", default=30),
    config=RETENTION_DAYS,
    severity=Severity.MEDIUM,
    pillar=OPERATIONS,
    remediation="set stack config monitoring.logRetentionDays to at least minDays",
    why="Logs deleted too early cannot answer an incident or an audit.",
    references=References(docs="https://learn.microsoft.com/azure/azure-monitor/logs/data-retention-configure"),
)

appinsights_local_auth = ResourceRule(
    name="appinsights-local-auth-disabled",
    description="Application Insights accepts telemetry only from Entra ID identities (no instrumentation key).",
    types=(APP_INSIGHTS,),
    check=expect("disableLocalAuth", True, default=False),
    severity=Severity.MEDIUM,
    pillar=SECURITY,
    remediation="set disable_local_auth=True and grant Monitoring Metrics Publisher to the senders",
    why=(
        "Anyone with the instrumentation key can send telemetry; Entra ID authentication accepts only granted "
        "identities."
    ),
    references=References(
        psrule="Azure.AppInsights.LocalAuth",
        docs="https://learn.microsoft.com/azure/azure-monitor/app/azure-ad-authentication",
    ),
)

appinsights_workspace_based = ResourceRule(
    name="appinsights-workspace-based",
    description="Application Insights stores its data in the stack's Log Analytics workspace.",
    types=(APP_INSIGHTS,),
    check=lambda props, _settings: _workspace_based(props),
    severity=Severity.MEDIUM,
    pillar=OPERATIONS,
    remediation="set workspace_resource_id to the Log Analytics workspace id",
    why=(
        "Classic Application Insights is retired; workspace-based resources keep telemetry with the rest of the "
        "stack's logs."
    ),
    references=References(
        psrule="Azure.AppInsights.Workspace",
        docs="https://learn.microsoft.com/azure/azure-monitor/app/convert-classic-resource",
    ),
)

appinsights_retention = ResourceRule(
    name="appinsights-retention",
    description="Application Insights keeps telemetry for at least the environment's retention.",
    types=(APP_INSIGHTS,),
    check=at_least("retentionInDays", "minDays", default=90),
    config=RETENTION_DAYS,
    severity=Severity.LOW,
    pillar=OPERATIONS,
    remediation="set stack config monitoring.logRetentionDays to at least minDays",
    why="Telemetry deleted too early cannot answer an incident.",
    references=References(docs="https://learn.microsoft.com/azure/azure-monitor/logs/data-retention-configure"),
)

action_group_enabled = ResourceRule(
    name="action-group-enabled",
    description="Action groups are enabled, so alerts reach someone.",
    types=(ACTION_GROUP,),
    check=expect("enabled", True, default=True),
    severity=Severity.HIGH,
    pillar=OPERATIONS,
    remediation="set enabled=True on the action group",
    why="A disabled action group silently drops every alert.",
    references=References(docs="https://learn.microsoft.com/azure/azure-monitor/alerts/action-groups"),
)

action_group_receivers = ResourceRule(
    name="action-group-has-receiver",
    description="Action groups notify at least one receiver (e-mail, webhook, ...).",
    types=(ACTION_GROUP,),
    check=lambda props, _settings: _has_receiver(props),
    severity=Severity.HIGH,
    pillar=OPERATIONS,
    remediation="add an email or webhook receiver to the action group (stack config alerts)",
    why="An action group without receivers notifies no one.",
    references=References(docs="https://learn.microsoft.com/azure/azure-monitor/alerts/action-groups"),
)

alert_enabled = ResourceRule(
    name="alert-enabled",
    description="Metric alerts and scheduled query alerts are enabled.",
    types=(METRIC_ALERT, SCHEDULED_QUERY_RULE),
    check=expect("enabled", True, default=True),
    severity=Severity.MEDIUM,
    pillar=OPERATIONS,
    remediation="set enabled=True on the alert rule",
    why="A disabled alert rule never fires.",
    references=References(docs="https://learn.microsoft.com/azure/azure-monitor/alerts/alerts-overview"),
)

alert_has_action = ResourceRule(
    name="alert-has-action",
    description="Every alert rule notifies an action group.",
    types=(METRIC_ALERT, SCHEDULED_QUERY_RULE),
    check=lambda props, _settings: _has_action(props),
    severity=Severity.HIGH,
    pillar=OPERATIONS,
    remediation="add the stack's action group to the alert's actions",
    why="An alert without an action group fires unseen.",
    references=References(
        docs=(
            "https://learn.microsoft.com/azure/azure-monitor/alerts/alerts-overview",
            "https://learn.microsoft.com/azure/azure-monitor/alerts/action-groups",
        ),
    ),
)


def _workspace_based(props: Mapping[str, Any]) -> list[str]:
    workspace = as_text(get(props, "workspaceResourceId"))
    return ["workspaceResourceId is not set; it must name a Log Analytics workspace"] if workspace in (MISSING, "") else []


def _has_receiver(props: Mapping[str, Any]) -> list[str]:
    if any(items(get(props, key)) for key in RECEIVER_KEYS):
        return []
    return ["the action group has no receivers"]


def action_group_ids(props: Mapping[str, Any]) -> list[str] | None:
    """The action group ids an alert notifies: metric alerts `actions[].actionGroupId`, query rules
    `actions.actionGroups[]`; ids that are not non-empty strings are left out. None: actions of a wrong type."""
    actions = get(props, "actions")
    if isinstance(actions, Mapping):
        actions = get(actions, "actionGroups")
        ids = None if as_list(actions) is WRONG_TYPE else items(actions)
    else:
        ids = None if as_list(actions) is WRONG_TYPE else [get(action, "actionGroupId") for action in items(actions)]
    return None if ids is None else [value for value in ids if isinstance(value, str) and value]


def _has_action(props: Mapping[str, Any]) -> list[str]:
    return [] if action_group_ids(props) != [] else ["the alert has no action group in its actions"]
