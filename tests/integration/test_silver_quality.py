"""The silver step on a whole generated bank (the small_bank fixture): every bronze row is published, waits for
its parent or is quarantined; the generator's orphans wait for their parent; rows of unknown customers wait."""

from __future__ import annotations

import datetime as dt
import re

import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F

from jobs.tables import quarantine_of

DAY = dt.date(2026, 6, 30)   # the small_bank's export date


# -- the silver step on a generated bank ---------------------------------------------------------
@pytest.fixture(scope="module")
def silver_run(small_bank):
    from jobs.unify.run import run

    lh, _ = small_bank
    return lh, run(lh, DAY)


def _bronze_rows(lh, *tables: str) -> int:
    return sum(lh.read(f"bronze.{t}").where(F.col("_logical_date") == F.lit(DAY)).count() for t in tables)


def test_silver_accounts_and_transactions_keep_every_row_or_quarantine_it(silver_run):
    lh, counts = silver_run
    def kept(name):  # published + waiting for a parent + quarantined for good
        return counts[name] + counts.get(f"waiting:{name}", 0) + counts[quarantine_of(name)]

    for name in ("silver.customer_crosswalk", "silver.account", "silver.customer", "silver.transaction"):
        assert counts[name] == lh.read(name).count() > 0
        assert counts[quarantine_of(name)] == lh.read(quarantine_of(name)).where(
            "_status in ('rejected', 'expired')").count()
        assert counts.get(f"waiting:{name}", 0) == lh.read(quarantine_of(name)).where("_status = 'waiting'").count()
    assert _bronze_rows(lh, "deposits_accounts", "cards_accounts", "lending_loans") == kept("silver.account")
    txns_in = _bronze_rows(lh, "deposits_transactions", "cards_transactions", "lending_repayments")
    assert txns_in == kept("silver.transaction")
    for table, sources in (("silver.digital_session", ("digital_sessions",)),
                           ("silver.consent_event", ("crm_consents",)),
                           ("silver.offer_event", ("crm_offers",)), ("silver.life_event", ("crm_life_events",)),
                           ("silver.account_balance", ("deposits_balances", "cards_balances", "lending_balances"))):
        assert _bronze_rows(lh, *sources) == kept(table) > 0, table


def test_every_crosswalk_link_keeps_its_probability_and_evidence_and_the_grey_zone_is_put_up_for_review(silver_run):
    lh, counts = silver_run
    crosswalk = lh.read("silver.customer_crosswalk")
    linked = crosswalk.where("match_rule != 'single_record'")
    assert linked.count() > 100
    # every linked record names its strongest link's probability and evidence; a lone record has none
    assert linked.where("match_probability IS NULL OR match_evidence IS NULL OR match_evidence = ''").count() == 0
    assert crosswalk.where("match_rule = 'single_record' AND match_probability IS NOT NULL").count() == 0
    assert linked.where("match_rule = 'national_id' AND match_evidence NOT LIKE '%nid: same%'").count() == 0
    # the review of the date is written (rows or not), with tokens only
    review = lh.read("audit.identity_review").where(F.col("as_of_date") == F.lit(DAY))
    assert counts["audit.identity_review"] == review.count()
    assert {"name_token_a", "national_id_token_b", "match_evidence"} <= set(review.columns)
    assert not {"first_name_a", "national_id_a", "email_a"} & set(review.columns)


def test_orphans_of_the_generated_bank_wait_for_their_parent(silver_run):
    lh, _ = silver_run
    orphans = lh.read("quarantine.silver_account").where("_status = 'waiting'")
    assert orphans.count() > 0  # customers broken at ingest leave their accounts without an owner
    assert orphans.where("customer_id is not null or _reason not like 'waiting for its customer%'").count() == 0
    assert lh.read("silver.account").where("customer_id is null").count() == 0
    orphan_txns = lh.read("quarantine.silver_transaction")
    assert orphan_txns.where("_status != 'waiting' or _reason not like 'waiting for its account%'").count() == 0
    assert lh.read("silver.transaction").where("customer_id is null").count() == 0
    # every transaction of a quarantined account is quarantined too
    published = lh.read("silver.transaction").join(orphans.select("silo", "account_id"), ["silo", "account_id"])
    assert published.count() == 0
    # the generator's orphan references (well-formed ids of nothing) all end up here
    truth = pq.read_table(lh.settings.ground_truth / "defects" / f"{DAY}.parquet").to_pandas()
    planted = truth[truth["kind"] == "orphan_ref"]
    assert set(planted["file"]) == {"deposits/accounts", "cards/accounts", "lending/loans", "deposits/transactions"}
    owners = {r.silo_customer_id for r in orphans.select("silo_customer_id").collect()}
    assert {"D0000000", "C-000000", "9999999"} <= owners
    assert orphan_txns.where("account_id = 'DA000000000'").count() == (planted["file"] == "deposits/transactions").sum()


def test_sessions_consent_and_offers_of_unknown_customers_wait(silver_run):
    lh, _ = silver_run
    for table in ("silver.digital_session", "silver.consent_event", "silver.offer_event", "silver.life_event"):
        assert lh.read(table).where("customer_id is null").count() == 0, table
        assert lh.read(table).where(f"_known_on != DATE'{DAY}'").count() == 0, table
        waiting = lh.read(quarantine_of(table)).where("_status = 'waiting'")
        assert waiting.where("customer_id is not null or _held_since != DATE'2026-06-30'").count() == 0, table
    current = lh.read("silver.consent")
    assert current.count() == current.select("customer_id", "purpose", "channel").distinct().count() > 0
    offers = lh.read("silver.offer_interaction")
    assert offers.where("holdout and sent_at is not null").count() == 0
    assert offers.where("response = 'accepted'").count() > 0



def _rewrite(path, edit) -> list[dict]:
    """Rewrite a landing CSV: edit(fields, rows) -> (fields, rows). Returns the rows written."""
    import csv

    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields, rows = edit(reader.fieldnames, list(reader))
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fields)
        writer.writeheader()
        writer.writerows(rows)
    return rows


@pytest.fixture(scope="module")
def kept_customers(spark, tmp_path_factory):
    """A bank whose deposits master has a customer without phone, gender, postcode or since date, and whose card
    processor sent an export from before the address (no address columns at all), through ingest and silver."""
    from jobs.generate import generate_bank
    from jobs.ingest import load
    from jobs.pipeline import run_step
    from jobs.settings import Settings
    from jobs.tables import Lakehouse

    settings = Settings(home=tmp_path_factory.mktemp("kept") / "home", customers=120)
    generate_bank(settings, DAY)

    def bare_first(fields, rows):
        for column in ("phone", "gender", "postcode", "customer_since"):
            rows[0][column] = ""
        return fields, rows

    def without_address(fields, rows):
        address = ("address_1", "city", "state_code")
        return [f for f in fields if f not in address], [{k: v for k, v in r.items() if k not in address}
                                                         for r in rows]

    deposits = _rewrite(load.landing_file(settings, "deposits", "customers", DAY), bare_first)
    cards = _rewrite(load.landing_file(settings, "cards", "cardholders", DAY), without_address)
    for step in ("ingest", "silver"):
        run_step(step, DAY, settings)
    return Lakehouse(spark, settings), deposits, cards


def _null_checks(lh, table: str) -> dict:
    return {r["column"]: r for r in lh.read("audit.dq_results")
            .where((F.col("table") == table) & (F.col("run_date") == F.lit(DAY)))
            .where(F.col("expectation") == "expect_column_values_to_not_be_null").collect()}


def test_a_customer_without_phone_gender_postcode_or_since_date_reaches_silver_with_a_warning(kept_customers):
    """A bank's master always has customers with no phone on file: they are counted, never dropped."""
    lh, deposits, _ = kept_customers
    bare = deposits[0]
    bronze = lh.read("bronze.deposits_customers").where(F.col("cif_id") == bare["cif_id"])
    assert bronze.count() == 1
    [link] = (lh.read("silver.customer_crosswalk")
              .where((F.col("silo") == "deposits") & (F.col("silo_customer_id") == bare["cif_id"])).collect())
    [customer] = lh.read("silver.customer").where(F.col("customer_id") == link["customer_id"]).collect()
    assert customer["birth_date"] is not None
    warnings = _null_checks(lh, "bronze.deposits_customers")
    for column in ("phone", "gender", "postcode", "customer_since"):
        assert warnings[column]["unexpected_count"] >= 1 and not warnings[column]["success"], column
        assert "a warning: counted, the rows kept" in warnings[column]["details"], column
    assert "a warning" not in warnings["cif_id"]["details"]   # a required column's check is not one


def test_the_address_reaches_bronze_and_leaves_it_only_tokenized(kept_customers):
    """The generated address lands in bronze as exported; an export without the address columns (the card
    processor's older format) still loads, the address NULL and counted; silver keeps the street only as a
    token, with the locality and state."""
    lh, deposits, cards = kept_customers
    bronze = lh.read("bronze.deposits_customers").where(F.col("_logical_date") == F.lit(DAY))
    streets = {r.street for r in bronze.select("street").collect() if r.street}
    assert bronze.where("street is not null").count() > 0.9 * len(deposits)
    assert streets <= {r["street"] for r in deposits}
    assert bronze.where("city is null or state is null").count() < 0.1 * len(deposits)

    held = lh.read("bronze.cards_cardholders").where(F.col("_logical_date") == F.lit(DAY))
    assert held.count() + lh.read("quarantine.cards_cardholders").where(
        F.col("_logical_date") == F.lit(DAY)).count() == len(cards)
    assert held.where("address_1 is not null or city is not null or state_code is not null").count() == 0
    warnings = _null_checks(lh, "bronze.cards_cardholders")
    for column in ("address_1", "city", "state_code"):
        assert warnings[column]["unexpected_count"] == len(cards) and not warnings[column]["success"], column

    customers = lh.read("silver.customer")
    assert {"street_token", "locality", "state"} <= set(customers.columns) and "street" not in customers.columns
    with_address = customers.where("street_token is not null and locality is not null and state is not null")
    assert with_address.count() > 0.8 * customers.count()
    # no street line, in any silo's spelling or normalized, in any string column of silver's customer tables
    street_line = re.compile(r"^[0-9]+[a-z]? .*\b(street|st|avenue|ave|road|rd|drive|dr|lane|ln|way|court|ct)\b",
                             re.IGNORECASE)
    for name in ("silver.customer", "silver.customer_version", "silver.customer_crosswalk"):
        table = lh.read(name)
        texts = [c for c, t in table.dtypes if t == "string"]
        leaked = {v for row in table.select(*texts).collect() for v in row if v and street_line.search(v)}
        assert not leaked, (name, sorted(leaked)[:3])
