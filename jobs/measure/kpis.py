"""gold.kpi_daily and gold.kpi_by_segment: the relationship KPIs of a date, for the customers our
decisions treat and for the random holdout, with the uplift and its 95% confidence interval.

Every KPI is the average of a per-customer value, so treated and holdout compare like with like and the
interval is the usual one for a difference of means: (mean_t - mean_h) +- 1.96 sqrt(var_t/n_t + var_h/n_h).
Treated means "not in the holdout" (intent to treat: whether or not a rule let an offer through), so the
comparison keeps the holdout's randomization.

Per customer, as of the date:
- retention_rate: of customers active in the 30 days before the last 30, still active in the last 30 (0/1);
- wallet_share: 1 - transfers out to other banks / all money going out, last 30 days (customers with outflows);
- engagement_frequency: share of the last 30 days with a transaction;
- products_per_customer, multi_product_share (2 products or more): product consolidation;
- conversion_rate_30d: opened a new product in the last 30 days (any cause);
- revenue_per_customer_30d: the catalog value of the products opened in the last 30 days;
- revenue_attributed_30d: the part of it from products opened from our offers (as fulfilment reports);
- offer_acceptance_rate_30d: per offer published in the 30 days before, accepted (treated only; the
  holdout receives none), from the channels' responses;
- offers_published_30d: offers published to the customer in the 30 days before.

Revenue is money: a decimal per customer (MONEY_SUM, the sum of the openings' values in decimals). The means
are decimal sums over counts (every per-customer value as a decimal with 6 places, the KPIs' precision), so a
KPI never depends on the order rows arrive in; the variances behind the uplift interval are computed in
doubles and only show rounded to 6 places.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.contracts import MONEY_SUM
from jobs.domain import age_band, income_band

RATIO_KPIS = ("retention_rate", "wallet_share", "engagement_frequency", "multi_product_share",
              "conversion_rate_30d")
KPIS = ("retention_rate", "wallet_share", "engagement_frequency", "products_per_customer", "multi_product_share",
        "conversion_rate_30d", "revenue_per_customer_30d", "revenue_attributed_30d", "offers_published_30d",
        "offer_acceptance_rate_30d")
Z95 = 1.959964
WINDOW_DAYS = 30
KPI_VALUE = "decimal(28,6)"  # a per-customer value as averaged: exact sums, whatever the row order


def _date(day: dt.date) -> Column:
    return F.lit(day.isoformat()).cast("date")


def per_customer(c360: DataFrame, holdout: DataFrame, openings: DataFrame, offers: DataFrame,
                 accepted: DataFrame, day: dt.date) -> DataFrame:
    """One row per customer with every KPI's per-customer value (null where it does not apply).

    holdout: customer_id, holdout; openings: customer_id, open_date, value (catalog value of the product)
    and, optionally, from_offer (opened from one of our offers);
    offers: customer_id, decision_id, as_of_date (offered decisions); accepted: decision_id (accepted)."""
    since = _date(day - dt.timedelta(days=WINDOW_DAYS))
    from_offer = F.col("from_offer") if "from_offer" in openings.columns else F.lit(False)
    value = F.col("value").cast(MONEY_SUM)  # money: summed as a decimal
    opened = (openings.where((F.col("open_date") > since) & (F.col("open_date") <= _date(day)))
              .groupBy("customer_id").agg(F.count("*").alias("_opened"), F.sum(value).cast(MONEY_SUM).alias("_revenue"),
                                          F.sum(F.when(from_offer, value)).cast(MONEY_SUM).alias("_attributed")))
    window = offers.where((F.col("as_of_date") >= since) & (F.col("as_of_date") < _date(day)))
    answered = (window.join(accepted.withColumn("_accepted", F.lit(1)), "decision_id", "left")
                .groupBy("customer_id").agg(F.count("*").alias("_offers"),
                                            F.sum(F.coalesce("_accepted", F.lit(0))).alias("_accepted")))
    outflow = F.col("outflow_30d")
    return (c360.join(holdout, "customer_id", "left").join(opened, "customer_id", "left")
            .join(answered, "customer_id", "left")
            .select(
                "customer_id", F.coalesce("holdout", F.lit(False)).alias("holdout"),
                age_band(F.col("age")).alias("age_band"), income_band(F.col("income_monthly")).alias("income_band"),
                F.when(F.col("active_prev_30d"), F.col("active_30d").cast("double")).alias("retention_rate"),
                F.when(outflow > 0, 1.0 - F.least(F.col("external_transfer_out_30d") / outflow, F.lit(1.0)))
                .alias("wallet_share"),
                (F.col("engagement_days_30d") / 30.0).alias("engagement_frequency"),
                F.col("products_held").cast("double").alias("products_per_customer"),
                (F.col("products_held") >= 2).cast("double").alias("multi_product_share"),
                (F.coalesce("_opened", F.lit(0)) > 0).cast("double").alias("conversion_rate_30d"),
                F.coalesce("_revenue", F.lit(0).cast(MONEY_SUM)).alias("revenue_per_customer_30d"),
                F.coalesce("_attributed", F.lit(0).cast(MONEY_SUM)).alias("revenue_attributed_30d"),
                F.coalesce("_offers", F.lit(0)).cast("double").alias("offers_published_30d"),
                F.when(F.col("_offers") > 0, F.col("_accepted") / F.col("_offers")).alias("offer_acceptance_rate_30d"),
            ))


def _summaries(values: DataFrame, by: list[str]) -> DataFrame:
    """Per KPI (long format) and group: n, mean and variance for treated, holdout and everyone."""
    stacked = None
    for kpi in KPIS:
        part = values.select(*by, "holdout", F.lit(kpi).alias("kpi"), F.col(kpi).cast(KPI_VALUE).alias("v"))
        stacked = part if stacked is None else stacked.unionByName(part)

    def side(condition: Column, name: str) -> list[Column]:
        v = F.when(condition, F.col("v"))
        return [F.count(v).alias(f"{name}_n"), _mean(v).alias(name),
                F.var_samp(v.cast("double")).alias(f"_{name}_var")]

    return stacked.groupBy(*by, "kpi").agg(*side(~F.col("holdout"), "treated"), *side(F.col("holdout"), "holdout"),
                                           _mean(F.col("v")).alias("all_customers"))


def _mean(v: Column) -> Column:
    """The mean of decimals (their exact sum over the count), rounded half up to the KPIs' 6 places: the same
    whatever the row order; NULL without a value."""
    return F.round(F.avg(v), 6).cast(KPI_VALUE)


def _shown(value: Column) -> Column:
    return F.round(value, 6).cast("double")


def kpi_table(values: DataFrame, day: dt.date, by: list[str] | None = None) -> DataFrame:
    by = by or []
    s = _summaries(values, by)
    both = (F.col("treated_n") >= 2) & (F.col("holdout_n") >= 2)
    uplift = F.when(F.col("holdout_n") > 0, F.col("treated") - F.col("holdout")).cast(KPI_VALUE)  # exact
    half = Z95 * F.sqrt(F.col("_treated_var") / F.col("treated_n") + F.col("_holdout_var") / F.col("holdout_n"))
    return s.select(
        _date(day).alias("as_of_date"), *by, "kpi", _shown(F.col("treated")).alias("treated"),
        _shown(F.col("holdout")).alias("holdout"), _shown(F.col("all_customers")).alias("all_customers"),
        _shown(uplift).alias("uplift"),
        F.round(F.when(both, uplift.cast("double") - half), 6).alias("uplift_ci_low"),
        F.round(F.when(both, uplift.cast("double") + half), 6).alias("uplift_ci_high"),
        F.col("treated_n").cast("long").alias("treated_customers"),
        F.col("holdout_n").cast("long").alias("holdout_customers"))


def kpi_by_segment(values: DataFrame, day: dt.date) -> DataFrame:
    segmented = values.withColumn("segment", F.concat_ws(" x ", F.coalesce("age_band", F.lit("under 18")),
                                                         "income_band"))
    return kpi_table(segmented, day, ["segment"])
