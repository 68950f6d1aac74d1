"""Tiny silver tables shared by the gold tests: two customers (and one who joins later), their accounts,
end-of-day balances, transactions, online sessions, campaign offer events and declared life events."""

import datetime as dt
import re
from decimal import Decimal

from pyspark.sql import functions as F

from jobs.gold.customer_360 import Silver
from jobs.known import KNOWN_ON

AS_OF = dt.date(2026, 6, 30)
KNOWN = dt.date(2025, 1, 1)  # every fixture row is known from before its history (tests that need a later one add it)
CUSTOMER_SCHEMA = ("customer_id string, name_token string, email_token string, phone_token string, "
                   "national_id_token string, birth_date date, gender string, postcode string, "
                   "silos array<string>, source_records long")
ACCOUNT_SCHEMA = ("silo string, silo_customer_id string, account_id string, product string, open_date date, "
                  "balance decimal(18,2), credit_limit decimal(18,2), principal decimal(18,2), "
                  "interest_rate decimal(18,2), "
                  "days_past_due long, currency string, customer_id string")
BALANCE_SCHEMA = ("as_of_date date, silo string, account_id string, balance decimal(18,2), credit_limit decimal(18,2), "
                  "days_past_due long")
TXN_SCHEMA = ("silo string, txn_id string, account_id string, customer_id string, txn_date date, "
              "amount decimal(18,2), category string, kind string, is_external boolean, counterparty string")
SESSION_SCHEMA = ("session_id string, silo string, silo_customer_id string, customer_id string, "
                  "started_at timestamp, session_date date, channel string, page string, page_views long, "
                  "duration_seconds long")
OFFER_EVENT_SCHEMA = ("event_id string, offer_id string, silo string, silo_customer_id string, campaign string, "
                      "product string, channel string, event_type string, event_at timestamp, customer_id string")
LIFE_EVENT_SCHEMA = ("event_id string, silo string, silo_customer_id string, customer_id string, event_type string, "
                     "event_date date, recorded_at timestamp, source string")


def money_frame(spark, rows, schema):
    """createDataFrame, money written as floats: Spark Connect takes a decimal column's values only as Decimal."""
    if isinstance(schema, str):
        types = [part.strip().split(" ", 1)[1] for part in re.split(r",(?![^(]*\))", schema)]
    else:
        types = [f.dataType.simpleString() for f in schema.fields]

    def cell(value, type_):
        money = type_.startswith("decimal") and isinstance(value, (int, float)) and not isinstance(value, bool)
        return Decimal(str(value)) if money else value

    return spark.createDataFrame([tuple(cell(v, t) for v, t in zip(row, types, strict=True)) for row in rows],
                                 schema)


def d(days_before: int) -> dt.date:
    return AS_OF - dt.timedelta(days=days_before)


def t(days_before: int, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(d(days_before), dt.time(hour))


def silver_frames(spark) -> Silver:
    customers = spark.createDataFrame([
        ("A", "t", "t", "t", "t", dt.date(1990, 7, 1), "F", "1", ["cards", "deposits"], 2),
        ("B", "t", "t", "t", "t", dt.date(1960, 1, 1), "M", "2", ["deposits"], 1),
        ("N", "t", "t", "t", "t", dt.date(2000, 1, 1), "M", "3", ["deposits"], 1),  # joins later: first account after
    ], CUSTOMER_SCHEMA)
    accounts = money_frame(spark, [
        ("deposits", "D1", "DA1", "checking", d(400), 1000.0, None, None, None, 0, "USD", "A"),
        ("cards", "C-1", "CA1", "credit_card", d(10), 300.0, 1000.0, None, None, 0, "USD", "A"),
        ("deposits", "D2", "DA2", "checking", d(100), 500.0, None, None, None, 0, "USD", "B"),
        ("deposits", "D2", "DA3", "savings", d(50), 2000.0, None, None, None, 0, "USD", "B"),
        ("deposits", "D3", "DA4", "checking", d(-5), 50.0, None, None, None, 0, "USD", "N"),
    ], ACCOUNT_SCHEMA)
    balances = money_frame(spark, [
        (d(30), "deposits", "DA1", 800.0, None, 0),     # known 30 days before the as-of date
        (d(100), "deposits", "DA1", 700.0, None, 0),    # and 100 days before
        (d(5), "cards", "CA1", 150.0, 1000.0, 0),
        (d(60), "deposits", "DA2", 600.0, None, 0),
        (d(40), "deposits", "DA3", 2000.0, None, 0),
        (d(-5), "deposits", "DA1", 9999.0, None, 0),    # after the as-of date: never read for it
        # Month ends: three in the last year (2026-05-31 above; two of them in the last 90 days), one before
        # it, one after the day; a savings month end is not a checking balance.
        (dt.date(2026, 4, 30), "deposits", "DA1", 400.0, None, 0),
        (dt.date(2026, 2, 28), "deposits", "DA1", 100.0, None, 0),
        (dt.date(2025, 5, 31), "deposits", "DA1", 50000.0, None, 0),
        (dt.date(2026, 7, 31), "deposits", "DA1", 9999.0, None, 0),
        (dt.date(2026, 5, 31), "deposits", "DA3", 2000.0, None, 0),
    ], BALANCE_SCHEMA)
    txns = money_frame(spark, [
        ("deposits", "T1", "DA1", "A", d(5), 3000.0, "payroll", "deposit", False, "ACME CORP"),
        ("deposits", "T2", "DA1", "A", d(4), -1000.0, "transfer_out_external", "deposit", True, "OTHER BANK"),
        ("deposits", "T3", "DA1", "A", d(40), 3000.0, "payroll", "deposit", False, "ACME CORP"),
        ("cards", "T4", "CA1", "A", d(3), -200.0, "groceries", "card", False, "5411"),
        ("deposits", "T5", "DA2", "B", d(45), -100.0, "atm", "deposit", False, "MO1 ATM"),
        ("deposits", "T6", "DA1", "A", d(-3), 500.0, "transfer_in", "deposit", False, "OTHER BANK"),  # after as-of
        ("deposits", "T7", "DA2", "B", d(20), 1500.0, "payroll", "deposit", False, "SSA TREAS 310"),  # pension
        ("deposits", "T8", "DA2", "B", d(10), -80.0, "kids", "debit_card", False, "CARTERS"),
        # Older than 90 days: only the year-long figures see these; the first is older than a year.
        ("deposits", "T10", "DA1", "A", d(380), 3000.0, "payroll", "deposit", False, "ACME CORP"),
        ("deposits", "T11", "DA1", "A", d(300), 3000.0, "payroll", "deposit", False, "ACME CORP"),
        ("deposits", "T12", "DA1", "A", d(200), -2000.0, "transfer_out_external", "deposit", True, "OTHER BANK"),
    ], TXN_SCHEMA)
    sessions = spark.createDataFrame([
        ("S1", "deposits", "D1", "A", t(3), d(3), "app", "mortgage_calculator", 3, 120),
        ("S2", "deposits", "D1", "A", t(60), d(60), "web", "mortgage_calculator", 2, 60),
        ("S3", "deposits", "D2", "B", t(-2), d(-2), "app", "retirement_planner", 1, 30),  # after as-of
    ], SESSION_SCHEMA)
    def offer(offer_id, customer, campaign, product, channel, *events):
        silo_id = {"A": "D1", "B": "D2"}[customer]
        return [(f"{offer_id}-{kind}", offer_id, "deposits", silo_id, campaign, product, channel, kind, at, customer)
                for kind, at in events]

    offer_events = spark.createDataFrame(
        offer("O1", "A", "LEGACY-2026-06", "savings", "email",
              ("sent", t(20)), ("opened", t(19)), ("clicked", t(19)), ("declined", t(18)))
        + offer("O2", "B", "LEGACY-2026-06", "credit_card", "mobile", ("sent", t(8)), ("opened", t(7)))
        + offer("O3", "B", "LEGACY-2026-07", "term_deposit", "branch", ("sent", t(-4))),  # after as-of
        OFFER_EVENT_SCHEMA)
    life_events = spark.createDataFrame([
        ("L1", "deposits", "D2", "B", "marriage", d(200), t(190), "branch"),
        ("L2", "deposits", "D1", "A", "home_purchase", d(-10), t(-20), "app"),  # after as-of: a label, no feature
        ("L3", "deposits", "D2", "B", "retirement", d(40), t(-2), "web"),       # recorded after as-of
    ], LIFE_EVENT_SCHEMA)
    # The golden records as versions (silver.customer_version): one each, from before the history.
    customers = customers.withColumn("_snapshot_date", F.lit(KNOWN)).withColumn(
        "_removed", F.lit(False))
    frames = (customers, accounts, balances, txns, sessions, offer_events, life_events)
    return Silver(*(f.withColumn(KNOWN_ON, F.lit(KNOWN)) for f in frames))
