"""Classify each resource against a base state: create, update, replace, delete or same, and guard data.

The base comes from the program at another git ref (evaluated in a subprocess inside a temporary worktree, so
its `components/` and `stacks/` never mix with the current ones) or from a `pulumi stack export` file.
Replacement follows Pulumi: a URN that changes without an alias is a delete plus a create (a rename), and a
change to a property the provider cannot update in place (`mlops.preview.replace`) forces a new resource.
Resource options are part of the state too: a `protect`, `retainOnDelete` or `ignoreChanges` flip is a change.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from core.errors import BadInput
from core.paths import ROOT_DIR, mlops_home
from mlops.preview.replace import forcing, identity_keys
from mlops.preview.report import Change, masked
from mlops.preview.state import ENCRYPTED, StateResource, comparable, from_document
from policies.rules.resource_types import is_stateful


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted paths to leaves; lists are leaves (their order matters to Azure); an empty map below the top has
    no leaves, so `traffic: {}` -> `{blue: 90}` reads as `traffic.blue: null -> 90`."""
    if isinstance(value, dict) and "[secret]" not in value and (value or prefix):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else key))
        return out
    return {prefix: value}


def _display(value: Any) -> Any:
    return "[secret]" if isinstance(value, dict) and "[secret]" in value else masked(value)


def _azure_identity(resource: StateResource) -> tuple[str, ...] | None:
    """Type plus the values that name it in Azure: pairs a renamed logical resource with its old self."""
    keys = identity_keys(resource.type)
    values = [resource.inputs.get(key) for key in keys]
    if not keys or not all(isinstance(v, str) for v in values):
        return None
    return (resource.type, *values)


def is_data_loss(change: Change) -> bool:
    """A replace or delete of a resource that holds data."""
    return change.op in ("replace", "delete") and is_stateful(change.type)


def diff_states(
    base: list[StateResource], current: list[StateResource], guard_data: bool, acknowledged: set[str] = frozenset()
) -> list[Change]:
    """Changes from base to current, in current order then deletions; components included (Pulumi counts them)."""
    base_by_urn = {r.urn: r for r in base}
    current_all = list(current)
    matched: set[str] = set()
    renamed_from: dict[str, StateResource] = {}
    for resource in current_all:
        for urn in (resource.urn, *resource.aliases):
            if urn in base_by_urn:
                matched.add(urn)
                renamed_from[resource.urn] = base_by_urn[urn]
                break
    unmatched_base = {urn: r for urn, r in base_by_urn.items() if urn not in matched}
    by_identity = {identity: r for r in unmatched_base.values() if (identity := _azure_identity(r))}

    changes: list[Change] = []
    for resource in current_all:
        old = renamed_from.get(resource.urn)
        if old is not None:
            changes.append(_compare(old, resource))
            continue
        identity = _azure_identity(resource)
        twin = by_identity.get(identity) if identity else None
        if twin is not None:
            unmatched_base.pop(twin.urn, None)
            change = _compare(twin, resource)
            change.op = "replace"
            change.replace_reasons.insert(0, f"urn changed from {twin.urn} without an alias (a rename)")
            changes.append(change)
            continue
        changes.append(Change("create", resource.urn, resource.type, resource.name, new=_display(resource.inputs)))
    for old in unmatched_base.values():
        changes.append(Change("delete", old.urn, old.type, old.name, old=_display(old.inputs)))

    if guard_data:
        for change in changes:
            if is_data_loss(change):
                if change.name in acknowledged or change.urn in acknowledged:
                    continue
                why = "; ".join(change.replace_reasons) if change.op == "replace" else "removed from the program"
                change.blocked = (
                    f"{change.op} of stateful {change.type} '{change.name}' would lose data ({why}); "
                    f"acknowledge with --acknowledge-data-loss {change.name} if intended"
                )
    return changes


def _same(old: Any, new: Any) -> bool:
    """Equal, or an encrypted secret from an export (unknowable) beside any secret."""
    if old == new:
        return True
    secrets = [v for v in (old, new) if isinstance(v, dict) and "[secret]" in v]
    return len(secrets) == 2 and ENCRYPTED in (old["[secret]"], new["[secret]"])


def _ignored(path: str, ignore_changes: tuple[str, ...]) -> bool:
    return any(path == key or path.startswith(key + ".") for key in ignore_changes)


def _compare(old: StateResource, new: StateResource) -> Change:
    """Inputs (less those the resource ignores) and the options both sides know about."""
    before, after = flatten(old.inputs), flatten(new.inputs)
    ignored = new.ignore_changes or ()
    changed = sorted(
        key for key in before.keys() | after.keys() if not _same(before.get(key), after.get(key)) and not _ignored(key, ignored)
    )
    old_options, new_options = old.options(), new.options()
    options = sorted(key for key in old_options.keys() & new_options.keys() if old_options[key] != new_options[key])
    before.update(old_options)
    after.update(new_options)
    changed += options
    if not changed:
        return Change("same", new.urn, new.type, new.name)
    forced = forcing(new.type, changed, new.replace_on_changes)
    return Change(
        "replace" if forced else "update",
        new.urn,
        new.type,
        new.name,
        changed=changed,
        old={key: _display(before.get(key)) for key in changed},
        new={key: _display(after.get(key)) for key in changed},
        replace_reasons=[f"'{key}' forces a new resource" for key in forced],
    )


# --- base states -------------------------------------------------------------------------------------------


def state_from_export(path: Path) -> dict[str, list[StateResource]]:
    """Resources of a `pulumi stack export` file (v3 deployment), by stack name (from the URNs)."""
    try:
        document = json.loads(path.read_text())
        resources = document["deployment"].get("resources") or []
    except OSError as exc:
        raise BadInput(f"--state: cannot read {path}: {exc.strerror}") from None
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
        raise BadInput(f"--state: {path} is not a `pulumi stack export` file (JSON with deployment.resources)") from None
    stacks: dict[str, list[StateResource]] = {}
    for item in resources:
        type_ = item.get("type", "")
        if type_ == "pulumi:pulumi:Stack" or type_.startswith("pulumi:providers:"):
            continue
        urn = item.get("urn", "")
        stack = urn.split("::")[0].removeprefix("urn:pulumi:")
        stacks.setdefault(stack, []).append(
            StateResource(
                urn=urn,
                type=type_,
                name=urn.rsplit("::", 1)[-1],
                custom=bool(item.get("custom", True)),
                inputs=comparable(item.get("inputs") or {}),
                protect=bool(item.get("protect", False)),
                retain_on_delete=item.get("retainOnDelete"),
                ignore_changes=tuple(item["ignoreChanges"]) if item.get("ignoreChanges") is not None else None,
                replace_on_changes=tuple(item.get("replaceOnChanges") or ()),
            )
        )
    return stacks


def _cache_key(commit: str, stacks: list[str]) -> str:
    """A base state is a pure function of the commit's tree, the stacks asked for and the SDK versions."""
    from importlib.metadata import version

    parts = [commit, *stacks, sys.version, version("pulumi"), version("pulumi-azure-native")]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


class BaseEvaluation:
    """The program at a git ref, evaluated in a temporary worktree by a subprocess (its own modules).

    `start()` returns at once so the current tree is evaluated in parallel; `result()` waits and cleans up.
    Results are cached per commit under `.mlops/cache/base/` (MLOPS_HOME moves it), so repeated previews
    against the same base skip the subprocess.
    """

    def __init__(self, ref: str, stacks: list[str]):
        self.ref, self.stacks = ref, stacks
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._process: subprocess.Popen | None = None
        self._cache: Path | None = None
        self.cached = False

    def start(self) -> BaseEvaluation:
        verify = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", f"{self.ref}^{{commit}}"],
            cwd=ROOT_DIR,
            capture_output=True,
            text=True,
        )
        if verify.returncode != 0:
            raise BadInput(f"--base: '{self.ref}' is not a commit in this repository")
        self._cache = mlops_home() / "cache" / "base" / f"{_cache_key(verify.stdout.strip(), self.stacks)}.json"
        if self._cache.exists():
            self.cached = True
            return self
        self._tmp = tempfile.TemporaryDirectory(prefix="mlops-base-")
        self.worktree = Path(self._tmp.name) / "base"
        subprocess.run(
            ["git", "worktree", "add", "--detach", "--quiet", str(self.worktree), verify.stdout.strip()],
            cwd=ROOT_DIR,
            check=True,
            capture_output=True,
        )
        self._process = subprocess.Popen(
            [sys.executable, "-m", "mlops.mockrun", *self.stacks],
            cwd=self.worktree,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(self.worktree)},
        )
        return self

    def result(self) -> dict[str, list[StateResource]]:
        document = json.loads(self._cache.read_text()) if self.cached else self._evaluated()
        return {stack: [from_document(item) for item in resources] for stack, resources in document.items()}

    def _evaluated(self) -> dict[str, Any]:
        try:
            stdout, stderr = self._process.communicate()
        finally:
            self.close()
        if self._process.returncode != 0:
            last = (stderr.strip().splitlines() or ["no output"])[-1]
            raise BadInput(f"--base: the program at '{self.ref}' could not be evaluated: {last}")
        try:
            document = json.loads(stdout)
        except json.JSONDecodeError:
            raise BadInput(
                f"--base: '{self.ref}' predates the offline evaluator (python -m mlops.mockrun); pick a later ref"
            ) from None
        self._cache.parent.mkdir(parents=True, exist_ok=True)
        self._cache.write_text(stdout)
        return document

    def close(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        if self._tmp is not None:
            subprocess.run(["git", "worktree", "remove", "--force", str(self.worktree)], cwd=ROOT_DIR, capture_output=True)
            self._tmp.cleanup()
            self._tmp = None
