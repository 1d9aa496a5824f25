"""Stack rules: what no single resource can show (protection, locks, diagnostics, traffic, alert wiring).

AnalyzeStack hands these rules every resource of the stack, with its outputs when the engine has them
(ids, computed names) and its inputs otherwise. Preview-time unknowns never produce a violation: a rule
reads with `peek`, falls back to the dependency graph where a reference is unknown, and skips a resource it
cannot judge.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import PolicyResource, Severity
from pulumi_policy.proxy import UnknownValueError

from .base import OPERATIONS, RELIABILITY, REQUIRED_SETTING, Settings, StackRule
from .graph import kind, references, text
from .monitoring import action_group_ids
from .references import References
from .resource_types import (
    ACTION_GROUP,
    ALERTS,
    DIAGNOSTIC_SETTING,
    DYNAMIC,
    LOG_SOURCES,
    MANAGEMENT_LOCK,
    ML_WORKSPACE,
    ONLINE_DEPLOYMENT,
    PROTECTED,
    TRAFFIC_KIND,
    TYPES,
)
from .values import MISSING, UNKNOWN, as_bool, as_number, is_marker, items, peek, same

Violations = Iterator[tuple[str, str]]



def _log_source(arm_id: str) -> tuple[str, str]:
    """Where a log source's ARM id names it (the segment before its name, lower case) and the input holding that
    name: `.../{resourceGroupName}/providers/Microsoft.KeyVault/vaults/{vaultName}` -> ("/providers/microsoft.keyvault/
    vaults/", "vaultName")."""
    head, _, last = arm_id.rpartition("/{")
    return head[head.rindex("}") + 1 :].lower() + "/", last.rstrip("}")


# Resources that emit logs (the table's `diagnostics` types): where their ARM id names them, and their name's input.
LOG_SOURCE_KEYS = {type_: _log_source(TYPES[type_].arm_id or "") for type_ in LOG_SOURCES}
LOG_ANALYTICS_ID = "/providers/microsoft.operationalinsights/workspaces/"
MAX_MIRROR_PERCENT = 50


# --- stateful resources are protected ----------------------------------------------------------------------------


def _unprotected(resources: list[PolicyResource], _settings: Settings) -> Violations:
    for resource in resources:
        if resource.resource_type in PROTECTED and not resource.opts.protect:
            yield resource.urn, f"{kind(resource)} '{resource.name}' is not protected"


stateful_protected = StackRule(
    name="stateful-resources-protected",
    description="Stateful resources (storage, Key Vault, registries, ML workspace, Event Hubs, IoT Hub) are protected.",
    check=_unprotected,
    severity=Severity.HIGH,
    pillar=RELIABILITY,
    remediation="set stack config protect: true (components protect stateful children with child(stateful=True))",
    why=(
        "An unprotected stateful resource is deleted by any `pulumi up` that no longer declares it, or replaced by a "
        "change to a create-only property; its data goes with it."
    ),
    references=References(docs="https://www.pulumi.com/docs/iac/concepts/options/protect/"),
)


# --- stateful resources are locked against deletion ---------------------------------------------------------------

LOCK_LEVEL = "CanNotDelete"
# A lock is inherited by every child resource (lock-resources, "Lock inheritance"). On the ML workspace that blocks
# deleting online deployments, which every rollout does (promote --complete / --rollback): the workspace is protected
# and soft-deleted for 14 days instead, and components/mlworkspace.py does not lock it.
LOCK_EXEMPT = (ML_WORKSPACE,)
LOCKED = tuple(type_ for type_ in PROTECTED if type_ not in LOCK_EXEMPT)


def _unlocked(resources: list[PolicyResource], settings: Settings) -> Violations:
    if as_bool(settings["required"]) is not True:
        return  # an environment that deletes and re-creates its stack (dev) opts out
    locks = [r for r in resources if r.resource_type == MANAGEMENT_LOCK and same(peek(r.props, "level"), LOCK_LEVEL)]
    scopes = {scope.rstrip("/") for scope in (text(lock.props, "scope") for lock in locks) if scope}
    # Where ids are not known yet (a preview), the lock's scope was computed from the resource: its dependency says which.
    depended_on = {r.urn for lock in locks for r in references(lock, "scope")}
    for resource in (r for r in resources if r.resource_type in LOCKED):
        resource_id = text(resource.props, "id")
        if resource_id in scopes or (resource_id is None and resource.urn in depended_on):
            continue
        yield resource.urn, f"{kind(resource)} '{resource.name}' has no {LOCK_LEVEL} lock scoped to it"


stateful_locked = StackRule(
    name="stateful-resources-locked",
    description="Stateful resources outside dev (storage, Key Vault, registries, Event Hubs, IoT Hub; not the ML "
    "workspace) have a CanNotDelete lock scoped to them.",
    check=_unlocked,
    config=REQUIRED_SETTING,
    severity=Severity.HIGH,
    pillar=RELIABILITY,
    remediation="set stack config locks: true (components lock what they create with child(stateful=True))",
    why=(
        "protect stops only Pulumi from deleting a resource; a CanNotDelete lock stops everyone else (portal, CLI, "
        "another pipeline, a resource-group delete) until someone allowed Microsoft.Authorization/locks/delete lifts it."
    ),
    references=References(
        docs=(
            "https://learn.microsoft.com/azure/azure-resource-manager/management/lock-resources",
            "https://learn.microsoft.com/azure/storage/common/lock-account-resource",
            "https://learn.microsoft.com/rest/api/resources/management-locks/create-or-update-at-resource-level",
            "https://azure.github.io/Azure-Verified-Modules/specs/shared/interfaces/#resource-locks",
        ),
        note="PSRule for Azure and Checkov's ARM checks have no lock rule.",
    ),
)


# --- every log source has a diagnostic setting to Log Analytics ------------------------------------------------


def _source_keys(resource: PolicyResource) -> list[str] | None:
    """How a diagnostic setting's resourceUri names this resource: its id, or its ARM type path and name.

    None when neither is known (a preview-time name): the resource cannot be judged.
    """
    segment, name_key = LOG_SOURCE_KEYS[resource.resource_type]
    keys = [key for key in (text(resource.props, "id"),) if key]
    for name in {text(resource.props, name_key), text(resource.props, "name")} - {None}:
        keys.append(f"{segment}{name}")
    return keys or None


def _sends_logs_to_log_analytics(setting: PolicyResource) -> bool:
    workspace = peek(setting.props, "workspaceId")
    if isinstance(workspace, str) and LOG_ANALYTICS_ID not in workspace.lower():
        return False
    if not isinstance(workspace, str) and workspace is not UNKNOWN:
        return False
    logs = peek(setting.props, "logs")
    if logs is UNKNOWN:
        return True  # not known during preview: do not claim a gap
    try:
        return any(as_bool(peek(entry, "enabled")) is True for entry in items(logs))
    except UnknownValueError:
        return True


def _covers(uri: str, keys: list[str]) -> bool:
    target = uri + "/"
    return any(f"{key}/" in target for key in keys)


def _without_diagnostics(resources: list[PolicyResource], _settings: Settings) -> Violations:
    sources = {r.urn: r for r in resources if r.resource_type in LOG_SOURCE_KEYS}
    covered: set[str] = set()
    uris: list[str] = []
    for setting in (r for r in resources if r.resource_type == DIAGNOSTIC_SETTING):
        if not _sends_logs_to_log_analytics(setting):
            continue
        uri = text(setting.props, "resourceUri")
        if uri:
            uris.append(uri)
        elif peek(setting.props, "resourceUri") is UNKNOWN:
            covered.update(r.urn for r in references(setting, "resourceUri"))
    for urn, source in sources.items():
        keys = _source_keys(source)
        if urn in covered or keys is None or any(_covers(uri, keys) for uri in uris):
            continue
        yield urn, f"{kind(source)} '{source.name}' has no diagnostic setting sending its logs to Log Analytics"


diagnostics_to_log_analytics = StackRule(
    name="diagnostics-to-log-analytics",
    description="Every resource that emits logs has a diagnostic setting sending them to Log Analytics.",
    check=_without_diagnostics,
    severity=Severity.MEDIUM,
    pillar=OPERATIONS,
    remediation="call components.diagnostics.send_diagnostics for the resource (all logs to the stack's workspace)",
    why=(
        "Without a diagnostic setting a resource's logs are not kept anywhere, so access, failures and attacks go "
        "unrecorded."
    ),
    references=References(
        psrule="Azure.KeyVault.Logs",
        docs=(
            "https://learn.microsoft.com/azure/azure-monitor/essentials/diagnostic-settings",
            "https://learn.microsoft.com/azure/storage/blobs/monitor-blob-storage",
            "https://learn.microsoft.com/azure/key-vault/general/monitor-key-vault",
            "https://learn.microsoft.com/azure/container-registry/monitor-container-registry",
            "https://learn.microsoft.com/azure/machine-learning/monitor-azure-machine-learning",
            "https://learn.microsoft.com/azure/event-hubs/monitor-event-hubs",
            "https://learn.microsoft.com/azure/iot-hub/monitor-iot-hub",
            "https://learn.microsoft.com/azure/machine-learning/how-to-monitor-online-endpoints",
        ),
        note="PSRule has a logs rule for Key Vault only; the other services cite their monitoring documents.",
    ),
)


# --- the endpoint's traffic split is valid -----------------------------------------------------------------------


def _percentages(props: Mapping[str, Any], path: str) -> dict[str, float] | None:
    """A deployment -> percent map, {} when absent; None when it cannot be judged (unknown, wrong type)."""
    value = peek(props, path)
    if value is UNKNOWN or (not is_marker(value) and not isinstance(value, Mapping)):
        return None
    try:
        shares = {} if is_marker(value) else {str(k): as_number(value[k]) for k in value}
    except UnknownValueError:
        return None
    return shares if all(isinstance(v, (int, float)) for v in shares.values()) else None


def _declared_deployments(resources: list[PolicyResource], endpoint: str | None) -> set[str] | None:
    """Deployment names the stack declares for an endpoint; None when it declares none we can read."""
    names = {
        text(r.props, "deploymentName")
        for r in resources
        if r.resource_type == ONLINE_DEPLOYMENT and endpoint and text(r.props, "endpointName") == endpoint
    } - {None}
    return names or None


def _names(props: Mapping[str, Any], path: str) -> list[str] | None:
    """A list of names, [] when absent; None when it cannot be judged (unknown, wrong type)."""
    value = peek(props, path)
    if value is MISSING:
        return []
    if is_marker(value) or isinstance(value, (str, Mapping)):
        return None
    try:
        return [name for name in items(value) if isinstance(name, str)]
    except UnknownValueError:
        return None


def _traffic_problems(resource: PolicyResource, resources: list[PolicyResource]) -> Iterator[str]:
    props = resource.props
    traffic, mirror = _percentages(props, "traffic"), _percentages(props, "mirrorTraffic")
    listed = _names(props, "deployments")
    if traffic is not None and listed is not None:
        total, expected = sum(traffic.values()), 100 if listed else 0
        if total != expected:
            yield f"traffic sums to {total:g}, not {expected}"
    declared = _declared_deployments(resources, text(props, "endpointName"))
    for label, shares in (("traffic", traffic), ("mirrorTraffic", mirror)):
        for name in sorted(shares or {}):
            if (listed is not None and name not in listed) or (declared is not None and name.lower() not in declared):
                yield f"{label} names deployment '{name}', which does not exist"
    for name, percent in sorted((mirror or {}).items()):
        if percent > MAX_MIRROR_PERCENT:
            yield f"mirrorTraffic sends {percent:g}% to '{name}'; at most {MAX_MIRROR_PERCENT}% may be mirrored"


def _invalid_traffic(resources: list[PolicyResource], _settings: Settings) -> Violations:
    for resource in resources:
        if resource.resource_type == DYNAMIC and peek(resource.props, "kind") == TRAFFIC_KIND:
            for problem in _traffic_problems(resource, resources):
                yield resource.urn, f"endpoint traffic '{resource.name}': {problem}"


endpoint_traffic_valid = StackRule(
    name="endpoint-traffic-valid",
    description="The online endpoint's traffic sums to 100 and names only deployments that exist.",
    check=_invalid_traffic,
    severity=Severity.HIGH,
    pillar=RELIABILITY,
    remediation="fix the traffic map in stacks/Pulumi.<env>.yaml (python -m mlops promote keeps it valid)",
    why=(
        "Azure ML rejects a traffic map that does not sum to 100 or names a deployment that does not exist, and "
        "mirrors at most 50%."
    ),
    references=References(
        docs="https://learn.microsoft.com/azure/machine-learning/how-to-safely-rollout-online-endpoints",
    ),
)


# --- every alert targets an action group of the stack ------------------------------------------------------------


def _unwired_alerts(resources: list[PolicyResource], _settings: Settings) -> Violations:
    groups = [r for r in resources if r.resource_type == ACTION_GROUP]
    ids = {text(g.props, "id") for g in groups} - {None}
    names = {text(g.props, key) for g in groups for key in ("actionGroupName", "name")} - {None}
    for alert in (r for r in resources if r.resource_type in ALERTS):
        try:
            targets = [target.lower() for target in action_group_ids(alert.props) or []]
        except UnknownValueError:
            continue  # ids computed during preview: the dependency on the action group carries the wiring
        for target in targets:
            if target in ids or (target.rsplit("/actiongroups/", 1)[-1] in names and "/actiongroups/" in target):
                continue
            yield alert.urn, f"{kind(alert)} '{alert.name}' targets {target}, which is not an action group of this stack"


alerts_target_action_group = StackRule(
    name="alerts-target-existing-action-group",
    description="Every alert rule notifies an action group declared in the same stack.",
    check=_unwired_alerts,
    severity=Severity.HIGH,
    pillar=OPERATIONS,
    remediation="pass the stack's action group id (monitoring outputs) to the alert's actions",
    why="An alert that targets an action group outside the stack notifies whoever owns that group, or no one.",
    references=References(docs="https://learn.microsoft.com/azure/azure-monitor/alerts/action-groups"),
)
