"""Options shared by several commands, defined once."""

from __future__ import annotations

import difflib
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from core.config import STACKS_DIR, SharedConfig, config_model
from core.errors import BadInput
from core.naming import ENVIRONMENT_CODES


class OutputFormat(StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"


class RecordFormat(StrEnum):
    """Commands that print a record: text for people, json for workflows (no Markdown form)."""

    text = "text"
    json = "json"


StackOption = Annotated[
    str,
    typer.Option("--stack", "-s", help="Stack (environment) name: dev, staging, prod; 'all' where allowed."),
]
FormatOption = Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")]
RecordFormatOption = Annotated[RecordFormat, typer.Option("--format", "-f", help="Output format.")]
OutOption = Annotated[Path | None, typer.Option("--out", "-o", help="Write the output to FILE instead of stdout.")]


def stack_names(selection: str, allow_all: bool = True) -> list[str]:
    """'all' means every stacks/Pulumi.<env>.yaml; otherwise one stack name that has a file.

    An unknown name is the same one line for every command, with a suggestion.
    """
    promotion_order = list(ENVIRONMENT_CODES)  # dev, staging, prod; other stacks after them by name
    available = sorted(
        (p.name.split(".")[1] for p in STACKS_DIR.glob("Pulumi.*.yaml")),
        key=lambda s: (promotion_order.index(s) if s in promotion_order else len(promotion_order), s),
    )
    if selection == "all" and allow_all:
        return available
    if selection not in available:
        close = difflib.get_close_matches(selection, available, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        choices = ", ".join(available) + (" or all" if allow_all else "")
        raise BadInput(f"--stack: no stack '{selection}' (no stacks/Pulumi.{selection}.yaml); {hint}available: {choices}")
    return [selection]


def one_stack(stack: str) -> str:
    """Commands that act on exactly one environment stack (serving, drift limits, a workspace): not the shared one."""
    [name] = stack_names(stack, allow_all=False)
    if config_model(name) is SharedConfig:
        environments = [s for s in stack_names("all") if config_model(s) is not SharedConfig]
        raise BadInput(f"--stack: '{name}' holds only the shared Azure ML registry; give an environment: {', '.join(environments)}")
    return name


def write_output(text: str, out: Path | None) -> None:
    """What a command prints: to stdout, or to the --out file (an unwritable path is bad input)."""
    if out is None:
        sys.stdout.write(text)
        return
    try:
        out.write_text(text)
    except OSError as exc:
        raise BadInput(f"--out: cannot write {out}: {exc.strerror}") from None
