"""`python -m mlops data`: the versioned training data of model versions (pipelines/lineage.py)."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer

from core.errors import BadInput, Refused, first_line
from mlops.options import RecordFormat, RecordFormatOption, StackOption, one_stack, write_output

app = typer.Typer(help="Versioned training data: what each model version was trained on.", no_args_is_help=True)


class Source(StrEnum):
    local = "local"
    workspace = "workspace"


@app.command(
    "show",
    help="Print a model version's data lineage: data asset, path, content hash, rows, validation result. "
    "Exit 0: shown; 1: no such model version (or data asset); 2: bad input.",
    epilog="Examples: python -m mlops data show --stack dev --model predictive-maintenance:1 | "
    "python -m mlops data show -s staging --model predictive-maintenance:3 --registry workspace --format json",
)
def show(
    stack: StackOption,
    model: Annotated[str, typer.Option(help="NAME:VERSION of a registered model.")],
    registry: Annotated[
        Source, typer.Option(help="Where the model is registered: the local MLflow store or the stack's Azure ML workspace.")
    ] = Source.local,
    format: RecordFormatOption = RecordFormat.text,
) -> None:
    from pipelines.promotion import parse_model

    stack = one_stack(stack)
    name, version = parse_model(model)
    lineage = _workspace(stack, name, str(version)) if registry is Source.workspace else _local(name, str(version))
    text = json.dumps(lineage.as_dict(), indent=2) + "\n" if format is RecordFormat.json else "\n".join(lineage.lines()) + "\n"
    write_output(text, None)


def _local(name: str, version: str):
    from mlflow.exceptions import MlflowException

    from mlops.commands.promote import registry_client, registry_errors
    from pipelines.lineage import local_lineage
    from pipelines.registry import is_missing

    with registry_errors():
        try:
            return local_lineage(registry_client(), name, version)
        except MlflowException as exc:
            if is_missing(exc):
                raise Refused(f"--model: the local registry has no {name}:{version}") from None
            raise


def _workspace(stack: str, name: str, version: str):
    from azure.core.exceptions import AzureError, ResourceNotFoundError

    from mlops.outputs import load_outputs
    from pipelines.lineage import workspace_lineage
    from pipelines.runner import workspace_client

    try:
        return workspace_lineage(workspace_client(load_outputs(stack)), name, version)
    except ResourceNotFoundError as exc:
        raise Refused(f"--model: the {stack} workspace has no {name}:{version} or its data asset: {first_line(exc)}") from None
    except AzureError as exc:
        raise BadInput(f"cannot ask the {stack} workspace: {first_line(exc)}") from None
