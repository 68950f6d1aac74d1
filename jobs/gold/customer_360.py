"""gold.customer_360: one row per customer as of a date, computed only from what was known that day.

Known twice over: only silver rows the lakehouse had on the day (`_known_on`, jobs/known.py: a row that
arrived later, or waited for a late parent, stays out), and of those only what happened by the day.

The same builder makes today's 360 and the feature snapshot of any past date for training, and it
never reads data dated after the as-of date: accounts count once opened, balances come from the last
end-of-day balance known on the day rolled forward (jobs/gold/balances.py), behaviour windows end on
the day, sessions, offers and declared life events count once they happened *and* were recorded.
tests/unit/gold/test_gold.py proves it by changing every later row and comparing.

Features (MODEL_FEATURES: what the models see; gender and postcode are kept for analysts but never fed
to a model):
- relationship: age, tenure, products held (`has_<product>`), balances (deposits now and 90 days ago,
  checking, card, loans), credit limit and utilization, days past due;
- what stays of the money coming in, over the last year (a saver's trait; one quarter of lumpy payments
  says little about it): the average month-end checking balance in months of money coming in, the lowest
  of the last three month ends (a low point over a whole year would depend on how much history there
  is, and training dates have less of it than today), and the money going out for every dollar coming
  in and for every dollar of salary or pension;
- money: inflow, outflow, payroll over 7/30/90 days, the payroll trend, payers of the payroll (two
  employers in 90 days: a new job), a pension, rent and housing payments, transfers to other
  institutions and their share of outflows (the wallet-share signal), the largest single outflow;
- spend by merchant category on credit and debit cards over 30 and 90 days, the number of purchases and
  the share of discretionary spend (dining, travel, entertainment), credit card spend, ATM cash;
- engagement: days with a transaction, transaction count, activity now and the month before;
- online: sessions and the pages people research (`page_<page>_<days>d`);
- offers: received, opened, accepted and declined in the last year, days since the last one;
- life events the customer declared before the day (`had_<event>`).

Money (balances, limits, flows, spend, income) is MONEY_SUM, decimal(20,2): sums of decimals, so a sum
never depends on the order rows arrive in, on any engine. Ratios and shares are doubles computed from
those exact sums (deterministic too). The models get doubles when their feature frame is built
(jobs/models/frame.py), not here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.contracts import MONEY_SUM
from jobs.domain import ACCOUNT_PRODUCTS, LIFE_EVENTS
from jobs.gold.balances import balances_as_of
from jobs.known import known_by
from jobs.unify.customers import newest_versions
from jobs.unify.engagement import offer_interactions

SPEND_CATEGORIES = ("groceries", "dining", "travel", "fuel", "furniture", "electronics", "utilities",
                    "entertainment", "health", "other", "jewelry", "kids")
DISCRETIONARY = ("dining", "travel", "entertainment")  # the lifestyle part of spending
INTENT_PAGES = ("savings_rates", "term_deposits", "credit_cards", "personal_loans", "auto_loans",
                "mortgage_calculator", "home_buying_guide", "joint_accounts", "family_banking", "direct_deposit",
                "retirement_planner", "investments", "insurance")
PENSION_PAYERS = ("SSA TREAS 310",)  # payroll credits that are a state pension
WINDOWS = (7, 30, 90)
YEAR = 365  # the longest window: what stays of the money coming in, month after month
DAYS_PER_MONTH = 365.25 / 12

MODEL_FEATURES = (
    ["age", "tenure_days", "products_held", *[f"has_{p}" for p in ACCOUNT_PRODUCTS],
     "total_balance", "deposit_balance_90d_ago", "deposit_balance_change_90d", "checking_balance", "card_balance",
     "loan_outstanding", "credit_limit", "credit_utilization", "max_days_past_due"]
    + [f"{flow}_{d}d" for flow in ("inflow", "outflow") for d in WINDOWS]
    + ["payroll_30d", "payroll_90d", "payroll_trend", "payroll_payers_90d", "pension_30d", "income_monthly",
       "rent_30d", "rent_90d", "housing_90d", "external_transfer_out_30d", "external_transfer_out_90d",
       "external_share_90d", "outflow_over_inflow_90d", "balance_months_of_inflow", "largest_outflow_90d", "atm_30d",
       "card_spend_30d", "card_spend_90d"]
    + ["avg_balance_months_365d", "min_balance_months_90d", "outflow_over_inflow_365d", "outflow_over_pay_365d"]
    + [f"spend_{c}_{d}d" for d in (30, 90) for c in SPEND_CATEGORIES]
    + ["purchases_90d", "discretionary_share_90d"]
    + ["engagement_days_30d", "txn_count_30d", "sessions_30d", "sessions_90d"]
    + [f"page_{p}_{d}d" for p in INTENT_PAGES for d in (30, 90)]
    + ["offers_received_365d", "offers_opened_365d", "offers_accepted_365d", "offers_declined_365d",
       "days_since_last_offer"]
    + [f"had_{e}" for e in LIFE_EVENTS]
)


@dataclass(frozen=True)
class Silver:
    """The silver tables the 360 is built from, each with `_known_on` (jobs/known.py). `customers` holds the
    versions of the golden records (silver.customer_version): a date reads the newest one it knew."""
    customers: DataFrame
    accounts: DataFrame
    balances: DataFrame
    transactions: DataFrame
    sessions: DataFrame
    offer_events: DataFrame
    life_events: DataFrame
    first_load: dt.date | None = None  # the lakehouse's first load: earlier dates see its history

    def known_by(self, day: dt.date) -> "Silver":
        """Only the rows the lakehouse knew on `day`: a re-run of the day, whenever it happens, reads the same."""
        frames = {f.name: known_by(getattr(self, f.name), day, self.first_load) for f in fields(self)
                  if f.name != "first_load"}
        frames["customers"] = newest_versions(frames["customers"])
        return Silver(**frames, first_load=self.first_load)


def _within(column: str, days: int, as_of: dt.date) -> Column:
    """`column` (a date or timestamp) in the `days` days ending on as_of: (as_of - days, as_of]."""
    day = F.to_date(F.col(column))
    return (day > F.lit(as_of - dt.timedelta(days=days))) & (day <= F.lit(as_of))


def _money(value: Column) -> Column:
    return value.cast(MONEY_SUM)


def _sum_if(condition: Column, value: Column) -> Column:
    # A decimal sum: exact, whatever the order rows arrive in (a re-run must give exactly the same table); 0 where
    # no row meets the condition. The rows that do not are NULL to the sum, not a decimal 0: a CASE that gives 0
    # otherwise casts every row's value to the 0's type first, and that took half the time of the behaviour
    # features (10.7 s against 5.1 s over the year's transactions of 100,000 customers, embedded engine).
    return _money(F.coalesce(F.sum(F.when(condition, value)), F.lit(0).cast(MONEY_SUM)))


def _count_if(condition: Column) -> Column:
    return F.count(F.when(condition, F.lit(1)))   # the rows it holds for (a NULL is not counted)


def _ratio(numerator: Column, denominator: Column) -> Column:
    """A double, from the exact (decimal) numerator and denominator: the same on every run and engine."""
    return F.when(denominator > 0, numerator.cast("double") / denominator.cast("double"))


def account_features(accounts: DataFrame, balances: DataFrame, txns: DataFrame, as_of: dt.date) -> DataFrame:
    held = balances_as_of(accounts, balances, txns, as_of)
    silo = F.col("silo")
    now = held.groupBy("customer_id").agg(
        _sum_if(silo == "deposits", F.col("balance_as_of")).alias("total_balance"),
        _sum_if(silo == "cards", F.col("balance_as_of")).alias("card_balance"),
        _sum_if(silo == "lending", F.col("balance_as_of")).alias("loan_outstanding"),
        _money(F.sum(F.when(silo == "cards", F.col("credit_limit")))).alias("credit_limit"),
        F.max("days_past_due").alias("max_days_past_due"),
        _sum_if(F.col("product") == "checking", F.col("balance_as_of")).alias("checking_balance"),
        *[F.max(F.when(F.col("product") == p, 1).otherwise(0)).alias(f"has_{p}") for p in ACCOUNT_PRODUCTS],
    )
    # The products held, counted from the flags (silver.account's suite admits ACCOUNT_PRODUCTS only): a distinct
    # count among the sums above would send the aggregation down the engine's slow path (see behaviour_features).
    held_flags = sum(F.col(f"has_{p}") for p in ACCOUNT_PRODUCTS).cast("bigint").alias("products_held")
    now = now.select(*now.columns[:4], held_flags, *now.columns[4:])
    before = balances_as_of(accounts, balances, txns, as_of - dt.timedelta(days=90))
    then = before.groupBy("customer_id").agg(
        _sum_if(F.col("silo") == "deposits", F.col("balance_as_of")).alias("deposit_balance_90d_ago"))
    history = checking_history(accounts, balances, as_of)
    return now.join(then, "customer_id", "left").join(history, "customer_id", "left")


def checking_history(accounts: DataFrame, balances: DataFrame, as_of: dt.date) -> DataFrame:
    """The average month-end checking balance over the last year and the lowest of the last 90 days (month
    ends only: the daily increments give every day of the latest weeks, which would outweigh the rest)."""
    checking = accounts.where((F.col("product") == "checking") & F.col("customer_id").isNotNull()).select(
        "silo", "account_id", "customer_id")
    month_ends = balances.where((F.col("as_of_date") == F.last_day("as_of_date")) & _within("as_of_date", YEAR, as_of))
    # Decimal sums, and their average (a decimal: the exact sum over the count): the same whatever the order
    # rows arrive in.
    per_month = month_ends.join(checking, ["silo", "account_id"]).groupBy("customer_id", "as_of_date").agg(
        _money(F.sum("balance")).alias("_balance"))
    return per_month.groupBy("customer_id").agg(
        F.avg("_balance").alias("_avg_checking_365d"),
        F.min(F.when(_within("as_of_date", 90, as_of), F.col("_balance"))).alias("_min_checking_90d"))


def behaviour_features(txns: DataFrame, as_of: dt.date) -> DataFrame:
    amount, category, kind = F.col("amount"), F.col("category"), F.col("kind")
    # Money leaving the customer's relationship: not moves between their own products here (card bill
    # paid from checking, loan repayments, which also appear as the checking debit that paid them).
    spending = (amount < 0) & (category != "transfer_out_internal") & (kind != "repayment")
    payroll = category == "payroll"
    purchase = kind.isin("card", "debit_card")  # credit and debit card purchases, by merchant category
    pension = payroll & F.col("counterparty").isin(*PENSION_PAYERS)
    w = {d: _within("txn_date", d, as_of) for d in (7, 30, 60, 90, YEAR)}
    prev30 = w[60] & ~w[30]
    aggs = [
        *[_sum_if(w[d] & (amount > 0), amount).alias(f"inflow_{d}d") for d in WINDOWS],
        *[_sum_if(w[d] & spending, -amount).alias(f"outflow_{d}d") for d in WINDOWS],
        _sum_if(w[YEAR] & (amount > 0), amount).alias("_inflow_365d"),
        _sum_if(w[YEAR] & spending, -amount).alias("_outflow_365d"),
        _sum_if(w[YEAR] & payroll, amount).alias("_pay_365d"),  # salary and pension
        F.min("txn_date").alias("_first_txn_365d"),
        _sum_if(w[30] & payroll & ~pension, amount).alias("payroll_30d"),
        _sum_if(w[90] & payroll & ~pension, amount).alias("payroll_90d"),
        _sum_if(w[30] & pension, amount).alias("pension_30d"),
        _sum_if(w[30] & (category == "rent"), -amount).alias("rent_30d"),
        _sum_if(w[90] & (category == "rent"), -amount).alias("rent_90d"),
        _sum_if(w[90] & category.isin("rent", "mortgage_payment"), -amount).alias("housing_90d"),
        _sum_if(w[30] & F.col("is_external"), -amount).alias("external_transfer_out_30d"),
        _sum_if(w[90] & F.col("is_external"), -amount).alias("external_transfer_out_90d"),
        _money(F.coalesce(F.max(F.when(w[90] & spending, -amount)), F.lit(0))).alias("largest_outflow_90d"),
        _sum_if(w[30] & (category == "atm"), -amount).alias("atm_30d"),
        _sum_if(w[30] & (kind == "card"), -amount).alias("card_spend_30d"),
        _sum_if(w[90] & (kind == "card"), -amount).alias("card_spend_90d"),
        *[_sum_if(w[30] & purchase & (category == c), -amount).alias(f"spend_{c}_30d") for c in SPEND_CATEGORIES],
        *[_sum_if(w[90] & purchase & (category == c), -amount).alias(f"spend_{c}_90d") for c in SPEND_CATEGORIES],
        _count_if(w[90] & purchase).alias("purchases_90d"),
        _sum_if(w[90] & purchase, -amount).alias("_purchase_amount_90d"),
        _count_if(w[30]).alias("txn_count_30d"),
        F.max(F.when(prev30, 1).otherwise(0)).alias("active_prev_30d"),
    ]
    mine = txns.where(F.col("customer_id").isNotNull())
    sums = mine.where(w[YEAR]).groupBy("customer_id").agg(*aggs)
    # Distinct counts, each over its own few rows and joined: among the sums above, one distinct count sends
    # the whole aggregation down the engine's slow path (22 s instead of 10 s over the 15M transactions of
    # 100,000 customers, on the embedded engine).
    payers = mine.where(w[90] & payroll & ~pension).groupBy("customer_id").agg(
        F.countDistinct("counterparty").alias("payroll_payers_90d"))
    days = mine.where(w[30]).groupBy("customer_id").agg(
        F.countDistinct("txn_date").cast("int").alias("engagement_days_30d"))
    distinct = [F.coalesce(F.col(c), F.lit(0).cast(t)).alias(c)
                for c, t in (("payroll_payers_90d", "bigint"), ("engagement_days_30d", "int"))]
    return (sums.join(payers, "customer_id", "left").join(days, "customer_id", "left")
            .select(*sums.columns, *distinct))


def digital_features(sessions: DataFrame, as_of: dt.date) -> DataFrame:
    recent = sessions.where(F.col("customer_id").isNotNull() & _within("started_at", 90, as_of))
    w30 = _within("started_at", 30, as_of)
    return recent.groupBy("customer_id").agg(
        _count_if(w30).alias("sessions_30d"), F.count("*").alias("sessions_90d"),
        *[_count_if((F.col("page") == p) & (w30 if d == 30 else F.lit(True))).alias(f"page_{p}_{d}d")
          for p in INTENT_PAGES for d in (30, 90)],
    )


def offer_features(offers: DataFrame, as_of: dt.date) -> DataFrame:
    """What the customer did with the offers sent to them in the last year (known on the day)."""
    def by(column: str) -> Column:
        return F.col(column).isNotNull() & (F.to_date(F.col(column)) <= F.lit(as_of))

    sent = offers.where(F.col("customer_id").isNotNull() & _within("sent_at", 365, as_of))
    answered = by("response_at")
    return sent.groupBy("customer_id").agg(
        F.count("*").alias("offers_received_365d"),
        _count_if(by("opened_at")).alias("offers_opened_365d"),
        _count_if(answered & (F.col("response") == "accepted")).alias("offers_accepted_365d"),
        _count_if(answered & (F.col("response") == "declined")).alias("offers_declined_365d"),
        F.datediff(F.lit(as_of), F.max(F.to_date("sent_at"))).alias("days_since_last_offer"),
    )


def life_event_features(life_events: DataFrame, as_of: dt.date) -> DataFrame:
    """had_<event>: the customer had declared, by the day, the event as happened by the day."""
    known = life_events.where(F.col("customer_id").isNotNull() & (F.col("event_date") <= F.lit(as_of))
                              & (F.to_date("recorded_at") <= F.lit(as_of)))
    return known.groupBy("customer_id").agg(
        *[F.max(F.when(F.col("event_type") == e, 1).otherwise(0)).alias(f"had_{e}") for e in LIFE_EVENTS])


def build_customer_360(silver: Silver, as_of: dt.date) -> DataFrame:
    """One row per customer known on as_of (first account opened by then, or no account at all), from the
    silver rows known on as_of."""
    silver = silver.known_by(as_of)
    # The first account opened among those known on the day (silver.customer's first_seen may count an
    # account that arrived later).
    first_seen = silver.accounts.where(F.col("customer_id").isNotNull()).groupBy("customer_id").agg(
        F.min("open_date").alias("first_seen"))
    known = (silver.customers.join(first_seen, "customer_id", "left")
             .where(F.col("first_seen").isNull() | (F.col("first_seen") <= F.lit(as_of))))
    df = (
        known.select("customer_id", "birth_date", "gender", "postcode", "first_seen")
        .join(account_features(silver.accounts, silver.balances, silver.transactions, as_of), "customer_id", "left")
        .join(behaviour_features(silver.transactions, as_of), "customer_id", "left")
        .join(digital_features(silver.sessions, as_of), "customer_id", "left")
        .join(offer_features(offer_interactions(silver.offer_events), as_of), "customer_id", "left")
        .join(life_event_features(silver.life_events, as_of), "customer_id", "left")
    )
    # A customer without a row in a part had none of it: counts and sums are zero. Left missing (NaN
    # to the models): the balance 90 days ago, a credit limit, days since a last offer; the derived
    # features below (ratios without a denominator stay NULL) are computed from the filled columns.
    known_or_missing = ("deposit_balance_90d_ago", "credit_limit", "days_since_last_offer")
    missing_means_none = [c for c in MODEL_FEATURES if c in df.columns and c not in known_or_missing]
    df = df.fillna(0, subset=missing_means_none + ["active_prev_30d"])
    age = F.floor(F.months_between(F.lit(as_of), F.col("birth_date")) / 12).cast("int")
    # Money coming in per month over the year, or over the months since the customer's first transaction
    # when that is later (a new customer, or a history shorter than a year).
    months_since_first = F.datediff(F.lit(as_of), F.col("_first_txn_365d")) / DAYS_PER_MONTH
    months_seen = F.least(F.lit(12.0), F.greatest(F.lit(1.0), months_since_first))
    inflow_monthly_365d = F.col("_inflow_365d").cast("double") / months_seen
    derived = {
        "age": age,
        "tenure_days": F.datediff(F.lit(as_of), F.col("first_seen")),
        "deposit_balance_change_90d": _money(F.col("total_balance") - F.col("deposit_balance_90d_ago")),
        "credit_utilization": _ratio(F.col("card_balance"), F.col("credit_limit")),
        "payroll_trend": _ratio(F.col("payroll_30d").cast("double") * 3, F.col("payroll_90d")),
        # Money: rounded to cents (half up) as a decimal.
        "income_monthly": _money(F.round(F.col("payroll_90d") / 3, 2) + F.col("pension_30d")),
        "external_share_90d": _ratio(F.col("external_transfer_out_90d"), F.col("outflow_90d")),
        "outflow_over_inflow_90d": _ratio(F.col("outflow_90d"), F.col("inflow_90d")),
        # Balances relative to what comes in: how much of it stays (a saver's trait), whatever the income.
        "balance_months_of_inflow": _ratio(F.col("total_balance").cast("double") * 3, F.col("inflow_90d")),
        "avg_balance_months_365d": _ratio(F.col("_avg_checking_365d"), inflow_monthly_365d),
        "min_balance_months_90d": _ratio(F.col("_min_checking_90d"), inflow_monthly_365d),
        "outflow_over_inflow_365d": _ratio(F.col("_outflow_365d"), F.col("_inflow_365d")),
        "outflow_over_pay_365d": _ratio(F.col("_outflow_365d"), F.col("_pay_365d")),
        "discretionary_share_90d": _ratio(sum(F.col(f"spend_{c}_90d") for c in DISCRETIONARY),
                                          F.col("_purchase_amount_90d")),
    }
    features = [derived[c].alias(c) if c in derived else F.col(c) for c in MODEL_FEATURES]
    return df.select(
        F.lit(as_of).alias("as_of_date"), "customer_id", *features, "gender", "postcode",
        (F.col("txn_count_30d") > 0).alias("active_30d"), (F.col("active_prev_30d") == 1).alias("active_prev_30d"),
    )
