"""A bring-your-own table's trainer without the tracking store: the cross-validated search (deterministic given
the seed, bounded by its time budget, the chosen settings those of its best trial), the class weight taken
back out of the probabilities, the test rows (a separate test table, or a stratified held-out share) and the
refit on every training row, and bad input refused with a clear error before MLflow is touched. (The command
end to end, logged and scored: tests/integration/test_models.py.)"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn.metrics import roc_auc_score

from jobs.models import search
from jobs.models.train import HOLDOUT, XGB_PARAMS, ModelSpec, fit_table, train_table
from jobs.settings import Settings

pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning")


def table(n: int = 600, seed: int = 1, base: float = -1.5) -> pd.DataFrame:
    """A customer table: an id, two numbers that drive the label, a text column and a noise column."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"account_ref": [f"A{seed}-{i:05d}" for i in range(n)], "balance": rng.normal(0, 1, n),
                          "tenure": rng.normal(0, 1, n), "segment": rng.choice(["gold", "silver"], n),
                          "noise": rng.normal(0, 1, n)})
    logit = 1.4 * frame["balance"] - 1.0 * frame["tenure"] + 0.8 * (frame["segment"] == "gold") + base
    frame["churned"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype("int64")
    return frame


SPEC = ModelSpec(name="churn_byo", label="churned", id_columns=("account_ref",))


@pytest.fixture
def quick(monkeypatch):
    """Fewer boosting rounds: what these tests check does not need a full-length search (make unit stays fast)."""
    monkeypatch.setattr(search, "MAX_ROUNDS", 60)
    monkeypatch.setattr(search, "EARLY_STOPPING_ROUNDS", 10)


def matrix(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[["balance", "tenure", "noise"]]


# -- the search ---------------------------------------------------------------------------------------

def test_candidates_start_with_the_daily_settings_then_distinct_draws_from_the_space():
    drawn = search.candidates(seed=3, count=12, weights=[1.0, 3.0, 9.0])
    assert drawn[0] == search.FIRST and len(drawn) == 12
    assert len({tuple(sorted(d.items())) for d in drawn}) == 12                        # no candidate twice
    for d in drawn[1:]:
        assert all(d[k] in values for k, values in search.SPACE.items()) and d["scale_pos_weight"] in (1.0, 3.0, 9.0)
    assert search.candidates(seed=3, count=12, weights=[1.0, 3.0, 9.0]) == drawn       # the seed fixes the order
    assert search.candidates(seed=4, count=12, weights=[1.0, 3.0, 9.0]) != drawn


def test_the_first_candidate_is_the_daily_models_trees_and_regularization_at_the_finer_learning_rate():
    first = {**search.BASE, **search.FIRST}
    shared = {k: v for k, v in XGB_PARAMS.items() if k not in ("eval_metric", "eta")}
    assert {k: first[k] for k in shared} == shared
    assert first["eta"] == 0.05 < XGB_PARAMS["eta"] and first["scale_pos_weight"] == 1.0


def test_class_weights_offer_the_ratio_only_when_positives_are_the_minority():
    assert search.class_weights(np.array([1] * 10 + [0] * 90)) == [1.0, 3.0, 9.0]
    assert search.class_weights(np.array([1, 0, 1, 0])) == [1.0]
    weighted = search.class_weights(np.array([1, 0]), w=np.array([1.0, 4.0]))   # the weights count, not the rows
    assert weighted == [1.0, 2.0, 4.0]


def test_the_search_is_deterministic_given_the_seed_and_returns_its_best_trial(quick):
    frame = table(400)
    y = frame["churned"].to_numpy()
    first = search.search(matrix(frame), y, seed=5, time_budget=600, max_trials=3)
    again = search.search(matrix(frame), y, seed=5, time_budget=600, max_trials=3)
    assert len(first.trials) == 3 and first.planned == 3
    assert [t.cv_auc for t in first.trials] == [t.cv_auc for t in again.trials]
    assert first.params == again.params and first.rounds == again.rounds
    best = max(first.trials, key=lambda t: t.cv_auc)
    assert first.cv_auc == best.cv_auc and first.rounds == best.rounds
    assert {k: first.params[k] for k in best.params} == best.params and first.params["seed"] == 5
    assert first.params["objective"] == "binary:logistic" and 0.7 < first.cv_auc < 1.0
    assert first.folds == search.FOLDS and all(1 <= t.rounds <= 60 for t in first.trials)


def test_the_search_stops_at_its_time_budget():
    """A budget far below what the candidates need: the first one is cut at the budget, no other starts."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(0, 1, (4000, 8)), columns=[f"x{i}" for i in range(8)])
    y = (rng.random(4000) < 1 / (1 + np.exp(-np.sin(3 * X["x0"]) * 2 - X["x1"] * X["x2"]))).astype("int64")
    found = search.search(X, y.to_numpy(), seed=0, time_budget=0.1, max_trials=40)
    assert len(found.trials) < found.planned == 40
    assert found.seconds < 0.1 + 2.0                       # at most one round past the budget, and the set-up
    assert found.trials[0].cut_by_budget and found.rounds >= 1
    with pytest.raises(ValueError, match="time budget must be a positive number"):
        search.search(X, y.to_numpy(), time_budget=0)


def test_a_class_weight_is_taken_back_out_of_the_probabilities():
    rng = np.random.default_rng(2)
    X = rng.normal(0, 1, (3000, 3))
    y = (rng.random(3000) < 1 / (1 + np.exp(-(1.5 * X[:, 0] - 2.5)))).astype("int64")
    d = xgb.DMatrix(X, label=y)
    weighted = xgb.train({"objective": "binary:logistic", "scale_pos_weight": 9.0, "max_depth": 2, "seed": 0,
                          "nthread": 1}, d, 30)
    corrected = search.undo_class_weight(weighted, 9.0)
    assert weighted.predict(d).mean() > 2 * y.mean()                          # the weight inflates every probability
    assert corrected.predict(d).mean() == pytest.approx(y.mean(), abs=0.02)  # the population's again
    shift = weighted.predict(d, output_margin=True) - corrected.predict(d, output_margin=True)
    assert np.allclose(shift, np.log(9.0), atol=1e-4)                        # the same ranking: one odds factor
    assert search.undo_class_weight(weighted, 1.0) is weighted


# -- the test rows and the refit ------------------------------------------------------------------------

@pytest.fixture
def fitted_rows(monkeypatch, quick):
    """The number of rows of every DMatrix xgboost.train fits on (the search's folds go through xgboost.cv)."""
    rows = []
    real = xgb.train

    def recording(params, dtrain, *args, **kwargs):
        rows.append(dtrain.num_row())
        return real(params, dtrain, *args, **kwargs)

    monkeypatch.setattr(xgb, "train", recording)
    return rows


def test_a_test_table_is_the_test_and_every_row_of_the_table_is_fit(fitted_rows):
    train, test = table(600, seed=1), table(300, seed=2)
    fitted, found = fit_table(train, SPEC, seed=0, test_frame=test, time_budget=60, max_trials=2)
    assert fitted_rows == [600]                                # one refit, on every labelled row of the table
    assert fitted.split["split"] == "test_table" and fitted.split["n_fit"] == 600 and fitted.split["n_test"] == 300
    assert fitted.test_rows is test and fitted.y_test.tolist() == test["churned"].tolist()
    assert fitted.X_test["balance"].tolist() == test["balance"].tolist()   # the test table's rows are scored
    p = fitted.booster.predict(xgb.DMatrix(fitted.X_test, feature_names=fitted.features))
    assert roc_auc_score(test["churned"], p) > 0.75
    flipped, _ = fit_table(train, SPEC, seed=0, test_frame=test.assign(churned=1 - test["churned"]),
                           time_budget=60, max_trials=2)
    p = flipped.booster.predict(xgb.DMatrix(flipped.X_test, feature_names=flipped.features))
    assert roc_auc_score(flipped.y_test, p) < 0.25             # labels read from the test table, not the training one
    assert fitted.best_iteration == found.rounds - 1 and fitted.valid_auc == found.cv_auc
    assert "account_ref" not in fitted.features and "churned" not in fitted.features


def test_without_a_test_table_a_stratified_share_is_held_out_and_the_rest_is_fit(fitted_rows):
    frame = table(1000)
    fitted, _ = fit_table(frame, SPEC, seed=0, time_budget=60, max_trials=1)
    n_test = round(HOLDOUT * 1000)
    assert fitted.split["split"] == "stratified_holdout" and fitted.split["n_test"] == n_test
    assert fitted_rows == [1000 - n_test] and fitted.split["n_fit"] == 1000 - n_test
    held = set(fitted.test_rows["account_ref"])
    assert len(held) == n_test and fitted.X_fit.index.intersection(fitted.test_rows.index).empty
    rate = frame["churned"].mean()
    assert fitted.y_test.mean() == pytest.approx(rate, abs=0.01)     # stratified: the same positive rate
    again, _ = fit_table(frame, SPEC, seed=0, time_budget=60, max_trials=1)
    assert set(again.test_rows["account_ref"]) == held               # seeded: the same rows every time


def test_with_a_time_column_the_latest_time_is_the_test_and_not_a_feature(fitted_rows):
    frame = table(900).assign(as_of=np.repeat(pd.to_datetime(["2026-01-31", "2026-02-28", "2026-03-31"]), 300))
    fitted, _ = fit_table(frame, ModelSpec(name="churn_byo", label="churned", id_columns=("account_ref",),
                                           time_column="as_of"), time_budget=60, max_trials=1)
    assert fitted.split["split"] == "out_of_time" and fitted.split["test_time"] == "2026-03-31"
    assert fitted_rows == [600] and fitted.split["n_test"] == 300 and "as_of" not in fitted.features


# -- bad input: a clear error, before the tracking store ---------------------------------------------------

@pytest.mark.parametrize(
    "train, test, spec, message",
    [
        (table().drop(columns="churned"), None, SPEC, "label column 'churned' missing"),
        (table().assign(churned=lambda f: f["churned"] + 1), None, SPEC, "must be 0/1, found values 1, 2"),
        (table().assign(churned="yes"), None, SPEC, "must be 0/1"),
        (table(), table(200, 2).drop(columns="tenure"), SPEC, "training table's columns: missing tenure"),
        (table(), table(200, 2).assign(extra=1), SPEC, "not in the training table extra"),
        (table(), table(200, 2).assign(churned=0), SPEC, "test table: .* at least one positive and one negative"),
        (table(), table(200, 2).assign(churned=3), SPEC, "test table: label 'churned' must be 0/1"),
        (table(), table(200, 2).assign(balance="high"), SPEC, "balance must be numeric"),
        (table().assign(churned=0), table(200, 2), SPEC, "at least 5 positive"),
        (table().assign(churned=(np.arange(600) < 3).astype(int)), None, SPEC, "at least 5 positive"),
        (table().assign(day=pd.Timestamp("2026-01-31")), table(200, 2).assign(day=pd.Timestamp("2026-02-28")),
         ModelSpec(name="churn_byo", label="churned", time_column="day"), "give one of them"),
    ],
)
def test_bad_input_is_a_clear_error_before_mlflow(quick, tmp_path, train, test, spec, message):
    settings = Settings(home=tmp_path)
    with pytest.raises(ValueError, match=message):
        train_table(train, spec, settings, test_frame=test, time_budget=5, max_trials=1)
    assert not (tmp_path / "mlflow").exists()
