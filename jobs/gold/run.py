"""Thin runs of the gold steps: read silver/gold tables, call the pure builders, publish one date (validated by
its suite, written as the registry declares: jobs/publish.py)."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.gold.customer_360 import Silver, build_customer_360
from jobs.gold.kpis import kpi_by_segment, kpi_table, per_customer
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


def _product_values(lh: Lakehouse) -> DataFrame:
    """product -> the catalog's value model (the first offer of each product)."""
    from jobs.decide.catalog import load_catalog

    seen: dict[str, tuple] = {}
    for o in load_catalog().offers:
        seen.setdefault(o.product, (o.product, o.value_amount, o.value_income_rate))
    return lh.spark.createDataFrame(list(seen.values()), "product string, value_amount double, income_rate double")


def kpis(lh: Lakehouse, day: dt.date) -> dict[str, int]:
    from jobs.decide.arbitrate import in_holdout
    from jobs.decide.catalog import load_policy
    from jobs.decide.pricing import offer_value

    c360 = lh.read("gold.customer_360").where(f"as_of_date = DATE'{day.isoformat()}'")
    holdout = c360.select("customer_id", in_holdout(load_policy().holdout_share).alias("holdout"))
    # Only what was known on the day: a re-run of the day, once more responses came in, reads the same.
    opened = lh.read_known("silver.account", day).select(
        "customer_id", "product", F.to_date("open_date").alias("open_date"), F.lit(False).alias("from_offer"))
    if lh.exists("silver.offer_response"):
        # Products opened from our offers, as fulfilment reports them (the silo exports may not show them yet).
        opened = opened.unionByName(lh.read_known("silver.offer_response", day).where(
            "event_type = 'product_opened'").select(
            "customer_id", "product", F.to_date("event_at").alias("open_date"), F.lit(True).alias("from_offer")))
    openings = (opened.join(_product_values(lh), "product")
                .join(c360.select("customer_id", "income_monthly"), "customer_id")
                .select("customer_id", "open_date", "from_offer",
                        offer_value(F.col("value_amount"), F.col("income_rate"),
                                    F.col("income_monthly")).alias("value")))
    offers = (lh.read("audit.decision_log").where("outcome = 'offered'").select("customer_id", "decision_id",
                                                                                  "as_of_date")
              if lh.exists("audit.decision_log")
              else lh.spark.createDataFrame([], "customer_id string, decision_id string, as_of_date date"))
    accepted = (lh.read_known("silver.offer_response", day).where("event_type = 'accepted'").select("decision_id")
                if lh.exists("silver.offer_response") else lh.spark.createDataFrame([], "decision_id string"))
    values = lh.scratch(per_customer(c360, holdout, openings, offers, accepted, day), "kpi_values")
    return publish(lh, "gold.kpi_daily", kpi_table(values, day), day) | publish(
        lh, "gold.kpi_by_segment", kpi_by_segment(values, day), day)
