"""A client of the policy pack over Pulumi's Analyzer gRPC protocol, started exactly as the engine starts it.

The offline preview and the tests use it; it proves the pack works in `pulumi preview`, not just that the
rule functions do. One pack process serves a whole run: `configure(environment)` per stack sends that
environment's enforcement levels and rule properties (from policies/config/<env>.json, resolved against
GetAnalyzerInfo as the CLI resolves `--policy-pack-config`), then `check_stack` analyses every resource
and the whole stack.

The pack never calls back into the engine (`pulumi.policy` ignores the engine address unless it logs, and
it logs to stderr without one), so no engine server is started; the address passed is a placeholder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2, struct_pb2
from pulumi.output import Unknown
from pulumi.runtime import rpc
from pulumi.runtime.proto import analyzer_pb2 as proto
from pulumi.runtime.proto import analyzer_pb2_grpc
from pulumi_policy.deserialize import SPECIAL_SECRET_SIG, SPECIAL_SIG_KEY
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from core.config import PROJECT
from core.paths import ROOT_DIR
from mlops.preview.report import Violation
from mlops.records import RecordedResource, Secret, StackRecord

PACK_DIR = ROOT_DIR / "policies"
CONFIG_DIR = PACK_DIR / "config"
ENGINE_ADDRESS = "127.0.0.1:0"  # placeholder: the pack does not dial the engine

LEVELS = {
    "advisory": proto.ADVISORY,
    "mandatory": proto.MANDATORY,
    "remediate": proto.REMEDIATE,
    "disabled": proto.DISABLED,
}
LEVEL_NAMES = {value: name for name, value in LEVELS.items()}
NOT_EVALUATED = "not-evaluated"  # a rule that read a preview-time unknown: no verdict
_CANT_RUN = "can't run policy"


class PolicyConfigError(ValueError):
    """A policy config file names an unknown policy, level or property."""


class PackStartError(RuntimeError):
    """The pack process did not print its port."""


@dataclass(frozen=True)
class StackResource:
    """One resource as AnalyzeStack sees it (the engine sends outputs where it has them)."""

    type: str
    name: str
    urn: str
    props: dict[str, Any]
    protect: bool = False
    parent: str = ""
    dependencies: tuple[str, ...] = ()
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def resource_urn(type_: str, name: str, stack: str = "offline") -> str:
    return f"urn:pulumi:{stack}::{PROJECT}::{type_}::{name}"


def to_struct(props: dict[str, Any]) -> struct_pb2.Struct:
    """Properties in the engine's wire form: secrets as signature objects, unknowns as sentinels."""
    struct = struct_pb2.Struct()
    struct.update({key: _wire(value) for key, value in props.items()})
    return struct


def _wire(value: Any) -> Any:
    if isinstance(value, Secret):
        return {SPECIAL_SIG_KEY: SPECIAL_SECRET_SIG, "value": _wire(value.value)}
    if isinstance(value, Unknown) or value == rpc.UNKNOWN:
        return UNKNOWN_STRING_VALUE
    if isinstance(value, dict):
        return {str(k): _wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_wire(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def load_policy_config(environment: str | None, config_dir: Path = CONFIG_DIR) -> dict[str, Any]:
    """The `--policy-pack-config` document of an environment; {} (pack defaults) when it has none."""
    path = config_dir / f"{environment}.json"
    if environment is None or not path.exists():
        return {}
    try:
        document = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise PolicyConfigError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise PolicyConfigError(f"{path}: must be a JSON object of policy name -> level or settings")
    return document


def resolve_policy_config(document: dict[str, Any], info: proto.AnalyzerInfo, source: str = "config") -> dict:
    """Resolve a `--policy-pack-config` document against the pack: an explicit level for every policy.

    Start from each policy's default level, apply "all", then the per-policy entries (a level string, or an
    object with an optional enforcementLevel and the policy's config properties).
    """
    policies = {policy.name: policy for policy in info.policies}
    default_all = document.get("all")
    resolved: dict[str, proto.PolicyConfig] = {}
    for name, policy in policies.items():
        level = policy.enforcementLevel if default_all is None else _level(default_all, source, "all")
        properties: dict[str, Any] = {}
        entry = document.get(name)
        if isinstance(entry, str):
            level = _level(entry, source, name)
        elif isinstance(entry, dict):
            if "enforcementLevel" in entry:
                level = _level(entry["enforcementLevel"], source, f"{name}.enforcementLevel")
            properties = {k: v for k, v in entry.items() if k != "enforcementLevel"}
            allowed = set(policy.configSchema.properties.keys())
            for key in properties.keys() - allowed:
                raise PolicyConfigError(f"{source}: {name}.{key}: unknown property; allowed: {sorted(allowed) or 'none'}")
        elif entry is not None:
            raise PolicyConfigError(f"{source}: {name}: must be a level or an object")
        config = proto.PolicyConfig(enforcementLevel=level)
        config.properties.update(properties)
        resolved[name] = config
    for name in document.keys() - policies.keys() - {"all"}:
        raise PolicyConfigError(f"{source}: {name}: no such policy in the pack")
    return resolved


def _level(value: Any, source: str, key: str) -> int:
    if value not in LEVELS:
        raise PolicyConfigError(f"{source}: {key}: {value!r} is not one of {', '.join(LEVELS)}")
    return LEVELS[value]


class PolicyAnalyzer:
    """The pack as a running Analyzer: a context manager around its process and channel."""

    def __init__(self, pack_dir: Path = PACK_DIR, config_dir: Path = CONFIG_DIR, python: str = sys.executable):
        self.pack_dir, self.config_dir, self.python = pack_dir, config_dir, python
        self._process: subprocess.Popen | None = None
        self._channel: grpc.Channel | None = None
        self._info: proto.AnalyzerInfo | None = None
        self._configs: dict[str | None, dict] = {}

    def __enter__(self) -> PolicyAnalyzer:
        self._stderr = tempfile.TemporaryFile()
        env = {
            **os.environ,
            "PULUMI_PROJECT": PROJECT,
            "PULUMI_STACK": "offline",  # fixed for the process; enforcement comes from Configure only
            "PULUMI_DRY_RUN": "true",
            "PULUMI_CONFIG": "{}",
        }
        self._process = subprocess.Popen(
            [self.python, "-u", "-m", "pulumi.policy", ENGINE_ADDRESS, "."],
            cwd=self.pack_dir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        line = self._process.stdout.readline().decode().strip()
        if not line.isdigit():
            self.__exit__(None, None, None)
            raise PackStartError(f"policy pack in {self.pack_dir} did not start: {line!r} {self._errors()}")
        self._channel = grpc.insecure_channel(f"127.0.0.1:{line}")
        grpc.channel_ready_future(self._channel).result(timeout=30)
        self.stub = analyzer_pb2_grpc.AnalyzerStub(self._channel)
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._channel is not None:
            self._channel.close()
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process.stdout.close()
        self._stderr.close()

    def _errors(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-2000:]

    # --- protocol -----------------------------------------------------------------------------------------------

    def info(self) -> proto.AnalyzerInfo:
        if self._info is None:
            self._info = self.stub.GetAnalyzerInfo(empty_pb2.Empty())
        return self._info

    def configure(self, environment: str | None) -> None:
        """Send the environment's enforcement levels and properties; None or no file: pack defaults."""
        if environment not in self._configs:
            document = load_policy_config(environment, self.config_dir)
            source = os.path.relpath(self.config_dir / f"{environment}.json", ROOT_DIR)
            self._configs[environment] = resolve_policy_config(document, self.info(), source)
        self.stub.Configure(proto.ConfigureAnalyzerRequest(policyConfig=self._configs[environment]))

    def analyze(
        self, type_: str, props: dict[str, Any], urn: str | None = None, name: str = "res", protect: bool = False
    ) -> list[Violation]:
        urn = urn or resource_urn(type_, name)
        request = proto.AnalyzeRequest(
            type=type_,
            properties=to_struct(props),
            urn=urn,
            name=name,
            options=proto.AnalyzerResourceOptions(protect=protect),
        )
        return self._violations(self.stub.Analyze(request).diagnostics, urn)

    def analyze_stack(self, resources: Iterable[StackResource]) -> list[Violation]:
        request = proto.AnalyzeStackRequest(
            resources=[
                proto.AnalyzerResource(
                    type=r.type,
                    properties=to_struct(r.props),
                    urn=r.urn,
                    name=r.name,
                    options=proto.AnalyzerResourceOptions(protect=r.protect, parent=r.parent),
                    parent=r.parent,
                    dependencies=list(r.dependencies),
                    propertyDependencies={
                        key: proto.AnalyzerPropertyDependencies(urns=list(urns)) for key, urns in r.property_dependencies.items()
                    },
                )
                for r in resources
            ]
        )
        return self._violations(self.stub.AnalyzeStack(request).diagnostics, "")

    def check_stack(self, record: StackRecord, environment: str | None = None) -> list[Violation]:
        """Every verdict on one recorded stack under its environment's policy config, as the engine gives them:
        Analyze per custom resource (inputs), then AnalyzeStack over all resources (outputs when recorded)."""
        self.configure(environment or record.environment)
        violations: list[Violation] = []
        for resource in record.resources:
            if resource.custom:
                violations += self.analyze(resource.type, resource.inputs, resource.urn, resource.name, resource.protect)
        violations += self.analyze_stack(stack_resource(r) for r in record.resources)
        return violations

    @staticmethod
    def _violations(diagnostics: Iterable[proto.AnalyzeDiagnostic], urn: str) -> list[Violation]:
        return [
            Violation(
                policy=d.policyName,
                urn=d.urn or urn,
                enforcement=NOT_EVALUATED if d.message.startswith(_CANT_RUN) else LEVEL_NAMES[d.enforcementLevel],
                message=d.message,
            )
            for d in diagnostics
        ]


def stack_resource(resource: RecordedResource) -> StackResource:
    return StackResource(
        type=resource.type,
        name=resource.name,
        urn=resource.urn,
        props=resource.outputs or resource.inputs,
        protect=resource.protect,
        parent=resource.parent,
        dependencies=tuple(resource.dependencies),
        property_dependencies={key: tuple(urns) for key, urns in resource.property_dependencies.items()},
    )
