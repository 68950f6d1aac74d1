"""Deposit and card transactions and loan repayments -> silver.transaction.

Amounts are signed from the customer's point of view: money in is positive, money out negative.
`category` is the deposit transaction type or the card merchant category, lower-case;
`is_external` marks money leaving for another institution (the wallet-share signal).
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.contracts import load_contract, typed

EXTERNAL_TYPES = ("TRANSFER_OUT_EXTERNAL",)


def deposit_transactions(bronze: DataFrame) -> DataFrame:
    df = typed(bronze, load_contract("deposits", "transactions"))
    sign = F.when(F.col("direction") == "CR", F.lit(1.0)).otherwise(F.lit(-1.0))
    return df.select(
        F.lit("deposits").alias("silo"), "txn_id", "account_id", F.col("booking_date").alias("txn_date"),
        (F.col("amount") * sign).alias("amount"), F.lower("txn_type").alias("category"),
        F.lit("deposit").alias("kind"), F.col("txn_type").isin(*EXTERNAL_TYPES).alias("is_external"),
    )


def card_transactions(bronze: DataFrame) -> DataFrame:
    df = typed(bronze, load_contract("cards", "transactions"))
    return df.select(
        F.lit("cards").alias("silo"), F.col("txn_ref").alias("txn_id"),
        F.col("card_account_id").alias("account_id"), "txn_date", (-F.col("amount")).alias("amount"),
        F.lower("merchant_category").alias("category"), F.lit("card").alias("kind"),
        F.lit(False).alias("is_external"),
    )


def loan_repayments(bronze: DataFrame) -> DataFrame:
    df = typed(bronze, load_contract("lending", "repayments"))
    return df.select(
        F.lit("lending").alias("silo"), F.col("repayment_id").alias("txn_id"),
        F.col("loan_no").alias("account_id"), F.col("paid_date").alias("txn_date"),
        (-F.col("amount")).alias("amount"), F.lit("loan_repayment").alias("category"),
        F.lit("repayment").alias("kind"), F.lit(False).alias("is_external"),
    )


def conform_transactions(deposits: DataFrame, cards: DataFrame, lending: DataFrame,
                         accounts: DataFrame) -> DataFrame:
    """All transactions with the owning customer; one whose account is unknown keeps customer_id NULL
    and the silver.transaction suite quarantines it as an orphan."""
    txns = deposit_transactions(deposits).unionByName(card_transactions(cards)).unionByName(
        loan_repayments(lending)
    )
    owners = accounts.select("silo", "account_id", "customer_id")
    return txns.join(owners, ["silo", "account_id"], "left").select(
        "silo", "txn_id", "account_id", "customer_id", "txn_date", "amount", "category", "kind", "is_external"
    )
