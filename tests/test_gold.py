import datetime as dt

import pytest

from jobs.decide.next_best_offer import choose_offers
from jobs.gold.customer_360 import MODEL_FEATURES, build_customer_360
from jobs.gold.kpis import RATIO_KPIS, build_kpi_daily
from jobs.gold.training_set import build_training_set
from tests.silver_fixtures import AS_OF, d, silver_frames


@pytest.fixture(scope="module")
def c360(spark):
    rows = build_customer_360(*silver_frames(spark), AS_OF).collect()
    return {r.customer_id: r for r in rows}


def test_one_row_per_customer_known_on_the_date(c360):
    assert sorted(c360) == ["A", "B"]  # N's first account opens after the as-of date


def test_balances_products_and_behaviour_as_of_the_date(c360):
    a, b = c360["A"], c360["B"]
    assert a.age == 35 and a.tenure_days == 400
    # The export says 1000, but 500 arrived after the as-of date: it had 500 then.
    assert a.deposit_balance == pytest.approx(500.0)
    assert a.products_held == 2 and a.has_credit_card == 1 and a.has_savings == 0
    assert a.payroll_30d == 3000.0 and a.payroll_90d == 6000.0 and a.income_monthly == 2000.0
    assert a.outflow_30d == 1200.0 and a.external_transfer_out_30d == 1000.0
    assert a.card_spend_30d == 200.0 and a.spend_groceries_30d == 200.0
    assert a.engagement_days_30d == 3 and a.active_30d and a.active_prev_30d  # payroll 40 days ago
    assert a.credit_utilization == pytest.approx(0.3)
    assert b.products_held == 2 and not b.active_30d and b.active_prev_30d


def test_the_balance_exported_on_the_day_wins_and_others_are_moved_to_it(spark):
    """A snapshot on the as-of date is taken as it is; without one, the nearest later snapshot is rolled
    back (see above) or, when there is none, the last earlier one rolled forward."""
    customers, accounts, balances, txns = silver_frames(spark)
    on_the_day = spark.createDataFrame([(AS_OF, "deposits", "DA1", 777.0, None, 0)], balances.schema)
    row = [r for r in build_customer_360(customers, accounts, balances.unionByName(on_the_day), txns, AS_OF)
           .collect() if r.customer_id == "A"][0]
    assert row.deposit_balance == pytest.approx(777.0)
    before = spark.createDataFrame([(d(10), "deposits", "DA1", 100.0, None, 0)], balances.schema)
    row = [r for r in build_customer_360(customers, accounts, before, txns, AS_OF).collect() if r.customer_id == "A"][0]
    assert row.deposit_balance == pytest.approx(100.0 + 3000.0 - 1000.0)  # T1 and T2 came after that export


def test_every_model_feature_is_a_column(spark, c360):
    row = next(iter(c360.values()))
    missing = [f for f in MODEL_FEATURES if f not in row.asDict()]
    assert missing == []


def test_training_labels_look_ahead_but_features_do_not(spark):
    customers, accounts, balances, txns = silver_frames(spark)
    cutoff = AS_OF - dt.timedelta(days=30)
    rows = {r.customer_id: r for r in build_training_set(customers, accounts, balances, txns, cutoff, 30).collect()}
    # A opened the card 10 days before AS_OF, i.e. within 30 days after the cutoff.
    assert rows["A"].label_credit_card == 1 and rows["A"].has_credit_card == 0
    assert rows["A"].card_spend_30d == 0.0  # the card spend happened after the cutoff
    assert rows["B"].label_credit_card == 0 and rows["B"].has_savings == 1 and rows["B"].label_savings == 0
    # B opened savings 50 days before AS_OF: before the cutoff, so held then, no label
    assert rows["B"].products_held == 2


def test_kpis_are_computed_from_the_360_and_ratios_stay_in_unit_interval(spark):
    c360 = build_customer_360(*silver_frames(spark), AS_OF)
    offers = spark.createDataFrame([("A",)], "customer_id string")
    k = build_kpi_daily(c360, offers, AS_OF).collect()[0]
    assert k.customers == 2 and k.active_customers_30d == 1 and k.offers_published == 1
    assert k.retention_rate == 0.5  # both were active the 30 days before; only A still is
    assert k.wallet_share == pytest.approx(1 - 1000 / 1200)
    assert k.engagement_frequency == pytest.approx((3 + 0) / 2 / 30)
    assert k.products_per_customer == 2.0 and k.multi_product_share == 1.0
    assert all(0.0 <= getattr(k, name) <= 1.0 for name in RATIO_KPIS)


def test_next_best_offer_is_the_highest_score_per_customer(spark):
    scores = spark.createDataFrame([
        ("A", "savings", 0.2, "1", "r1"), ("A", "personal_loan", 0.6, "1", "r2"),
        ("B", "credit_card", 0.1, "1", "r3"),
    ], "customer_id string, product string, probability double, model_version string, reason string")
    offers = {r.customer_id: r for r in choose_offers(scores, AS_OF).collect()}
    assert offers["A"].product == "personal_loan" and offers["A"].score == 0.6 and offers["A"].reason == "r2"
    assert offers["B"].product == "credit_card" and offers["B"].rank == 1
    assert len(offers) == 2
