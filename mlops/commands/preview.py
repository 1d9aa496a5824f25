"""`python -m mlops preview`: what each stack would change, with policy verdicts, offline.

Desired state comes from the program under mocks, verdicts from the policy pack over the Analyzer protocol,
changes from a diff against `--base GIT_REF` or `--state EXPORT.json`. With `--engine pulumi` the same report
is rendered from the real engine's `pulumi preview --json`.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, closing
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from mlops.errors import EXIT_REFUSED, BadInput
from mlops.mockrun import run_stack
from mlops.options import FormatOption, OutOption, OutputFormat, StackOption, stack_names, write_output
from mlops.analyzer import PolicyAnalyzer
from mlops.preview.diff import BaseEvaluation, diff_states, from_recorded, is_data_loss, state_from_export
from mlops.preview.render import render_json, render_markdown, render_text
from mlops.preview.report import ResourceEntry, StackReport
from stacks.config import load_stack_config

HELP = "Preview stacks offline: resources, changes against a base, and policy verdicts (exit 1 blocks)."
EXAMPLES = (
    "Examples: python -m mlops preview --stack all | "
    "python -m mlops preview --stack all --base origin/main --format markdown --out preview.md | "
    "python -m mlops preview -s prod --state prod-export.json --format json"
)


class Engine(str, Enum):
    mocks = "mocks"
    pulumi = "pulumi"


def build_reports(
    stacks: list[str],
    base: str | None = None,
    state: Path | None = None,
    acknowledged: set[str] = frozenset(),
    policies: bool = True,
) -> list[StackReport]:
    configs = {environment: load_stack_config(environment) for environment in stacks}  # exit 2 before any run
    base_states = state_from_export(state) if state else None
    # The base runs in a subprocess and the pack in another, both in parallel with the current stacks.
    with ExitStack() as running:
        base_job = running.enter_context(closing(BaseEvaluation(base, stacks).start())) if base else None
        analyzer = running.enter_context(PolicyAnalyzer()) if policies else None
        # The pack analyses stack N (in its own process, on the other core) while stack N+1 is evaluated.
        checks = running.enter_context(ThreadPoolExecutor(max_workers=1))
        records, pending = {}, {}
        for environment in stacks:
            records[environment] = run_stack(environment)
            if analyzer:
                pending[environment] = checks.submit(analyzer.check_stack, records[environment], environment)
        verdicts = {environment: future.result() for environment, future in pending.items()}
        if base_job is not None:
            base_states = base_job.result()
    reports = []
    matched: set[str] = set()
    for environment, record in records.items():
        changes = []
        if base_states is not None:
            changes = diff_states(
                base_states.get(environment, []),
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
            )
        )
    unmatched = sorted(acknowledged - matched)
    if unmatched:
        where = "no base to compare with (give --base or --state)" if base_states is None else (
            f"no stateful resource is replaced or deleted under that name in {', '.join(stacks)}"
        )
        raise BadInput(f"--acknowledge-data-loss {', '.join(unmatched)}: {where}")
    return reports


def preview(
    stack: StackOption = "all",
    base: Annotated[Optional[str], typer.Option(help="Git ref to diff against (e.g. the merge base with main).")] = None,
    state: Annotated[Optional[Path], typer.Option(help="A `pulumi stack export` file to diff against.")] = None,
    format: FormatOption = OutputFormat.text,
    out: OutOption = None,
    acknowledge_data_loss: Annotated[
        Optional[list[str]],
        typer.Option("--acknowledge-data-loss", help="Logical name or URN of a stateful resource whose replace/delete is intended."),
    ] = None,
    engine: Annotated[Engine, typer.Option(help="mocks: offline; pulumi: the real CLI (needs credentials).")] = Engine.mocks,
) -> None:
    if base and state:
        raise BadInput("--base and --state are alternatives; give one")
    stacks = stack_names(stack)
    if engine is Engine.pulumi:
        from mlops.preview.engine import reports_from_pulumi

        reports = reports_from_pulumi(stacks)
    else:
        # MLOPS_SKIP_POLICIES=1 leaves the pack out (for quick local runs and tests of the diff alone).
        policies = os.environ.get("MLOPS_SKIP_POLICIES") != "1"
        reports = build_reports(stacks, base, state, set(acknowledge_data_loss or ()), policies)
    if format is OutputFormat.json:
        text = render_json(reports)
    elif format is OutputFormat.markdown:
        text = render_markdown(reports)
    else:
        text = render_text(reports, color=out is None and sys.stdout.isatty())
    write_output(text, out)
    if any(report.failed for report in reports):
        raise typer.Exit(EXIT_REFUSED)
