"""Thin runs of the gold steps: read silver/gold tables, call the pure builders, publish one date (validated by
its suite, written as the registry declares: jobs/publish.py)."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import functions as F

from jobs.gold.customer_360 import Silver, build_customer_360
from jobs.gold.training_set import build_training_set, training_dates
from jobs.publish import publish
from jobs.tables import Lakehouse


def silver(lh: Lakehouse) -> Silver:
    """The silver tables gold is built from; builders read them as known on their date (Silver.known_by)."""
    return Silver(customers=lh.read("silver.customer_version"), accounts=lh.read("silver.account"),
                  balances=lh.read("silver.account_balance"), transactions=lh.read("silver.transaction"),
                  sessions=lh.read("silver.digital_session"), offer_events=lh.read("silver.offer_event"),
                  life_events=lh.read("silver.life_event"), first_load=lh.first_load())


def customer_360(lh: Lakehouse, day: dt.date) -> dict[str, int]:
    df = build_customer_360(silver(lh), day)
    return publish(lh, "gold.customer_360", df, day)


def training_set(lh: Lakehouse, day: dt.date) -> tuple[dict[str, int], list[dt.date]]:
    """Every as-of date the data supports on `day` (see training_dates), each published (its rows replaced);
    the counts are summed over the dates."""
    s = silver(lh).known_by(day)  # labels too: what was known on the run's date, whenever it runs
    first = s.transactions.agg(F.min("txn_date")).collect()[0][0]
    if first is None:
        raise ValueError("silver.transaction is empty: run ingest and silver first")
    settings = lh.settings
    dates = training_dates(first, day, settings.label_horizon_days, settings.label_maturity_days)
    if not dates:
        raise ValueError(f"no as-of date to train on by {day}: the data starts on {first}; an as-of date needs "
                         f"90 days of history and {settings.label_horizon_days + settings.label_maturity_days} days "
                         "after it (label horizon + maturity)")
    counts: dict[str, int] = {}
    for as_of in dates:
        df = build_training_set(s, as_of, settings.label_horizon_days)
        for name, n in publish(lh, "gold.training_set", df, as_of).items():
            counts[name] = counts.get(name, 0) + n
    return counts, dates

