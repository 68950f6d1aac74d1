"""The golden customer record: one row per person, direct identifiers replaced by tokens.

Survivorship: each attribute comes from the most trusted silo that has it (deposits, the core banking
master, then cards, then lending).
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.unify.tokenize import token

SILO_TRUST = ("deposits", "cards", "lending")


def _most_trusted(column: str) -> F.Column:
    """The value from the most trusted silo record that has one."""
    candidates = F.collect_list(F.when(F.col(column).isNotNull(), F.struct(F.col("_trust"), F.col(column))))
    return F.get(F.sort_array(candidates), 0).getField(column).alias(column)  # NULL when none has it


def golden_customers(records: DataFrame, crosswalk: DataFrame, accounts: DataFrame, key: str) -> DataFrame:
    trust = F.create_map(*[x for i, s in enumerate(SILO_TRUST) for x in (F.lit(s), F.lit(i))])
    linked = records.join(crosswalk, ["silo", "silo_customer_id"]).withColumn("_trust", trust[F.col("silo")])
    merged = linked.groupBy("customer_id").agg(
        _most_trusted("first_name"), _most_trusted("last_name"), _most_trusted("birth_date"),
        _most_trusted("gender"), _most_trusted("postcode"), _most_trusted("email_norm"),
        _most_trusted("phone_norm"), _most_trusted("national_id_norm"),
        F.count("*").alias("source_records"),
        F.sort_array(F.collect_set("silo")).alias("silos"),
    )
    first_seen = accounts.where(F.col("customer_id").isNotNull()).groupBy("customer_id").agg(
        F.min("open_date").alias("first_seen")
    )
    full_name = F.concat_ws(" ", F.lower("first_name"), F.lower("last_name"))
    return merged.join(first_seen, "customer_id", "left").select(
        "customer_id",
        token(full_name, key, "name").alias("name_token"),
        token(F.col("email_norm"), key, "email").alias("email_token"),
        token(F.col("phone_norm"), key, "phone").alias("phone_token"),
        token(F.col("national_id_norm"), key, "national_id").alias("national_id_token"),
        "birth_date", "gender", "postcode", "silos", "source_records", "first_seen",
    )
