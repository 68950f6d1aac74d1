"""Rows whose parent arrives late wait for it, instead of being lost.

Banks' feeds deliver parents late every day: a transaction comes a day before its account, a session
before its customer's master record. Such a row is not dropped: it waits in its table's quarantine with
`_status = 'waiting'`, the date it arrived (`_held_since`) and what it waits for (`_check`, `_reason`), and
the first run in which its parent is known publishes it, with `_known_on` = the day the parent became
known, and records the release (`_status = 'released'`, `_released_on`). A row whose parent is not known
within the grace period (`MARKETOFONE_LATE_PARENT_GRACE_DAYS`, 7) is quarantined for good
(`_status = 'expired'`), and so is one whose parent comes later than that.

What happens to a row depends only on the data (the day it arrived, the day its parent became known, the
newest export loaded), never on the order or number of runs: a date run again, or dates run backwards,
leave the same silver rows and the same quarantine records. For every run:
rows in = published + still waiting + quarantined (rejected by a check, or expired).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.known import ARRIVED_ON, KNOWN_ON

STATUS = "_status"            # rejected | waiting | released | expired
HELD_SINCE = "_held_since"    # the logical date the row arrived
RELEASED_ON = "_released_on"  # the date its parent became known (released rows)
PARENT_KNOWN_ON = "_parent_known_on"  # working column: when the parent became known (NULL: not yet)
WAIT_COLUMNS = (STATUS, HELD_SINCE, RELEASED_ON)


@dataclass(frozen=True)
class Parent:
    """What a row of a silver table waits for."""
    table: str                 # where the parent lives, e.g. silver.account
    on: tuple[str, ...]        # the columns a row and its parent share
    takes: tuple[str, ...]     # the columns a row gets from its parent (customer_id, ...)
    what: str                  # in words, for the reason: "its account"


@dataclass(frozen=True)
class Hold:
    """A parent check for one run: the parent, the grace period, and the newest export date loaded."""
    parent: Parent
    grace_days: int
    horizon: dt.date           # the newest logical date the lakehouse has loaded (expiry is judged on it)

    def status(self) -> Column:
        """published | waiting | expired, from the row's arrival, its parent's known date and the horizon."""
        known = F.col(PARENT_KNOWN_ON)
        deadline = F.date_add(F.col(ARRIVED_ON), self.grace_days)
        return (F.when(known.isNotNull() & (known <= deadline), F.lit("published"))
                .when(known.isNull() & (F.lit(self.horizon) <= deadline), F.lit("waiting"))
                .otherwise(F.lit("expired")))

    def reason(self) -> Column:
        parent, what = self.parent.table, self.parent.what
        since = F.date_format(HELD_SINCE, "yyyy-MM-dd")
        return (F.when(F.col(STATUS) == "released",
                       F.concat(F.lit(f"arrived before {what} ({parent}); published when it became known on "),
                                F.date_format(RELEASED_ON, "yyyy-MM-dd")))
                .when(F.col(STATUS) == "waiting",
                      F.concat(F.lit(f"waiting for {what} ({parent}) since "), since,
                               F.lit(f"; published on the first run that knows it, quarantined if it is not known "
                                     f"within {self.grace_days} days")))
                .otherwise(F.concat(F.lit(f"quarantined for good: {what} ({parent}) was not known within "
                                          f"{self.grace_days} days of the row's arrival on "), since)))

    def sort_out(self, linked: DataFrame, keys: tuple[str, ...] = ()) -> tuple[DataFrame, DataFrame]:
        """Linked rows -> (rows to publish with `_known_on` and `_arrived_on`, wait records for the quarantine).

        A row whose parent became known after it arrived is published *and* recorded as released, so the
        record reads the same whether the run that released it came before or after its arrival date's.

        With `keys` (the table's), one row per key is published: rows held since several dates can share one (an
        account in two days' snapshots whose owner came later), and a write of both would be refused (a MERGE
        with two source rows for one target row). That row has the newest arrival's values and `_known_on` the
        earliest, as two snapshots written one after the other would leave it (Lakehouse.merge_snapshot); every
        record is settled."""
        df = linked.withColumn(STATUS, self.status())
        known_on = F.greatest(F.col(ARRIVED_ON), F.col(PARENT_KNOWN_ON))
        published = df.where(F.col(STATUS) == "published").withColumn(KNOWN_ON, known_on)
        if keys:
            by_key = Window.partitionBy(*keys)
            newest = F.row_number().over(by_key.orderBy(F.col(ARRIVED_ON).desc()))
            published = (published.withColumn(KNOWN_ON, F.min(KNOWN_ON).over(by_key))
                         .withColumn("_newest", newest).where("_newest = 1").drop("_newest"))
        published = published.drop(STATUS, PARENT_KNOWN_ON)   # `_arrived_on` stays: see publish.py
        late = (F.col(STATUS) != "published") | (F.col(PARENT_KNOWN_ON) > F.col(ARRIVED_ON))
        # A record keeps the row as it arrived, without its parent's columns: the same whether it was written
        # before or after the parent came.
        types = dict(df.dtypes)
        as_arrived = df.select(*[F.lit(None).cast(types[c]).alias(c) if c in self.parent.takes else F.col(c)
                                 for c in df.columns])
        waits = (as_arrived.where(late)
                 .withColumn(STATUS, F.when(F.col(STATUS) == "published", F.lit("released")).otherwise(F.col(STATUS)))
                 .withColumn(HELD_SINCE, F.col(ARRIVED_ON))
                 .withColumn(RELEASED_ON, F.when(F.col(STATUS) == "released", F.col(PARENT_KNOWN_ON)))
                 .withColumn("_check", F.lit(f"parent:{self.parent.table}"))
                 .withColumn("_reason", self.reason())
                 .drop(ARRIVED_ON, PARENT_KNOWN_ON))
        return published, waits


def link(rows: DataFrame, parents: DataFrame, parent: Parent) -> DataFrame:
    """`rows` (with `_arrived_on`) with their parent's columns (`parent.takes`, NULL while the parent is
    unknown, in the rows' own column order) and `_parent_known_on`. `parents` has parent.on, parent.takes and
    `_known_on`, one row per parent."""
    attached = parents.select(*parent.on, *parent.takes, F.col(KNOWN_ON).alias(PARENT_KNOWN_ON))
    order = [c for c in rows.columns if c != ARRIVED_ON]
    return rows.drop(*parent.takes).join(attached, list(parent.on), "left").select(*order, ARRIVED_ON,
                                                                                  PARENT_KNOWN_ON)


def held_rows(quarantine: DataFrame, day: dt.date) -> DataFrame:
    """The rows of earlier dates still waiting, or released on `day` or later, as rows again: the silver
    columns and `_arrived_on`. A re-run of the day releases the same rows again; a backfill of a day before
    the release finds the rows whose parent it now knows earlier (a master seen in that day's snapshot).
    Whatever their age: a row whose grace period ran out is found here and quarantined for good, even when
    no run came on the day it ran out."""
    waiting = (F.col(STATUS) == "waiting") | ((F.col(STATUS) == "released") & (F.col(RELEASED_ON) >= F.lit(day)))
    return (quarantine.where(waiting & (F.col("_run_date") < F.lit(day))).withColumn(ARRIVED_ON, F.col(HELD_SINCE))
            .drop("_check", "_reason", "_run_date", *WAIT_COLUMNS))


def as_rejected(rejected: DataFrame) -> DataFrame:
    """Rows a check rejected, in the quarantine's layout (no wait: quarantined for good at once)."""
    return (rejected.drop(*[c for c in (ARRIVED_ON, PARENT_KNOWN_ON) if c in rejected.columns])
            .withColumn(STATUS, F.lit("rejected"))
            .withColumn(HELD_SINCE, F.lit(None).cast("date"))
            .withColumn(RELEASED_ON, F.lit(None).cast("date")))
