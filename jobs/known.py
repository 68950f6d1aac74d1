"""Known-as-of: what the lakehouse knew on a date, so any date replays to the same answer.

Every silver row carries `_known_on`, the logical date on which the lakehouse learned it: the date of the
export that brought it, or, for a row that waited for a late parent (a transaction whose account arrived
days later), the date its parent became known. A master record (a silo customer, an account) is known
from the first snapshot that held it, and an activity row sent again (exports overlap, a correction) from the
first export that brought it.

Gold, scores, decisions and KPIs as of a date D read only rows known by D. An event dated D that arrived
on D+1 could not have informed a decision on D, and reading it on a re-run of D would make the lakehouse
depend on when and how often dates were run, not only on the data. Dates before the first load are the
exception: the history a first (full) export brings is the bank's record of those days, kept as it
happened, so as-of dates before the first load (the training dates) see the whole first load and nothing
that arrived after it.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

KNOWN_ON = "_known_on"          # the logical date a silver row became known
SNAPSHOT_DATE = "_snapshot_date"  # the snapshot a master row's values come from (the newest wins)
ARRIVED_ON = "_arrived_on"      # the export an activity row's values came in (the newest wins)


def visible_on(day: dt.date, first_load: dt.date | None) -> dt.date:
    """The latest `_known_on` a reader as of `day` may see: the day itself, or for a day before the
    first load, the first load (its history is the record of those days)."""
    return max(day, first_load) if first_load else day


def known_by(df: DataFrame, day: dt.date, first_load: dt.date | None) -> DataFrame:
    """The rows of a silver table known on `day` (see visible_on)."""
    return df.where(F.col(KNOWN_ON) <= F.lit(visible_on(day, first_load)))
