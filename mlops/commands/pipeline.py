"""`python -m mlops pipeline`: placeholder until its issue lands (being written now)."""

from __future__ import annotations

import typer

from mlops.errors import BadInput

app = typer.Typer(help="pipeline (not available yet)", no_args_is_help=True)


@app.callback(invoke_without_command=True)
def pipeline() -> None:
    raise BadInput("'pipeline' is not available yet")
