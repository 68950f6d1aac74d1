"""Each silo's customer master -> one common shape, with identifiers normalized for matching.

Output columns: silo, silo_customer_id, first_name, last_name, name_key, birth_date, gender, postcode,
email_norm, phone_norm, national_id_norm. Raw values are still here (this runs on bronze); tokenizing
happens when the golden record is built.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.contracts import load_contract, typed


def latest_export(bronze: DataFrame, logical_date: dt.date) -> DataFrame:
    """The rows of the newest export loaded on or before the logical date (exports are snapshots)."""
    upto = bronze.where(F.col("_logical_date") <= F.lit(logical_date))
    newest = upto.agg(F.max("_logical_date").alias("_newest"))
    return upto.join(newest, upto["_logical_date"] == newest["_newest"]).drop("_newest")


def _letters(c: Column) -> Column:
    return F.regexp_replace(F.lower(F.trim(c)), "[^a-z]", "")


def _digits(c: Column) -> Column:
    d = F.regexp_replace(c, "[^0-9]", "")
    return F.when(d == "", F.lit(None)).otherwise(d)


def _common(df: DataFrame, silo: str, id_col: str, first: Column, last: Column, birth: str,
            email: str, phone: str, national_id: str, postcode: str, gender: Column) -> DataFrame:
    email_norm = F.lower(F.trim(F.col(email)))
    return df.select(
        F.lit(silo).alias("silo"),
        F.col(id_col).cast("string").alias("silo_customer_id"),
        F.initcap(F.lower(F.trim(first))).alias("first_name"),
        F.initcap(F.lower(F.trim(last))).alias("last_name"),
        F.concat_ws(" ", _letters(first), _letters(last)).alias("name_key"),
        F.col(birth).alias("birth_date"),
        gender.alias("gender"),
        F.col(postcode).alias("postcode"),
        F.when(email_norm.contains("@"), email_norm).alias("email_norm"),
        F.substring(_digits(F.col(phone)), -10, 10).alias("phone_norm"),
        _digits(F.col(national_id)).alias("national_id_norm"),
    )


def deposits_customers(bronze: DataFrame) -> DataFrame:
    df = typed(bronze, load_contract("deposits", "customers"))
    parts = F.split(F.trim(F.col("full_name")), r"\s+")
    return _common(df, "deposits", "cif_id", F.get(parts, 0), F.element_at(parts, -1), "birth_date",
                   "email", "phone", "national_id", "postcode", F.col("gender"))


def cards_cardholders(bronze: DataFrame) -> DataFrame:
    df = typed(bronze, load_contract("cards", "cardholders"))
    return _common(df, "cards", "holder_ref", F.col("first_name"), F.col("last_name"), "birth_date",
                   "email", "phone", "ssn", "zip", F.lit(None).cast("string"))


def lending_borrowers(bronze: DataFrame) -> DataFrame:
    df = typed(bronze, load_contract("lending", "borrowers"))
    # "DOE, JANE": surname first
    parts = F.split(F.col("name"), ",")
    last, first = F.trim(F.get(parts, 0)), F.trim(F.get(parts, 1))  # NULL, not an error, without a comma
    return _common(df, "lending", "borrower_no", first, last, "dob", "email", "phone", "tax_id",
                   "postal_code", F.lit(None).cast("string"))


def all_silo_customers(deposits: DataFrame, cards: DataFrame, lending: DataFrame) -> DataFrame:
    return deposits_customers(deposits).unionByName(cards_cardholders(cards)).unionByName(
        lending_borrowers(lending)
    )
