"""The silver step: read the newest bronze exports, resolve identities, write the conformed tables.

Every silver table goes through write-audit-publish (jobs/publish.py) with its suite in expectations/:
rows failing a row-level expectation (an orphan account or transaction, a repeated key) go to
quarantine.silver_<table> with `_check` and `_reason`; a table-level failure stops the step.
"""

from __future__ import annotations

import datetime as dt

from jobs.publish import validated_write
from jobs.tables import Lakehouse
from jobs.unify.accounts import conform_accounts
from jobs.unify.customers import golden_customers
from jobs.unify.identity import resolve
from jobs.unify.standardize import all_silo_customers, latest_export
from jobs.unify.transactions import conform_transactions


def run(lh: Lakehouse, logical_date: dt.date) -> dict[str, int]:
    def bronze(name: str):
        return latest_export(lh.read(f"bronze.{name}"), logical_date)

    records = lh.scratch(all_silo_customers(bronze("deposits_customers"), bronze("cards_cardholders"),
                                            bronze("lending_borrowers")), "silo_customers")
    crosswalk = resolve(records, materialize=lambda df, i: lh.scratch(df, f"identity_labels_{i % 2}"))
    counts = validated_write(lh, "silver.customer_crosswalk", crosswalk, logical_date,
                             lambda valid: lh.overwrite("silver.customer_crosswalk", valid))
    crosswalk = lh.read("silver.customer_crosswalk")

    # An account whose owner is unknown (customer_id NULL after the crosswalk join) is quarantined by
    # the suite's not-null expectation on customer_id, and so are the transactions of such accounts.
    accounts = conform_accounts(bronze("deposits_accounts"), bronze("cards_accounts"),
                                bronze("lending_loans"), crosswalk)
    counts |= validated_write(lh, "silver.account", accounts, logical_date,
                              lambda valid: lh.overwrite("silver.account", valid))
    accounts = lh.read("silver.account")

    customers = golden_customers(records, crosswalk, accounts, lh.settings.tokenization_key)
    counts |= validated_write(lh, "silver.customer", customers, logical_date,
                              lambda valid: lh.overwrite("silver.customer", valid))

    txns = conform_transactions(bronze("deposits_transactions"), bronze("cards_transactions"),
                                bronze("lending_repayments"), accounts)
    counts |= validated_write(lh, "silver.transaction", txns, logical_date,
                              lambda valid: lh.overwrite("silver.transaction", valid))
    return counts
