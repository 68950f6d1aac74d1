"""The ids of the people erased keep them out of the lakehouse: a later export that still carries one of them
(a silo that has not deleted the person yet, a re-sent file) has those rows dropped at ingest, and counted.

audit.erasure_tombstone holds (kind, silo, id): kind `customer` (a silo customer id), `account` (an account, card
or loan), `golden` (a golden customer id, as the channels' responses name the customer). An export's rows are
matched by the same columns an erasure deletes them by (jobs/privacy/locate.py), with an anti-join, so the
tombstones never reach the driver; a line that could not be split into columns (quarantined as malformed) by
any of its fields.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.privacy.locate import SILO_EXPORT_COLUMNS
from jobs.tables import Lakehouse

TOMBSTONES = "audit.erasure_tombstone"


def tombstones(lh: Lakehouse) -> DataFrame | None:
    """The tombstones, or None when nobody was ever erased (the common case costs one lookup)."""
    if not lh.exists(TOMBSTONES):
        return None
    df = lh.read(TOMBSTONES)
    return df if df.limit(1).count() else None


def _person_columns(bronze_name: str, columns: list[str]) -> list[tuple[str, F.Column, F.Column]]:
    """(kind, the silo as a column, the id column) of each way an export's rows name a person."""
    found = []
    if bronze_name in SILO_EXPORT_COLUMNS:
        silo, named_by = SILO_EXPORT_COLUMNS[bronze_name]
        found += [(kind, F.lit(silo), F.trim(F.col(column))) for kind, column in named_by.items() if column in columns]
    if {"customer_silo", "customer_ref"} <= set(columns):
        found.append(("customer", F.trim(F.col("customer_silo")), F.trim(F.col("customer_ref"))))
    if "customer_id" in columns:
        found.append(("golden", F.lit(""), F.trim(F.col("customer_id"))))
    return found


def drop_erased(rows: DataFrame, bronze_name: str, erased: DataFrame) -> DataFrame:
    """`rows` of an export (bronze.<bronze_name>'s columns) without those naming an erased person."""
    for kind, silo, id_ in _person_columns(bronze_name, rows.columns):
        ids = erased.where(F.col("kind") == kind).select(F.col("silo").alias("_t_silo"), F.col("id").alias("_t_id"))
        rows = (rows.withColumn("_silo", silo).withColumn("_id", id_)
                .join(ids, (F.col("_silo") == F.col("_t_silo")) & (F.col("_id") == F.col("_t_id")), "left_anti")
                .drop("_silo", "_id"))
    return rows


def erased_values(erased: DataFrame) -> set[str]:
    """Every id erased, as text: for the lines that could not be split into columns (no column says the kind).
    The erasures' ids, not the customer base: a few per person ever erased."""
    return {r[0] for r in erased.select("id").distinct().collect()}
