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

The package, by concern: suites.py (loading suites, the GX context), split.py (row-level expectations as
Spark predicates, the valid/quarantine split), validation.py (`validate`: the split and GX over a frame,
checked against each other), results.py (QualityResult, the errors, the JSON report, audit.dq_results rows).
"""

from jobs.quality.results import (
    DQ_RESULTS_SCHEMA,
    DataQualityError,
    QualityResult,
    SplitMismatchError,
    raise_on_failure,
    results_frame,
    results_rows,
)
from jobs.quality.split import CHECK_COLUMN, REASON_COLUMN
from jobs.quality.suites import (
    EXPECTATIONS_DIR,
    ROW_LEVEL_TYPES,
    available_suites,
    load_suite,
    pii_columns_of,
    suite_path,
)
from jobs.quality.validation import SAMPLE_ROWS, validate

__all__ = [
    "CHECK_COLUMN", "DQ_RESULTS_SCHEMA", "EXPECTATIONS_DIR", "REASON_COLUMN", "ROW_LEVEL_TYPES", "SAMPLE_ROWS",
    "DataQualityError", "QualityResult", "SplitMismatchError", "available_suites", "load_suite", "pii_columns_of",
    "raise_on_failure", "results_frame", "results_rows", "suite_path", "validate",
]
