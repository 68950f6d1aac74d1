"""Feature contributions computed per way through a tree (jobs/models/contributions.py) are XGBoost's own
TreeSHAP values: for every depth the tables cover, with missing values sent either way, a feature tested twice on
one path, and trees of a single leaf; deeper trees are left to XGBoost."""

from __future__ import annotations

import gc

import numpy as np
import pytest
import xgboost as xgb

from jobs.models import contributions
from jobs.models.contributions import TABLE_DEPTH, TreeExplainer, explainer_of
from jobs.models.train import XGB_PARAMS


def _rows(rows: int = 1500, features: int = 12, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, features)).astype(np.float32)
    X[:, 0] = np.round(X[:, 0] * 2)                         # a discrete feature: many rows on a threshold
    X[:, -1][X[:, 0] > 0] = np.nan                           # missing in one half: learns a default direction
    X[rng.random(X.shape) < 0.05] = np.nan                   # and missing here and there everywhere
    signal = np.nan_to_num(X[:, 0]) * np.nan_to_num(X[:, 1]) + np.isnan(X[:, -1]) + np.nan_to_num(X[:, -1])
    y = (signal + rng.normal(size=rows) > 0.8).astype(int)
    return X, y


def _booster(X, y, rounds: int = 15, **params) -> xgb.Booster:
    settings = {**XGB_PARAMS, "eval_metric": "logloss", "seed": 1, "nthread": 1, **params}
    return xgb.train(settings, xgb.DMatrix(X, label=y), num_boost_round=rounds)


def _xgboost(booster, X) -> np.ndarray:
    return booster.predict(xgb.DMatrix(X), pred_contribs=True)[:, : X.shape[1]]


@pytest.mark.parametrize("depth", range(1, TABLE_DEPTH + 1))
def test_contributions_are_xgboosts_treeshap_at_every_depth_the_tables_cover(depth):
    X, y = _rows()
    booster = _booster(X, y, max_depth=depth)
    explainer = TreeExplainer(booster)
    assert explainer.exact_tables
    ours = explainer.contributions(X)
    assert ours.shape == X.shape
    np.testing.assert_allclose(ours, _xgboost(booster, X), atol=2e-5)
    # They add up to the margin, less the bias: nothing credited twice or lost.
    margin = booster.predict(xgb.DMatrix(X), output_margin=True)
    bias = booster.predict(xgb.DMatrix(X), pred_contribs=True)[:, -1]
    np.testing.assert_allclose(ours.sum(axis=1), margin - bias, atol=1e-4)


def test_a_feature_tested_twice_on_a_path_and_missing_values_either_way_match_xgboost():
    X, y = _rows(features=2)          # two features at depth 6: paths repeat them
    X[::7, 1] = np.nan
    booster = _booster(X, y, max_depth=6, colsample_bytree=1.0)
    trees = booster.trees_to_dataframe()
    splits = trees[trees["Feature"] != "Leaf"]
    assert splits["Missing"].eq(splits["Yes"]).any() and splits["Missing"].eq(splits["No"]).any()
    np.testing.assert_allclose(TreeExplainer(booster).contributions(X), _xgboost(booster, X), atol=2e-5)


def test_trees_of_a_single_leaf_credit_nothing():
    X, _ = _rows(rows=200)
    booster = _booster(X, np.zeros(200, int), max_depth=3, rounds=3)   # one class: no split is worth making
    assert (booster.trees_to_dataframe()["Feature"] == "Leaf").all()
    np.testing.assert_array_equal(TreeExplainer(booster).contributions(X), np.zeros(X.shape))


def test_deeper_trees_are_explained_by_xgboost_itself():
    X, y = _rows()
    booster = _booster(X, y, max_depth=TABLE_DEPTH + 2, rounds=5)
    explainer = TreeExplainer(booster)
    assert not explainer.exact_tables
    np.testing.assert_array_equal(explainer.contributions(X), _xgboost(booster, X))


def test_rows_of_another_width_are_refused_and_a_booster_is_prepared_once_while_it_lives():
    X, y = _rows(rows=300)
    booster = _booster(X, y, max_depth=TABLE_DEPTH + 1, rounds=3)   # the fallback: it uses the booster too
    with pytest.raises(ValueError, match="expected rows of 12 features"):
        explainer_of(booster).contributions(X[:, :5])
    assert explainer_of(booster) is explainer_of(booster)
    before = len(contributions._PREPARED)
    del booster
    gc.collect()
    assert len(contributions._PREPARED) == before - 1   # a champion dropped from the workers' cache is freed
