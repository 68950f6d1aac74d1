"""gold.training_set: point-in-time features at a cutoff with labels from the horizon after it.

label_<product> = 1 when a customer who did not hold the product at the cutoff opened it within
`horizon_days` after. Features come from build_customer_360(cutoff), so nothing after the cutoff
leaks into them; only the labels look ahead.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.gold.customer_360 import build_customer_360

PROPENSITY_PRODUCTS = ("credit_card", "savings", "personal_loan")


def training_cutoff(logical_date: dt.date, horizon_days: int) -> dt.date:
    """The latest as-of date whose whole label horizon is already observed on the logical date."""
    return logical_date - dt.timedelta(days=horizon_days)


def build_training_set(customers: DataFrame, accounts: DataFrame, balances: DataFrame, txns: DataFrame,
                       cutoff: dt.date, horizon_days: int) -> DataFrame:
    features = build_customer_360(customers, accounts, balances, txns, cutoff)
    horizon_end = cutoff + dt.timedelta(days=horizon_days)
    opened = (
        accounts.where((F.col("open_date") > F.lit(cutoff)) & (F.col("open_date") <= F.lit(horizon_end)))
        .groupBy("customer_id")
        .agg(*[F.max(F.when(F.col("product") == p, 1).otherwise(0)).alias(f"opened_{p}")
               for p in PROPENSITY_PRODUCTS])
    )
    df = features.join(opened, "customer_id", "left")
    labels = [
        F.when((F.coalesce(F.col(f"opened_{p}"), F.lit(0)) == 1) & (F.col(f"has_{p}") == 0), 1)
        .otherwise(0).alias(f"label_{p}")
        for p in PROPENSITY_PRODUCTS
    ]
    return df.select(*features.columns, *labels)
