"""The silver step for one logical date: conform what bronze holds into silver, incrementally.

- Masters (customers, accounts) are snapshots: identity resolution runs on the date's export of each
  customer master, and silver.customer_crosswalk, silver.customer and silver.account are MERGEd from the
  date's snapshots so that dates run in any order, any number of times, leave the same tables: the values
  of the newest snapshot win, `_known_on` keeps the first date a record was known, and a record stays when
  a later snapshot no longer has it (Lakehouse.merge_snapshot).
- The balance files (end-of-day balances: month ends of a full export's window, the day of a daily
  one) are MERGEd into silver.account_balance, so gold knows a balance on a past date from data of
  that date or before.
- Activity (transactions, online sessions, consent and campaign events, declared life events, the
  channels' responses) is MERGEd from the date's exports only, on each table's key. Each row keeps
  `_arrived_on`, the export its values came in: a MERGE never replaces them with values that came earlier
  (Table.newest_by), so a row re-sent corrected keeps the correction whatever order dates run in. Rows keep their
  customer through the crosswalk; when identity resolution moves a silo id to another customer, the rows
  already in silver follow it (Lakehouse.update_matching).
- A row whose parent (its account, its customer's master record, the decision a response answers) is not
  known yet waits for it and is published by the first run that knows it; after the grace period it is
  quarantined for good (jobs/unify/late_arrivals.py). Every silver row carries `_known_on`, the date it
  became known, and gold reads only what was known by its date (jobs/known.py).
- silver.consent (the ledger's last word) and silver.offer_interaction (one row per offer) are the current
  state: the run of the newest date loaded rebuilds them from their event tables (readers as of a date
  use the events known by it instead).

Every table goes through write-audit-publish (jobs/publish.py: `publish`, written with the mode the
registry declares for it) with its suite in expectations/: rows
failing a row-level expectation go to quarantine.silver_<table> with `_check` and `_reason`; a
table-level failure stops the step. For each table and run: rows in = published + waiting for a parent +
quarantined.
"""

from __future__ import annotations

import datetime as dt
import logging

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.key_rotation import current_key
from jobs.known import KNOWN_ON, SNAPSHOT_DATE
from jobs.publish import publish, release_waiting, validated_write
from jobs.tables import Lakehouse
from jobs.unify import review
from jobs.unify.accounts import account_balances, conform_accounts
from jobs.unify.customers import customer_versions, golden_customers
from jobs.unify.engagement import (
    consent_events,
    current_consent,
    declared_life_events,
    digital_sessions,
    offer_events,
    offer_interactions,
    offer_responses,
)
from jobs.unify.identity import keep_known_ids, resolution
from jobs.unify.late_arrivals import ARRIVED_ON, Hold, Parent, link
from jobs.unify.standardize import all_silo_customers
from jobs.unify.transactions import conform_transactions

log = logging.getLogger(__name__)

CUSTOMER_KEY = ("silo", "silo_customer_id")
# What rows wait for when it is late.
OWNER = Parent("silver.customer_crosswalk", CUSTOMER_KEY, ("customer_id",), "its customer's master record")
ACCOUNT = Parent("silver.account", ("silo", "account_id"), ("customer_id",), "its account")
DECISION = Parent("audit.decision_log", ("decision_id",), ("decided_on", "offer_id"), "the decision it answers")


def run(lh: Lakehouse, logical_date: dt.date) -> dict[str, int]:
    newest = lh.bound("bronze.deposits_customers", "_logical_date", "max")
    horizon = max(logical_date, newest or logical_date)  # expiry is judged on the newest export loaded
    counts = masters(lh, logical_date, horizon)
    counts |= activity(lh, logical_date, horizon)
    counts |= engagement(lh, logical_date, horizon)
    return counts


def _of_date(lh: Lakehouse, name: str, day: dt.date) -> DataFrame:
    """The rows a date's export brought (exports of other dates stay out)."""
    return lh.read(f"bronze.{name}").where(F.col("_logical_date") == F.lit(day))


def _stamped(df: DataFrame, day: dt.date, *columns: str) -> DataFrame:
    for column in columns:
        df = df.withColumn(column, F.lit(day))
    return df


def _waiting_for(lh: Lakehouse, name: str, rows: DataFrame, parent: Parent, parents: DataFrame, day: dt.date,
                 horizon: dt.date) -> dict[str, int]:
    """Publish the date's rows whose parent is known, let the others wait, and release the rows of earlier
    dates whose parent is known now."""
    hold = Hold(parent, lh.settings.late_parent_grace_days, horizon)
    linked = link(_stamped(rows, day, ARRIVED_ON), parents, parent)
    counts = publish(lh, name, linked, day, hold=hold)
    return counts | release_waiting(lh, name, parents, day, hold)


def masters(lh: Lakehouse, day: dt.date, horizon: dt.date) -> dict[str, int]:
    def snapshot(name: str) -> DataFrame:
        return _of_date(lh, name, day)

    key = current_key(lh)  # refused once a key rotation retired it
    records = lh.scratch(all_silo_customers(snapshot("deposits_customers"), snapshot("cards_cardholders"),
                                            snapshot("lending_borrowers")), "silo_customers")
    decided = review.decisions(lh.read(review.DECISION_TABLE)) if lh.exists(review.DECISION_TABLE) else None
    result = resolution(records, lh.scratch, decisions=decided)
    counts = publish(lh, review.REVIEW_TABLE,
                     review.review_rows(result.review, records, key, day), day)
    resolved = result.crosswalk
    if lh.exists("silver.customer_crosswalk"):
        resolved = keep_known_ids(resolved, lh.read("silver.customer_crosswalk"))
    resolved = lh.scratch(_stamped(resolved, day, SNAPSHOT_DATE, KNOWN_ON), "resolved")
    counts |= publish(lh, "silver.customer_crosswalk", resolved, day, stored=True)
    crosswalk = lh.read("silver.customer_crosswalk")

    # An account whose owner is not known yet waits for its owner's record; so do its transactions.
    accounts = conform_accounts(snapshot("deposits_accounts"), snapshot("cards_accounts"), snapshot("lending_loans"),
                                crosswalk)
    counts |= _waiting_for(lh, "silver.account", _stamped(accounts, day, SNAPSHOT_DATE), OWNER, crosswalk, day,
                           horizon)
    balances = account_balances(snapshot("deposits_balances"), snapshot("cards_balances"),
                                snapshot("lending_balances"))
    counts |= publish(lh, "silver.account_balance", _stamped(balances, day, KNOWN_ON), day)

    customers = golden_customers(records, resolved, lh.read("silver.account"), key)
    published = {}

    def publish_customers(valid: DataFrame) -> int:
        # The declared write, keeping the golden records published: their versions are derived from them.
        published["golden"] = lh.scratch(valid, "golden_records")
        return lh.write("silver.customer", valid, day)

    counts |= validated_write(lh, "silver.customer", _stamped(customers, day, SNAPSHOT_DATE, KNOWN_ON), day,
                              publish_customers)
    earlier = lh.read("silver.customer_version") if lh.exists("silver.customer_version") else None
    versions = customer_versions(published["golden"], earlier, day)
    counts |= publish(lh, "silver.customer_version", versions, day)
    # Not a write of new rows (hence not publish): a golden record no silo id points to any more (two
    # customers found to be one person) goes.
    lh.delete_unmatched("silver.customer", lh.read("silver.customer_crosswalk").select("customer_id").distinct(),
                        ("customer_id",))
    return counts


def activity(lh: Lakehouse, day: dt.date, horizon: dt.date) -> dict[str, int]:
    accounts = lh.read("silver.account")
    txns = conform_transactions(_of_date(lh, "deposits_transactions", day), _of_date(lh, "cards_transactions", day),
                                _of_date(lh, "lending_repayments", day), accounts)
    counts = _waiting_for(lh, "silver.transaction", txns, ACCOUNT, accounts, day, horizon)
    # Rows already published follow their account to another customer: an update in place, not a publish.
    lh.update_matching("silver.transaction", accounts.select("silo", "account_id", "customer_id"),
                       ("silo", "account_id"), ("customer_id",))
    return counts


def published_offers(lh: Lakehouse) -> DataFrame:
    """The offered decisions of audit.decision_log (none before the first decision run), each known on its
    decision date."""
    if not lh.exists("audit.decision_log"):
        return lh.spark.createDataFrame([], "decision_id string, decided_on date, offer_id string, _known_on date")
    return lh.read("audit.decision_log").where("outcome = 'offered'").select(
        "decision_id", F.col("as_of_date").alias("decided_on"), "offer_id", F.col("as_of_date").alias(KNOWN_ON))


def engagement(lh: Lakehouse, day: dt.date, horizon: dt.date) -> dict[str, int]:
    crosswalk = lh.read("silver.customer_crosswalk")
    owners = crosswalk.select(*CUSTOMER_KEY, "customer_id")
    counts = {}
    for table, rows in (("silver.digital_session", digital_sessions(_of_date(lh, "digital_sessions", day))),
                        ("silver.consent_event", consent_events(_of_date(lh, "crm_consents", day))),
                        ("silver.offer_event", offer_events(_of_date(lh, "crm_offers", day))),
                        ("silver.life_event", declared_life_events(_of_date(lh, "crm_life_events", day)))):
        rows = rows.withColumn("customer_id", F.lit(None).cast("string"))
        counts |= _waiting_for(lh, table, rows, OWNER, crosswalk, day, horizon)
        lh.update_matching(table, owners, CUSTOMER_KEY, ("customer_id",))
    decisions = published_offers(lh)
    counts |= _waiting_for(lh, "silver.offer_response",
                           offer_responses(_of_date(lh, "channels_responses", day), decisions), DECISION, decisions,
                           day, horizon)
    if day < horizon:
        # The current state is the newest date's to write: rebuilt here from every event, it would make an
        # earlier date's run (and its checks in audit.dq_results) depend on what came after it.
        log.info("silver.consent and silver.offer_interaction are left as the run of %s made them", horizon)
        return counts
    # Both are declared write="sync": MERGEd, and the rows their events no longer give deleted.
    counts |= publish(lh, "silver.consent", current_consent(lh.read("silver.consent_event")), day)
    counts |= publish(lh, "silver.offer_interaction", offer_interactions(lh.read("silver.offer_event")), day)
    return counts
