"""Plain-language reason codes from XGBoost feature contributions.

Each feature has a short noun phrase ("card spend in the last 30 days") and a kind that says how to print
its value. A reason reads "high card spend in the last 30 days (1,234)": the level compares the customer's
value with the training median stored in the model, so it also works for a single row. Flags read as
"holds a credit card" / "has no credit card". A feature missing from the dictionary falls back to its
column name in words, so a new feature never breaks scoring.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

MONEY, COUNT, DAYS, YEARS, RATIO, FLAG, NUMBER, TREND = ("money", "count", "days", "years", "ratio", "flag",
                                                        "number", "trend")


@dataclass(frozen=True)
class FeatureText:
    description: str            # noun phrase: "card spend in the last 30 days"
    kind: str = NUMBER          # how to print the value (money, count, days, years, ratio, flag, number)
    high: str | None = None     # phrase when above the median (default "high <description>")
    low: str | None = None      # phrase when below the median (default "low <description>")


def _flag(thing: str) -> FeatureText:
    """A 0/1 holding: "holds a credit card" / "has no credit card"."""
    bare = re.sub(r"^(a|an) ", "", thing)
    return FeatureText(bare, FLAG, high=f"holds {thing}", low=f"has no {bare}")


FEATURE_TEXT: dict[str, FeatureText] = {
    "age": FeatureText("age", YEARS, high="older than most customers", low="younger than most customers"),
    "tenure_days": FeatureText("time with the bank", DAYS, high="long-standing customer",
                               low="relatively new customer"),
    "total_balance": FeatureText("total balance across accounts", MONEY),
    "deposit_balance": FeatureText("deposit balance", MONEY),
    "card_balance": FeatureText("credit card balance", MONEY),
    "loan_outstanding": FeatureText("loan amount outstanding", MONEY),
    "inflow_30d": FeatureText("money coming in over the last 30 days", MONEY),
    "payroll_30d": FeatureText("salary paid in over the last 30 days", MONEY),
    "outflow_30d": FeatureText("money going out over the last 30 days", MONEY),
    "external_transfer_out_30d": FeatureText("transfers to other banks in the last 30 days", MONEY),
    "card_spend_30d": FeatureText("card spend in the last 30 days", MONEY),
    "engagement_days_30d": FeatureText("days with a transaction in the last 30 days", COUNT,
                                       high="uses the accounts on many days", low="uses the accounts on few days"),
    "deposit_balance_90d_ago": FeatureText("deposit balance 90 days ago", MONEY),
    "deposit_balance_change_90d": FeatureText("change in deposit balance over 90 days", MONEY,
                                              high="deposit balance grew over 90 days",
                                              low="deposit balance fell over 90 days"),
    "credit_limit": FeatureText("credit card limit", MONEY),
    "payroll_90d": FeatureText("salary paid in over the last 90 days", MONEY),
    "payroll_trend": FeatureText("salary paid in", TREND),
    "payroll_payers_90d": FeatureText("employers paying a salary in the last 90 days", COUNT,
                                      high="salary from a new employer in the last 90 days",
                                      low="no salary paid here"),
    "pension_30d": FeatureText("pension paid in over the last 30 days", MONEY, high="receives a pension"),
    "income_monthly": FeatureText("monthly income paid in", MONEY),
    "rent_30d": FeatureText("rent paid in the last 30 days", MONEY, low="stopped paying rent"),
    "rent_90d": FeatureText("rent paid in the last 90 days", MONEY),
    "housing_90d": FeatureText("rent and mortgage paid in the last 90 days", MONEY),
    "external_transfer_out_90d": FeatureText("transfers to other banks in the last 90 days", MONEY),
    "external_share_90d": FeatureText("share of spending sent to other banks in 90 days", RATIO),
    "outflow_over_inflow_90d": FeatureText("money going out for every dollar coming in over 90 days", RATIO,
                                           high="spending more than comes in", low="spending less than comes in"),
    "balance_months_of_inflow": FeatureText("balance in months of money coming in", NUMBER,
                                            high="keeps a large balance for the money coming in",
                                            low="keeps little of the money coming in"),
    "checking_balance": FeatureText("checking balance", MONEY),
    "avg_balance_months_365d": FeatureText("average month-end checking balance over the year, in months of money "
                                           "coming in", NUMBER, high="money stays in the account month after month",
                                           low="little of the money coming in stays from month to month"),
    "min_balance_months_90d": FeatureText("lowest of the last three month-end checking balances, in months of "
                                          "money coming in", NUMBER, high="the account did not run low lately",
                                          low="the account ran low at a recent month end"),
    "outflow_over_inflow_365d": FeatureText("money going out for every dollar coming in over the year", RATIO,
                                            high="spent more of what came in over the year",
                                            low="spent less of what came in over the year"),
    "outflow_over_pay_365d": FeatureText("money going out for every dollar of salary or pension over the year", RATIO,
                                         high="spends more of the salary than most",
                                         low="spends well within the salary"),
    "largest_outflow_90d": FeatureText("largest single payment in the last 90 days", MONEY,
                                       high="a large payment in the last 90 days"),
    "atm_30d": FeatureText("cash withdrawn in the last 30 days", MONEY),
    "card_spend_90d": FeatureText("card spend in the last 90 days", MONEY),
    "sessions_30d": FeatureText("online banking sessions in the last 30 days", COUNT,
                                high="frequent online banking", low="little online banking"),
    "sessions_90d": FeatureText("online banking sessions in the last 90 days", COUNT),
    "offers_received_365d": FeatureText("offers received in the last year", COUNT),
    "offers_opened_365d": FeatureText("offers opened in the last year", COUNT, high="reads our offers"),
    "offers_accepted_365d": FeatureText("offers accepted in the last year", COUNT, high="has taken up offers before"),
    "offers_declined_365d": FeatureText("offers declined in the last year", COUNT, high="declined offers before"),
    "days_since_last_offer": FeatureText("time since the last offer", DAYS, high="no offer for a while",
                                         low="received an offer recently"),
    "txn_count_30d": FeatureText("number of transactions in the last 30 days", COUNT,
                                 high="many transactions in the last 30 days",
                                 low="few transactions in the last 30 days"),
    "products_held": FeatureText("number of products held", COUNT, high="holds many of our products",
                                 low="holds few of our products"),
    "has_checking": _flag("a checking account"),
    "has_savings": _flag("a savings account"),
    "has_term_deposit": _flag("a term deposit"),
    "has_credit_card": _flag("a credit card"),
    "has_personal_loan": _flag("a personal loan"),
    "has_auto_loan": _flag("an auto loan"),
    "has_mortgage": _flag("a mortgage"),
    "max_days_past_due": FeatureText("days past due on a payment", DAYS, high="recent late payments",
                                     low="payments on time"),
    "credit_utilization": FeatureText("credit utilization", RATIO),
}
_EVENT_WORDS = {"home_purchase": "a home purchase", "marriage": "a marriage", "new_child": "a new child",
                "job_change": "a job change", "retirement": "retirement"}
_PAGE_WORDS = {"mortgage_calculator": "the mortgage calculator", "home_buying_guide": "the home-buying guide",
               "retirement_planner": "the retirement planner", "savings_rates": "savings rates",
               "direct_deposit": "the direct-deposit form"}
_SPEND = re.compile(r"^spend_(?P<category>[a-z0-9_]+)_(?P<days>[0-9]+)d$")
_FLOW = re.compile(r"^(?P<flow>inflow|outflow)_(?P<days>[0-9]+)d$")
_PAGE = re.compile(r"^page_(?P<page>[a-z_]+)_(?P<days>[0-9]+)d$")


def feature_text(feature: str) -> FeatureText:
    """The text for a feature, with a readable fallback for features the dictionary does not know."""
    known = FEATURE_TEXT.get(feature)
    if known is not None:
        return known
    spend = _SPEND.match(feature)
    if spend:
        return FeatureText(f"spending on {spend['category'].replace('_', ' ')} in the last {spend['days']} days", MONEY)
    flow = _FLOW.match(feature)
    if flow:
        direction = "coming in" if flow["flow"] == "inflow" else "going out"
        return FeatureText(f"money {direction} over the last {flow['days']} days", MONEY)
    page = _PAGE.match(feature)
    if page:
        where = _PAGE_WORDS.get(page["page"], page["page"].replace("_", " ") + " pages")
        return FeatureText(f"visits to {where} in the last {page['days']} days", COUNT,
                           high=f"looked at {where} in the last {page['days']} days",
                           low=f"did not look at {where} lately")
    if feature.startswith("had_") and feature[4:] in _EVENT_WORDS:
        event = _EVENT_WORDS[feature[4:]]
        return FeatureText(event, FLAG, high=f"told us about {event}", low=f"no {event} known")
    if feature.startswith("has_"):
        return _flag(feature[4:].replace("_", " "))
    return FeatureText(feature.replace("_", " "), NUMBER)


def describe(feature: str) -> str:
    """The noun phrase for a feature (what tests and reports match on)."""
    return feature_text(feature).description


def format_value(value: float, kind: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "unknown"
    value = float(value)
    if kind == RATIO:
        return f"{value:.0%}"
    if kind == TREND:
        return f"{value - 1:+.0%}"
    if kind == DAYS:
        return f"{value:,.0f} day" + ("" if round(value) == 1 else "s")
    if kind in (MONEY, COUNT, YEARS) or value.is_integer() or abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def reason_text(feature: str, value: float, median: float | None = None) -> str:
    """One reason in plain words, e.g. "high card spend in the last 30 days (1,234)"."""
    text = feature_text(feature)
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    if missing:
        return f"{text.description} not known"
    if text.kind == FLAG:
        return text.high if value >= 0.5 else text.low
    if text.kind == TREND:  # a ratio of the recent level to the usual one: "salary paid in up 40% ..."
        if abs(value - 1) < 0.005:
            return f"{text.description} steady on its 90-day average"
        direction = "up" if value >= 1 else "down"
        return f"{text.description} {direction} {abs(value - 1):.0%} on its 90-day average"
    shown = format_value(value, text.kind)
    if median is None or (isinstance(median, float) and math.isnan(median)) or value == median:
        if value == 0 and text.kind == MONEY:
            return f"no {text.description}"
        if value == 0 and text.kind == COUNT:
            return f"{text.low or 'no ' + text.description} ({shown})"
        return f"{text.description} ({shown})" if median is None else f"typical {text.description} ({shown})"
    phrase = (text.high or f"high {text.description}") if value > median else (text.low or f"low {text.description}")
    return f"{phrase} ({shown})"


NO_STANDOUT = "no single factor stands out from the typical customer"
