"""Data quality: run a Great Expectations suite on a DataFrame -> valid rows, quarantined rows, kept results.

One suite per validated table, kept as GX 1.x JSON in `expectations/<table>.json` (see
expectations/README.md). The same suite drives two things:

1. **The split.** Every row-level expectation (a GX "column map" expectation: not null, between, in set,
   regex, unique, compound unique, ...) is translated into a Spark column predicate. A row that fails
   one or more of them goes to `quarantined` once, with `_check` (the expectation id, e.g.
   `expect_column_values_to_be_between(amount)`) and `_reason` in plain words (`amount must be >= 0,
   got -12.5`), several joined with "; ". Every other row goes to `valid`. Nothing is dropped: valid +
   quarantined = input, and it is checked. (`_check` / `_reason` are the quarantine columns of every
   layer: bronze quarantine puts the landing-contract rule ids in the same `_check` column.)
2. **The real GX validation** of the whole input DataFrame (spark data source, whole-dataframe batch;
   it works over Spark Connect, e.g. on the embedded Sail engine). Table-level expectations (row count,
   columns present, aggregates) decide `success`; row-level failures are quarantined, not fatal.
   GX's unexpected_count of every row-level expectation must agree with the split, or
   `SplitMismatchError` is raised (the translation and GX disagree: a bug, never a silent difference).

Uniqueness: GX counts *every* occurrence of a duplicated value as unexpected. The split keeps the first
occurrence and quarantines the others, "first" by a stable order that does not depend on how the input
was partitioned: the columns listed in the expectation's `meta.keep_first_by` (if any), then every
column of the frame in frame order, ascending, nulls first. So for a value seen n > 1 times the split
quarantines n - 1 rows, GX reports n, and the consistency check compares GX with "rows whose value is
duplicated" (all n), not with the quarantined count.

Every validation is also written to `<settings.dq_dir>/<suite>/<run_date>.json` (overwritten when the
same date runs again) and `results_frame` turns it into rows for `audit.dq_results`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.resources import resource_dir
from jobs.settings import Settings, parse_date

if TYPE_CHECKING:  # GX takes ~9 s to import; only pay for it when a suite is used
    from great_expectations.core import ExpectationSuite

log = logging.getLogger(__name__)

EXPECTATIONS_DIR = resource_dir("expectations")  # the packaged copy when installed from a wheel
# The quarantine layout of every layer: the failed checks' ids ("; "-joined) and the reasons in words.
CHECK_COLUMN = "_check"
REASON_COLUMN = "_reason"
_INTERNAL_PREFIX = "__dq_"
_INDEX_META_KEY = "_marketofone_index"  # tags each expectation so GX results map back to it
SAMPLE_ROWS = 20  # quarantined rows kept in the JSON report, so the "why" is visible without Spark

# Row-level expectation types the split knows how to turn into a Spark predicate.
ROW_LEVEL_TYPES = (
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_null",
    "expect_column_values_to_be_between",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_not_be_in_set",
    "expect_column_values_to_match_regex",
    "expect_column_values_to_not_match_regex",
    "expect_column_value_lengths_to_be_between",
    "expect_column_value_lengths_to_equal",
    "expect_column_values_to_be_unique",
    "expect_compound_columns_to_be_unique",
)
# kwargs of a row-level expectation the split understands (others would change which rows fail)
_ROW_KWARGS = {"column", "mostly", "min_value", "max_value", "strict_min", "strict_max", "value_set",
               "regex", "value", "result_format", "catch_exceptions", "include_config", "meta",
               "column_list", "ignore_row_if"}


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


# -- Great Expectations, loaded lazily and kept quiet ------------------------------------------------
_gx_lock = threading.Lock()
_gx_context = None
_DATASOURCE = "marketofone_spark"


def _quiet_gx_logging() -> None:
    # GX logs its temporary docs directory at INFO on every context; only warnings matter here.
    for name in ("great_expectations", "great_expectations.data_context.types.base"):
        gx_logger = logging.getLogger(name)
        if gx_logger.level < logging.WARNING:
            gx_logger.setLevel(logging.WARNING)


def _context():
    """One ephemeral GX context per process (nothing written by GX itself), progress bars off."""
    global _gx_context
    with _gx_lock:
        if _gx_context is None:
            _quiet_gx_logging()
            import great_expectations as gx
            from great_expectations.data_context.types.base import ProgressBarsConfig

            _quiet_gx_logging()  # again: importing GX resets its loggers
            context = gx.get_context(mode="ephemeral")
            context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
            # persist=False: GX would otherwise call df.persist(), a no-op warning on Sail and a
            # needless cache elsewhere.
            context.data_sources.add_spark(name=_DATASOURCE, persist=False)
            _gx_context = context
        return _gx_context


def _batch_definition(asset_name: str):
    context = _context()
    with _gx_lock:
        datasource = context.data_sources.get(_DATASOURCE)
        try:
            asset = datasource.get_asset(asset_name)
        except LookupError:
            asset = datasource.add_dataframe_asset(name=asset_name)
        try:
            return asset.get_batch_definition("whole_dataframe")
        except KeyError:
            return asset.add_batch_definition_whole_dataframe("whole_dataframe")


# -- suites ------------------------------------------------------------------------------------------
def suite_path(name: str, directory: Path | None = None) -> Path:
    return Path(directory or EXPECTATIONS_DIR) / f"{name}.json"


def available_suites(directory: Path | None = None) -> list[str]:
    return sorted(p.name[: -len(".json")] for p in Path(directory or EXPECTATIONS_DIR).glob("*.json"))


def load_suite(name: str, directory: Path | None = None) -> ExpectationSuite:
    """Load expectations/<name>.json as a GX ExpectationSuite; a clear error if it is missing or unusable."""
    path = suite_path(name, directory)
    if not path.is_file():
        known = ", ".join(available_suites(directory)) or "none"
        raise DataQualityError(f"no expectation suite {name!r} (expected {path}); known suites: {known}")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataQualityError(f"expectation suite {path} is not valid JSON: {exc}") from exc
    if data.get("name") != name:
        raise DataQualityError(f"expectation suite {path} is named {data.get('name')!r}; expected {name!r}")
    _quiet_gx_logging()
    from great_expectations.core import ExpectationSuite

    try:
        suite = ExpectationSuite(
            name=data["name"],
            expectations=data.get("expectations", []),
            meta=data.get("meta") or None,
            notes=data.get("notes"),
        )
    except Exception as exc:  # GX raises several pydantic/config error types
        raise DataQualityError(f"expectation suite {path} does not load in Great Expectations: {exc}") from exc
    _rules(suite)  # fail now, not mid-run, if a row-level expectation cannot drive the split
    return suite


@dataclass(frozen=True)
class _Rule:
    index: int
    type: str
    kwargs: dict  # as GX parsed them (e.g. date strings become dates)
    meta: dict
    row_level: bool
    pii: bool = False  # on a raw PII column: results and reasons never repeat its values

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column the expectation reads (one, or a compound key's list, or none)."""
        if self.kwargs.get("column_list"):
            return tuple(self.kwargs["column_list"])
        return (self.kwargs["column"],) if self.kwargs.get("column") else ()

    @property
    def column(self) -> str:
        """The column as shown and keyed in the results: `amount`, or `silo, account_id` for a compound key."""
        return ", ".join(self.columns)

    @property
    def label(self) -> str:
        return f"{self.type}({self.column})" if self.column else self.type


def pii_columns_of(suite: ExpectationSuite) -> list[str]:
    """The suite's `meta.pii_columns`: raw personal data (bronze). Their values stay in the table and its
    quarantine; the results, audit.dq_results and the JSON report never show them."""
    return list((suite.meta or {}).get("pii_columns") or [])


def _rules(suite: ExpectationSuite) -> list[_Rule]:
    from great_expectations.expectations.expectation import (
        ColumnMapExpectation,
        ColumnPairMapExpectation,
        MulticolumnMapExpectation,
    )

    pii_columns = set(pii_columns_of(suite))
    rules = []
    for i, expectation in enumerate(suite.expectations):
        config = expectation.configuration
        kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
        row_level = isinstance(expectation, (ColumnMapExpectation, ColumnPairMapExpectation,
                                             MulticolumnMapExpectation))
        if row_level:
            if config.type not in ROW_LEVEL_TYPES:
                raise DataQualityError(
                    f"suite {suite.name}: row-level expectation {config.type} has no quarantine predicate; "
                    f"supported row-level types: {', '.join(ROW_LEVEL_TYPES)}"
                )
            unknown = sorted(k for k, v in kwargs.items() if k not in _ROW_KWARGS and v is not None)
            if unknown:
                raise DataQualityError(
                    f"suite {suite.name}: {config.type}({kwargs.get('column') or kwargs.get('column_list')}) "
                    f"uses {', '.join(unknown)}, "
                    "which the quarantine split does not support"
                )
            if config.type.endswith("_to_be_between") and kwargs.get("min_value") is None \
                    and kwargs.get("max_value") is None:
                raise DataQualityError(f"suite {suite.name}: {config.type}({kwargs.get('column')}) "
                                       "needs min_value or max_value")
        meta = dict(config.meta or {})
        rule = _Rule(i, config.type, kwargs, meta, row_level)
        if meta.get("pii") or pii_columns.intersection(rule.columns):
            rule = _Rule(i, config.type, kwargs, meta, row_level, pii=True)
        rules.append(rule)
    return rules


def _indexed_suite(suite: ExpectationSuite) -> ExpectationSuite:
    """A copy of the suite whose expectations carry their position in `meta` (GX returns results in
    its own order and normalizes kwargs, so position is the only reliable way back)."""
    from great_expectations.core import ExpectationSuite

    expectations = []
    for i, expectation in enumerate(suite.expectations):
        config = expectation.configuration.to_json_dict()
        config.pop("id", None)
        config["meta"] = {**(config.get("meta") or {}), _INDEX_META_KEY: i}
        expectations.append(config)
    return ExpectationSuite(name=suite.name, expectations=expectations)


# -- the split: row-level expectations as Spark predicates ---------------------------------------
def _q(name: str) -> Column:
    return F.col("`" + name.replace("`", "``") + "`")


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def _describe(rule: _Rule) -> str:
    """The rule in plain words, e.g. 'amount must be >= 0', followed by the expectation's `meta.reason`
    in brackets when the suite gives one (e.g. why a null customer_id means an orphan)."""
    text = _plain_words(rule)
    hint = rule.meta.get("reason")
    return f"{text} ({hint})" if hint else text


def _plain_words(rule: _Rule) -> str:
    k, c = rule.kwargs, rule.column
    t = rule.type
    lo, hi = k.get("min_value"), k.get("max_value")

    def bounds(subject: str) -> str:
        lo_op = ">" if k.get("strict_min") else ">="
        hi_op = "<" if k.get("strict_max") else "<="
        if lo is not None and hi is not None:
            if not k.get("strict_min") and not k.get("strict_max"):
                return f"{subject} must be between {_text(lo)} and {_text(hi)}"
            return f"{subject} must be {lo_op} {_text(lo)} and {hi_op} {_text(hi)}"
        if lo is not None:
            return f"{subject} must be {lo_op} {_text(lo)}"
        return f"{subject} must be {hi_op} {_text(hi)}"

    if t == "expect_column_values_to_not_be_null":
        return f"{c} must not be null"
    if t == "expect_column_values_to_be_null":
        return f"{c} must be null"
    if t == "expect_column_values_to_be_between":
        return bounds(c)
    if t == "expect_column_value_lengths_to_be_between":
        return bounds(f"length of {c}")
    if t == "expect_column_value_lengths_to_equal":
        return f"length of {c} must be {k.get('value')}"
    if t == "expect_column_values_to_be_in_set":
        return f"{c} must be one of {', '.join(_text(v) for v in k.get('value_set') or [])}"
    if t == "expect_column_values_to_not_be_in_set":
        return f"{c} must not be one of {', '.join(_text(v) for v in k.get('value_set') or [])}"
    if t == "expect_column_values_to_match_regex":
        return f"{c} must match /{k.get('regex')}/"
    if t == "expect_column_values_to_not_match_regex":
        return f"{c} must not match /{k.get('regex')}/"
    if t == "expect_column_values_to_be_unique":
        return f"{c} must be unique"
    if t == "expect_compound_columns_to_be_unique":
        return f"({c}) must be unique together"
    if t == "expect_table_row_count_to_be_between":
        return bounds("row count")
    if t == "expect_table_row_count_to_equal":
        return f"row count must be {k.get('value')}"
    if t == "expect_column_to_exist":
        return f"column {c} must exist"
    if t == "expect_table_columns_to_match_set":
        cols = ", ".join(k.get("column_set") or [])
        return f"columns must be exactly {cols}" if k.get("exact_match", True) else f"columns must include {cols}"
    if t == "expect_table_columns_to_match_ordered_list":
        return f"columns must be, in order, {', '.join(k.get('column_list') or [])}"
    shown = ", ".join(f"{key}={_text(v)}" for key, v in k.items() if v is not None)
    return f"{t}({shown})"


_UNORDERABLE = tuple(t for t in (getattr(T, "MapType", None), getattr(T, "VariantType", None)) if t)


def _orderable(data_type: T.DataType) -> bool:
    """Maps (and variants) cannot be sorted; they are left out of the uniqueness tie-break order."""
    return not isinstance(data_type, _UNORDERABLE)


@dataclass
class _Predicate:
    gx_fail: Column  # rows GX counts as unexpected
    quarantine: Column  # rows the split quarantines (differs from gx_fail only for uniqueness)
    reason: Column


def _shown(name: str, types: dict[str, T.DataType]) -> Column:
    """A value as text for a reason: strings quoted, so an empty or padded value is visible."""
    shown = _q(name).cast("string")
    if isinstance(types[name], (T.StringType, T.VarcharType, T.CharType)):
        shown = F.concat(F.lit("'"), shown, F.lit("'"))
    return shown


def _keep_first_order(rule: _Rule, types: dict[str, T.DataType]) -> list[Column]:
    """Which of several equal values is "first": meta.keep_first_by, then every input column (in frame
    order; not the split's own helper columns), ascending, nulls first."""
    keep_first_by = [x for x in rule.meta.get("keep_first_by", []) if x in types]
    return [F.asc_nulls_first(_q(x)) for x in keep_first_by] + [
        F.asc_nulls_first(_q(x)) for x, data_type in types.items() if x not in keep_first_by and _orderable(data_type)
    ]


def _compound_unique(rule: _Rule, df: DataFrame, types: dict[str, T.DataType]) -> tuple[DataFrame, _Predicate]:
    """GX (Spark) counts every row of a repeated combination, after dropping the rows `ignore_row_if`
    ignores (default: all values missing); the split keeps the first of each combination."""
    keys = [_q(x) for x in rule.columns]
    mode = rule.kwargs.get("ignore_row_if") or "all_values_are_missing"
    if mode == "all_values_are_missing":
        ignored = F.lit(True)
        for key in keys:
            ignored = ignored & key.isNull()
    elif mode == "any_value_is_missing":
        ignored = F.lit(False)
        for key in keys:
            ignored = ignored | key.isNull()
    else:
        ignored = F.lit(False)
    n_col, r_col = f"{_INTERNAL_PREFIX}n{rule.index}", f"{_INTERNAL_PREFIX}r{rule.index}"
    by_value = Window.partitionBy(*keys)  # an ignored row never shares a group with a judged one
    df = df.withColumn(n_col, F.count(F.lit(1)).over(by_value)).withColumn(
        r_col, F.row_number().over(by_value.orderBy(*_keep_first_order(rule, types)))
    )
    shown = F.concat_ws(", ", *[F.coalesce(_shown(x, types), F.lit("null")) for x in rule.columns])
    reason = F.concat(F.lit(f"{_describe(rule)}, got a repeat of ("), shown, F.lit(") (its first occurrence is kept)"))
    if rule.pii:
        reason = F.lit(f"{_describe(rule)}, got a repeated value (its first occurrence is kept)")
    gx_fail = F.coalesce(~ignored & (F.col(n_col) > 1), F.lit(False))
    quarantine = F.coalesce(~ignored & (F.col(r_col) > 1), F.lit(False))
    return df, _Predicate(gx_fail, quarantine, reason)


def _predicate(rule: _Rule, df: DataFrame, types: dict[str, T.DataType]) -> tuple[DataFrame, _Predicate]:
    if rule.type == "expect_compound_columns_to_be_unique":
        return _compound_unique(rule, df, types)
    c, k, t = _q(rule.column), rule.kwargs, rule.type
    shown = _shown(rule.column, types)
    got = F.concat(F.lit(_describe(rule) + ", got "), F.coalesce(shown, F.lit("null")))
    if rule.pii:  # the row itself is in quarantine; the reason does not repeat personal data
        got = F.lit(_describe(rule))

    def between(subject: Column) -> Column:
        lo, hi = k.get("min_value"), k.get("max_value")
        ok = F.lit(True)
        if lo is not None:
            ok = ok & ((subject > F.lit(lo)) if k.get("strict_min") else (subject >= F.lit(lo)))
        if hi is not None:
            ok = ok & ((subject < F.lit(hi)) if k.get("strict_max") else (subject <= F.lit(hi)))
        return ~ok

    if t == "expect_column_values_to_not_be_null":
        fail, reason = c.isNull(), F.lit(_describe(rule))
    elif t == "expect_column_values_to_be_null":
        fail, reason = c.isNotNull(), got
    elif t == "expect_column_values_to_be_between":
        fail, reason = c.isNotNull() & between(c), got
    elif t == "expect_column_value_lengths_to_be_between":
        fail = c.isNotNull() & between(F.length(c))
        reason = F.concat(F.lit(_describe(rule) + ", got "), F.length(c).cast("string"))
    elif t == "expect_column_value_lengths_to_equal":
        fail = c.isNotNull() & (F.length(c) != F.lit(k.get("value")))
        reason = F.concat(F.lit(_describe(rule) + ", got "), F.length(c).cast("string"))
    elif t == "expect_column_values_to_be_in_set":
        value_set = k.get("value_set")
        fail = F.lit(False) if value_set is None else c.isNotNull() & ~c.isin(list(value_set))
        reason = got
    elif t == "expect_column_values_to_not_be_in_set":
        fail, reason = c.isNotNull() & c.isin(list(k.get("value_set") or [])), got
    elif t == "expect_column_values_to_match_regex":
        fail, reason = c.isNotNull() & ~c.rlike(k["regex"]), got
    elif t == "expect_column_values_to_not_match_regex":
        fail, reason = c.isNotNull() & c.rlike(k["regex"]), got
    elif t == "expect_column_values_to_be_unique":
        order = _keep_first_order(rule, types)
        n_col, r_col = f"{_INTERNAL_PREFIX}n{rule.index}", f"{_INTERNAL_PREFIX}r{rule.index}"
        by_value = Window.partitionBy(c)
        df = df.withColumn(n_col, F.count(F.lit(1)).over(by_value)).withColumn(
            r_col, F.row_number().over(by_value.orderBy(*order))
        )
        gx_fail = c.isNotNull() & (F.col(n_col) > 1)
        quarantine = c.isNotNull() & (F.col(r_col) > 1)
        reason = F.concat(F.lit(f"{_describe(rule)}, got a repeat of "), shown,
                          F.lit(" (its first occurrence is kept)"))
        if rule.pii:
            reason = F.lit(f"{_describe(rule)}, got a repeated value (its first occurrence is kept)")
        return df, _Predicate(F.coalesce(gx_fail, F.lit(False)), F.coalesce(quarantine, F.lit(False)), reason)
    else:  # _rules() already refused anything else
        raise DataQualityError(f"no predicate for {t}")
    fail = F.coalesce(fail, F.lit(False))
    return df, _Predicate(fail, fail, reason)


def _split(df: DataFrame, row_rules: list[_Rule]) -> DataFrame:
    """The input plus, per rule, its quarantine flag (__dq_q<i>) and GX-comparable flag (__dq_g<i>),
    the any-failure flag (__dq_any), and _check / _reason (joined with "; ")."""
    types = {f.name: f.dataType for f in df.schema.fields}
    annotated = df
    preds: dict[int, _Predicate] = {}
    for rule in row_rules:
        annotated, pred = _predicate(rule, annotated, types)
        preds[rule.index] = pred
    for rule in row_rules:  # materialize the flags once, so valid/quarantined/counts share them
        annotated = annotated.withColumn(f"{_INTERNAL_PREFIX}q{rule.index}", preds[rule.index].quarantine)
        annotated = annotated.withColumn(f"{_INTERNAL_PREFIX}g{rule.index}", preds[rule.index].gx_fail)
    flags = [F.col(f"{_INTERNAL_PREFIX}q{r.index}") for r in row_rules]
    any_fail = F.lit(False)
    for flag in flags:
        any_fail = any_fail | flag
    labels = [F.when(F.col(f"{_INTERNAL_PREFIX}q{r.index}"), F.lit(r.label)) for r in row_rules]
    reasons = [F.when(F.col(f"{_INTERNAL_PREFIX}q{r.index}"), preds[r.index].reason) for r in row_rules]
    annotated = annotated.withColumn(f"{_INTERNAL_PREFIX}any", any_fail)
    if row_rules:
        annotated = annotated.withColumn(CHECK_COLUMN, F.concat_ws("; ", *labels)) \
                             .withColumn(REASON_COLUMN, F.concat_ws("; ", *reasons))
    else:
        annotated = annotated.withColumn(CHECK_COLUMN, F.lit(None).cast("string")) \
                             .withColumn(REASON_COLUMN, F.lit(None).cast("string"))
    return annotated


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


def _observed_text(rule: _Rule, gx: dict, row_count: int) -> str:
    if not rule.row_level:
        observed = gx.get("observed_value")
        details = gx.get("details")
        text = _text(_jsonable(observed)) if observed is not None else ""
        if details:
            text = (text + "; " if text else "") + json.dumps(_jsonable(details), sort_keys=True)
        return text
    unexpected = gx.get("unexpected_count") or 0
    pct = f" ({100.0 * unexpected / row_count:.2f}%)" if row_count else ""
    text = f"{unexpected} of {row_count} rows unexpected{pct}"
    examples = gx.get("partial_unexpected_list") or []
    if unexpected and examples and not rule.pii:
        text += "; e.g. " + ", ".join("null" if v is None else _text(_jsonable(v)) for v in examples[:5])
    return text


def _result_dict(suite: str, rule: _Rule, gx_result, row_count: int, counts: dict) -> dict:
    gx = dict(gx_result.result or {}) if gx_result is not None else {}
    error = _exception_message(gx_result.exception_info) if gx_result is not None else "no result from GX"
    unexpected = gx.get("unexpected_count")
    if rule.row_level and unexpected is None and error is None:
        unexpected = 0  # GX leaves it None on an empty frame
    observed = f"error: {error}" if error else _observed_text(rule, gx, row_count)
    quarantined = counts.get(f"q{rule.index}") if rule.row_level else None
    details = _describe(rule) + (f" | observed: {observed}" if observed else "")
    if quarantined is not None:
        details += f" | quarantined: {quarantined}"
    return {
        "suite": suite,
        "table": suite,
        "expectation": rule.type,
        "column": rule.column,
        "level": "row" if rule.row_level else "table",
        "kwargs": _jsonable(rule.kwargs),
        "success": bool(gx_result.success) if gx_result is not None and error is None else False,
        "element_count": int(gx.get("element_count", row_count) or 0) if rule.row_level else row_count,
        "unexpected_count": int(unexpected) if unexpected is not None else None,
        "quarantined_count": quarantined,
        "observed_value": observed,
        "exception": error,
        "details": details,
    }


# -- public API ---------------------------------------------------------------------------------------
def validate(df: DataFrame, suite_name: str | ExpectationSuite, settings: Settings, run_date,
             directory: Path | None = None) -> QualityResult:
    """Split `df` into valid and quarantined rows by the suite's row-level expectations, run the suite
    in Great Expectations on the whole frame, check GX agrees with the split, and keep the results
    under settings.dq_dir/<suite>/<run_date>.json.

    `suite_name` is a suite in expectations/ (or an ExpectationSuite built in code, e.g. in tests)."""
    started = time.perf_counter()
    run_date = parse_date(run_date)
    suite = load_suite(suite_name, directory) if isinstance(suite_name, str) else suite_name
    name = suite.name
    rules = _rules(suite)
    clash = [c for c in df.columns if c in (CHECK_COLUMN, REASON_COLUMN) or c.startswith(_INTERNAL_PREFIX)]
    if clash:
        raise DataQualityError(f"suite {name}: input already has reserved column(s) {', '.join(clash)}")

    columns = df.columns
    row_rules = [r for r in rules if r.row_level and all(c in columns for c in r.columns)]
    missing = [r for r in rules if r.row_level and r not in row_rules]
    annotated = _split(df, row_rules)

    # one pass for every count the result needs
    aggs = [F.count(F.lit(1)).alias("rows"),
            F.sum(F.col(f"{_INTERNAL_PREFIX}any").cast("long")).alias("any")]
    for r in row_rules:
        aggs.append(F.sum(F.col(f"{_INTERNAL_PREFIX}q{r.index}").cast("long")).alias(f"q{r.index}"))
        aggs.append(F.sum(F.col(f"{_INTERNAL_PREFIX}g{r.index}").cast("long")).alias(f"g{r.index}"))
    try:
        row = annotated.agg(*aggs).collect()[0]
    except Exception as exc:
        raise DataQualityError(f"suite {name}: could not evaluate its row-level expectations: {exc}") from exc
    counts = {k: int(v or 0) for k, v in row.asDict().items()}
    row_count, quarantined_count = counts["rows"], counts["any"]

    # the real GX validation, on the input frame
    gx_started = time.perf_counter()
    batch = _batch_definition(name).get_batch(batch_parameters={"dataframe": df})
    suite_result = batch.validate(_indexed_suite(suite),
                                  result_format={"result_format": "BASIC", "partial_unexpected_count": 20})
    gx_seconds = time.perf_counter() - gx_started
    by_index = {}
    for r in suite_result.results:
        index = (r.expectation_config.meta or {}).get(_INDEX_META_KEY)
        if index is not None:
            by_index[int(index)] = r

    results = [_result_dict(name, rule, by_index.get(rule.index), row_count, counts) for rule in rules]
    for rule in missing:
        res = results[rule.index]
        absent = ", ".join(c for c in rule.columns if c not in columns)
        res["success"] = False
        res["exception"] = res["exception"] or f"column {absent} is missing"
        res["details"] = f"{_describe(rule)} | column {absent} is missing from the frame"
        res["level"] = "table"  # the frame breaks the table's shape: fatal, no rows can be judged

    mismatches = []
    for rule in row_rules:
        res = results[rule.index]
        if res["exception"] is None and res["unexpected_count"] != counts[f"g{rule.index}"]:
            mismatches.append(f"{rule.label}: GX counted {res['unexpected_count']} unexpected rows, "
                              f"the split {counts[f'g{rule.index}']}")
    if mismatches:
        raise SplitMismatchError(f"suite {name}: Great Expectations and the quarantine split disagree: "
                                 + "; ".join(mismatches))

    # an expectation GX could not evaluate is a failure of the table, whatever its level
    success = all(r["success"] for r in results if r["level"] == "table") and not any(
        r["exception"] for r in results
    )
    for res in results:
        if res["exception"] and res["level"] == "row":
            res["level"] = "table"

    flag = F.col(f"{_INTERNAL_PREFIX}any")
    valid = annotated.filter(~flag).select(*[_q(c) for c in columns])
    quarantined = annotated.filter(flag).select(*[_q(c) for c in columns], CHECK_COLUMN, REASON_COLUMN)

    checked = annotated.select(*[_q(c) for c in columns],
                               *[F.when(flag, F.col(x)).alias(x) for x in (CHECK_COLUMN, REASON_COLUMN)])
    result = QualityResult(
        suite=name, valid=valid, quarantined=quarantined, checked=checked, results=results, success=success,
        run_date=run_date, row_count=row_count, quarantined_count=quarantined_count,
        gx_statistics=_jsonable(dict(suite_result.statistics or {})),
    )
    pii = set(pii_columns_of(suite))
    sample_frame = quarantined.select(*[_q(c) for c in quarantined.columns if c not in pii])
    sample = sample_frame.limit(SAMPLE_ROWS).collect() if quarantined_count else []
    result.report_path = _write_report(settings, result, sample, time.perf_counter() - started, gx_seconds)
    # Quarantined rows are the normal life of a lakehouse fed by real exports (the step's progress line
    # counts them, `marketofone dq` details them); only a failed table is worth a warning.
    level = logging.INFO if success else logging.WARNING
    log.log(level, "%s on %s: %s, %d rows, %d quarantined, %d table-level failure(s) (%s)", name, run_date,
            "passed" if success else "FAILED", row_count, quarantined_count,
            len(result.failed_table_expectations), result.report_path)
    return result


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


def results_frame(spark: SparkSession, result: QualityResult, run_date) -> DataFrame:
    """Rows for audit.dq_results (one per expectation), keyed by run_date, table, expectation, column."""
    day = parse_date(run_date)
    rows = [(day, r["table"], r["expectation"], r["column"] or "", bool(r["success"]),
             r["element_count"], r["unexpected_count"], r["details"]) for r in result.results]
    return spark.createDataFrame(rows, DQ_RESULTS_SCHEMA)


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
