"""Read a stack's outputs as the typed contract: from the Pulumi CLI when present, else from the offline mock run."""

from __future__ import annotations

import shutil
import subprocess

from core.errors import BadInput
from core.outputs import StackOutputs
from core.paths import ROOT_DIR
from mlops.mockrun import run_stack
from mlops.records import Secret


def load_outputs(environment: str) -> StackOutputs:
    """`pulumi stack output --json --show-secrets` of the stack, or the outputs the program exports under mocks."""
    if shutil.which("pulumi"):
        command = ["pulumi", "stack", "output", "--json", "--show-secrets", "--stack", environment]
        done = subprocess.run(command, cwd=ROOT_DIR, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            reason = (done.stderr.strip().splitlines() or ["failed"])[-1]
            raise BadInput(f"{' '.join(command)}: {reason}")
        return StackOutputs.from_stack_output_json(done.stdout)
    exported = run_stack(environment).outputs
    return StackOutputs.model_validate({k: v.value if isinstance(v, Secret) else v for k, v in exported.items()})
