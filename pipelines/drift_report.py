"""The drift report files: `drift.json` (the full result) and `drift.html`, self-contained (inline CSS and SVG,
no scripts, fonts or images from elsewhere), with a reference-vs-current histogram per feature on the bins the
metrics used."""

from __future__ import annotations

from html import escape
from pathlib import Path

from pipelines.drift import DRIFT_METRIC, DriftResult, FeatureDrift

REFERENCE_COLOR, CURRENT_COLOR = "#4c78a8", "#f58518"
_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:right}
th{background:#f4f4f4}td:first-child{text-align:left}.drift{color:#b00020;font-weight:600}.ok{color:#1b5e20}
section{margin:2rem 0}.legend span{display:inline-block;width:.8rem;height:.8rem;margin:0 .3rem 0 1rem}
"""


def write_reports(result: DriftResult, out_dir: Path) -> tuple[Path, Path]:
    """Write drift.json and drift.html into `out_dir`; returns both paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out_dir / "drift.json", out_dir / "drift.html"
    json_path.write_text(result.to_json())
    html_path.write_text(render_html(result))
    return json_path, html_path


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.4g}"


def _verdict(drifted: bool) -> str:
    return '<span class="drift">drift</span>' if drifted else '<span class="ok">ok</span>'


def render_html(result: DriftResult) -> str:
    limits = result.thresholds
    rows = "".join(
        f"<tr><td>{escape(f.name)}</td><td>{f.kind}</td><td>{_verdict(f.drifted)}</td><td>{_fmt(f.psi)}</td>"
        f"<td>{_fmt(f.jensen_shannon)}</td><td>{_fmt(f.ks_statistic)}</td><td>{_fmt(f.ks_p_value)}</td>"
        f"<td>{_fmt(f.wasserstein)}</td><td>{f.current_nulls}</td></tr>"
        for f in result.features
    )
    skipped = "".join(f"<li>{escape(name)}: {escape(why)}</li>" for name, why in result.skipped.items())
    verdict = "Dataset drift" if result.dataset_drift else "No dataset drift"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Drift report</title><style>{_CSS}</style></head><body>
<h1>Drift report: {verdict}</h1>
<p>{escape(DRIFT_METRIC)} = <b>{result.drift_share:.3f}</b> ({len(result.drifted_features)} of {len(result.features)}
features drifted; dataset threshold {limits['drift_share']}).<br>Reference: {escape(result.reference)}<br>
Current: {escape(result.current)} ({result.current_rows} rows)</p>
<p>Thresholds: PSI &gt; {limits['psi_threshold']}, Jensen-Shannon &gt; {limits['jensen_shannon_threshold']},
normalized Wasserstein &gt; {limits['wasserstein_threshold']}, KS p &lt; {limits['ks_p_value']}. A numeric feature
drifts when KS rejects and one effect size is above its threshold; a categorical one when PSI or Jensen-Shannon is.</p>
<table><tr><th>feature</th><th>kind</th><th>verdict</th><th>PSI</th><th>Jensen-Shannon</th><th>KS D</th>
<th>KS p</th><th>Wasserstein (norm.)</th><th>current nulls</th></tr>{rows}</table>
{f"<p>Not compared:</p><ul>{skipped}</ul>" if skipped else ""}
<p class="legend"><span style="background:{REFERENCE_COLOR}"></span>reference
<span style="background:{CURRENT_COLOR}"></span>current (share of rows per bin)</p>
{"".join(_feature_section(f) for f in result.features)}
</body></html>
"""


def _feature_section(feature: FeatureDrift) -> str:
    extra = f"<p>Unseen categories: {escape(', '.join(feature.unseen))}</p>" if feature.unseen else ""
    note = f"<p>{escape(feature.note)}</p>" if feature.note else ""
    return (
        f"<section><h2>{escape(feature.name)} {_verdict(feature.drifted)}</h2>{note}{extra}"
        f"{histogram_svg(feature.bins, feature.reference_counts, feature.current_counts)}</section>"
    )


def histogram_svg(labels: list[str], reference: list[int], current: list[int], width: int = 720, height: int = 260) -> str:
    """Grouped bars of reference and current shares per bin, as inline SVG: a y axis in percent of rows with
    gridlines, the bins on the x axis, and each bar's share written above it."""
    ref_total, cur_total = max(sum(reference), 1), max(sum(current), 1)
    shares = [(r / ref_total, c / cur_total) for r, c in zip(reference, current)]
    top = max(max(pair) for pair in shares) or 1.0
    left, right, base = 48, width - 10, height - 70
    plot_h, slot = base - 24, (right - left) / len(labels)
    axis = [
        f'<line x1="{left}" y1="{base}" x2="{right}" y2="{base}" stroke="#999"/>',
        f'<line x1="{left}" y1="{base}" x2="{left}" y2="{base - plot_h}" stroke="#999"/>',
        f'<text x="12" y="{base - plot_h / 2:.1f}" font-size="10" text-anchor="middle" '
        f'transform="rotate(-90 12 {base - plot_h / 2:.1f})">share of rows</text>',
        f'<text x="{(left + right) / 2:.1f}" y="{height - 4}" font-size="10" text-anchor="middle">bin</text>',
    ]
    for step in range(5):  # gridlines at 0, 25, 50, 75, 100 % of the tallest bar
        value = top * step / 4
        y = base - plot_h * step / 4
        axis.append(f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#eee"/>')
        axis.append(f'<text x="{left - 4}" y="{y + 3:.1f}" font-size="9" text-anchor="end">{value:.0%}</text>')
    bars, ticks = [], []
    for i, (label, (r, c)) in enumerate(zip(labels, shares)):
        x = left + i * slot
        for offset, share, color in ((0.1, r, REFERENCE_COLOR), (0.5, c, CURRENT_COLOR)):
            h = plot_h * share / top
            bar_x = x + offset * slot
            bars.append(
                f'<rect x="{bar_x:.1f}" y="{base - h:.1f}" width="{0.4 * slot:.1f}" height="{h:.1f}" '
                f'fill="{color}"><title>{escape(label)}: {share:.2%}</title></rect>'
                f'<text x="{bar_x + 0.2 * slot:.1f}" y="{base - h - 2:.1f}" font-size="8" text-anchor="middle">{share:.0%}</text>'
            )
        ticks.append(
            f'<text x="{x + slot / 2:.1f}" y="{base + 12}" font-size="9" text-anchor="end" '
            f'transform="rotate(-30 {x + slot / 2:.1f} {base + 12})">{escape(label[:24])}</text>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">'
        f'{"".join(axis)}{"".join(bars)}{"".join(ticks)}</svg>'
    )
