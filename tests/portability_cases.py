"""The pure transforms of every job run on tiny inputs, on whichever engine is given.

tests/integration/test_portability.py runs these on embedded Sail (in the test process) and on classic JVM Spark
(pyspark's own jars, `local[1]`, no Delta) in a subprocess — a classic session and a Spark Connect
session cannot share one Python process — and compares the outputs row for row.

    python -m tests.portability_cases --out results.json   # classic JVM Spark
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import decimal
import json
import math
import tempfile

from pyspark.sql import functions as F

from jobs.contracts import ColumnContract, Contract, typed
from jobs.decide.arbitrate import arbitrate
from jobs.decide.catalog import load_policy
from jobs.decide.learn import learn, with_learned_factor
from jobs.decide.pricing import add_price_and_value
from jobs.decide.rules import apply_rules
from jobs.gold.customer_360 import build_customer_360
from jobs.gold.training_set import build_training_set
from jobs.ingest.contract_checks import check_rows
from jobs.measure.kpis import kpi_table, per_customer
from jobs.unify.accounts import conform_accounts
from jobs.unify.customers import customer_versions, golden_customers
from jobs.unify.engagement import consent_events, current_consent, offer_events, offer_interactions, with_customer
from jobs.unify.identity import keep_known_ids, resolve
from jobs.unify.late_arrivals import ARRIVED_ON, Hold, Parent, link
from jobs.unify.standardize import deposits_customers, lending_borrowers
from jobs.unify.transactions import deposit_transactions
from tests.decide_fixtures import frame
from tests.silver_fixtures import AS_OF, TXN_SCHEMA, money_frame, silver_frames

TOY = Contract("deposits", "toy", ("id",), (
    ColumnContract("id", required=True, pattern="^T[0-9]+$"),
    ColumnContract("day", type="date", format="dd.MM.yyyy", required=True),
    ColumnContract("amount", type="decimal", min=0),
    ColumnContract("ccy", allowed=("USD",)),
))


def _bronze(spark, columns, rows):
    schema = ", ".join(f"{c} string" for c in columns) + ", _row_id long, _logical_date date"
    return spark.createDataFrame([(*r, i, AS_OF) for i, r in enumerate(rows)], schema)


def _plain(value):
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 6)
    if isinstance(value, decimal.Decimal):
        return str(value)   # money: exact, compared digit for digit
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _rows(df) -> list[list]:
    return sorted(([_plain(v) for v in r] for r in df.collect()), key=json.dumps)


def _scratch(spark):
    """A scratch area for identity resolution's intermediate tables (Lakehouse.scratch without a lakehouse)."""
    folder = tempfile.mkdtemp(prefix="marketofone-portability-")

    def scratch(df, name):
        df.write.mode("overwrite").parquet(f"{folder}/{name}")
        return spark.read.schema(df.schema).parquet(f"{folder}/{name}")
    return scratch


def run_cases(spark) -> dict[str, list]:
    out = {}
    toy = _bronze(spark, ["id", "day", "amount", "ccy"], [
        ("T1", "31.01.2026", "1.50", "USD"), ("T2", "45.01.2026", "2", "USD"),
        ("X3", "01.02.2026", "-1", "EUR"), ("T1", "02.02.2026", "3", None),
    ])
    out["ingest.check_rows"] = _rows(check_rows(toy, TOY).select("_row_id", "_rule", "_reason"))
    out["contracts.typed"] = _rows(typed(toy, TOY).drop("_logical_date"))

    dep_cols = ["cif_id", "full_name", "birth_date", "email", "phone", "national_id", "street", "city", "state",
                "postcode", "gender", "customer_since"]
    deposits = _bronze(spark, dep_cols, [
        ("D0000001", "Ann Lee", "1980-01-02", "ann@x.com", "+1 555-000-1111", "111-22-3333", "12 N. Oak St., Apt 4",
         "St. Louis", "mo", "11111", "F", "2020-01-01"),
        ("D0000002", "Bob  Ray", "1990-05-06", "", "+1 555-000-2222", "", "9 St Charles Ave", "FT WORTH",
         "Texas", "22222", "M", "2021-01-01"),
    ])
    # (the lending rows below have no address columns: a bronze table loaded before the contract had them)
    lending = _bronze(spark, ["borrower_no", "name", "dob", "email", "phone", "tax_id", "postal_code"], [
        ("100001", "LEE, ANN", "02.01.1980", "ANN@X.COM", "(555) 000-1111", "111223333", "11111"),
        ("100002", "RAY, BOB", "06.05.1990", "", "", "", "22222"),
    ])
    records = deposits_customers(deposits).unionByName(lending_borrowers(lending))
    out["unify.standardize"] = _rows(records)
    crosswalk = resolve(records, _scratch(spark))
    out["unify.resolve"] = _rows(crosswalk)

    txn_cols = ["txn_id", "account_id", "booking_date", "amount", "direction", "txn_type", "counterparty", "mcc"]
    txns = _bronze(spark, txn_cols, [
        ("DT1", "DA1", "2026-06-01", "100.00", "CR", "PAYROLL", "ACME", ""),
        ("DT2", "DA1", "2026-06-02", "40.00", "DR", "TRANSFER_OUT_EXTERNAL", "OTHER BANK", ""),
        ("DT3", "DA1", "2026-06-03", "25.00", "DR", "CARD_SETTLEMENT", "CARTERS", "5641"),
    ])
    out["unify.deposit_transactions"] = _rows(deposit_transactions(txns))

    consents = _bronze(spark, ["event_id", "customer_ref", "customer_silo", "purpose", "channel", "status",
                               "recorded_at", "source"], [
        ("CE1", "D0000001", "deposits", "marketing", "email", "granted", "2026-06-01 09:00:00", "onboarding"),
        ("CE2", "D0000001", "deposits", "marketing", "email", "withdrawn", "2026-06-20 10:00:00", "app"),
        ("CE3", "100002", "lending", "profiling", "all", "granted", "2026-06-02 11:00:00", "branch"),
    ])
    out["unify.current_consent"] = _rows(current_consent(with_customer(consent_events(consents), crosswalk)))
    offer_rows = [("OE1", "OF1", "D0000001", "deposits", "sent", "2026-06-03 09:00:00"),
                  ("OE2", "OF1", "D0000001", "deposits", "opened", "2026-06-04 08:00:00"),
                  ("OE3", "OF1", "D0000001", "deposits", "accepted", "2026-06-05 10:00:00"),
                  ("OE4", "OF2", "100002", "lending", "holdout", "2026-06-03 09:00:00")]
    offers_bronze = _bronze(spark, ["event_id", "offer_id", "customer_ref", "customer_silo", "campaign", "product",
                                    "channel", "event_type", "event_at"],
                            [(e, o, r, s, "LEGACY-2026-06", "savings", "email", t, at)
                             for e, o, r, s, t, at in offer_rows])
    events = with_customer(offer_events(offers_bronze), crosswalk)
    out["unify.offer_interactions"] = _rows(offer_interactions(events))

    silver = silver_frames(spark)
    out["unify.golden_customers"] = _rows(
        golden_customers(records, crosswalk, silver.accounts.limit(0), "k").drop("silos"))
    golden = golden_customers(records, crosswalk, silver.accounts.limit(0), "k")
    first = customer_versions(golden, None, AS_OF)
    moved = golden.withColumn("postcode", F.lit("99999"))
    out["unify.customer_versions"] = _rows(customer_versions(moved, first, AS_OF + dt.timedelta(days=1)))
    earlier = crosswalk.withColumn("customer_id", F.concat(F.lit("OLD-"), "customer_id")).withColumn(
        "_known_on", F.lit(AS_OF))
    out["unify.keep_known_ids"] = _rows(keep_known_ids(crosswalk, earlier))
    arrived = money_frame(spark,
        [("deposits", f"T{i}", f"DA{i}", None, AS_OF, -1.0, "atm", "deposit", False, "X") for i in (1, 2, 3)],
        TXN_SCHEMA).withColumn(ARRIVED_ON, F.lit(AS_OF))
    parents = spark.createDataFrame(
        [("deposits", "DA1", "A", AS_OF), ("deposits", "DA2", "B", AS_OF + dt.timedelta(days=2))],
        "silo string, account_id string, customer_id string, _known_on date")
    account = Parent("silver.account", ("silo", "account_id"), ("customer_id",), "its account")
    published, waits = Hold(account, 7, AS_OF + dt.timedelta(days=3)).sort_out(link(arrived, parents, account))
    out["unify.late_arrivals.published"] = _rows(published)
    out["unify.late_arrivals.waits"] = _rows(waits)
    acc_cols = ["account_id", "cif_id", "product", "open_date", "balance", "currency"]
    empty_cards = _bronze(spark, ["card_account_id", "holder_ref", "card_product", "open_date", "credit_limit",
                                  "current_balance", "days_past_due"], [])
    empty_loans = _bronze(spark, ["loan_no", "borrower_no", "loan_type", "principal", "interest_rate",
                                  "start_date", "outstanding", "days_past_due"], [])
    dep_accounts = _bronze(spark, acc_cols, [("DA1", "D0000001", "checking", "2020-01-01", "10.00", "USD")])
    out["unify.conform_accounts"] = _rows(conform_accounts(dep_accounts, empty_cards, empty_loans, crosswalk))

    c360 = build_customer_360(silver, AS_OF)
    out["gold.customer_360"] = _rows(c360)
    out["gold.training_set"] = _rows(build_training_set(silver, AS_OF - dt.timedelta(days=30), 30))
    policy = load_policy()
    candidates = frame(spark, {}, {"customer_id": "CU2", "channel": "email", "affinity": 0.5},
                       {"customer_id": "CU2", "offer_id": "AUTO-DRIVE", "product": "auto_loan", "probability": 0.3},
                       {"customer_id": "CU3", "age": 17}, {"customer_id": "CU9", "max_days_past_due": 90})
    decided = arbitrate(add_price_and_value(apply_rules(candidates, policy)), policy)
    out["decide.arbitrate"] = _rows(decided)
    # Exploration (softmax draws over a hash) and the adaptive response model (jobs/decide/learn.py).
    exploring = dataclasses.replace(policy, exploration_share=0.2)
    out["decide.arbitrate_exploring"] = _rows(arbitrate(add_price_and_value(apply_rules(candidates, exploring)),
                                                        exploring))
    shows = [(AS_OF - dt.timedelta(days=d), o, p, ch, ctx, prob, int(i % every == 0))
             for d, o, p, ch, ctx, prob, n, every in (
                 (40, "SAV-GROW", "savings", "mobile", "frequent|under_50", 0.05, 30, 3),
                 (12, "SAV-GROW", "savings", "mobile", "offline|65_plus", 0.04, 20, 5),
                 (12, "SAV-PLUS", "savings", "mobile", "offline|65_plus", 0.04, 20, 2),
                 (12, "CC-EVERYDAY", "credit_card", "email", "frequent|*", 0.1, 10, 4))
             for i in range(n)]
    history = spark.createDataFrame(shows, "as_of_date date, offer_id string, product string, channel string, "
                                           "context string, probability double, accepted int")
    learned = learn(history, AS_OF, 2.0, 1.0)
    out["decide.learn"] = _rows(learned)
    asked = spark.createDataFrame([("SAV-GROW", "savings", "mobile", "offline|65_plus"),
                                   ("SAV-NEW", "savings", "mobile", "frequent|under_50"),
                                   ("CC-NEW", "credit_card", "email", "frequent|*"),
                                   ("TD-12M", "term_deposit", "branch", "offline|*")],
                                  "offer_id string, product string, channel string, context string")
    out["decide.with_learned_factor"] = _rows(with_learned_factor(asked, learned, 1.5, ("credit_card",)))
    holdout = c360.select("customer_id", (F.col("customer_id") == "B").alias("holdout"))
    openings = spark.createDataFrame([("A", AS_OF, 100.0)], "customer_id string, open_date date, value double")
    offered = spark.createDataFrame([("A", "D1", AS_OF - dt.timedelta(days=1))],
                                    "customer_id string, decision_id string, as_of_date date")
    values = per_customer(c360, holdout, openings, offered, spark.createDataFrame([("D1",)], "decision_id string"),
                          AS_OF)
    out["gold.kpi_daily"] = _rows(kpi_table(values, AS_OF))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    from jobs.engine import jvm_builder
    from tests.small_jvm import SMALL_DATA_CONF

    builder = jvm_builder("marketofone-portability", master="local[1]", delta=False)
    for key, value in SMALL_DATA_CONF:
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    try:
        with open(args.out, "w") as fh:
            json.dump(run_cases(spark), fh)
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
