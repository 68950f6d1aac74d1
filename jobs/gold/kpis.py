"""gold.kpi_daily: the relationship KPIs of one date, computed from that date's customer-360.

- retention_rate: of the customers active (any transaction) in the 30 days before the last 30,
  the share still active in the last 30 days.
- wallet_share: the share of customers' outgoing money that stayed with the bank in the last 30 days:
  1 - transfers out to other institutions / all outflows.
- engagement_frequency: the average share of the last 30 days on which a customer transacted.
- products_per_customer: average distinct products held (product consolidation);
  multi_product_share: the share of customers holding two products or more.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

RATIO_KPIS = ("retention_rate", "wallet_share", "engagement_frequency", "multi_product_share")


def _exact_sum(column: str):
    """Money summed as decimals: a double sum varies with row order, and a re-run must not."""
    return F.sum(F.col(column).cast("decimal(20,2)")).cast("double")


def _ratio(numerator, denominator):
    return F.when(denominator > 0, numerator / denominator).otherwise(F.lit(None).cast("double"))


def build_kpi_daily(c360: DataFrame, offers: DataFrame, as_of: dt.date) -> DataFrame:
    kpis = c360.agg(
        F.count("*").alias("customers"),
        F.sum(F.col("active_30d").cast("int")).alias("active_customers_30d"),
        _ratio(F.sum((F.col("active_prev_30d") & F.col("active_30d")).cast("int")),
               F.sum(F.col("active_prev_30d").cast("int"))).alias("retention_rate"),
        (F.lit(1.0) - _ratio(_exact_sum("external_transfer_out_30d"), _exact_sum("outflow_30d"))).alias("wallet_share"),
        (F.avg("engagement_days_30d") / 30.0).alias("engagement_frequency"),
        F.avg("products_held").alias("products_per_customer"),
        F.avg((F.col("products_held") >= 2).cast("double")).alias("multi_product_share"),
    )
    offered = offers.agg(F.count("*").alias("offers_published"))
    return kpis.crossJoin(offered).select(F.lit(as_of).alias("as_of_date"), "*")
