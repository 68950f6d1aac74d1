"""Balances on a date, point in time: from what was known on that date, never from later data.

silver.account_balance holds end-of-day balances on the dates the balance files give (every month end
of a full export's window, every day of the daily increments). The balance of an account on a date is
the last one known on or before it, moved forward by the transactions booked in between; an account
opened after that is rolled forward from zero at its opening. Deposits: money in raises the balance.
Cards: spend (negative amounts) raises what is owed (bill payments are not in the card file, so between
two balance dates what is owed can only grow). Loans: repayments (negative) lower what is owed.
Balances are decimals (MONEY_SUM: a known balance plus the sum of the moves since), never doubles.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from jobs.contracts import MONEY_SUM


def balances_as_of(accounts: DataFrame, balances: DataFrame, txns: DataFrame, as_of: dt.date) -> DataFrame:
    """accounts held on as_of (opened by then, with an owner) + `balance_as_of`."""
    day = F.lit(as_of)
    latest_first = Window.partitionBy("silo", "account_id").orderBy(F.col("as_of_date").desc())
    known = (
        balances.where(F.col("as_of_date") <= day)
        .withColumn("_rank", F.row_number().over(latest_first)).where("_rank = 1")
        .select("silo", "account_id", F.col("as_of_date").alias("_known_date"), F.col("balance").alias("_known"),
                F.col("credit_limit").alias("_known_limit"), F.col("days_past_due").alias("_known_dpd"))
    )
    held = (
        accounts.where(F.col("customer_id").isNotNull() & (F.col("open_date") <= day))
        .drop("balance").join(known, ["silo", "account_id"], "left")
        # Never known before the day: opened since the last balance date, rolled forward from zero.
        .withColumn("_since", F.coalesce("_known_date", F.date_sub("open_date", 1)))
    )
    moves = txns.where(F.col("txn_date") <= day).join(held.select("silo", "account_id", "_since"),
                                                      ["silo", "account_id"])
    moved = moves.where(F.col("txn_date") > F.col("_since")).groupBy("silo", "account_id").agg(
        F.sum("amount").cast(MONEY_SUM).alias("_moved"))
    zero = F.lit(0).cast(MONEY_SUM)
    shift = F.coalesce(F.col("_moved"), zero)
    start = F.coalesce(F.col("_known").cast(MONEY_SUM), zero)
    balance = F.when(F.col("silo") == "cards", start - shift).otherwise(start + shift)
    return (
        held.join(moved, ["silo", "account_id"], "left")
        .withColumn("balance_as_of", F.greatest(zero, balance).cast(MONEY_SUM))
        # The limit and the delinquency are the last known ones: silver.account's are from the newest
        # export, later than the day.
        .withColumn("credit_limit", F.col("_known_limit"))
        .withColumn("days_past_due", F.coalesce("_known_dpd", F.lit(0).cast("bigint")))
        .drop("_known_date", "_known", "_known_limit", "_known_dpd", "_since", "_moved")
    )
