"""The command table: one typer app, one module per command under mlops/commands/.

Every command exits 0 on success, 1 when a check refuses, 2 on bad input or usage (one line, no traceback),
3 on an internal error (one line naming the log file that holds the traceback). `main` is the one place
where exceptions become exit codes: no traceback ever reaches a user.
"""

from __future__ import annotations

import sys

import typer

from core.config import ConfigError
from core.errors import (
    EXIT_BAD_INPUT,
    EXIT_INTERNAL,
    EXIT_REFUSED,
    BadInput,
    Refused,
    internal_error_line,
    log_internal_error,
)
from mlops.commands import data, drift, loop, pipeline, preview, promote, serve

app = typer.Typer(
    name="mlops",
    help="The mlops-platform command line: preview stacks, run pipelines, promote models, check drift, serve.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def _root() -> None:
    """Keep `mlops` a command group even while it has one command."""


app.command("preview", help=preview.HELP, epilog=preview.EXAMPLES)(preview.preview)
app.add_typer(pipeline.app, name="pipeline")
app.add_typer(data.app, name="data")
app.command("promote", help=promote.HELP, epilog=promote.EXAMPLES)(promote.promote)
app.command("drift", help=drift.HELP, epilog=drift.EXAMPLES)(drift.drift)
app.command("serve", help=serve.HELP, epilog=serve.EXAMPLES)(serve.serve)
app.command("loop", help=loop.HELP, epilog=loop.EXAMPLES)(loop.loop)


def main(argv: list[str] | None = None) -> None:
    """Run the app, turning every error into one line on stderr and the documented exit code.

    Usage errors and Ctrl-C are click's (exit 2 and 130, through SystemExit); everything else is handled here.
    """
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        app(args=args, prog_name="python -m mlops", standalone_mode=True)
    except (ConfigError, BadInput) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    except Refused as exc:
        print(f"refused: {exc}", file=sys.stderr)
        sys.exit(EXIT_REFUSED)
    except Exception as exc:
        print(internal_error_line(exc, log_internal_error(exc, ["python -m mlops", *args])), file=sys.stderr)
        sys.exit(EXIT_INTERNAL)
