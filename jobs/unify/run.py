"""The silver step: read the newest bronze exports, resolve identities, write the conformed tables."""

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
    counts = {"silver.customer_crosswalk": lh.overwrite("silver.customer_crosswalk", crosswalk)}
    crosswalk = lh.read("silver.customer_crosswalk")

    accounts = conform_accounts(bronze("deposits_accounts"), bronze("cards_accounts"),
                                bronze("lending_loans"), crosswalk)
    counts["silver.account"] = lh.overwrite("silver.account", accounts)
    accounts = lh.read("silver.account")

    customers = golden_customers(records, crosswalk, accounts, lh.settings.tokenization_key)
    counts |= validated_write(lh, "silver.customer", customers, logical_date,
                              lambda valid: lh.overwrite("silver.customer", valid))

    txns = conform_transactions(bronze("deposits_transactions"), bronze("cards_transactions"),
                                bronze("lending_repayments"), accounts)
    counts |= validated_write(lh, "silver.transaction", txns, logical_date,
                              lambda valid: lh.overwrite("silver.transaction", valid))
    return counts
