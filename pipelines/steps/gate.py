"""gate: let a model through only if it is good enough and not worse than the one in production.

Two rules, both from the stack config (`training.minAuc`, `training.maxAucRegression`): the candidate's AUC
is at least the minimum, and it is not below the production model's AUC by more than the margin. The
production model is re-scored on the candidate's test split, so both AUCs are measured on the same rows.
Which model is "production" (`--live_version`): in Azure ML the stack's live model, the deployment with the most
traffic (stack output liveModel, mounted from the shared registry as `--live_model`; "none" before the first
deployment); locally ("registry") the local MLflow registry's `production` alias, which `promote --complete` on prod
moves. Azure ML's registry is not asked for an alias: the stack config says what is live.
Every number the gate reads must be finite: an undefined AUC (a test split with one class) or a NaN
threshold refuses, naming the number and why, since any comparison with NaN is false and would let it through.
A failed gate is a refusal (exit 1); nothing after it runs, so the registry stays untouched.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import mlflow.sklearn
import pandas as pd

from core.errors import BadInput, Refused
from pipelines.registry import MODEL_NAME, PRODUCTION_ALIAS, production_version
from pipelines.sample_data import LABEL
from pipelines.steps import LOCAL_BASELINE, NOT_SET, step
from pipelines.steps.common import read_features, read_json, step_main, write_json
from pipelines.steps.evaluate import evaluate_model

STEP = step("gate")


NOT_FINITE = "it is not a finite number"


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reasons: list[str]
    candidate_auc: float | None
    min_auc: float
    max_auc_regression: float
    production_version: str | None = None
    production_auc: float | None = None


def _finite(value: float | None) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def decide(
    candidate_auc: float | None,
    min_auc: float,
    max_auc_regression: float,
    production_auc: float | None = None,
    production_version: str | None = None,
    why_undefined: str = NOT_FINITE,
) -> Verdict:
    """The verdict and a reason per rule, passed or not. A number that is not finite refuses the model.

    `why_undefined` says why an AUC may be undefined (e.g. "the test split has one class").
    """
    numbers = {
        "the candidate's AUC": (candidate_auc, why_undefined),
        "training.minAuc": (min_auc, NOT_FINITE),
        "training.maxAucRegression": (max_auc_regression, NOT_FINITE),
    }
    if production_version is not None:
        numbers[f"production version {production_version}'s AUC"] = (production_auc, why_undefined)
    undefined = [
        f"{name} is {'undefined' if value is None else value}: {why}"
        for name, (value, why) in numbers.items()
        if not _finite(value)
    ]
    if undefined:
        reasons = [f"{problem}; the gate cannot compare it" for problem in undefined]
        return Verdict(False, reasons, candidate_auc, min_auc, max_auc_regression, production_version, production_auc)
    reasons, passed = [], True
    if candidate_auc < min_auc:
        passed = False
        reasons.append(f"AUC {candidate_auc:.4f} is below the minimum {min_auc:.4f} (training.minAuc)")
    else:
        reasons.append(f"AUC {candidate_auc:.4f} meets the minimum {min_auc:.4f}")
    if production_auc is None:
        reasons.append("no production model to compare with")
    elif candidate_auc < production_auc - max_auc_regression:
        passed = False
        reasons.append(
            f"AUC {candidate_auc:.4f} is {production_auc - candidate_auc:.4f} below production version "
            f"{production_version} ({production_auc:.4f}), more than the allowed {max_auc_regression:.4f} "
            "(training.maxAucRegression)"
        )
    else:
        reasons.append(
            f"AUC {candidate_auc:.4f} is within {max_auc_regression:.4f} of production version "
            f"{production_version} ({production_auc:.4f})"
        )
    return Verdict(passed, reasons, candidate_auc, min_auc, max_auc_regression, production_version, production_auc)


def score_production(test: pd.DataFrame) -> tuple[str | None, float | None]:
    """The production version and its AUC on `test`, or (None, None) when nothing is in production."""
    version = production_version()
    if version is None:
        return None, None
    model = mlflow.sklearn.load_model(f"models:/{MODEL_NAME}@{PRODUCTION_ALIAS}")
    return str(version.version), evaluate_model(model, test).auc


def score_baseline(args: argparse.Namespace, test: pd.DataFrame) -> tuple[str | None, float | None]:
    """The version the candidate is compared with and its AUC on `test` (see the module's docstring)."""
    if args.live_version == LOCAL_BASELINE:
        return score_production(test)
    if args.live_version == NOT_SET:
        return None, None
    if args.live_model is None:
        raise BadInput(f"--live_model: missing; --live_version names the live model {args.live_version}")
    if not (Path(args.live_model) / "MLmodel").is_file():
        raise BadInput(f"--live_model: {args.live_model} is not an MLflow model folder (no MLmodel file)")
    model = mlflow.sklearn.load_model(str(args.live_model))
    return args.live_version.rpartition(":")[2], evaluate_model(model, test).auc


def why_auc_undefined(test: pd.DataFrame) -> str:
    """Why an AUC on this test split would be undefined: one class only, or (else) not a number."""
    classes = sorted(test[LABEL].unique().tolist())
    return f"the test split has one class (only label {classes[0]})" if len(classes) == 1 else NOT_FINITE


def run(args: argparse.Namespace) -> Verdict:
    _, test, _ = read_features(args.features)
    version, auc = score_baseline(args, test)
    candidate = read_json(args.metrics, "metrics").get("auc")
    verdict = decide(candidate, args.min_auc, args.max_auc_regression, auc, version, why_auc_undefined(test))
    write_json(args.verdict, "verdict", asdict(verdict))
    if not verdict.passed:
        raise Refused(f"evaluation gate: {'; '.join(verdict.reasons)}")
    return verdict


def main(argv: Sequence[str] | None = None) -> int:
    return step_main(STEP, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
