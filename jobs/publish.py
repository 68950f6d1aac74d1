"""Write-audit-publish: stage a table's new content, validate it with its Great Expectations suite,
then publish the valid rows, quarantine the failing ones with their reasons, and keep the results.

`publish(lh, name, df, day)` is the one entry point the steps write through: it
looks the table up in the registry (jobs/tables.py), validates when the table has a suite, and writes the
valid rows with the table's declared write mode (`Lakehouse.write`).

A table-level failure (no rows, a missing column) stops the step before anything is published. Rows
whose parent is not known yet (jobs/unify/late_arrivals.py) pass the suite and then wait in the
quarantine instead of being published or rejected.
"""

from __future__ import annotations

import datetime as dt
import logging
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable, Iterator

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs import quality
from jobs.tables import Lakehouse, quarantine_of, table
from jobs.unify.late_arrivals import (
    ARRIVED_ON,
    HELD_SINCE,
    PARENT_KNOWN_ON,
    RELEASED_ON,
    STATUS,
    Hold,
    as_rejected,
    held_rows,
    link,
)

log = logging.getLogger(__name__)

# Count keys of rows that wait for a parent and of waiting rows released (not rows written by the run).
WAITING, RELEASED = "waiting:", "released:"

RESULTS = "audit.dq_results"
# The audit.dq_results rows of the step running in this process, keyed as the table is, while the step
# collects them (results_per_step); None: each validation writes its own at once.
_pending: ContextVar[dict | None] = ContextVar("pending_dq_results", default=None)


def record_results(lh: Lakehouse, result: quality.QualityResult, day: dt.date) -> None:
    """Keep a validation's results in audit.dq_results: at once, or with the rest of the step's at its end."""
    rows = quality.results_rows(result, day)
    pending = _pending.get()
    if pending is None:
        _write_results(lh, rows)
        return
    for row in rows:   # a table validated twice in one step: its last results stand, as with two writes
        pending[row[:4]] = row


def _write_results(lh: Lakehouse, rows: list[tuple]) -> None:
    lh.write(RESULTS, lh.spark.createDataFrame(rows, quality.DQ_RESULTS_SCHEMA), count=False)


@contextmanager
def results_per_step(lh: Lakehouse) -> Iterator[None]:
    """Write the step's audit.dq_results rows in one MERGE at its end, failed or not, instead of one per table
    validated (dozens of commits a step; on a JVM engine each is seconds). A failing step's results, the ones
    that say why, are written before its error goes on."""
    pending: dict = {}
    token = _pending.set(pending)
    failed = True
    try:
        yield
        failed = False
    finally:
        _pending.reset(token)
        if pending:
            try:
                _write_results(lh, list(pending.values()))
            except Exception:
                if not failed:
                    raise
                # The step's own error says more than this one (e.g. the engine is gone): it goes on.
                log.exception("the failed step's results could not be written to %s", RESULTS)


def publish(lh: Lakehouse, full_name: str, df: DataFrame, day: dt.date, hold: Hold | None = None,
            stored: bool = False) -> dict[str, int]:
    """Publish `df` to the table `full_name` for the logical date `day`: validated (quarantine, results in
    audit.dq_results) when the table is declared with a suite, then written with its declared mode. Returns
    the rows published and quarantined (and waiting, with `hold`) by this run, per table: for a validated
    table they add up to the rows of `df`. `stored`: `df` reads files a step stored (`Lakehouse.scratch`), so
    the validation reads it as it is instead of storing it again (quality.validate)."""
    t = table(full_name)
    if not t.suite:
        if hold is not None:
            raise ValueError(f"{full_name} has no suite: rows cannot wait for a parent in its quarantine")
        return {full_name: lh.write(full_name, df, day)}
    return validated_write(lh, full_name, df, day, hold=hold, stored=stored)


def validated_write(lh: Lakehouse, full_name: str, df: DataFrame, day: dt.date,
                    write: Callable[[DataFrame], object] | None = None, hold: Hold | None = None,
                    stored: bool = False) -> dict[str, int]:
    """Validate `df` against the suite named after `full_name`; `write(valid_rows)` publishes, by default
    the table's declared write (`Lakehouse.write`; pass another only where a step needs more than the
    write, e.g. keeping the rows it published). With `hold`, `df` is linked to its parents (see
    late_arrivals.link) and valid rows whose parent is not known wait instead of being published.
    `stored`: as for `publish`. Returns the rows published, waiting and quarantined by this run: together they
    are every row of `df`."""
    if write is None:
        def write(valid: DataFrame) -> None:
            lh.write(full_name, valid, day, count=False)   # the counts come from the validation
    # `df` is computed once, with the rules' verdicts, into a scratch file (`materialize`): GX, publishing and the
    # quarantine then read that file instead of recomputing the plan.
    result = quality.validate(df, full_name, lh.settings, day, materialize=lh.scratch, stored=stored)
    record_results(lh, result, day)
    quality.raise_on_failure(result)
    valid, quarantine = result.valid, as_rejected(result.quarantined)
    by_status = {}
    if hold is not None:
        valid, waits = hold.sort_out(valid)
        valid = _arrival_kept(full_name, valid)
        waits = lh.scratch(waits, f"waits_{full_name.replace('.', '_')}")
        by_status = {r[STATUS]: r["n"] for r in waits.groupBy(STATUS).agg(F.count("*").alias("n")).collect()}
        quarantine = quarantine.unionByName(waits)
    write(valid)
    waiting, released = by_status.get("waiting", 0), by_status.get("released", 0)
    # The quarantine's rows of the date are replaced by exactly these: the rules' rejects and the rows the hold
    # sorted out, each counted above (reading the table back would be one more query per validated table). None,
    # on a quarantine that holds none of the date either (most tables, most days): nothing to write.
    recorded = result.quarantined_count + sum(by_status.values())
    lh.write(quarantine_of(full_name), quarantine.withColumn("_run_date", F.lit(day)), day, count=False,
             rows=recorded)
    counts = {full_name: result.valid_count - waiting - by_status.get("expired", 0),
              quarantine_of(full_name): recorded - waiting - released}   # rejected, or expired: for good
    if hold is not None:
        counts[f"{WAITING}{full_name}"] = waiting
    return counts


def _arrival_kept(full_name: str, published: DataFrame) -> DataFrame:
    """Rows a hold sorted out, with `_arrived_on` (the export their values came in) where the table orders its
    rows' versions by it (Table.newest_by): a row released late then never overwrites values that came later."""
    return published if table(full_name).newest_by == ARRIVED_ON else published.drop(ARRIVED_ON)


def release_waiting(lh: Lakehouse, full_name: str, parents: DataFrame, day: dt.date, hold: Hold,
                    write: Callable[[DataFrame], int] | None = None) -> dict[str, int]:
    """Publish the rows of earlier dates that waited for a parent known now, and quarantine for good those
    whose grace period ran out; their records in the quarantine say which (`_status`, `_released_on`).
    A row whose parent turns out to have been known when it arrived (a backfill found the parent in an
    earlier snapshot) is published and loses its record, as if it had never waited. The rows passed their
    suite when they arrived."""
    name = quarantine_of(full_name)
    if not lh.exists(name):
        return {}
    held = held_rows(lh.read(name), day)
    linked = lh.scratch(link(held, parents, hold.parent), f"held_{full_name.replace('.', '_')}")
    published, waits = hold.sort_out(linked, table(full_name).keys)
    published = _arrival_kept(full_name, published)
    released = published.count()
    if released:
        if write is None:
            lh.write(full_name, published, day, count=False)
        else:
            write(published)
    keys = ("_run_date", *table(full_name).keys)
    # The quarantine's records are settled in place: a replace of the run date would drop the records of the
    # other rows held since then.
    settled = waits.where(F.col(STATUS) != "waiting").withColumn("_run_date", F.col(HELD_SINCE))
    lh.update_matching(name, settled.select(*keys, STATUS, RELEASED_ON, "_reason"), keys,
                       (STATUS, RELEASED_ON, "_reason"))
    on_time = linked.where(F.col(PARENT_KNOWN_ON) <= F.col(ARRIVED_ON)).withColumn("_run_date", F.col(ARRIVED_ON))
    lh.delete_matching(name, on_time.select(*keys).distinct(), keys)
    return {f"{RELEASED}{full_name}": released}
