"""Config sections read outside the Pulumi program, free of pulumi and components/: the base every config section
shares and the training section, which the retrain function (from its app settings) and the pipeline steps read.

`stacks.config` builds the whole stack model on these and re-exports `TrainingConfig`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class Section(BaseModel):
    """A config section: camelCase keys as in the stack file, no unknown keys, immutable."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class TrainingConfig(Section):
    """Hyper-parameters and the evaluation gate of the training pipeline."""

    n_estimators: Annotated[int, Field(ge=10, le=2000)] = 200
    max_depth: Annotated[int, Field(ge=1, le=64)] = 8
    min_auc: Annotated[float, Field(ge=0.5, le=1.0)] = 0.80
    max_auc_regression: Annotated[float, Field(ge=0.0, le=0.5)] = 0.02
