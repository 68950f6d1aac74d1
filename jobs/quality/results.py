"""Validation results: the errors, QualityResult, the JSON report of a run and the audit.dq_results rows."""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from jobs.settings import Settings, parse_date


class DataQualityError(Exception):
    """A table failed a table-level expectation (or a suite could not be used)."""


class SplitMismatchError(DataQualityError):
    """GX and the quarantine split disagree on how many rows fail a row-level expectation."""


@dataclass
class QualityResult:
    suite: str
    valid: DataFrame  # rows that passed every row-level expectation (original columns)
    quarantined: DataFrame  # failing rows: original columns + _check + _reason
    results: list[dict]  # one per expectation, see _result_dict
    success: bool  # every table-level expectation passed (row-level failures are quarantined)
    run_date: dt.date | None = None
    row_count: int = 0
    quarantined_count: int = 0
    report_path: Path | None = None
    gx_statistics: dict = field(default_factory=dict)
    checked: DataFrame | None = None  # every row: original columns + _check / _reason (NULL when it passed)

    @property
    def valid_count(self) -> int:
        return self.row_count - self.quarantined_count

    @property
    def failed_table_expectations(self) -> list[dict]:
        return [r for r in self.results if r["level"] == "table" and not r["success"]]


# -- GX results -> plain dicts --------------------------------------------------------------------
def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _exception_message(exception_info: Any) -> str | None:
    """GX reports exceptions either flat or keyed by metric id; return the first message."""
    if not isinstance(exception_info, dict):
        return None
    if exception_info.get("raised_exception"):
        return exception_info.get("exception_message") or "exception while validating"
    for value in exception_info.values():
        if isinstance(value, dict) and value.get("raised_exception"):
            return value.get("exception_message") or "exception while validating"
    return None


def _write_report(settings: Settings, result: QualityResult, sample: list, seconds: float,
                  gx_seconds: float) -> Path:
    """<dq_dir>/<suite>/<run_date>.json, replaced atomically (a re-run for the date overwrites it)."""
    import great_expectations as gx

    target = settings.dq_dir / result.suite / f"{result.run_date.isoformat()}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "suite": result.suite,
        "table": result.suite,
        "run_date": result.run_date.isoformat(),
        "validated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "success": result.success,
        "row_count": result.row_count,
        "valid_count": result.valid_count,
        "quarantined_count": result.quarantined_count,
        "failed_table_expectations": [f"{r['expectation']}({r['column']})" if r["column"] else r["expectation"]
                                      for r in result.failed_table_expectations],
        "results": result.results,
        "quarantine_sample": [_jsonable(row.asDict()) for row in sample],
        "gx_statistics": result.gx_statistics,
        "great_expectations_version": gx.__version__,
        "seconds": round(seconds, 3),
        "gx_seconds": round(gx_seconds, 3),
    }
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(report, fh, indent=2, sort_keys=False, default=str)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


DQ_RESULTS_SCHEMA = T.StructType([
    T.StructField("run_date", T.DateType(), False),
    T.StructField("table", T.StringType(), False),
    T.StructField("expectation", T.StringType(), False),
    T.StructField("column", T.StringType(), False),  # "" for table-level expectations without a column
    T.StructField("success", T.BooleanType(), False),
    T.StructField("element_count", T.LongType(), True),
    T.StructField("unexpected_count", T.LongType(), True),
    T.StructField("details", T.StringType(), True),
])


def results_rows(result: QualityResult, run_date) -> list[tuple]:
    """Rows for audit.dq_results (one per expectation), keyed by run_date, table, expectation, column."""
    day = parse_date(run_date)
    return [(day, r["table"], r["expectation"], r["column"] or "", bool(r["success"]),
             r["element_count"], r["unexpected_count"], r["details"]) for r in result.results]


def results_frame(spark: SparkSession, result: QualityResult, run_date) -> DataFrame:
    """results_rows as a DataFrame in DQ_RESULTS_SCHEMA."""
    return spark.createDataFrame(results_rows(result, run_date), DQ_RESULTS_SCHEMA)


def raise_on_failure(result: QualityResult) -> QualityResult:
    """Raise DataQualityError naming every failed table-level expectation; return the result otherwise."""
    if result.success:
        return result
    failed = [r for r in result.results if r["level"] == "table" and not r["success"]]
    lines = [
        f"  - {r['expectation']}" + (f"({r['column']})" if r["column"] else "") + f": {r['details']}"
        for r in failed
    ]
    where = f" on {result.run_date}" if result.run_date else ""
    report = f"\n  report: {result.report_path}" if result.report_path else ""
    raise DataQualityError(
        f"{result.suite} failed {len(failed)} table-level expectation(s){where}:\n" + "\n".join(lines) + report
    )
