"""validate: check telemetry against the schema with a Great Expectations suite; save the result; fail on violations.

The suite is generated from `sample_data.SCHEMA`: required columns, minimum rows, dtypes, no nulls, ranges,
allowed values, unique event ids, timestamp window, both label classes present, and enough rows of each class
for the evaluation split (`prep.MIN_ROWS_PER_CLASS`). Any failed expectation is bad input (exit 2); the message
names the expectation and the column.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import great_expectations as gx
import great_expectations.expectations as gxe
import pandas as pd
from great_expectations.core.expectation_validation_result import ExpectationValidationResult
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)

from core.errors import BadInput
from pipelines.sample_data import LABEL, SCHEMA, ColumnSpec
from pipelines.steps import step
from pipelines.steps.common import read_table, step_main, write_json
from pipelines.steps.prep import MIN_ROWS_PER_CLASS, SPLIT_RULE

STEP = step("validate")
MIN_ROWS = 100  # fewer rows give a test split too small for a meaningful AUC
MAX_REPORTED = 5

_DTYPE_CHECKS = {
    "str": lambda d: isinstance(d, pd.StringDtype),
    "datetime_utc": lambda d: isinstance(d, pd.DatetimeTZDtype) and str(d.tz) == "UTC",
    "float": pd.api.types.is_float_dtype,
    "int": lambda d: pd.api.types.is_integer_dtype(d) and not pd.api.types.is_bool_dtype(d),
}
_DTYPES_BY_KIND = {
    "string": ["str"],
    "category": ["str"],
    "timestamp": ["datetime_utc"],
    "float": ["float", "int"],
    "label": ["int"],
}


class ExpectColumnToHaveDtype(gxe.ExpectColumnValuesToBeInTypeList):
    """expect_column_values_to_be_in_type_list, with pandas' own dtype tests for typed columns.

    GE 1.x compares a column's dtype with numpy type names only, so the pandas 3 string dtype and tz-aware
    timestamps never match any name. Object columns still go through GE's per-value check.
    """

    def _validate_pandas(self, actual_column_type: Any, expected_types_list: list[str] | None) -> dict:
        success = any(_DTYPE_CHECKS[name](actual_column_type) for name in expected_types_list or ())
        return {"success": success, "result": {"observed_value": str(actual_column_type)}}


def column_expectations(name: str, spec: ColumnSpec) -> list[gxe.Expectation]:
    expectations: list[gxe.Expectation] = [
        ExpectColumnToHaveDtype(column=name, type_list=_DTYPES_BY_KIND[spec.kind]),
        gxe.ExpectColumnValuesToNotBeNull(column=name),
    ]
    if spec.allowed is not None:
        expectations.append(gxe.ExpectColumnValuesToBeInSet(column=name, value_set=list(spec.allowed)))
    if spec.min_value is not None:
        expectations.append(gxe.ExpectColumnValuesToBeBetween(column=name, min_value=spec.min_value, max_value=spec.max_value))
    if spec.unique:
        expectations.append(gxe.ExpectColumnValuesToBeUnique(column=name))
    return expectations


def label_split_expectation(rows: int) -> gxe.Expectation:
    """The label is 0/1, so its sum is the positives and rows minus it the negatives: both at least the minimum."""
    return gxe.ExpectColumnSumToBeBetween(
        column=LABEL, min_value=MIN_ROWS_PER_CLASS, max_value=rows - MIN_ROWS_PER_CLASS, description=SPLIT_RULE
    )


def build_suite(rows: int) -> gx.ExpectationSuite:
    suite = gx.ExpectationSuite(name="telemetry")
    for expectation in [
        gxe.ExpectTableColumnsToMatchSet(column_set=list(SCHEMA), exact_match=False),
        gxe.ExpectTableRowCountToBeBetween(min_value=MIN_ROWS),
        gxe.ExpectColumnDistinctValuesToContainSet(column=LABEL, value_set=list(SCHEMA[LABEL].allowed)),
        label_split_expectation(rows),
        *(e for name, spec in SCHEMA.items() for e in column_expectations(name, spec)),
    ]:
        suite.add_expectation(expectation)
    return suite


@dataclass(frozen=True)
class ValidationReport:
    success: bool
    failures: list[str]  # one line per failed expectation, causes first
    result: dict  # the Great Expectations validation result, JSON-ready

    def message(self) -> str:
        shown = "; ".join(self.failures[:MAX_REPORTED])
        more = len(self.failures) - MAX_REPORTED
        return f"validation failed: {shown}" + (f" (and {more} more)" if more > 0 else "")


def validate_frame(frame: pd.DataFrame) -> ValidationReport:
    """Run the suite on a DataFrame in an in-memory GE context (nothing written, no analytics, no progress bars)."""
    context = gx.get_context(
        mode="ephemeral",
        project_config=DataContextConfig(
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False),
            store_backend_defaults=InMemoryStoreBackendDefaults(),
        ),
    )
    batch = context.data_sources.add_pandas("telemetry").add_dataframe_asset("events").add_batch_definition_whole_dataframe("all")
    definition = gx.ValidationDefinition(name="telemetry", data=batch, suite=context.suites.add(build_suite(len(frame))))
    result = context.validation_definitions.add(definition).run(batch_parameters={"dataframe": frame})
    return ValidationReport(success=result.success, failures=_failures(result.results), result=result.to_json_dict())


def _failures(results: list[ExpectationValidationResult]) -> list[str]:
    """Failed expectations as lines; checks on a missing or wrongly typed column are left out (their cause is listed)."""
    failed = [r for r in results if not r.success]
    missing = {c for r in failed for c in (r.result.get("details") or {}).get("mismatched", {}).get("missing", [])}
    mistyped = {_column(r) for r in failed if r.expectation_config.type == "expect_column_to_have_dtype"}
    lines = []
    for r in sorted(failed, key=_cause_first):
        column = _column(r)
        if column in missing or (column in mistyped and r.expectation_config.type != "expect_column_to_have_dtype"):
            continue
        lines.append(f"{r.expectation_config.type}({column or 'table'}): {_detail(r)}")
    return lines


def _column(r: ExpectationValidationResult) -> str | None:
    return r.expectation_config.kwargs.get("column")


def _cause_first(r: ExpectationValidationResult) -> int:
    order = ("expect_table_columns_to_match_set", "expect_table_row_count_to_be_between", "expect_column_to_have_dtype")
    return order.index(r.expectation_config.type) if r.expectation_config.type in order else len(order)


def _detail(r: ExpectationValidationResult) -> str:
    result = r.result or {}
    missing = (result.get("details") or {}).get("mismatched", {}).get("missing")
    if missing:
        return f"missing column(s) {', '.join(missing)}"
    if result.get("partial_missing_list"):
        return f"expected value(s) absent: {', '.join(repr(v) for v in result['partial_missing_list'])}"
    if result.get("unexpected_count"):
        examples = ", ".join(repr(v) for v in result.get("partial_unexpected_list", [])[:3])
        return f"{result['unexpected_count']} of {result['element_count']} values unexpected (e.g. {examples})"
    if r.exception_info and r.exception_info.get("raised_exception"):
        return f"could not run: {r.exception_info.get('exception_message')}"
    observed = result.get("observed_value")
    observed = observed.item() if hasattr(observed, "item") else observed  # a numpy scalar as its Python value
    why = f"; {r.expectation_config.description}" if r.expectation_config.description else ""
    return f"observed {observed!r}{why}"


def run(args: argparse.Namespace) -> ValidationReport:
    """Validate `--data`, write `--validation_result`, raise BadInput naming the failed expectations."""
    report = validate_frame(read_table(args.data))
    saved = write_json(args.validation_result, "validation_result", report.result)
    if not report.success:
        raise BadInput(f"{args.data}: {report.message()} (full result: {saved})")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    return step_main(STEP, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
