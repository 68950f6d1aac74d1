"""Models without training one: the one-feature baseline of the floor, the floor as a setting, protected
attributes kept out of credit models' features, bad training input refused before the tracking store is
touched, decimal features, the evaluation figures and the reasons' wording. (Training, promotion and scoring
with a registered champion: tests/integration/test_models.py.)"""

from __future__ import annotations

import decimal

import numpy as np
import pandas as pd
import pytest

from jobs.decide.catalog import CREDIT_PRODUCTS
from jobs.gold.customer_360 import MODEL_FEATURES
from jobs.gold.targets import target
from jobs.models.evaluate import evaluate, single_feature_baseline
from jobs.models.frame import FeaturePlan
from jobs.models.reasons import NO_STANDOUT, reason_text
from jobs.models.run import spec_for
from jobs.models.train import ModelSpec, train_model
from jobs.settings import Settings
from tests.models_fixtures import DATES, DRIVERS, FEATURES, POLICY, allowing, make_frame, spec

# MLflow's SQLAlchemy store trips a SQLAlchemy deprecation on first use; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning")


@pytest.fixture(scope="module")
def frame():
    return make_frame()


# -- the floor: better than chance and than a one-feature baseline, on the same test set ----------------

def test_the_baseline_is_the_best_single_feature_of_the_training_rows(frame):
    fit, test = frame[frame["as_of_date"] < DATES[-1]], frame[frame["as_of_date"] == DATES[-1]]
    baseline = single_feature_baseline(fit[FEATURES], fit["label"], test[FEATURES], test["label"])
    assert baseline.feature in DRIVERS and baseline.higher_is_likelier and 0.6 < baseline.auc < 0.9
    flipped = test.assign(label=1 - test["label"])   # the test rows ranked backwards: its test AUC drops below 0.5
    assert single_feature_baseline(fit[FEATURES], fit["label"], flipped[FEATURES], flipped["label"]).auc < 0.5
    assert single_feature_baseline(fit[FEATURES], fit["label"] * 0, test[FEATURES], test["label"]) is None


def test_the_floor_is_a_setting(monkeypatch, tmp_path):
    monkeypatch.setenv("MARKETOFONE_HOME", str(tmp_path))
    monkeypatch.setenv("MARKETOFONE_PROMOTION_MIN_AUC", "0.6")
    assert Settings.from_env().promotion_min_auc == 0.6
    monkeypatch.setenv("MARKETOFONE_PROMOTION_MIN_AUC", "1.5")
    with pytest.raises(ValueError, match="MARKETOFONE_PROMOTION_MIN_AUC must be between 0 and 1"):
        Settings.from_env()


# -- protected attributes: not a credit model's features, so never a credit offer's reasons --------------

def test_credit_models_leave_out_protected_attributes_and_other_models_keep_them():
    for product in CREDIT_PRODUCTS:
        features = spec_for(target(product), POLICY).features
        assert {"age", "had_marriage"} & set(features) == set(), product
        assert not POLICY.protected.blocked_columns(product) & set(features), product
        assert spec_for(target(product), POLICY).tags["protected_left_out"] == "age,had_marriage"
    for name in ("savings", "term_deposit", "retirement"):
        assert spec_for(target(name), POLICY).features == tuple(MODEL_FEATURES)


def test_allowing_an_attribute_in_the_policy_lets_it_back_in_for_that_product_only():
    policy = allowing("mortgage", "age")
    assert "age" in spec_for(target("mortgage"), policy).features
    assert "had_marriage" not in spec_for(target("mortgage"), policy).features      # not allowed
    assert "age" not in spec_for(target("personal_loan"), policy).features          # another product


@pytest.mark.parametrize(
    "mutate, features, message",
    [
        (lambda f: f.iloc[0:0], FEATURES, "empty"),
        (lambda f: f.assign(label=f["label"].replace(1, 2)), FEATURES, "must be 0/1"),
        (lambda f: f.assign(label=f["label"].astype(float).where(f.index > 0)), FEATURES, "null"),
        (lambda f: f.drop(columns=["payroll_30d"]), FEATURES, "missing from the frame: payroll_30d"),
        (lambda f: f.assign(age="forty"), FEATURES, "age must be numeric"),
        (lambda f: f.assign(label=(f.index < 3).astype(int)), FEATURES, "at least 5 positive"),
        (lambda f: f.drop(columns=["label"]), FEATURES, "label column 'label' missing"),
        (lambda f: f.assign(age=np.inf), FEATURES, "infinite values: age"),
        (lambda f: f.assign(as_of_date=DATES[0]), FEATURES, "at least two as_of_date values"),
        (lambda f: f, [], "no features"),
        (lambda f: f, ["age", "age"], "more than once: age"),
        (lambda f: f, ["age", "label"], "'label' cannot be a feature"),
    ],
)
def test_bad_training_input_is_a_clear_value_error(frame, tmp_path, mutate, features, message):
    settings = Settings(home=tmp_path)
    with pytest.raises(ValueError, match=message):
        train_model(mutate(frame.copy()), spec(features=features), settings)
    assert not (tmp_path / "mlflow").exists()        # rejected before touching the tracking store


def test_bad_model_name():
    with pytest.raises(ValueError, match="lowercase identifier"):
        ModelSpec(name="Credit Card", label="label")


def test_decimal_features_from_spark_are_numeric():
    frame = pd.DataFrame({"total_balance": [decimal.Decimal("12.50"), None, decimal.Decimal(3)], "y": [0, 1, 0]})
    plan = FeaturePlan.infer(frame, "y")
    assert plan.numeric == ["total_balance"]
    matrix = plan.matrix(frame)
    assert matrix["total_balance"].dtype == "float64"
    assert matrix["total_balance"].isna().tolist() == [False, True, False]


def test_evaluation_figures():
    y = np.array([0, 0, 0, 0, 1, 0, 0, 1, 0, 1])
    p = np.array([.1, .2, .1, .3, .9, .2, .1, .8, .4, .2])
    e = evaluate(y, p)
    assert e.positives == 3 and e.base_rate == pytest.approx(0.3)
    assert e.auc == pytest.approx(18 / 21)  # 7 + 7 + (3 wins + 2 half ties) of 21 pairs
    assert e.lift_top_decile == pytest.approx(1 / 0.3)   # the top 10% (one row) is a positive
    assert e.brier == pytest.approx(np.mean((p - y) ** 2))
    assert sum(r["rows"] for r in e.reliability) == 10


def test_reason_wording():
    assert reason_text("card_spend_30d", 1234.4, 500.0) == "high card spend in the last 30 days (1,234)"
    assert reason_text("total_balance", 20.0, 800.0) == "low total balance across accounts (20)"
    assert reason_text("card_spend_30d", 0.0, 0.0) == "no card spend in the last 30 days"
    assert reason_text("has_credit_card", 1.0, 0.0) == "holds a credit card"
    assert reason_text("has_mortgage", 0.0, 0.0) == "has no mortgage"
    assert reason_text("credit_utilization", 0.87, 0.3) == "high credit utilization (87%)"
    assert reason_text("spend_dining_30d", 300.0, 100.0) == "high spending on dining in the last 30 days (300)"
    assert reason_text("spend_kids_90d", 300.0, 0.0) == "high spending on kids in the last 90 days (300)"
    assert reason_text("payroll_trend", 1.4, 1.0) == "salary paid in up 40% on its 90-day average"
    assert reason_text("payroll_trend", 1.001, 1.0) == "salary paid in steady on its 90-day average"
    assert reason_text("page_mortgage_calculator_30d", 3, 0) == \
        "looked at the mortgage calculator in the last 30 days (3)"
    assert reason_text("had_marriage", 1, 0) == "told us about a marriage"
    assert reason_text("mystery_score", 1.5, 0.5) == "high mystery score (1.5)"          # fallback
    assert reason_text("age", float("nan"), 40.0) == "age not known"
    assert reason_text("max_days_past_due", 45.0, 0.0) == "recent late payments (45 days)"
    assert reason_text("avg_balance_months_365d", 2.5, 0.8) == "money stays in the account month after month (2.5)"
    assert reason_text("outflow_over_pay_365d", 0.7, 0.9) == "spends well within the salary (70%)"
    assert NO_STANDOUT


def test_the_baselines_auc_is_sklearns_with_ties_and_weights():
    """The baseline ranks by one feature with its own AUC count: the same figure as sklearn's roc_auc_score,
    ties (a flag, a rounded amount) and sample weights included."""
    from sklearn.metrics import roc_auc_score

    from jobs.models.evaluate import _ranking_auc

    rng = np.random.default_rng(7)
    y = (rng.random(3000) < 0.1).astype(int)
    for x in (rng.normal(size=3000) + y, rng.integers(0, 4, 3000) + y, (rng.random(3000) < 0.3 + 0.2 * y) * 1.0):
        for w in (None, np.where(y == 1, 1.0, rng.uniform(1, 20, 3000))):
            assert _ranking_auc(y, x, w) == pytest.approx(roc_auc_score(y, x, sample_weight=w), abs=1e-12)
    assert _ranking_auc(np.array([0, 1, 0, 1]), np.array([1.0, 1.0, 1.0, 1.0])) == 0.5


def test_reasons_are_worded_per_row_as_each_value_reads():
    """explain words each distinct value once; every row still reads its own value: a missing one, -0 and 0,
    a flag and money, a row with nothing positive."""
    from jobs.models.score import explain

    features = ["has_savings", "balance_total", "max_days_past_due"]
    values = np.array([[1.0, 0.0, 3.0], [0.0, -0.0, 3.0], [1.0, np.nan, 1.0], [1.0, 1234.5, np.nan],
                       [0.0, 0.0, 0.0]])
    contributions = np.array([[0.3, 0.2, 0.1], [0.1, 0.4, -0.2], [0.5, 0.3, 0.2], [-0.1, 0.9, 0.3],
                              [-0.1, -0.2, 0.0]])
    medians = {"has_savings": None, "balance_total": 500.0, "max_days_past_due": 1.0}
    codes, texts = explain(values, contributions, features, medians, top_reasons=2)
    assert codes == [["has_savings", "balance_total"], ["balance_total", "has_savings"],
                     ["has_savings", "balance_total"], ["balance_total", "max_days_past_due"], []]
    expected = ["; ".join(reason_text(features[j], values[i, j], medians[features[j]])
                          for j in np.argsort(-contributions[i], kind="stable")[:2] if contributions[i, j] > 0)
                or NO_STANDOUT for i in range(len(values))]
    assert texts == expected
    assert "not known" in texts[2] and "not known" in texts[3] and texts[4] == NO_STANDOUT
