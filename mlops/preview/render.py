"""Renderers of a preview report: text for terminals, Markdown for PR comments, JSON for machines.

Violations and blocked changes come first: they decide the exit code. Without a base, the resource plan
(type, logical name, protect, key properties) stands in for the change list.
"""

from __future__ import annotations

import io
import json
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mlops.preview.report import Change, StackReport

OP_SYMBOL = {"create": "+", "update": "~", "replace": "+-", "delete": "-", "same": " "}
OP_STYLE = {"create": "green", "update": "yellow", "replace": "magenta", "delete": "red", "same": "dim"}


def render_json(reports: list[StackReport]) -> str:
    return json.dumps({"stacks": [r.to_json() for r in reports]}, indent=2, default=str) + "\n"


def summary_line(report: StackReport) -> str:
    s = report.summary
    parts = [f"{s['resources']} resources"]
    if report.changes:
        parts.append(
            f"{s['create']} to create, {s['update']} to update, {s['replace']} to replace, "
            f"{s['delete']} to delete, {s['same']} unchanged"
        )
    parts.append(f"{s['mandatory']} mandatory and {s['advisory']} advisory violations")
    if s["blocked"]:
        parts.append(f"{s['blocked']} blocked destructive changes")
    verdict = "BLOCKED" if report.failed else "ok"
    return f"{report.stack}: {verdict}: " + "; ".join(parts)


def _value(value: Any) -> str:
    return json.dumps(value, default=str) if not isinstance(value, str) else value


def _properties(props: dict) -> str:
    return ", ".join(f"{k}={_value(v)}" for k, v in props.items())


def _changed(change: Change) -> list[str]:
    return [f"{key}: {_value(change.old.get(key))} -> {_value(change.new.get(key))}" for key in change.changed]


def render_text(reports: list[StackReport], color: bool = False) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=color, no_color=not color, width=160, highlight=False)
    for report in reports:
        console.rule(f"stack {report.stack}", align="left")
        for v in report.violations:
            style = "bold red" if v.enforcement == "mandatory" else "yellow"
            console.print(f"[{style}]{v.enforcement}[/] {escape(v.policy)} {escape(v.urn)}\n    {escape(v.message)}")
        for change in report.changes:
            if change.blocked:
                console.print(f"[bold red]blocked[/] {escape(change.blocked)}")
        visible = [c for c in report.changes if c.op != "same"]
        for change in visible:
            console.print(f"[{OP_STYLE[change.op]}]{OP_SYMBOL[change.op]:>2} {change.op:<8}[/] {change.type} {escape(change.name)}")
            for reason in change.replace_reasons:
                console.print(f"      [magenta]{escape(reason)}[/]")
            for line in _changed(change):
                console.print(f"      {escape(line)}")
        if not report.changes:
            table = Table(show_lines=False, box=None, pad_edge=False)
            for column in ("type", "name", "protect", "key properties"):
                table.add_column(column, overflow="fold")
            for resource in report.resources:
                table.add_row(resource.type, resource.name, "yes" if resource.protect else "", escape(_properties(resource.key_properties())))
            console.print(table)
        style = "bold red" if report.failed else "bold green"
        console.print(f"[{style}]{escape(summary_line(report))}[/]")
    return buffer.getvalue()


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(reports: list[StackReport]) -> str:
    lines = ["## Infrastructure preview", ""]
    lines += ["| stack | verdict | create | update | replace | delete | mandatory | advisory | blocked |", "|---|---|---|---|---|---|---|---|---|"]
    for report in reports:
        s = report.summary
        verdict = ":x: blocked" if report.failed else ":white_check_mark: ok"
        lines.append(
            f"| `{report.stack}` | {verdict} | {s['create']} | {s['update']} | {s['replace']} | {s['delete']} "
            f"| {s['mandatory']} | {s['advisory']} | {s['blocked']} |"
        )
    lines.append("")
    for report in reports:
        lines += [f"### `{report.stack}`", "", summary_line(report), ""]
        if report.violations:
            lines += ["| enforcement | policy | resource | message |", "|---|---|---|---|"]
            for v in report.violations:
                lines.append(f"| **{v.enforcement}** | `{v.policy}` | `{_cell(v.urn.rsplit('::', 1)[-1])}` | {_cell(v.message)} |")
            lines.append("")
        for change in report.changes:
            if change.blocked:
                lines.append(f"> :no_entry: **blocked**: {_cell(change.blocked)}")
        visible = [c for c in report.changes if c.op != "same"]
        if visible:
            lines += ["", "<details><summary>Changes</summary>", "", "```diff"]
            for change in visible:
                lines.append(f"{OP_SYMBOL[change.op].strip() or ' '} {change.op} {change.type} {change.name}")
                lines += [f"    {reason}" for reason in change.replace_reasons]
                lines += [f"    {line}" for line in _changed(change)]
            lines += ["```", "", "</details>", ""]
        lines += ["<details><summary>Resources</summary>", "", "| type | name | protect | key properties |", "|---|---|---|---|"]
        for resource in report.resources:
            lines.append(
                f"| `{resource.type}` | `{resource.name}` | {'yes' if resource.protect else ''} | {_cell(_properties(resource.key_properties()))} |"
            )
        lines += ["", "</details>", ""]
    return "\n".join(lines)
