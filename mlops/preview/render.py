"""Renderers of a preview report: text for terminals, Markdown for PR comments, JSON for machines."""

from __future__ import annotations

import io
import json

from rich.console import Console
from rich.table import Table

from mlops.preview.report import StackReport


def render_json(reports: list[StackReport]) -> str:
    return json.dumps({"stacks": [r.to_json() for r in reports]}, indent=2, sort_keys=False, default=str) + "\n"


def _properties(props: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in props.items())


def render_text(reports: list[StackReport], color: bool = False) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=color, no_color=not color, width=160, highlight=False)
    for report in reports:
        table = Table(title=f"stack {report.stack}", title_justify="left", show_lines=False)
        for column in ("type", "name", "protect", "key properties"):
            table.add_column(column, overflow="fold")
        for resource in report.resources:
            table.add_row(resource.type, resource.name, "yes" if resource.protect else "", _properties(resource.key_properties()))
        console.print(table)
        console.print(f"{report.stack}: {report.summary['resources']} resources")
    return buffer.getvalue()


def render_markdown(reports: list[StackReport]) -> str:
    lines = ["## Infrastructure preview", ""]
    for report in reports:
        lines += [f"### `{report.stack}`: {report.summary['resources']} resources", ""]
        lines += ["<details><summary>Resources</summary>", "", "| type | name | protect | key properties |", "|---|---|---|---|"]
        for resource in report.resources:
            props = _properties(resource.key_properties()).replace("|", "\\|")
            lines.append(f"| `{resource.type}` | `{resource.name}` | {'yes' if resource.protect else ''} | {props} |")
        lines += ["", "</details>", ""]
    return "\n".join(lines)
