"""Keyed hashing of direct identifiers: the same value gives the same token (so silver can still join
and match on it), but without the key a token cannot be turned back or guessed from a list of values."""

from __future__ import annotations

import re

from pyspark.sql import Column
from pyspark.sql import functions as F

# What a token is of: the `kind` hashed with the value. A column holding tokens is named `<kind>_token`, with a
# suffix where a row holds two records' tokens (audit.identity_review's `name_token_a`, `name_token_b`): the
# key rotation (jobs/key_rotation.py) finds every token column of the lakehouse by this name.
KINDS = ("name", "email", "phone", "national_id", "street")
_TOKEN_COLUMN = re.compile(rf"({'|'.join(KINDS)})_token(_[a-z]+)?")


def token_kind(column: str) -> str | None:
    """The kind of the tokens a column holds by its name (`email_token_a` -> email), or None for other columns."""
    found = _TOKEN_COLUMN.fullmatch(column)
    return found.group(1) if found else None


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


def token(value: Column, key: str, kind: str | Column) -> Column:
    """sha256(key | kind | value); NULL stays NULL. `kind` keeps an email and a phone that happen to
    share digits from getting the same token (a column of kinds where rows differ: the key rotation's map)."""
    return F.when(value.isNull() | (value == ""), F.lit(None)).otherwise(
        F.sha2(F.concat_ws("|", F.lit(key), F.lit(kind) if isinstance(kind, str) else kind, value), 256)
    )
