"""The golden customer record: one row per person, direct identifiers replaced by tokens.

Survivorship: each attribute comes from the most trusted silo that has it (deposits, the core banking
master, then cards, then lending); the address (street, locality, state) comes whole from one record, so a
street is never put in another record's town.

The street line is a direct identifier: it leaves silver only as `street_token` (a keyed hash of the
normalized line, like the email, phone and national id). The locality and state stay readable, as the
postcode does: alone, neither singles a person out (the postcode, which silver already keeps, is finer than
either), and analysts and the residency check need the region. Two golden records with the same
`street_token` and postcode share a household's address.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from jobs.lookups import looked_up
from jobs.unify.tokenize import person_tokens, token

SILO_TRUST = ("deposits", "cards", "lending")


def _most_trusted(column: str) -> F.Column:
    """The value from the most trusted silo record that has one."""
    candidates = F.collect_list(F.when(F.col(column).isNotNull(), F.struct(F.col("_trust"), F.col(column))))
    return F.get(F.sort_array(candidates), 0).getField(column).alias(column)  # NULL when none has it


ADDRESS = ("street", "locality", "state")


def _most_trusted_address() -> list[F.Column]:
    """street, locality and state of the most trusted record that has any of them: one record's address."""
    has_address = F.col("street").isNotNull() | F.col("locality").isNotNull() | F.col("state").isNotNull()
    parts = F.struct(*[F.col(c) for c in ADDRESS])
    candidates = F.collect_list(F.when(has_address, F.struct(F.col("_trust"), parts.alias("address"))))
    chosen = F.get(F.sort_array(candidates), 0).getField("address")
    return [chosen.getField(c).alias(c) for c in ADDRESS]


def golden_customers(records: DataFrame, crosswalk: DataFrame, accounts: DataFrame, key: str) -> DataFrame:
    trust = looked_up(F.col("silo"), {s: i for i, s in enumerate(SILO_TRUST)})
    linked = records.join(crosswalk, ["silo", "silo_customer_id"]).withColumn("_trust", trust)
    merged = linked.groupBy("customer_id").agg(
        _most_trusted("first_name"), _most_trusted("last_name"), _most_trusted("birth_date"),
        _most_trusted("gender"), _most_trusted("postcode"), _most_trusted("email_norm"),
        _most_trusted("phone_norm"), _most_trusted("national_id_norm"), *_most_trusted_address(),
        F.count("*").alias("source_records"),
        F.sort_array(F.collect_set("silo")).alias("silos"),
    )
    first_seen = accounts.where(F.col("customer_id").isNotNull()).groupBy("customer_id").agg(
        F.min("open_date").alias("first_seen")
    )
    return merged.join(first_seen, "customer_id", "left").select(
        "customer_id",
        *[column.alias(name) for name, column in person_tokens(key).items()],
        token(F.col("street"), key, "street").alias("street_token"),
        "birth_date", "gender", "postcode", "locality", "state", "silos", "source_records", "first_seen",
    )


# What a version of the golden record holds (first_seen is not one: gold derives it from the accounts it knows).
VERSIONED = ("name_token", "email_token", "phone_token", "national_id_token", "street_token", "birth_date", "gender",
             "postcode", "locality", "state", "silos", "source_records")


def _fingerprint() -> F.Column:
    values = [F.array_join(F.col(c), ",") if c == "silos" else F.col(c).cast("string") for c in VERSIONED]
    return F.sha2(F.concat_ws("|", *[F.coalesce(v, F.lit("\u2205")) for v in values]), 256)


def newest_versions(versions: DataFrame) -> DataFrame:
    """Per customer, the newest version of the golden record in `versions`, unless that one says it is gone."""
    newest = Window.partitionBy("customer_id").orderBy(F.col("_snapshot_date").desc())
    return (versions.withColumn("_n", F.row_number().over(newest)).where("_n = 1 and not _removed")
            .drop("_n"))


def _with_versioned_columns(earlier: DataFrame, current: DataFrame) -> DataFrame:
    """Versions written before a column joined the record (the address) read it as NULL: the first snapshot
    that has it is a new version of every record that has a value for it."""
    types = dict(current.dtypes)
    missing = [c for c in VERSIONED if c not in earlier.columns]
    return earlier.select("*", *[F.lit(None).cast(types[c]).alias(c) for c in missing])


def customer_versions(current: DataFrame, earlier: DataFrame | None, day: dt.date) -> DataFrame:
    """The day's rows of silver.customer_version: every golden record of the day's snapshot that is new or
    differs from its newest earlier version, and a row marking `_removed` each record the snapshot no longer
    has. Gold reads the newest version known by its date, so an earlier date re-run after a later snapshot
    changed a record (a more trusted silo's record arrived) still reads the values it had.
    current: the day's golden records; earlier: silver.customer_version so far (None before the first)."""
    if earlier is not None:
        earlier = _with_versioned_columns(earlier, current)
    if earlier is None:
        before = current.limit(0).select("customer_id", F.lit(None).cast("string").alias("_before"))
    else:
        before = newest_versions(earlier.where(F.col("_snapshot_date") < F.lit(day))).select(
            "customer_id", _fingerprint().alias("_before"))
    changed = (current.select("customer_id", *VERSIONED).withColumn("_now", _fingerprint())
               .join(before, "customer_id", "left").where(~F.col("_before").eqNullSafe(F.col("_now")))
               .select("customer_id", *VERSIONED, F.lit(False).alias("_removed")))
    types = dict(current.dtypes)
    gone = before.join(current.select("customer_id"), "customer_id", "left_anti").select(
        "customer_id", *[F.lit(None).cast(types[c]).alias(c) for c in VERSIONED], F.lit(True).alias("_removed"))
    return (changed.unionByName(gone).withColumn("_snapshot_date", F.lit(day))
            .withColumn("_known_on", F.lit(day)))
