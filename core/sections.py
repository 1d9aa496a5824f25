"""Config sections read outside the Pulumi program, free of pulumi and components/: the base every config section
shares, the training section, which the retrain function (from its app settings) and the pipeline steps read, and
the drift section, which the scheduled monitor job reads (from its environment).

`core.config` builds the whole stack model on these and re-exports `TrainingConfig` and `DriftConfig`.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class Section(BaseModel):
    """A config section: camelCase keys as in the stack file, no unknown keys, immutable."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


# A time window in hours or days ("24h", "7d"): the monitor's windows, in the stack config and on its command line.
WINDOW = re.compile(r"[1-9][0-9]{0,3}[hd]")
Window = Annotated[str, Field(pattern=f"^{WINDOW.pattern}$")]


def window_hours(window: str) -> int:
    """'24h' -> 24, '7d' -> 168."""
    return int(window[:-1]) * (24 if window.endswith("d") else 1)


class TrainingConfig(Section):
    """Hyper-parameters and the evaluation gate of the training pipeline."""

    n_estimators: Annotated[int, Field(ge=10, le=2000)] = 200
    max_depth: Annotated[int, Field(ge=1, le=64)] = 8
    min_auc: Annotated[float, Field(ge=0.5, le=1.0)] = 0.80
    max_auc_regression: Annotated[float, Field(ge=0.0, le=0.5)] = 0.02
    # The labelled predictions of this window (e.g. "14d") join the history in Azure ML runs (pipelines/steps/gather.py).
    recent_window: Window | None = None


class DriftConfig(Section):
    """Per-feature thresholds and the dataset verdict of drift monitoring."""

    psi_threshold: Annotated[float, Field(gt=0, le=10)] = 0.2
    ks_p_value: Annotated[float, Field(gt=0, lt=1)] = 0.01
    jensen_shannon_threshold: Annotated[float, Field(gt=0, le=1)] = 0.1
    wasserstein_threshold: Annotated[float, Field(gt=0, le=10)] = 0.1
    drift_share: Annotated[float, Field(gt=0, le=1)] = 0.3
