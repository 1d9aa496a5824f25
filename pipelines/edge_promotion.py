"""Edge promotion as a stack-config change: canary, complete and rollback edit `mlops-platform:edge`.

The same discipline as the endpoint rollout (pipelines/promotion.py, whose locking, validation and minimal edit this
reuses): the file is locked from reading to writing, the new text is validated with the config model `pulumi up`
uses, and only the lines whose data change are rewritten (comments and order kept).

- `canary --model M`: the canary entry runs M. A new canary targets the fleet's devices (the base's, before the
  first fleet) that are also tagged `ring=canary` (`... AND tags.ring='canary'`) at a priority above the fleet's; an
  existing canary keeps its condition and priority and gets the new model.
- `complete`: the fleet entry (created on the base's devices if there is none) takes the canary's model, records it
  as `verifiedOnCanary`, and the canary entry goes. With no fleet and no canary, `complete --model M` starts the
  fleet directly (no canary stage: policy edge-fleet-model-canaried refuses that in prod).
- `rollback`: the canary entry goes; the fleet's devices in the canary ring return to the fleet's model.
Every model named must be a registered version carrying the `onnx` tag (pipelines.model_metadata.ONNX_TAG).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from core.config import EDGE_CANARY, EDGE_FLEET, PROJECT
from core.errors import BadInput, Refused
from pipelines.model_metadata import ONNX_TAG
from pipelines.promotion import (
    Promotion,
    _checked,
    edited_text,
    existing_stack_file,
    locked,
    normalized_model,
    write_atomically,
)

EDGE_KEY = f"{PROJECT}:edge"
CANARY_RING = "tags.ring='canary'"
PRIORITY_STEP = 10  # between the base, the fleet and the canary: room for a hand-made layer in between
# A model version's tags, or None when the registry has no such version.
ModelTags = Callable[[str, str], Mapping[str, str] | None]


def require_onnx(model: str, model_tags: ModelTags) -> None:
    name, version = model.split(":")
    tags = model_tags(name, version)
    if tags is None:
        raise Refused(f"the model registry has no version {version} of '{name}'")
    if not tags.get(ONNX_TAG):
        raise Refused(f"{model} has no ONNX artifact (no '{ONNX_TAG}' tag): the edge runs ONNX only; retrain with the ONNX export")


def _entry(edge: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((d for d in edge["deployments"] if d.get("name") == name), None)


def canary(edge: dict[str, Any], model: str) -> str:
    fleet, current = _entry(edge, EDGE_FLEET), _entry(edge, EDGE_CANARY)
    keeps = f"the fleet keeps {fleet['model']}" if fleet else "no fleet yet"
    if fleet is not None and fleet.get("model") == model:
        raise Refused(f"{model} already runs on the fleet")
    if current is not None:
        if current.get("model") == model:
            raise Refused(f"{model} already runs on the canary")
        current["model"] = model
        return f"{model} on the canary ({current['targetCondition']}); {keeps}"
    outer = fleet or {"targetCondition": edge["targetCondition"], "priority": _fleet_priority(edge)}
    condition = f"{outer['targetCondition']} AND {CANARY_RING}"
    edge["deployments"].append(
        {"name": EDGE_CANARY, "model": model, "targetCondition": condition, "priority": int(outer["priority"]) + PRIORITY_STEP}
    )
    return f"{model} on the canary ({condition}); {keeps}"


def _fleet_priority(edge: dict[str, Any]) -> int:
    return int(edge.get("priority", 0)) + PRIORITY_STEP


def _new_fleet(edge: dict[str, Any], model: str) -> dict[str, Any]:
    fleet = {"name": EDGE_FLEET, "model": model, "targetCondition": edge["targetCondition"], "priority": _fleet_priority(edge)}
    edge["deployments"].insert(0, fleet)
    return fleet


def complete(edge: dict[str, Any], model: str | None) -> str:
    fleet, current = _entry(edge, EDGE_FLEET), _entry(edge, EDGE_CANARY)
    if current is None:
        if fleet is None and model:
            _new_fleet(edge, model)
            return f"{model} on the fleet ({edge['targetCondition']}) without a canary stage: the first model on the edge"
        raise Refused("no edge canary in progress: start one with --canary --model NAME:VERSION")
    if model and current.get("model") != model:
        raise Refused(f"the edge canary runs {current['model']}, not {model}")
    previous = f"{fleet['model']} retired" if fleet else "the first fleet model"
    fleet = fleet or _new_fleet(edge, current["model"])
    fleet["model"] = fleet["verifiedOnCanary"] = current["model"]
    edge["deployments"] = [d for d in edge["deployments"] if d.get("name") != EDGE_CANARY]
    return f"{fleet['model']} on the fleet ({fleet['targetCondition']}); {previous}, canary removed"


def rollback(edge: dict[str, Any], model: str | None) -> str:
    current = _entry(edge, EDGE_CANARY)
    if current is None:
        raise Refused("no edge canary to roll back (revert the promotion commit to undo a completed rollout)")
    if model and current.get("model") != model:
        raise Refused(f"the edge canary runs {current['model']}, not {model}")
    edge["deployments"] = [d for d in edge["deployments"] if d.get("name") != EDGE_CANARY]
    fleet = _entry(edge, EDGE_FLEET)
    return f"{current['model']} rolled back from the canary; the fleet runs {fleet['model'] if fleet else 'nothing'}"


def promote_edge(environment: str, model: str | None, action: str, model_tags: ModelTags, *, dry_run: bool = True) -> Promotion:
    """One edge step (`canary`, `complete`, `rollback`) on the stack file; see the module docstring."""
    path, source = existing_stack_file(environment)
    model = normalized_model(model)
    if action == "canary" and model is None:
        raise BadInput("--model is required with --canary")
    if model and action != "rollback":
        require_onnx(model, model_tags)
    with locked(path):
        data = path.read_bytes()
        document, _cfg = _checked(environment, data, source)  # a bad stack file is bad input naming its key (exit 2)
        edge = (document.get("config") or {}).get(EDGE_KEY)
        if not isinstance(edge, dict) or not edge.get("targetCondition"):
            raise Refused(f"{source} sets no {EDGE_KEY}.targetCondition: the environment has no edge devices to roll out to")
        edge.setdefault("deployments", [])
        summary = {"canary": lambda: canary(edge, model), "complete": lambda: complete(edge, model),
                   "rollback": lambda: rollback(edge, model)}[action]()  # fmt: skip
        before = data.decode("utf-8")
        result = Promotion(path, before, edited_text(environment, before, document, source), summary)
        if not dry_run:
            write_atomically(path, result.after)
    return result
