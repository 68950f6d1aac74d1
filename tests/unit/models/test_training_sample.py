"""Training rows are sampled in Spark before they reach pandas (issue 14): every positive, negatives sampled
deterministically to a cap with weight 1 / rate, and the weighted rows keep the model and its figures
those of the population."""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import pandas as pd
import pytest

from jobs.gold.targets import target
from jobs.models.evaluate import evaluate
from jobs.models.sample import HEX_DIGITS, WEIGHT_COLUMN, negative_rate, sample_training_rows, threshold_hex
from jobs.models.train import weighted_medians
from jobs.settings import Settings
from tests.paths import ROOT

pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning")

DATES = [dt.date(2026, 3, 31), dt.date(2026, 4, 30), dt.date(2026, 5, 31)]


def tiny_rows(customers: int = 500, seed: int = 3) -> pd.DataFrame:
    """Three as-of dates of `customers` customers; ~6% positives for credit_card; an ineligible share."""
    rng = np.random.default_rng(seed)
    n = customers * len(DATES)
    return pd.DataFrame({
        "as_of_date": np.repeat(DATES, customers),
        "customer_id": [f"C{i % customers:05d}" for i in range(n)],
        "age": rng.integers(18, 80, n).astype("int32"),
        "card_spend_30d": rng.lognormal(5, 1, n).round(2),
        "postcode": ["X"] * n,                                     # not a model column: never selected
        "eligible_credit_card": rng.random(n) < 0.9,
        "label_credit_card": (rng.random(n) < 0.06).astype("int32"),
    })


@pytest.fixture(scope="module")
def rows(spark):
    frame = tiny_rows()
    return frame, spark.createDataFrame(frame)


def kept_by_hash(frame: pd.DataFrame, seed: int, rate: float) -> set[tuple[str, str]]:
    """The negatives the sample must keep, computed here with hashlib: the rule, independent of any engine."""
    limit = threshold_hex(rate)
    keys = set()
    for cid, day, label in zip(frame["customer_id"], frame["as_of_date"], frame["label_credit_card"], strict=True):
        digest = hashlib.sha256(f"{seed}|{cid}|{day.isoformat()}".encode()).hexdigest()[:HEX_DIGITS]
        if label == 0 and digest < limit:
            keys.add((cid, str(day)))
    return keys


def collect(df) -> pd.DataFrame:
    return df.toPandas().sort_values(["as_of_date", "customer_id"]).reset_index(drop=True)


def test_the_sample_keeps_every_positive_caps_the_negatives_and_weights_them_back(rows):
    frame, df = rows
    positives, negatives = int(frame["label_credit_card"].sum()), int((frame["label_credit_card"] == 0).sum())
    sampled, sampling = sample_training_rows(df, "label_credit_card", seed=42, ratio=5, min_negatives=0,
                                             max_negatives=10_000)
    assert (sampling.positives, sampling.negatives) == (positives, negatives)
    assert sampling.negatives_wanted == 5 * positives
    assert sampling.negative_rate == pytest.approx(5 * positives / negatives)
    got = collect(sampled)
    assert list(got.columns) == [*df.columns, WEIGHT_COLUMN]
    # Every positive, with weight 1.
    pos = got[got["label_credit_card"] == 1]
    assert len(pos) == positives and (pos[WEIGHT_COLUMN] == 1.0).all()
    # Negatives: about the cap (a deterministic Bernoulli draw), each weighted 1 / rate, summing to about all of them.
    neg = got[got["label_credit_card"] == 0]
    assert abs(len(neg) - sampling.negatives_wanted) < 4 * np.sqrt(sampling.negatives_wanted)
    assert np.allclose(neg[WEIGHT_COLUMN], 1 / sampling.negative_rate)
    assert neg[WEIGHT_COLUMN].sum() == pytest.approx(negatives, rel=0.1)
    # The kept negatives are exactly those the SHA-256 rule names: no engine hash, no rand().
    kept = set(zip(neg["customer_id"], neg["as_of_date"].astype(str), strict=True))
    assert kept == kept_by_hash(frame, 42, sampling.negative_rate)
    # The same rows again; another seed, another sample of the same size.
    again = collect(sample_training_rows(df, "label_credit_card", seed=42, ratio=5, min_negatives=0,
                                         max_negatives=10_000)[0])
    pd.testing.assert_frame_equal(got, again)
    other = collect(sample_training_rows(df, "label_credit_card", seed=7, ratio=5, min_negatives=0,
                                         max_negatives=10_000)[0])
    assert set(other["customer_id"] + other["as_of_date"].astype(str)) != set(got["customer_id"]
                                                                                + got["as_of_date"].astype(str))


def test_the_caps_the_floor_and_no_sampling_when_there_are_few_negatives(rows):
    _, df = rows
    capped, sampling = sample_training_rows(df, "label_credit_card", seed=42, ratio=5, min_negatives=0,
                                            max_negatives=100)
    assert sampling.negatives_wanted == 100
    assert abs(int((capped.toPandas()["label_credit_card"] == 0).sum()) - 100) < 40
    _, floored = sample_training_rows(df, "label_credit_card", seed=42, ratio=1, min_negatives=500,
                                      max_negatives=10_000)
    assert floored.negatives_wanted == 500
    everything, whole = sample_training_rows(df, "label_credit_card", seed=42, ratio=100, min_negatives=0,
                                             max_negatives=100_000)
    assert whole.negative_rate == 1.0 and everything.count() == df.count()
    assert set(everything.toPandas()[WEIGHT_COLUMN]) == {1.0}
    assert negative_rate(10, 0, 5, 0, 100) == 1.0 and negative_rate(10, 1000, 5, 0, 100) == pytest.approx(0.05)


class SparkOnlyLakehouse:
    """A lakehouse whose gold.training_set is a Spark DataFrame; reading it with delta-rs fails the test."""

    def __init__(self, df, settings):
        self.df, self.settings = df, settings

    def exists(self, name):
        return name == "gold.training_set"

    def read(self, name):
        assert name == "gold.training_set"
        return self.df

    def delta_table(self, name):
        raise AssertionError("the training path read a table with delta-rs")


def test_training_rows_are_sampled_in_spark_with_the_model_columns_only(rows, tmp_path):
    from jobs.models.run import training_rows

    frame, df = rows
    settings = Settings(home=tmp_path, training_negative_ratio=5, training_min_negatives=0)
    t = target("credit_card")
    got, sampling = training_rows(SparkOnlyLakehouse(df, settings), t, ("age", "card_spend_30d"))
    assert list(got.columns) == ["as_of_date", "customer_id", "age", "card_spend_30d", t.label, WEIGHT_COLUMN]
    eligible = frame[frame["eligible_credit_card"]]
    assert sampling.positives == int(eligible[t.label].sum()) == int(got[t.label].sum())
    assert sampling.negatives_kept == int((got[t.label] == 0).sum()) < sampling.negatives
    assert got[["as_of_date", "customer_id"]].equals(got[["as_of_date", "customer_id"]]
                                                      .sort_values(["as_of_date", "customer_id"]))
    pd.testing.assert_frame_equal(got, training_rows(SparkOnlyLakehouse(df, settings), t, ("age", "card_spend_30d"))[0])
    assert {"sample_positives", "sample_negatives", "sample_negatives_kept", "sample_negative_rate",
            "sample_negative_weight"} <= set(sampling.params())


def test_nothing_in_the_training_path_reads_through_deltalake():
    for module in ("jobs/models/run.py", "jobs/models/train.py", "jobs/models/sample.py"):
        text = (ROOT / module).read_text()
        assert "deltalake" not in text and "delta_table" not in text, module


def test_settings_of_the_sample_from_the_environment(monkeypatch):
    monkeypatch.setenv("MARKETOFONE_TRAINING_NEGATIVE_RATIO", "10")
    monkeypatch.setenv("MARKETOFONE_TRAINING_MIN_NEGATIVES", "5000")
    monkeypatch.setenv("MARKETOFONE_TRAINING_MAX_NEGATIVES", "50000")
    s = Settings.from_env()
    assert (s.training_negative_ratio, s.training_min_negatives, s.training_max_negatives) == (10, 5000, 50000)
    monkeypatch.setenv("MARKETOFONE_TRAINING_MAX_NEGATIVES", "10")
    with pytest.raises(ValueError, match="MARKETOFONE_TRAINING_MIN_NEGATIVES"):
        Settings.from_env()


def test_weighted_figures_are_those_of_the_rows_the_weights_stand_for():
    rng = np.random.default_rng(1)
    y = (rng.random(400) < 0.2).astype(int)
    p = np.clip(0.2 * y + rng.random(400) * 0.6, 0, 1)
    w = rng.integers(1, 5, 400).astype(float)
    weighted, expanded = evaluate(y, p, w), evaluate(np.repeat(y, w.astype(int)), np.repeat(p, w.astype(int)))
    for figure in ("base_rate", "auc", "pr_auc", "brier"):
        assert getattr(weighted, figure) == pytest.approx(getattr(expanded, figure)), figure
    assert weighted.represented == w.sum() and weighted.n == 400
    assert weighted.lift_top_decile == pytest.approx(expanded.lift_top_decile, rel=0.05)
    assert sum(r["weight"] for r in weighted.reliability) == pytest.approx(w.sum())
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0, np.nan], "b": [np.nan] * 4})
    assert weighted_medians(X, np.array([1.0, 1.0, 5.0, 1.0])) == {"a": 3.0, "b": None}


def test_money_reaches_the_models_as_the_nearest_floats_and_the_rest_as_it_was(spark):
    """Training and scoring read decimals as float64 columns cast on the engine (not Decimal objects pandas
    converts one by one): each value the double nearest the decimal, the other columns untouched."""
    from decimal import Decimal

    from pyspark.sql.types import DecimalType

    from jobs.models.run import money_as_floats

    amounts = [Decimal("0.10"), Decimal("1234567.89"), Decimal("-0.07"), None]
    df = spark.createDataFrame(
        [("C1", amounts[0], 3), ("C2", amounts[1], 4), ("C3", amounts[2], 5), ("C4", amounts[3], 6)],
        "customer_id string, card_spend_30d decimal(18,2), age int")
    assert isinstance(df.schema["card_spend_30d"].dataType, DecimalType)
    frame = money_as_floats(df).toPandas()
    assert frame.columns.tolist() == ["customer_id", "card_spend_30d", "age"]
    assert frame["card_spend_30d"].dtype == "float64"
    assert frame["card_spend_30d"].tolist()[:3] == [float(a) for a in amounts[:3]]
    assert np.isnan(frame["card_spend_30d"].iloc[3])
    assert frame["age"].tolist() == [3, 4, 5, 6] and frame["customer_id"].tolist() == ["C1", "C2", "C3", "C4"]
