"""`python -m mlops serve`: placeholder until its issue lands (being written now)."""

from __future__ import annotations

import typer

from mlops.errors import BadInput

app = typer.Typer(help="serve (not available yet)", no_args_is_help=True)


@app.callback(invoke_without_command=True)
def serve() -> None:
    raise BadInput("'serve' is not available yet")
