"""Data drift between a reference (training) data set and current (production) data, feature by feature.

Metrics, computed with numpy/scipy on counts so that the current data can be streamed in chunks:

- **Numeric features** are compared on the *grid* of the reference sample's distinct values. Every current
  value is located once on that grid (one `searchsorted`); the counts per grid cell (each grid value, and each
  open interval between two grid values) and the sums of the values in the open intervals are all that is
  kept. From them:
  - **PSI** on reference-quantile bins (`bins` quantiles of the reference sample; a feature with at most
    `bins` distinct reference values gets one bin per value plus one for any other value). Empty bins get
    `PSI_EPSILON` as their share.
  - **Kolmogorov-Smirnov** (two-sample, two-sided) against the reference sample: the statistic is *exact*
    whatever the chunking, because both empirical CDFs are known exactly at every grid value and just
    below it, which is where their largest gap lies. The p-value is Smirnov's asymptotic one
    (`scipy.stats.kstwo.sf(D, round(m*n/(m+n)))`, as `ks_2samp(method="asymp")`).
  - **Jensen-Shannon distance** (base 2, so in [0, 1]) on the PSI bins (`scipy.spatial.distance.jensenshannon`).
  - **Normalized Wasserstein-1**: W1(reference sample, current) divided by the reference standard
    deviation (as Evidently's "normed Wasserstein"). It is exact on every grid interval where the two CDFs do
    not cross; inside an interval where they do, the current values are taken at their mean, and the
    possible error is reported as `wasserstein_error_bound` (tests check scipy's value lies within it).
- **Categorical features**: PSI and Jensen-Shannon distance on category shares; categories unseen in the
  reference are pooled into one `UNSEEN` bucket (and listed).

Verdicts: a numeric feature drifts when the KS test rejects (p < `ks_p_value`) *and* at least one effect size
is material (PSI, Jensen-Shannon or normalized Wasserstein above its threshold), so large samples do not flag
negligible shifts. A categorical feature drifts when PSI or Jensen-Shannon is above its threshold. The data
set drifts when the share of drifted features reaches `drift_share`; that share is the `DRIFT_METRIC` the
alert rule watches.

The reference is summarised once into a `ReferenceProfile` (saved as one `.npz`): the bounded reference
sample (`sample_size` values per feature, all of them when the reference is smaller, so KS and Wasserstein
are then exact against the full reference), bin edges and counts, category counts. Loading checks every
array against the others, so a truncated or edited profile is one clear error.

Memory: the current data is read one batch of `chunk_rows` at a time (Parquet without pre-buffering, which
would otherwise hold the whole file), so a comparison needs the reference profile plus a few batches,
whatever the number of rows. Sums are kept in units of a power of two near the reference's largest value,
so values near the float64 limit (1e308) neither overflow the spread nor the distance. A metric that is
still not finite (current values far beyond the reference range, an infinite value) is reported as null
with the reason in `undefined`; the JSON is always strict.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Literal, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field
from scipy.spatial.distance import jensenshannon
from scipy.stats import kstwo

from core.contracts import APPINSIGHTS_ENV
from core.errors import first_line
from core.metrics import DEFAULT_BINS, DEFAULT_CHUNK_ROWS, DEFAULT_SAMPLE_SIZE, DRIFT_METRIC
from pipelines import telemetry

PSI_EPSILON = 1e-4
UNSEEN = "(unseen)"
OTHER = "(other values)"
MAX_CATEGORIES = 100
PROFILE_VERSION = 1
PARQUET_BUFFER_BYTES = 1 << 20  # read column chunks in 1 MiB pieces instead of whole

log = logging.getLogger("mlops.drift")


class DriftInputError(ValueError):
    """The data cannot be compared (unreadable, empty, mismatched, all-null): one clear line for the user."""


class Thresholds(Protocol):
    """What the verdicts need; `core.config.DriftConfig` is one."""

    psi_threshold: float
    ks_p_value: float
    jensen_shannon_threshold: float
    wasserstein_threshold: float
    drift_share: float


# --- metrics on counts ----------------------------------------------------------------------------------------


def psi(reference_counts: np.ndarray, current_counts: np.ndarray, epsilon: float = PSI_EPSILON) -> float:
    """Population stability index of two histograms on the same bins; empty shares become `epsilon`."""
    ref, cur = reference_counts / reference_counts.sum(), current_counts / current_counts.sum()
    ref, cur = np.where(ref == 0, epsilon, ref), np.where(cur == 0, epsilon, cur)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def js_distance(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Jensen-Shannon distance (base 2, in [0, 1]) of two histograms on the same bins."""
    return float(jensenshannon(reference_counts, current_counts, base=2))


def ks_p_value(statistic: float, n_reference: int, n_current: int) -> float:
    """Smirnov's asymptotic two-sided p-value, as `scipy.stats.ks_2samp(..., method="asymp")`."""
    m, n = sorted((float(n_reference), float(n_current)), reverse=True)
    return float(np.clip(kstwo.sf(statistic, np.round(m * n / (m + n))), 0.0, 1.0))


# --- the reference profile -------------------------------------------------------------------------------------


@dataclass
class NumericReference:
    """A numeric feature's reference: sample grid (distinct values and multiplicities), bins, spread."""

    name: str
    grid: np.ndarray  # sorted distinct values of the reference sample
    grid_counts: np.ndarray  # multiplicity of each grid value in the sample
    bin_of_cell: np.ndarray  # PSI bin of each grid cell (2k+1 cells: open interval, value, ..., open interval)
    bin_labels: list[str]
    bin_counts: np.ndarray  # full reference counts per PSI bin
    rows: int  # non-null reference values
    nulls: int
    std: float
    kind: str = "numeric"

    @property
    def sample_rows(self) -> int:
        return int(self.grid_counts.sum())

    @property
    def scale(self) -> float:
        """The power of two at or above the largest |value| of the sample (1 for an all-zero sample): sums and
        distances are computed in this unit, exactly (a power of two only moves the exponent)."""
        return scale_of(self.grid)


@dataclass
class CategoricalReference:
    name: str
    categories: list[str]
    counts: np.ndarray
    rows: int
    nulls: int
    kind: str = "categorical"


FeatureReference = NumericReference | CategoricalReference


@dataclass
class ReferenceProfile:
    """Everything the comparison needs from the reference, computed once; `save`/`load` as one .npz file."""

    features: dict[str, FeatureReference]
    source: str
    rows: int
    bins: int
    sample_size: int
    skipped: dict[str, str] = field(default_factory=dict)  # column -> why it is not compared

    def save(self, path: Path) -> Path:
        arrays: dict[str, np.ndarray] = {}
        meta: dict = {k: getattr(self, k) for k in ("source", "rows", "bins", "sample_size", "skipped")}
        meta["version"], meta["features"] = PROFILE_VERSION, []
        for index, ref in enumerate(self.features.values()):
            if isinstance(ref, NumericReference):
                entry = {"name": ref.name, "kind": ref.kind, "bin_labels": ref.bin_labels, "rows": ref.rows,
                         "nulls": ref.nulls, "std": ref.std}
                for key in ("grid", "grid_counts", "bin_of_cell", "bin_counts"):
                    arrays[f"{index}.{key}"] = getattr(ref, key)
            else:
                entry = {"name": ref.name, "kind": ref.kind, "categories": ref.categories, "rows": ref.rows,
                         "nulls": ref.nulls}
                arrays[f"{index}.counts"] = ref.counts
            meta["features"].append(entry)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            np.savez(handle, meta=np.array(json.dumps(meta)), **arrays)
        return path

    @classmethod
    def load(cls, path: Path) -> ReferenceProfile:
        """Read a saved profile; DriftInputError when it is not one (truncated, edited, another version)."""
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = ProfileMeta.model_validate_json(str(data["meta"]))
                arrays = {key: data[key] for key in data.files if key != "meta"}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:  # pydantic's error is a ValueError
            raise DriftInputError(f"{path}: not a drift reference profile ({first_line(exc)})") from None
        if meta.version != PROFILE_VERSION:
            raise DriftInputError(f"{path}: profile version {meta.version}, expected {PROFILE_VERSION}")
        features: dict[str, FeatureReference] = {}
        for index, entry in enumerate(meta.features):
            try:
                features[entry.name] = entry.reference({key.split(".", 1)[1]: a for key, a in arrays.items() if key.startswith(f"{index}.")})
            except (KeyError, ValueError, TypeError) as exc:
                raise DriftInputError(f"{path}: not a valid drift reference profile: feature '{entry.name}': {first_line(exc)}") from None
        return cls(features, meta.source, meta.rows, meta.bins, meta.sample_size, meta.skipped)


class FeatureMeta(BaseModel):
    """One feature's entry in a saved profile's metadata; `reference` checks its arrays against it."""

    model_config = ConfigDict(extra="forbid")
    name: str
    kind: Literal["numeric", "categorical"]
    rows: Annotated[int, Field(ge=0)]
    nulls: Annotated[int, Field(ge=0)]
    std: float | None = None
    bin_labels: list[str] | None = None
    categories: list[str] | None = None

    def reference(self, arrays: dict[str, np.ndarray]) -> FeatureReference:
        if self.kind == "categorical":
            counts = _integers(arrays["counts"], "counts")
            if self.categories is None or counts.shape != (len(self.categories),):
                raise ValueError("counts do not match the categories")
            return CategoricalReference(self.name, self.categories, counts, self.rows, self.nulls)
        grid = arrays["grid"]
        if grid.dtype != np.float64 or grid.ndim != 1 or grid.size == 0 or not np.isfinite(grid).all() or np.any(np.diff(grid) <= 0):
            raise ValueError("grid is not a sorted array of distinct finite numbers")
        grid_counts, bin_of_cell, bin_counts = (_integers(arrays[key], key) for key in ("grid_counts", "bin_of_cell", "bin_counts"))
        labels = self.bin_labels or []
        if grid_counts.shape != grid.shape or bin_of_cell.shape != (2 * grid.size + 1,) or bin_counts.shape != (len(labels),):
            raise ValueError("array lengths do not match the grid and the bins")
        if bin_of_cell.min() < 0 or bin_of_cell.max() >= len(labels) or self.std is None or not math.isfinite(self.std) or self.std < 0:
            raise ValueError("bins or spread out of range")
        return NumericReference(self.name, grid, grid_counts, bin_of_cell, labels, bin_counts, self.rows, self.nulls, self.std)


class ProfileMeta(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int
    source: str
    rows: Annotated[int, Field(ge=0)]
    bins: Annotated[int, Field(ge=2)]
    sample_size: Annotated[int, Field(ge=1)]
    skipped: dict[str, str]
    features: list[FeatureMeta]


def _integers(array: np.ndarray, name: str) -> np.ndarray:
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer) or (array.size and array.min() < 0):
        raise ValueError(f"{name} is not an array of counts")
    return array.astype(np.int64, copy=False)


def scale_of(values: np.ndarray) -> float:
    largest = float(np.max(np.abs(values))) if values.size else 0.0
    return float(2.0 ** math.frexp(largest)[1]) if largest > 0 else 1.0


def feature_kind(data_type: pa.DataType) -> str | None:
    """'numeric', 'categorical', or None for types drift does not compare (time, binary, nested)."""
    if pa.types.is_integer(data_type) or pa.types.is_floating(data_type) or pa.types.is_decimal(data_type):
        return "numeric"
    if (
        pa.types.is_string(data_type)
        or pa.types.is_large_string(data_type)
        or pa.types.is_boolean(data_type)
        or pa.types.is_dictionary(data_type)
    ):
        return "categorical"
    return None


def numeric_values(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Non-null, non-NaN values as float64 (nulls and NaN both count as missing)."""
    values = pc.drop_null(column)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    array = values.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    nan = np.isnan(array)
    return array[~nan] if nan.any() else array


def category_counts(column: pa.Array | pa.ChunkedArray) -> dict[str, int]:
    """Counts of each non-null category, as strings."""
    values = pc.drop_null(column)
    if not pa.types.is_string(values.type):  # dictionary, large string, boolean
        values = pc.cast(values, pa.string())
    counted = pc.value_counts(values)
    return dict(zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist()))


def _grid_cells(grid: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Cell of each value on the grid: 2*i+1 when it equals grid[i], 2*i when it lies just below grid[i].
    Callers pass sorted values: sorted keys make the binary search cache-friendly (about twice as fast)."""
    left = np.searchsorted(grid, values, side="left")
    on_grid = grid[np.minimum(left, grid.size - 1)] == values
    return 2 * left + on_grid


def numeric_reference(
    name: str, column: pa.ChunkedArray, bins: int, sample_size: int, rng: np.random.Generator
) -> NumericReference:
    """Summarise one numeric reference column: sample grid, quantile (or per-value) bins, full-data bin counts."""
    values = numeric_values(column)
    if values.size == 0:
        raise DriftInputError(f"reference column '{name}' has no values (all null); drop it or fix the data")
    if not np.isfinite(values).all():
        raise DriftInputError(f"reference column '{name}' holds infinite values; the reference must be finite")
    sample = values if values.size <= sample_size else rng.choice(values, sample_size, replace=False)
    grid, grid_counts = np.unique(sample, return_counts=True)
    cells = 2 * grid.size + 1
    if grid.size <= bins:  # discrete (or constant): one bin per reference value, one for anything else
        bin_of_cell = np.full(cells, grid.size)
        bin_of_cell[1::2] = np.arange(grid.size)
        labels = [_number(v) for v in grid] + [OTHER]
    else:
        edges = np.unique(np.quantile(sample, np.arange(1, bins) / bins, method="inverted_cdf"))
        on_grid_bin = np.searchsorted(edges, grid, side="right")
        bin_of_cell = np.empty(cells, dtype=np.int64)
        bin_of_cell[1::2] = on_grid_bin
        bin_of_cell[0], bin_of_cell[2::2] = 0, on_grid_bin  # open cell above grid[i] shares grid[i]'s bin
        bounds = ["-inf", *(_number(e) for e in edges), "+inf"]
        labels = [f"[{lo}, {hi})" for lo, hi in itertools.pairwise(bounds)]
    counts = np.bincount(_grid_cells(grid, np.sort(values)), minlength=cells)
    bin_counts = np.bincount(bin_of_cell, weights=counts, minlength=len(labels)).astype(np.int64)
    return NumericReference(
        name=name,
        grid=grid,
        grid_counts=grid_counts,
        bin_of_cell=bin_of_cell.astype(np.int64),
        bin_labels=labels,
        bin_counts=bin_counts,
        rows=int(values.size),
        nulls=int(len(column) - values.size),
        std=spread(values),
    )


def spread(values: np.ndarray) -> float:
    """The standard deviation, computed in units of a power of two so that squares of values near 1e308 do not
    overflow (`values.std()` is infinite there, which made a real shift read as a distance of 0)."""
    scale = scale_of(values)
    return float(scale * np.std(values / scale))


def categorical_reference(name: str, column: pa.ChunkedArray) -> CategoricalReference:
    counts = category_counts(column)
    if not counts:
        raise DriftInputError(f"reference column '{name}' has no values (all null); drop it or fix the data")
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    total = sum(counts.values())
    return CategoricalReference(
        name=name,
        categories=[c for c, _ in ordered],
        counts=np.array([n for _, n in ordered], dtype=np.int64),
        rows=total,
        nulls=int(len(column) - total),
    )


def _number(value: float) -> str:
    return f"{value:.6g}"


# --- reading data ----------------------------------------------------------------------------------------------


def _open_error(path: Path, exc: Exception) -> DriftInputError:
    return DriftInputError(f"cannot read {path}: {first_line(exc)}")


def read_schema(path: Path) -> pa.Schema:
    """The schema of a Parquet or CSV file, without reading its data."""
    path = Path(path)
    if not path.is_file():
        raise DriftInputError(f"cannot read {path}: no such file")
    try:
        if path.suffix == ".csv":
            with pacsv.open_csv(path) as reader:
                return reader.schema
        return pq.read_schema(path)
    except (OSError, pa.ArrowException) as exc:
        raise _open_error(path, exc) from None


def iter_batches(path: Path, columns: Sequence[str], chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[pa.RecordBatch]:
    """Stream the named columns of a Parquet (`iter_batches`) or CSV (`open_csv`) file in record batches."""
    path = Path(path)
    try:
        if path.suffix == ".csv":
            options = pacsv.ConvertOptions(include_columns=list(columns))
            reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 24), convert_options=options)
            yield from reader
        else:
            parquet = pq.ParquetFile(path, pre_buffer=False, buffer_size=PARQUET_BUFFER_BYTES)  # no whole-file buffering
            yield from parquet.iter_batches(batch_size=chunk_rows, columns=list(columns))
    except (OSError, pa.ArrowException) as exc:
        raise _open_error(path, exc) from None


def read_columns(path: Path, columns: Sequence[str]) -> Iterator[tuple[str, pa.ChunkedArray]]:
    """The named columns one at a time (Parquet reads one column per call, keeping memory to one column)."""
    path = Path(path)
    try:
        if path.suffix == ".csv":
            table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(include_columns=list(columns)))
            for name in columns:
                yield name, table.column(name)
        else:
            parquet = pq.ParquetFile(path)
            for name in columns:
                yield name, parquet.read(columns=[name]).column(0)
    except (OSError, pa.ArrowException) as exc:
        raise _open_error(path, exc) from None


def select_features(
    schema: pa.Schema, features: Sequence[str] | None = None, exclude: Sequence[str] = ()
) -> tuple[list[str], dict[str, str]]:
    """The columns to compare and, for the others, why not. Explicit `features` must be comparable."""
    skipped: dict[str, str] = {}
    if features:
        unknown = [f for f in features if f not in schema.names]
        if unknown:
            raise DriftInputError(f"reference data lacks columns: {', '.join(unknown)}")
        for name in features:
            if feature_kind(schema.field(name).type) is None:
                raise DriftInputError(f"column '{name}' has type {schema.field(name).type}; drift compares numbers and categories")
        return list(features), skipped
    selected = []
    for column in schema:
        if column.name in exclude:
            skipped[column.name] = "excluded"
        elif feature_kind(column.type) is None:
            skipped[column.name] = f"type {column.type} is not compared"
        else:
            selected.append(column.name)
    return selected, skipped


def build_profile(
    path: Path,
    features: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    bins: int = DEFAULT_BINS,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    max_categories: int = MAX_CATEGORIES,
    seed: int = 0,
) -> ReferenceProfile:
    """Summarise the reference file. Without explicit `features`, string columns with more than
    `max_categories` distinct values are identifiers, not features, and are skipped."""
    path = Path(path)
    schema = read_schema(path)
    names, skipped = select_features(schema, features, exclude)
    rng = np.random.default_rng(seed)
    profile: dict[str, FeatureReference] = {}
    rows = 0
    for name, column in read_columns(path, names):
        rows = len(column)
        if feature_kind(column.type) == "numeric":
            profile[name] = numeric_reference(name, column, bins, sample_size, rng)
            continue
        ref = categorical_reference(name, column)
        if not features and len(ref.categories) > max_categories:
            skipped[name] = f"{len(ref.categories)} distinct values: an identifier, not a category"
        else:
            profile[name] = ref
    if rows == 0 and names:
        raise DriftInputError(f"{path}: the reference data has no rows")
    if not profile:
        raise DriftInputError(f"{path}: no numeric or categorical columns to compare")
    return ReferenceProfile(profile, str(path), rows, bins, sample_size, skipped)


# --- accumulating current data ---------------------------------------------------------------------------------


class NumericAccumulator:
    """Counts per grid cell and sums of the values in each cell, added up chunk by chunk."""

    def __init__(self, ref: NumericReference):
        self.ref = ref
        cells = 2 * ref.grid.size + 1
        self.counts = np.zeros(cells, dtype=np.int64)
        self.sums = np.zeros(cells, dtype=np.float64)  # in units of ref.scale
        self.nulls = 0

    def add(self, column: pa.Array) -> None:
        values = np.sort(numeric_values(column))
        self.nulls += len(column) - values.size
        if values.size:
            cells = _grid_cells(self.ref.grid, values)
            self.counts += np.bincount(cells, minlength=self.counts.size)
            with np.errstate(over="ignore", invalid="ignore"):  # an infinite current value: W1 becomes undefined
                self.sums += np.bincount(cells, weights=values / self.ref.scale, minlength=self.sums.size)


class CategoricalAccumulator:
    def __init__(self, ref: CategoricalReference):
        self.ref = ref
        self.counts: dict[str, int] = {}
        self.nulls = 0

    def add(self, column: pa.Array) -> None:
        self.nulls += column.null_count
        for category, count in category_counts(column).items():
            self.counts[category] = self.counts.get(category, 0) + count


# --- results ---------------------------------------------------------------------------------------------------


@dataclass
class FeatureDrift:
    """One feature's comparison; metric fields that do not apply to its kind are None."""

    name: str
    kind: str
    drifted: bool
    psi: float
    jensen_shannon: float
    ks_statistic: float | None
    ks_p_value: float | None
    wasserstein: float | None
    wasserstein_error_bound: float | None
    reference_rows: int
    current_rows: int
    reference_nulls: int
    current_nulls: int
    bins: list[str]
    reference_counts: list[int]
    current_counts: list[int]
    unseen: list[str] = field(default_factory=list)
    note: str = ""
    undefined: dict[str, str] = field(default_factory=dict)  # metric -> why it is null


@dataclass
class DriftResult:
    features: list[FeatureDrift]
    drift_share: float
    dataset_drift: bool
    thresholds: dict[str, float]
    reference: str
    current: str
    current_rows: int
    skipped: dict[str, str]

    @property
    def drifted_features(self) -> list[str]:
        return [f.name for f in self.features if f.drifted]

    def to_dict(self) -> dict:
        return {"metric": DRIFT_METRIC, "drifted_features": self.drifted_features, **asdict(self)}

    def to_json(self) -> str:
        """Strict JSON (no NaN or Infinity: metrics that are not finite are already null, with their reason)."""
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"


def numeric_drift(acc: NumericAccumulator, limits: Thresholds) -> FeatureDrift:
    """Finish a numeric feature: PSI and JS on bins, exact KS and (bounded) W1 on the grid cells."""
    ref, counts = acc.ref, acc.counts
    n, m = int(counts.sum()), ref.sample_rows
    if n == 0:
        raise DriftInputError(f"current column '{ref.name}' has no values (all null)")
    current_bins = np.bincount(ref.bin_of_cell, weights=counts, minlength=len(ref.bin_labels)).astype(np.int64)
    on_grid, below = counts[1::2], counts[0::2]  # below[i]: strictly between grid[i-1] and grid[i]; below[k]: above all
    cum_cur, cum_ref = np.cumsum(below[:-1] + on_grid), np.cumsum(ref.grid_counts)
    cdf_cur, cdf_cur_below = cum_cur / n, (cum_cur - on_grid) / n  # F_current at grid[i] and just below it
    cdf_ref, cdf_ref_below = cum_ref / m, (cum_ref - ref.grid_counts) / m
    ks = float(max(np.abs(cdf_ref - cdf_cur).max(), np.abs(cdf_ref_below - cdf_cur_below).max()))

    # W1 in units of ref.scale (grid and sums alike), so that values near the float64 limit do not overflow
    unit = ref.scale
    grid, sums = ref.grid / unit, acc.sums
    with np.errstate(over="ignore", invalid="ignore"):
        tails = (below[0] * grid[0] - sums[0] + sums[-1] - below[-1] * grid[-1]) / n
        # open interval (grid[i-1], grid[i]), i = 1..k-1: reference CDF constant, current values taken at their mean
        inner, inner_sums = below[1:-1], sums[2:-2:2]
        lo, hi = grid[:-1], grid[1:]
        mean = np.where(inner > 0, inner_sums / np.maximum(inner, 1), lo)
        a, c0, c1 = cdf_ref[:-1], cdf_cur[:-1], cdf_cur_below[1:]
        w1 = tails + float(np.sum(np.abs(a - c0) * (mean - lo) + np.abs(a - c1) * (hi - mean)))
        crossing = (a - c0) * (a - c1) < 0
        bound = float(np.sum(((c1 - c0) * (hi - lo))[crossing]))
        if ref.std > 0:
            scale, note = ref.std / unit, ""
        else:  # data units: back from ref.scale's unit
            scale, note = 1.0 / unit, "constant reference: Wasserstein in data units"
        wasserstein, error_bound = float(w1 / scale), float(bound / scale)
    undefined = {}
    if not (math.isfinite(wasserstein) and math.isfinite(error_bound)):
        wasserstein = error_bound = None
        undefined["wasserstein"] = "not finite: current values lie too far beyond the reference range (or are infinite)"

    result = FeatureDrift(
        name=ref.name,
        kind="numeric",
        drifted=False,
        psi=psi(ref.bin_counts, current_bins),
        jensen_shannon=js_distance(ref.bin_counts, current_bins),
        ks_statistic=ks,
        ks_p_value=ks_p_value(ks, m, n),
        wasserstein=wasserstein,
        wasserstein_error_bound=error_bound,
        reference_rows=ref.rows,
        current_rows=n,
        reference_nulls=ref.nulls,
        current_nulls=acc.nulls,
        bins=ref.bin_labels,
        reference_counts=ref.bin_counts.tolist(),
        current_counts=current_bins.tolist(),
        note=note,
        undefined=undefined,
    )
    material = (
        result.psi > limits.psi_threshold
        or result.jensen_shannon > limits.jensen_shannon_threshold
        or (result.wasserstein is not None and result.wasserstein > limits.wasserstein_threshold)
    )
    result.drifted = bool(result.ks_p_value < limits.ks_p_value and material)
    return result


def categorical_drift(acc: CategoricalAccumulator, limits: Thresholds) -> FeatureDrift:
    ref = acc.ref
    n = sum(acc.counts.values())
    if n == 0:
        raise DriftInputError(f"current column '{ref.name}' has no values (all null)")
    known = set(ref.categories)
    unseen = sorted((c for c in acc.counts if c not in known), key=lambda c: -acc.counts[c])
    reference_counts = np.append(ref.counts, 0)
    current_counts = np.array([acc.counts.get(c, 0) for c in ref.categories] + [sum(acc.counts[c] for c in unseen)])
    result = FeatureDrift(
        name=ref.name,
        kind="categorical",
        drifted=False,
        psi=psi(reference_counts, current_counts),
        jensen_shannon=js_distance(reference_counts, current_counts),
        ks_statistic=None,
        ks_p_value=None,
        wasserstein=None,
        wasserstein_error_bound=None,
        reference_rows=ref.rows,
        current_rows=n,
        reference_nulls=ref.nulls,
        current_nulls=acc.nulls,
        bins=[*ref.categories, UNSEEN],
        reference_counts=reference_counts.tolist(),
        current_counts=current_counts.tolist(),
        unseen=unseen[:20],
    )
    result.drifted = bool(result.psi > limits.psi_threshold or result.jensen_shannon > limits.jensen_shannon_threshold)
    return result


def check_schema(profile: ReferenceProfile, schema: pa.Schema, source: str) -> None:
    """The current data must have every profiled feature, with a comparable type of the same kind."""
    missing = [name for name in profile.features if name not in schema.names]
    if missing:
        raise DriftInputError(f"{source}: current data lacks columns: {', '.join(missing)}")
    for name, ref in profile.features.items():
        kind = feature_kind(schema.field(name).type)
        if kind != ref.kind:
            found = f"{kind or 'not comparable'} ({schema.field(name).type})"
            raise DriftInputError(f"{source}: column '{name}' is {ref.kind} in the reference but {found} in the current data")


def compare_batches(
    profile: ReferenceProfile, batches: Iterable[pa.RecordBatch], limits: Thresholds, current: str = "current"
) -> DriftResult:
    """Compare streamed current data with the reference profile; memory is one batch plus the accumulators."""
    accumulators = {
        name: NumericAccumulator(ref) if isinstance(ref, NumericReference) else CategoricalAccumulator(ref)
        for name, ref in profile.features.items()
    }
    rows = 0
    for batch in batches:
        if rows == 0:
            check_schema(profile, batch.schema, current)
        rows += batch.num_rows
        for name, acc in accumulators.items():
            acc.add(batch.column(name))
    if rows == 0:
        raise DriftInputError(f"{current}: the current data has no rows")
    features = [
        numeric_drift(acc, limits) if isinstance(acc, NumericAccumulator) else categorical_drift(acc, limits)
        for acc in accumulators.values()
    ]
    share = sum(f.drifted for f in features) / len(features)
    return DriftResult(
        features=features,
        drift_share=share,
        dataset_drift=share >= limits.drift_share,
        thresholds={k: float(getattr(limits, k)) for k in Thresholds.__annotations__},
        reference=profile.source,
        current=current,
        current_rows=rows,
        skipped=profile.skipped,
    )


def compare_table(profile: ReferenceProfile, table: pa.Table, limits: Thresholds, current: str = "current") -> DriftResult:
    """The in-memory path: the whole current table as the batches of one stream."""
    check_schema(profile, table.schema, current)
    return compare_batches(profile, table.to_batches() or [pa.RecordBatch.from_pylist([], table.schema)], limits, current)


def compare_files(
    profile: ReferenceProfile, current: Path, limits: Thresholds, chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> DriftResult:
    """Compare a current Parquet/CSV file, streamed in chunks of `chunk_rows`."""
    check_schema(profile, read_schema(current), str(current))
    return compare_batches(profile, iter_batches(current, list(profile.features), chunk_rows), limits, str(current))


# --- the metric ------------------------------------------------------------------------------------------------


def appinsights_export(env: dict[str, str] | os._Environ = os.environ) -> telemetry.OneShotExport | None:
    """The drift metric's export to Application Insights when its connection string is set, else None.

    Built before the comparison, so a malformed connection string is bad input (DriftInputError) rather than a
    failure after the work."""
    connection_string = env.get(APPINSIGHTS_ENV)
    if not connection_string:
        return None
    try:
        return telemetry.OneShotExport(connection_string)
    except ValueError as exc:
        raise DriftInputError(f"{APPINSIGHTS_ENV}: {first_line(exc)}") from None


def emit_drift_metric(result: DriftResult, attributes: dict[str, str], meter_provider=None) -> str:
    """Log `DRIFT_METRIC` (the drift share) as one structured line, and record it on `meter_provider` (the
    provider of `appinsights_export`, whose `send()` exports it) when there is one. Returns where it went
    ("appinsights" or "log")."""
    record = {"metric": DRIFT_METRIC, "value": result.drift_share, "dataset_drift": result.dataset_drift,
              "drifted_features": result.drifted_features, **attributes}
    log.info(json.dumps(record, sort_keys=True, allow_nan=False))
    if meter_provider is None:
        return "log"
    gauge = meter_provider.get_meter("mlops.drift").create_gauge(
        DRIFT_METRIC, unit="1", description="share of drifted features in the last drift check"
    )
    gauge.set(result.drift_share, {k: str(v) for k, v in attributes.items()})
    return "appinsights"
