"""`python -m mlops preview`: what each stack would deploy, offline."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from mlops.errors import EXIT_REFUSED, BadInput
from mlops.mockrun import run_stack
from mlops.options import FormatOption, OutOption, OutputFormat, StackOption
from mlops.preview.render import render_json, render_markdown, render_text
from mlops.preview.report import ResourceEntry, StackReport
from stacks.config import STACKS_DIR, load_stack_config

HELP = "Preview stacks offline: the resources each stack would deploy (under Pulumi mocks)."
EXAMPLES = "Examples: python -m mlops preview --stack all | python -m mlops preview -s prod --format json --out prod.json"


def stack_names(selection: str) -> list[str]:
    """'all' means every stacks/Pulumi.<env>.yaml; otherwise one stack name that has a file."""
    available = sorted(p.name.split(".")[1] for p in STACKS_DIR.glob("Pulumi.*.yaml"))
    if selection == "all":
        return available
    if selection not in available:
        raise BadInput(f"--stack: no stack '{selection}'; available: {', '.join(available)} or all")
    return [selection]


def build_reports(stacks: list[str]) -> list[StackReport]:
    reports = []
    for environment in stacks:
        load_stack_config(environment)  # validate first: exit 2 with file and key, before any resource runs
        record = run_stack(environment)
        reports.append(
            StackReport(
                stack=environment,
                resources=[ResourceEntry.of(r) for r in sorted(record.resources, key=lambda r: r.urn)],
                outputs=record.outputs,
            )
        )
    return reports


def preview(stack: StackOption = "all", format: FormatOption = OutputFormat.text, out: OutOption = None) -> None:
    reports = build_reports(stack_names(stack))
    if format is OutputFormat.json:
        text = render_json(reports)
    elif format is OutputFormat.markdown:
        text = render_markdown(reports)
    else:
        text = render_text(reports, color=out is None and sys.stdout.isatty())
    write_output(text, out)
    if any(report.failed for report in reports):
        raise typer.Exit(EXIT_REFUSED)


def write_output(text: str, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(text)
        return
    try:
        out.write_text(text)
    except OSError as exc:
        raise BadInput(f"--out: cannot write {out}: {exc.strerror}") from None
