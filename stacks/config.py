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
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import pulumi
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from components.naming import REGION_CODES, NameRuleError, Naming

PROJECT = "mlops-platform"
STACKS_DIR = Path(__file__).resolve().parent
RESERVED_KEYS = {"environment": "the environment is the stack name"}
# Config namespaces a stack file may use: the project's, the Azure provider's, the engine's own.
CONFIG_NAMESPACES = (PROJECT, "azure-native", "pulumi")
SECRET_PLACEHOLDER = "[secret]"


def stack_file(environment: str) -> Path:
    return STACKS_DIR / f"Pulumi.{environment}.yaml"


def display_path(path: Path) -> str:
    """A path as users type it: relative to the project when inside it."""
    try:
        return str(path.relative_to(STACKS_DIR.parent))
    except ValueError:
        return str(path)


class ConfigError(pulumi.RunError):
    """A stack configuration problem. Pulumi prints a RunError without a traceback."""

    def __init__(self, source: str, key: str, message: str):
        self.source, self.key, self.message = source, key, message
        super().__init__(f"{source}: {key}: {message}")


class _Section(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


Days = Annotated[int, Field(ge=1, le=365)]


class NetworkConfig(_Section):
    """Public network access of every service; off unless a stack relaxes it (dev)."""

    public_network_access: bool = False


class StorageConfig(_Section):
    sku: Literal["Standard_LRS", "Standard_ZRS", "Standard_GRS", "Standard_GZRS", "Standard_RAGZRS"] = "Standard_LRS"
    blob_soft_delete_days: Days = 7
    container_soft_delete_days: Days = 7
    raw_to_cool_after_days: Annotated[int, Field(ge=1, le=3650)] = 30


class KeyVaultConfig(_Section):
    sku: Literal["standard", "premium"] = "standard"
    soft_delete_retention_days: Annotated[int, Field(ge=7, le=90)] = 90


class RegistryConfig(_Section):
    sku: Literal["Basic", "Standard", "Premium"] = "Premium"


class WorkspaceConfig(_Section):
    isolation_mode: Literal["Disabled", "AllowInternetOutbound", "AllowOnlyApprovedOutbound"] = (
        "AllowOnlyApprovedOutbound"
    )


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


class MonitoringConfig(_Section):
    log_retention_days: Annotated[int, Field(ge=30, le=730)] = 90


class TrainingConfig(_Section):
    """Hyper-parameters and the evaluation gate of the training pipeline."""

    n_estimators: Annotated[int, Field(ge=10, le=2000)] = 200
    max_depth: Annotated[int, Field(ge=1, le=64)] = 8
    min_auc: Annotated[float, Field(ge=0.5, le=1.0)] = 0.80
    max_auc_regression: Annotated[float, Field(ge=0.0, le=0.5)] = 0.02


class DriftConfig(_Section):
    """Per-feature thresholds and the dataset verdict of drift monitoring."""

    psi_threshold: Annotated[float, Field(gt=0, le=10)] = 0.2
    ks_p_value: Annotated[float, Field(gt=0, lt=1)] = 0.01
    jensen_shannon_threshold: Annotated[float, Field(gt=0, le=1)] = 0.1
    wasserstein_threshold: Annotated[float, Field(gt=0, le=10)] = 0.1
    drift_share: Annotated[float, Field(gt=0, le=1)] = 0.3


ModelRef = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}:[0-9]+$")]
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
    """Event Hubs Capture of telemetry into the lake's raw zone (Avro)."""

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


class ProbeConfig(_Section):
    initial_delay_seconds: Annotated[int, Field(ge=1, le=600)] = 10
    period_seconds: Annotated[int, Field(ge=1, le=300)] = 10
    timeout_seconds: Annotated[int, Field(ge=1, le=60)] = 2
    failure_threshold: Annotated[int, Field(ge=1, le=30)] = 30


class DeploymentConfig(_Section):
    """One online deployment (blue/green slot) serving a registered model version."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")]
    model: ModelRef
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
    environment_image: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9/._-]*:[A-Za-z0-9._-]+$")] = "mlops-serving:1"
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
        return self


class BatchConfig(_Section):
    """The batch endpoint's deployment; without a model only the endpoint exists."""

    model: ModelRef | None = None
    mini_batch_size: Annotated[int, Field(ge=1, le=1000)] = 10
    max_retries: Annotated[int, Field(ge=0, le=10)] = 3
    retry_timeout_seconds: Annotated[int, Field(ge=30, le=3600)] = 300
    max_concurrency_per_instance: Annotated[int, Field(ge=1, le=16)] = 1
    instance_count: Annotated[int, Field(ge=1, le=100)] = 1
    error_threshold: Annotated[int, Field(ge=-1)] = -1


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
    storage_availability_percent: Percent = 99.0

    @model_validator(mode="after")
    def _has_receiver(self) -> AlertsConfig:
        if not self.email_receivers and not self.webhook_url:
            raise _KeyError("emailReceivers", "the action group needs at least one receiver (emailReceivers or webhookUrl)")
        return self


class RetrainTriggerConfig(_Section):
    """The alert-driven retraining Function App."""

    cooldown_minutes: Annotated[int, Field(ge=5, le=10080)] = 360
    maximum_instances: Annotated[int, Field(ge=1, le=1000)] = 10
    # Private by default; without VNet integration (not provided yet) the Flex plan needs it public.
    storage_public_network_access: bool = False


class PlatformConfig(_Section):
    """One stack's configuration. `environment` is the stack name, not a key."""

    environment: Annotated[str, Field(pattern=r"^[a-z][a-z0-9]{1,9}$")]
    location: str
    owner: Annotated[str, Field(min_length=1)]
    cost_center: Annotated[str, Field(min_length=1)]
    workload: Annotated[str, Field(pattern=r"^[a-z][a-z0-9]*$")] = "mlops"
    name_suffix: Annotated[str, Field(pattern=r"^[a-z0-9]{0,6}$")] = ""
    protect: bool = True
    extra_tags: dict[str, str] = {}
    network: NetworkConfig = NetworkConfig()
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
    batch: BatchConfig = BatchConfig()
    retrain_trigger: RetrainTriggerConfig = RetrainTriggerConfig()
    alerts: AlertsConfig

    @field_validator("location")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if value not in REGION_CODES:
            close = difflib.get_close_matches(value, REGION_CODES, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ValueError(f"'{value}' is not a supported Azure region{hint}; allowed: {', '.join(REGION_CODES)}")
        return value

    @model_validator(mode="after")
    def _cross_key_rules(self) -> PlatformConfig:
        if not self.network.public_network_access and self.registry.sku != "Premium":
            raise _KeyError(
                "registry.sku",
                f"'{self.registry.sku}' cannot disable public network access; use Premium "
                "or set network.publicNetworkAccess: true",
            )
        if not self.compute.node_public_ip and self.workspace.isolation_mode == "Disabled":
            raise _KeyError(
                "compute.nodePublicIp",
                "false needs a managed network: set workspace.isolationMode to AllowInternetOutbound "
                "or AllowOnlyApprovedOutbound",
            )
        if self.is_production:
            for index, deployment in enumerate(self.serving.deployments):
                if deployment.instance_count < 2:
                    raise _KeyError(
                        f"serving.deployments.{index}.instanceCount",
                        f"{deployment.instance_count} for '{deployment.name}'; prod needs at least 2 instances",
                    )
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


class _KeyError(ValueError):
    """Raised inside validators to point at a key other than the one being validated."""

    def __init__(self, key: str, message: str):
        self.key, self.message = key, message
        super().__init__(message)


# --- reading -------------------------------------------------------------------------------------------------


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
            values[key] = json.dumps(plain)
        elif isinstance(plain, bool):
            values[key] = "true" if plain else "false"
        else:
            values[key] = "" if plain is None else str(plain)
    return values, secrets


def read_stack_values(environment: str, path: Path | None = None) -> tuple[dict[str, str], set[str]]:
    """Engine-style config values of one stack file and its secret keys; ConfigError when missing or not YAML."""
    from ruamel.yaml import YAML, YAMLError

    path = path or stack_file(environment)
    source = display_path(path)
    if not re.fullmatch(r"[a-z][a-z0-9]{1,9}", environment):
        raise ConfigError(source, "stack", f"'{environment}' is not a valid stack name (lowercase, 2-10 characters)")
    try:
        document = YAML(typ="safe").load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(source, "stack", f"no stack file for '{environment}'") from None
    except YAMLError as exc:
        raise ConfigError(source, "config", f"not valid YAML{_yaml_position(exc)}: {_yaml_problem(exc)}") from None
    if not isinstance(document, dict) or not isinstance(document.get("config", {}), dict):
        raise ConfigError(source, "config", "the file must be a map with a 'config' map")
    return engine_values(document)


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


def parse_config(environment: str, values: dict[str, str], source: str) -> PlatformConfig:
    """Validate engine-style values of the `mlops-platform:` namespace into a PlatformConfig."""
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
        return PlatformConfig.model_validate(data)
    except ValidationError as exc:
        raise _to_config_error(exc, source) from None


def load_stack_config(environment: str, path: Path | None = None) -> PlatformConfig:
    """Read and validate `stacks/Pulumi.<environment>.yaml` (the offline path)."""
    path = path or stack_file(environment)
    return parse_config(environment, read_stack_values(environment, path)[0], display_path(path))


def load_program_config() -> PlatformConfig:
    """Validate the config the engine (or the mock harness) gave this program run."""
    from pulumi.runtime.config import CONFIG, get_config_env

    environment = pulumi.get_stack()
    values = {**get_config_env(), **CONFIG.get()}
    return parse_config(environment, values, display_path(stack_file(environment)))


def _decode(raw: str) -> Any:
    if raw[:1] in "{[":
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw
    return raw


def _to_config_error(exc: ValidationError, source: str) -> ConfigError:
    # A mistyped key also leaves the intended key "missing": name the typo, it explains both.
    error = min(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    location = [str(part) for part in error["loc"]]
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, _KeyError):
        key = ".".join([*location, cause.key]) if location else cause.key
        return ConfigError(source, f"{PROJECT}:{key}", cause.message)
    if location == ["environment"]:
        return ConfigError(source, "stack", f"stack name: {error['msg']}")
    key = f"{PROJECT}:{'.'.join(location)}"
    if error["type"] == "extra_forbidden":
        allowed = _allowed_keys(location[:-1])
        close = difflib.get_close_matches(location[-1], allowed, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        return ConfigError(source, key, f"unknown key; {hint}allowed: {', '.join(allowed)}")
    if error["type"] == "missing":
        return ConfigError(source, key, "required, and not set")
    message = error["msg"].removeprefix("Value error, ")
    if "input" in error and not isinstance(error["input"], dict):
        message += f" (got {error['input']!r})"
    return ConfigError(source, key, message)


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


def _allowed_keys(location: list[str]) -> list[str]:
    model: type[BaseModel] = PlatformConfig
    index = 0
    while index < len(location):
        part = location[index]
        field = next((f for name, f in model.model_fields.items() if part in (name, f.alias)), None)
        found, containers = _section(field.annotation, 0) if field is not None else (None, 0)
        if found is None:
            return []
        model, index = found, index + 1 + containers
    return [field.alias or name for name, field in model.model_fields.items() if name != "environment"]
