"""`python -m mlops drift`: compare current data with the reference, write reports, emit the drift metric."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from core.config import DriftConfig, load_stack_config
from core.contracts import APPINSIGHTS_ENV
from core.errors import BadInput, Refused
from core.metrics import DEFAULT_BINS, DEFAULT_CHUNK_ROWS, DEFAULT_SAMPLE_SIZE
from mlops.options import StackOption, one_stack

HELP = (
    "Compare current data with the reference per feature (PSI, KS, Jensen-Shannon, Wasserstein); write drift.json "
    "and drift.html; emit the drift metric. Exit 0: no dataset drift, 1: drift found, 2: bad input."
)
EXAMPLES = (
    "Examples: python -m mlops drift --reference train.parquet --current today.parquet --out .mlops/drift "
    "| python -m mlops drift -r profile.npz -c today.csv --stack prod --exclude failure"
)

Names = Annotated[str | None, typer.Option(help="Comma-separated column names.", show_default=False)]


def _names(value: str | None) -> list[str]:
    return [name.strip() for name in (value or "").split(",") if name.strip()]


def _metric(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}" if value >= 0.001 or value == 0 else f"{value:.1e}"


def feature_table(features) -> str:
    """One line per feature, drifted ones first (then by PSI, largest first): verdict, PSI, JS, KS D and p, W1."""
    ordered = sorted(features, key=lambda f: (not f.drifted, -f.psi, f.name))
    width = max((len(f.name) for f in ordered), default=7)
    lines = [f"{'verdict':<7} {'feature':<{width}} {'PSI':>7} {'JS':>7} {'KS D':>7} {'KS p':>8} {'W1 norm':>8}"]
    for f in ordered:
        lines.append(
            f"{'DRIFT' if f.drifted else 'ok':<7} {f.name:<{width}} {_metric(f.psi):>7} {_metric(f.jensen_shannon):>7} "
            f"{_metric(f.ks_statistic):>7} {_metric(f.ks_p_value):>8} {_metric(f.wasserstein):>8}"
        )
    return "\n".join(lines) + "\n"


def drift(
    reference: Annotated[Path, typer.Option("--reference", "-r", help="Reference data (.parquet, .csv) or a saved profile (.npz).")],
    current: Annotated[Path, typer.Option("--current", "-c", help="Current data (.parquet or .csv), read in chunks.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for drift.json and drift.html.")] = Path(".mlops/drift"),
    stack: StackOption = None,  # type: ignore[assignment]  thresholds from the stack's `drift` config; defaults otherwise
    features: Names = None,
    exclude: Names = None,
    bins: Annotated[int, typer.Option(min=2, max=100, help="PSI bins (reference quantiles).")] = DEFAULT_BINS,
    sample_size: Annotated[int, typer.Option(min=100, help="Reference values kept per feature for KS and Wasserstein.")] = DEFAULT_SAMPLE_SIZE,
    chunk_rows: Annotated[int, typer.Option(min=1, help="Rows per chunk of current data.")] = DEFAULT_CHUNK_ROWS,
    save_profile: Annotated[Path | None, typer.Option(help="Also save the reference profile (.npz) for later runs.")] = None,
) -> None:
    from pipelines import drift as core  # numpy/scipy/pyarrow: loaded by this command only
    from pipelines.drift_report import write_reports

    logging.basicConfig(format="%(message)s", stream=sys.stderr)
    logging.getLogger("mlops").setLevel(logging.INFO)  # the metric line
    limits = load_stack_config(one_stack(stack)).drift if stack else DriftConfig()
    try:
        export = core.appinsights_export()  # a bad connection string stops here, before the work
        if reference.suffix == ".npz":
            profile = core.ReferenceProfile.load(reference)
        else:
            profile = core.build_profile(reference, _names(features), _names(exclude), bins, sample_size)
        if save_profile:
            try:
                profile.save(save_profile)
            except OSError as exc:
                raise BadInput(f"--save-profile: cannot write {save_profile}: {exc.strerror}") from None
        result = core.compare_files(profile, current, limits, chunk_rows)
    except core.DriftInputError as exc:
        raise BadInput(str(exc)) from None
    try:
        json_path, html_path = write_reports(result, out)
    except OSError as exc:
        raise BadInput(f"--out: cannot write {out}: {exc.strerror}") from None
    attributes = {"stack": stack or "local", "reference": str(reference), "current": str(current)}
    sink = core.emit_drift_metric(result, attributes, export.provider if export else None)
    sent = export is None or export.send()
    typer.echo(feature_table(result.features), nl=False)
    typer.echo(f"{core.DRIFT_METRIC}={result.drift_share:.3f} ({'sent to' if sent else 'NOT sent to'} {sink}); reports: {json_path}, {html_path}")
    if not sent:
        raise BadInput(
            f"{APPINSIGHTS_ENV}: Application Insights did not accept the drift metric (the exporter's warning above "
            "says why; the identity needs Monitoring Metrics Publisher on the component)"
        )
    if result.dataset_drift:
        raise Refused(
            f"drift found in {', '.join(result.drifted_features)} "
            f"(share {result.drift_share:.2f} >= {limits.drift_share})"
        )
