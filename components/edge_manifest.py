"""IoT Edge deployment manifests as the stack generates them: pure functions, no Pulumi, no I/O.

Two kinds of IoT Hub configuration carry the edge rollout (module-deployment-monitoring, "Layered deployment"):
- the **base deployment**, a standard automatic deployment on every edge device of the environment: the IoT Edge
  runtime (`$edgeAgent` and `$edgeHub` with their system modules pinned to the 1.5 LTS images), the credentials of
  the stack's registry and the hub's store-and-forward settings. "The system runtime modules, edgeAgent and edgeHub,
  are not configured as part of a layered deployment. Any IoT Edge device targeted by a layered deployment needs a
  standard automatic deployment applied to it first."
- one **layered deployment** per `edge.deployments` entry: the scoring module, its routes and its module twin,
  written as `properties.desired.<path>` keys that merge into the base ("$edgeAgent":
  `properties.desired.modules.<name>`, "$edgeHub": `properties.desired.routes.<name>`). Where two layered
  deployments set the same path on one device, the higher priority wins: the canary's module (same name, newer
  model) replaces the fleet's on the canary devices.

`createOptions` is a JSON **string** (how-to-use-create-options: the runtime expects it stringified). Values in a
twin are limited (iot-hub-devguide-device-twins: strings up to 4 KB, desired properties up to 32 KB per twin), which
`check_manifest` enforces with the other manifest rules (module names, route syntax, no privileged container).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.azure_facts import facts

EDGE = facts("iot_edge")  # the pack's table: the policies judge the manifests by the same facts
# The IoT Edge runtime's images, pinned to the 1.5 LTS line (version-history: 1.5 is the supported LTS; the
# `1.5` tag follows its patch releases, which carry the security fixes).
EDGE_AGENT_IMAGE = f"{EDGE['systemImages']['edgeAgent']}:{EDGE['runtimeTag']}"
EDGE_HUB_IMAGE = f"{EDGE['systemImages']['edgeHub']}:{EDGE['runtimeTag']}"
SCHEMA_VERSION = "1.1"
EDGE_IMAGE_REPOSITORY = "mlops/edge"  # built from pipelines/edge/Dockerfile, pushed to the stack's registry
SCORING_MODULE = "scorer"
TELEMETRY_INPUT = "telemetry"
PREDICTIONS_OUTPUT = "predictions"
# The module twin's desired properties the scoring module reads (pipelines/edge/module.py; a test keeps the two
# equal). modelUri is the version in the shared registry; the module fetches only https:// or file:// and verifies
# modelSha256, which nothing here sets yet, so a device reports modelError until the ONNX file is published
# (README, Edge deployments, limits).
MODEL_NAME_PROPERTY, MODEL_VERSION_PROPERTY, MODEL_URI_PROPERTY, IMAGE_TAG_PROPERTY = "modelName", "modelVersion", "modelUri", "imageTag"
# edgeHub's documented bindings for downstream (leaf) devices: AMQPS, MQTTS, and both over WebSockets (443).
HUB_PORTS = ("5671/tcp", "8883/tcp", "443/tcp")
STORE_AND_FORWARD_SECONDS = 7200
# The scoring container's logs rotate: a device in the field has a small disk.
SCORING_CREATE_OPTIONS = {"HostConfig": {"LogConfig": {"Type": "json-file", "Config": {"max-size": "10m", "max-file": "3"}}}}

MAX_STRING_BYTES: int = EDGE["maxStringBytes"]  # a twin string value (createOptions included)
MAX_DESIRED_BYTES: int = EDGE["maxDesiredBytes"]  # a module twin's desired properties
MODULE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_MODULE = r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}"
_ENDPOINT = r"[A-Za-z0-9_-]{1,64}"
ROUTE = re.compile(
    rf"^FROM /messages/(?:\*|modules/(?P<source>{_MODULE})/(?:\*|outputs/(?:\*|{_ENDPOINT})))"
    rf"(?: WHERE .+?)?"
    rf" INTO (?:\$upstream|BrokeredEndpoint\(\"/modules/(?P<sink>{_MODULE})/inputs/{_ENDPOINT}\"\))$"
)
# createOptions that give a module the host: privileges, the host's network, PID or IPC namespace, capabilities.
FORBIDDEN_HOST_CONFIG: dict[str, Any] = EDGE["forbiddenHostConfig"]
FORBIDDEN_HOST_LISTS: tuple[str, ...] = tuple(EDGE["forbiddenHostLists"])
# IoT Hub configuration ids (REST reference, Configuration.id): lowercase, at most 128 characters of these.
CONFIGURATION_ID = re.compile(EDGE["configurationId"])


class ManifestError(ValueError):
    """A manifest that breaks an IoT Edge rule; the message names the module or route."""


@dataclass(frozen=True)
class Registry:
    """The stack's container registry as the IoT Edge agent signs in to it."""

    login_server: str
    username: str
    password: str | None


@dataclass(frozen=True)
class ScoringRelease:
    """What one layered deployment runs: the scoring module's image tag and one model version."""

    login_server: str
    image_tag: str
    model_name: str
    model_version: str
    model_uri: str

    @property
    def image(self) -> str:
        return f"{self.login_server}/{EDGE_IMAGE_REPOSITORY}:{self.image_tag}"


def create_options(options: Mapping[str, Any]) -> str:
    """createOptions as the runtime takes them: compact JSON text."""
    return json.dumps(options, separators=(",", ":"), sort_keys=True)


def base_manifest(registry: Registry) -> dict[str, Any]:
    """The base deployment's modulesContent: the runtime, the registry's credentials, no modules and no routes of
    its own (the layered deployments add them)."""
    credentials = {}
    if registry.password is not None:
        name = registry.login_server.split(".")[0]
        credentials[name] = {"address": registry.login_server, "username": registry.username, "password": registry.password}
    hub_options = {"HostConfig": {"PortBindings": {port: [{"HostPort": port.split("/")[0]}] for port in HUB_PORTS}}}
    return {
        "$edgeAgent": {
            "properties.desired": {
                "schemaVersion": SCHEMA_VERSION,
                "runtime": {"type": "docker", "settings": {"registryCredentials": credentials}},
                "systemModules": {
                    "edgeAgent": {"type": "docker", "settings": {"image": EDGE_AGENT_IMAGE, "createOptions": create_options({})}},
                    "edgeHub": {
                        "type": "docker",
                        "status": "running",
                        "restartPolicy": "always",
                        "settings": {"image": EDGE_HUB_IMAGE, "createOptions": create_options(hub_options)},
                    },
                },
                "modules": {},
            }
        },
        "$edgeHub": {
            "properties.desired": {
                "schemaVersion": SCHEMA_VERSION,
                "routes": {},
                "storeAndForwardConfiguration": {"timeToLiveSecs": STORE_AND_FORWARD_SECONDS},
            }
        },
    }


def scoring_routes(module: str = SCORING_MODULE) -> dict[str, str]:
    """Telemetry from downstream devices into the module's input; its predictions upstream to IoT Hub."""
    return {
        f"{module}Telemetry": f'FROM /messages/* WHERE NOT IS_DEFINED($connectionModuleId) INTO BrokeredEndpoint("/modules/{module}/inputs/{TELEMETRY_INPUT}")',
        f"{module}Predictions": f"FROM /messages/modules/{module}/outputs/{PREDICTIONS_OUTPUT} INTO $upstream",
    }


def layered_manifest(release: ScoringRelease, module: str = SCORING_MODULE) -> dict[str, Any]:
    """A layered deployment's modulesContent: the scoring module, its routes, its twin's desired properties."""
    return {
        "$edgeAgent": {
            f"properties.desired.modules.{module}": {
                "type": "docker",
                "status": "running",
                "restartPolicy": "always",
                "version": "1.0",
                "settings": {"image": release.image, "createOptions": create_options(SCORING_CREATE_OPTIONS)},
            }
        },
        "$edgeHub": {f"properties.desired.routes.{name}": route for name, route in scoring_routes(module).items()},
        module: {
            "properties.desired": {
                MODEL_NAME_PROPERTY: release.model_name,
                MODEL_VERSION_PROPERTY: release.model_version,
                MODEL_URI_PROPERTY: release.model_uri,
                IMAGE_TAG_PROPERTY: release.image_tag,
            }
        },
    }


def content_digest(content: Mapping[str, Any]) -> str:
    """A short digest of a configuration's content: part of its id, because IoT Hub configuration content is
    immutable (a new content is a new configuration)."""
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:10]


def configuration_id(prefix: str, name: str, content: Mapping[str, Any]) -> str:
    """`<prefix>-<name>-<digest>`, lowercase, as IoT Hub configuration ids must be."""
    identifier = f"{prefix}-{name}-{content_digest(content)}".lower()
    if not CONFIGURATION_ID.fullmatch(identifier):
        raise ManifestError(f"configuration id '{identifier}' is not 1-128 lowercase letters, digits or -:+%_#*?!(),=@;$'")
    return identifier


# --- the manifest rules --------------------------------------------------------------------------------------------


def _size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")).encode())


def _module_problems(name: str, module: Mapping[str, Any]) -> list[str]:
    problems = []
    if not MODULE_NAME.fullmatch(name):
        problems.append(f"module name '{name}' is not 1-64 letters, digits, '-' or '_' starting with a letter or digit")
    settings = module.get("settings") or {}
    options = settings.get("createOptions", "{}")
    if not isinstance(options, str):
        return [*problems, f"module '{name}': createOptions must be a JSON string, not {type(options).__name__}"]
    if len(options.encode()) > MAX_STRING_BYTES:
        problems.append(f"module '{name}': createOptions is {len(options.encode())} bytes; a twin string holds at most {MAX_STRING_BYTES}")
    try:
        parsed = json.loads(options)
    except ValueError:
        return [*problems, f"module '{name}': createOptions is not JSON"]
    host = parsed.get("HostConfig") or {} if isinstance(parsed, dict) else {}
    for key, value in FORBIDDEN_HOST_CONFIG.items():
        if host.get(key) == value:
            problems.append(f"module '{name}': createOptions sets HostConfig.{key}={json.dumps(value)}")
    for key in FORBIDDEN_HOST_LISTS:
        if host.get(key):
            problems.append(f"module '{name}': createOptions sets HostConfig.{key}")
    for field in ("status", "restartPolicy"):
        if name != "edgeAgent" and field not in module:
            problems.append(f"module '{name}': {field} is not set")
    return problems


def check_manifest(content: Mapping[str, Any]) -> list[str]:
    """Every broken IoT Edge manifest rule in a base or layered modulesContent, one sentence each."""
    problems: list[str] = []
    agent, hub = content.get("$edgeAgent") or {}, content.get("$edgeHub") or {}
    modules: dict[str, Any] = {}
    routes: dict[str, Any] = {}
    for key, value in agent.items():
        if key == "properties.desired":
            modules.update(value.get("modules") or {})
            modules.update(value.get("systemModules") or {})
        elif key.startswith("properties.desired.modules."):
            modules[key.removeprefix("properties.desired.modules.")] = value
        elif key.startswith("properties.desired.systemModules"):
            problems.append(f"$edgeAgent sets '{key}': a layered deployment cannot configure the system modules")
    for key, value in hub.items():
        if key == "properties.desired":
            routes.update(value.get("routes") or {})
        elif key.startswith("properties.desired.routes."):
            routes[key.removeprefix("properties.desired.routes.")] = value
    for name, module in modules.items():
        problems += _module_problems(name, module)
    declared = set(modules) | {m for m in content if not m.startswith("$")}
    for name, route in routes.items():
        text = route.get("route") if isinstance(route, dict) else route
        match = ROUTE.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            problems.append(f"route '{name}' is not FROM /messages/... [WHERE ...] INTO $upstream | BrokeredEndpoint(\"/modules/<m>/inputs/<i>\"): {text!r}")
            continue
        for end in ("source", "sink"):
            if match.group(end) and match.group(end) not in declared:
                problems.append(f"route '{name}' names module '{match.group(end)}', which this deployment does not declare")
    for twin, sections in content.items():
        for key in sections:
            if key != "properties.desired" and not key.startswith("properties.desired."):
                problems.append(f"{twin}: '{key}' is not a properties.desired path")
        if _size(sections) > MAX_DESIRED_BYTES:
            problems.append(f"{twin}: desired properties are {_size(sections)} bytes; a module twin holds at most {MAX_DESIRED_BYTES}")
    return problems


def checked(content: dict[str, Any]) -> dict[str, Any]:
    """The content when it keeps every manifest rule; ManifestError naming the first broken one otherwise."""
    problems = check_manifest(content)
    if problems:
        raise ManifestError(problems[0])
    return content
