"""Gold builders on tiny silver frames: the 360 as of a date (point in time), training rows and labels
for every target, KPIs and the next best offer."""

import dataclasses
import datetime as dt

import pytest
from pyspark.sql import functions as F

from jobs.gold.customer_360 import MODEL_FEATURES, behaviour_features, build_customer_360
from jobs.gold.targets import TARGETS
from jobs.gold.training_set import build_training_set, settled_by, training_dates
from jobs.known import KNOWN_ON
from jobs.measure.kpis import KPIS, RATIO_KPIS, kpi_by_segment, kpi_table, per_customer
from tests.silver_fixtures import AS_OF, KNOWN, TXN_SCHEMA, d, money_frame, silver_frames


@pytest.fixture(scope="module")
def silver(spark):
    return silver_frames(spark)


@pytest.fixture(scope="module")
def c360(silver):
    return {r.customer_id: r for r in build_customer_360(silver, AS_OF).collect()}


def test_one_row_per_customer_known_on_the_date(c360):
    assert sorted(c360) == ["A", "B"]  # N's first account opens after the as-of date


def test_balances_come_from_the_last_known_balance_rolled_forward(c360):
    a, b = c360["A"], c360["B"]
    # DA1: 800 known 30 days before, then +3000 and -1000; the balance exported after the date is ignored.
    assert a.total_balance == pytest.approx(2800.0)
    assert a.deposit_balance_90d_ago == pytest.approx(700.0) and a.deposit_balance_change_90d == pytest.approx(2100.0)
    assert a.card_balance == pytest.approx(350.0)  # 150 owed 5 days before, 200 spent since
    assert a.credit_limit == 1000.0 and a.credit_utilization == pytest.approx(0.35)
    assert b.total_balance == pytest.approx(600.0 - 100.0 + 1500.0 - 80.0 + 2000.0)


def test_behaviour_digital_offers_and_life_events_as_of_the_date(c360):
    a, b = c360["A"], c360["B"]
    assert a.age == 35 and a.tenure_days == 400
    assert a.products_held == 2 and a.has_credit_card == 1 and a.has_savings == 0
    assert a.payroll_30d == 3000.0 and a.payroll_90d == 6000.0 and a.payroll_trend == pytest.approx(1.5)
    assert a.payroll_payers_90d == 1 and a.pension_30d == 0.0
    assert a.inflow_30d == 3000.0 and a.outflow_30d == 1200.0 and a.external_transfer_out_30d == 1000.0
    assert a.card_spend_30d == 200.0 and a.spend_groceries_30d == 200.0
    assert a.engagement_days_30d == 3 and a.active_30d and a.active_prev_30d  # payroll 40 days ago
    assert a.sessions_30d == 1 and a.page_mortgage_calculator_30d == 1 and a.page_mortgage_calculator_90d == 2
    assert (a.offers_received_365d, a.offers_opened_365d, a.offers_declined_365d) == (1, 1, 1)
    assert a.days_since_last_offer == 20
    assert a.had_home_purchase == 0  # it happens after the date
    # B: a pension is not payroll; a debit-card purchase counts in its category; a declared marriage
    # counts, a retirement recorded after the date does not; an offer sent after the date does not.
    assert b.pension_30d == 1500.0 and b.payroll_30d == 0.0 and b.spend_kids_30d == 80.0
    assert b.had_marriage == 1 and b.had_retirement == 0
    assert b.offers_received_365d == 1 and b.sessions_90d == 0



def test_distinct_counts_count_each_payer_and_day_once_and_zero_without_any(spark):
    """payroll_payers_90d and engagement_days_30d are counted apart from the sums: two payers (one twice, the
    pension not at all), two days with three transactions; a customer active only long ago has zero of each."""
    def txn(customer, days_ago, amount, category, payer):
        return ("deposits", f"{customer}{days_ago}{payer}", "acct", customer, AS_OF - dt.timedelta(days=days_ago),
                amount, category, "deposit", False, payer)

    rows = [txn("P", 5, 100.0, "payroll", "ACME"), txn("P", 5, -20.0, "groceries", None),
            txn("P", 35, 100.0, "payroll", "ACME"), txn("P", 60, 100.0, "payroll", "GLOBEX"),
            txn("P", 12, 900.0, "payroll", "SSA TREAS 310"), txn("P", 120, 100.0, "payroll", "INITECH"),
            txn("Q", 200, -5.0, "groceries", None)]
    got = {r.customer_id: r for r in behaviour_features(money_frame(spark, rows, TXN_SCHEMA), AS_OF).collect()}
    assert (got["P"].payroll_payers_90d, got["P"].engagement_days_30d, got["P"].txn_count_30d) == (2, 2, 3)
    assert (got["Q"].payroll_payers_90d, got["Q"].engagement_days_30d, got["Q"].txn_count_30d) == (0, 0, 0)

def test_what_stays_of_the_money_coming_in_over_a_year(c360):
    """Month-end checking balances (the year's average, the lowest of the last 90 days) in months of money
    coming in (over the months the customer has transactions, up to 12), and the year's money out per
    dollar in and per dollar of pay."""
    a, b = c360["A"], c360["B"]
    assert a.checking_balance == pytest.approx(2800.0) and b.checking_balance == pytest.approx(1920.0)
    months = 300 / (365.25 / 12)          # A's first transaction in the year was 300 days before
    monthly_in = (3000 + 3000 + 3000) / months  # payroll 5, 40 and 300 days before (not the one of 380)
    assert a.avg_balance_months_365d == pytest.approx((100 + 400 + 800) / 3 / monthly_in)
    assert a.min_balance_months_90d == pytest.approx(400 / monthly_in)  # 100 was at the end of February
    assert a.outflow_over_inflow_365d == pytest.approx((1000 + 200 + 2000) / 9000)
    assert a.outflow_over_pay_365d == pytest.approx(3200 / 9000)
    # B: a pension is pay; no checking balance known at a month end (savings month ends do not count).
    assert b.outflow_over_pay_365d == pytest.approx((100 + 80) / 1500)
    assert b.avg_balance_months_365d is None and b.min_balance_months_90d is None


def test_every_model_feature_is_a_numeric_column(silver):
    df = build_customer_360(silver, AS_OF)
    types = dict(df.dtypes)
    assert [f for f in MODEL_FEATURES if f not in types] == []
    assert [f for f in MODEL_FEATURES if types[f] not in ("int", "bigint", "double", "float", "decimal(20,2)")] == []
    assert "gender" not in MODEL_FEATURES and "postcode" not in MODEL_FEATURES


def test_nothing_after_the_as_of_date_changes_the_features(spark, silver, c360):
    """Leakage check: change, add or drop every row dated after the as-of date, and every value the
    newest snapshot carries (silver.account's balance, limit, delinquency): the 360 stays the same."""
    after = F.lit(AS_OF)
    changed = dataclasses.replace(
        silver,
        accounts=silver.accounts.withColumn("balance", F.lit(1e6)).withColumn("credit_limit", F.lit(5.0))
        .withColumn("days_past_due", F.lit(90).cast("bigint")),
        balances=silver.balances.withColumn(
            "balance", F.when(F.col("as_of_date") > after, F.lit(-1.0)).otherwise(F.col("balance"))),
        transactions=silver.transactions.withColumn(
            "amount", F.when(F.col("txn_date") > after, F.col("amount") * 100).otherwise(F.col("amount")))
        .unionByName(money_frame(spark, [("cards", "T9", "CA1", "A", d(-1), -5000.0, "jewelry", "card", False,
                                             "5944", KNOWN)], silver.transactions.schema)),
        sessions=silver.sessions.withColumn(
            "page", F.when(F.col("started_at") > after, F.lit("home_buying_guide")).otherwise(F.col("page"))),
        offer_events=silver.offer_events.withColumn(
            "event_type", F.when(F.col("event_at") > after, F.lit("accepted")).otherwise(F.col("event_type"))),
        life_events=silver.life_events.where(F.col("recorded_at") <= after),
    )
    again = {r.customer_id: r for r in build_customer_360(changed, AS_OF).collect()}
    assert again == c360


def test_only_rows_known_on_the_day_count_and_the_first_load_is_history(spark, silver, c360):
    """A transaction dated before the day that arrived after it (or waited for its account) is left out of
    that day's 360 and counted from the day it became known; as-of dates before the first load see the
    first load's history, never what arrived later."""
    late = AS_OF + dt.timedelta(days=1)
    arrived_late = money_frame(spark,
        [("deposits", "T20", "DA1", "A", d(2), 777.0, "transfer_in", "deposit", False, "OTHER BANK")],
        TXN_SCHEMA).withColumn(KNOWN_ON, F.lit(late))
    with_late = dataclasses.replace(silver, transactions=silver.transactions.unionByName(arrived_late))
    assert {r.customer_id: r for r in build_customer_360(with_late, AS_OF).collect()} == c360
    next_day = {r.customer_id: r for r in build_customer_360(with_late, late).collect()}
    without = {r.customer_id: r for r in build_customer_360(silver, late).collect()}
    assert next_day["A"].inflow_7d == without["A"].inflow_7d + 777  # decimals: exact

    # Everything loaded on AS_OF (the first load), the late transaction the day after.
    loaded = {f.name: getattr(with_late, f.name).withColumn(KNOWN_ON, F.lit(AS_OF))
              for f in dataclasses.fields(with_late) if f.name != "first_load"}
    loaded["transactions"] = silver.transactions.withColumn(KNOWN_ON, F.lit(AS_OF)).unionByName(arrived_late)
    first_load = dataclasses.replace(with_late, **loaded, first_load=AS_OF)
    month_before = {r.customer_id: r for r in build_customer_360(silver, d(30)).collect()}
    assert {r.customer_id: r for r in build_customer_360(first_load, d(30)).collect()} == month_before
    assert build_customer_360(dataclasses.replace(first_load, first_load=None), d(30)).count() == 0


def test_training_rows_label_the_horizon_after_each_as_of_date(silver):
    cutoff = d(30)
    rows = {r.customer_id: r for r in build_training_set(silver, cutoff, 30).collect()}
    # A opened the card 10 days before AS_OF, i.e. within 30 days after the cutoff.
    assert rows["A"].label_credit_card == 1 and rows["A"].eligible_credit_card and rows["A"].has_credit_card == 0
    assert rows["A"].card_spend_30d == 0.0  # the card spend happened after the cutoff
    assert rows["B"].label_savings == 0 and not rows["B"].eligible_savings  # held savings by then
    for name in TARGETS:
        assert f"label_{name}" in rows["A"].asDict() and f"eligible_{name}" in rows["A"].asDict()
    # A declared a home purchase 10 days after AS_OF: a label for the as-of date AS_OF.
    at_as_of = {r.customer_id: r for r in build_training_set(silver, AS_OF, 30).collect()}
    assert at_as_of["A"].label_home_purchase == 1 and at_as_of["A"].eligible_home_purchase
    # B retired 40 days before AS_OF (recorded later): a label for the as-of date 60 days before.
    earlier = {r.customer_id: r for r in build_training_set(silver, d(60), 30).collect()}
    assert earlier["B"].eligible_retirement and earlier["B"].label_retirement == 1
    assert not at_as_of["B"].eligible_marriage  # already married (declared before)


def test_training_dates_are_month_ends_with_history_and_a_settled_horizon():
    dates = training_dates(dt.date(2025, 7, 1), dt.date(2026, 6, 30), horizon_days=30, maturity_days=45)
    assert dates[0] == dt.date(2025, 9, 30) and dates[-1] == dt.date(2026, 3, 31) and len(dates) == 7
    assert training_dates(dt.date(2026, 6, 1), dt.date(2026, 6, 30), 30, 45) == []


def test_a_run_learns_only_from_as_of_dates_settled_on_its_date(spark):
    """gold.training_set keeps the as-of dates of every run: a weekly run for June 30 re-run after the one for
    November 29 must not train or test on the as-of dates only November's could know."""
    rows = spark.createDataFrame([(dt.date(2026, 3, 31), "A"), (dt.date(2026, 4, 30), "A"),
                                  (dt.date(2026, 9, 30), "A")], "as_of_date date, customer_id string")
    kept = settled_by(rows, dt.date(2026, 6, 30), horizon_days=30, maturity_days=45)  # settled by 2026-04-16
    assert [r.as_of_date for r in kept.collect()] == [dt.date(2026, 3, 31)]
    later = settled_by(rows, dt.date(2026, 11, 29), 30, 45)  # settled by 2026-09-15
    assert sorted(r.as_of_date for r in later.collect()) == [dt.date(2026, 3, 31), dt.date(2026, 4, 30)]
    assert max(training_dates(dt.date(2025, 7, 1), dt.date(2026, 6, 30), 30, 45)) <= dt.date(2026, 4, 16)


def _kpi_inputs(spark):
    # Four customers: T1, T2 treated, H1, H2 in the holdout.
    c360 = spark.createDataFrame([
        ("T1", 35, 4000.0, True, True, 100.0, 1000.0, 15, 3),
        ("T2", 52, 2000.0, True, False, 0.0, 500.0, 3, 1),
        ("H1", 35, 4000.0, True, True, 400.0, 1000.0, 6, 2),
        ("H2", 70, 9000.0, False, True, 0.0, 0.0, 9, 1),
    ], "customer_id string, age int, income_monthly double, active_prev_30d boolean, active_30d boolean, "
       "external_transfer_out_30d double, outflow_30d double, engagement_days_30d int, products_held int")
    holdout = spark.createDataFrame([("T1", False), ("T2", False), ("H1", True), ("H2", True)],
                                    "customer_id string, holdout boolean")
    openings = spark.createDataFrame([
        ("T1", AS_OF - dt.timedelta(days=3), 500.0, True), ("H1", AS_OF - dt.timedelta(days=10), 200.0, False),
        ("H2", AS_OF - dt.timedelta(days=31), 900.0, False),   # before the 30-day window
    ], "customer_id string, open_date date, value double, from_offer boolean")
    before = lambda days: AS_OF - dt.timedelta(days=days)  # noqa: E731
    offers = spark.createDataFrame([("T1", "D1", before(5)), ("T1", "D2", before(1)), ("T2", "D3", before(2)),
                                    ("T2", "D4", AS_OF)],  # today's: not counted yet
                                   "customer_id string, decision_id string, as_of_date date")
    accepted = spark.createDataFrame([("D1",)], "decision_id string")
    return per_customer(c360, holdout, openings, offers, accepted, AS_OF)


def test_kpis_compare_treated_and_holdout_with_an_uplift_and_its_interval(spark):
    values = _kpi_inputs(spark)
    k = {r.kpi: r for r in kpi_table(values, AS_OF).collect()}
    assert set(k) == set(KPIS)
    assert k["retention_rate"].treated == 0.5 and k["retention_rate"].holdout == 1.0   # H2 was not active before
    assert k["retention_rate"].holdout_customers == 1
    assert k["wallet_share"].treated == pytest.approx((0.9 + 1.0) / 2)
    assert k["wallet_share"].holdout == pytest.approx(0.6)
    assert k["engagement_frequency"].all_customers == pytest.approx((15 + 3 + 6 + 9) / 4 / 30)
    assert k["products_per_customer"].treated == 2.0 and k["multi_product_share"].holdout == 0.5
    assert k["conversion_rate_30d"].treated == 0.5 and k["revenue_per_customer_30d"].treated == 250.0
    assert k["revenue_per_customer_30d"].holdout == 100.0
    assert k["revenue_per_customer_30d"].uplift == 150.0
    assert k["revenue_attributed_30d"].treated == 250.0 and k["revenue_attributed_30d"].holdout == 0.0
    # The interval of a difference of means: 1.96 * sqrt(var_t/n_t + var_h/n_h), sample variances.
    half = 1.959964 * (((500 - 250) ** 2 * 2 / 1) / 2 + ((200 - 100) ** 2 * 2 / 1) / 2) ** 0.5
    assert k["revenue_per_customer_30d"].uplift_ci_low == pytest.approx(150 - half, abs=1e-3)
    assert k["revenue_per_customer_30d"].uplift_ci_high == pytest.approx(150 + half, abs=1e-3)
    assert k["offers_published_30d"].treated == 1.5 and k["offers_published_30d"].holdout == 0.0
    acceptance = k["offer_acceptance_rate_30d"]
    assert acceptance.treated == pytest.approx((0.5 + 0.0) / 2) and acceptance.holdout is None
    assert acceptance.uplift is None
    for name in RATIO_KPIS:
        for side in ("treated", "holdout", "all_customers"):
            value = getattr(k[name], side)
            assert value is None or 0.0 <= value <= 1.0


def test_kpis_by_segment_split_by_age_and_income_band(spark):
    rows = {(r.segment, r.kpi): r for r in kpi_by_segment(_kpi_inputs(spark), AS_OF).collect()}
    segments = {s for s, _ in rows}
    assert segments == {"30-44 x income 3-6k", "45-59 x income<3k", "60+ x income>6k"}
    same = rows[("30-44 x income 3-6k", "wallet_share")]
    assert same.treated == pytest.approx(0.9) and same.holdout == pytest.approx(0.6)
    assert same.treated_customers == 1 and same.uplift_ci_low is None   # too few to estimate an interval
