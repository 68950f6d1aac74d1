"""Deposit and card transactions and loan repayments -> silver.transaction.

Amounts are signed from the customer's point of view: money in is positive, money out negative; they are
MONEY (decimal(18,2), jobs/contracts.py), so sums of them never depend on the order of the rows.
`category` is the deposit transaction type, lower-case, or for a purchase (card, or debit card settled
on a deposit account: `kind` card / debit_card) its spend category from the merchant category code
(schemas/reference/mcc_categories.json; the card processor's own category where it gives one);
`is_external` marks money leaving for another institution (the wallet-share signal); `counterparty`
is who paid or was paid as the statement shows it (deposits: employer, landlord, biller, ...; cards:
the merchant category code; loan repayments: none).
"""

from __future__ import annotations

import json
from functools import lru_cache

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.contracts import MONEY, SCHEMAS_DIR, load_contract, typed
from jobs.lookups import looked_up

EXTERNAL_TYPES = ("TRANSFER_OUT_EXTERNAL",)
MCC_FILE = SCHEMAS_DIR / "reference" / "mcc_categories.json"


@lru_cache(maxsize=1)
def mcc_categories() -> dict[str, str]:
    return json.loads(MCC_FILE.read_text())["mcc"]


def category_of_mcc(mcc: F.Column) -> F.Column:
    return looked_up(mcc, mcc_categories(), F.lit("other"))


def deposit_transactions(bronze: DataFrame) -> DataFrame:
    df = typed(bronze, load_contract("deposits", "transactions"))
    # Negated, never multiplied by a double sign: the amount stays a decimal.
    signed = F.when(F.col("direction") == "CR", F.col("amount")).otherwise(-F.col("amount"))
    purchase = F.col("txn_type") == "CARD_SETTLEMENT"
    return df.select(
        F.lit("deposits").alias("silo"), "txn_id", "account_id", F.col("booking_date").alias("txn_date"),
        signed.cast(MONEY).alias("amount"),
        F.when(purchase, category_of_mcc(F.col("mcc"))).otherwise(F.lower("txn_type")).alias("category"),
        F.when(purchase, F.lit("debit_card")).otherwise(F.lit("deposit")).alias("kind"),
        F.col("txn_type").isin(*EXTERNAL_TYPES).alias("is_external"),
        "counterparty",
    )


def card_transactions(bronze: DataFrame) -> DataFrame:
    df = typed(bronze, load_contract("cards", "transactions"))
    return df.select(
        F.lit("cards").alias("silo"), F.col("txn_ref").alias("txn_id"),
        F.col("card_account_id").alias("account_id"), "txn_date", (-F.col("amount")).cast(MONEY).alias("amount"),
        F.lower("merchant_category").alias("category"), F.lit("card").alias("kind"),
        F.lit(False).alias("is_external"), F.col("mcc").alias("counterparty"),
    )


def loan_repayments(bronze: DataFrame) -> DataFrame:
    df = typed(bronze, load_contract("lending", "repayments"))
    return df.select(
        F.lit("lending").alias("silo"), F.col("repayment_id").alias("txn_id"),
        F.col("loan_no").alias("account_id"), F.col("paid_date").alias("txn_date"),
        (-F.col("amount")).cast(MONEY).alias("amount"), F.lit("loan_repayment").alias("category"),
        F.lit("repayment").alias("kind"), F.lit(False).alias("is_external"),
        F.lit(None).cast("string").alias("counterparty"),
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
        "silo", "txn_id", "account_id", "customer_id", "txn_date", "amount", "category", "kind", "is_external",
        "counterparty",
    )
