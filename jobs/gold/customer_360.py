"""gold.customer_360: one row per customer as of a date, computed only from what was known that day.

Point in time: an account counts once opened on or before the as-of date; its balance is the one
exported on the as-of date (silver.account_balance) or, for a date without an export of its own (a
training cutoff inside the first export's history), the nearest exported balance moved by the
transactions booked in between; behaviour windows end on the as-of date. The same function therefore
builds today's 360 and the feature snapshot of a past date for training. The one thing a past date
without its own export takes from later data is that rollback of a later balance (exact when the
transactions in between are complete, as they are inside one export).
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.unify.accounts import PRODUCTS

SPEND_CATEGORIES = ("groceries", "dining", "travel", "fuel", "furniture", "electronics", "utilities",
                    "entertainment", "health", "other", "jewelry", "kids")

# What the models see: numbers a customer's own history explains, known at the as-of date.
MODEL_FEATURES = (
    ["age", "tenure_days", "total_balance", "deposit_balance", "card_balance", "loan_outstanding",
     "inflow_30d", "payroll_30d", "payroll_90d", "outflow_30d", "external_transfer_out_30d",
     "card_spend_30d"]
    + [f"spend_{c}_30d" for c in SPEND_CATEGORIES]
    + ["engagement_days_30d", "txn_count_30d", "products_held", "credit_utilization"]
    + [f"has_{p}" for p in PRODUCTS]
)


def _window(days: int, as_of: dt.date, end_offset: int = 0) -> Column:
    """txn_date in (as_of - end_offset - days, as_of - end_offset]."""
    end = as_of - dt.timedelta(days=end_offset)
    start = end - dt.timedelta(days=days)
    return (F.col("txn_date") > F.lit(start)) & (F.col("txn_date") <= F.lit(end))


def _sum_if(condition: Column, value: Column) -> Column:
    # Rounded to cents: a double sum depends on the order rows arrive in, and a re-run must give
    # exactly the same table.
    return F.round(F.sum(F.when(condition, value).otherwise(F.lit(0.0))), 2)


def balances_as_of(accounts: DataFrame, balances: DataFrame, txns: DataFrame, as_of: dt.date) -> DataFrame:
    """Per account held at as_of: its balance that day, from the exported balance nearest the day (the
    first on or after it, else the last before it) moved by the transactions booked in between."""
    day = F.lit(as_of)
    distance = F.when(F.col("as_of_date") >= day, F.datediff(F.col("as_of_date"), day)) \
        .otherwise(F.lit(1_000_000) + F.datediff(day, F.col("as_of_date")))
    nearest = Window.partitionBy("silo", "account_id").orderBy(distance)
    snapshot = (
        balances.withColumn("_rank", F.row_number().over(nearest)).where("_rank = 1")
        .select("silo", "account_id", F.col("as_of_date").alias("_snapshot_date"),
                F.col("balance").alias("_snapshot_balance"))
    )
    held = accounts.where(F.col("customer_id").isNotNull() & (F.col("open_date") <= day)) \
        .drop("balance").join(snapshot, ["silo", "account_id"], "left")
    # Money moved between the day and the snapshot: after the day up to a later snapshot (rolled back),
    # or after an earlier snapshot up to the day (rolled forward, with the opposite sign).
    between = txns.join(held.select("silo", "account_id", "_snapshot_date"), ["silo", "account_id"])
    later = (F.col("txn_date") > day) & (F.col("txn_date") <= F.col("_snapshot_date"))
    earlier = (F.col("txn_date") > F.col("_snapshot_date")) & (F.col("txn_date") <= day)
    moved = between.groupBy("silo", "account_id").agg(
        F.round(F.sum(F.when(later, F.col("amount")).when(earlier, -F.col("amount")).otherwise(0.0)), 2)
        .alias("moved_after"))
    shift = F.coalesce(F.col("moved_after"), F.lit(0.0))
    # Deposits: money in raised the balance. Cards: spend (negative) raised what is owed.
    # Loans: repayments (negative) lowered what is owed.
    rolled = F.when(F.col("silo") == "cards", F.col("_snapshot_balance") + shift) \
        .otherwise(F.col("_snapshot_balance") - shift)
    return held.join(moved, ["silo", "account_id"], "left").withColumn(
        "balance_as_of", F.round(F.greatest(F.lit(0.0), F.coalesce(rolled, F.lit(0.0))), 2)
    )


def account_features(accounts: DataFrame, balances: DataFrame, txns: DataFrame, as_of: dt.date) -> DataFrame:
    held = balances_as_of(accounts, balances, txns, as_of)
    silo = F.col("silo")
    aggs = [
        _sum_if(silo == "deposits", F.col("balance_as_of")).alias("deposit_balance"),
        _sum_if(silo == "cards", F.col("balance_as_of")).alias("card_balance"),
        _sum_if(silo == "lending", F.col("balance_as_of")).alias("loan_outstanding"),
        _sum_if(silo == "cards", F.coalesce(F.col("credit_limit"), F.lit(0.0))).alias("credit_limit"),
        F.countDistinct("product").alias("products_held"),
        F.max("days_past_due").alias("max_days_past_due"),
    ] + [F.max(F.when(F.col("product") == p, 1).otherwise(0)).alias(f"has_{p}") for p in PRODUCTS]
    return held.groupBy("customer_id").agg(*aggs)


def behaviour_features(txns: DataFrame, as_of: dt.date) -> DataFrame:
    w30, w90, prev30 = _window(30, as_of), _window(90, as_of), _window(30, as_of, end_offset=30)
    amount, category = F.col("amount"), F.col("category")
    # Money leaving the customer's relationship: not moves between their own products here (card bill
    # paid from checking, loan repayments, which also appear as the checking debit that paid them).
    spending = (amount < 0) & (category != "transfer_out_internal") & (F.col("kind") != "repayment")
    aggs = [
        _sum_if(w30 & (amount > 0), amount).alias("inflow_30d"),
        _sum_if(w30 & (category == "payroll"), amount).alias("payroll_30d"),
        _sum_if(w90 & (category == "payroll"), amount).alias("payroll_90d"),
        _sum_if(w30 & spending, -amount).alias("outflow_30d"),
        _sum_if(w30 & F.col("is_external"), -amount).alias("external_transfer_out_30d"),
        _sum_if(w30 & (F.col("kind") == "card"), -amount).alias("card_spend_30d"),
    ] + [
        _sum_if(w30 & (F.col("kind") == "card") & (category == c), -amount).alias(f"spend_{c}_30d")
        for c in SPEND_CATEGORIES
    ] + [
        F.sum(F.when(w30, 1).otherwise(0)).alias("txn_count_30d"),
        F.countDistinct(F.when(w30, F.col("txn_date"))).alias("engagement_days_30d"),
        F.max(F.when(prev30, 1).otherwise(0)).alias("active_prev_30d"),
    ]
    window = txns.where(F.col("customer_id").isNotNull() & _window(90, as_of))
    return window.groupBy("customer_id").agg(*aggs)


def build_customer_360(customers: DataFrame, accounts: DataFrame, balances: DataFrame, txns: DataFrame,
                       as_of: dt.date) -> DataFrame:
    """One row per customer known on as_of (first account opened by then, or no account at all)."""
    known = customers.where(F.col("first_seen").isNull() | (F.col("first_seen") <= F.lit(as_of)))
    df = known.select("customer_id", "birth_date", "gender", "postcode", "first_seen") \
        .join(account_features(accounts, balances, txns, as_of), "customer_id", "left") \
        .join(behaviour_features(txns, as_of), "customer_id", "left")
    numeric = [c for c in MODEL_FEATURES if c not in ("age", "tenure_days", "total_balance", "credit_utilization")]
    df = df.fillna(0, subset=numeric + ["credit_limit", "max_days_past_due", "active_prev_30d"])
    age = F.floor(F.months_between(F.lit(as_of), F.col("birth_date")) / 12).cast("int")
    return df.select(
        F.lit(as_of).alias("as_of_date"),
        "customer_id", age.alias("age"), "gender", "postcode",
        F.datediff(F.lit(as_of), F.col("first_seen")).alias("tenure_days"),
        F.col("deposit_balance").alias("total_balance"),
        *[c for c in numeric if c != "engagement_days_30d"],
        F.col("engagement_days_30d").cast("int").alias("engagement_days_30d"),
        "credit_limit",
        F.when(F.col("credit_limit") > 0, F.col("card_balance") / F.col("credit_limit"))
         .otherwise(F.lit(0.0)).alias("credit_utilization"),
        (F.col("payroll_90d") / 3).alias("income_monthly"),
        "max_days_past_due",
        (F.col("txn_count_30d") > 0).alias("active_30d"),
        (F.col("active_prev_30d") == 1).alias("active_prev_30d"),
    )
