"""Risk-based price inside the catalog's approved bounds, and the value of an acceptance.

- risk (0 = cleanest, 1 = riskiest): half from days past due (30+ days is full), a quarter from credit
  utilization, a quarter from spending more than comes in (outflow/inflow above 0.8, full at 1.2).
- loan APR: min + (max - min) * risk: riskier customers pay more, never outside the bounds.
- deposit rate: min + (max - min) * loyalty, loyalty = half tenure (full at 10 years) + half balance
  (full at 50,000): the bank pays its established customers more.
- credit limit: min + (max - min) * (1 - risk), rounded to 100. Income is left out on purpose: income
  seen at this bank follows age (pensions, first jobs) and misses salaries paid elsewhere, so limits
  proportional to it were flagged by the fairness check for the youngest and oldest customers; the
  credit decision at fulfilment checks affordability.
The price is clipped to [min, max] after rounding, so rounding can never leave the bounds.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.domain import offer_value


def _unit(col: Column) -> Column:
    return F.least(F.lit(1.0), F.greatest(F.lit(0.0), col))


def risk_score() -> Column:
    late = _unit(F.coalesce(F.col("max_days_past_due"), F.lit(0)) / 30.0)
    utilization = _unit(F.coalesce(F.col("credit_utilization"), F.lit(0.0)))
    stretch = _unit((F.coalesce(F.col("outflow_over_inflow_90d"), F.lit(1.0)) - 0.8) / 0.4)
    return 0.5 * late + 0.25 * utilization + 0.25 * stretch


def loyalty_score() -> Column:
    tenure = _unit(F.coalesce(F.col("tenure_days"), F.lit(0)) / 3650.0)
    balance = _unit(F.coalesce(F.col("total_balance").cast("double"), F.lit(0.0)) / 50000.0)
    return 0.5 * tenure + 0.5 * balance


def _clip(col: Column) -> Column:
    return F.least(F.col("price_max"), F.greatest(F.col("price_min"), col))


def add_price_and_value(candidates: DataFrame) -> DataFrame:
    """Adds risk, price (null for unpriced offers) and value (the bank's expected margin on acceptance)."""
    span = F.col("price_max") - F.col("price_min")
    raw_price = (F.when(F.col("price_kind") == "loan_apr", F.round(F.col("price_min") + span * F.col("risk"), 2))
                 .when(F.col("price_kind") == "deposit_rate", F.round(F.col("price_min") + span * loyalty_score(), 2))
                 .when(F.col("price_kind") == "credit_limit",
                       F.round((F.col("price_min") + span * (1.0 - F.col("risk"))) / 100.0) * 100.0))
    value = F.when(F.col("value_kind") == "income_linked",
                   offer_value(F.col("value_amount"), F.col("value_income_rate"), F.col("income_monthly"))
                   ).otherwise(F.col("value_amount"))
    return (candidates.withColumn("risk", F.round(risk_score(), 4))
            .withColumn("price", F.when(F.col("price_kind").isNotNull(), _clip(raw_price)))
            .withColumn("value", F.round(value, 2)))
