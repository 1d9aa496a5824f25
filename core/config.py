"""The typed stack configuration: every key, its default, its allowed values, and cross-key rules.

Values arrive as the Pulumi engine hands them to a program (scalars as strings, objects as JSON strings),
whether they come from the engine (`pulumi up`) or from reading `stacks/Pulumi.<env>.yaml` offline, so the
two paths validate identically. Defaults are the secure, production-grade values; a stack file writes only
what differs. A bad value raises ConfigError naming the stack file and the key, never a traceback.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Iterator
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, get_args, get_origin

from pydantic import AfterValidator, BaseModel, Field, ValidationError, field_validator, model_validator

from core.azure_facts import (
    FLEX_MAXIMUM_INSTANCES,
    FLEX_PYTHON_VERSIONS,
    PRIVATE_DNS_ZONES,
    ZONE_REDUNDANT_STORAGE_SKUS,
)
from core.naming import REGION_CODES, NameRuleError, Naming
from core.paths import ROOT_DIR
from core.sections import DriftConfig, TrainingConfig, Window, window_hours
from core.sections import Section as _Section
from core.target_condition import narrower, within
from core.target_condition import parse as parse_target_condition

PROJECT = "mlops-platform"
STACKS_DIR = ROOT_DIR / "stacks"
RESERVED_KEYS = {"environment": "the environment is the stack name"}
# Config namespaces a stack file may use: the project's, the Azure provider's, the engine's own.
CONFIG_NAMESPACES = (PROJECT, "azure-native", "pulumi")
SECRET_PLACEHOLDER = "[secret]"
SHARED_STACK = "shared"  # the stack of what environments share (the Azure ML registry)


def stack_file(environment: str) -> Path:
    return STACKS_DIR / f"Pulumi.{environment}.yaml"


def display_path(path: Path) -> str:
    """A path as users type it: relative to the project when inside it."""
    try:
        return str(path.relative_to(STACKS_DIR.parent))
    except ValueError:
        return str(path)


class ConfigError(Exception):
    """A stack configuration problem: `<file>: <key>: <message>`, one line (the program raises it as a RunError,
    stacks/foundation.py, which Pulumi prints without a traceback)."""

    def __init__(self, source: str, key: str, message: str):
        self.source, self.key, self.message = source, key, message
        super().__init__(f"{source}: {key}: {message}")


Days = Annotated[int, Field(ge=1, le=365)]


ArmId = Annotated[str, Field(pattern=r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/.+[^/]$")]
# What the platform's subnets need at least (sources in the Network section of the README):
# AzureBastionSubnet /26; a Container Apps workload-profiles environment (the CI runners) /27;
# Flex Consumption VNet integration /27 (/26 for several apps).
SUBNET_MIN_PREFIX = {"privateEndpoints": 28, "functions": 27, "runners": 27, "bastion": 26}
SUBNET_DEFAULT_PREFIX = {"privateEndpoints": 24, "functions": 26, "runners": 27, "bastion": 26}


class SubnetsConfig(_Section):
    """The spoke's subnets; without this key they are carved from `addressSpace` in this order."""

    private_endpoints: IPv4Network
    functions: IPv4Network
    runners: IPv4Network
    bastion: IPv4Network | None = None


class HubConfig(_Section):
    """An existing hub: peering, central private DNS zones and the DNS servers that resolve them."""

    vnet_id: ArmId | None = None
    private_dns_zones: dict[str, ArmId] = {}
    dns_servers: list[IPv4Address] = []

    @model_validator(mode="after")
    def _zones_resolve(self) -> HubConfig:
        for zone, zone_id in self.private_dns_zones.items():
            if zone not in PRIVATE_DNS_ZONES:
                close = difflib.get_close_matches(zone, PRIVATE_DNS_ZONES, n=1)
                hint = f"did you mean '{close[0]}'? " if close else ""
                raise _KeyError(f"privateDnsZones.{zone}", f"not a zone the platform uses; {hint}allowed: {', '.join(PRIVATE_DNS_ZONES)}")
            kind, _, name = zone_id.rpartition("/")
            if not kind.lower().endswith("/providers/microsoft.network/privatednszones") or name.lower() != zone:
                raise _KeyError(f"privateDnsZones.{zone}", f"{zone_id} is not the id of the private DNS zone {zone}")
        if self.private_dns_zones and not self.dns_servers:
            raise _KeyError("dnsServers", "the hub's DNS servers (its resolver) are needed to resolve the hub's zones from the spoke")
        return self


class NetworkConfig(_Section):
    """`public`: every service reachable from the internet with Entra ID auth (dev, cheap). `private`: a spoke
    VNet with private endpoints and private DNS for every service, public access closed except the documented
    ingress (IoT devices, trusted Azure writers)."""

    mode: Literal["public", "private"] = "private"
    address_space: IPv4Network | None = None
    subnets: SubnetsConfig | None = None
    bastion: bool = False
    hub: HubConfig = HubConfig()

    @property
    def private(self) -> bool:
        return self.mode == "private"

    @property
    def public_network_access(self) -> bool:
        return not self.private

    @model_validator(mode="after")
    def _plan_fits(self) -> NetworkConfig:
        if not self.private:
            for key, value in (("addressSpace", self.address_space), ("subnets", self.subnets)):
                if value is not None:
                    raise _KeyError(key, "applies only with mode: private")
            return self
        if self.address_space is None:
            raise _KeyError("addressSpace", "required with mode: private (a /22 or larger is enough for every subnet)")
        plan = self.subnet_plan
        for name, subnet in plan.items():
            key = f"subnets.{name}"
            if not subnet.subnet_of(self.address_space):
                raise _KeyError(key, f"{subnet} is outside addressSpace {self.address_space}")
            if subnet.prefixlen > SUBNET_MIN_PREFIX[name]:
                raise _KeyError(key, f"{subnet} is too small; it needs at least a /{SUBNET_MIN_PREFIX[name]}")
        names = list(plan)
        for index, first in enumerate(names):
            for second in names[index + 1 :]:
                if plan[first].overlaps(plan[second]):
                    raise _KeyError(f"subnets.{second}", f"{plan[second]} overlaps subnets.{first} ({plan[first]})")
        return self

    @property
    def subnet_plan(self) -> dict[str, IPv4Network]:
        """Subnet name (config key) -> prefix: as configured, or carved from the address space in order."""
        if self.address_space is None:
            return {}
        if self.subnets is not None:
            given = self.subnets.model_dump(by_alias=True)
            return {name: prefix for name, prefix in given.items() if prefix is not None and (name != "bastion" or self.bastion)}
        wanted = [name for name in SUBNET_DEFAULT_PREFIX if name != "bastion" or self.bastion]
        return carve(self.address_space, {name: SUBNET_DEFAULT_PREFIX[name] for name in wanted}, key="addressSpace")


def carve(space: IPv4Network, prefixes: dict[str, int], key: str) -> dict[str, IPv4Network]:
    """Aligned blocks of the given prefix lengths, in order, from the start of `space`."""
    plan, cursor = {}, int(space.network_address)
    for name, prefix in prefixes.items():
        size = 2 ** (32 - prefix)
        start = -(-cursor // size) * size
        block = IPv4Network((start, prefix))
        if not block.subnet_of(space):
            raise _KeyError(key, f"{space} has no room for a /{prefix} {name} subnet; use a /22 or larger")
        plan[name], cursor = block, start + size
    return plan


class StorageConfig(_Section):
    sku: Literal["Standard_LRS", "Standard_ZRS", "Standard_GRS", "Standard_GZRS", "Standard_RAGZRS"] = "Standard_LRS"
    blob_soft_delete_days: Days = 7
    container_soft_delete_days: Days = 7
    raw_to_cool_after_days: Annotated[int, Field(ge=1, le=3650)] = 30
    # A time-based retention (WORM) policy on the lake's `raw` container: what lands there cannot be overwritten or
    # deleted for this many days after it was written (new files are still accepted). 0: none (dev, whose `pulumi
    # destroy` must work). Azure accepts 1 to 146000 days (immutable-time-based-retention-policy-overview).
    raw_immutability_days: Annotated[int, Field(ge=0, le=146_000)] = 90


Fqdn = Annotated[str, Field(pattern=r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")]
INGESTION_KINDS = ("azureSql", "http", "sftp")
# Keys that would put a credential into the stack file: sources name a Key Vault secret instead (secretName).
INLINE_SECRET_KEYS = ("password", "connectionString", "accountKey", "sasToken", "sasUri", "privateKey", "secret")
# Tokens of a raw-zone path pattern: the source's name and the run's date (the trigger's scheduled time, UTC).
PATH_TOKENS = ("{name}", "{yyyy}", "{MM}", "{dd}", "{HH}")
PATH_PREFIX = "batch/"  # apart from what Event Hubs Capture and IoT Hub routing name in `raw`
SecretName = Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,127}$")]  # a Key Vault secret name


def raw_path_pattern(pattern: str) -> str:
    """A raw-zone folder pattern with the run date in it, e.g. `batch/{name}/{yyyy}/{MM}/{dd}/`; ValueError why not."""
    if not pattern.startswith(PATH_PREFIX) or not pattern.endswith("/"):
        raise ValueError(f"'{pattern}' must start with '{PATH_PREFIX}' and end with '/'")
    rest = pattern
    for token in PATH_TOKENS:
        rest = rest.replace(token, "")
    if "{" in rest or "}" in rest:
        raise ValueError(f"'{pattern}' has an unknown token; allowed: {', '.join(PATH_TOKENS)}")
    if not re.fullmatch(r"[A-Za-z0-9_./-]+", rest) or "//" in pattern or "/../" in f"/{pattern}" or "/./" in f"/{pattern}":
        raise ValueError(f"'{pattern}' must be a relative folder of letters, digits, '-', '_', '.' and '/'")
    missing = [token for token in ("{yyyy}", "{MM}", "{dd}") if token not in pattern]
    if missing:
        raise ValueError(f"'{pattern}' lacks {', '.join(missing)}: every run writes a new dated folder (raw is write-once)")
    return pattern


class ScheduleConfig(_Section):
    """A Data Factory schedule trigger's recurrence (UTC)."""

    frequency: Literal["Minute", "Hour", "Day", "Week", "Month"]
    interval: Annotated[int, Field(ge=1, le=1000)] = 1
    start_time: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?Z$")]


class BatchSourceConfig(_Section):
    """One batch source Data Factory copies into the raw zone on a schedule. Credentials only by Key Vault secret."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")]
    kind: Literal[INGESTION_KINDS]  # type: ignore[valid-type]
    secret_name: SecretName  # azureSql: the connection string; http, sftp: the password
    schedule: ScheduleConfig
    path: Annotated[str, AfterValidator(raw_path_pattern)] = "batch/{name}/{yyyy}/{MM}/{dd}/"
    table: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\[\]]{1,256}$")] | None = None  # azureSql
    url: Annotated[str, Field(pattern=r"^https://\S+$")] | None = None  # http: the server's base URL
    relative_url: Annotated[str, Field(pattern=r"^\S*$")] = ""  # http: what to GET under it
    host: Fqdn | None = None  # sftp
    port: Annotated[int, Field(ge=1, le=65535)] = 22
    host_key_fingerprint: Annotated[str, Field(min_length=1)] | None = None  # sftp: the server's key, pinned
    folder: Annotated[str, Field(pattern=r"^[A-Za-z0-9_./-]*$")] = ""  # sftp: the remote folder
    user_name: Annotated[str, Field(min_length=1, max_length=128)] | None = None  # http, sftp

    REQUIRED: ClassVar[dict[str, tuple[str, ...]]] = {
        "azureSql": ("table",), "http": ("url", "user_name"), "sftp": ("host", "host_key_fingerprint", "user_name"),
    }

    @model_validator(mode="before")
    @classmethod
    def _no_inline_secrets(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in INLINE_SECRET_KEYS:
                if key in data:
                    raise _KeyError(key, "an inline secret is not allowed in a stack file; store it in the stack's Key Vault and name the secret in secretName")
        return data

    @model_validator(mode="after")
    def _fields_of_kind(self) -> BatchSourceConfig:
        for field in self.REQUIRED[self.kind]:
            if getattr(self, field) is None:
                alias = type(self).model_fields[field].alias or field
                raise _KeyError(alias, f"required for kind {self.kind}")
        return self

    def raw_folder(self) -> str:
        """The path pattern with the source's name filled in (the date tokens stay)."""
        return self.path.replace("{name}", self.name)


class IngestionConfig(_Section):
    """Batch sources Data Factory copies into the raw zone (streams come through Event Hubs and IoT Hub)."""

    batch: list[BatchSourceConfig] = []

    @model_validator(mode="after")
    def _unique_names(self) -> IngestionConfig:
        names = [source.name for source in self.batch]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise _KeyError("batch", f"duplicate source names: {', '.join(duplicates)}")
        return self


class KeyVaultConfig(_Section):
    sku: Literal["standard", "premium"] = "standard"
    soft_delete_retention_days: Annotated[int, Field(ge=7, le=90)] = 90


class RegistryConfig(_Section):
    sku: Literal["Basic", "Standard", "Premium"] = "Premium"


class WorkspaceConfig(_Section):
    # One-way: once a managed network is on it cannot be switched off (a new workspace is needed).
    isolation_mode: Literal["Disabled", "AllowInternetOutbound", "AllowOnlyApprovedOutbound"] = (
        "AllowOnlyApprovedOutbound"
    )
    # FQDN outbound rules for a package mirror (approved-outbound only); they make Azure deploy a firewall.
    package_mirror_fqdns: list[Fqdn] = []
    firewall_sku: Literal["Basic", "Standard"] = "Basic"


class ComputeConfig(_Section):
    vm_size: Annotated[str, Field(pattern=r"^Standard_[A-Za-z0-9_]+$")] = "Standard_DS3_v2"
    vm_priority: Literal["Dedicated", "LowPriority"] = "Dedicated"
    min_nodes: Annotated[int, Field(ge=0, le=100)] = 0
    max_nodes: Annotated[int, Field(ge=1, le=100)] = 4
    idle_minutes_before_scale_down: Annotated[int, Field(ge=1, le=1440)] = 15
    node_public_ip: bool = False

    @model_validator(mode="after")
    def _min_not_above_max(self) -> ComputeConfig:
        if self.min_nodes > self.max_nodes:
            raise _KeyError("minNodes", f"{self.min_nodes} is above maxNodes ({self.max_nodes})")
        return self


# Azure ML schedules take a five-field cron expression, MINUTES HOURS DAYS MONTHS DAYS-OF-WEEK, and ignore DAYS and
# MONTHS ("treated as *"; how-to-schedule-pipeline-job, Limitations and "Define a time-based schedule with a cron
# expression"). A DAYS or MONTHS value is refused here rather than silently ignored there.
CRON_FIELDS = (("minutes", 0, 59), ("hours", 0, 23), ("days", None, None), ("months", None, None), ("days-of-week", 0, 6))
WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")  # 0 = Sunday, or a name


def _cron_value(token: str, low: int, high: int, names: tuple[str, ...] = ()) -> int:
    for index, name in enumerate(names):
        if token.lower() in (name, name[:3]):
            return index
    if not token.isdigit() or not low <= int(token) <= high:
        raise ValueError(f"'{token}' is not a value from {low} to {high}")
    return int(token)


def azure_ml_cron(expression: str) -> str:
    """The expression when Azure ML's cron trigger takes it as written; ValueError naming the field otherwise."""
    fields = expression.split()
    if len(fields) != len(CRON_FIELDS):
        raise ValueError(f"'{expression}': expected {len(CRON_FIELDS)} fields, MINUTES HOURS DAYS MONTHS DAYS-OF-WEEK")
    for text, (field, low, high) in zip(fields, CRON_FIELDS):
        if low is None:
            if text != "*":
                raise ValueError(f"{field} must be '*': Azure ML schedules ignore {field} values")
            continue
        names = WEEKDAYS if field == "days-of-week" else ()
        try:
            for part in text.split(","):
                span, _, step = part.partition("/")
                if step and (not step.isdigit() or not 1 <= int(step) <= high):
                    raise ValueError(f"step '/{step}' must be from 1 to {high}")
                if span == "*":
                    continue
                first, _, last = span.partition("-")
                start = _cron_value(first, low, high, names)
                if last and _cron_value(last, low, high, names) < start:
                    raise ValueError(f"range '{span}' runs backwards")
        except ValueError as exc:
            raise ValueError(f"{field} '{text}': {exc}") from None
    return expression


class MonitoringConfig(_Section):
    log_retention_days: Annotated[int, Field(ge=30, le=730)] = 90
    # The monitor job (an Azure ML schedule, once a model serves): when it runs, the window of collected
    # predictions it checks for drift, and the longer window of predictions whose late labels it scores.
    schedule: Annotated[str, AfterValidator(azure_ml_cron)] = "0 6 * * *"
    window: Window = "24h"
    label_window: Window = "7d"

    @model_validator(mode="after")
    def _windows(self) -> MonitoringConfig:
        if not 1 <= window_hours(self.window) <= 24 * 31:
            raise _KeyError("window", f"{self.window}: from 1h to 31d")
        if not window_hours(self.window) <= window_hours(self.label_window) <= 24 * 90:
            raise _KeyError("labelWindow", f"{self.label_window}: from the drift window ({self.window}) to 90d")
        return self


PRODUCTION_MIN_INSTANCES = 2  # per online deployment in prod
ModelRef = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}:[0-9]+$")]
EnvironmentRef = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}:[A-Za-z0-9][A-Za-z0-9_.-]{0,29}$")]
InstanceType = Annotated[str, Field(pattern=r"^Standard_[A-Z][A-Za-z0-9_]*$")]
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")]


class EventHubConfig(_Section):
    partitions: Annotated[int, Field(ge=1, le=32)] = 2
    retention_hours: Annotated[int, Field(ge=1, le=168)] = 24
    consumer_groups: list[Name] = []


def _default_hubs() -> dict[str, EventHubConfig]:
    return {
        "telemetry": EventHubConfig(partitions=4, consumer_groups=["drift-monitor", "feature-builder"]),
        "predictions": EventHubConfig(partitions=2, consumer_groups=["drift-monitor"]),
    }


class CaptureConfig(_Section):
    """Event Hubs Capture of telemetry and of the scored requests (the predictions hub) into the lake's raw zone (Avro)."""

    enabled: bool = True
    interval_seconds: Annotated[int, Field(ge=60, le=900)] = 300
    size_limit_mb: Annotated[int, Field(ge=10, le=500)] = 300


class EventHubsConfig(_Section):
    sku: Literal["Basic", "Standard", "Premium"] = "Standard"
    capacity: Annotated[int, Field(ge=1, le=40)] = 1
    hubs: dict[Name, EventHubConfig] = Field(default_factory=_default_hubs)
    capture: CaptureConfig = CaptureConfig()

    @model_validator(mode="after")
    def _hubs_and_tier(self) -> EventHubsConfig:
        missing = {"telemetry", "predictions"} - set(self.hubs)
        if missing:
            raise _KeyError("hubs", f"must include {', '.join(sorted(missing))}")
        if "alerts" in self.hubs:
            raise _KeyError("hubs.alerts", "reserved: the platform's hub for the action group's alerts")
        if self.sku == "Basic" and self.capture.enabled:
            raise _KeyError("sku", "Basic cannot capture; use Standard or set capture.enabled: false")
        for name, hub in self.hubs.items():
            if self.sku == "Basic" and hub.retention_hours > 24:
                raise _KeyError(f"hubs.{name}.retentionHours", "Basic keeps events at most 24 hours")
            if self.sku == "Basic" and hub.consumer_groups:
                raise _KeyError(f"hubs.{name}.consumerGroups", "Basic has only the $Default consumer group")
        return self


class IotHubConfig(_Section):
    sku: Literal["B1", "B2", "B3", "S1", "S2", "S3"] = "S1"
    units: Annotated[int, Field(ge=1, le=200)] = 1
    cold_path_batch_seconds: Annotated[int, Field(ge=60, le=720)] = 300
    # Device ingress is public by nature (devices are in the field). In private mode only these ranges
    # (the sites' egress addresses) may connect; an empty list lets any address connect with device auth.
    device_ip_ranges: list[IPv4Network] = []


class ProbeConfig(_Section):
    initial_delay_seconds: Annotated[int, Field(ge=1, le=600)] = 10
    period_seconds: Annotated[int, Field(ge=1, le=300)] = 10
    timeout_seconds: Annotated[int, Field(ge=1, le=60)] = 2
    failure_threshold: Annotated[int, Field(ge=1, le=30)] = 30


class DeploymentConfig(_Section):
    """One online deployment (blue/green slot) serving a registered model version."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")]
    model: ModelRef
    # The scoring environment of this slot, when it differs from serving.environment (a canary of a new one).
    environment: EnvironmentRef | None = None
    instance_type: InstanceType = "Standard_DS3_v2"
    instance_count: Annotated[int, Field(ge=1, le=50)] = 1
    request_timeout_ms: Annotated[int, Field(ge=100, le=180_000)] = 5000
    max_concurrent_requests_per_instance: Annotated[int, Field(ge=1, le=1000)] = 2
    liveness_probe: ProbeConfig = ProbeConfig()
    readiness_probe: ProbeConfig = ProbeConfig(failure_threshold=3)

    @property
    def model_name(self) -> str:
        return self.model.split(":")[0]

    @property
    def model_version(self) -> str:
        return self.model.split(":")[1]


class ServingConfig(_Section):
    """The serving state: which model versions are deployed and how traffic is split. Edited by `mlops promote`."""

    auth_mode: Literal["AADToken", "AMLToken", "Key"] = "AADToken"
    # The scoring environment (name:version in the shared Azure ML registry); none until bootstrap creates it.
    environment: EnvironmentRef | None = None
    deployments: list[DeploymentConfig] = []
    traffic: dict[str, Annotated[int, Field(ge=0, le=100)]] = {}
    mirror_traffic: dict[str, Annotated[int, Field(ge=0, le=50)]] = {}

    @model_validator(mode="after")
    def _traffic_matches_deployments(self) -> ServingConfig:
        names = [d.name for d in self.deployments]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise _KeyError("deployments", f"duplicate deployment names: {', '.join(duplicates)}")
        for key, split in (("traffic", self.traffic), ("mirrorTraffic", self.mirror_traffic)):
            unknown = sorted(set(split) - set(names))
            if unknown:
                raise _KeyError(key, f"names undeclared deployments {', '.join(unknown)}; declared: {', '.join(names) or 'none'}")
        total, expected = sum(self.traffic.values()), 100 if self.deployments else 0
        if total != expected:
            raise _KeyError("traffic", f"sums to {total}; it must sum to {expected}" + (" (no deployments)" if not expected else ""))
        for name in self.mirror_traffic:
            if self.traffic.get(name):
                raise _KeyError("mirrorTraffic", f"'{name}' already receives live traffic; mirror only to a deployment at 0%")
        if self.environment is None and any(d.environment is None for d in self.deployments):
            raise _KeyError("environment", "required once deployments are declared: the scoring environment (name:version) in the shared Azure ML registry")
        return self

    @property
    def live_model(self) -> str | None:
        """NAME:VERSION of the deployment with the most traffic (the first declared on a tie): the model the gate
        compares a candidate with. None before the first deployment."""
        if not self.deployments:
            return None
        return max(self.deployments, key=lambda d: self.traffic.get(d.name, 0)).model


class BatchConfig(_Section):
    """The batch endpoint's deployment; without a model only the endpoint exists."""

    model: ModelRef | None = None
    mini_batch_size: Annotated[int, Field(ge=1, le=1000)] = 10
    max_retries: Annotated[int, Field(ge=0, le=10)] = 3
    retry_timeout_seconds: Annotated[int, Field(ge=30, le=3600)] = 300
    max_concurrency_per_instance: Annotated[int, Field(ge=1, le=16)] = 1
    instance_count: Annotated[int, Field(ge=1, le=100)] = 1
    error_threshold: Annotated[int, Field(ge=-1)] = -1


def _target_condition(value: str) -> str:
    parse_target_condition(value)
    return value


# An IoT Hub device-twin target condition in the grammar of core/target_condition.py: AND-ed tag clauses.
TargetCondition = Annotated[str, AfterValidator(_target_condition)]
ImageTag = Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]  # a Docker tag
EDGE_FLEET, EDGE_CANARY = "fleet", "canary"
# IoT Hub configuration priorities are non-negative integers ("higher wins"); the platform's base deployment sits
# at edge.priority and each layered entry above it.
Priority = Annotated[int, Field(ge=0, le=2_147_483_647)]


class EdgeDeploymentConfig(_Section):
    """One IoT Edge layered deployment: the scoring module with one model version on the devices matching
    `targetCondition`. The canary sits beside the fleet with a higher priority and a narrower condition."""

    name: Literal["fleet", "canary"]
    model: ModelRef
    target_condition: TargetCondition
    priority: Priority
    # Fleet only: the model that ran on the canary before it reached the fleet (written by `promote --complete`);
    # in prod the fleet's model must be it (policy edge-fleet-model-canaried).
    verified_on_canary: ModelRef | None = None

    @model_validator(mode="after")
    def _fleet_only(self) -> EdgeDeploymentConfig:
        if self.name != EDGE_FLEET and self.verified_on_canary is not None:
            raise _KeyError("verifiedOnCanary", "only the fleet entry records the model its canary verified")
        return self


class EdgeConfig(_Section):
    """The edge rollout: a base deployment (IoT Edge runtime, registry credentials, routes) on every edge device of
    the environment, and layered deployments of the scoring module. Edited by `mlops promote --target edge`."""

    # The scoring module's image in the stack's registry: <loginServer>/mlops/edge:<imageTag>.
    image_tag: ImageTag | None = None
    # The devices of this environment (the base deployment's condition); every entry targets a part of them.
    target_condition: TargetCondition | None = None
    priority: Priority = 0
    # The registry token devices pull with (an ACR token with content/read on mlops/edge, created at bootstrap);
    # its password is a secret: `pulumi config set --secret --path 'mlops-platform:edge.registryPassword'`.
    registry_username: Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{5,50}$")] = "edge-pull"
    registry_password: Annotated[str, Field(min_length=1)] | None = None
    deployments: list[EdgeDeploymentConfig] = []

    def entry(self, name: str) -> EdgeDeploymentConfig | None:
        return next((d for d in self.deployments if d.name == name), None)

    @model_validator(mode="after")
    def _staged(self) -> EdgeConfig:
        names = [d.name for d in self.deployments]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise _KeyError("deployments", f"more than one '{repeated[0]}' entry")
        if not self.deployments:
            return self
        if self.image_tag is None:
            raise _KeyError("imageTag", "required once deployments are declared: the tag of mlops/edge in the stack's registry")
        if self.target_condition is None:
            raise _KeyError("targetCondition", "required once deployments are declared: the environment's edge devices, e.g. tags.environment='dev'")
        for index, entry in enumerate(self.deployments):
            key = f"deployments.{index}"
            if not within(entry.target_condition, self.target_condition):
                raise _KeyError(f"{key}.targetCondition", f"must contain edge.targetCondition ({self.target_condition}) AND-ed with its own clauses")
            if entry.priority <= self.priority:
                raise _KeyError(f"{key}.priority", f"{entry.priority}; a layered deployment needs a priority above the base's ({self.priority})")
        fleet, canary = self.entry(EDGE_FLEET), self.entry(EDGE_CANARY)
        if canary is not None:
            index = names.index(EDGE_CANARY)
            # Without a fleet yet (the first model on the edge), the canary ring is a part of the base's devices.
            outer, whose = (fleet.target_condition, "fleet's") if fleet else (self.target_condition, "base's")
            if not narrower(canary.target_condition, outer):
                raise _KeyError(
                    f"deployments.{index}.targetCondition",
                    f"must be the {whose} condition ({outer}) AND-ed with at least one more clause, e.g. tags.ring='canary'",
                )
            if fleet is not None and canary.priority <= fleet.priority:
                raise _KeyError(f"deployments.{index}.priority", f"{canary.priority}; the canary must rank above the fleet ({fleet.priority})")
        return self


class EmailReceiverConfig(_Section):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    address: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


PositiveFloat = Annotated[float, Field(gt=0)]
Percent = Annotated[float, Field(gt=0, le=100)]


class AlertsConfig(_Section):
    """Receivers, severities and thresholds of the platform's alert rules."""

    email_receivers: list[EmailReceiverConfig] = []
    # A secure value cannot be decrypted offline; it arrives as the placeholder there.
    webhook_url: Annotated[str, Field(pattern=r"^(https://\S+|\[secret\])$")] | None = None
    severity: Annotated[int, Field(ge=0, le=4)] = 2
    latency_ms: PositiveFloat = 1000
    http_5xx_per_minute: PositiveFloat = 5
    cpu_percent: Percent = 85
    memory_percent: Percent = 85
    throttled_requests: PositiveFloat = 10
    routing_failures: PositiveFloat = 1
    ingestion_failed_runs: PositiveFloat = 1  # failed Data Factory pipeline runs in 5 minutes
    storage_availability_percent: Percent = 99.0

    @model_validator(mode="after")
    def _has_receiver(self) -> AlertsConfig:
        if not self.email_receivers and not self.webhook_url:
            raise _KeyError("emailReceivers", "the action group needs at least one receiver (emailReceivers or webhookUrl)")
        return self


class PromotionDispatchConfig(_Section):
    """Where the retrain function hands a submitted job over so that its completion opens the promotion PR:
    a workflow_dispatch of `workflow` (train.yml adopts the job) in `repository`. The token (fine-grained or GitHub
    App, "Actions" write on the repository only) is set with
    `pulumi config set --secret --path 'mlops-platform:retrainTrigger.promotion.token'`; the stack writes it into
    the Key Vault secret `tokenSecretName`, which only the function may read. Without a token nothing is dispatched."""

    repository: Annotated[str, Field(pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")]
    workflow: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,100}\.ya?ml$")] = "train.yml"
    ref: Annotated[str, Field(pattern=r"^[A-Za-z0-9._/-]{1,255}$")] = "main"
    token_secret_name: Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,127}$")] = "github-promotion-token"
    token: Annotated[str, Field(min_length=1)] | None = None


class RetrainTriggerConfig(_Section):
    """The alert-driven retraining Function App (Flex Consumption)."""

    cooldown_minutes: Annotated[int, Field(ge=5, le=10080)] = 360
    # Flex Consumption's documented range (README, "Azure facts"); a retrain never needs more than one.
    maximum_instances: Annotated[int, Field(ge=FLEX_MAXIMUM_INSTANCES[0], le=FLEX_MAXIMUM_INSTANCES[1])] = FLEX_MAXIMUM_INSTANCES[0]
    instance_memory_mb: Literal[512, 2048, 4096] = 2048
    # A Python version Flex Consumption runs (policies/rules/azure/flex_consumption.json); quote it: 3.10 is a number.
    python_version: Literal[FLEX_PYTHON_VERSIONS] = "3.11"  # type: ignore[valid-type]
    promotion: PromotionDispatchConfig | None = None

    @field_validator("python_version", mode="before")
    @classmethod
    def _quoted_version(cls, value: Any) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            raise ValueError(f"{value!r} is a number (YAML reads 3.10 as 3.1); quote it: '3.11'")
        return value


PrincipalId = Annotated[str, Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]


class PrincipalConfig(_Section):
    """An Entra ID group or service principal (people get access through groups, never as users)."""

    object_id: PrincipalId
    type: Literal["Group", "ServicePrincipal"] = "Group"


class AccessConfig(_Section):
    """Who, besides the platform's own identities, may use it: data-plane roles at the narrowest scope."""

    operators: list[PrincipalConfig] = []  # workspace (AzureML Data Scientist) and Log Analytics queries
    scoring_callers: list[PrincipalConfig] = []  # the online endpoint's score action
    batch_callers: list[PrincipalConfig] = []  # batch endpoint invocations


class RunnersConfig(_Section):
    """Self-hosted GitHub Actions runners inside the network (private mode): Container Apps jobs scaled by
    the `github-runner` scaler. Their token is a Key Vault secret (`tokenSecretName`) set once by an operator."""

    github_owner: Annotated[str, Field(pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")] | None = None
    repositories: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,100}$")]] = []
    image: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9/._-]*:[A-Za-z0-9._-]+$")] = "github-actions-runner:2.330.0"
    token_secret_name: Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,127}$")] = "github-runner-token"
    max_executions: Annotated[int, Field(ge=1, le=100)] = 4
    cpu: Literal[0.5, 1.0, 2.0, 4.0] = 2.0
    # The GitHub token (fine-grained: Actions read, Administration read/write, Metadata read), set with
    # `pulumi config set --secret --path 'mlops-platform:runners.token'`. Without it no runner job exists yet.
    token: Annotated[str, Field(min_length=1)] | None = None


class _StackConfig(_Section):
    """What every stack has: where it lives, who owns it, how its names are made, whether it is protected."""

    environment: Annotated[str, Field(pattern=r"^[a-z][a-z0-9]{1,9}$")]
    location: str
    owner: Annotated[str, Field(min_length=1)]
    cost_center: Annotated[str, Field(min_length=1)]
    workload: Annotated[str, Field(pattern=r"^[a-z][a-z0-9]*$")] = "mlops"
    name_suffix: Annotated[str, Field(pattern=r"^[a-z0-9]{0,6}$")] = ""
    protect: bool = True
    # CanNotDelete locks on stateful resources: protect guards against Pulumi, a lock against everyone else.
    locks: bool = True
    extra_tags: dict[str, str] = {}

    @field_validator("location")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if value not in REGION_CODES:
            close = difflib.get_close_matches(value, REGION_CODES, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ValueError(f"'{value}' is not a supported Azure region{hint}; allowed: {', '.join(REGION_CODES)}")
        return value

    @model_validator(mode="after")
    def _names_fit(self) -> _StackConfig:
        try:
            self.naming.check_all()
        except NameRuleError as exc:
            key = "nameSuffix" if self.name_suffix else "workload"
            raise _KeyError(key, f"{exc}; shorten {key}") from None
        return self

    @property
    def naming(self) -> Naming:
        return Naming(self.workload, self.environment, self.location, self.name_suffix)

    @property
    def is_production(self) -> bool:
        return self.environment == "prod"

    @property
    def min_instances(self) -> int:
        """The fewest instances a deployment may run: prod keeps serving through one instance's restart."""
        return PRODUCTION_MIN_INSTANCES if self.is_production else 1


class MlRegistryConfig(_Section):
    """The Azure ML registry every environment promotes models and environments through."""

    # Dev has no private network and reaches the registry publicly (Entra ID only); staging and prod use
    # their private endpoint either way. A stack without a public environment keeps it closed.
    public_network_access: bool = False
    replication_locations: list[str] = []


class SharedConfig(_StackConfig):
    """The `shared` stack: what every environment uses (the Azure ML registry)."""

    ml_registry: MlRegistryConfig = MlRegistryConfig()


class PlatformConfig(_StackConfig):
    """One environment stack's configuration. `environment` is the stack name, not a key."""

    network: NetworkConfig = Field(default_factory=dict, validate_default=True)
    storage: StorageConfig = StorageConfig()
    key_vault: KeyVaultConfig = KeyVaultConfig()
    registry: RegistryConfig = RegistryConfig()
    workspace: WorkspaceConfig = WorkspaceConfig()
    compute: ComputeConfig = ComputeConfig()
    monitoring: MonitoringConfig = MonitoringConfig()
    training: TrainingConfig = TrainingConfig()
    drift: DriftConfig = DriftConfig()
    event_hubs: EventHubsConfig = EventHubsConfig()
    iot_hub: IotHubConfig = IotHubConfig()
    serving: ServingConfig = ServingConfig()
    edge: EdgeConfig = EdgeConfig()
    batch: BatchConfig = BatchConfig()
    retrain_trigger: RetrainTriggerConfig = RetrainTriggerConfig()
    access: AccessConfig = AccessConfig()
    runners: RunnersConfig = RunnersConfig()
    ingestion: IngestionConfig = IngestionConfig()
    # The stack that holds the Azure ML registry models and environments are promoted through.
    shared_stack: Annotated[str, Field(pattern=r"^[A-Za-z0-9._/-]+$")] = SHARED_STACK
    alerts: AlertsConfig

    @model_validator(mode="after")
    def _cross_key_rules(self) -> PlatformConfig:
        if self.registry.sku != "Premium" and (self.network.private or self.workspace.isolation_mode != "Disabled"):
            raise _KeyError(
                "registry.sku",
                f"'{self.registry.sku}' has no private endpoint, which private networking and a workspace managed "
                "network need; use Premium (or network.mode: public with workspace.isolationMode: Disabled)",
            )
        if self.network.private and self.workspace.isolation_mode == "Disabled":
            raise _KeyError("workspace.isolationMode", "Disabled leaves compute outside any network; a private stack needs a managed network")
        if self.network.private and not self.iot_hub.device_ip_ranges:
            raise _KeyError(
                "iotHub.deviceIpRanges",
                "required with network.mode: private: the sites' egress ranges devices connect from "
                "(devices cannot use a private endpoint, so device ingress stays public and filtered)",
            )
        if self.network.private and self.event_hubs.sku == "Basic":
            raise _KeyError("eventHubs.sku", "Basic has no private endpoints or network rules; use Standard with network.mode: private")
        if self.network.private and not self.runners.github_owner:
            raise _KeyError("runners.githubOwner", "required with network.mode: private: jobs that reach data planes run on runners inside the network")
        if self.batch.model and self.workspace.isolation_mode == "AllowOnlyApprovedOutbound" and not self.workspace.package_mirror_fqdns:
            raise _KeyError(
                "batch.model",
                "an MLflow batch deployment builds its image from the model's conda file, which an "
                "AllowOnlyApprovedOutbound workspace cannot download: set workspace.packageMirrorFqdns",
            )
        if not self.compute.node_public_ip and self.workspace.isolation_mode == "Disabled":
            raise _KeyError(
                "compute.nodePublicIp",
                "false needs a managed network: set workspace.isolationMode to AllowInternetOutbound "
                "or AllowOnlyApprovedOutbound",
            )
        for index, deployment in enumerate(self.serving.deployments):
            if deployment.instance_count < self.min_instances:
                raise _KeyError(
                    f"serving.deployments.{index}.instanceCount",
                    f"{deployment.instance_count} for '{deployment.name}'; {self.environment} needs at least "
                    f"{self.min_instances} instances",
                )
        if self.is_production and self.storage.sku not in ZONE_REDUNDANT_STORAGE_SKUS:
            raise _KeyError(
                "storage.sku",
                f"'{self.storage.sku}' keeps every copy in one zone; prod needs {', '.join(s for s in ZONE_REDUNDANT_STORAGE_SKUS if s.startswith('Standard_'))}",
            )
        return self


class _KeyError(ValueError):
    """Raised inside validators to point at a key other than the one being validated."""

    def __init__(self, key: str, message: str):
        self.key, self.message = key, message
        super().__init__(message)


# --- reading -------------------------------------------------------------------------------------------------

MAX_STACK_FILE_BYTES = 1 << 20  # a stack file is a few KiB
MAX_YAML_DEPTH = 64  # collections inside collections; the config model nests five deep
MAX_YAML_NODES = 100_000  # nodes after expanding aliases (a few hundred in a real stack file)


def load_yaml(data: bytes, source: str, loader: Any = None) -> Any:
    """One YAML document from bytes, with bounded size, nesting depth and alias expansion; ConfigError otherwise.

    The bounds are checked on the parser's event stream (linear in the text) before anything is built, so a
    deeply nested file or an alias bomb is refused in milliseconds. `loader` is a ruamel `YAML` instance
    (default: the safe loader; promotion passes a round-trip one).
    """
    from ruamel.yaml import YAML, YAMLError

    if len(data) > MAX_STACK_FILE_BYTES:
        raise ConfigError(source, "config", f"the file is {len(data)} bytes; at most {MAX_STACK_FILE_BYTES}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(source, "config", f"not UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start}") from None
    loader = loader or YAML(typ="safe")
    try:
        _check_yaml_bounds(loader, text, source)
        return loader.load(text)
    except YAMLError as exc:
        raise ConfigError(source, "config", f"not valid YAML{_yaml_position(exc)}: {_yaml_problem(exc)}") from None
    except (ValueError, TypeError, OverflowError) as exc:  # a scalar the constructor rejects: 2001-02-30
        raise ConfigError(source, "config", f"not valid YAML: {_one_line(exc)}") from None


def _check_yaml_bounds(loader: Any, text: str, source: str) -> None:
    """One pass over the parser's events: documents, nesting depth, and the node count with aliases expanded (an
    anchor's expanded size is known when its collection ends; an alias adds that size)."""
    from ruamel.yaml.events import (
        AliasEvent,
        CollectionEndEvent,
        CollectionStartEvent,
        DocumentStartEvent,
        NodeEvent,
    )

    nodes, documents = 0, 0
    open_anchors: list[tuple[str | None, int]] = []  # per open collection: its anchor and `nodes` before it
    sizes: dict[str, int] = {}  # anchor -> expanded size of the node it names
    for event in loader.parse(text):
        if isinstance(event, DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise ConfigError(source, "config", "more than one YAML document; a stack file holds one")
        elif isinstance(event, AliasEvent):
            if event.anchor in (anchor for anchor, _ in open_anchors):
                raise ConfigError(source, "config", f"alias *{event.anchor} refers to a collection containing it")
            nodes += sizes.get(event.anchor, 1)
        elif isinstance(event, CollectionStartEvent):
            open_anchors.append((event.anchor, nodes))
            nodes += 1
            if len(open_anchors) > MAX_YAML_DEPTH:
                raise ConfigError(source, "config", f"nested more than {MAX_YAML_DEPTH} levels deep")
        elif isinstance(event, CollectionEndEvent):
            anchor, before = open_anchors.pop()
            if anchor is not None:
                sizes[anchor] = nodes - before
        elif isinstance(event, NodeEvent):  # a scalar
            nodes += 1
            if event.anchor is not None:
                sizes[event.anchor] = 1
        if nodes > MAX_YAML_NODES:
            raise ConfigError(source, "config", f"more than {MAX_YAML_NODES} values once aliases are expanded")


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__


def engine_values(stack_yaml: dict[str, Any]) -> tuple[dict[str, str], set[str]]:
    """Turn a stack file's `config` map into what the engine hands the program, plus the secret keys.

    Secure values are ciphertext only the engine can decrypt; offline they become a placeholder.
    """
    values: dict[str, str] = {}
    secrets: set[str] = set()

    def offline(value: Any) -> Any:
        if isinstance(value, dict) and set(value) == {"secure"}:
            return SECRET_PLACEHOLDER
        if isinstance(value, dict):
            return {k: offline(v) for k, v in value.items()}
        if isinstance(value, list):
            return [offline(v) for v in value]
        return value

    for key, value in (stack_yaml.get("config") or {}).items():
        plain = offline(value)
        if plain != value:  # the key holds a secure value, at the top or nested
            secrets.add(key)
        if isinstance(plain, (dict, list)):
            values[key] = json.dumps(plain, default=str)
        elif isinstance(plain, bool):
            values[key] = "true" if plain else "false"
        else:
            values[key] = "" if plain is None else str(plain)
    return values, secrets


def read_stack_document(path: Path, source: str) -> dict[str, Any]:
    """A stack file as a map whose `config` is a map with string keys; ConfigError when it is not."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(source, "stack", "no stack file") from None
    except OSError as exc:
        raise ConfigError(source, "stack", f"cannot read: {exc.strerror}") from None
    return stack_document(data, source)


def stack_document(data: bytes, source: str) -> dict[str, Any]:
    """A stack file's bytes as a map whose `config` is a map with string keys; ConfigError when they are not."""
    document = load_yaml(data, source)
    if not isinstance(document, dict) or not isinstance(document.get("config") or {}, dict):
        raise ConfigError(source, "config", "the file must be a map with a 'config' map")
    bad_keys = [key for key in document.get("config") or {} if not isinstance(key, str)]
    if bad_keys:
        raise ConfigError(source, "config", f"config keys must be strings; got {bad_keys[0]!r}")
    return document


def read_stack_values(environment: str, path: Path | None = None) -> tuple[dict[str, str], set[str]]:
    """Engine-style config values of one stack file and its secret keys; ConfigError when missing or not YAML."""
    path = path or stack_file(environment)
    source = display_path(path)
    if not re.fullmatch(r"[a-z][a-z0-9]{1,9}", environment):
        raise ConfigError(source, "stack", f"'{_printable(environment)}' is not a valid stack name (lowercase, 2-10 characters)")
    if not path.exists():
        raise ConfigError(source, "stack", f"no stack file for '{environment}'")
    return engine_values(read_stack_document(path, source))


def _yaml_position(exc: Exception) -> str:
    """' at line L, column C' of a ruamel.yaml error (1-based, as editors count), or '' without a mark."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


def _yaml_problem(exc: Exception) -> str:
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    if problem:
        return f"{context}, {problem}" if context else str(problem)
    return str(exc).splitlines()[0]


def _check_namespace(full_key: str, source: str) -> None:
    """Keys outside the known namespaces are typos (`mlops-platfrom:protect`) that the engine would ignore."""
    namespace, colon, key = full_key.partition(":")
    if not colon:
        raise ConfigError(source, full_key, f"no namespace; project keys are written '{PROJECT}:{full_key}'")
    if namespace in CONFIG_NAMESPACES:
        return
    close = difflib.get_close_matches(namespace, CONFIG_NAMESPACES, n=1)
    hint = f"did you mean '{close[0]}:{key}'? " if close else ""
    raise ConfigError(source, full_key, f"unknown namespace '{namespace}'; {hint}known: {', '.join(CONFIG_NAMESPACES)}")


def config_model(environment: str) -> type[PlatformConfig] | type[SharedConfig]:
    """The config model of a stack: the shared stack has its own."""
    return SharedConfig if environment == SHARED_STACK else PlatformConfig


def parse_config(
    environment: str, values: dict[str, str], source: str, secrets: Iterable[str] = ()
) -> PlatformConfig | SharedConfig:
    """Validate engine-style values of the `mlops-platform:` namespace into the stack's config model.

    `secrets` are the keys holding secret values: an error never shows them (they read `[secret]`, as in the
    preview), whether the engine decrypted them (`pulumi up`) or not (offline).
    """
    data: dict[str, Any] = {}
    prefix = f"{PROJECT}:"
    for full_key, raw in values.items():
        _check_namespace(full_key, source)
        if not full_key.startswith(prefix):
            continue  # other namespaces (azure-native:*) belong to their providers
        key = full_key[len(prefix) :]
        if key in RESERVED_KEYS:
            raise ConfigError(source, full_key, f"reserved: {RESERVED_KEYS[key]}")
        data[key] = _decode(raw)
    data["environment"] = environment
    try:
        return config_model(environment).model_validate(data)
    except ValidationError as exc:
        secret_keys = set(secrets)
        secret_texts = {text for key in secret_keys for text in _strings(_decode(values.get(key, "")))}
        raise _to_config_error(exc, source, config_model(environment), secret_keys, secret_texts) from None


def load_stack_config(environment: str, path: Path | None = None) -> PlatformConfig:
    """Read and validate `stacks/Pulumi.<environment>.yaml` (the offline path)."""
    path = path or stack_file(environment)
    return parse_config(environment, read_stack_values(environment, path)[0], display_path(path))


def _decode(raw: str) -> Any:
    if isinstance(raw, str) and raw[:1] in "{[":
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, RecursionError):  # not JSON, or nested too deeply: pydantic names the key
            return raw
    return raw


def _strings(value: Any) -> Iterator[str]:
    """Every string in a decoded value (the leaves of a secret key's value), recursively."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


MIN_MASKED_LENGTH = 4  # shorter secret strings ("1", "on") would garble messages and guard nothing


def _to_config_error(
    exc: ValidationError,
    source: str,
    model: type[BaseModel] = PlatformConfig,
    secret_keys: set[str] = frozenset(),
    secret_texts: set[str] = frozenset(),
) -> ConfigError:
    # A mistyped key also leaves the intended key "missing": name the typo, it explains both.
    error = min(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    location = [_printable(str(part)) for part in error["loc"]]
    secret = bool(location) and f"{PROJECT}:{location[0]}" in secret_keys
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, _KeyError):
        key = ".".join([*location, cause.key]) if location else cause.key
        return ConfigError(source, f"{PROJECT}:{key}", _masked(cause.message, secret_texts))
    if location == ["environment"]:
        return ConfigError(source, "stack", f"stack name: {error['msg']}")
    key = f"{PROJECT}:{'.'.join(location)}"
    if error["type"] == "extra_forbidden":
        allowed = _allowed_keys(location[:-1], model)
        close = difflib.get_close_matches(location[-1], allowed, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        return ConfigError(source, key, f"unknown key; {hint}allowed: {', '.join(allowed)}")
    if error["type"] == "missing":
        return ConfigError(source, key, "required, and not set")
    message = error["msg"].removeprefix("Value error, ")
    if "input" in error and not isinstance(error["input"], dict):
        message += f" (got {SECRET_PLACEHOLDER if secret else repr(error['input'])})"
    return ConfigError(source, key, _masked(message, secret_texts))


def _printable(text: str) -> str:
    """Text for a one-line message: control characters (a newline in a key, say) escaped as Python would."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _masked(message: str, secret_texts: set[str]) -> str:
    """The message on one line, with every secret string in it replaced by the placeholder, longest first."""
    for text in sorted(secret_texts, key=len, reverse=True):
        if len(text) >= MIN_MASKED_LENGTH:
            message = message.replace(text, SECRET_PLACEHOLDER)
    return _printable(message)


def _section(annotation: Any, steps: int) -> tuple[type[BaseModel] | None, int]:
    """The model behind an annotation, and how many location parts its containers take.

    `DeploymentConfig` is itself; `list[DeploymentConfig]` is it after an index (`deployments.0`);
    `dict[str, EventHubConfig]` after a key (`hubs.telemetry`); `X | None` is X.
    """
    origin, args = get_origin(annotation), get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, steps
    if origin in (list, dict) and args:
        return _section(args[-1], steps + 1)
    if origin is Annotated or args:
        for arg in args:
            model, taken = _section(arg, steps)
            if model is not None:
                return model, taken
    return None, steps


def _allowed_keys(location: list[str], model: type[BaseModel]) -> list[str]:
    index = 0
    while index < len(location):
        part = location[index]
        field = next((f for name, f in model.model_fields.items() if part in (name, f.alias)), None)
        found, containers = _section(field.annotation, 0) if field is not None else (None, 0)
        if found is None:
            return []
        model, index = found, index + 1 + containers
    return [field.alias or name for name, field in model.model_fields.items() if name != "environment"]
