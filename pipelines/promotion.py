"""Promotion as a stack-config change: canary, complete and rollback edit `mlops-platform:serving`.

The wanted serving state is computed on a ruamel.yaml round trip and written back with `yaml_edit.minimal_edit`,
so only the lines whose data changes change (line endings, indentation, document markers and comments elsewhere
stay byte for byte). The result is validated with the same config model `pulumi up` uses before anything is
written. Blue/green: a new model goes into the free slot (`blue` or `green`) beside the live deployment, copying
its sizing; completing moves all traffic to it and retires the old slot; rolling back retires the canary. A
stack with more than two deployments is refused: promote never removes a deployment it was not asked to.

Writing is safe against concurrent promotes and readers: the stack file is locked (flock) from reading to
writing, and the new text replaces it atomically (a temporary file in the same folder, then rename). A side
effect outside the file (moving the registry alias) happens first, so a failure leaves either the old state,
or the alias moved and the file not yet written, which a rerun completes.
"""

from __future__ import annotations

import copy
import difflib
import fcntl
import os
import re
import stat
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.config import (
    PROJECT,
    ConfigError,
    display_path,
    engine_values,
    load_yaml,
    parse_config,
    read_stack_document,
    stack_document,
    stack_file,
)
from core.errors import BadInput, Refused
from pipelines.yaml_edit import minimal_edit

SERVING_KEY = f"{PROJECT}:serving"
SLOTS = ("blue", "green")
GATE_STACK = "staging"  # a model reaches prod only after this stack served it
MODEL_REF = re.compile(r"([A-Za-z0-9][A-Za-z0-9_.-]{0,254}):([0-9]+)")  # core.config.ModelRef
ModelVersion = tuple[str, int]


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


ENVIRONMENT_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}:[A-Za-z0-9][A-Za-z0-9_.-]{0,29}")


def parse_model(model: str) -> ModelVersion:
    match = MODEL_REF.fullmatch(model)
    if not match:
        raise BadInput(f"--model: '{model}' is not NAME:VERSION (e.g. predictive-maintenance:3)")
    return match.group(1), int(match.group(2))


def _model_version(value: Any) -> ModelVersion | None:
    """A deployment's `model` as (name, version); None when it is not NAME:VERSION."""
    match = MODEL_REF.fullmatch(value) if isinstance(value, str) else None
    return (match.group(1), int(match.group(2))) if match else None


Serving = dict[str, Any]


def _serving(document: dict[str, Any]) -> Serving:
    """The serving map of a stack document (created empty when the stack declares none)."""
    config = document.setdefault("config", {})
    serving = config.get(SERVING_KEY)
    if serving is None:
        serving = config[SERVING_KEY] = {}
    serving.setdefault("deployments", [])
    serving.setdefault("traffic", {})
    return serving


def _live_and_canary(serving: Serving) -> tuple[Any, Any]:
    """The live deployment (most traffic) and the canary (the other one), if any."""
    deployments = list(serving["deployments"])
    if not deployments:
        return None, None
    traffic = serving["traffic"]
    ordered = sorted(deployments, key=lambda d: -int(traffic.get(d["name"], 0)))
    return ordered[0], (ordered[1] if len(ordered) > 1 else None)


def _is(deployment: dict[str, Any], model: str) -> bool:
    return _model_version(deployment["model"]) == _model_version(model)


def canary(serving: Serving, model: str, share: int, environment: str | None = None, first_instances: int = 1) -> str:
    """A new model (and optionally a new scoring environment) in the free slot with `share`% of the traffic.

    The environment is the stack's `serving.environment` unless `environment` names another one: then the canary
    slot carries it and the live slot keeps its own, so a new image is rolled out (and rolled back) like a model.
    """
    live, current_canary = _live_and_canary(serving)
    if live is None:
        if environment:
            serving["environment"] = environment
        if not serving.get("environment"):
            raise BadInput("the stack has no serving.environment yet: pass --environment NAME:VERSION "
                           "(the scoring environment in the shared registry, created by the bootstrap workflow)")
        first = {"name": SLOTS[0], "model": model}
        if first_instances > 1:  # the stack's minimum (prod: 2); later slots copy the live slot's sizing
            first["instanceCount"] = first_instances
        serving["deployments"].append(first)
        serving["traffic"] = {SLOTS[0]: 100}
        return f"{model} deployed as '{SLOTS[0]}' with 100% (no live deployment to canary against)"
    if _is(live, model) and environment in (None, _environment_of(serving, live)):
        raise Refused(f"{model} already serves {serving['traffic'].get(live['name'], 0)}% as '{live['name']}'")
    if current_canary is not None:
        if not _is(current_canary, model):
            raise Refused(
                f"a rollout of {current_canary['model']} is in progress as '{current_canary['name']}'; "
                "complete it (--complete) or roll it back (--rollback) first"
            )
        slot = current_canary["name"]
        new = current_canary
    else:
        slot = next(s for s in SLOTS if s != live["name"])
        new = {**copy.deepcopy(live), "name": slot, "model": model}
        serving["deployments"].append(new)
    if environment:
        if environment == serving.get("environment"):
            new.pop("environment", None)
        else:
            new["environment"] = environment
    serving["traffic"] = {live["name"]: 100 - share, slot: share}
    with_environment = f" on {_environment_of(serving, new)}" if environment else ""
    return f"{model}{with_environment} canary as '{slot}' with {share}%, '{live['name']}' keeps {100 - share}%"


def _environment_of(serving: Serving, deployment: dict[str, Any]) -> str | None:
    return deployment.get("environment") or serving.get("environment")


def _in_progress(serving: Serving, model: str | None, nothing: str) -> tuple[Any, Any]:
    live, candidate = _live_and_canary(serving)
    if candidate is None:
        raise Refused(nothing)
    if model and not _is(candidate, model):
        raise Refused(f"the rollout in progress is {candidate['model']}, not {model}")
    return live, candidate


def _keep_only(serving: Serving, survivor: Any) -> None:
    """One slot left, serving everything; mirroring ends with the rollout. The survivor's own environment, if it
    had one, becomes the stack's."""
    if survivor.get("environment"):
        serving["environment"] = survivor.pop("environment")
    serving["deployments"] = [d for d in serving["deployments"] if d["name"] == survivor["name"]]
    serving["traffic"] = {survivor["name"]: 100}
    serving.pop("mirrorTraffic", None)


def complete(serving: Serving, model: str | None) -> str:
    live, candidate = _in_progress(serving, model, "no rollout in progress: only one deployment is declared")
    _keep_only(serving, candidate)
    return f"{candidate['model']} serves 100% as '{candidate['name']}'; '{live['name']}' ({live['model']}) retired"


def rollback(serving: Serving, model: str | None) -> str:
    live, candidate = _in_progress(
        serving, model, "nothing to roll back: only one deployment is declared (revert the promotion commit instead)"
    )
    _keep_only(serving, live)
    return f"{candidate['model']} ('{candidate['name']}') rolled back; '{live['name']}' ({live['model']}) serves 100%"


ACTIONS: dict[str, Callable[..., str]] = {"canary": canary, "complete": complete, "rollback": rollback}


# --- the staging-before-prod rule ------------------------------------------------------------------------------


def _serving_of(document: Any) -> dict[str, Any]:
    """A stack document's serving map; {} for odd shapes."""
    config = document.get("config") if isinstance(document, dict) else None
    serving = config.get(SERVING_KEY) if isinstance(config, dict) else None
    return serving if isinstance(serving, dict) else {}


def _deployments_of(document: Any) -> list[dict[str, Any]]:
    deployments = _serving_of(document).get("deployments")
    return [d for d in deployments if isinstance(d, dict)] if isinstance(deployments, list) else []


def declared_models(document: Any) -> set[ModelVersion]:
    """The (name, version) of every deployment a stack document declares; odd shapes declare nothing."""
    found = (_model_version(d.get("model")) for d in _deployments_of(document))
    return {model for model in found if model is not None}


def declared_environments(document: Any) -> set[str]:
    """Every scoring environment (NAME:VERSION) a stack document declares: the stack's and each deployment's."""
    found = [_serving_of(document).get("environment"), *(d.get("environment") for d in _deployments_of(document))]
    return {ref for ref in found if isinstance(ref, str) and ENVIRONMENT_REF.fullmatch(ref)}


def _historical_versions(path: Path, root: Path) -> Iterator[bytes]:
    """Every committed version of a file (git log + one `git cat-file --batch`); nothing outside a git checkout."""
    relative = str(path.relative_to(root))
    commits = subprocess.run(
        ["git", "log", "--format=%H", "--", relative], cwd=root, capture_output=True, text=True, check=False
    ).stdout.split()
    if not commits:
        return
    blobs = subprocess.run(
        ["git", "cat-file", "--batch"], cwd=root, capture_output=True, check=False,
        input="".join(f"{commit}:{relative}\n" for commit in commits).encode(),
    ).stdout  # fmt: skip
    offset = 0
    while offset < len(blobs):
        header_end = blobs.index(b"\n", offset)
        header = blobs[offset:header_end].split()
        offset = header_end + 1
        if len(header) == 3 and header[1] == b"blob":
            size = int(header[2])
            yield blobs[offset : offset + size]
            offset += size + 1  # the content is followed by a newline


def served_by(environment: str, ref: str, root: Path, kind: str = "model") -> bool:
    """Whether a stack declares, or ever declared in the git history of its file, this model (`kind="model"`) or
    scoring environment (`kind="environment"`): parsed NAME:VERSION values of its serving config, never a substring
    of the text."""
    declared, wanted = (declared_models, _model_version(ref)) if kind == "model" else (declared_environments, ref)
    path = stack_file(environment)
    source = display_path(path)
    if wanted in declared(read_stack_document(path, source)):
        return True
    for data in _historical_versions(path, root):
        try:
            if wanted in declared(load_yaml(data, source)):
                return True
        except ConfigError:
            continue  # a version that was not valid YAML declared nothing
    return False


# --- reading and writing the stack file ------------------------------------------------------------------------


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on the stack file across processes, held from reading it to writing it.

    The lock is on the file itself; a writer replaces the file (rename), so after waiting the lock is taken
    again when the path now names another file."""
    while True:
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            raise BadInput(f"--stack: no stack file {display_path(path)}") from None
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            if os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino:
                break
        except FileNotFoundError:
            pass
        handle.close()
    try:
        yield
    finally:
        handle.close()


def write_atomically(path: Path, text: str) -> None:
    """Replace the file in one step: readers see the old text or the new one, never a partial or empty file."""
    mode = stat.S_IMODE(os.stat(path).st_mode)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _checked(environment: str, data: bytes, source: str) -> tuple[dict[str, Any], Any]:
    """The stack document and its config, after the same validation as `pulumi up` (a broken file is bad input)."""
    document = stack_document(data, source)
    return document, parse_config(environment, engine_values(document)[0], source)


def existing_stack_file(environment: str) -> tuple[Path, str]:
    """The stack's file and its display path; bad input when there is none."""
    path = stack_file(environment)
    source = display_path(path)
    if not path.exists():
        raise BadInput(f"--stack: no stack file {source}")
    return path, source


def normalized_model(model: str | None) -> str | None:
    """`NAME:VERSION` as the stack file writes it (bad input when it is not one), or None."""
    if not model:
        return None
    name, version = parse_model(model)
    return f"{name}:{version}"


def edited_text(environment: str, before: str, document: Any, source: str) -> str:
    """The stack file's new text (only the changed lines rewritten), validated as `pulumi up` validates it: a
    promotion never writes an invalid stack file."""
    after = minimal_edit(before, document)
    try:
        _checked(environment, after.encode("utf-8"), source)
    except ConfigError as exc:
        raise Refused(f"the promoted config would be invalid: {exc}") from None
    return after


def promote(
    environment: str,
    model: str | None,
    traffic: int | None,
    action: str,
    model_exists: Callable[[str, str], bool],
    root: Path,
    *,
    serving_environment: str | None = None,
    environment_exists: Callable[[str, str], bool] | None = None,
    dry_run: bool = True,
    before_write: Callable[[Promotion], None] | None = None,
) -> Promotion:
    """One step (`canary`, `complete` or `rollback`) on the stack file: checks (`model_exists`, and
    `environment_exists` for a new scoring environment when the registry can tell), then under the file's lock the new
    text, then (unless `dry_run`) `before_write` (a side effect such as moving the registry alias) and the write."""
    path, source = existing_stack_file(environment)
    model = normalized_model(model)
    if model:
        name, version = parse_model(model)
    if serving_environment is not None:
        if action != "canary":
            raise BadInput("--environment goes with --traffic: a new scoring environment is rolled out as a canary")
        if not ENVIRONMENT_REF.fullmatch(serving_environment):
            raise BadInput(f"--environment: '{serving_environment}' is not NAME:VERSION (e.g. mlops-serving:3)")
    if action == "canary":  # the arguments first, then the registry and git
        if model is None:
            raise BadInput("--model is required to start a rollout")
        if traffic is None or not 1 <= traffic <= 99:
            raise BadInput(f"--traffic: {traffic} is out of range; a canary takes 1-99 (use --complete for 100)")
        if not model_exists(name, str(version)):
            raise Refused(f"the model registry has no version {version} of '{name}'")
        if serving_environment is not None and environment_exists is not None:
            environment_name, environment_version = serving_environment.split(":")
            if not environment_exists(environment_name, environment_version):
                raise Refused(f"the registry has no version {environment_version} of the environment '{environment_name}'")
        if environment == "prod" and not served_by(GATE_STACK, model, root):
            raise Refused(f"{model} never served in {GATE_STACK}; promote it there first")
        if environment == "prod" and serving_environment and not served_by(GATE_STACK, serving_environment, root, "environment"):
            raise Refused(f"the scoring environment {serving_environment} never served in {GATE_STACK}; promote it there first")
    with locked(path):
        data = path.read_bytes()
        document, cfg = _checked(environment, data, source)
        serving = _serving(document)
        declared = [d["name"] for d in serving["deployments"]]
        if len(declared) > len(SLOTS):
            raise Refused(
                f"{source} declares {len(declared)} deployments ({', '.join(declared)}); promote moves traffic "
                f"between two (the live one and a canary) and never removes others: retire the extra ones by hand"
            )
        arguments = (model, traffic, serving_environment, cfg.min_instances) if action == "canary" else (model,)
        summary = ACTIONS[action](serving, *arguments)
        before = data.decode("utf-8")
        after = edited_text(environment, before, document, source)
        result = Promotion(path, before, after, summary, serving["deployments"][0]["model"] if action == "complete" else None)
        if not dry_run:
            if before_write is not None:
                before_write(result)
            write_atomically(path, after)
    return result
