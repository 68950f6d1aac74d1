"""Tiny silver tables shared by the gold tests: two customers, their accounts as exported 5 days after
the as-of date, and a handful of transactions."""

import datetime as dt

AS_OF = dt.date(2026, 6, 30)
CUSTOMER_SCHEMA = ("customer_id string, name_token string, email_token string, phone_token string, "
                   "national_id_token string, birth_date date, gender string, postcode string, "
                   "silos array<string>, source_records long, first_seen date")
ACCOUNT_SCHEMA = ("silo string, silo_customer_id string, account_id string, product string, open_date date, "
                  "balance double, credit_limit double, principal double, interest_rate double, "
                  "days_past_due long, currency string, customer_id string")
BALANCE_SCHEMA = ("as_of_date date, silo string, account_id string, balance double, credit_limit double, "
                  "days_past_due long")
TXN_SCHEMA = ("silo string, txn_id string, account_id string, customer_id string, txn_date date, "
              "amount double, category string, kind string, is_external boolean")


def d(days_before: int) -> dt.date:
    return AS_OF - dt.timedelta(days=days_before)


def silver_frames(spark):
    customers = spark.createDataFrame([
        ("A", "t", "t", "t", "t", dt.date(1990, 7, 1), "F", "1", ["cards", "deposits"], 2, d(400)),
        ("B", "t", "t", "t", "t", dt.date(1960, 1, 1), "M", "2", ["deposits"], 1, d(100)),
        ("N", "t", "t", "t", "t", dt.date(2000, 1, 1), "M", "3", ["deposits"], 1, d(-5)),  # joins later
    ], CUSTOMER_SCHEMA)
    accounts = spark.createDataFrame([
        ("deposits", "D1", "DA1", "checking", d(400), 1000.0, None, None, None, 0, "USD", "A"),
        ("cards", "C-1", "CA1", "credit_card", d(10), 300.0, 1000.0, None, None, 0, "USD", "A"),
        ("deposits", "D2", "DA2", "checking", d(100), 500.0, None, None, None, 0, "USD", "B"),
        ("deposits", "D2", "DA3", "savings", d(50), 2000.0, None, None, None, 0, "USD", "B"),
        ("deposits", "D3", "DA4", "checking", d(-5), 50.0, None, None, None, 0, "USD", "N"),
    ], ACCOUNT_SCHEMA)
    txns = spark.createDataFrame([
        ("deposits", "T1", "DA1", "A", d(5), 3000.0, "payroll", "deposit", False),
        ("deposits", "T2", "DA1", "A", d(4), -1000.0, "transfer_out_external", "deposit", True),
        ("deposits", "T3", "DA1", "A", d(40), 3000.0, "payroll", "deposit", False),
        ("cards", "T4", "CA1", "A", d(3), -200.0, "groceries", "card", False),
        ("deposits", "T5", "DA2", "B", d(45), -100.0, "atm", "deposit", False),
        ("deposits", "T6", "DA1", "A", d(-3), 500.0, "transfer_in", "deposit", False),  # after as-of
    ], TXN_SCHEMA)
    # The accounts as exported 5 days after the as-of date (T6 arrived in between).
    balances = spark.createDataFrame([(d(-5), a.silo, a.account_id, a.balance, a.credit_limit, a.days_past_due)
                                      for a in accounts.collect()], BALANCE_SCHEMA)
    return customers, accounts, balances, txns
