"""The training pipeline as Azure ML command components, built from the stack outputs contract.

Compute, the raw-data path, the environment image's registry and the experiment name all come from
`StackOutputs`; the components come from the step table (`pipelines.steps.STEPS`), so each component's
command is `python -m pipelines.steps.<step>` with one flag per port, and ports are wired by name.
The code snapshot is what git would commit of the repository (`code_snapshot`), so the virtualenv and local
run artefacts stay behind.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from azure.ai.ml import Input, Output, dsl
from azure.ai.ml.entities import CommandComponent, Environment, PipelineJob

from core.contracts import TRAINING_IMAGE
from core.outputs import StackOutputs
from core.paths import ROOT_DIR
from pipelines.registry import MODEL_NAME, experiment_name
from pipelines.steps import HISTORY, LABELS, LIVE_MODEL, PREDICTIONS, STEPS, Step

RAW_DATA_PATH = "telemetry/training.parquet"  # inside the lake's raw zone
COMPONENT_PREFIX = MODEL_NAME.replace("-", "_")

# The SDK logs a warning for its own experimental schema classes on every dump; nothing a user can act on.
logging.getLogger("azure.ai.ml._utils._experimental").setLevel(logging.ERROR)


def training_environment(outputs: StackOutputs) -> Environment:
    return Environment(image=f"{outputs.registry_login_server}/{TRAINING_IMAGE}")


def command_line(step: Step) -> str:
    """`python -m pipelines.steps.<name>` with a flag per port, named like the port; an optional input's flag sits in
    `$[[ ]]`, which Azure ML drops when the input is not given (reference-yaml-component-command)."""
    inputs = [
        f"$[[--{p.name} ${{{{inputs.{p.name}}}}}]]" if p.optional else f"--{p.name} ${{{{inputs.{p.name}}}}}"
        for p in step.inputs
    ]
    outputs = [f"--{p.name} ${{{{outputs.{p.name}}}}}" for p in step.outputs]
    return " ".join([f"python -m {step.module_name}", *inputs, *outputs])


def build_component(step: Step, environment: Environment, code: Path = ROOT_DIR) -> CommandComponent:
    return CommandComponent(
        name=f"{COMPONENT_PREFIX}_{step.name}",
        display_name=step.name,
        description=step.description,
        inputs={p.name: Input(type=p.type, description=p.description or p.name, optional=p.optional or None) for p in step.inputs},
        outputs={p.name: Output(type=p.type, description=p.description) for p in step.outputs},
        command=command_line(step),
        environment=environment,
        code=str(code),
        is_deterministic=step.deterministic,
    )


def live_model_input(outputs: StackOutputs) -> Input | None:
    """The stack's live model (output liveModel) in the shared Azure ML registry its deployments take it from, or
    None before the first deployment. The cluster reads it as AzureML Registry User through the managed network's
    registry rule (flow compute-reads-live-model)."""
    if outputs.live_model is None:
        return None
    name, version = outputs.live_model.split(":")
    return Input(type=LIVE_MODEL.type, path=f"azureml://registries/{outputs.ml_registry_name}/models/{name}/versions/{version}")


def raw_data_input(outputs: StackOutputs, data: str | Path | None = None) -> Input:
    """A local file (uploaded on submit) or a path in the lake's raw zone (default: RAW_DATA_PATH)."""
    path = str(data) if data is not None else f"{outputs.container_urls.raw}/{RAW_DATA_PATH}"
    return Input(type=HISTORY.type, path=path)


@contextmanager
def code_snapshot(root: Path = ROOT_DIR) -> Iterator[Path]:
    """The files git would commit (tracked, and untracked ones .gitignore lets through), copied to a temporary folder.

    azure-ai-ml walks a code folder following links and hashes it once per component, so a checkout with its
    `.venv` inside costs seconds per component; the copy holds only the sources. Outside a git checkout (the retrain
    function's wwwroot) the folder itself is used (the SDK honours its .gitignore and .amlignore when uploading).
    """
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=root, capture_output=True, check=False
        )
    except OSError:  # no git at all (the retrain function's host)
        listed = None
    if listed is None or listed.returncode != 0:
        yield root
        return
    with tempfile.TemporaryDirectory(prefix="mlops-code-") as folder:
        snapshot = Path(folder) / root.name
        for name in filter(None, listed.stdout.decode().split("\0")):
            source = root / name
            if source.is_file():
                (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, snapshot / name)
        yield snapshot


def build_pipeline(
    outputs: StackOutputs, parameters: dict[str, object], data: str | Path | None = None, code: Path = ROOT_DIR
) -> PipelineJob:
    """The pipeline job: one node per step, each input taken from the earlier output or parameter of its name."""
    environment = training_environment(outputs)
    components = {step.name: build_component(step, environment, code) for step in STEPS}

    @dsl.pipeline(
        name=f"{COMPONENT_PREFIX}_training",
        display_name=f"{MODEL_NAME} training ({outputs.environment})",
        description="gather -> validate -> prep -> train -> evaluate -> gate -> register",
        compute=outputs.compute_name,
        experiment_name=experiment_name(outputs.environment),
    )
    def training() -> None:
        values: dict[str, object] = {
            HISTORY.name: raw_data_input(outputs, data),
            # read by gather only with training.recentWindow; the cluster reads both zones (the monitor's flows)
            PREDICTIONS.name: Input(type=PREDICTIONS.type, path=outputs.container_urls.predictions),
            LABELS.name: Input(type=LABELS.type, path=outputs.container_urls.labels),
            LIVE_MODEL.name: live_model_input(outputs),
            **parameters,
        }  # fmt: skip
        for step in STEPS:
            node = components[step.name](**{p.name: values[p.name] for p in step.inputs})
            node.name = step.name
            values.update({p.name: node.outputs[p.name] for p in step.outputs})

    return training()

