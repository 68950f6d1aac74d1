"""Channel tables: the offered decisions of a date as each channel presents them, and their exports.

Each row carries the pre-approved content assembled for the customer (the body with the customer's
price filled in), the mandatory disclosure, the price, the score, the reason in words, the validity
window and the decision id the channel reports responses with. The contract the channels rely on is
schemas/channels/offers.json; tests keep the tables equal to it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.decide.catalog import CHANNELS, Catalog

CONTRACT = Path(__file__).resolve().parents[2] / "schemas" / "channels" / "offers.json"


def contract_columns() -> list[str]:
    return [c["name"] for c in json.loads(CONTRACT.read_text())["columns"]]


def channel_table(channel: str) -> str:
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; channels: {', '.join(CHANNELS)}")
    return f"gold.offers_{channel}"


def content_frame(spark: SparkSession, catalog: Catalog) -> DataFrame:
    rows = [(o.offer_id, o.headline, o.body, o.disclosure, o.image, o.validity_days) for o in catalog.offers]
    return spark.createDataFrame(rows, "offer_id string, headline string, body_template string, "
                                       "disclosure string, image string, content_validity_days int")


def price_text():
    """4.10% APY, 11.99% APR, $5,000."""
    return (F.when(F.col("price_kind") == "credit_limit", F.concat(F.lit("$"), F.format_number("price", 0)))
            .otherwise(F.concat(F.format_string("%.2f", F.col("price")), F.col("price_unit"))))


def channel_offers(decisions: DataFrame, content: DataFrame, channel: str) -> DataFrame:
    """The offered decisions on `channel`, in the contract's columns. `decisions` are the decision-log
    rows of one date with price_kind (from the catalog) still attached."""
    offered = decisions.where((F.col("outcome") == "offered") & (F.col("channel") == channel))
    body = F.when(F.col("price").isNull(), F.col("body_template")).otherwise(
        F.replace(F.col("body_template"), F.lit("{price}"), price_text()))
    return (offered.join(content, "offer_id")
            .withColumn("body", body)
            .withColumn("valid_from", F.date_add(F.col("as_of_date"), 1))
            .withColumn("valid_to", F.date_add(F.col("as_of_date"), F.col("content_validity_days")))
            .select("as_of_date", "customer_id", "rank", "offer_id", "product", "headline", "body", "disclosure",
                    "image", "price", "price_unit", F.col("probability").alias("score"), "reason", "valid_from",
                    "valid_to", "decision_id", "catalog_version", "policy_version"))


def export_path(home: Path, channel: str, day: dt.date, suffix: str) -> Path:
    return home / "exports" / channel / f"{day.isoformat()}.{suffix}"


def write_exports(home: Path, channel: str, day: dt.date, frame) -> list[Path]:
    """Parquet and CSV of one channel's offers of `day` (a pandas frame); each file appears whole or not
    at all (written aside, then renamed), and a re-run replaces it."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    written = []
    for suffix in ("parquet", "csv"):
        target = export_path(home, channel, day, suffix)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        if suffix == "parquet":
            pq.write_table(table, partial)
        else:
            pacsv.write_csv(table, partial)
        os.replace(partial, target)
        written.append(target)
    return written
