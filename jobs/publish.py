"""Write-audit-publish: stage a table's new content, validate it with its Great Expectations suite,
then publish the valid rows, quarantine the failing ones with their reasons, and keep the results.

A table-level failure (no rows, a missing column) stops the step before anything is published.
"""

from __future__ import annotations

import datetime as dt
from typing import Callable

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs import quality
from jobs.tables import Lakehouse, quarantine_of


def validated_write(lh: Lakehouse, full_name: str, df: DataFrame, day: dt.date,
                    write: Callable[[DataFrame], int]) -> dict[str, int]:
    """Validate `df` against the suite named after `full_name`; `write(valid_rows)` publishes (an
    overwrite, a replace of the date or a MERGE). Returns the rows published and quarantined by this
    run: together they are every row of `df`."""
    # Staged once: validation, publishing and quarantine then read files instead of recomputing the plan.
    staged = lh.scratch(df, f"staged_{full_name.replace('.', '_')}")
    result = quality.validate(staged, full_name, lh.settings, day)
    lh.merge_upsert("audit.dq_results", quality.results_frame(lh.spark, result, day))
    quality.raise_on_failure(result)
    write(result.valid)
    counts = {full_name: result.valid_count}
    rejected = result.quarantined.withColumn("_run_date", F.lit(day))
    counts[quarantine_of(full_name)] = lh.replace_for_date(quarantine_of(full_name), rejected, day)
    return counts
