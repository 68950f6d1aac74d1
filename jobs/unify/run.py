"""The silver step for one logical date: conform what bronze holds into silver, incrementally.

- Masters (customers, accounts) are snapshots: identity resolution runs on the newest export of each
  customer master, and silver.customer_crosswalk, silver.customer and silver.account are MERGEd from it
  (changed rows updated, new ones inserted, vanished ones deleted). The newest export, not the run's
  date: silver is the current state of knowledge, whatever order dates are run in; gold reads it as of
  its own date (point in time).
- The balance files (end-of-day balances: month ends of a full export's window, the day of a daily
  one) are MERGEd into silver.account_balance, so gold knows a balance on a past date from data of
  that date or before.
- Activity (transactions, online sessions, consent and campaign events, declared life events) is
  MERGEd from the date's
  exports only, on each table's key: running a date twice, or dates out of order, changes nothing.
  Rows keep their customer through the crosswalk; when identity resolution moves a silo id to another
  customer, the rows already in silver follow it (Lakehouse.update_matching).
- silver.consent (the ledger's last word) and silver.offer_interaction (one row per offer) are rebuilt
  from their event tables and MERGEd.

Every table goes through write-audit-publish (jobs/publish.py) with its suite in expectations/: rows
failing a row-level expectation (an orphan, a repeated key) go to quarantine.silver_<table> with
`_check` and `_reason`; a table-level failure stops the step. For each table, the rows of this run =
rows published + rows quarantined.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.publish import validated_write
from jobs.tables import Lakehouse
from jobs.unify.accounts import account_balances, conform_accounts
from jobs.unify.customers import golden_customers
from jobs.unify.engagement import (
    consent_events,
    current_consent,
    declared_life_events,
    digital_sessions,
    offer_events,
    offer_interactions,
    offer_responses,
    with_customer,
)
from jobs.unify.identity import resolve
from jobs.unify.standardize import all_silo_customers, newest_export
from jobs.unify.transactions import conform_transactions

CUSTOMER_KEY = ("silo", "silo_customer_id")


def run(lh: Lakehouse, logical_date: dt.date) -> dict[str, int]:
    counts, crosswalk, accounts = masters(lh, logical_date)
    counts |= activity(lh, logical_date, accounts)
    counts |= engagement(lh, logical_date, crosswalk)
    return counts


def _merge(lh: Lakehouse, name: str, df: DataFrame, day: dt.date, delete_missing: bool = False) -> dict[str, int]:
    return validated_write(lh, name, df, day, lambda valid: lh.merge_upsert(name, valid, delete_missing))


def _of_date(lh: Lakehouse, name: str, day: dt.date) -> DataFrame:
    """The rows a date's export brought (exports of other dates stay out)."""
    return lh.read(f"bronze.{name}").where(F.col("_logical_date") == F.lit(day))


def masters(lh: Lakehouse, day: dt.date) -> tuple[dict[str, int], DataFrame, DataFrame]:
    def newest(name: str) -> DataFrame:
        return newest_export(lh.read(f"bronze.{name}"))

    records = lh.scratch(all_silo_customers(newest("deposits_customers"), newest("cards_cardholders"),
                                            newest("lending_borrowers")), "silo_customers")
    crosswalk = resolve(records, materialize=lambda df, i: lh.scratch(df, f"identity_labels_{i % 2}"))
    counts = _merge(lh, "silver.customer_crosswalk", crosswalk, day, delete_missing=True)
    crosswalk = lh.read("silver.customer_crosswalk")

    # An account whose owner is unknown (customer_id NULL after the crosswalk join) is quarantined by
    # the suite's not-null expectation on customer_id, and so are the transactions of such accounts.
    accounts = conform_accounts(newest("deposits_accounts"), newest("cards_accounts"), newest("lending_loans"),
                                crosswalk)
    counts |= _merge(lh, "silver.account", accounts, day, delete_missing=True)
    accounts = lh.read("silver.account")
    balances = account_balances(_of_date(lh, "deposits_balances", day), _of_date(lh, "cards_balances", day),
                                _of_date(lh, "lending_balances", day))
    counts |= _merge(lh, "silver.account_balance", balances, day)

    customers = golden_customers(records, crosswalk, accounts, lh.settings.tokenization_key)
    counts |= _merge(lh, "silver.customer", customers, day, delete_missing=True)
    return counts, crosswalk, accounts


def activity(lh: Lakehouse, day: dt.date, accounts: DataFrame) -> dict[str, int]:
    txns = conform_transactions(_of_date(lh, "deposits_transactions", day), _of_date(lh, "cards_transactions", day),
                                _of_date(lh, "lending_repayments", day), accounts)
    counts = _merge(lh, "silver.transaction", txns, day)
    lh.update_matching("silver.transaction", accounts.select("silo", "account_id", "customer_id"),
                       ("silo", "account_id"), ("customer_id",))
    return counts


def published_offers(lh: Lakehouse) -> DataFrame:
    """The offered decisions of audit.decision_log (none before the first decision run)."""
    if not lh.exists("audit.decision_log"):
        return lh.spark.createDataFrame([], "decision_id string, as_of_date date, offer_id string")
    return lh.read("audit.decision_log").where("outcome = 'offered'").select("decision_id", "as_of_date",
                                                                            "offer_id")


def engagement(lh: Lakehouse, day: dt.date, crosswalk: DataFrame) -> dict[str, int]:
    owners = crosswalk.select(*CUSTOMER_KEY, "customer_id")
    counts = {}
    for table, rows in (("silver.digital_session", digital_sessions(_of_date(lh, "digital_sessions", day))),
                        ("silver.consent_event", consent_events(_of_date(lh, "crm_consents", day))),
                        ("silver.offer_event", offer_events(_of_date(lh, "crm_offers", day))),
                        ("silver.life_event", declared_life_events(_of_date(lh, "crm_life_events", day)))):
        counts |= _merge(lh, table, with_customer(rows, crosswalk), day)
        lh.update_matching(table, owners, CUSTOMER_KEY, ("customer_id",))
    counts |= _merge(lh, "silver.offer_response", offer_responses(_of_date(lh, "channels_responses", day),
                                                                  published_offers(lh)), day)
    counts |= _merge(lh, "silver.consent", current_consent(lh.read("silver.consent_event")), day,
                     delete_missing=True)
    counts |= _merge(lh, "silver.offer_interaction", offer_interactions(lh.read("silver.offer_event")), day,
                     delete_missing=True)
    return counts
