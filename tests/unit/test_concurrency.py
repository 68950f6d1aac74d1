"""Writers that meet on one table: a write another writer's commit interrupted is done again (jobs/concurrency.py)."""

import datetime as dt

import pytest

from jobs import concurrency
from jobs.quality import DQ_RESULTS_SCHEMA

D1 = dt.date(2026, 6, 30)


class Conflict(Exception):
    pass


def test_a_conflicting_write_is_tried_again_and_other_errors_are_not():
    calls, waits = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise Conflict("[SparkRuntimeException] Failed to commit transaction: 7")
        return "written"

    assert concurrency.retry_on_conflict("audit.dq_results", flaky, sleep=waits.append) == "written"
    assert len(calls) == 3 and len(waits) == 2
    assert 0.1 <= waits[0] <= 0.3 and 0.2 <= waits[1] <= 0.6   # doubling, with jitter

    def broken():
        calls.append(1)
        raise ValueError("gold.x: the rows to write lack column(s) a")

    calls.clear()
    with pytest.raises(ValueError, match="lack column"):
        concurrency.retry_on_conflict("gold.x", broken, sleep=waits.append)
    assert len(calls) == 1


def test_the_last_conflict_goes_on_to_the_caller():
    def always():
        raise Conflict("io.delta.exceptions.ConcurrentAppendException: Files were added by a concurrent update")

    with pytest.raises(Conflict, match="ConcurrentAppendException"):
        concurrency.retry_on_conflict("silver.transaction", always, tries=4, sleep=lambda s: None)


@pytest.mark.parametrize("message, conflict", [
    ("Failed to commit transaction: 0", True),
    ("[DELTA_CONCURRENT_APPEND] ConcurrentAppendException: Files were added", True),
    ("Generic DeltaTable error: Version mismatch / CommitFailedError: version already exists", True),
    ("AnalysisException: Delta table already exists at path: file:///lake/audit/dq_results/", True),
    ("AnalysisException: [UNRESOLVED_COLUMN] a column named x cannot be resolved", False),
    ("Connection refused", False),
])
def test_what_counts_as_another_writer_committing_first(message, conflict):
    assert concurrency.is_commit_conflict(RuntimeError(message)) is conflict


def _results(spark, table_name):
    row = (D1, table_name, "expect_column_values_to_not_be_null", "id", True, 10, 0, "{}")
    return spark.createDataFrame([row], DQ_RESULTS_SCHEMA)


def test_a_first_write_that_lost_the_race_to_create_the_table_merges_instead_of_overwriting(lh, spark, monkeypatch):
    """Two tasks write a table's first rows at once: both see no table; the one that commits second must not
    replace the first one's rows (it did: the first write was an overwrite)."""
    lh.write("audit.dq_results", _results(spark, "bronze.cards_accounts"), count=False)   # the other task's
    seen = []
    real_exists = type(lh).exists

    def looked_before_the_other_created_it(self, full_name):
        seen.append(full_name)
        return False if len(seen) == 1 else real_exists(self, full_name)

    monkeypatch.setattr(type(lh), "exists", looked_before_the_other_created_it)
    lh.write("audit.dq_results", _results(spark, "bronze.crm_offers"), count=False)
    tables = sorted(r.table for r in lh.read("audit.dq_results").collect())
    assert tables == ["bronze.cards_accounts", "bronze.crm_offers"]
    assert len(seen) >= 2   # refused as a table that exists, then written as one
