"""The training pipeline's steps and their typed ports, declared once.

Each step is a module `pipelines.steps.<name>` with a pure core function and a thin `main(argv)` whose flags
are the port names (`--features`, `--n_estimators`). This table is the single source for the Azure ML
command components (`pipelines.aml`) and for the local runner (`pipelines.runner`); both wire ports by name:
an input takes the output of the same name from an earlier step, or a pipeline parameter.
Importing this module is cheap (no ML libraries), so `pipeline show` stays fast.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.sections import TrainingConfig

FILE_TYPES = ("uri_file", "uri_folder", "mlflow_model")


@dataclass(frozen=True)
class Port:
    name: str
    type: str  # an Azure ML input/output type: uri_file, uri_folder, mlflow_model, string, integer, number
    description: str = ""
    optional: bool = False  # an input that may be absent (Azure ML: `optional: true`, its flag inside $[[ ]])

    @property
    def is_path(self) -> bool:
        return self.type in FILE_TYPES


@dataclass(frozen=True)
class Step:
    name: str
    description: str
    inputs: tuple[Port, ...]
    outputs: tuple[Port, ...]
    deterministic: bool = True  # False: reads or writes the registry, so Azure ML must never reuse a cached result
    tracked: bool = True  # logs to MLflow; the local runner opens its MLflow run only before the first such step

    @property
    def module_name(self) -> str:
        return f"{__name__}.{self.name}"

    def module(self) -> ModuleType:
        return importlib.import_module(self.module_name)


HISTORY = Port("history", "uri_file", "telemetry history as CSV or Parquet (the lake's raw zone)")
PREDICTIONS = Port("predictions", "uri_folder", "collected predictions (the lake's predictions zone)", optional=True)
LABELS = Port("labels", "uri_folder", "labels that arrived for them (the lake's labels zone)", optional=True)
RECENT_WINDOW = Port("recent_window", "string", "training.recentWindow (e.g. 14d), or 'none'")
DATA = Port("data", "uri_folder", "the training data: the history plus the recent labelled predictions, as Parquet")
VALIDATION_RESULT = Port("validation_result", "uri_folder", "Great Expectations validation result (JSON)")
FEATURES = Port("features", "uri_folder", "train/test features as Parquet and the data version")
MODEL = Port("model", "mlflow_model", "the trained scikit-learn model in MLflow format")
METRICS = Port("metrics", "uri_folder", "evaluation metrics (JSON)")
VERDICT = Port("verdict", "uri_folder", "the gate's verdict with reasons (JSON)")
REGISTERED = Port("registered", "uri_folder", "the registered model name and version (JSON)")
LIVE_MODEL = Port("live_model", "mlflow_model", "the stack's live model (stack output liveModel), the gate's baseline", optional=True)
LIVE_VERSION = Port("live_version", "string", "NAME:VERSION of the live model, or 'none': compare with the registry's production alias only locally")

STEPS: tuple[Step, ...] = (
    # Not deterministic: the window ends now and the zones under the same paths keep filling (never reuse a result).
    Step("gather", "Append the recent window's labelled predictions to the history.", (HISTORY, PREDICTIONS, LABELS, RECENT_WINDOW), (DATA,),
         deterministic=False, tracked=False),
    Step("validate", "Check the telemetry against the schema (Great Expectations).", (DATA,), (VALIDATION_RESULT,), tracked=False),
    Step("prep", "Select features, split train/test, hash the input as data version.", (DATA, VALIDATION_RESULT), (FEATURES,), tracked=False),
    Step(
        "train",
        "Fit the random forest with the stack's hyper-parameters.",
        (FEATURES, Port("n_estimators", "integer"), Port("max_depth", "integer")),
        (MODEL,),
    ),
    Step("evaluate", "AUC, precision, recall and confusion matrix on the test split.", (MODEL, FEATURES), (METRICS,)),
    Step(
        "gate",
        "Refuse a model below the minimum AUC or worse than production by more than the margin.",
        (METRICS, FEATURES, Port("min_auc", "number"), Port("max_auc_regression", "number"), LIVE_MODEL, LIVE_VERSION),
        (VERDICT,),
        deterministic=False,
    ),
    Step(
        "register",
        "Register the model in MLflow with signature, input example and lineage tags.",
        (MODEL, FEATURES, METRICS, VERDICT, Port("stack", "string"), Port("git_commit", "string")),
        (REGISTERED,),
        deterministic=False,
    ),
)

PARAMETERS: tuple[str, ...] = tuple(
    dict.fromkeys(p.name for step in STEPS for p in step.inputs if not p.is_path)
)
"""Pipeline parameters: the non-path inputs, given by the caller (from the stack config and the checkout)."""


def step(name: str) -> Step:
    return next(s for s in STEPS if s.name == name)


NOT_SET = "none"  # a string parameter's "nothing given" (recent_window, live_version): Azure ML parameters are strings
LOCAL_BASELINE = "registry"  # live_version of a local run: the gate compares with the local registry's production alias


def pipeline_parameters(
    environment: str, training: TrainingConfig, git_commit: str, live_model: str | None = LOCAL_BASELINE
) -> dict[str, object]:
    """Values of every pipeline parameter: the stack's training config, the stack name, the source commit, and the
    live model the gate compares with (an Azure ML run: stack output liveModel, or "none" before the first one)."""
    values: dict[str, object] = {
        "recent_window": training.recent_window or NOT_SET,
        "live_version": live_model or NOT_SET,
        "n_estimators": training.n_estimators,
        "max_depth": training.max_depth,
        "min_auc": training.min_auc,
        "max_auc_regression": training.max_auc_regression,
        "stack": environment,
        "git_commit": git_commit,
    }
    assert set(values) == set(PARAMETERS), "pipeline parameters and step ports disagree"
    return values
