"""A small, time-boxed hyperparameter search for a bring-your-own table, by cross-validated early stopping.

    search(X, y, w, seed=0, time_budget=120) -> Search(params, rounds, cv_auc, trials, ...)

A table a bank brings (`marketofone train --table ...`) has no months to test out of time and no settings
anyone tuned for it, so the settings the daily models use (jobs/models/train.py, XGB_PARAMS) can leave
several points of AUC on the table. Here every candidate is scored by stratified k-fold cross-validation
(xgboost.cv) with early stopping on the folds' mean AUC, so every labelled row counts for choosing and
none is spent on a fixed validation split; the number of rounds comes out of the same folds.

The candidates: first the daily models' settings at eta 0.05 (a search never does worse than them on the folds), then
draws from SPACE (tree depth, learning rate, min child weight, column and row sampling, class weight) in an
order fixed by the seed. The time budget cuts that list: a candidate is not started when the time spent
plus the longest candidate so far would pass it, and one still running at the budget is stopped there.
So the search is deterministic given the seed and the number of candidates it reached (`max_trials` and a
budget large enough make it fully so); on a slower machine it tries fewer of the same candidates.

Class weight (`scale_pos_weight` > 1) may help the trees find rare positives, but it inflates every
probability by the same odds factor; `undo_class_weight` takes that factor back out of the model's base
score, so the refit model's probabilities are again those of the population (the decisioning multiplies them
by values).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

FOLDS = 5
MAX_ROUNDS = 3000
EARLY_STOPPING_ROUNDS = 50
MAX_TRIALS = 40
TIME_BUDGET = 120.0   # seconds
# Below this many cells (rows x features) a tree is built faster on one thread: on small tables the threads'
# hand-overs cost more than they save (a 700-row table's CV ran 6x slower on two busy cores than on one).
ONE_THREAD_CELLS = 2_000_000

# The fixed part: binary log loss, histogram trees, the daily models' regularization.
BASE = {"objective": "binary:logistic", "eval_metric": "auc", "tree_method": "hist", "lambda": 5.0,
        "max_delta_step": 1.0}
# The daily models' trees (jobs/models/train.py builds XGB_PARAMS from BASE, these and its own learning rate): one
# place, so that the search's first trial is the daily models' settings whatever they become.
DAILY_TREES = {"max_depth": 4,
               "min_child_weight": 1.0,   # in hessian units: at a 2% base rate a leaf still needs ~50 rows
               "colsample_bytree": 0.8, "subsample": 0.8}
FIRST = {**DAILY_TREES, "eta": 0.05, "scale_pos_weight": 1.0}   # the daily trees at the finer learning rate, first
# (a daily model keeps the coarser one to bound its scoring; a search is for the table's best AUC)
SPACE = {
    "max_depth": [2, 3, 4, 5, 6, 8],
    "eta": [0.01, 0.02, 0.05, 0.1],
    "min_child_weight": [0.5, 1.0, 2.0, 5.0, 10.0],
    "colsample_bytree": [0.4, 0.6, 0.8, 1.0],
    "subsample": [0.7, 0.85, 1.0],
    # "scale_pos_weight": filled in from the classes' ratio, class_weights()
}


@dataclass
class Trial:
    params: dict            # the searched settings (SPACE's keys)
    rounds: int             # the round count with the best mean fold AUC
    cv_auc: float
    cv_auc_std: float
    seconds: float
    cut_by_budget: bool = False


@dataclass
class Search:
    params: dict            # the chosen settings, BASE included: ready for xgboost.train
    rounds: int             # the chosen trial's rounds: the refit on every row trains this many
    cv_auc: float
    cv_auc_std: float
    folds: int
    seconds: float
    time_budget: float
    planned: int            # candidates the search would try with time to spare
    trials: list[Trial] = field(default_factory=list)

    @property
    def best(self) -> Trial:
        return max(self.trials, key=lambda t: t.cv_auc)

    def as_dict(self) -> dict:
        return {**asdict(self), "tried": len(self.trials)}


def class_weights(y: np.ndarray, w: np.ndarray | None = None) -> list[float]:
    """Candidate positive-class weights: 1 and, when positives are the minority, the square root of the
    negatives-to-positives ratio and the ratio itself (the XGBoost guide's starting point)."""
    positives = float(np.sum(w[y == 1])) if w is not None else float(y.sum())
    negatives = float(np.sum(w[y == 0])) if w is not None else float(len(y) - y.sum())
    ratio = negatives / positives if positives else 1.0
    if ratio < 1.5:
        return [1.0]
    return [1.0, round(math.sqrt(ratio), 3), round(ratio, 3)]


def candidates(seed: int, count: int, weights: list[float]) -> list[dict]:
    """`count` distinct settings: FIRST, then draws from SPACE in an order fixed by `seed`."""
    rng = np.random.default_rng(seed)
    space = {**SPACE, "scale_pos_weight": weights}
    chosen, seen = [dict(FIRST)], {json.dumps(FIRST, sort_keys=True)}
    size = math.prod(len(v) for v in space.values())
    while len(chosen) < min(count, size):
        draw = {k: values[int(rng.integers(len(values)))] for k, values in space.items()}
        draw = {k: (float(v) if isinstance(v, float) else int(v)) for k, v in draw.items()}
        key = json.dumps(draw, sort_keys=True)
        if key not in seen:
            seen.add(key)
            chosen.append(draw)
    return chosen


def _deadline_callback(deadline: float):
    """An xgboost callback that stops training at `deadline` (time.perf_counter seconds)."""
    import xgboost as xgb

    class Deadline(xgb.callback.TrainingCallback):
        hit = False

        def after_iteration(self, model, epoch, evals_log) -> bool:
            self.hit = time.perf_counter() >= deadline
            return self.hit

    return Deadline()


def cross_validate(dtrain, params: dict, seed: int, folds: int, deadline: float = math.inf) -> Trial:
    """Mean AUC over stratified folds, early stopping on it; the rounds that reached the best mean."""
    import xgboost as xgb

    started = time.perf_counter()
    stop = _deadline_callback(deadline)
    # Early stopping before the deadline: xgboost asks the callbacks in order and stops at the first that says
    # stop, and the one that keeps the best round must have seen every round, the last included.
    early = xgb.callback.EarlyStopping(rounds=EARLY_STOPPING_ROUNDS, metric_name="auc", data_name="test",
                                       maximize=True)
    history = xgb.cv({**BASE, **params, "seed": seed}, dtrain, num_boost_round=MAX_ROUNDS, nfold=folds,
                     stratified=True, seed=seed, callbacks=[early, stop], verbose_eval=False)
    best = int(history["test-auc-mean"].to_numpy().argmax())
    return Trial(params=params, rounds=best + 1, cv_auc=float(history["test-auc-mean"].iloc[best]),
                 cv_auc_std=float(history["test-auc-std"].iloc[best]), seconds=time.perf_counter() - started,
                 cut_by_budget=stop.hit)


def fold_count(y: np.ndarray) -> int:
    """FOLDS, fewer when a class has fewer rows than that (each fold needs one of each)."""
    return int(max(2, min(FOLDS, y.sum(), len(y) - y.sum())))


def threads_for(X) -> dict:
    """{"nthread": 1} for a small table, else nothing (XGBoost's default: every core)."""
    return {"nthread": 1} if X.shape[0] * max(1, X.shape[1]) < ONE_THREAD_CELLS else {}


def describe(params: dict) -> str:
    return (f"depth {params['max_depth']}, eta {params['eta']}, min_child_weight {params['min_child_weight']}, "
            f"colsample {params['colsample_bytree']}, subsample {params['subsample']}, "
            f"class weight {params['scale_pos_weight']}")


def search(X, y: np.ndarray, w: np.ndarray | None = None, seed: int = 0, time_budget: float = TIME_BUDGET,
           max_trials: int = MAX_TRIALS, progress: Callable[[str], None] | None = None) -> Search:
    """The best of up to `max_trials` candidates by cross-validated AUC, within `time_budget` seconds (the
    first candidate always runs, cut at the budget if it must be)."""
    import xgboost as xgb

    if time_budget <= 0:
        raise ValueError(f"the time budget must be a positive number of seconds, got {time_budget}")
    if max_trials < 1:
        raise ValueError(f"the search needs at least one trial, got {max_trials}")
    say = progress or (lambda line: None)
    started = time.perf_counter()
    deadline = started + time_budget
    folds = fold_count(y)
    dtrain = xgb.DMatrix(X, label=y, weight=w, feature_names=list(X.columns))
    planned = candidates(seed, max_trials, class_weights(y, w))
    threads = threads_for(X)
    trials: list[Trial] = []
    for i, params in enumerate(planned, start=1):
        spent = time.perf_counter() - started
        longest = max((t.seconds for t in trials), default=0.0)
        if trials and spent + longest > time_budget:
            say(f"search: time budget {time_budget:.0f}s reached after {len(trials)} of {len(planned)} candidates")
            break
        trial = cross_validate(dtrain, {**params, **threads}, seed, folds, deadline)
        trials.append(trial)
        best = max(trials, key=lambda t: t.cv_auc)
        say(f"search {i}/{len(planned)} ({time.perf_counter() - started:.0f}s of {time_budget:.0f}s): "
            f"{describe(params)} -> CV AUC {trial.cv_auc:.4f} at {trial.rounds} rounds"
            f"{' (cut at the budget)' if trial.cut_by_budget else ''}; best {best.cv_auc:.4f}")
    best = max(trials, key=lambda t: t.cv_auc)
    return Search(params={**BASE, **best.params, **threads, "seed": seed}, rounds=best.rounds, cv_auc=best.cv_auc,
                  cv_auc_std=best.cv_auc_std, folds=folds, seconds=time.perf_counter() - started,
                  time_budget=float(time_budget), planned=len(planned), trials=trials)


def undo_class_weight(booster, scale_pos_weight: float):
    """The same trees with the odds factor a positive-class weight put into every prediction taken back out
    (the base score's margin moved by -log(weight)), so the probabilities are the population's again. A
    new Booster; attributes are not carried (set them after)."""
    import xgboost as xgb

    if scale_pos_weight == 1:
        return booster
    model = json.loads(booster.save_raw("json"))
    param = model["learner"]["learner_model_param"]
    base = float(str(param["base_score"]).strip("[]"))
    margin = math.log(base / (1 - base)) - math.log(scale_pos_weight)
    shifted = 1 / (1 + math.exp(-margin))
    param["base_score"] = f"[{shifted!r}]" if str(param["base_score"]).startswith("[") else repr(shifted)
    corrected = xgb.Booster()
    corrected.load_model(bytearray(json.dumps(model).encode()))
    return corrected
