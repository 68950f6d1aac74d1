"""The product vocabulary: what the bank sells, where it talks to customers, the life events it watches for,
the bands customers are grouped in, who is held out of the decisions, and what an opened product is worth.

Every other module imports these names from here (the generator keeps only its world's parameters). The
constants are plain Python, so the DAG files and the generator import this module without starting Spark;
the column expressions import pyspark when they are called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import Column

# -- products ---------------------------------------------------------------------------------------------

# The products the bank offers and models: one propensity model per product, one catalog product each.
PRODUCTS = ("savings", "term_deposit", "credit_card", "personal_loan", "auto_loan", "mortgage")
# Every product an account in silver.account can be: the offered products and the checking account
# (every customer has one; it is held, never offered).
ACCOUNT_PRODUCTS = ("checking", *PRODUCTS)
# The credit products: fair lending applies to them (protected attributes are neither features nor reasons).
CREDIT_PRODUCTS = ("credit_card", "personal_loan", "auto_loan", "mortgage")

# -- channels ---------------------------------------------------------------------------------------------

# The channels the bank publishes offers to (one gold.offers_<channel> table and export each) and asks
# marketing consent for.
CHANNELS = ("mobile", "email", "atm", "branch")

# -- life events ------------------------------------------------------------------------------------------

# The life events customers declare and the life-event models predict (one model each).
LIFE_EVENTS = ("home_purchase", "marriage", "new_child", "job_change", "retirement")

# -- bands ------------------------------------------------------------------------------------------------

# Age bands of adults, (lowest age, highest age, name), both ends included: the fairness check's groups
# and the KPI segments. Customers under 18 have no band (null).
AGE_BANDS = ((18, 29, "18-29"), (30, 44, "30-44"), (45, 59, "45-59"), (60, 200, "60+"))
# Monthly income bands, (low, high, name), low included, high excluded: the KPI segments. A customer
# without a known income is "income unknown".
INCOME_BANDS = ((0, 3000, "income<3k"), (3000, 6000, "income 3-6k"), (6000, 1e12, "income>6k"))


def age_band(age: Column) -> Column:
    """The AGE_BANDS name of an age column (null under 18 or unknown)."""
    from pyspark.sql import functions as F

    band = F.lit(None).cast("string")
    for low, high, name in reversed(AGE_BANDS):
        band = F.when((age >= low) & (age <= high), F.lit(name)).otherwise(band)
    return band


def income_band(monthly: Column) -> Column:
    """The INCOME_BANDS name of a monthly income column ("income unknown" when null)."""
    from pyspark.sql import functions as F

    band = F.lit("income unknown")
    for low, high, name in reversed(INCOME_BANDS):
        band = F.when((monthly >= low) & (monthly < high), F.lit(name)).otherwise(band)
    return band


# -- the holdout ------------------------------------------------------------------------------------------

# The random control group no offer is published to; its share of customers is the policy's
# `holdout_share` (schemas/decisioning/policy.json). Membership is a stable hash of the customer id with
# this salt: changing it reshuffles who is in the holdout, so never do it mid-test.
HOLDOUT_SALT = "marketofone-holdout-v1"


def in_holdout(share: float, customer_id: str = "customer_id") -> Column:
    """Stable per customer: the first 32 bits of SHA-256(salt | customer_id), as a fraction, below `share`."""
    from pyspark.sql import functions as F

    bucket = F.conv(F.substring(F.sha2(F.concat(F.lit(HOLDOUT_SALT + "|"), F.col(customer_id)), 256), 1, 8), 16, 10)
    return (bucket.cast("double") / float(2 ** 32)) < F.lit(float(share))


# -- the value model --------------------------------------------------------------------------------------

# How the catalog values an accepted offer (the bank's expected margin, also the KPIs' revenue per opened
# product): "fixed" is the offer's value amount; "income_linked" adds a rate of the customer's annual income.
VALUE_KINDS = ("fixed", "income_linked")


def offer_value(amount: Column, income_rate: Column, income_monthly: Column) -> Column:
    """The catalog's value model: amount + income_rate x annual income (income_rate is 0 for a fixed value).
    A double per row (gold.customer_360's income is a decimal; the catalog's figures are floats)."""
    from pyspark.sql import functions as F

    return amount + income_rate * F.coalesce(income_monthly.cast("double"), F.lit(0.0)) * 12.0
