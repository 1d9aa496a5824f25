"""The preview report: the documented JSON shape, built once and rendered as text, Markdown or JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from mlops.records import RecordedResource, Secret
from policies.rules import resource_types as t

# Key properties shown per type in text and Markdown (dotted paths into the inputs); JSON has all inputs.
KEY_PROPERTIES: dict[str, tuple[str, ...]] = {
    t.RESOURCE_GROUP: ("resourceGroupName", "location"),
    t.LOG_ANALYTICS: ("workspaceName", "retentionInDays", "features.disableLocalAuth"),
    t.APP_INSIGHTS: ("resourceName", "disableLocalAuth", "ingestionMode"),
    t.STORAGE_ACCOUNT: (
        "accountName",
        "sku.name",
        "isHnsEnabled",
        "publicNetworkAccess",
        "allowSharedKeyAccess",
        "networkRuleSet.defaultAction",
    ),
    t.BLOB_CONTAINER: ("containerName", "publicAccess"),
    t.KEY_VAULT: (
        "vaultName",
        "properties.enablePurgeProtection",
        "properties.enableRbacAuthorization",
        "properties.publicNetworkAccess",
    ),
    t.REGISTRY: ("registryName", "sku.name", "adminUserEnabled", "publicNetworkAccess"),
    t.ML_WORKSPACE: (
        "workspaceName",
        "publicNetworkAccess",
        "managedNetwork.isolationMode",
        "systemDatastoresAuthMode",
    ),
    t.ML_COMPUTE: (
        "computeName",
        "properties.properties.vmSize",
        "properties.properties.scaleSettings.maxNodeCount",
        "properties.properties.enableNodePublicIp",
    ),
    t.DIAGNOSTIC_SETTING: ("name",),
    t.EVENTHUB_NAMESPACE: ("namespaceName", "sku.name", "disableLocalAuth", "minimumTlsVersion", "zoneRedundant"),
    t.EVENTHUB: ("eventHubName", "partitionCount", "captureDescription.enabled"),
    t.IOT_HUB: ("resourceName", "sku.name", "properties.disableLocalAuth", "properties.minTlsVersion"),
    t.ONLINE_ENDPOINT: ("endpointName", "properties.authMode", "properties.publicNetworkAccess"),
    t.ONLINE_DEPLOYMENT: (
        "deploymentName",
        "properties.model",
        "properties.instanceType",
        "sku.capacity",
        "properties.egressPublicNetworkAccess",
    ),
    t.BATCH_DEPLOYMENT: ("deploymentName", "properties.model.assetId"),
    t.DYNAMIC: ("kind", "traffic", "mirrorTraffic"),
    t.ROLE_ASSIGNMENT: ("principalType", "roleDefinitionId", "scope"),
    t.METRIC_ALERT: ("ruleName", "enabled", "severity"),
    t.SCHEDULED_QUERY_RULE: ("ruleName", "enabled", "severity"),
    t.ACTION_GROUP: ("actionGroupName", "enabled"),
    t.WEB_APP: ("name", "httpsOnly", "siteConfig.minTlsVersion"),
}


def masked(value: Any) -> Any:
    """A copy of an input value with every secret replaced by '[secret]' and whole numbers as integers.

    The engine hands every number over as a float; `100.0` for a traffic share would read as a fraction.
    """
    if isinstance(value, Secret):
        return "[secret]"
    if isinstance(value, dict):
        return {k: masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def lookup(inputs: dict[str, Any], path: str) -> Any:
    value: Any = inputs
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return masked(value)


@dataclass
class ResourceEntry:
    urn: str
    type: str
    name: str
    inputs: dict[str, Any]
    protect: bool
    parent: str = ""  # the parent's URN; "" under the stack

    @classmethod
    def of(cls, resource: RecordedResource) -> ResourceEntry:
        parent = "" if resource.parent.split("::")[2:3] == ["pulumi:pulumi:Stack"] else resource.parent
        return cls(resource.urn, resource.type, resource.name, masked(resource.inputs), resource.protect, parent)

    def key_properties(self) -> dict[str, Any]:
        paths = KEY_PROPERTIES.get(self.type, ())
        return {path: value for path in paths if (value := lookup(self.inputs, path)) is not None}


@dataclass
class Violation:
    policy: str
    urn: str
    enforcement: str  # mandatory | advisory | remediate | disabled | not-evaluated
    message: str


@dataclass
class Change:
    op: str  # create | update | replace | delete | same
    urn: str
    type: str
    name: str
    changed: list[str] = field(default_factory=list)
    old: dict[str, Any] = field(default_factory=dict)
    new: dict[str, Any] = field(default_factory=dict)
    replace_reasons: list[str] = field(default_factory=list)
    blocked: str | None = None


@dataclass
class FlowEntry:
    """One platform flow (policies/rules/flows.py) and whether this stack opens it, network and RBAC."""

    name: str
    source: str
    target: str
    status: str  # open | broken | not-applicable | not-evaluated
    detail: str = ""  # why it is broken or does not apply

    @classmethod
    def of(cls, result: Any) -> FlowEntry:
        return cls(result.flow.name, result.flow.source, result.flow.target, result.status, result.detail)


@dataclass
class StackReport:
    stack: str
    resources: list[ResourceEntry]
    violations: list[Violation] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    flows: list[FlowEntry] = field(default_factory=list)

    @property
    def summary(self) -> dict[str, int]:
        counts = {"resources": len(self.resources)}
        for op in ("create", "update", "replace", "delete", "same"):
            counts[op] = sum(1 for c in self.changes if c.op == op)
        counts["mandatory"] = sum(1 for v in self.violations if v.enforcement == "mandatory")
        counts["advisory"] = sum(1 for v in self.violations if v.enforcement == "advisory")
        counts["blocked"] = sum(1 for c in self.changes if c.blocked)
        for status in ("open", "broken"):
            counts[f"flows_{status}"] = sum(1 for f in self.flows if f.status == status)
        return counts

    def flows_of(self, status: str) -> list[FlowEntry]:
        return [f for f in self.flows if f.status == status]

    @property
    def failed(self) -> bool:
        summary = self.summary
        return bool(summary["mandatory"] or summary["blocked"])

    @property
    def changing(self) -> list[Change]:
        """The changes that do something, by logical name (registration order varies between runs)."""
        return sorted((c for c in self.changes if c.op != "same"), key=lambda c: c.name)

    def is_new(self, violation: Violation) -> bool:
        """A violation on a resource this preview creates, updates or replaces (or anywhere, without changes)."""
        return not self.changes or violation.urn in {c.urn for c in self.changing} or not violation.urn

    def violations_of(self, enforcement: str, new: bool | None = None) -> list[Violation]:
        return [v for v in self.violations if v.enforcement == enforcement and (new is None or self.is_new(v) == new)]

    def blocking(self) -> tuple[list[Violation], list[Change]]:
        """What makes this stack exit 1: mandatory violations and blocked destructive changes."""
        return self.violations_of("mandatory"), [c for c in self.changes if c.blocked]

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "summary": self.summary,
            "resources": [asdict(r) for r in self.resources],
            "violations": [asdict(v) for v in self.violations],
            "changes": [asdict(c) for c in self.changes],
            "flows": [asdict(f) for f in self.flows],
            "outputs": masked(self.outputs),
        }
