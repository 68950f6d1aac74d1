"""Silver write-audit-publish: every silver table has a suite; repeated keys are quarantined; rows whose parent
is late wait for it, are released when it comes, and are quarantined for good after the grace period. (The silver
step on a whole generated bank: tests/integration/test_silver_quality.py.)"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from pyspark.sql import functions as F

from jobs import quality
from jobs.domain import ACCOUNT_PRODUCTS, LIFE_EVENTS, PRODUCTS
from jobs.publish import validated_write
from jobs.tables import REGISTRY, VALIDATED, quarantine_of
from jobs.unify import identity
from tests.silver_fixtures import ACCOUNT_SCHEMA, TXN_SCHEMA, money_frame

DAY = dt.date(2026, 6, 30)
XWALK_SCHEMA = ("silo string, silo_customer_id string, customer_id string, match_rule string, "
                "match_probability double, match_evidence string")


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
    assert _value_set("silver.account", "product") == set(ACCOUNT_PRODUCTS)
    assert _value_set("silver.customer_crosswalk", "match_rule") == set(identity.RULES) | {"single_record"}
    assert _value_set("gold.next_best_offer", "product") == set(PRODUCTS)
    assert _value_set("silver.life_event", "event_type") == set(LIFE_EVENTS)


def test_repeated_keys_and_unknown_products_are_quarantined_with_a_reason(lh, spark):
    rows = [
        ("deposits", "D1", "DA1", "checking", DAY, 10.0, None, None, None, 0, "USD", "A"),
        ("cards", "C-1", "CA1", "credit_card", DAY, 5.0, 100.0, None, None, 0, "USD", "A"),
        ("cards", "C-1", "CA1", "credit_card", DAY, 6.0, 100.0, None, None, 0, "USD", "A"),  # key again
        ("deposits", "D1", "CA1", "savings", DAY, 1.0, None, None, None, 0, "USD", "A"),  # other silo: no repeat
        ("deposits", "D1", "DA5", "boat", DAY, 2.0, None, None, None, 0, "USD", "A"),  # unknown product
    ]
    counts = _publish(lh, "silver.account", money_frame(spark, rows, ACCOUNT_SCHEMA))
    assert counts == {"silver.account": 3, "quarantine.silver_account": 2}
    got = {(r.account_id, r.balance): (r._check, r._reason, r._status)
           for r in lh.read("quarantine.silver_account").collect()}
    assert got == {
        ("CA1", 6.0): ("expect_compound_columns_to_be_unique(silo, account_id)",
                       "(silo, account_id) must be unique together, got a repeat of ('cards', 'CA1') "
                       "(its first occurrence is kept)", "rejected"),
        ("DA5", 2.0): ("expect_column_values_to_be_in_set(product)",
                       "product must be one of checking, savings, term_deposit, credit_card, personal_loan, "
                       "auto_loan, mortgage (a product the bank's catalogue does not know), got 'boat'", "rejected"),
    }
    results = {(r.expectation, r.column): r for r in lh.read("audit.dq_results").collect()}
    compound = results[("expect_compound_columns_to_be_unique", "silo, account_id")]
    assert (compound.success, compound.unexpected_count) == (False, 2)  # GX counts both rows; one is kept


def _content(df) -> list:
    return sorted(map(repr, df.collect()))


def test_a_transaction_waits_for_its_late_account_is_released_or_expires_and_replays_the_same(lh, spark):
    """T1's account is known; T2's arrives the next day; T3's never does. Rows in = published + waiting +
    quarantined on every run, and re-running the first date after the others changes nothing."""
    from jobs.publish import release_waiting
    from jobs.unify.late_arrivals import ARRIVED_ON, Hold, link
    from jobs.unify.run import ACCOUNT

    def accounts(*known):
        return spark.createDataFrame(known, "silo string, account_id string, customer_id string, _known_on date")

    day1, day2, day9 = DAY, DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=8)
    rows = money_frame(spark, [
        ("deposits", "T1", "DA1", None, DAY, -1.0, "atm", "deposit", False, "MO1 ATM"),
        ("deposits", "T2", "DA2", None, DAY, -2.0, "atm", "deposit", False, "MO1 ATM"),   # account comes a day later
        ("deposits", "T3", "DA404", None, DAY, -3.0, "atm", "deposit", False, "MO1 ATM"),  # account never comes
    ], TXN_SCHEMA).withColumn(ARRIVED_ON, F.lit(day1))
    first, both = accounts(("deposits", "DA1", "A", day1)), accounts(("deposits", "DA1", "A", day1),
                                                                    ("deposits", "DA2", "B", day2))

    def write(valid):
        return lh.merge_upsert("silver.transaction", valid)

    def arrive(parents, horizon):
        return validated_write(lh, "silver.transaction", link(rows, parents, ACCOUNT), day1, write,
                               hold=Hold(ACCOUNT, 7, horizon))

    assert arrive(first, day1) == {"silver.transaction": 1, "quarantine.silver_transaction": 0,
                                   "waiting:silver.transaction": 2}
    held = {r.txn_id: r for r in lh.read("quarantine.silver_transaction").collect()}
    assert {t: (r._status, r._held_since, r._check) for t, r in held.items()} == {
        "T2": ("waiting", day1, "parent:silver.account"), "T3": ("waiting", day1, "parent:silver.account")}
    assert held["T2"]._reason.startswith("waiting for its account (silver.account) since 2026-06-30")

    for _ in range(2):  # the next day, twice: released once, the same table after the second run
        assert release_waiting(lh, "silver.transaction", both, day2, Hold(ACCOUNT, 7, day2), write) == {
            "released:silver.transaction": 1}
        published = {r.txn_id: (r.customer_id, r._known_on) for r in lh.read("silver.transaction").collect()}
        assert published == {"T1": ("A", day1), "T2": ("B", day2)}
    release_waiting(lh, "silver.transaction", both, day9, Hold(ACCOUNT, 7, day9), write)
    settled = {r.txn_id: (r._status, r._released_on) for r in lh.read("quarantine.silver_transaction").collect()}
    assert settled == {"T2": ("released", day2), "T3": ("expired", None)}
    expired = lh.read("quarantine.silver_transaction").where("txn_id = 'T3'").collect()[0]
    assert expired._reason.startswith("quarantined for good: its account (silver.account) was not known within 7")

    silver, quarantine = _content(lh.read("silver.transaction")), _content(lh.read("quarantine.silver_transaction"))
    replay = arrive(both, day9)   # the first date again, after the others: every row's fate is already known
    assert replay == {"silver.transaction": 2, "quarantine.silver_transaction": 1, "waiting:silver.transaction": 0}
    assert _content(lh.read("silver.transaction")) == silver
    assert _content(lh.read("quarantine.silver_transaction")) == quarantine


def test_a_row_sent_again_corrected_keeps_its_newest_values_in_any_order_of_runs(lh, spark):
    """T2 arrives on day 1 before its account and waits; day 2's export sends it again with the amount corrected,
    and its account with it. Day 2's run publishes the corrected row and then releases day 1's: the release must
    not put the old amount back. Nor may a re-run of day 1 after day 2, nor running day 2 before day 1."""
    from jobs.publish import release_waiting
    from jobs.unify.late_arrivals import ARRIVED_ON, Hold, link
    from jobs.unify.run import ACCOUNT

    day1, day2 = DAY, DAY + dt.timedelta(days=1)
    account = spark.createDataFrame([("deposits", "DA2", "B", day2)],
                                    "silo string, account_id string, customer_id string, _known_on date")
    no_account = account.limit(0)

    def sent(day, amount):
        return money_frame(spark, [("deposits", "T2", "DA2", None, DAY, amount, "atm", "deposit", False, "MO1 ATM")],
                           TXN_SCHEMA).withColumn(ARRIVED_ON, F.lit(day))

    def run(day, rows, parents):   # the silver step's order: the date's rows, then the releases
        hold = Hold(ACCOUNT, 7, day2)
        validated_write(lh, "silver.transaction", link(rows, parents, ACCOUNT), day, hold=hold)
        release_waiting(lh, "silver.transaction", parents, day, hold)

    def published():
        return [(r.txn_id, float(r.amount), r._known_on) for r in lh.read("silver.transaction").collect()]

    run(day1, sent(day1, -2.0), no_account)
    run(day2, sent(day2, -20.0), account)
    assert published() == [("T2", -20.0, day2)]
    run(day1, sent(day1, -2.0), account)   # day 1 again: its account is known by now
    assert published() == [("T2", -20.0, day2)]
    assert [r._arrived_on for r in lh.read("silver.transaction").collect()] == [day2]   # the values' export


@pytest.mark.parametrize("order", ["in order", "day 2 first"])
def test_a_row_sent_again_stays_known_from_the_first_date_it_came(lh, spark, order):
    """T3 comes on day 1 and again, unchanged, on day 2's export (exports overlap); T4 comes again with its
    amount corrected. Both were known on day 1: a replay of day 1 must still see them, whichever date ran first.
    T4 keeps its corrected amount (the newest values win, as for a master record)."""
    from jobs.publish import release_waiting
    from jobs.unify.late_arrivals import ARRIVED_ON, Hold, link
    from jobs.unify.run import ACCOUNT

    day1, day2 = DAY, DAY + dt.timedelta(days=1)
    account = spark.createDataFrame([("deposits", "DA3", "B", day1)],
                                    "silo string, account_id string, customer_id string, _known_on date")

    def sent(day, t4_amount):
        rows = [("deposits", "T3", "DA3", None, DAY, -5.0, "atm", "deposit", False, "MO1 ATM"),
                ("deposits", "T4", "DA3", None, DAY, t4_amount, "atm", "deposit", False, "MO1 ATM")]
        return money_frame(spark, rows, TXN_SCHEMA).withColumn(ARRIVED_ON, F.lit(day))

    def run(day, rows):
        hold = Hold(ACCOUNT, 7, day2)
        validated_write(lh, "silver.transaction", link(rows, account, ACCOUNT), day, hold=hold)
        release_waiting(lh, "silver.transaction", account, day, hold)

    runs = [(day1, sent(day1, -7.0)), (day2, sent(day2, -70.0))]
    for day, rows in runs if order == "in order" else runs[::-1]:
        run(day, rows)
    run(day2, sent(day2, -70.0))   # and a re-run of day 2 changes nothing
    got = {r.txn_id: (float(r.amount), r._known_on, r._arrived_on) for r in lh.read("silver.transaction").collect()}
    assert got == {"T3": (-5.0, day1, day2), "T4": (-70.0, day1, day2)}
    assert lh.read_known("silver.transaction", day1).count() == 2


def test_crosswalk_rows_need_a_customer_a_known_rule_and_a_unique_silo_id(lh, spark):
    rows = [
        ("deposits", "D1", "CU1", "national_id", 1.0, "nid: same"),
        ("cards", "C-1", "CU1", "single_record", None, None),
        ("cards", "C-1", "CU2", "email", 0.99, "email: same"),  # the same silo id twice
        ("lending", "100001", None, "guess", 0.5, None),  # no customer, unknown rule
    ]
    counts = _publish(lh, "silver.customer_crosswalk", spark.createDataFrame(rows, XWALK_SCHEMA))
    assert counts == {"silver.customer_crosswalk": 2, "quarantine.silver_customer_crosswalk": 2}
    got = {r.silo_customer_id: r._check for r in lh.read("quarantine.silver_customer_crosswalk").collect()}
    assert got == {
        "C-1": "expect_compound_columns_to_be_unique(silo, silo_customer_id)",
        "100001": "expect_column_values_to_not_be_null(customer_id); expect_column_values_to_be_in_set(match_rule)",
    }


def test_a_backfill_that_finds_the_parent_earlier_moves_the_release_or_drops_the_wait(lh, spark):
    """Dates run out of order: a later run released T2 when it saw the account first; a backfill then finds
    the account in an earlier snapshot. The release moves to that date, or, when the account turns out to
    have been known on the day T2 arrived, T2 never waited: its record goes and it counts from that day."""
    from jobs.publish import release_waiting
    from jobs.unify.late_arrivals import ARRIVED_ON, Hold, link
    from jobs.unify.run import ACCOUNT

    day1, day2, day3 = DAY, DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=2)

    def accounts(known_on):
        return spark.createDataFrame([("deposits", "DA2", "B", known_on)],
                                     "silo string, account_id string, customer_id string, _known_on date")

    def write(valid):
        return lh.merge_upsert("silver.transaction", valid)

    rows = money_frame(spark, [("deposits", "T2", "DA2", None, DAY, -2.0, "atm", "deposit", False, "MO1 ATM")],
                                 TXN_SCHEMA).withColumn(ARRIVED_ON, F.lit(day1))
    validated_write(lh, "silver.transaction", link(rows, accounts(day3), ACCOUNT), day1, write,
                    hold=Hold(ACCOUNT, 7, day3))

    def state():
        record = [(r._status, r._released_on) for r in lh.read("quarantine.silver_transaction").collect()]
        return record, [r._known_on for r in lh.read("silver.transaction").collect()]

    assert state() == ([("released", day3)], [day3])
    release_waiting(lh, "silver.transaction", accounts(day2), day2, Hold(ACCOUNT, 7, day3), write)
    assert state() == ([("released", day2)], [day2])
    release_waiting(lh, "silver.transaction", accounts(day1), day2, Hold(ACCOUNT, 7, day3), write)
    assert state() == ([], [day1])


def test_a_row_held_since_two_dates_is_released_once_with_its_newest_values(lh, spark):
    """T2 waits for its account on day 1 and comes again, corrected, on day 2 (an account in two days' snapshots
    is the same case): when the account comes, one row is published, the newest, and both records are settled."""
    from jobs.publish import release_waiting
    from jobs.unify.late_arrivals import ARRIVED_ON, Hold, link
    from jobs.unify.run import ACCOUNT

    day1, day2, day3 = DAY, DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=2)
    nobody = spark.createDataFrame([], "silo string, account_id string, customer_id string, _known_on date")
    account = spark.createDataFrame([("deposits", "DA2", "B", day3)],
                                    "silo string, account_id string, customer_id string, _known_on date")

    def write(valid):
        return lh.merge_upsert("silver.transaction", valid)

    for day, amount in ((day1, -2.0), (day2, -2.5)):
        rows = money_frame(spark, [("deposits", "T2", "DA2", None, DAY, amount, "atm", "deposit", False, "MO1 ATM")],
                           TXN_SCHEMA).withColumn(ARRIVED_ON, F.lit(day))
        assert validated_write(lh, "silver.transaction", link(rows, nobody, ACCOUNT), day, write,
                               hold=Hold(ACCOUNT, 7, day))["waiting:silver.transaction"] == 1
    assert release_waiting(lh, "silver.transaction", account, day3, Hold(ACCOUNT, 7, day3), write) == {
        "released:silver.transaction": 1}
    published = lh.read("silver.transaction").collect()
    assert [(r.txn_id, float(r.amount), r.customer_id, r._known_on) for r in published] == [("T2", -2.5, "B", day3)]
    records = lh.read("quarantine.silver_transaction").collect()
    assert sorted((r._run_date, r._status, r._released_on) for r in records) == [
        (day1, "released", day3), (day2, "released", day3)]
