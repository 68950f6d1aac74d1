"""Silver write-audit-publish: every silver table has a suite; orphans and repeated keys are quarantined."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F

from jobs import quality
from jobs.gold.targets import LIFE_EVENTS, PRODUCTS
from jobs.publish import validated_write
from jobs.tables import REGISTRY, VALIDATED, quarantine_of
from jobs.unify import accounts as accounts_module
from jobs.unify import identity
from tests.silver_fixtures import ACCOUNT_SCHEMA, TXN_SCHEMA

DAY = dt.date(2026, 6, 30)
XWALK_SCHEMA = "silo string, silo_customer_id string, customer_id string, match_rule string"


def _value_set(suite: str, column: str) -> set:
    data = json.loads(quality.suite_path(suite).read_text())
    [e] = [e for e in data["expectations"]
           if e["type"] == "expect_column_values_to_be_in_set" and e["kwargs"]["column"] == column]
    return set(e["kwargs"]["value_set"])


def _publish(lh, name, df):
    return validated_write(lh, name, df, DAY, lambda valid: lh.overwrite(name, valid))


def test_every_bronze_and_silver_table_has_a_suite_and_a_quarantine():
    suites = set(quality.available_suites())
    for name, t in REGISTRY.items():
        if t.layer in ("bronze", "silver"):
            assert name in suites, f"{name} has no suite in expectations/"
            assert quarantine_of(name) in REGISTRY, f"{quarantine_of(name)} is not registered"
    for layer, name in VALIDATED:
        assert f"{layer}.{name}" in suites and quarantine_of(f"{layer}.{name}") in REGISTRY


def test_suite_value_sets_follow_the_code():
    assert _value_set("silver.account", "product") == set(accounts_module.PRODUCTS)
    assert _value_set("silver.customer_crosswalk", "match_rule") == set(identity.RULES) | {"single_record"}
    assert _value_set("gold.next_best_offer", "product") == set(PRODUCTS)
    assert _value_set("silver.life_event", "event_type") == set(LIFE_EVENTS)


def test_orphan_accounts_and_repeated_keys_are_quarantined_with_a_reason(lh, spark):
    rows = [
        ("deposits", "D1", "DA1", "checking", DAY, 10.0, None, None, None, 0, "USD", "A"),
        ("deposits", "D9", "DA2", "savings", DAY, 20.0, None, None, None, 0, "USD", None),  # owner unknown
        ("cards", "C-1", "CA1", "credit_card", DAY, 5.0, 100.0, None, None, 0, "USD", "A"),
        ("cards", "C-1", "CA1", "credit_card", DAY, 6.0, 100.0, None, None, 0, "USD", "A"),  # key again
        ("deposits", "D1", "CA1", "savings", DAY, 1.0, None, None, None, 0, "USD", "A"),  # other silo: no repeat
        ("deposits", "D1", "DA5", "boat", DAY, 2.0, None, None, None, 0, "USD", "A"),  # unknown product
    ]
    counts = _publish(lh, "silver.account", spark.createDataFrame(rows, ACCOUNT_SCHEMA))
    assert counts == {"silver.account": 3, "quarantine.silver_account": 3}
    got = {(r.account_id, r.balance): (r._check, r._reason) for r in lh.read("quarantine.silver_account").collect()}
    assert got == {
        ("DA2", 20.0): ("expect_column_values_to_not_be_null(customer_id)",
                        "customer_id must not be null (orphan account: its owner is not in the silo's customer "
                        "master, or that record was quarantined)"),
        ("CA1", 6.0): ("expect_compound_columns_to_be_unique(silo, account_id)",
                       "(silo, account_id) must be unique together, got a repeat of ('cards', 'CA1') "
                       "(its first occurrence is kept)"),
        ("DA5", 2.0): ("expect_column_values_to_be_in_set(product)",
                       "product must be one of checking, savings, term_deposit, credit_card, personal_loan, "
                       "auto_loan, mortgage (a product the bank's catalogue does not know), got 'boat'"),
    }
    results = {(r.expectation, r.column): r for r in lh.read("audit.dq_results").collect()}
    compound = results[("expect_compound_columns_to_be_unique", "silo, account_id")]
    assert (compound.success, compound.unexpected_count) == (False, 2)  # GX counts both rows; one is kept


def test_orphan_transactions_are_quarantined_not_dropped(lh, spark):
    rows = [
        ("deposits", "T1", "DA1", "A", DAY, -1.0, "atm", "deposit", False, "MO1 ATM"),
        ("deposits", "T2", "DA404", None, DAY, -2.0, "atm", "deposit", False, "MO1 ATM"),  # account unknown
        ("cards", "T1", "CA1", "A", DAY, -3.0, "fuel", "card", False, "5541"),  # same id, other silo: fine
    ]
    counts = _publish(lh, "silver.transaction", spark.createDataFrame(rows, TXN_SCHEMA))
    assert counts == {"silver.transaction": 2, "quarantine.silver_transaction": 1}
    [row] = lh.read("quarantine.silver_transaction").collect()
    assert (row.txn_id, row._check) == ("T2", "expect_column_values_to_not_be_null(customer_id)")
    assert "orphan transaction" in row._reason


def test_crosswalk_rows_need_a_customer_a_known_rule_and_a_unique_silo_id(lh, spark):
    rows = [
        ("deposits", "D1", "CU1", "national_id"),
        ("cards", "C-1", "CU1", "single_record"),
        ("cards", "C-1", "CU2", "email"),  # the same silo id twice
        ("lending", "100001", None, "guess"),  # no customer, unknown rule
    ]
    counts = _publish(lh, "silver.customer_crosswalk", spark.createDataFrame(rows, XWALK_SCHEMA))
    assert counts == {"silver.customer_crosswalk": 2, "quarantine.silver_customer_crosswalk": 2}
    got = {r.silo_customer_id: r._check for r in lh.read("quarantine.silver_customer_crosswalk").collect()}
    assert got == {
        "C-1": "expect_compound_columns_to_be_unique(silo, silo_customer_id)",
        "100001": "expect_column_values_to_not_be_null(customer_id); expect_column_values_to_be_in_set(match_rule)",
    }


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
    for name in ("silver.customer_crosswalk", "silver.account", "silver.customer", "silver.transaction"):
        assert counts[name] == lh.read(name).count() > 0
        assert counts[quarantine_of(name)] == lh.read(quarantine_of(name)).count()
    accounts_in = _bronze_rows(lh, "deposits_accounts", "cards_accounts", "lending_loans")
    assert accounts_in == counts["silver.account"] + counts["quarantine.silver_account"]
    txns_in = _bronze_rows(lh, "deposits_transactions", "cards_transactions", "lending_repayments")
    assert txns_in == counts["silver.transaction"] + counts["quarantine.silver_transaction"]
    for table, sources in (("silver.digital_session", ("digital_sessions",)),
                           ("silver.consent_event", ("crm_consents",)),
                           ("silver.offer_event", ("crm_offers",)), ("silver.life_event", ("crm_life_events",)),
                           ("silver.account_balance", ("deposits_balances", "cards_balances", "lending_balances"))):
        assert _bronze_rows(lh, *sources) == counts[table] + counts[quarantine_of(table)] > 0, table


def test_orphans_of_the_generated_bank_are_quarantined(silver_run):
    lh, _ = silver_run
    orphans = lh.read("quarantine.silver_account")
    assert orphans.count() > 0  # customers broken at ingest leave their accounts without an owner
    assert orphans.where("customer_id is not null or _reason not like '%orphan account%'").count() == 0
    assert lh.read("silver.account").where("customer_id is null").count() == 0
    orphan_txns = lh.read("quarantine.silver_transaction")
    assert orphan_txns.where("_reason not like '%orphan transaction%'").count() == 0
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


def test_sessions_consent_and_offers_of_unknown_customers_are_quarantined(silver_run):
    lh, _ = silver_run
    for table in ("silver.digital_session", "silver.consent_event", "silver.offer_event", "silver.life_event"):
        assert lh.read(table).where("customer_id is null").count() == 0, table
        rejected = lh.read(quarantine_of(table))
        assert rejected.where("customer_id is not null and _reason like '%orphan%'").count() == 0, table
    current = lh.read("silver.consent")
    assert current.count() == current.select("customer_id", "purpose", "channel").distinct().count() > 0
    offers = lh.read("silver.offer_interaction")
    assert offers.where("holdout and sent_at is not null").count() == 0
    assert offers.where("response = 'accepted'").count() > 0
