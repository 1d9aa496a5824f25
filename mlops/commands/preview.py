"""`python -m mlops preview`: what each stack would change, with policy verdicts, offline.

Desired state comes from the program under mocks, verdicts from the policy pack over the Analyzer protocol,
changes from a diff against `--base GIT_REF` or `--state EXPORT.json`. With `--engine pulumi` the same report
is rendered from the real engine's `pulumi preview --json`.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, closing
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from core.config import load_stack_config
from core.errors import EXIT_REFUSED, BadInput
from mlops.analyzer import PolicyAnalyzer
from mlops.mockrun import run_stack
from mlops.options import FormatOption, OutOption, OutputFormat, StackOption, stack_names, write_output
from mlops.preview.diff import BaseEvaluation, diff_states, is_data_loss, state_from_export
from mlops.preview.flows import flow_results
from mlops.preview.render import exit_code, render_json, render_markdown, render_text
from mlops.preview.report import FlowEntry, ResourceEntry, StackReport
from mlops.preview.state import from_recorded

HELP = "Preview stacks offline: resources, changes against a base, and policy verdicts (exit 1 blocks)."
EXAMPLES = (
    "Examples: python -m mlops preview --stack all | "
    "python -m mlops preview --stack all --base origin/main --format markdown --out preview.md | "
    "python -m mlops preview -s prod --state prod-export.json --format json"
)


class Engine(StrEnum):
    mocks = "mocks"
    pulumi = "pulumi"


def build_reports(
    stacks: list[str],
    base: str | None = None,
    state: Path | None = None,
    acknowledged: set[str] = frozenset(),
    policies: bool = True,
    progress: Callable[[str], None] = lambda message: None,
) -> list[StackReport]:
    configs = {environment: load_stack_config(environment) for environment in stacks}  # exit 2 before any run
    base_states = state_from_export(state) if state else None
    progress(f"evaluating {', '.join(stacks)} under mocks" + (f" and the base at {base}" if base else ""))
    # The base runs in a subprocess and the pack in another, both in parallel with the current stacks. The stacks
    # run here one after another: a worker process per stack measured slower on two cores (README, Speed).
    with ExitStack() as running:
        base_job = running.enter_context(closing(BaseEvaluation(base, stacks).start())) if base else None
        analyzer = running.enter_context(PolicyAnalyzer()) if policies else None
        # The pack analyses stack N (in its own process, on the other core) while stack N+1 is evaluated.
        checks = running.enter_context(ThreadPoolExecutor(max_workers=1))
        records, pending = {}, {}
        for environment in stacks:
            record = records[environment] = run_stack(environment)
            progress(f"{record.environment}: {len(record.resources)} resources evaluated")
            if analyzer:
                pending[record.environment] = checks.submit(analyzer.check_stack, record, record.environment)
        verdicts = {environment: future.result() for environment, future in pending.items()}
        if policies:
            progress("policies checked")
        if base_job is not None:
            base_states = base_job.result()
            progress(f"base {base} {'read from the cache' if base_job.cached else 'evaluated'}")
    reports = []
    matched: set[str] = set()
    for environment, record in records.items():
        # Without a base, as in a stack's first `pulumi preview`, everything is to create.
        changes = diff_states(
            base_states.get(environment, []) if base_states is not None else [],
            from_recorded(record.resources),
            guard_data=configs[environment].protect,
            acknowledged=acknowledged,
        )
        matched |= {key for c in changes if is_data_loss(c) for key in (c.name, c.urn) if key in acknowledged}
        reports.append(
            StackReport(
                stack=environment,
                resources=[ResourceEntry.of(r) for r in sorted(record.resources, key=lambda r: r.urn)],
                violations=verdicts.get(environment, []),
                changes=changes,
                outputs=record.outputs,
                flows=[FlowEntry.of(result) for result in flow_results(record)],
            )
        )
    unmatched = sorted(acknowledged - matched)
    if unmatched:
        where = "no base to compare with (give --base or --state)" if base_states is None else (
            f"no stateful resource is replaced or deleted under that name in {', '.join(stacks)}"
        )
        raise BadInput(f"--acknowledge-data-loss {', '.join(unmatched)}: {where}")
    return reports


class Color(StrEnum):
    auto = "auto"
    always = "always"
    never = "never"


def use_color(choice: Color, out: Path | None) -> bool:
    """auto: colour on a terminal unless NO_COLOR is set (https://no-color.org); never into a file."""
    if choice is Color.always:
        return True
    if choice is Color.never or out is not None or os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty()


def preview(
    stack: StackOption = "all",
    base: Annotated[str | None, typer.Option(help="Git ref to diff against (e.g. the merge base with main).")] = None,
    state: Annotated[Path | None, typer.Option(help="A `pulumi stack export` file to diff against.")] = None,
    format: FormatOption = OutputFormat.text,
    out: OutOption = None,
    acknowledge_data_loss: Annotated[
        list[str] | None,
        typer.Option("--acknowledge-data-loss", help="Logical name or URN of a stateful resource whose replace/delete is intended."),
    ] = None,
    engine: Annotated[Engine, typer.Option(help="mocks: offline; pulumi: the real CLI (needs credentials).")] = Engine.mocks,
    color: Annotated[Color, typer.Option(help="Text colours: auto (a terminal, unless NO_COLOR is set), always, never.")] = Color.auto,
    show_all: Annotated[
        bool, typer.Option("--show-all", help="Text: also list advisories on unchanged resources and rules not evaluated.")
    ] = False,
    max_chars: Annotated[
        int | None,
        typer.Option(min=1000, help="Markdown: cut whole sections from the end to stay within N characters (PR comments)."),
    ] = None,
) -> None:
    if base and state:
        raise BadInput("--base and --state are alternatives; give one")
    stacks = stack_names(stack)
    status = Console(stderr=True, highlight=False, no_color=not use_color(color, None) and color is not Color.always)
    if engine is Engine.pulumi:
        from mlops.preview.engine import reports_from_pulumi

        reports = reports_from_pulumi(stacks)
    else:
        # MLOPS_SKIP_POLICIES=1 leaves the pack out (for quick local runs and tests of the diff alone).
        policies = os.environ.get("MLOPS_SKIP_POLICIES") != "1"
        with status.status("preview: starting") as spinner:
            def progress(message: str) -> None:
                if status.is_terminal:
                    spinner.update(f"preview: {message}")
                else:
                    status.print(f"preview: {message}")

            reports = build_reports(stacks, base, state, set(acknowledge_data_loss or ()), policies, progress)
    if format is OutputFormat.json:
        text = render_json(reports)
    elif format is OutputFormat.markdown:
        text = render_markdown(reports, max_chars)
    else:
        width = shutil.get_terminal_size().columns if out is None and sys.stdout.isatty() else None
        text = render_text(reports, color=use_color(color, out), width=width, show_all=show_all)
    write_output(text, out)
    if exit_code(reports):
        raise typer.Exit(EXIT_REFUSED)
