"""Options shared by several commands, defined once."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer


class OutputFormat(str, Enum):
    text = "text"
    markdown = "markdown"
    json = "json"


StackOption = Annotated[
    str,
    typer.Option("--stack", "-s", help="Stack (environment) name: dev, staging, prod; 'all' where allowed."),
]
FormatOption = Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")]
OutOption = Annotated[Optional[Path], typer.Option("--out", "-o", help="Write the output to FILE instead of stdout.")]
