"""Thin run of the KPI step: read gold.customer_360, the accounts, the decision log and the responses of a
date, call the pure builders in kpis.py, write gold.kpi_daily and gold.kpi_by_segment.

(The fairness check is written by the offers step, jobs.decide.run.publish, because it gates the publish.)
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.decide.catalog import load_catalog, load_policy
from jobs.domain import in_holdout, offer_value
from jobs.measure.kpis import kpi_by_segment, kpi_table, per_customer
from jobs.publish import publish
from jobs.tables import Lakehouse


def _product_values(lh: Lakehouse) -> DataFrame:
    """product -> the catalog's value model (the first offer of each product)."""
    seen: dict[str, tuple] = {}
    for o in load_catalog().offers:
        seen.setdefault(o.product, (o.product, o.value_amount, o.value_income_rate))
    return lh.spark.createDataFrame(list(seen.values()), "product string, value_amount double, income_rate double")


def kpis(lh: Lakehouse, day: dt.date) -> dict[str, int]:
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
