"""Keyed hashing of direct identifiers: the same value gives the same token (so silver can still join
and match on it), but without the key a token cannot be turned back or guessed from a list of values."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F


def person_tokens(key: str) -> dict[str, Column]:
    """The tokens of a standardized customer record's direct identifiers (first_name, last_name, email_norm,
    phone_norm, national_id_norm), by the column names the golden record gives them."""
    full_name = F.concat_ws(" ", F.lower("first_name"), F.lower("last_name"))
    return {
        "name_token": token(full_name, key, "name"),
        "email_token": token(F.col("email_norm"), key, "email"),
        "phone_token": token(F.col("phone_norm"), key, "phone"),
        "national_id_token": token(F.col("national_id_norm"), key, "national_id"),
    }


def token(value: Column, key: str, kind: str) -> Column:
    """sha256(key | kind | value); NULL stays NULL. `kind` keeps an email and a phone that happen to
    share digits from getting the same token."""
    return F.when(value.isNull() | (value == ""), F.lit(None)).otherwise(
        F.sha2(F.concat_ws("|", F.lit(key), F.lit(kind), value), 256)
    )
