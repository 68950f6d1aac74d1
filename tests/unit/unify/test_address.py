"""Addresses on their way to silver: each silo's spelling normalized for matching (jobs/unify/address.py), the
standardized silo records carrying street, locality and state, and the golden record keeping one record's
address with the street tokenized."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import functions as F

from jobs.unify.address import normalized_locality, normalized_state, normalized_street
from jobs.unify.customers import golden_customers
from jobs.unify.standardize import all_silo_customers, cards_cardholders, deposits_customers, lending_borrowers


def _normalized(spark, fn, values):
    df = spark.createDataFrame([(i, v) for i, v in enumerate(values)], "i int, v string")
    return [r.n for r in df.select("i", fn(F.col("v")).alias("n")).orderBy("i").collect()]


def test_every_spelling_of_a_street_reads_the_same(spark):
    spellings = ["12 North Oak Street, Apartment 4", "12 N OAK ST APT 4", "12 N. Oak St., Apt. 4",
                 "  12  n oak   st  #4 ", "12 North Oak Str, Apt 4", "12 N Oak St Unit 4"]
    assert set(_normalized(spark, normalized_street, spellings)) == {"12 north oak street 4"}
    assert _normalized(spark, normalized_street, [
        "710 Grant Ave", "5 Highland Blvd.", "8 Birch Way", "31 Lake Dr", "9 St Charles Ave", "40 1st St",
        "77 Summit Ter", "Oka Street", "", ",.", None,
    ]) == ["710 grant avenue", "5 highland boulevard", "8 birch way", "31 lake drive", "9 saint charles avenue",
           "40 1st street", "77 summit terrace", "oka street", None, None, None]   # a typing slip stays


def test_localities_and_states_read_the_same_whoever_wrote_them(spark):
    assert _normalized(spark, normalized_locality, ["SPRINGFIELD", " Springfield ", "St. Louis", "FT WORTH",
                                                    "Mount  Vernon", "", None]) == [
        "springfield", "springfield", "saint louis", "fort worth", "mount vernon", None, None]
    assert _normalized(spark, normalized_state, ["IL", "il", "Illinois", "ILLINOIS", " New York ", "District of "
                                                 "Columbia", "Illinoise", "XX", "", None]) == [
        "IL", "IL", "IL", "IL", "NY", "DC", None, None, None, None]   # no state: unknown


def _bronze(spark, columns: list[str], rows: list[tuple]):
    schema = ", ".join(f"{c} string" for c in columns) + ", _row_id long, _logical_date date"
    return spark.createDataFrame([(*r, i, dt.date(2026, 6, 30)) for i, r in enumerate(rows)], schema)


DEPOSITS = ["cif_id", "full_name", "birth_date", "email", "phone", "national_id", "street", "city", "state",
            "postcode", "gender", "customer_since"]
CARDS = ["holder_ref", "first_name", "last_name", "birth_date", "email", "phone", "ssn", "address_1", "city",
         "state_code", "zip"]
LENDING_BEFORE_ADDRESS = ["borrower_no", "name", "dob", "email", "phone", "tax_id", "postal_code"]


def _silo_records(spark):
    deposits = _bronze(spark, DEPOSITS, [
        ("D0000001", "Ann Lee", "1980-01-02", "ann@x.com", "", "111-22-3333", "12 Oak St, Apt 4", "Springfield",
         "IL", "11111", "F", "2020-01-01"),
        ("D0000002", "Bob Ray", "1990-05-06", "", "", "222-33-4444", "", "", "", "22222", "M", "2021-01-01"),
    ])
    cards = _bronze(spark, CARDS, [
        ("C-000001", "ANN", "LEE", "01/02/1980", "", "", "111223333", "12 OAK STREET APARTMENT 4", "SPRINGFIELD",
         "IL", "11111"),
        ("C-000002", "BOB", "RAY", "05/06/1990", "", "", "222334444", "9 ELM AVE", "DAYTON", "OH", "22222"),
    ])
    # A bronze table loaded before the lending contract had the address: it reads as NULL.
    lending = _bronze(spark, LENDING_BEFORE_ADDRESS, [
        ("100001", "LEE, ANN", "02.01.1980", "", "", "111223333", "11111")])
    return deposits, cards, lending


def test_the_standardized_silo_records_carry_the_normalized_address(spark):
    deposits, cards, lending = _silo_records(spark)
    records = all_silo_customers(deposits, cards, lending)
    got = {(r.silo, r.silo_customer_id): (r.street, r.locality, r.state) for r in records.collect()}
    assert got == {
        ("deposits", "D0000001"): ("12 oak street 4", "springfield", "IL"),
        ("deposits", "D0000002"): (None, None, None),
        ("cards", "C-000001"): ("12 oak street 4", "springfield", "IL"),
        ("cards", "C-000002"): ("9 elm avenue", "dayton", "OH"),
        ("lending", "100001"): (None, None, None),
    }
    # each silo's own function gives the same columns, so they union by name
    assert deposits_customers(deposits).columns == cards_cardholders(cards).columns == lending_borrowers(
        lending).columns


def test_the_golden_record_tokenizes_the_street_and_keeps_one_records_address(spark):
    deposits, cards, lending = _silo_records(spark)
    records = all_silo_customers(deposits, cards, lending)
    crosswalk = spark.createDataFrame(
        [("deposits", "D0000001", "A"), ("cards", "C-000001", "A"), ("lending", "100001", "A"),
         ("deposits", "D0000002", "B"), ("cards", "C-000002", "B")],
        "silo string, silo_customer_id string, customer_id string")
    accounts = spark.createDataFrame([], "customer_id string, open_date date")
    golden = {r.customer_id: r for r in golden_customers(records, crosswalk, accounts, "k").collect()}
    assert "street" not in golden["A"].asDict()   # no clear-text street past bronze
    assert golden["A"].street_token and len(golden["A"].street_token) == 64
    assert (golden["A"].locality, golden["A"].state) == ("springfield", "IL")
    # B's deposits record (the most trusted) has no address: the card record's whole address, not a mix
    assert (golden["B"].locality, golden["B"].state) == ("dayton", "OH")
    elm = spark.createDataFrame([("9 elm avenue",)], "s string").select(
        F.sha2(F.concat_ws("|", F.lit("k"), F.lit("street"), F.col("s")), 256)).first()[0]
    assert golden["B"].street_token == elm != golden["A"].street_token


def test_versions_written_before_the_address_joined_the_record_read_it_as_null(spark):
    """silver.customer_version from before the address: the first snapshot with one is a new version."""
    from jobs.unify.customers import customer_versions

    day1, day2 = dt.date(2026, 6, 30), dt.date(2026, 7, 1)
    earlier = spark.createDataFrame(
        [("A", "n", None, None, "i", dt.date(1980, 1, 2), "F", "11111", ["deposits"], 1, False, day1, day1),
         ("B", "m", None, None, "j", dt.date(1990, 5, 6), "M", "22222", ["deposits"], 1, False, day1, day1)],
        "customer_id string, name_token string, email_token string, phone_token string, national_id_token string, "
        "birth_date date, gender string, postcode string, silos array<string>, source_records long, "
        "_removed boolean, _snapshot_date date, _known_on date")
    current = spark.createDataFrame(
        [("A", "n", None, None, "i", "s", dt.date(1980, 1, 2), "F", "11111", "salem", "OR", ["deposits"], 1),
         ("B", "m", None, None, "j", None, dt.date(1990, 5, 6), "M", "22222", None, None, ["deposits"], 1)],
        "customer_id string, name_token string, email_token string, phone_token string, national_id_token string, "
        "street_token string, birth_date date, gender string, postcode string, locality string, state string, "
        "silos array<string>, source_records long")
    got = customer_versions(current, earlier, day2).collect()
    assert [(r.customer_id, r.street_token, r.locality, r._removed) for r in got] == [("A", "s", "salem", False)]
