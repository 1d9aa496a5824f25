"""Renderers of a preview report: text for terminals (in `pulumi preview`'s shape), Markdown for PR comments, JSON.

Text: per stack the resources that change as a tree under their components, with Pulumi's markers and colours
(`+` create, `~` update, `-` delete, `+-` replace) and the changed keys old -> new; then `Policies:` grouped by
enforcement (advisories on unchanged resources collapse to a count); then `Flows:` (open of applicable, every broken
flow with why); then Pulumi's `Resources:` counts; and at the
very end one summary across stacks with the verdict and what the exit code means.

Markdown leads with what decides the merge: the verdict table, what blocks, the changes, new advisories; the rest
is collapsed. Cut to a size, it drops whole sections from the end and says which.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from core.config import PROJECT
from mlops.preview.report import Change, ResourceEntry, StackReport, Violation

STACK_TYPE = "pulumi:pulumi:Stack"
OP_SYMBOL = {"create": "+", "update": "~", "replace": "+-", "delete": "-", "same": " "}
OP_STYLE = {"create": "green", "update": "yellow", "replace": "magenta", "delete": "red", "same": "default"}
OP_PHRASE = {"create": "to create", "update": "to update", "replace": "to replace", "delete": "to delete"}
EXIT_MEANING = {
    0: "exit 0: nothing blocks",
    1: "exit 1: a mandatory policy violation or a blocked destructive change",
}


def render_json(reports: list[StackReport]) -> str:
    return json.dumps({"stacks": [r.to_json() for r in reports]}, indent=2, default=str) + "\n"


def _value(value: Any) -> str:
    return json.dumps(value, default=str) if not isinstance(value, str) else value


def _changed(change: Change) -> list[str]:
    return [f"{key}: {_value(change.old.get(key))} -> {_value(change.new.get(key))}" for key in change.changed]


def _short(urn: str) -> str:
    """`name (type)` from a URN: what Pulumi prints instead of the 150-character URN."""
    name = urn.rsplit("::", 1)[-1]
    type_ = urn.split("::")[-2].rsplit("$", 1)[-1] if urn.count("::") >= 3 else ""
    return f"{name} ({type_})" if type_ else name


def verdict(report: StackReport) -> str:
    return "BLOCKED" if report.failed else "ok"


def counts(report: StackReport) -> list[tuple[str, str, int]]:
    """Pulumi's `Resources:` lines: (op, text, count), zero counts left out; they add up to the stack's resources."""
    summary = report.summary
    lines = [(op, f"{OP_SYMBOL[op]} {summary[op]} {OP_PHRASE[op]}", summary[op]) for op in OP_PHRASE if summary[op]]
    if summary["same"]:
        lines.append(("same", f"{summary['same']} unchanged", summary["same"]))
    return lines


def exit_code(reports: list[StackReport]) -> int:
    return 1 if any(r.failed for r in reports) else 0


# --- text --------------------------------------------------------------------------------------------------------


@dataclass
class _Row:
    op: str | None  # the node's op; None on the detail lines under it
    guide: str
    content: Text


def _tree_rows(report: StackReport) -> Iterator[_Row]:
    """Changing resources (and the components above them) as a tree in registration order; deletes last."""
    entries = {r.urn: r for r in report.resources}
    changes = {c.urn: c for c in report.changes}
    shown: set[str] = set()
    for change in report.changing:
        urn = change.urn
        while urn in entries and urn not in shown:
            shown.add(urn)
            urn = entries[urn].parent
    children: dict[str, list[ResourceEntry]] = {}
    for entry in sorted(report.resources, key=lambda r: r.name):  # registration order is not deterministic
        if entry.urn in shown:
            children.setdefault(entry.parent if entry.parent in entries else "", []).append(entry)

    def walk(parent: str, prefix: str) -> Iterator[_Row]:
        siblings = children.get(parent, [])
        for index, entry in enumerate(siblings):
            last = index == len(siblings) - 1 and not (parent == "" and deleted)
            branch, below = ("└─ ", "   ") if last else ("├─ ", "│  ")
            yield from _node(changes.get(entry.urn), entry.name, entry.type, prefix + branch, prefix + below)
            yield from walk(entry.urn, prefix + below)

    # The stack is the root, as in `pulumi preview`; it is created with everything else on a first preview.
    deleted = [c for c in report.changing if c.urn not in entries]  # no longer in the program: hung under the root
    everything_new = bool(report.changes) and all(c.op == "create" for c in report.changes)
    root = Change("create", "", STACK_TYPE, report.stack) if everything_new else None
    yield from _node(root, f"{PROJECT}-{report.stack}", STACK_TYPE, "", "")
    yield from walk("", "")
    for index, change in enumerate(deleted):
        last = index == len(deleted) - 1
        yield from _node(change, change.name, change.type, "└─ " if last else "├─ ", "   " if last else "│  ")


def _node(change: Change | None, name: str, type_: str, guide: str, detail_guide: str) -> Iterator[_Row]:
    op = change.op if change else "same"
    style = OP_STYLE[op]
    label = Text.assemble((name, f"bold {style}" if op != "same" else ""), (f" ({type_})", "dim"))
    yield _Row(op, guide, label)
    if change is None:
        return
    for reason in change.replace_reasons:
        yield _Row(None, detail_guide, Text("    " + reason, style="magenta"))
    for line in _changed(change):
        yield _Row(None, detail_guide, Text("    " + line))
    if change.blocked:
        yield _Row(None, detail_guide, Text(f"    blocked: {change.blocked}", style="bold red"))


def _console(buffer: io.StringIO, color: bool, width: int | None) -> Console:
    return Console(
        file=buffer,
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        width=width or 10_000,
        soft_wrap=width is None,
        highlight=False,
        emoji=False,
        markup=False,
    )


def _violation_line(v: Violation) -> Text:
    return Text.assemble((v.policy, "bold"), "  ", (_short(v.urn), "dim"))


def _policies(console: Console, report: StackReport, show_all: bool) -> bool:
    """The `Policies:` block; False when there is nothing to say."""
    groups = [
        ("mandatory", sorted(report.violations_of("mandatory"), key=lambda v: not report.is_new(v)), "bold red", "✗"),
        ("advisory", report.violations_of("advisory", None if show_all else True), "yellow", "!"),
        ("not-evaluated", report.violations_of("not-evaluated") if show_all else [], "dim", "?"),
    ]
    hidden_advisories = [] if show_all else report.violations_of("advisory", new=False)
    hidden_unknown = [] if show_all else report.violations_of("not-evaluated")
    if not any(items for _, items, _, _ in groups) and not hidden_advisories and not hidden_unknown:
        return False
    console.print(Text("Policies:", style="bold"))
    for level, items, style, mark in groups:
        if not items:
            continue
        new = "" if level != "advisory" or show_all else " new"
        console.print(Text(f"    {level} ({len(items)}{new})", style=style))
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True, width=7)
        grid.add_column(overflow="fold")
        for v in items:
            grid.add_row(Text(mark, style=style, justify="right"), _violation_line(v))
            for line in v.message.splitlines():
                grid.add_row("", Text(line))
        console.print(grid)
    collapsed = [
        f"{len(hidden_advisories)} advisories on unchanged resources" if hidden_advisories else "",
        f"{len(hidden_unknown)} not evaluated (unknown during preview)" if hidden_unknown else "",
    ]
    collapsed = [c for c in collapsed if c]
    if collapsed:
        console.print(Text(f"    {'; '.join(collapsed)} (--show-all lists them)", style="dim"))
    return True


def flows_line(report: StackReport) -> str:
    """`29 of 29 open` or `27 of 29 open, 2 broken`; "" for a stack without flows (the shared stack, a real CLI run)."""
    s = report.summary
    applicable = s["flows_open"] + s["flows_broken"]
    if not applicable:
        return ""
    return f"{s['flows_open']} of {applicable} open" + (f", {s['flows_broken']} broken" if s["flows_broken"] else "")


def _flows(console: Console, report: StackReport, show_all: bool) -> bool:
    """The `Flows:` block: the count, every broken flow with why, and (with --show-all) every flow's status."""
    line = flows_line(report)
    if not line:
        return False
    broken = report.flows_of("broken")
    console.print(Text.assemble(("Flows: ", "bold"), (line, "bold red" if broken else "green")))
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True, width=7)
    grid.add_column(overflow="fold")
    for flow in report.flows if show_all else broken:
        mark, style = {"open": ("✓", "green"), "broken": ("✗", "bold red")}.get(flow.status, ("-", "dim"))
        why = f": {flow.detail}" if flow.detail else ""
        grid.add_row(Text(mark, style=style, justify="right"), Text.assemble((flow.name, "bold"), f" ({flow.source} -> {flow.target}){why}"))
    console.print(grid)
    return True


def render_text(reports: list[StackReport], color: bool = False, width: int | None = None, show_all: bool = False) -> str:
    """The terminal preview; `width` is the terminal's (None: no wrapping, for files and pipes)."""
    buffer = io.StringIO()
    console = _console(buffer, color, width)
    for report in reports:
        console.print(Text.assemble(("Previewing ", "bold"), (report.stack, "bold"), (f" ({len(report.resources)} resources)", "dim")))
        console.print()
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True, width=2)
        grid.add_column(overflow="fold")
        for row in _tree_rows(report):
            marker = Text(OP_SYMBOL[row.op], style=OP_STYLE[row.op]) if row.op else Text("")
            grid.add_row(marker, Text(row.guide, style="dim") + row.content)
        console.print(grid)
        if not report.changing:
            console.print(Text("    no changes", style="dim"))
        console.print()
        if _policies(console, report, show_all):
            console.print()
        if _flows(console, report, show_all):
            console.print()
        console.print(Text("Resources:", style="bold"))
        for op, line, _ in counts(report):
            console.print(Text(f"    {line}", style=OP_STYLE[op] if op != "same" else ""))
        console.print()
    _summary(console, reports)
    return "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())  # grid cells pad to width


def blocking_reasons(report: StackReport) -> list[str]:
    violations, changes = report.blocking()
    reasons = [f"{v.policy} ({v.urn.rsplit('::', 1)[-1]})" for v in violations]
    reasons += [f"{c.op} of {c.name}" for c in changes]
    return reasons


def _summary(console: Console, reports: list[StackReport]) -> None:
    console.print(Text("Summary:", style="bold"))
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True)
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for report in reports:
        s = report.summary
        changes = ", ".join(line for _, line, _ in counts(report) if not line[0].isdigit()) or "no changes"
        detail = f"{changes}; {s['mandatory']} mandatory, {s['advisory']} advisory"
        if flows_line(report):
            detail += f"; flows {flows_line(report)}"
        if report.failed:
            detail += "; blocked by " + ", ".join(blocking_reasons(report))
        grid.add_row(Text(f"    {report.stack}"), Text(verdict(report), style="bold red" if report.failed else "bold green"), Text(detail))
    console.print(grid)
    code = exit_code(reports)
    blocked = [r.stack for r in reports if r.failed]
    console.print(Text(EXIT_MEANING[code] + (f" in {', '.join(blocked)}" if blocked else ""), style="bold red" if code else "bold green"))


# --- Markdown ----------------------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _violation_table(violations: list[Violation]) -> list[str]:
    lines = ["| enforcement | policy | resource | message |", "|---|---|---|---|"]
    for v in violations:
        lines.append(f"| **{v.enforcement}** | `{v.policy}` | `{_cell(_short(v.urn))}` | {_cell(v.message)} |")
    return [*lines, ""]


def _diff_block(changes: list[Change]) -> list[str]:
    lines = ["```diff"]
    for change in changes:
        lines.append(f"{OP_SYMBOL[change.op]} {change.op} {change.name} ({change.type})")
        lines += [f"    {reason}" for reason in change.replace_reasons]
        lines += [f"    {line}" for line in _changed(change)]
    return [*lines, "```", ""]


def _details(summary: str, body: list[str]) -> list[str]:
    return ["<details><summary>" + summary + "</summary>", "", *body, "</details>", ""]


def _properties(props: dict) -> str:
    return ", ".join(f"{k}={_value(v)}" for k, v in props.items())


@dataclass
class Section:
    """A whole Markdown section: the unit a size limit cuts (never inside a table or a fence)."""

    title: str
    lines: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def markdown_sections(reports: list[StackReport]) -> list[Section]:
    """In order of importance: verdicts, what blocks, changes, new advisories, then the collapsed rest."""
    table = ["## Infrastructure preview", ""]
    table += ["| stack | verdict | create | update | replace | delete | unchanged | mandatory | advisory | blocked | flows |"]
    table += ["|---|---|---|---|---|---|---|---|---|---|---|"]
    for report in reports:
        s = report.summary
        mark = ":x: blocked" if report.failed else ":white_check_mark: ok"
        table.append(
            f"| `{report.stack}` | {mark} | {s['create']} | {s['update']} | {s['replace']} | {s['delete']} | {s['same']} "
            f"| {s['mandatory']} | {s['advisory']} | {s['blocked']} | {flows_line(report) or '-'} |"
        )
    code = exit_code(reports)
    table += ["", f"**{EXIT_MEANING[code]}**" + (f" in {', '.join(r.stack for r in reports if r.failed)}" if code else ""), ""]
    sections = [Section("verdicts", table)]
    for report in reports:
        violations, blocked = report.blocking()
        if not (violations or blocked):
            continue
        lines = [f"### :x: `{report.stack}`: what blocks", ""]
        if violations:
            lines += _violation_table(violations)
        lines += [f"> :no_entry: **blocked {c.op}** of `{c.name}`: {_cell(c.blocked or '')}" for c in blocked]
        sections.append(Section(f"what blocks {report.stack}", [*lines, ""]))
    for report in reports:
        if report.changing:
            lines = [f"### `{report.stack}`: changes", "", *_diff_block(report.changing)]
            sections.append(Section(f"changes of {report.stack}", lines))
    for report in reports:
        new = report.violations_of("advisory", new=True)
        if new:
            sections.append(Section(f"new advisories of {report.stack}", [f"### `{report.stack}`: new advisories", "", *_violation_table(new)]))
    for report in reports:
        old = report.violations_of("advisory", new=False)
        if old:
            title = f"<code>{report.stack}</code>: {len(old)} advisories on unchanged resources"
            sections.append(Section(f"unchanged advisories of {report.stack}", _details(title, _violation_table(old))))
    for report in reports:
        if report.flows:
            rows = ["| flow | from | to | status |", "|---|---|---|---|"]
            for f in report.flows:
                status = {"open": ":white_check_mark: open", "broken": ":x: broken"}.get(f.status, f.status)
                rows.append(f"| `{f.name}` | {_cell(f.source)} | {_cell(f.target)} | {status}{_cell(': ' + f.detail) if f.detail else ''} |")
            title = f"<code>{report.stack}</code>: flows, {flows_line(report)}"
            sections.append(Section(f"flows of {report.stack}", _details(title, [*rows, ""])))
    for report in reports:
        rows = ["| type | name | protect | key properties |", "|---|---|---|---|"]
        for r in report.resources:
            rows.append(f"| `{r.type}` | `{r.name}` | {'yes' if r.protect else ''} | {_cell(_properties(r.key_properties()))} |")
        sections.append(Section(f"resources of {report.stack}", _details(f"<code>{report.stack}</code>: {len(report.resources)} resources", [*rows, ""])))
    return sections


def render_markdown(reports: list[StackReport], max_chars: int | None = None) -> str:
    """The PR comment; with `max_chars`, whole sections are dropped from the end and named in a closing note."""
    sections = markdown_sections(reports)
    if max_chars is None:
        return "".join(s.text for s in sections)
    kept, cut = list(sections), []
    note = lambda: f"\n_Cut to fit {max_chars:,} characters: {', '.join(s.title for s in cut)}._\n"  # noqa: E731
    while len(kept) > 1 and sum(len(s.text) for s in kept) + (len(note()) if cut else 0) > max_chars:
        cut.insert(0, kept.pop())
    return "".join(s.text for s in kept) + (note() if cut else "")
