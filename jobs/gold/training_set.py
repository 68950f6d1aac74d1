"""gold.training_set: point-in-time features at several as-of dates, with the labels that followed.

For every as-of date t (month ends, see `training_dates`), the row of each customer is the customer-360
as of t (features know nothing after t) plus, per target (jobs/gold/targets.py):
- `eligible_<target>`: the customer is in the model's population at t (e.g. does not hold the product);
- `label_<target>`: it happened in the horizon after t, (t, t + horizon]: the product was opened, or
  the customer declared the life event as happening on a day in it.
Training uses several as-of dates and validates on the later ones (out of time, jobs/models/train.py).
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.gold.customer_360 import Silver, build_customer_360
from jobs.gold.targets import TARGETS

FEATURE_HISTORY_DAYS = 90  # the longest behaviour window: an as-of date needs this much data before it


def latest_training_date(logical_date: dt.date, horizon_days: int, maturity_days: int) -> dt.date:
    """The last as-of date whose labels were settled on the logical date: its horizon over, and the maturity
    after it (late declarations) passed too."""
    return logical_date - dt.timedelta(days=horizon_days + maturity_days)


def settled_by(rows: DataFrame, logical_date: dt.date, horizon_days: int, maturity_days: int) -> DataFrame:
    """The training rows a run on the logical date may learn from: as-of dates whose labels were settled by then.
    gold.training_set keeps every as-of date any run wrote, so without this a weekly run for a date, re-run
    after a later date's, trained and tested on as-of dates its own date could not know."""
    latest = latest_training_date(logical_date, horizon_days, maturity_days)
    return rows.where(F.col("as_of_date") <= F.lit(latest))


def training_dates(first_data: dt.date, logical_date: dt.date, horizon_days: int, maturity_days: int) -> list[dt.date]:
    """Month ends t with a full feature history before them (t - 90 days >= the first data) and a
    label horizon that is over and settled by the logical date (t + horizon + maturity <= it: life
    events are declared days or weeks after they happen)."""
    latest = latest_training_date(logical_date, horizon_days, maturity_days)
    earliest = first_data + dt.timedelta(days=FEATURE_HISTORY_DAYS)
    dates, month = [], dt.date(earliest.year, earliest.month, 1)
    while month <= latest:
        nxt = dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)
        end = nxt - dt.timedelta(days=1)
        if earliest <= end <= latest:
            dates.append(end)
        month = nxt
    return dates


def build_labels(accounts: DataFrame, life_events: DataFrame, as_of: dt.date, horizon_days: int) -> DataFrame:
    """customer_id + opened_<product> / happened_<event> flags for the horizon after as_of."""
    start, end = F.lit(as_of), F.lit(as_of + dt.timedelta(days=horizon_days))
    products = [t.name for t in TARGETS.values() if t.kind == "product"]
    events = [t.name for t in TARGETS.values() if t.kind == "life_event"]
    opened = accounts.where((F.col("open_date") > start) & (F.col("open_date") <= end)).groupBy("customer_id").agg(
        *[F.max(F.when(F.col("product") == p, 1).otherwise(0)).alias(f"_happened_{p}") for p in products])
    happened = life_events.where((F.col("event_date") > start) & (F.col("event_date") <= end)).groupBy(
        "customer_id").agg(*[F.max(F.when(F.col("event_type") == e, 1).otherwise(0)).alias(f"_happened_{e}")
                             for e in events])
    return opened.join(happened, "customer_id", "full")


def build_training_set(silver: Silver, as_of: dt.date, horizon_days: int) -> DataFrame:
    features = build_customer_360(silver, as_of)
    df = features.join(build_labels(silver.accounts, silver.life_events, as_of, horizon_days), "customer_id", "left")
    columns = []
    for t in TARGETS.values():
        eligible = F.expr(t.eligible)
        columns.append(F.coalesce(eligible, F.lit(False)).alias(f"eligible_{t.name}"))
        columns.append((F.coalesce(eligible, F.lit(False)) & (F.coalesce(F.col(f"_happened_{t.name}"), F.lit(0)) == 1))
                       .cast("int").alias(t.label))
    return df.select(*features.columns, *columns)
