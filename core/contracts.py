"""What the infrastructure and the code it runs agree on, named once: the environment the Pulumi program sets for
the scoring script, the scheduled monitor and the retrain function, and the command line of the job it schedules.
The program (stacks/) writes these; the pipelines read them; neither imports the other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# Application Insights, for every process that sends metrics (pipelines/telemetry.py).
APPINSIGHTS_ENV = "APPLICATIONINSIGHTS_CONNECTION_STRING"

# The environment the scoring script reads (the stack sets these on the online deployments).
NAMESPACE_ENV = "MLOPS_EVENTHUB_NAMESPACE"  # the namespace's FQDN, e.g. evhns-mlops-dev-weu.servicebus.windows.net
HUB_ENV = "MLOPS_PREDICTIONS_HUB"
COLLECT_DIR_ENV = "MLOPS_COLLECT_DIR"
ENDPOINT_ENV = "MLOPS_ENDPOINT"
DEPLOYMENT_ENV = "MLOPS_DEPLOYMENT"
MODEL_ENV = "MLOPS_MODEL"  # name:version
COLLECT_ENV = (NAMESPACE_ENV, HUB_ENV, COLLECT_DIR_ENV, ENDPOINT_ENV, DEPLOYMENT_ENV, MODEL_ENV)
PREDICTIONS_HUB = "predictions"
LOCAL_ENDPOINT = "local"


def collection_env(endpoint: str, deployment: str, model: str, *, folder: Path | None = None, namespace: Any = None) -> dict[str, Any]:
    """The scoring script's collection settings, as a deployment's environment: where to send (a local folder in
    Capture's layout, or the `predictions` hub of the Event Hubs namespace with this FQDN) and its rows' metadata."""
    where = {COLLECT_DIR_ENV: str(folder)} if folder is not None else {NAMESPACE_ENV: namespace, HUB_ENV: PREDICTIONS_HUB}
    return {**where, ENDPOINT_ENV: endpoint, DEPLOYMENT_ENV: deployment, MODEL_ENV: model}


# The scheduled monitor (python -m pipelines.monitor): its drift settings, as JSON of the stack's drift section.
DRIFT_CONFIG_ENV = "MLOPS_DRIFT_CONFIG"

# The job's ports, as the stack's schedule binds them (datastore and registry paths) and the command line names them;
# one model input per deployment slot (`model_<slot>`), so a traffic change never touches the schedule.
INPUTS = ("captures", "labels")
OUTPUTS = ("predictions", "reports")


def model_input(deployment: str) -> str:
    """The job input that holds one deployment slot's model (input names are identifiers)."""
    return "model_" + deployment.replace("-", "_")


def job_command(stack: str, endpoint: str, models: dict[str, str], window: str, label_window: str) -> str:
    """The scheduled job's command: `pipelines.monitor` with every port bound by Azure ML and the stack's settings;
    `models`: deployment slot -> its model (NAME:VERSION)."""
    ports = [f"--{name} ${{{{inputs.{name}}}}}" for name in INPUTS] + [f"--{name} ${{{{outputs.{name}}}}}" for name in OUTPUTS]
    ports += [f"--model {slot}=${{{{inputs.{model_input(slot)}}}}} --model-ref {slot}={model}" for slot, model in models.items()]
    return " ".join(["python -m pipelines.monitor", *ports, f"--endpoint {endpoint} --stack {stack}",
                     f"--window {window} --label-window {label_window}"])


def experiment_name(environment: str) -> str:
    """The Azure ML experiment the scheduled monitor jobs of one environment land in."""
    return f"monitor-{environment}"
