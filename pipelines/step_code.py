"""A pipeline step's code snapshot: the project modules its entry point `python -m pipelines.steps.<step>` imports (its
closure, `pipelines.closure`), staged in a folder of their own that becomes the command component's `code`, and a
version derived from their content.

- **Narrow**: a snapshot holds exactly the step's closure (the step module, the project modules it imports, their
  parent packages' `__init__.py`): no `components/`, no CLI, no policies, tests, workflows, stack files or README. A
  closure that reaches the Pulumi program's side or the CLI is refused (the training image installs neither).
- **Versioned by content**: `version` is a hash of the snapshot's relative paths and bytes. A change to a file the
  step imports gives a new version; a change anywhere else leaves it as it is, and so leaves the step's code in
  Azure ML as it is (see `pipelines.aml.build_component` for what Azure ML does with both).
- **Reproducible**: staged under `<into>/<step>-<version>/`, written once (into a temporary sibling, then renamed),
  so the same content is the same folder with the same files; nothing else goes in (no caches, no ignore files).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from core.paths import ROOT_DIR
from pipelines.closure import closure

if TYPE_CHECKING:
    from pipelines.steps import Step

VERSION_LENGTH = 16  # hex digits of the SHA-256: 64 bits; an Azure ML asset version allows 30 characters


class StepCodeError(ValueError):
    """A step's closure reaches something the training image does not install."""


@dataclass(frozen=True)
class StepCode:
    """One step's snapshot: its name and the files it needs (relative posix path -> source file, sorted)."""

    step: str
    files: dict[str, Path]

    @cached_property
    def version(self) -> str:
        """SHA-256 over each file's relative path and bytes, in path order (the first VERSION_LENGTH hex digits)."""
        digest = hashlib.sha256()
        for name, path in self.files.items():
            data = path.read_bytes()
            digest.update(f"{name}\0{len(data)}\0".encode())
            digest.update(data)
        return digest.hexdigest()[:VERSION_LENGTH]

    def stage(self, into: Path) -> Path:
        """The snapshot's folder `<into>/<step>-<version>/`, written unless it is there already."""
        folder = into / f"{self.step}-{self.version}"
        if folder.is_dir():
            return folder
        into.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=into))
        for name, source in self.files.items():
            (partial / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, partial / name)
        try:
            os.replace(partial, folder)
        except OSError:  # another build staged the same content meanwhile
            shutil.rmtree(partial, ignore_errors=True)
        return folder


def step_code(step: Step, root: Path = ROOT_DIR) -> StepCode:
    """The snapshot of one step: the closure of `pipelines.steps.<step>` under `root`."""
    found = closure([step.module_name], root)
    bad = found.forbidden()
    if bad:
        raise StepCodeError(f"step {step.name} imports {', '.join(bad)}: the training image installs neither pulumi nor the CLI")
    return StepCode(step.name, found.files(root))


def stage_steps(steps: Iterable[Step], into: Path, root: Path = ROOT_DIR) -> dict[str, tuple[Path, str]]:
    """Step name -> (its staged folder, its version), for every step."""
    staged = {}
    for step in steps:
        code = step_code(step, root)
        staged[step.name] = (code.stage(into), code.version)
    return staged
