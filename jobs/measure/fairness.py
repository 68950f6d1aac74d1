"""Fairness check of a date's decisions across protected groups (age band, gender).

For every group of adults outside the holdout: the share offered anything in the policy's window
(7 days: the contact caps spread a customer's offers over the week, so one day alone says more about
who was contacted yesterday than about the policy) and, per priced offer, the average approved price. Each is
compared with the best-treated group of the same dimension:
- offer rate: group rate / highest group rate;
- loan APR (lower is better for the customer): lowest group average / group average;
- deposit rate and credit limit (higher is better): group average / highest group average.
A ratio below the policy's `min_ratio` (the four-fifths rule: 0.8) is flagged; groups smaller than
`min_group_size` are reported but never flagged (too few to judge).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from jobs.contracts import MONEY_SUM
from jobs.domain import age_band

if TYPE_CHECKING:  # the offers step imports this module: importing decide here would make a cycle
    from jobs.decide.catalog import Policy


def fairness_report(decisions: DataFrame, c360: DataFrame, policy: Policy) -> DataFrame:
    """as_of_date, dimension, group, metric, customers, value, ratio, flagged.

    decisions: the decision log of the window ending on the date of `c360` (one date's customers)."""
    people = (c360.where(F.col("age") >= 18)
              .select("as_of_date", "customer_id", age_band(F.col("age")).alias("age_band"),
                      F.coalesce(F.col("gender"), F.lit("unknown")).alias("gender")))
    per_customer = decisions.groupBy("customer_id").agg(
        F.max(F.col("holdout").cast("int")).alias("holdout"),
        F.max((F.col("outcome") == "offered").cast("int")).alias("offered"))
    treated = people.join(per_customer.where("holdout = 0"), "customer_id")
    prices = (decisions.where((F.col("outcome") == "offered") & F.col("price").isNotNull())
              .select("customer_id", "offer_id", "price", "price_kind"))
    frames = []
    for dim in policy.fairness_dimensions:
        if dim not in ("age_band", "gender"):
            raise ValueError(f"unknown fairness dimension {dim!r}; known: age_band, gender")
        rates = (treated.groupBy("as_of_date", F.col(dim).alias("group"))
                 .agg(F.count("*").alias("customers"), F.avg("offered").alias("value"))
                 .withColumn("metric", F.lit("offer_rate")).withColumn("better", F.lit("higher")))
        priced = (treated.join(prices, "customer_id")
                  .groupBy("as_of_date", F.col(dim).alias("group"), "offer_id", "price_kind")
                  # A decimal sum (prices have 2 places): a double sum depends on the order rows arrive in,
                  # and a re-run of the date must write the same table.
                  .agg(F.count("*").alias("customers"),
                       (F.sum(F.col("price").cast(MONEY_SUM)).cast("double") / F.count("price")).alias("value"))
                  .withColumn("metric", F.concat(F.lit("price:"), F.col("offer_id")))
                  .withColumn("better", F.when(F.col("price_kind") == "loan_apr", "lower").otherwise("higher"))
                  .drop("offer_id", "price_kind"))
        frames.append(rates.unionByName(priced).withColumn("dimension", F.lit(dim)))
    report = frames[0]
    for f in frames[1:]:
        report = report.unionByName(f)
    big_enough = F.col("customers") >= policy.fairness_min_group
    same = Window.partitionBy("as_of_date", "dimension", "metric")
    best_high = F.max(F.when(big_enough, F.col("value"))).over(same)
    best_low = F.min(F.when(big_enough, F.col("value"))).over(same)
    ratio = (F.when(F.col("better") == "lower", best_low / F.col("value"))
             .otherwise(F.col("value") / best_high))
    ratio = F.when(F.col("value") == 0, F.when(best_high == 0, 1.0).otherwise(0.0)).otherwise(ratio)
    return (report.withColumn("ratio", F.round(ratio, 4))
            .withColumn("flagged", big_enough & (F.col("ratio") < policy.fairness_min_ratio))
            .select("as_of_date", "dimension", "group", "metric", "customers", F.round("value", 4).alias("value"),
                    "ratio", "flagged"))
