"""Promotion as a stack-config change: canary, complete and rollback edit `mlops-platform:serving`.

The edit is a round trip through ruamel.yaml, so comments, key order and formatting of the stack file are
kept, and the result is validated with the same config model `pulumi up` uses before anything is written.
Blue/green: a new model goes into the free slot (`blue` or `green`) beside the live deployment, copying its
sizing; completing moves all traffic to it and retires the old slot; rolling back retires the canary.
"""

from __future__ import annotations

import copy
import difflib
import io
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from mlops.errors import BadInput, Refused
from stacks.config import PROJECT, ConfigError, display_path, engine_values, parse_config, stack_file

SERVING_KEY = f"{PROJECT}:serving"
SLOTS = ("blue", "green")
GATE_STACK = "staging"  # a model reaches prod only after this stack served it


@dataclass
class Promotion:
    """The outcome of one promotion step: the new stack file text and a one-line summary."""

    path: Path
    before: str
    after: str
    summary: str
    model: str | None = None  # the model that now serves 100%, after --complete

    def diff(self) -> str:
        name = display_path(self.path)
        return "".join(difflib.unified_diff(self.before.splitlines(True), self.after.splitlines(True), name, name))


def _yaml() -> YAML:
    yaml = YAML()  # round-trip: comments and order survive
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    return yaml


def parse_model(model: str) -> tuple[str, str]:
    name, sep, version = model.partition(":")
    if not sep or not name or not version.isdigit():
        raise BadInput(f"--model: '{model}' is not NAME:VERSION (e.g. predictive-maintenance:3)")
    return name, version


def _serving(document: CommentedMap) -> CommentedMap:
    config = document.setdefault("config", CommentedMap())
    serving = config.get(SERVING_KEY)
    if serving is None:
        serving = config[SERVING_KEY] = CommentedMap()
    serving.setdefault("deployments", [])
    serving.setdefault("traffic", CommentedMap())
    return serving


def _live_and_canary(serving: CommentedMap) -> tuple[Any, Any]:
    """The live deployment (most traffic) and the canary (the other one), if any."""
    deployments = list(serving["deployments"])
    if not deployments:
        return None, None
    traffic = serving["traffic"]
    ordered = sorted(deployments, key=lambda d: -int(traffic.get(d["name"], 0)))
    return ordered[0], (ordered[1] if len(ordered) > 1 else None)


def canary(serving: CommentedMap, model: str, share: int) -> str:
    live, current_canary = _live_and_canary(serving)
    if live is None:
        serving["deployments"].append(CommentedMap(name=SLOTS[0], model=model))
        serving["traffic"] = CommentedMap({SLOTS[0]: 100})
        return f"{model} deployed as '{SLOTS[0]}' with 100% (no live deployment to canary against)"
    if live["model"] == model:
        raise Refused(f"{model} already serves {serving['traffic'].get(live['name'], 0)}% as '{live['name']}'")
    if current_canary is not None:
        if current_canary["model"] != model:
            raise Refused(
                f"a rollout of {current_canary['model']} is in progress as '{current_canary['name']}'; "
                "complete it (--complete) or roll it back (--rollback) first"
            )
        slot = current_canary["name"]
    else:
        slot = next(s for s in SLOTS if s != live["name"])
        new = copy.deepcopy(live)
        new["name"], new["model"] = slot, model
        serving["deployments"].append(new)
    serving["traffic"] = CommentedMap({live["name"]: 100 - share, slot: share})
    return f"{model} canary as '{slot}' with {share}%, '{live['name']}' keeps {100 - share}%"


def _in_progress(serving: CommentedMap, model: str | None, nothing: str) -> tuple[Any, Any]:
    live, candidate = _live_and_canary(serving)
    if candidate is None:
        raise Refused(nothing)
    if model and candidate["model"] != model:
        raise Refused(f"the rollout in progress is {candidate['model']}, not {model}")
    return live, candidate


def _keep_only(serving: CommentedMap, survivor: Any) -> None:
    """One slot left, serving everything; mirroring ends with the rollout."""
    serving["deployments"] = [d for d in serving["deployments"] if d["name"] == survivor["name"]]
    serving["traffic"] = CommentedMap({survivor["name"]: 100})
    serving.pop("mirrorTraffic", None)


def complete(serving: CommentedMap, model: str | None) -> str:
    live, candidate = _in_progress(serving, model, "no rollout in progress: only one deployment is declared")
    _keep_only(serving, candidate)
    return f"{candidate['model']} serves 100% as '{candidate['name']}'; '{live['name']}' ({live['model']}) retired"


def rollback(serving: CommentedMap, model: str | None) -> str:
    live, candidate = _in_progress(
        serving, model, "nothing to roll back: only one deployment is declared (revert the promotion commit instead)"
    )
    _keep_only(serving, live)
    return f"{candidate['model']} ('{candidate['name']}') rolled back; '{live['name']}' ({live['model']}) serves 100%"


def served_by(environment: str, model: str, root: Path) -> bool:
    """Whether a stack declares, or ever declared in git history, a deployment of this model."""
    path = stack_file(environment)
    if f"model: {model}" in path.read_text():
        return True
    history = subprocess.run(
        ["git", "log", "--format=%H", "-S", f"model: {model}", "--", str(path.relative_to(root))],
        cwd=root,
        capture_output=True,
        text=True,
    )
    return bool(history.stdout.strip())


def promote(
    environment: str,
    model: str | None,
    traffic: int | None,
    action: str,
    model_exists: Callable[[str, str], bool],
    root: Path,
    serving_environment: str | None = None,
) -> Promotion:
    """Compute the edited stack file for one step (`canary`, `complete` or `rollback`); nothing is written.

    `serving_environment` (name:version in the shared registry) sets `serving.environment`, which a stack's
    first deployment needs.
    """
    path = stack_file(environment)
    if not path.exists():
        raise BadInput(f"--stack: no stack file {display_path(path)}")
    if model:
        name, version = parse_model(model)
        if action == "canary" and not model_exists(name, version):
            raise Refused(f"the model registry has no version {version} of '{name}'")
    if action == "canary":
        if model is None:
            raise BadInput("--model is required to start a rollout")
        if traffic is None or not 1 <= traffic <= 99:
            raise BadInput(f"--traffic: {traffic} is out of range; a canary takes 1-99 (use --complete for 100)")
        if environment == "prod" and not served_by(GATE_STACK, model, root):
            raise Refused(f"{model} never served in {GATE_STACK}; promote it there first")
    before = path.read_text()
    yaml = _yaml()
    document = yaml.load(before)
    serving = _serving(document)
    if serving_environment:
        serving["environment"] = serving_environment
    step = {"canary": lambda: canary(serving, model, traffic), "complete": lambda: complete(serving, model),
            "rollback": lambda: rollback(serving, model)}[action]
    summary = step()
    serving_model = None
    if action == "complete":
        [survivor] = serving["deployments"]
        serving_model = survivor["model"]
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    after = buffer.getvalue()
    try:  # the same validation as `pulumi up`: a promotion never writes an invalid stack file
        parse_config(environment, engine_values(YAML(typ="safe").load(after))[0], display_path(path))
    except ConfigError as exc:
        raise Refused(f"the promoted config would be invalid: {exc}") from None
    return Promotion(path, before, after, summary, serving_model)
