"""Channel tables: the offered decisions of a date as each channel presents them, their exports, and the
publication marker that says a date was published.

Each row carries the pre-approved content assembled for the customer (the body with the customer's
price filled in), the mandatory disclosure, the price, the score, the reason in words, the validity
window and the decision id the channel reports responses with. The contract the channels rely on is
schemas/channels/offers.json; tests keep the tables equal to it.

gold.channel_publication holds one row per channel and published date, written last by the run that
published it: a date without a row was never published (a channel asking for it gets an error, not an
empty list), and a date with a row and 0 offers was published empty. A re-run that publishes the same
rows (the same export checksum) keeps the row as it was: the first publication's time, its table version
(which still reads the same rows) and its revision; a forced republish that changed them writes a new time,
version and revision.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.decide.catalog import Catalog
from jobs.domain import CHANNELS
from jobs.resources import resource_dir

CONTRACT = resource_dir("schemas") / "channels" / "offers.json"  # packaged copy when installed
PUBLICATION = "gold.channel_publication"
PUBLICATION_SCHEMA = ("as_of_date date, channel string, offers bigint, decisions bigint, superseded bigint, "
                      "revision int, published_at timestamp, channel_table string, table_version bigint, "
                      "catalog_version string, policy_version string, model_versions string, export_parquet string, "
                      "export_csv string, content_sha256 string")

log = logging.getLogger(__name__)


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


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def publication_row(channel: str, day: dt.date, *, offers: int, table_version: int, exports: list[Path],
                    decisions: int, superseded: int, catalog_version: str, policy_version: str, model_versions: str,
                    previous: dict | None, now: dt.datetime) -> dict:
    """The gold.channel_publication row of one channel and date. `exports` are the Parquet and CSV files
    written (the checksum is the CSV's); `previous` is the row an earlier run wrote for the same channel and
    date: when it published the same rows, its time, table version and revision stay."""
    parquet, csv = (str(p) for p in exports)
    checksum = file_sha256(Path(csv))
    same = previous is not None and previous["content_sha256"] == checksum and previous["offers"] == offers
    revision = (previous["revision"] if same else previous["revision"] + 1) if previous is not None else 1
    return {"as_of_date": day, "channel": channel, "offers": offers, "decisions": decisions, "superseded": superseded,
            "revision": revision, "published_at": previous["published_at"] if same else now,
            "channel_table": channel_table(channel),
            "table_version": previous["table_version"] if same else table_version,
            "catalog_version": catalog_version, "policy_version": policy_version, "model_versions": model_versions,
            "export_parquet": parquet, "export_csv": csv, "content_sha256": checksum}


def _rows(lh, name: str, filters: list[tuple], version: int | None = None):
    """The rows of a table matching `filters` ((column, "=", value), ...) as an Arrow table: read through Spark
    in a step; without a Spark session (the CLI's `offers`), with delta-rs (jobs/maintenance.py)."""
    if lh.spark is None:
        return lh.rows(name, version, filters=filters)
    df = lh.read(name, version=version)
    for column, _, value in filters:
        df = df.where(F.col(column) == F.lit(value))
    return df.toArrow()


def publications(lh, channel: str | None = None, day: dt.date | None = None) -> list[dict]:
    """Rows of gold.channel_publication, by channel and date."""
    if not lh.exists(PUBLICATION):
        return []
    filters = [("channel", "=", channel)] if channel else []
    if day is not None:
        filters.append(("as_of_date", "=", day))
    rows = _rows(lh, PUBLICATION, filters).to_pylist()
    return sorted(rows, key=lambda r: (r["as_of_date"], r["channel"]))


def publication(lh, channel: str, day: dt.date | None = None) -> dict:
    """The publication of a channel's offers of `day`, or of its latest published date when `day` is None.
    A date that was never published is an error naming the published dates nearest to it."""
    name = channel_table(channel)
    published = publications(lh, channel)
    if not published:
        raise LookupError(f"no {channel} offers have been published yet ({PUBLICATION} has no row for {channel}); "
                          "run the offers step first")
    if day is None:
        return published[-1]
    for row in published:
        if row["as_of_date"] == day:
            return row
    dates = [r["as_of_date"] for r in published]
    before, after = [d for d in dates if d < day][-3:], [d for d in dates if d > day][:3]
    near = ", ".join(d.isoformat() for d in before + after)
    raise LookupError(f"the {channel} offers of {day} were never published ({PUBLICATION} has no row for them, so "
                      f"{name} holds nothing a channel may pull for that date); published dates nearest to it: {near}")


def pull_offers(lh, channel: str, day: dt.date | None = None):
    """(publication row, pandas frame): a channel's offers of a published date (the latest when `day` is None),
    read at the table version the publication recorded, so a publish in progress is not seen; when that
    version can no longer be read (vacuumed), the current rows of the date, if they are as many."""
    from pyspark.errors import PySparkException

    from jobs.maintenance import delta_error

    marker = publication(lh, channel, day)
    name, filters = marker["channel_table"], [("as_of_date", "=", marker["as_of_date"])]
    try:
        frame = _rows(lh, name, filters, version=marker["table_version"]).to_pandas()
    except (delta_error(), PySparkException, OSError) as exc:
        log.warning("%s version %s is no longer readable (%s); reading the current rows of %s",
                    marker["channel_table"], marker["table_version"], exc, marker["as_of_date"])
        frame = _rows(lh, name, filters).to_pandas()
        if len(frame) != marker["offers"]:
            raise LookupError(f"{marker['channel_table']} holds {len(frame)} row(s) of {marker['as_of_date']} but "
                              f"{marker['offers']} were published; run the offers step for that date again") from None
    return marker, frame.sort_values(["customer_id", "rank"]).reset_index(drop=True)
