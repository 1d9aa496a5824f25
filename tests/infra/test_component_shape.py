"""One component shape (components/base.py): every component exposes `resource_id` and `resource_name` of its main
resource, and `principal_id` of that resource's identity where it has one, read here from the components the mock
run recorded (their registered outputs), not from the source.

Every Args field and every output carries a one-line docstring (a string literal right under it), and Args have no
defaults: the config model holds the defaults and the stack passes every value."""

from __future__ import annotations

import ast
import importlib
import json
import pkgutil
from pathlib import Path

import pytest

import components
from components.base import PlatformComponent
from core.config import read_stack_values
from mlops.mockrun import run_stack
from tests.conftest import run_with

COMPONENTS_DIR = Path(components.__file__).parent
# A served model, so that the stack also records the scheduled monitor job.
SERVING = {"environment": "mlops-serving:3", "traffic": {"blue": 100},
           "deployments": [{"name": "blue", "model": "predictive-maintenance:4", "instanceCount": 1}]}  # fmt: skip


def component_classes() -> dict[str, type[PlatformComponent]]:
    """Every PlatformComponent subclass in components/, by its type token."""
    for module in pkgutil.iter_modules([str(COMPONENTS_DIR)]):
        importlib.import_module(f"components.{module.name}")
    found, pending = {}, [PlatformComponent]
    while pending:
        for sub in pending.pop().__subclasses__():
            found[sub.TYPE] = sub
            pending.append(sub)
    return found


@pytest.fixture(scope="module")
def recorded(stacks):
    """Every component the program records, across shared, dev, staging, prod and a stack that serves a model."""
    own = json.loads(read_stack_values("dev")[0]["mlops-platform:serving"])
    records = [run_stack("shared"), *stacks.values(), run_with("dev", serving=json.dumps(own | SERVING))]
    by_urn = {}
    for record in records:
        ids = {r.outputs.get("id"): r for r in record.resources if r.custom}
        for resource in record.resources:
            if not resource.custom and resource.type.startswith("mlops:"):
                by_urn[f"{record.environment}:{resource.urn}"] = (resource, ids)
    return by_urn


def test_every_component_class_is_recorded(recorded):
    assert sorted(component_classes()) == sorted({resource.type for resource, _ in recorded.values()})


def test_every_component_exposes_its_main_resource(recorded):
    classes = component_classes()
    checked = set()
    for key, (component, ids) in recorded.items():
        outputs = component.registered_outputs
        if classes[component.type].AGGREGATE:
            assert outputs == {}, key
            continue
        main = ids.get(outputs.get("resource_id"))
        assert main is not None, f"{key}: resource_id {outputs.get('resource_id')!r} is no recorded resource's id"
        assert main.parent == component.urn, f"{key}: the main resource is not the component's own child"
        assert outputs["resource_name"] == main.outputs["name"], key
        identity = main.inputs.get("identity") or {}
        if "SystemAssigned" in str(identity.get("type", "")):
            assert outputs["principal_id"] == main.outputs["identity"]["principalId"], key
        elif identity.get("userAssignedIdentities"):
            assert outputs["principal_id"] in [v["principalId"] for v in main.outputs["identity"]["userAssignedIdentities"].values()], key
        else:
            assert "principal_id" not in outputs, f"{key}: principal_id without an identity on the main resource"
        checked.add(component.type)
    assert {t for t, cls in classes.items() if not cls.AGGREGATE} == checked
    assert sorted(t for t, cls in classes.items() if cls.AGGREGATE) == ["mlops:network:RemotePrivateEndpoints",
                                                                         "mlops:security:WorkloadAccess"]  # fmt: skip


def test_a_component_without_resource_id_is_refused():
    class Nameless(PlatformComponent):
        TYPE = "mlops:test:Nameless"
        OUTPUTS = ("login_server",)

    component = Nameless.__new__(Nameless)
    with pytest.raises(TypeError, match="Nameless: a component exposes resource_id and resource_name"):
        PlatformComponent._register(component)


def _documented(body: list[ast.stmt], index: int) -> bool:
    following = body[index + 1] if index + 1 < len(body) else None
    return isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant) and isinstance(following.value.value, str)


def _args_classes():
    """Every dataclass a component takes as (part of) its Args, by file: the `*Args` and the specs inside them."""
    for path in sorted(COMPONENTS_DIR.glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef) and any("dataclass" in ast.unparse(d) for d in node.decorator_list):
                yield path.name, node


ARGS_TYPES = {"AlertsArgs", "MetricRule", "LogMetricRule", "EventHubTarget", "BatchScoringArgs", "BatchDeploymentSpec",
              "ComputeClusterArgs", "DataFactoryArgs", "BatchSource", "DataLakeArgs", "EdgeArgs", "EdgeEntry",
              "EventHubsArgs", "HubArgs", "IotHubArgs", "KeyVaultArgs", "MlRegistryArgs", "MlWorkspaceArgs",
              "OutboundTarget", "MonitorJobArgs", "JobPort", "MonitoringArgs", "NetworkArgs", "RemoteService",
              "RegistryArgs", "RetrainTriggerArgs", "PromotionDispatch", "CiRunnersArgs", "OnlineServingArgs",
              "DeploymentSpec", "ProbeSpec", "Principal", "Grant"}  # fmt: skip
# Not configuration at all, so a default is right (each field's docstring says why).
NOT_CONFIGURATION = {("MetricRule", "aggregation"), ("MetricRule", "dimensions"), ("Grant", "principal_type")}


def test_args_fields_are_documented_and_have_no_defaults():
    seen, undocumented, defaults = set(), [], []
    for file, node in _args_classes():
        if node.name not in ARGS_TYPES:
            continue
        seen.add(node.name)
        for index, statement in enumerate(node.body):
            if isinstance(statement, ast.AnnAssign):
                field = statement.target.id
                if not _documented(node.body, index):
                    undocumented.append(f"{file} {node.name}.{field}")
                if statement.value is not None and (node.name, field) not in NOT_CONFIGURATION:
                    defaults.append(f"{file} {node.name}.{field}")
    assert seen == ARGS_TYPES
    assert undocumented == []
    assert defaults == []


def test_outputs_are_documented():
    undocumented = []
    for path in sorted(COMPONENTS_DIR.glob("*.py")):
        for cls in (n for n in ast.parse(path.read_text()).body if isinstance(n, ast.ClassDef)):
            outputs = next((ast.literal_eval(s.value) for s in cls.body if isinstance(s, ast.Assign)
                            and any(getattr(t, "id", "") == "OUTPUTS" for t in s.targets)), None)  # fmt: skip
            if outputs is None:
                continue
            documented = set()
            for function in (n for n in ast.walk(cls) if isinstance(n, ast.FunctionDef)):
                for block in (n for n in ast.walk(function) if hasattr(n, "body") and isinstance(n.body, list)):
                    for index, statement in enumerate(block.body):
                        target = getattr(statement, "target", None) or (statement.targets[0] if isinstance(statement, ast.Assign) else None)
                        if isinstance(target, ast.Attribute) and getattr(target.value, "id", "") == "self" and _documented(block.body, index):
                            documented.add(target.attr)
            undocumented += [f"{path.name} {cls.name}.{name}" for name in outputs if name not in documented]
    assert undocumented == []
