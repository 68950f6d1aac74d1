"""The split: a suite's row-level expectations as Spark predicates, and every row marked valid or quarantined
with the failed checks (_check) and the reasons in plain words (_reason)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.quality.repeats import _q, with_repeats  # noqa: F401  (_q: validation.py imports it from here)
from jobs.quality.results import DataQualityError
from jobs.quality.suites import _Rule

# The quarantine layout of every layer: the failed checks' ids ("; "-joined) and the reasons in words.
CHECK_COLUMN = "_check"
REASON_COLUMN = "_reason"
_INTERNAL_PREFIX = "__dq_"


# The rules that compare rows with one another (a window, or on stored rows an aggregate: _with_repeats).
UNIQUENESS = ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique")


# -- the split: row-level expectations as Spark predicates ---------------------------------------
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


def _with_repeats(df: DataFrame, columns: list[str], order: list[Column], n_col: str, r_col: str,
                  stored: bool) -> DataFrame:
    """Per row, how many rows share its values of `columns` (n_col) and its place among them (r_col): a window
    by the columns, or, on a frame of stored files (`stored`: cheap to read again), an aggregate of the repeated
    values and a join (jobs/quality/repeats.py: no sort of the whole frame)."""
    if stored:
        return with_repeats(df, columns, order, n_col, r_col)
    by_value = Window.partitionBy(*[_q(x) for x in columns])
    return df.withColumn(n_col, F.count(F.lit(1)).over(by_value)).withColumn(
        r_col, F.row_number().over(by_value.orderBy(*order)))


def _compound_unique(rule: _Rule, df: DataFrame, types: dict[str, T.DataType],
                     stored: bool) -> tuple[DataFrame, _Predicate]:
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
    # An ignored row never shares a group with a judged one.
    df = _with_repeats(df, list(rule.columns), _keep_first_order(rule, types), n_col, r_col, stored)
    shown = F.concat_ws(", ", *[F.coalesce(_shown(x, types), F.lit("null")) for x in rule.columns])
    reason = F.concat(F.lit(f"{_describe(rule)}, got a repeat of ("), shown, F.lit(") (its first occurrence is kept)"))
    if rule.pii:
        reason = F.lit(f"{_describe(rule)}, got a repeated value (its first occurrence is kept)")
    gx_fail = F.coalesce(~ignored & (F.col(n_col) > 1), F.lit(False))
    quarantine = F.coalesce(~ignored & (F.col(r_col) > 1), F.lit(False))
    return df, _Predicate(gx_fail, quarantine, reason)


def _predicate(rule: _Rule, df: DataFrame, types: dict[str, T.DataType],
               stored: bool = False) -> tuple[DataFrame, _Predicate]:
    if rule.type == "expect_compound_columns_to_be_unique":
        return _compound_unique(rule, df, types, stored)
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
        df = _with_repeats(df, [rule.column], order, n_col, r_col, stored)
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


def _split(df: DataFrame, row_rules: list[_Rule], stored: bool = False) -> DataFrame:
    """The input plus, per rule, its quarantine flag (__dq_q<i>) and GX-comparable flag (__dq_g<i>),
    the any-failure flag (__dq_any), and _check / _reason (joined with "; "). `stored`: the input reads stored
    files, so a uniqueness rule may read it more than once (see _with_repeats)."""
    types = {f.name: f.dataType for f in df.schema.fields}
    annotated = df
    preds: dict[int, _Predicate] = {}
    for rule in row_rules:
        annotated, pred = _predicate(rule, annotated, types, stored)
        preds[rule.index] = pred
    for rule in row_rules:  # materialize the flags once, so valid/quarantined/counts share them
        # A warning's failures are counted (its GX-comparable flag) and quarantine nothing.
        quarantine = F.lit(False) if rule.warning else preds[rule.index].quarantine
        annotated = annotated.withColumn(f"{_INTERNAL_PREFIX}q{rule.index}", quarantine)
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
