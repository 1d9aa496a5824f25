"""IoT Edge deployments (the dynamic resources of components/edge_deployments.py, `kind: mlops:iot-edge-deployment`):
where modules come from, what they may do on the device, how the runtime is pinned, and how a rollout is staged.

The manifest facts (runtime images, pinned tags, forbidden createOptions, limits, id format) are the pack's data
file `azure/iot_edge.json`, which the stack's manifest generator reads too. Manifest keys contain dots
(`properties.desired.modules.scorer`), so the manifests are walked key by key, not by dotted paths.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import PolicyResource, Severity

from .base import NOT_APPLICABLE, OPERATIONS, RELIABILITY, SECURITY, ResourceRule, Settings, StackRule, conditional
from .facts import facts
from .references import References
from .resource_types import DYNAMIC, EDGE_DEPLOYMENT_KIND
from .values import UNKNOWN, peek

EDGE = facts("iot_edge")
PINNED_TAG = re.compile(EDGE["pinnedTag"])
CONFIGURATION_ID = re.compile(EDGE["configurationId"])
LAYERED_DOCS = "https://learn.microsoft.com/azure/iot-edge/module-deployment-monitoring"
COMPOSITION_DOCS = "https://learn.microsoft.com/azure/iot-edge/module-composition"
FLEET, CANARY = "fleet", "canary"
_AND = re.compile(r"\s+AND\s+", re.IGNORECASE)


def _is_edge(props: Mapping[str, Any]) -> bool:
    return peek(props, "kind") == EDGE_DEPLOYMENT_KIND


def _agent(props: Mapping[str, Any]) -> Mapping[str, Any]:
    content = peek(props, "content")
    modules = content.get("modulesContent") if isinstance(content, Mapping) else None
    agent = modules.get("$edgeAgent") if isinstance(modules, Mapping) else None
    return agent if isinstance(agent, Mapping) else {}


def _modules(props: Mapping[str, Any], system: bool = False) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(name, module) of the manifest's modules: the base's `properties.desired.modules` (and `systemModules` when
    asked), and a layered deployment's `properties.desired.modules.<name>` keys."""
    for key, value in _agent(props).items():
        if key == "properties.desired" and isinstance(value, Mapping):
            sections = ("modules", "systemModules") if system else ("modules",)
            for section in sections:
                yield from (value.get(section) or {}).items()
        elif key.startswith("properties.desired.modules.") and isinstance(value, Mapping):
            yield key.removeprefix("properties.desired.modules."), value


def _image(module: Any) -> Any:
    settings = module.get("settings") if isinstance(module, Mapping) else None
    return settings.get("image") if isinstance(settings, Mapping) else None


# --- modules pull only from the stack's registry -----------------------------------------------------------------


@conditional
def _from_stack_registry(props: Mapping[str, Any], _settings: Settings) -> list[str]:
    if not _is_edge(props):
        return NOT_APPLICABLE
    registry = peek(props, "registryLoginServer")
    modules = list(_modules(props))
    if not modules:
        return NOT_APPLICABLE
    problems = []
    for name, module in modules:
        image = _image(module)
        if not isinstance(image, str) or not isinstance(registry, str) or not image.startswith(f"{registry}/"):
            problems.append(f"module '{name}' pulls {image!r}, not an image of the stack's registry {registry!r}")
    return problems


edge_modules_from_stack_registry = ResourceRule(
    name="edge-modules-from-stack-registry",
    description="IoT Edge modules run images from the stack's own container registry only.",
    types=(DYNAMIC,),
    check=_from_stack_registry,
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation=(
        "build the scoring module from pipelines/edge/Dockerfile into the stack's registry and set edge.imageTag; the model "
        "image (pipelines/edge/model.Dockerfile) comes from train.yml's edge-model-image and edge-model-import jobs"
    ),
    why=(
        "A device runs whatever image its manifest names with the device's privileges over local data and the "
        "upstream route; an image from a public or foreign registry bypasses the platform's build, scan and tag "
        "discipline."
    ),
    references=References(docs=COMPOSITION_DOCS),
)


# --- no privileged container, no host namespaces, no added capabilities -------------------------------------------


def _host_config(module: Any) -> tuple[Mapping[str, Any] | None, str | None]:
    settings = module.get("settings") if isinstance(module, Mapping) else None
    options = settings.get("createOptions", "{}") if isinstance(settings, Mapping) else "{}"
    if not isinstance(options, str):
        return None, "createOptions is not a JSON string"
    try:
        parsed = json.loads(options)
    except ValueError:
        return None, "createOptions is not JSON"
    host = parsed.get("HostConfig") if isinstance(parsed, Mapping) else None
    return (host if isinstance(host, Mapping) else {}), None


@conditional
def _not_privileged(props: Mapping[str, Any], _settings: Settings) -> list[str]:
    if not _is_edge(props):
        return NOT_APPLICABLE
    problems = []
    for name, module in _modules(props, system=True):
        host, broken = _host_config(module)
        if broken:
            problems.append(f"module '{name}': {broken}")
            continue
        for key, value in EDGE["forbiddenHostConfig"].items():
            if host.get(key) == value:
                problems.append(f"module '{name}' sets HostConfig.{key}={json.dumps(value)}")
        for key in EDGE["forbiddenHostLists"]:
            if host.get(key):
                problems.append(f"module '{name}' sets HostConfig.{key}")
    return problems


edge_modules_not_privileged = ResourceRule(
    name="edge-modules-not-privileged",
    description="IoT Edge modules' createOptions give no privileged mode, host network, PID or IPC namespace, added capabilities or devices.",
    types=(DYNAMIC,),
    check=_not_privileged,
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation="remove Privileged, NetworkMode/PidMode/IpcMode 'host', CapAdd and Devices from the module's createOptions",
    why=(
        "createOptions are Docker's container create options: privileged mode, the host's namespaces or added "
        "capabilities give the module the device itself, so a flaw in a scoring module becomes a compromised device."
    ),
    references=References(docs=EDGE["createOptionsSource"]),
)


# --- the runtime's images are pinned --------------------------------------------------------------------------------


@conditional
def _runtime_pinned(props: Mapping[str, Any], _settings: Settings) -> list[str]:
    desired = _agent(props).get("properties.desired") if _is_edge(props) else None
    system = desired.get("systemModules") if isinstance(desired, Mapping) else None
    if not isinstance(system, Mapping):
        return NOT_APPLICABLE  # a layered deployment: the base carries the runtime
    problems = []
    for name, repository in EDGE["systemImages"].items():
        image = _image(system.get(name))
        repo, _, tag = image.rpartition(":") if isinstance(image, str) else ("", "", "")
        if repo != repository or not PINNED_TAG.fullmatch(tag):
            problems.append(f"systemModules.{name} runs {image!r}; it must be {repository}:<major>.<minor>[.<patch>]")
    return problems


edge_runtime_pinned = ResourceRule(
    name="edge-runtime-pinned",
    description="The base deployment runs Microsoft's IoT Edge agent and hub images at a pinned major.minor (LTS) tag.",
    types=(DYNAMIC,),
    check=_runtime_pinned,
    severity=Severity.MEDIUM,
    pillar=RELIABILITY,
    remediation=f"use {EDGE['systemImages']['edgeAgent']}:{EDGE['runtimeTag']} and {EDGE['systemImages']['edgeHub']}:{EDGE['runtimeTag']} (components/edge_manifest.py)",
    why=(
        "`latest` or a major-only tag moves every device to a new runtime release (and its breaking changes) without "
        "a reviewed change; the major.minor tag of the LTS line still takes its patch releases, which carry the "
        "security fixes."
    ),
    references=References(docs="https://learn.microsoft.com/azure/iot-edge/version-history"),
)


# --- deploy-*: what IoT Hub rejects in a configuration ------------------------------------------------------------


def _plain(value: Any) -> Any:
    """The value as plain dicts and lists (pulumi-policy hands proxies, which json cannot serialise)."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _size(value: Any) -> int:
    return len(json.dumps(_plain(value), separators=(",", ":")).encode())


@conditional
def _configuration_valid(props: Mapping[str, Any], _settings: Settings) -> list[str]:
    if not _is_edge(props):
        return NOT_APPLICABLE
    problems = []
    identifier = peek(props, "configurationId")
    if identifier is not UNKNOWN and (not isinstance(identifier, str) or not CONFIGURATION_ID.fullmatch(identifier)):
        problems.append(f"configurationId {identifier!r} is not 1-128 lowercase letters, digits or -:+%_#*?!(),=@;$'")
    priority = peek(props, "priority")
    if not isinstance(priority, (int, float)) or isinstance(priority, bool) or priority < 0 or priority != int(priority):
        problems.append(f"priority {priority!r} is not a non-negative integer")
    for name, module in _modules(props, system=True):
        settings = module.get("settings") if isinstance(module, Mapping) else None
        options = settings.get("createOptions") if isinstance(settings, Mapping) else None
        if isinstance(options, str) and len(options.encode()) > EDGE["maxStringBytes"]:
            problems.append(f"module '{name}': createOptions is {len(options.encode())} bytes; a twin string holds at most {EDGE['maxStringBytes']}")
    content = peek(props, "content")
    modules = content.get("modulesContent") if isinstance(content, Mapping) else None
    for twin, desired in (modules.items() if isinstance(modules, Mapping) else ()):
        if _size(desired) > EDGE["maxDesiredBytes"]:
            problems.append(f"{twin}: desired properties are {_size(desired)} bytes; a module twin holds at most {EDGE['maxDesiredBytes']}")
    return problems


deploy_edge_configuration_valid = ResourceRule(
    name="deploy-edge-configuration-valid",
    description="IoT Edge deployments have a valid configuration id and priority, and fit the module twin's size limits.",
    types=(DYNAMIC,),
    check=_configuration_valid,
    severity=Severity.HIGH,
    pillar=RELIABILITY,
    remediation="keep ids as components/edge_manifest.configuration_id makes them, priorities whole and non-negative, createOptions under 4 KB",
    why=(
        "IoT Hub rejects a configuration whose id is not lowercase within its character set or longer than 128 "
        "characters, or whose priority is not a non-negative integer; a manifest whose twin strings or desired "
        "properties exceed the twin limits does not reach the device."
    ),
    references=References(docs=(EDGE["configurationIdSource"], "https://learn.microsoft.com/azure/iot-hub/iot-hub-automatic-device-management", EDGE["limitsSource"])),
)


# --- staged rollout: the canary is a strict part of the fleet; the fleet runs only what a canary ran ---------------


def _clauses(condition: Any) -> set[str] | None:
    """A condition's AND-ed clauses, whitespace-normalised (the stack writes only AND-ed tag clauses)."""
    if not isinstance(condition, str) or not condition.strip():
        return None
    return {re.sub(r"\s+", "", clause) for clause in _AND.split(condition.strip())}


def _by_stage(resources: list[PolicyResource]) -> dict[str, PolicyResource]:
    return {str(peek(r.props, "stage")): r for r in resources if r.resource_type == DYNAMIC and _is_edge(r.props)}


@conditional
def _canary_narrower(resources: list[PolicyResource], _settings: Settings) -> Iterator[tuple[str, str]]:
    stages = _by_stage(resources)
    canary, fleet = stages.get(CANARY), stages.get(FLEET)
    if canary is None or fleet is None:
        return
    inner, outer = _clauses(peek(canary.props, "targetCondition")), _clauses(peek(fleet.props, "targetCondition"))
    if inner is None or outer is None or not outer < inner:
        yield canary.urn, (
            f"the canary's target condition {peek(canary.props, 'targetCondition')!r} is not the fleet's "
            f"{peek(fleet.props, 'targetCondition')!r} AND-ed with more clauses"
        )
    if not (isinstance(peek(canary.props, "priority"), (int, float)) and isinstance(peek(fleet.props, "priority"), (int, float))
            and peek(canary.props, "priority") > peek(fleet.props, "priority")):  # fmt: skip
        yield canary.urn, f"the canary's priority {peek(canary.props, 'priority')} is not above the fleet's {peek(fleet.props, 'priority')}"


edge_canary_narrower = StackRule(
    name="edge-canary-narrower",
    description="An IoT Edge canary targets a strict part of the fleet (its condition plus AND-ed clauses) at a higher priority.",
    check=_canary_narrower,
    severity=Severity.HIGH,
    pillar=OPERATIONS,
    remediation="write the canary's targetCondition as the fleet's AND tags.ring='canary' and its priority above the fleet's (promote --target edge --canary does)",
    why=(
        "Layered deployments on one device merge, the higher priority winning: a canary whose condition is not inside "
        "the fleet's reaches devices outside the fleet, and one at a lower priority never replaces the fleet's module."
    ),
    references=References(docs=LAYERED_DOCS),
)


@conditional
def _fleet_canaried(props: Mapping[str, Any], _settings: Settings) -> list[str]:
    if not _is_edge(props) or peek(props, "stage") != FLEET:
        return NOT_APPLICABLE
    model, verified = peek(props, "model"), peek(props, "verifiedOnCanary")
    if verified == model:
        return []
    return [f"the fleet runs {model!r}, which no canary stage ran before it (verifiedOnCanary: {verified if isinstance(verified, str) else 'none'})"]


edge_fleet_model_canaried = ResourceRule(
    name="edge-fleet-model-canaried",
    description="The IoT Edge fleet runs only a model version that ran on the canary ring first.",
    types=(DYNAMIC,),
    check=_fleet_canaried,
    severity=Severity.HIGH,
    pillar=OPERATIONS,
    remediation="roll the model out with promote --target edge --canary, then --complete (which records verifiedOnCanary)",
    why=(
        "A model change on the whole fleet at once has no way back short of a second full rollout; the canary ring "
        "shows a broken model or module on a few devices first. Mandatory in prod, advisory in dev and staging."
    ),
    references=References(docs=LAYERED_DOCS),
)
