"""`python -m mlops pipeline`: run the training pipeline (locally or in Azure ML) or show its Azure ML definition."""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from core.errors import BadInput, Refused
from mlops.options import OutOption, RecordFormat, RecordFormatOption, StackOption, one_stack, write_output

app = typer.Typer(
    help="The training pipeline: validate -> prep -> train -> evaluate -> gate -> register.", no_args_is_help=True
)

# Azure ML job names: letters, digits, '-' and '_' (the names azure-ai-ml generates and train.yml accepts).
JOB_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,254}")

DataOption = Annotated[
    Path | None,
    typer.Option("--data", "-d", help="Telemetry as .csv or .parquet (default: the built-in sample, 20,000 rows)."),
]


@app.command(
    "run",
    help="Run the pipeline locally with MLflow tracking under .mlops/ (or in the stack's workspace with --submit). "
    "With --adopt JOB, wait for a pipeline job submitted earlier (the retrain function's) and record it the same way. "
    "Exit 0: model registered; 1: the gate refused (or the Azure ML job failed); 2: bad input.",
    epilog="Examples: python -m mlops pipeline run --stack dev | "
    "python -m mlops pipeline run -s dev --data telemetry.csv | python -m mlops pipeline run -s staging --submit | "
    "python -m mlops pipeline run -s prod --adopt <job name> --out run.json",
)
def run(
    stack: StackOption,
    data: DataOption = None,
    submit: Annotated[
        bool, typer.Option("--submit", help="Submit to the stack's Azure ML workspace and wait (Azure credentials).")
    ] = False,
    adopt: Annotated[
        str | None,
        typer.Option("--adopt", metavar="JOB", help="Wait for this training pipeline job of the stack's workspace (Azure credentials)."),
    ] = None,
    format: RecordFormatOption = RecordFormat.text,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the run record (JSON: stack, status, job, model) to FILE.")
    ] = None,
) -> None:
    from mlops.outputs import load_outputs
    from pipelines import runner

    environment = one_stack(stack)
    if adopt is not None and (submit or data is not None):
        raise BadInput("--adopt waits for a job already submitted: it takes neither --submit nor --data")
    if adopt is not None and not JOB_NAME.fullmatch(adopt):
        raise BadInput(f"--adopt: {adopt!r} is not an Azure ML job name (letters, digits, '-' and '_', at most 255)")
    try:
        if adopt is not None:
            record = runner.adopt(environment, load_outputs(environment), adopt)
        elif submit:
            record = runner.submit(environment, load_outputs(environment), data)
        else:
            registered = runner.run_local(environment, data)["register"]
            record = runner.RunRecord(environment, "Completed", model=f"{registered.name}:{registered.version}")
    except Refused as refusal:
        if isinstance(refusal.record, runner.RunRecord):
            publish(refusal.record, format, out)
        raise
    publish(record, format, out)


def publish(record, format: RecordFormat, out: Path | None) -> None:
    """The run record for workflows: JSON to --out, and to stdout with --format json."""
    text = json.dumps(asdict(record)) + "\n"
    if out is not None:
        write_output(text, out)
    if format is RecordFormat.json:
        typer.echo(text, nl=False)


@app.command(
    "show",
    help="Print the Azure ML pipeline job (YAML) built from the stack's outputs.",
    epilog="Examples: python -m mlops pipeline show --stack dev | python -m mlops pipeline show -s prod --out prod.yaml",
)
def show(stack: StackOption, data: DataOption = None, out: OutOption = None) -> None:
    write_output(pipeline_yaml(one_stack(stack), data), out)


def pipeline_yaml(environment: str, data: Path | None = None) -> str:
    import io

    from rich.console import Console

    status = Console(stderr=True).status
    with status(f"{environment}: reading the stack outputs (pulumi stack output, or the offline mock run)"):
        from mlops.outputs import load_outputs
        from pipelines.runner import checked_inputs, git_commit
        from pipelines.steps import pipeline_parameters

        config = checked_inputs(environment, data)
        outputs = load_outputs(environment)
    with status(f"{environment}: building the Azure ML pipeline (azure-ai-ml)"):
        from pipelines.aml import build_pipeline

        job = build_pipeline(outputs, pipeline_parameters(environment, config.training, git_commit(), outputs.live_model), data)
    buffer = io.StringIO()
    job.dump(buffer)
    return buffer.getvalue()
