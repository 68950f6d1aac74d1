"""Each silo's customer master -> one common shape, with identifiers normalized for matching.

Output columns: silo, silo_customer_id, first_name, last_name, name_key, birth_date, gender, postcode,
email_norm, phone_norm, national_id_norm, street, locality, state (the address, normalized by
jobs/unify/address.py: "12 north oak street", "saint louis", "MO"). Raw values are still here (this runs on
bronze); tokenizing happens when the golden record is built. A bronze table written before the contract had
the address reads it as NULL. A national id or phone that cannot be a real one (a
placeholder such as 000-00-0000 or 123456789, an impossible SSN area/group/serial) is NULL: unknown.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.contracts import load_contract, typed, with_absent_columns
from jobs.unify.address import normalized_locality, normalized_state, normalized_street


def newest_export(bronze: DataFrame) -> DataFrame:
    """The rows of the newest export loaded (a customer master or an account list is a snapshot)."""
    newest = bronze.agg(F.max("_logical_date").alias("_newest"))
    return bronze.join(newest, bronze["_logical_date"] == newest["_newest"]).drop("_newest")


def _letters(c: Column) -> Column:
    return F.regexp_replace(F.lower(F.trim(c)), "[^a-z]", "")


def _digits(c: Column) -> Column:
    d = F.regexp_replace(c, "[^0-9]", "")
    return F.when(d == "", F.lit(None)).otherwise(d)


# Values systems put in a mandatory national id field when they do not have one.
PLACEHOLDER_NATIONAL_IDS = ("123456789", "987654321", "078051120", "219099999",
                            *(str(d) * 9 for d in range(10)))


def valid_national_id(digits: Column) -> Column:
    """9 digits that can be an SSN / tax id (area not 000 or 666, group not 00, serial not 0000, not a
    well-known placeholder), else NULL. Area 900-999 (ITINs) is accepted."""
    ok = (
        digits.rlike("^[0-9]{9}$")
        & ~F.substring(digits, 1, 3).isin("000", "666")
        & (F.substring(digits, 4, 2) != "00")
        & (F.substring(digits, 6, 4) != "0000")
        & ~digits.isin(*PLACEHOLDER_NATIONAL_IDS)
    )
    return F.when(ok, digits)


def valid_phone(digits: Column) -> Column:
    """A 10-digit number that is not one digit repeated (0000000000 and the like), else NULL."""
    ok = digits.rlike("^[0-9]{10}$") & ~digits.isin(*(str(d) * 10 for d in range(10)))
    return F.when(ok, digits)


def _common(df: DataFrame, silo: str, id_col: str, first: Column, last: Column, birth: str,
            email: str, phone: str, national_id: str, postcode: str, gender: Column,
            address: tuple[str, str, str]) -> DataFrame:
    """`address`: the silo's (street, locality, state) columns."""
    street, locality, state = address
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
        valid_phone(F.substring(_digits(F.col(phone)), -10, 10)).alias("phone_norm"),
        valid_national_id(_digits(F.col(national_id))).alias("national_id_norm"),
        normalized_street(F.col(street)).alias("street"),
        normalized_locality(F.col(locality)).alias("locality"),
        normalized_state(F.col(state)).alias("state"),
    )


def _master(bronze: DataFrame, silo: str, entity: str) -> DataFrame:
    contract = load_contract(silo, entity)
    return typed(with_absent_columns(bronze, contract), contract)


def deposits_customers(bronze: DataFrame) -> DataFrame:
    df = _master(bronze, "deposits", "customers")
    parts = F.split(F.trim(F.col("full_name")), r"\s+")
    # A one-word full name is a surname: the given name is unknown, not the same word again.
    first = F.when(F.size(parts) > 1, F.get(parts, 0))
    return _common(df, "deposits", "cif_id", first, F.element_at(parts, -1), "birth_date",
                   "email", "phone", "national_id", "postcode", F.col("gender"), ("street", "city", "state"))


def cards_cardholders(bronze: DataFrame) -> DataFrame:
    df = _master(bronze, "cards", "cardholders")
    return _common(df, "cards", "holder_ref", F.col("first_name"), F.col("last_name"), "birth_date",
                   "email", "phone", "ssn", "zip", F.lit(None).cast("string"), ("address_1", "city", "state_code"))


def lending_borrowers(bronze: DataFrame) -> DataFrame:
    df = _master(bronze, "lending", "borrowers")
    # "DOE, JANE": surname first
    parts = F.split(F.col("name"), ",")
    last, first = F.trim(F.get(parts, 0)), F.trim(F.get(parts, 1))  # NULL, not an error, without a comma
    return _common(df, "lending", "borrower_no", first, last, "dob", "email", "phone", "tax_id",
                   "postal_code", F.lit(None).cast("string"), ("address_line", "town", "state_name"))


def all_silo_customers(deposits: DataFrame, cards: DataFrame, lending: DataFrame) -> DataFrame:
    return deposits_customers(deposits).unionByName(cards_cardholders(cards)).unionByName(
        lending_borrowers(lending)
    )
