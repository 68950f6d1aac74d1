"""gold.next_best_offer: for each customer, the product with the highest propensity among those the
customer does not hold yet, with the score and the reason the model gave."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F


def choose_offers(scores: DataFrame, as_of: dt.date) -> DataFrame:
    """scores: customer_id, product, probability, model_version, reason (one row per eligible product)."""
    best_first = Window.partitionBy("customer_id").orderBy(F.desc("probability"), F.asc("product"))
    ranked = scores.withColumn("rank", F.row_number().over(best_first))
    return ranked.where(F.col("rank") == 1).select(
        F.lit(as_of).alias("as_of_date"), "customer_id", "product",
        F.col("probability").alias("score"), "rank", "reason", "model_version",
    )
