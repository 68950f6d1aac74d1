"""Models trained for real: out-of-time training + MLflow tracking, champion/challenger promotion on the same
test set, the floor a champion must clear, protected attributes never a credit offer's reason, any labelled
table (ids, text, dates), scoring with the champion's reason codes, and a bring-your-own table through the
train command (a separate test table or a held-out fifth, the search logged, the refit on every training row)."""

from __future__ import annotations

import decimal
import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from jobs.gold.customer_360 import MODEL_FEATURES
from jobs.gold.targets import target
from jobs.models import registry
from jobs.models.run import champion_status, spec_for
from jobs.models.score import load_champion, score
from jobs.models.train import ModelSpec, _pip_requirements, train_model
from jobs.settings import Settings
from tests.models_fixtures import DATES, DRIVERS, FEATURES, POLICY, allowing, make_frame, spec

# MLflow's SQLAlchemy store trips a SQLAlchemy deprecation on first use; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning")


def read_json(client, run_id: str, path: str) -> dict:
    with open(client.download_artifacts(run_id, path)) as handle:
        return json.load(handle)


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    return Settings(home=tmp_path_factory.mktemp("models_home"))


@pytest.fixture(scope="module")
def frame():
    return make_frame()


def fewer_training_rows(frame: pd.DataFrame, customers: int = 100) -> pd.DataFrame:
    """The same test rows (the latest date), but only `customers` customers at the earlier dates."""
    return frame[(frame["as_of_date"] == DATES[-1]) | (frame["customer_id"] < f"C{customers:05d}")]


@pytest.fixture(scope="module")
def trained(frame, settings):
    """A good model (v1), then a worse one for the same target (v2: the same features, learnt from an eighth
    of the training rows; still above the floor and its baseline)."""
    return train_model(frame, spec(), settings), train_model(fewer_training_rows(frame), spec(), settings)


def test_training_tests_out_of_time_logs_and_registers_the_first_as_champion(trained, settings, frame):
    first, _ = trained
    client = registry.client(settings)
    assert first.version == "1" and first.promoted and first.reason == "no champion yet"
    # The floor it cleared: the minimum AUC and a one-feature baseline chosen on the training rows.
    assert first.min_auc == settings.promotion_min_auc == 0.55
    assert first.baseline.feature in DRIVERS and 0.55 < first.baseline.auc < first.auc
    assert first.split["split"] == "out_of_time"
    assert first.split["test_time"] == "2026-04-30" and first.split["valid_time"] == "2026-03-31"
    assert first.split["train_times"] == ["2026-01-31", "2026-02-28"]
    assert first.split["n_test"] == (frame["as_of_date"] == DATES[-1]).sum()
    # Early stopping on the validation date, then fit again on train + validation (never the test date).
    assert first.split["fit_on"] == "train+valid"
    before_test = (frame["as_of_date"] < DATES[-1]).sum()
    assert first.split["n_fit"] == first.split["n_train"] + first.split["n_valid"] == before_test
    assert first.auc > 0.75, first.auc                      # the label is learnable
    assert 0 < first.test.pr_auc <= 1 and first.test.lift_top_decile > 2
    # Not re-weighted: the probabilities stay calibrated (mean prediction near the observed rate).
    mean_predicted = sum(r["mean_predicted"] * r["rows"] for r in first.test.reliability) / first.test.n
    assert abs(mean_predicted - first.test.base_rate) < 0.35 * first.test.base_rate

    run = client.get_run(first.run_id)
    assert client.get_experiment(run.info.experiment_id).name == "marketofone-propensity"
    assert run.info.artifact_uri.startswith(settings.mlflow_artifacts)
    for metric in ("auc", "pr_auc", "test_brier", "test_lift_top_decile", "valid_auc", "positives", "fit_seconds",
                   "baseline_auc"):
        assert metric in run.data.metrics, metric
    assert run.data.metrics["auc"] == pytest.approx(first.auc)
    assert float(run.data.params["max_delta_step"]) == 1.0 and "scale_pos_weight" not in run.data.params
    assert run.data.params["test_time"] == "2026-04-30" and float(run.data.params["promotion_min_auc"]) == 0.55
    # No pip environment inference (a minute per model): the requirements are the pinned ones given.
    requirements = mlflow.pyfunc.get_model_dependencies(f"models:/{first.name}/{first.version}")
    assert Path(requirements).read_text().split() == _pip_requirements()
    assert run.data.tags["target"] == "credit_card" and run.data.tags["promotion.promoted"] == "true"

    artifacts = {a.path for a in client.list_artifacts(first.run_id)}
    artifacts |= {a.path for a in client.list_artifacts(first.run_id, "importance")}
    assert {"features.json", "evaluation.json", "promotion.json", "importance/gain.json",
            "importance/gain.png"} <= artifacts
    assert read_json(client, first.run_id, "features.json")["features"] == FEATURES
    evaluation = read_json(client, first.run_id, "evaluation.json")
    assert len(evaluation["test"]["reliability"]) == 10
    assert evaluation["baseline"]["feature"] == first.baseline.feature
    importance = read_json(client, first.run_id, "importance/gain.json")["features"]
    assert {row["feature"] for row in importance[:2]} == set(DRIVERS)    # gain finds the drivers

    model = mlflow.models.get_model_info("models:/propensity_credit_card/1")
    assert model.signature.inputs.input_names() == FEATURES and model.saved_input_example_info is not None
    assert registry.alias_version(client, first.name, registry.CHAMPION) == "1"
    assert registry.alias_version(client, first.name, registry.CHALLENGER) == "2"    # v2 lost; never both on v1


def test_with_two_times_only_the_model_is_never_fit_on_the_test_rows(frame, settings):
    # Early stopping and the test share the later time, so nothing is fit again on it.
    result = train_model(frame[frame["as_of_date"] >= DATES[2]], spec(name="two_times_only"), settings)
    assert result.split["valid_time"] == result.split["test_time"] == "2026-04-30"
    assert result.split["fit_on"] == "train" and result.split["n_fit"] == result.split["n_train"]


def test_a_worse_model_stays_challenger_compared_on_the_same_test_set(trained, settings):
    first, second = trained
    client = registry.client(settings)
    assert second.version == "2" and not second.promoted
    assert second.baseline.auc < second.auc < first.auc      # clears the floor, loses to the champion
    assert second.champion_test_auc == pytest.approx(first.auc)  # v1 re-scored on v2's test rows
    assert registry.alias_version(client, second.name, registry.CHAMPION) == "1"
    assert registry.alias_version(client, second.name, registry.CHALLENGER) == "2"
    decision = read_json(client, second.run_id, "promotion.json")
    assert decision["promoted"] is False and decision["previous_champion"] == "1"
    assert "does not beat" in decision["reason"] and "same test set" in decision["reason"]


def test_promotion_margin_and_ties(frame, settings):
    name = "propensity_savings"
    first = train_model(frame, spec(name), settings)
    tie = train_model(frame, spec(name), settings)   # same data, same seed
    assert first.promoted and not tie.promoted       # a tie never replaces the champion
    client = registry.client(settings)
    small_gain = registry.promote(client, name, tie.version, first.auc + 0.01, margin=0.05, champion_auc=first.auc)
    assert not small_gain.promoted
    big_gain = registry.promote(client, name, tie.version, first.auc + 0.06, margin=0.05, champion_auc=first.auc)
    assert big_gain.promoted and big_gain.previous_champion == first.version
    assert registry.alias_version(client, name, registry.CHAMPION) == tie.version
    with pytest.raises(ValueError, match="margin"):
        registry.promote(client, name, tie.version, 0.9, margin=-0.1)


# -- the floor: better than chance and than a one-feature baseline, on the same test set ----------------

def reversed_at_the_test_date(frame: pd.DataFrame) -> pd.DataFrame:
    """The drivers mirrored (x -> e^(2 * mean log) / x) at the latest date only: what the model learnt ranks
    that month's customers backwards, an AUC far below 0.5 (like the demo's mortgage model at 0.443)."""
    out = frame.copy()
    test = out["as_of_date"] == DATES[-1]
    out.loc[test, "card_spend_30d"] = np.exp(12.0) / out.loc[test, "card_spend_30d"]
    out.loc[test, "payroll_30d"] = np.exp(15.0) / out.loc[test, "payroll_30d"]
    return out


def test_a_model_below_the_floor_is_registered_but_never_champion(frame, settings):
    result = train_model(reversed_at_the_test_date(frame), spec("below_floor"), settings)
    client = registry.client(settings)
    assert result.auc < 0.5 and not result.promoted and result.champion is None
    assert result.reason == f"AUC {result.auc:.3f} is below the floor 0.55"
    assert client.get_model_version("below_floor", "1").tags["promotion"] == result.reason   # registered
    assert registry.alias_version(client, "below_floor", registry.CHAMPION) is None
    assert registry.alias_version(client, "below_floor", registry.CHALLENGER) == "1"
    decision = read_json(client, result.run_id, "promotion.json")
    assert decision["promoted"] is False and decision["champion"] is None and decision["min_auc"] == 0.55
    with pytest.raises(LookupError, match="no champion model below_floor"):
        score(frame.head(5), "below_floor", settings)


def test_a_champion_that_falls_below_the_floor_on_the_newest_test_set_is_retired(frame, settings):
    good = train_model(frame, spec("retired_champion"), settings)
    assert good.promoted
    worse = train_model(reversed_at_the_test_date(frame), spec("retired_champion"), settings)
    client = registry.client(settings)
    assert not worse.promoted and worse.champion is None and worse.champion_test_auc < 0.5
    assert "champion v1 falls short too" in worse.reason and "no champion now" in worse.reason
    assert registry.alias_version(client, "retired_champion", registry.CHAMPION) is None
    assert "below the floor" in client.get_model_version("retired_champion", "1").tags["retired"]


def test_a_model_must_beat_the_baseline_on_the_same_test_set(frame, settings):
    name = "baseline_check"
    held_back = train_model(fewer_training_rows(frame), spec(name), settings, min_auc=0.99)   # a floor it misses
    assert not held_back.promoted and held_back.reason.endswith("is below the floor 0.99")
    client = registry.client(settings)
    floor = registry.Floor(0.55, 0.81, "ranking by card_spend_30d alone, highest first")
    lost = registry.promote(client, name, held_back.version, 0.80, floor=floor)
    assert not lost.promoted and lost.reason == (
        "AUC 0.800 does not beat the baseline's 0.810 (ranking by card_spend_30d alone, highest first)")
    assert registry.alias_version(client, name, registry.CHAMPION) is None
    won = registry.promote(client, name, held_back.version, 0.82, floor=floor)
    assert won.promoted and won.reason == "no champion yet" and won.baseline_auc == 0.81
    # The version that became champion is no longer the challenger: one version never holds both aliases.
    assert registry.alias_version(client, name, registry.CHAMPION) == held_back.version
    assert registry.alias_version(client, name, registry.CHALLENGER) is None


# -- protected attributes: not a credit model's features, so never a credit offer's reasons --------------

def age_driven_frame(n: int = 700, seed: int = 5) -> pd.DataFrame:
    """Every customer-360 feature (noise), with a label driven by age as much as by card spend and salary."""
    rng = np.random.default_rng(seed)
    size = n * len(DATES)
    frame = pd.DataFrame(rng.normal(size=(size, len(MODEL_FEATURES))), columns=MODEL_FEATURES)
    frame.insert(0, "as_of_date", np.repeat(DATES, n))
    frame.insert(1, "customer_id", [f"C{i % n:05d}" for i in range(size)])
    frame["age"] = rng.integers(18, 85, size)
    frame["card_spend_30d"] = rng.lognormal(6.0, 1.0, size).round(2)
    frame["payroll_30d"] = rng.lognormal(7.5, 0.8, size).round(2)
    logit = (0.07 * (frame["age"] - 50) + 1.2 * (np.log(frame["card_spend_30d"]) - 6.0)
             + 1.2 * (np.log(frame["payroll_30d"]) - 7.5) / 0.8 - 3.0)
    frame["label_personal_loan"] = (rng.random(size) < 1 / (1 + np.exp(-logit))).astype("int64")
    return frame


def test_a_credit_offer_never_gives_a_protected_attribute_as_its_reason(tmp_path):
    loans = age_driven_frame()
    oldest = loans[loans["as_of_date"] == DATES[-1]].nlargest(40, "age")
    t = target("personal_loan")

    shipped = Settings(home=tmp_path / "shipped")
    model = train_model(loans, spec_for(t, POLICY), shipped)
    assert model.promoted and "age" not in model.features
    scored = score(oldest, t.model_name, shipped)
    assert not any("age" in codes for codes in scored["reason_codes"])
    assert not scored["reason"].str.contains("older than most|younger than most|marriage").any()
    assert champion_status(registry.client(shipped), t, shipped, POLICY)[0] == model.version

    # The same data with age allowed for personal loans: age is the reason for the oldest customers. Under
    # the shipped policy that champion may not score: the product goes without a model until retrained.
    allowed = Settings(home=tmp_path / "allowed")
    with_age = train_model(loans, spec_for(t, allowing("personal_loan", "age")), allowed)
    assert with_age.promoted and "age" in with_age.features
    scored = score(oldest, t.model_name, allowed)
    assert scored["reason"].str.contains("older than most customers").any()
    version, why = champion_status(registry.client(allowed), t, allowed, POLICY)
    assert version is None and "uses age" in why and "does not allow for personal_loan" in why
    assert champion_status(registry.client(allowed), t, allowed, allowing("personal_loan", "age"))[0] == "1"


def test_score_uses_the_champion_and_gives_reason_codes(trained, settings, frame):
    booster, version, plan = load_champion("propensity_credit_card", settings)
    assert version == "1" and plan.features == FEATURES     # v2 is only a challenger
    rows = frame[frame["as_of_date"] == DATES[-1]].head(200)
    scored = score(rows, "propensity_credit_card", settings)
    assert scored["customer_id"].tolist() == rows["customer_id"].tolist()
    assert (scored["model_version"] == "1").all() and scored["probability"].between(0, 1).all()
    top = scored.sort_values("probability").iloc[-1]
    assert set(top["reason_codes"]) <= set(FEATURES) and top["reason_codes"][0] in DRIVERS
    assert "card spend" in top["reason"] or "salary" in top["reason"]
    with pytest.raises(LookupError, match="no champion model propensity_mortgage"):
        score(rows, "propensity_mortgage", settings)
    with pytest.raises(ValueError, match="missing: card_spend_30d"):
        score(rows.drop(columns=["card_spend_30d"]), "propensity_credit_card", settings)
    with pytest.raises(ValueError, match="no 'customer_id' column"):
        score(rows.drop(columns=["customer_id"]), "propensity_credit_card", settings)
    assert score(rows.iloc[0:0], "propensity_credit_card", settings).empty


def test_any_labelled_table_trains_with_ids_text_dates_and_flags(settings):
    """A bank's own table: an id, a text column, a date, a flag; no time column (random split)."""
    rng = np.random.default_rng(3)
    n = 1500
    segment = rng.choice(["gold", "silver", "bronze"], n)
    table = pd.DataFrame({
        "account_ref": [f"X{i:06d}" for i in range(n)],
        "segment": segment,
        "opened": pd.to_datetime("2020-01-01") + pd.to_timedelta(rng.integers(0, 2000, n), unit="D"),
        "vip": rng.random(n) < 0.2,
        "balance": [decimal.Decimal(str(round(v, 2))) for v in rng.lognormal(7, 1, n)],
    })
    logit = 1.5 * (segment == "gold") + 1.2 * table["vip"] - 2.5
    table["churned"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    result = train_model(table, ModelSpec(name="churn_custom", label="churned", id_columns=()), settings)
    assert result.split["split"] == "stratified_random" and result.auc > 0.6
    assert result.split["fit_on"] == "train+valid" and result.split["n_fit"] == round(0.8 * n)
    assert "account_ref" not in result.features                      # looks like an id: left out
    assert {"segment=gold", "segment=silver", "opened", "vip", "balance"} <= set(result.features)
    new = table.head(3).assign(segment=["platinum", "gold", "silver"])  # an unseen value is "none of them"
    scored = score(new, "churn_custom", settings, id_columns=("account_ref",))
    assert scored["account_ref"].tolist() == new["account_ref"].tolist() and scored["probability"].between(0, 1).all()


def test_a_model_remembers_its_id_columns_so_scoring_needs_them_not_again(settings):
    rng = np.random.default_rng(5)
    n = 800
    table = pd.DataFrame({"branch": rng.choice(["N", "S"], n), "account_ref": [f"A{i:05d}" for i in range(n)],
                          "balance": rng.normal(0, 1, n), "tenure": rng.normal(0, 1, n)})
    logit = 1.5 * table["balance"] - 1.5 * table["tenure"] - 1.0
    table["churned"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    train_model(table, ModelSpec(name="churn_ids", label="churned", id_columns=("branch", "account_ref")), settings)
    scored = score(table.head(4), "churn_ids", settings)
    assert list(scored.columns[:2]) == ["branch", "account_ref"]
    assert scored["account_ref"].tolist() == table["account_ref"].head(4).tolist()
    assert "branch" not in load_champion("churn_ids", settings)[2].features   # an id is never a feature
    alone = score(table.head(4), "churn_ids", settings, id_columns=("account_ref",))   # unless told otherwise
    assert list(alone.columns[:2]) == ["account_ref", "model"]



# -- a bring-your-own table through the command: search, refit, a separate test table ------------------------

def byo_table(n: int, seed: int) -> pd.DataFrame:
    """A bank's own churn table: an account id, numbers and a text column that drive the label, noise."""
    rng = np.random.default_rng(seed)
    table = pd.DataFrame({"account_ref": [f"R{seed}-{i:05d}" for i in range(n)], "balance": rng.normal(0, 1, n),
                          "tenure": rng.normal(0, 1, n), "segment": rng.choice(["gold", "silver", "bronze"], n),
                          "noise": rng.normal(0, 1, n)})
    logit = 1.3 * table["balance"] - 1.1 * table["tenure"] + 0.9 * (table["segment"] == "gold") - 1.6
    table["churned"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return table


def test_the_train_command_tests_on_the_test_table_after_a_refit_on_every_row(tmp_path, monkeypatch, capsys):
    from sklearn.metrics import roc_auc_score

    from jobs.cli import main

    monkeypatch.setenv("MARKETOFONE_HOME", str(tmp_path / "home"))
    train, test = byo_table(1200, seed=11), byo_table(500, seed=12)
    train.to_csv(tmp_path / "train.csv", index=False)
    test.to_csv(tmp_path / "test.csv", index=False)
    assert main(["train", "--table", str(tmp_path / "train.csv"), "--test-table", str(tmp_path / "test.csv"),
                 "--target", "churned", "--name", "churn_byo", "--id-columns", "account_ref",
                 "--time-budget", "30", "--max-trials", "3"]) == 0
    said = capsys.readouterr()
    settings = Settings.from_env()
    scored = score(test, "churn_byo", settings)            # no id columns given: the model remembers account_ref
    assert scored["account_ref"].tolist() == test["account_ref"].tolist()
    test_auc = roc_auc_score(test["churned"], scored["probability"])
    # The AUC printed is the test file's rows' as the registered model scores them (the training rows' is higher).
    assert f"test AUC {test_auc:.4f} on 500 rows of the test table" in said.out
    assert f"every row of {tmp_path / 'test.csv'}" in said.out and "refit on all 1200 training rows" in said.out
    assert "search 1/3" in said.err and "search 3/3" in said.err       # progress, one line per candidate
    client = registry.client(settings)
    run = client.get_run(client.get_model_version("churn_byo", "1").run_id)
    assert run.data.params["split"] == "test_table" and run.data.params["n_fit"] == "1200"
    assert run.data.params["n_test"] == "500" and run.data.params["search_tried"] == "3"
    searched = read_json(client, run.info.run_id, "search.json")
    best = max(searched["trials"], key=lambda t: t["cv_auc"])
    assert run.data.metrics["cv_auc"] == pytest.approx(best["cv_auc"]) and 0.7 < best["cv_auc"] < 1
    assert {k: run.data.params[k] for k in ("max_depth", "eta", "min_child_weight", "colsample_bytree",
                                           "scale_pos_weight")} == {k: str(best["params"][k]) for k in (
        "max_depth", "eta", "min_child_weight", "colsample_bytree", "scale_pos_weight")}
    assert run.data.params["num_boost_round"] == str(best["rounds"])
    assert run.data.metrics["test_n"] == 500 and run.data.metrics["auc"] == pytest.approx(test_auc, abs=1e-6)


def test_the_train_command_holds_out_a_stratified_fifth_without_a_test_table(tmp_path, monkeypatch, capsys):
    from jobs.cli import main

    monkeypatch.setenv("MARKETOFONE_HOME", str(tmp_path / "home"))
    byo_table(1000, seed=13).to_csv(tmp_path / "table.csv", index=False)
    assert main(["train", "--table", str(tmp_path / "table.csv"), "--label", "churned", "--name", "churn_holdout",
                 "--time-budget", "20", "--max-trials", "2"]) == 0
    said = capsys.readouterr().out
    assert "20% of" in said and "held out, stratified and seeded" in said and "on 200 rows of 20% of the table" in said
    assert "refit on all 800 training rows" in said
    wrong = tmp_path / "other.csv"
    byo_table(200, seed=14).drop(columns="noise").to_csv(wrong, index=False)
    assert main(["train", "--table", str(tmp_path / "table.csv"), "--test-table", str(wrong), "--target", "churned",
                 "--name", "churn_holdout"]) == 2
    assert "the test table must have the training table's columns: missing noise" in capsys.readouterr().err
