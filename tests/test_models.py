"""Propensity models: training + MLflow tracking, champion/challenger promotion, scoring with reasons."""

from __future__ import annotations

import datetime as dt
import decimal
import json

import numpy as np
import pandas as pd
import pytest

from jobs.models import registry
from jobs.models.reasons import NO_STANDOUT, describe, reason_text
from jobs.models.score import OUTPUT_COLUMNS, load_champion, score
from jobs.models.train import feature_matrix, model_name, train_propensity
from jobs.settings import Settings

# MLflow's SQLAlchemy store trips a SQLAlchemy deprecation on first use; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning")

AS_OF = dt.date(2024, 3, 31)
DRIVERS = ["card_spend_30d", "payroll_30d"]
NOISE = ["age", "tenure_days", "spend_travel_30d", "has_savings"]
FEATURES = DRIVERS + NOISE


def make_frame(n: int = 1000, seed: int = 7) -> pd.DataFrame:
    """A label driven by card spend and payroll (plus noise); the other features carry no signal."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "customer_id": [f"C{i:05d}" for i in range(n)],
        "card_spend_30d": rng.lognormal(6.0, 1.0, n).round(2),
        "payroll_30d": rng.lognormal(7.5, 0.8, n).round(2),
        "age": rng.integers(18, 85, n),
        "tenure_days": rng.integers(30, 7000, n),
        "spend_travel_30d": rng.lognormal(3.0, 1.2, n).round(2),
        "has_savings": rng.integers(0, 2, n),
    })
    logit = (1.6 * (np.log(frame["card_spend_30d"]) - 6.0) + 1.3 * (np.log(frame["payroll_30d"]) - 7.5) / 0.8
             + rng.normal(0.0, 1.0, n) - 1.2)
    frame["label"] = (logit > 0).astype("int64")
    return frame


def read_json(client, run_id: str, path: str) -> dict:
    with open(client.download_artifacts(run_id, path)) as handle:
        return json.load(handle)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("models_home")


@pytest.fixture(scope="module")
def settings(home):
    return Settings(home=home)


@pytest.fixture(scope="module")
def frame():
    return make_frame()


@pytest.fixture(scope="module")
def trained(frame, settings):
    """Train a good model (v1), then a worse one on noise features only (v2) for the same product."""
    first = train_propensity(frame, "credit_card", "label", FEATURES, settings, AS_OF)
    second = train_propensity(frame, "credit_card", "label", NOISE, settings, AS_OF + dt.timedelta(days=7))
    return first, second


def test_training_logs_run_and_registers_first_version_as_champion(trained, settings, frame):
    first, _ = trained
    client = registry.client(settings)

    assert first.model_name == model_name("credit_card") == "propensity_credit_card"
    assert first.version == "1" and first.promoted
    assert first.auc > 0.8, first.auc                      # the label is learnable
    assert 0 < first.pr_auc <= 1
    assert first.n_train + first.n_valid == len(frame)
    assert first.positives == int(frame["label"].sum())
    assert first.features == FEATURES

    run = client.get_run(first.run_id)
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == registry.PROPENSITY_EXPERIMENT
    assert experiment.artifact_location == settings.mlflow_artifacts
    assert run.info.artifact_uri.startswith(settings.mlflow_artifacts)
    for metric in ("auc", "pr_auc", "n_train", "n_valid", "positives", "base_rate"):
        assert metric in run.data.metrics, metric
    assert run.data.metrics["auc"] == pytest.approx(first.auc)
    assert run.data.metrics["base_rate"] == pytest.approx(frame["label"].mean())
    assert run.data.params["tree_method"] == "hist"
    assert float(run.data.params["scale_pos_weight"]) > 1          # positives are the minority
    assert run.data.tags["product"] == "credit_card"
    assert run.data.tags["as_of"] == AS_OF.isoformat()
    assert run.data.tags["promotion.promoted"] == "true"

    artifacts = {a.path for a in client.list_artifacts(first.run_id)}
    artifacts |= {a.path for a in client.list_artifacts(first.run_id, "importance")}
    assert {"features.json", "promotion.json", "importance/gain.json", "importance/gain.png"} <= artifacts

    assert read_json(client, first.run_id, "features.json")["features"] == FEATURES
    importance = read_json(client, first.run_id, "importance/gain.json")["features"]
    assert {row["feature"] for row in importance} == set(FEATURES)
    assert {row["feature"] for row in importance[:2]} == set(DRIVERS)    # gain finds the drivers

    version = client.get_model_version(first.model_name, "1")
    assert version.run_id == first.run_id
    assert float(version.tags["auc"]) == first.auc
    assert registry.alias_version(client, first.model_name, registry.CHAMPION) == "1"

    import mlflow

    model = mlflow.models.get_model_info(f"models:/{first.model_name}/1")
    assert model.signature is not None
    assert model.signature.inputs.input_names() == FEATURES
    assert model.saved_input_example_info is not None


def test_worse_model_stays_challenger(trained, settings):
    first, second = trained
    client = registry.client(settings)

    assert second.version == "2"
    assert not second.promoted
    assert second.auc < first.auc
    assert registry.alias_version(client, second.model_name, registry.CHAMPION) == "1"
    assert registry.alias_version(client, second.model_name, registry.CHALLENGER) == "2"
    decision = read_json(client, second.run_id, "promotion.json")
    assert decision["promoted"] is False and decision["previous_champion"] == "1"
    assert "does not beat" in decision["reason"]
    assert client.get_run(second.run_id).data.tags["promotion.promoted"] == "false"


def test_score_uses_champion_and_names_the_drivers(trained, settings, frame):
    booster, version, features = load_champion("credit_card", settings)
    assert booster.num_boosted_rounds() > 0
    assert version == "1" and features == FEATURES                 # v2 is only a challenger

    scored = score(frame, "credit_card", settings)
    assert list(scored.columns) == OUTPUT_COLUMNS
    assert len(scored) == len(frame)
    assert scored["customer_id"].tolist() == frame["customer_id"].tolist()
    assert (scored["product"] == "credit_card").all()
    assert (scored["model_version"] == "1").all()
    assert scored["probability"].between(0, 1).all()
    assert scored["reason"].map(lambda r: isinstance(r, str) and r != "").all()

    top = scored.nlargest(25, "probability")
    driver_words = [describe(f) for f in DRIVERS]
    for reason in top["reason"]:
        assert any(words in reason for words in driver_words), reason
        assert reason.count(";") <= 1                                  # top_reasons=2
    # higher scores for customers with the driving behaviour
    assert frame.loc[top.index, "card_spend_30d"].median() > frame["card_spend_30d"].median()

    one = score(frame.head(1), "credit_card", settings, top_reasons=1)
    assert ";" not in one["reason"].iloc[0]


def test_promotion_margin_and_ties(frame, settings):
    first = train_propensity(frame, "savings", "label", FEATURES, settings, AS_OF)
    tie = train_propensity(frame, "savings", "label", FEATURES, settings, AS_OF)   # same data, same seed
    assert first.promoted and not tie.promoted                     # a tie never replaces the champion
    client = registry.client(settings)
    name = model_name("savings")

    small_gain = registry.promote(client, name, tie.version, first.auc + 0.01, margin=0.05)
    assert not small_gain.promoted
    assert registry.alias_version(client, name, registry.CHAMPION) == first.version
    big_gain = registry.promote(client, name, tie.version, first.auc + 0.06, margin=0.05)
    assert big_gain.promoted and big_gain.previous_champion == first.version
    assert registry.alias_version(client, name, registry.CHAMPION) == tie.version
    with pytest.raises(ValueError, match="margin"):
        registry.promote(client, name, tie.version, 0.9, margin=-0.1)


@pytest.mark.parametrize(
    "mutate, features, message",
    [
        (lambda f: f.iloc[0:0], FEATURES, "empty"),
        (lambda f: f.assign(label=f["label"].replace(1, 2)), FEATURES, "must be 0/1"),
        (lambda f: f.assign(label=f["label"].astype(float).where(f.index > 0)), FEATURES, "null"),
        (lambda f: f.drop(columns=["payroll_30d"]), FEATURES, "missing from the frame: payroll_30d"),
        (lambda f: f.assign(age=f["age"].astype(str)), FEATURES, r"must be numeric: age \(object\)"),
        (lambda f: f.assign(label=(f.index < 3).astype(int)), FEATURES, "at least 5 positives.*got 3 positive"),
        (lambda f: f.assign(label=(f.index >= 2).astype(int)), FEATURES, "got .* and 2 negative"),
        (lambda f: f.drop(columns=["label"]), FEATURES, "label column 'label' missing"),
        (lambda f: f.assign(age=np.inf), FEATURES, "infinite values: age"),
        (lambda f: f, [], "no features"),
        (lambda f: f, ["age", "age"], "more than once: age"),
        (lambda f: f, ["age", "label"], "'label' cannot be a feature"),
    ],
)
def test_bad_training_input_is_a_clear_value_error(frame, tmp_path, mutate, features, message):
    settings = Settings(home=tmp_path)
    with pytest.raises(ValueError, match=message):
        train_propensity(mutate(frame.copy()), "credit_card", "label", features, settings, AS_OF)
    assert not (tmp_path / "mlflow").exists()        # rejected before touching the tracking store


def test_bad_product_name():
    with pytest.raises(ValueError, match="lowercase identifier"):
        model_name("Credit Card")


def test_scoring_errors_and_empty_frame(trained, frame, settings):
    with pytest.raises(LookupError, match="no champion model for 'mortgage'"):
        score(frame, "mortgage", settings)
    with pytest.raises(ValueError, match="missing from the frame: card_spend_30d"):
        score(frame.drop(columns=["card_spend_30d"]), "credit_card", settings)
    with pytest.raises(ValueError, match="no 'customer_id' column"):
        score(frame.drop(columns=["customer_id"]), "credit_card", settings)
    with pytest.raises(ValueError, match="top_reasons"):
        score(frame, "credit_card", settings, top_reasons=0)
    empty = score(frame.iloc[0:0], "credit_card", settings)
    assert list(empty.columns) == OUTPUT_COLUMNS and empty.empty


def test_decimal_features_from_spark_are_numeric():
    frame = pd.DataFrame({"total_balance": [decimal.Decimal("12.50"), None, decimal.Decimal(3)]})
    matrix = feature_matrix(frame, ["total_balance"])
    assert matrix["total_balance"].dtype == "float64"
    assert matrix["total_balance"].isna().tolist() == [False, True, False]


def test_reason_wording():
    assert reason_text("card_spend_30d", 1234.4, 500.0) == "high card spend in the last 30 days (1,234)"
    assert reason_text("deposit_balance", 20.0, 800.0) == "low deposit balance (20)"
    assert reason_text("card_spend_30d", 0.0, 0.0) == "no card spend in the last 30 days"
    assert reason_text("has_credit_card", 1.0, 0.0) == "holds a credit card"
    assert reason_text("has_mortgage", 0.0, 0.0) == "has no mortgage"
    assert reason_text("credit_utilization", 0.87, 0.3) == "high credit utilization (87%)"
    assert reason_text("spend_dining_30d", 300.0, 100.0) == "high spending on dining in the last 30 days (300)"
    assert reason_text("spend_pets_30d", 300.0, 100.0) == "high spending on pets in the last 30 days (300)"
    assert reason_text("mystery_score", 1.5, 0.5) == "high mystery score (1.5)"          # fallback
    assert reason_text("age", float("nan"), 40.0) == "age not known"
    assert reason_text("max_days_past_due", 45.0, 0.0) == "recent late payments (45 days)"
    assert NO_STANDOUT
