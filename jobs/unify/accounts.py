"""Deposit accounts, card accounts and loans -> silver.account, one shape for every product.

Columns: silo, account_id, customer_id, product, open_date, balance, credit_limit, principal,
interest_rate, days_past_due, currency. `balance` is what the customer holds (deposits) or owes (cards,
loans) at the export date; `account_balances` conforms the balance files (silver.account_balance).
Money (balance, credit_limit, principal) and the interest rate are MONEY (decimal(18,2), jobs/contracts.py).
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.contracts import MONEY, load_contract, typed
from jobs.lookups import looked_up

LOAN_PRODUCTS = {"personal": "personal_loan", "auto": "auto_loan", "mortgage": "mortgage"}


def _null(type_: str) -> F.Column:
    return F.lit(None).cast(type_)


def deposit_accounts(bronze: DataFrame) -> DataFrame:
    df = typed(bronze, load_contract("deposits", "accounts"))
    return df.select(
        F.lit("deposits").alias("silo"), "account_id", F.col("cif_id").alias("silo_customer_id"),
        F.col("product"), "open_date", F.col("balance"), _null(MONEY).alias("credit_limit"),
        _null(MONEY).alias("principal"), _null(MONEY).alias("interest_rate"),
        F.lit(0).cast("bigint").alias("days_past_due"), "currency",
    )


def card_accounts(bronze: DataFrame) -> DataFrame:
    df = typed(bronze, load_contract("cards", "accounts"))
    return df.select(
        F.lit("cards").alias("silo"), F.col("card_account_id").alias("account_id"),
        F.col("holder_ref").alias("silo_customer_id"), F.lit("credit_card").alias("product"),
        "open_date", F.col("current_balance").alias("balance"), "credit_limit",
        _null(MONEY).alias("principal"), _null(MONEY).alias("interest_rate"),
        "days_past_due", F.lit("USD").alias("currency"),
    )


def loans(bronze: DataFrame) -> DataFrame:
    df = typed(bronze, load_contract("lending", "loans"))
    return df.select(
        F.lit("lending").alias("silo"), F.col("loan_no").alias("account_id"),
        F.col("borrower_no").cast("string").alias("silo_customer_id"),
        looked_up(F.col("loan_type"), LOAN_PRODUCTS, F.lit("other_loan")).alias("product"),
        F.col("start_date").alias("open_date"), F.col("outstanding").alias("balance"),
        _null(MONEY).alias("credit_limit"), "principal", "interest_rate", "days_past_due",
        F.lit("USD").alias("currency"),
    )


def conform_accounts(deposits: DataFrame, cards: DataFrame, lending: DataFrame,
                     crosswalk: DataFrame) -> DataFrame:
    """All accounts with the golden customer id. An account whose owner is unknown to its silo's
    customer master has no customer_id; the silver.account suite quarantines it as an orphan
    (quarantine.silver_account) instead of dropping it."""
    accounts = deposit_accounts(deposits).unionByName(card_accounts(cards)).unionByName(loans(lending))
    return accounts.join(crosswalk.select("silo", "silo_customer_id", "customer_id"),
                         ["silo", "silo_customer_id"], "left")


def account_balances(deposits: DataFrame, cards: DataFrame, lending: DataFrame) -> DataFrame:
    """The balance files (end-of-day balances of each account on some dates) -> (as_of_date, silo,
    account_id, balance, credit_limit, days_past_due): the history gold reads balances from, point in
    time. `balance` is what the customer holds (deposits) or owes (cards, loans) that day."""
    dep = typed(deposits, load_contract("deposits", "balances")).select(
        F.col("balance_date").alias("as_of_date"), F.lit("deposits").alias("silo"), "account_id", "balance",
        _null(MONEY).alias("credit_limit"), F.lit(0).cast("bigint").alias("days_past_due"))
    crd = typed(cards, load_contract("cards", "balances")).select(
        F.col("balance_date").alias("as_of_date"), F.lit("cards").alias("silo"),
        F.col("card_account_id").alias("account_id"), F.col("current_balance").alias("balance"), "credit_limit",
        "days_past_due")
    lnd = typed(lending, load_contract("lending", "balances")).select(
        F.col("balance_date").alias("as_of_date"), F.lit("lending").alias("silo"), F.col("loan_no").alias("account_id"),
        F.col("outstanding").alias("balance"), _null(MONEY).alias("credit_limit"), "days_past_due")
    return dep.unionByName(crd).unionByName(lnd)
