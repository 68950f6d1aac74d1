"""What expired rows become when the retention policy says `aggregate`: pure DataFrame -> DataFrame functions,
one per source table, each naming its target table (declared in jobs/tables.py).

A month is aggregated whole, on the first run after its last day passed the cutoff (`whole_months_before`), so a
month's counts are never split between a partial and a later run. Each target row carries the date of the run that
aggregated it (`aggregated_on`, part of its key): a re-run of that date writes the very same rows, and a late row of
an old month, aggregated on a later date, adds a row of its own instead of overwriting the month's counts (readers
sum over `aggregated_on`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def whole_months_before(cutoff: dt.date) -> dt.date:
    """The first day of the cutoff's month: rows before it belong to months that ended before the cutoff."""
    return cutoff.replace(day=1)


def monthly_sessions(expired: DataFrame, day: dt.date) -> DataFrame:
    """Online sessions -> per customer, month and channel: sessions, page views and time spent."""
    return (expired.groupBy("customer_id", F.trunc("session_date", "month").alias("month"), "channel")
            .agg(F.count("*").alias("sessions"), F.sum("page_views").cast("long").alias("page_views"),
                 F.sum("duration_seconds").cast("long").alias("duration_seconds"))
            .withColumn("aggregated_on", F.lit(day.isoformat()).cast("date")))


# source table -> (target table, the aggregation)
AGGREGATES: dict[str, tuple[str, Callable[[DataFrame, dt.date], DataFrame]]] = {
    "silver.digital_session": ("silver.digital_session_monthly", monthly_sessions),
}
