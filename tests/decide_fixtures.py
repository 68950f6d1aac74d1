"""Candidate rows for the decisioning tests: the columns build_candidates produces, with clean defaults."""

import datetime as dt

DAY = dt.date(2026, 7, 1)

# The candidate columns the rules, pricing and arbitration read (what build_candidates produces).
COLUMNS = ("customer_id string, offer_id string, product string, channel string, channel_order int, age int, "
           "kyc_complete boolean, resident boolean, holds_product boolean, offer_valid boolean, "
           "marketing_consent boolean, is_credit boolean, outflow_over_inflow_90d double, max_days_past_due int, "
           "has_savings int, page_savings_rates_90d int, deposit_balance_change_90d double, channel_contacts long, "
           "contacts long, declined_recently boolean, affinity double, probability double, credit_utilization double, "
           "tenure_days int, total_balance double, income_monthly double, price_kind string, price_unit string, "
           "price_min double, price_max double, value_kind string, value_amount double, value_income_rate double, "
           "lever double, as_of_date date, model string, model_version string, reason_codes string, reason string")
BASE = dict(customer_id="C1", offer_id="PL-FLEX", product="personal_loan", channel="mobile", channel_order=0, age=40,
            kyc_complete=True, resident=True, holds_product=False, offer_valid=True, marketing_consent=True,
            is_credit=True, outflow_over_inflow_90d=0.8, max_days_past_due=0, has_savings=1,
            page_savings_rates_90d=0, deposit_balance_change_90d=0.0, channel_contacts=0, contacts=0,
            declined_recently=False, affinity=0.0, probability=0.05, credit_utilization=0.2, tenure_days=1000,
            total_balance=5000.0, income_monthly=4000.0, price_kind="loan_apr", price_unit="% APR", price_min=8.99,
            price_max=17.99, value_kind="fixed", value_amount=420.0, value_income_rate=0.0, lever=1.0,
            as_of_date=DAY, model="propensity_personal_loan", model_version="1", reason_codes="income_monthly",
            reason="high monthly income paid in (4,000)")


def frame(spark, *rows):
    fields = [c.split(" ")[0] for c in COLUMNS.split(", ")]
    return spark.createDataFrame([tuple({**BASE, **r}[f] for f in fields) for r in rows], COLUMNS)
