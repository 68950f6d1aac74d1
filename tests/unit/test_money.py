"""Money is a decimal end to end (issue 14): silver's amounts, balances and limits are decimal(18,2) as the
landing contracts type them, gold's sums of them decimal(20,2), so a sum never depends on the order rows
arrive in (a double sum does, in its last bits, between runs and between engines)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from pyspark.sql import functions as F

from jobs.contracts import MONEY, MONEY_SUM, load_contract, typed
from jobs.gold.customer_360 import build_customer_360
from jobs.measure.kpis import per_customer
from jobs.unify.accounts import account_balances, conform_accounts
from jobs.unify.transactions import conform_transactions
from tests.silver_fixtures import AS_OF, silver_frames

SILVER_MONEY = {
    "account": ("balance", "credit_limit", "principal", "interest_rate"),
    "account_balance": ("balance", "credit_limit"),
    "transaction": ("amount",),
}
GOLD_MONEY = (
    "total_balance", "deposit_balance_90d_ago", "deposit_balance_change_90d", "checking_balance", "card_balance",
    "loan_outstanding", "credit_limit", "inflow_7d", "inflow_30d", "inflow_90d", "outflow_7d", "outflow_30d",
    "outflow_90d", "payroll_30d", "payroll_90d", "pension_30d", "income_monthly", "rent_30d", "rent_90d",
    "housing_90d", "external_transfer_out_30d", "external_transfer_out_90d", "largest_outflow_90d", "atm_30d",
    "card_spend_30d", "card_spend_90d", "spend_groceries_30d", "spend_dining_90d",
)
# Ratios are doubles computed from the decimal sums.
GOLD_RATIOS = ("credit_utilization", "payroll_trend", "external_share_90d", "outflow_over_inflow_90d",
               "balance_months_of_inflow", "avg_balance_months_365d", "outflow_over_pay_365d",
               "discretionary_share_90d")


def bronze(spark, silo: str, entity: str, *rows: dict):
    """A bronze table as the silo exports it: every contract column as text (missing ones empty)."""
    names = load_contract(silo, entity).column_names
    schema = ", ".join(f"{n} string" for n in names)
    return spark.createDataFrame([tuple(row.get(n) for n in names) for row in rows], schema)


def silver_tables(spark, order=lambda rows: rows):
    deposits = bronze(spark, "deposits", "accounts", dict(account_id="DA1", cif_id="D1", product="checking",
                                                          open_date="2025-01-02", balance="100.10", currency="USD"))
    cards = bronze(spark, "cards", "accounts", dict(card_account_id="CA1", holder_ref="C1", open_date="01/02/2025",
                                                    credit_limit="5000.00", current_balance="12.34", days_past_due="0"))
    loans = bronze(spark, "lending", "loans", dict(loan_no="L1", borrower_no="7", loan_type="auto",
                                                   principal="20000.00", interest_rate="6.25", start_date="02.01.2025",
                                                   outstanding="1234.56", days_past_due="0"))
    crosswalk = spark.createDataFrame([("deposits", "D1", "A"), ("cards", "C1", "A"), ("lending", "7", "A")],
                                      "silo string, silo_customer_id string, customer_id string")
    accounts = conform_accounts(deposits, cards, loans, crosswalk)
    balances = account_balances(
        bronze(spark, "deposits", "balances", dict(account_id="DA1", balance_date="2026-06-01", balance="0.30")),
        bronze(spark, "cards", "balances", dict(card_account_id="CA1", balance_date="06/01/2026", credit_limit="5000",
                                                current_balance="0.1", days_past_due="0")),
        bronze(spark, "lending", "balances", dict(loan_no="L1", balance_date="01.06.2026", outstanding="1000.00",
                                                  days_past_due="0")))
    deposit_rows = order([dict(txn_id=f"T{i}", account_id="DA1", booking_date="2026-06-10", amount=amount,
                               direction=direction, txn_type="PAYROLL")
                          for i, (amount, direction) in enumerate([("0.10", "CR"), ("0.20", "CR"), ("0.30", "CR"),
                                                                    ("1000000000.01", "CR"), ("1000000000.01", "DR")])])
    txns = conform_transactions(
        bronze(spark, "deposits", "transactions", *deposit_rows),
        bronze(spark, "cards", "transactions", dict(txn_ref="C1", card_account_id="CA1", txn_date="06/11/2026",
                                                     amount="19.99", mcc="5411", merchant_category="Groceries")),
        bronze(spark, "lending", "repayments", dict(repayment_id="R1", loan_no="L1", paid_date="12.06.2026",
                                                     amount="250.00")),
        accounts)
    return {"account": accounts, "account_balance": balances, "transaction": txns}


def test_the_contract_types_a_decimal_column_as_money(spark):
    contract = load_contract("deposits", "transactions")
    df = spark.createDataFrame([(s,) for s in ("10.50", " 12 ", "-3.05", "10.505", "1e3", "1,234.00", "n/a", "")],
                               "amount string")
    got = typed(df, contract)
    assert dict(got.dtypes)["amount"] == MONEY
    assert [r.amount for r in got.collect()] == [Decimal("10.50"), Decimal("12.00"), Decimal("-3.05"),
                                                 Decimal("10.51"), None, None, None, None]


def test_silver_money_columns_are_decimals(spark):
    tables = silver_tables(spark)
    for name, columns in SILVER_MONEY.items():
        types = dict(tables[name].dtypes)
        assert {c: types[c] for c in columns} == {c: MONEY for c in columns}, name
    amounts = {r.txn_id: r.amount for r in tables["transaction"].collect()}
    assert amounts["T0"] == Decimal("0.10") and amounts["T4"] == Decimal("-1000000000.01")
    assert amounts["C1"] == Decimal("-19.99") and amounts["R1"] == Decimal("-250.00")


def test_gold_money_columns_are_decimal_sums_and_ratios_doubles(spark):
    tables = silver_tables(spark)
    silver = silver_frames(spark)
    silver = dataclasses.replace(silver, **{
        field: tables[name].withColumn("_known_on", F.lit(AS_OF))
        for field, name in (("accounts", "account"), ("balances", "account_balance"), ("transactions", "transaction"))})
    c360 = build_customer_360(silver, AS_OF)
    types = dict(c360.dtypes)
    assert {c: types[c] for c in GOLD_MONEY} == {c: MONEY_SUM for c in GOLD_MONEY}
    assert {c: types[c] for c in GOLD_RATIOS} == {c: "double" for c in GOLD_RATIOS}
    a = c360.where("customer_id = 'A'").collect()[0]
    # The balance known on 2026-06-01 rolled forward by the transactions since, to the cent.
    assert a.checking_balance == Decimal("0.90") and a.total_balance == Decimal("0.90")  # 0.30 + 0.60
    assert a.card_balance == Decimal("20.09") and a.loan_outstanding == Decimal("750.00")
    assert a.inflow_30d == Decimal("1000000000.61") and a.credit_limit == Decimal("5000.00")

    openings = spark.createDataFrame([("A", AS_OF, 0.1), ("A", AS_OF, 0.2)],
                                     "customer_id string, open_date date, value double")
    kpi = per_customer(c360, spark.createDataFrame([("A", False)], "customer_id string, holdout boolean"), openings,
                       spark.createDataFrame([], "customer_id string, decision_id string, as_of_date date"),
                       spark.createDataFrame([], "decision_id string"), AS_OF)
    assert dict(kpi.dtypes)["revenue_per_customer_30d"] == MONEY_SUM
    assert kpi.where("customer_id = 'A'").collect()[0].revenue_per_customer_30d == Decimal("0.30")


def test_a_sum_is_the_same_whatever_the_order_rows_arrive_in(spark):
    amounts = ["0.10", "0.20", "0.30", "1000000000.01", "-1000000000.01"]
    floats = [float(a) for a in amounts]
    assert sum(floats) != sum(reversed(floats))  # in doubles the order shows in the last bits
    sums = []
    for ordered in (amounts, amounts[::-1]):
        df = spark.createDataFrame([(a,) for a in ordered], "amount string").coalesce(1)
        sums.append(typed(df, load_contract("deposits", "transactions")).agg(F.sum("amount")).collect()[0][0])
    assert sums == [Decimal("0.60"), Decimal("0.60")]

    # The whole 360 from the same transactions in the opposite order: every value exactly equal.
    def c360(order):
        tables = silver_tables(spark, order)
        silver = dataclasses.replace(silver_frames(spark), transactions=tables["transaction"].withColumn(
            "_known_on", F.lit(AS_OF)))
        return {r.customer_id: r for r in build_customer_360(silver, AS_OF).collect()}

    forward, backward = c360(lambda rows: rows), c360(lambda rows: rows[::-1])
    assert forward == backward
    assert forward["A"].inflow_30d == Decimal("1000000000.61")
