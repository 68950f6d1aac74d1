"""Suites: expectations/<table>.json loaded as GX suites and read as rules, and the one GX context."""

from __future__ import annotations

import functools
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from jobs.quality.results import DataQualityError
from jobs.resources import resource_dir

if TYPE_CHECKING:  # GX takes ~9 s to import; only pay for it when a suite is used
    from great_expectations.core import ExpectationSuite

EXPECTATIONS_DIR = resource_dir("expectations")  # the packaged copy when installed from a wheel
_INDEX_META_KEY = "_marketofone_index"  # tags each expectation so GX results map back to it

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


def _no_query_for_an_empty_example_list() -> None:
    """GX computes a map expectation's example values (`<metric>.unexpected_values`) with one
    `filter(...).limit(n).collect()` per expectation, even when n, the partial_unexpected_count asked for, is 0.
    Validation asks for none (its examples come from the quarantine sample), so each of those queries answers an
    empty list, yet a JVM engine still analyses, plans and runs it: about half of GX's queries on a daily run.
    Spark's providers of those metrics are wrapped here to answer the empty list without a query; any other
    request (a count above 0, COMPLETE) goes to GX's own function."""
    from great_expectations.expectations.registry import _registered_metrics

    for name, definition in _registered_metrics.items():
        provider = definition["providers"].get("SparkDFExecutionEngine")
        if not name.endswith(".unexpected_values") or provider is None or hasattr(provider[1], "asks_gx"):
            continue
        metric_class, gx_function = provider

        @functools.wraps(gx_function)
        def values(*args, _gx_function=gx_function, **kwargs):
            result_format = kwargs["metric_value_kwargs"]["result_format"]
            if result_format["result_format"] != "COMPLETE" and result_format["partial_unexpected_count"] == 0:
                return []
            return _gx_function(*args, **kwargs)

        values.asks_gx = gx_function
        definition["providers"]["SparkDFExecutionEngine"] = (metric_class, values)


def _context():
    """One ephemeral GX context per process (nothing written by GX itself), progress bars off."""
    global _gx_context
    with _gx_lock:
        if _gx_context is None:
            _quiet_gx_logging()
            import great_expectations as gx
            from great_expectations.data_context.types.base import ProgressBarsConfig

            _quiet_gx_logging()  # again: importing GX resets its loggers
            _no_query_for_an_empty_example_list()
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


WARNING = "warning"   # meta.severity of an expectation whose failures are reported, not quarantined


@dataclass(frozen=True)
class _Rule:
    index: int
    type: str
    kwargs: dict  # as GX parsed them (e.g. date strings become dates)
    meta: dict
    row_level: bool
    pii: bool = False  # on a raw PII column: results and reasons never repeat its values

    @property
    def warning(self) -> bool:
        """A warning-level expectation (`meta.severity: warning`): its failing rows are counted and reported,
        never quarantined (e.g. a customer without a phone on file: worth knowing, no reason to lose them)."""
        return self.meta.get("severity") == WARNING

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
        if meta.get("severity") not in (None, WARNING):
            raise DataQualityError(f"suite {suite.name}: {config.type}: meta.severity must be {WARNING!r} or absent, "
                                   f"got {meta['severity']!r}")
        if meta.get("severity") == WARNING and not row_level:
            raise DataQualityError(f"suite {suite.name}: {config.type} is table-level; only a row-level expectation "
                                   f"can be a warning")
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
