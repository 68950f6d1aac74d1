"""Identity resolution: silo customer records -> one golden customer id per real person.

Records are linked when they share a blocking key, in order of trust:
  1. national_id  the 9-digit national id / SSN / tax id, digits only
  2. email        lower-cased address
  3. name_dob     normalized first + last name with the birth date
Linked records form clusters (connected components, found by label propagation with plain joins, so
it runs on any Spark engine); a cluster is one person. Each record keeps the most trusted rule that
linked it, or `single_record` when nothing did.
"""

from __future__ import annotations

import logging

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

log = logging.getLogger(__name__)

RULES = ("national_id", "email", "name_dob")


def record_id(df: DataFrame) -> DataFrame:
    return df.withColumn("rec_id", F.concat_ws(":", "silo", "silo_customer_id"))


def blocking_keys(records: DataFrame) -> DataFrame:
    """(rec_id, rule, key) for every usable key of every record."""
    nid = F.when(F.length("national_id_norm") == 9, F.col("national_id_norm"))
    name_dob = F.when(
        (F.length("name_key") > 2) & F.col("birth_date").isNotNull(),
        F.concat_ws("|", "name_key", F.col("birth_date").cast("string")),
    )
    parts = [
        records.select("rec_id", F.lit("national_id").alias("rule"), nid.alias("key")),
        records.select("rec_id", F.lit("email").alias("rule"), F.col("email_norm").alias("key")),
        records.select("rec_id", F.lit("name_dob").alias("rule"), name_dob.alias("key")),
    ]
    keys = parts[0].unionByName(parts[1]).unionByName(parts[2])
    return keys.where(F.col("key").isNotNull())


def links(keys: DataFrame) -> DataFrame:
    """(rec_id, anchor, rule): every record sharing a key is linked to the smallest record id holding it."""
    groups = keys.groupBy("rule", "key").agg(F.min("rec_id").alias("anchor"), F.count("*").alias("n"))
    return keys.join(groups.where("n > 1"), ["rule", "key"]).select("rec_id", "anchor", "rule")


def connected_components(rec_ids: DataFrame, edges: DataFrame, max_iterations: int = 30,
                         materialize=lambda df, i: df) -> DataFrame:
    """(rec_id, cluster): every record labelled with the smallest record id of its component.

    `materialize(df, iteration)` may store each round's labels (the run passes a scratch write), so
    the query plan does not double in size with every iteration."""
    both_ways = edges.select(F.col("rec_id").alias("src"), F.col("anchor").alias("dst")).unionByName(
        edges.select(F.col("anchor").alias("src"), F.col("rec_id").alias("dst"))
    ).distinct()
    labels = rec_ids.select("rec_id", F.col("rec_id").alias("cluster"))
    for iteration in range(max_iterations):
        neighbour_min = (
            both_ways.join(labels.withColumnRenamed("rec_id", "dst"), "dst")
            .groupBy("src").agg(F.min("cluster").alias("neighbour_cluster"))
        )
        updated = labels.join(neighbour_min, labels["rec_id"] == neighbour_min["src"], "left").select(
            "rec_id", F.least("cluster", F.coalesce("neighbour_cluster", "cluster")).alias("cluster")
        )
        updated = materialize(updated, iteration)
        changed = updated.join(labels.withColumnRenamed("cluster", "old"), "rec_id").where(
            F.col("cluster") != F.col("old")
        ).count()
        labels = updated
        if changed == 0:
            log.info("identity clusters converged after %d iterations", iteration + 1)
            return labels
    raise RuntimeError(f"identity resolution did not converge in {max_iterations} iterations")


def customer_id(cluster: F.Column) -> F.Column:
    """A stable golden id derived from the cluster's anchor record (a silo id, not PII)."""
    return F.concat(F.lit("CU"), F.upper(F.substring(F.sha2(cluster, 256), 1, 14)))


def resolve(records: DataFrame, materialize=lambda df, i: df) -> DataFrame:
    """Standardized silo records -> crosswalk (silo, silo_customer_id, customer_id, match_rule)."""
    records = record_id(records)
    edges = links(blocking_keys(records))
    clusters = connected_components(records.select("rec_id").distinct(), edges, materialize=materialize)
    rank = F.create_map(*[x for i, r in enumerate(RULES) for x in (F.lit(r), F.lit(i))])
    best_rule = (
        edges.select("rec_id", "rule").unionByName(
            edges.select(F.col("anchor").alias("rec_id"), "rule")
        )
        .withColumn("rank", rank[F.col("rule")])
        .groupBy("rec_id").agg(F.min_by("rule", "rank").alias("match_rule"))
    )
    return (
        records.select("rec_id", "silo", "silo_customer_id")
        .join(clusters, "rec_id")
        .join(best_rule, "rec_id", "left")
        .select(
            "silo", "silo_customer_id", customer_id(F.col("cluster")).alias("customer_id"),
            F.coalesce("match_rule", F.lit("single_record")).alias("match_rule"),
        )
    )
