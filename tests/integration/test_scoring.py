"""The daily score step on the executors: `mapInPandas` over the day's gold.customer_360 gives the same rows
as the pandas kernel on the same data (probabilities to 1e-9, the same reasons), each worker loads a
champion once, and nothing the size of the customer base comes back to the driver."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import functions as F

from jobs.gold.customer_360 import MODEL_FEATURES
from jobs.gold.targets import TARGETS, target
from jobs.models import run
from jobs.models import score as scoring
from jobs.models.reasons import NO_STANDOUT
from jobs.models.train import ModelSpec, train_model
from jobs.settings import Settings
from jobs.tables import Lakehouse

pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning")

DAY = dt.date(2026, 6, 30)
TRAIN_DATES = [dt.date(2026, 2, 28), dt.date(2026, 3, 31), dt.date(2026, 4, 30), dt.date(2026, 5, 31)]
FEATURES = ("card_spend_30d", "payroll_30d", "tenure_days", "total_balance", "income_monthly", "has_savings")
SCORED = ("credit_card", "retirement")     # a product and a life event; the other targets have no model


def customers(n: int, seed: int, day: dt.date) -> pd.DataFrame:
    """n customers with every customer-360 feature; a few incomes unknown; some hold a card."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f: rng.lognormal(5.0, 1.0, n).round(2) for f in MODEL_FEATURES})
    for f in [f for f in MODEL_FEATURES if f.startswith(("has_", "had_"))]:
        frame[f] = rng.integers(0, 2, n)
    frame["has_credit_card"] = (rng.random(n) < 0.3).astype("int64")
    frame["had_retirement"] = 0
    frame["pension_30d"] = 0.0
    frame["age"] = rng.integers(18, 80, n)
    frame["tenure_days"] = rng.integers(30, 7000, n)
    frame.loc[rng.random(n) < 0.1, "income_monthly"] = np.nan
    frame.insert(0, "customer_id", [f"C{i:05d}" for i in range(n)])
    frame.insert(0, "as_of_date", day)
    return frame


def labelled(n: int = 500) -> pd.DataFrame:
    parts = [customers(n, seed=i, day=d) for i, d in enumerate(TRAIN_DATES)]
    frame = pd.concat(parts, ignore_index=True)
    rng = np.random.default_rng(11)
    logit = (1.5 * (np.log(frame["card_spend_30d"]) - 5.0) + 1.2 * (np.log(frame["payroll_30d"]) - 5.0)
             - 2.5 + rng.normal(0.0, 0.5, len(frame)))
    frame["label"] = (rng.random(len(frame)) < 1 / (1 + np.exp(-logit))).astype("int64")
    return frame


def write_c360(lh: Lakehouse, frame: pd.DataFrame, day: dt.date = DAY) -> None:
    df = lh.spark.createDataFrame(frame).withColumn("total_balance", F.col("total_balance").cast("decimal(18,2)"))
    lh.replace_for_date("gold.customer_360", df, day)


@pytest.fixture(scope="module")
def bank(spark, tmp_path_factory):
    """A lakehouse with 600 customers on DAY and a champion for credit_card and retirement."""
    settings = Settings(home=tmp_path_factory.mktemp("scoring_home"))
    lh = Lakehouse(spark, settings)
    write_c360(lh, customers(600, seed=99, day=DAY))
    training = labelled()
    for name in SCORED:
        t = target(name)
        spec = ModelSpec(name=t.model_name, label="label", experiment=t.experiment, time_column="as_of_date",
                         features=FEATURES, tags={"kind": t.kind, "target": t.name})
        assert train_model(training, spec, settings).promoted
    return lh


def by_key(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["target", "customer_id"]).reset_index(drop=True)


def test_scoring_on_the_executors_matches_the_pandas_kernel(bank, monkeypatch):
    from pyspark.sql.connect.dataframe import DataFrame

    pulled = []
    collect = DataFrame.collect

    def small_collect(self):       # a row to tell an empty day from a full one, never more
        rows = collect(self)
        pulled.append(len(rows))
        if len(rows) > 1:
            raise AssertionError(f"the score step collected {len(rows)} rows to the driver")
        return rows

    def no_to_pandas(self):
        raise AssertionError("the score step pulled a DataFrame to the driver with toPandas")

    with monkeypatch.context() as patched:
        patched.setattr(DataFrame, "collect", small_collect)
        patched.setattr(DataFrame, "toPandas", no_to_pandas)
        counts, details = run.score(bank, DAY)
    assert max(pulled, default=0) <= 1

    assert set(details["no_champion"]) == set(TARGETS) - set(SCORED)
    written = bank.read("gold.propensity_scores").where(F.col("as_of_date") == F.lit(DAY)).toPandas()
    assert counts["gold.propensity_scores"] == len(written)
    assert list(written.columns) == scoring.PROPENSITY_COLUMNS

    # The pandas path on the same rows: the day's customer-360 on the driver, through the same kernel.
    rows = run.scoring_rows(bank, DAY).toPandas()
    # Money (decimal in the lakehouse) reaches the kernel as floats, not one Decimal object per value.
    assert bank.read("gold.customer_360").schema["total_balance"].dataType.typeName() == "decimal"
    assert rows["total_balance"].dtype == "float64"
    assert [c for c in rows.columns if rows[c].dtype == object] == ["customer_id"]
    refs, _ = run.champions(bank)
    expected = scoring.score_targets(rows, DAY, refs)
    assert len(written) == len(expected) == rows["eligible_credit_card"].sum() + rows["eligible_retirement"].sum()
    assert set(written["target"]) == set(SCORED)

    got, want = by_key(written), by_key(expected)
    for column in ("as_of_date", "customer_id", "kind", "target", "model", "model_version", "reason_codes", "reason"):
        assert got[column].tolist() == want[column].tolist(), column
    np.testing.assert_allclose(got["probability"], want["probability"], rtol=0, atol=1e-9)

    # And `score`, the pandas function for any frame, on each target's eligible rows.
    for ref in refs:
        eligible = rows[rows[f"eligible_{ref.target}"]]
        alone = scoring.score(eligible, ref.model, bank.settings).sort_values("customer_id").reset_index(drop=True)
        mine = got[got["target"] == ref.target].reset_index(drop=True)
        assert mine["customer_id"].tolist() == alone["customer_id"].tolist()
        np.testing.assert_allclose(mine["probability"], alone["probability"], rtol=0, atol=1e-9)
        assert mine["reason"].tolist() == alone["reason"].tolist()
        assert mine["reason_codes"].tolist() == alone["reason_codes"].map(",".join).tolist()
    assert (got.loc[got["target"] == "credit_card", "reason"] != NO_STANDOUT).any()


def test_each_worker_loads_a_champion_once_for_all_its_batches(bank, monkeypatch):
    refs, _ = run.champions(bank)
    loads = []
    load = scoring._load_version

    def counting(uri, name, version):
        loads.append((name, version))
        return load(uri, name, version)

    monkeypatch.setattr(scoring, "_load_version", counting)
    monkeypatch.setattr(scoring, "_LOADED", {})
    rows = run.scoring_rows(bank, DAY).toPandas()
    batches = [rows.iloc[i:i + 100] for i in range(0, len(rows), 100)]
    kernel = scoring.scoring_function(DAY, refs)
    scored = pd.concat(list(kernel(iter(batches))), ignore_index=True)
    assert sorted(loads) == sorted((r.model, r.version) for r in refs)          # six batches, one load each
    whole = scoring.score_targets(rows, DAY, refs)
    np.testing.assert_allclose(by_key(scored)["probability"], by_key(whole)["probability"], rtol=0, atol=1e-9)
    assert by_key(scored)["reason"].tolist() == by_key(whole)["reason"].tolist()
    assert list(kernel(iter([rows.iloc[0:0]]))) == []


def test_without_champions_the_day_is_written_empty_and_every_target_says_why(spark, tmp_path):
    lh = Lakehouse(spark, Settings(home=tmp_path / "home"))
    before = DAY - dt.timedelta(days=1)
    write_c360(lh, customers(5, seed=1, day=before), before)
    with pytest.raises(ValueError, match="no rows for 2026-06-30"):
        run.score(lh, DAY)
    write_c360(lh, customers(5, seed=1, day=DAY))
    counts, details = run.score(lh, DAY)
    assert counts == {"gold.propensity_scores": 0, "quarantine.gold_propensity_scores": 0}   # validated, empty
    assert set(details["no_champion"]) == set(TARGETS)
    assert lh.read("gold.propensity_scores").columns == scoring.PROPENSITY_COLUMNS
