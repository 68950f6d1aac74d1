"""Keyed hashing of direct identifiers: the same value gives the same token (so silver can still join
and match on it), but without the key a token cannot be turned back or guessed from a list of values."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F


def token(value: Column, key: str, kind: str) -> Column:
    """sha256(key | kind | value); NULL stays NULL. `kind` keeps an email and a phone that happen to
    share digits from getting the same token."""
    return F.when(value.isNull() | (value == ""), F.lit(None)).otherwise(
        F.sha2(F.concat_ws("|", F.lit(key), F.lit(kind), value), 256)
    )
