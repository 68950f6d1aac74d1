"""Train one model (XGBoost) on a labelled frame, test it out of time, track it in MLflow, promote it.

    train_model(frame, ModelSpec(name, label, time_column=..., ...), settings) -> TrainResult   (the daily models)
    train_table(frame, ModelSpec(name, label, ...), settings, test_frame=None, time_budget=120) -> TrainResult
                                                                                 (a bring-your-own table)

The frame is pandas: a 0/1 label, features (numbers, or anything jobs/models/frame.py can encode),
optionally a time column (the as-of date of each row) and optionally a weight column (`spec.weight_column`:
how many rows of the population each row stands for, when the negatives were sampled, jobs/models/sample.py).
Steps:
1. split out of time: the latest time is the test set, the one before it the validation set (early
   stopping), all earlier times train; without a time column, a stratified random split (60/20/20);
2. fit XGBoost with early stopping on the validation set. Class imbalance: the positives are a few
   percent, and the probabilities must stay probabilities (the decisioning multiplies them by values),
   so the classes are not re-balanced; `max_delta_step` keeps the logistic updates stable instead, as
   the XGBoost parameter guide advises for imbalanced data when calibrated probabilities matter. Sampled
   negatives carry their weight (1 / sampling rate) into fitting, early stopping and every metric, so the
   weighted rows stand for the population and the probabilities stay those of the population; then
   fit again on the training and validation rows with the number of rounds early stopping chose (the
   latest labelled month counts; the test rows are never seen);
3. evaluate on the test set (AUC, PR-AUC, Brier, reliability, lift in the top decile, jobs/models/evaluate.py;
   weighted when the rows are),
   the current champion on the same rows, and a baseline: the single feature that ranks the training
   rows best, applied to the test rows;
4. log params, metrics, the feature list, gain importance, the reliability table and the model (with
   signature, input example and pinned requirements, so no seconds go to environment inference) to
   the model's experiment; register it. It becomes `champion` only if its test AUC clears the floor
   (at least Settings.promotion_min_auc and above the baseline's, on the same test set) and beats the
   champion's on the same test set by the promotion margin; otherwise it is `challenger`
   (jobs/models/registry.py).

A bring-your-own table (`marketofone train --table`, train_table) has no tuned settings and often too few rows
to spend 40% of them on a validation and a test split. Its test is a separate table (`test_frame`, every
row of `frame` then trains), the latest time when it has a time column, or else a stratified, seeded HOLDOUT
share of it. On the training rows a small, time-boxed search (jobs/models/search.py) chooses the settings and
the number of rounds by cross-validated early stopping; one refit on all the training rows with them is the
model. Steps 3 and 4 are the daily models' (_record), with the chosen settings, the CV AUC and the search's
trials logged too.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd

from jobs.models import registry, search
from jobs.models.evaluate import Baseline, Evaluation, evaluate, single_feature_baseline
from jobs.models.frame import PLAN_ATTR, FeaturePlan
from jobs.settings import Settings

log = logging.getLogger(__name__)

ID_COLUMN = "customer_id"
MIN_CLASS_COUNT = 5
MEDIANS_ATTR = "feature_medians"   # Booster attribute: training medians, used to word reason codes
IDS_ATTR = "id_columns"            # Booster attribute: the columns that identify a row (scoring returns them)
RANDOM_SPLIT = (0.6, 0.2, 0.2)
HOLDOUT = 0.2          # a bring-your-own table without --test-table: this share of it is the test

XGB_PARAMS = {
    **search.BASE,
    "eval_metric": ["logloss", "auc"],   # the last one drives early stopping
    **search.DAILY_TREES,   # the trees (their settings, and why, are there): the search tries them first
    # 0.1 rather than 0.05: early stopping then keeps ~40% fewer trees, and a model's daily scoring (exact TreeSHAP
    # per row) and training cost in proportion. Measured on the 100k bank (benchmarks/models.py): every model
    # still >= 0.95 of the oracle AUC, the largest loss 0.009 of it (job_change).
    "eta": 0.1,
}
NUM_BOOST_ROUND = 600
EARLY_STOPPING_ROUNDS = 40

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class ModelSpec:
    name: str                               # the registered model's name
    label: str
    experiment: str = "marketofone-models"
    time_column: str | None = None          # out-of-time split on it when given
    id_columns: tuple[str, ...] = (ID_COLUMN,)
    exclude: tuple[str, ...] = ()
    features: tuple[str, ...] | None = None  # exactly these (numeric) columns; None: infer from the frame
    weight_column: str | None = None        # rows' sample weights (1 / sampling rate); None: every row counts 1
    description: str = ""
    tags: dict = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ValueError(f"model name must be a lowercase identifier like 'propensity_savings', got {self.name!r}")


@dataclass
class TrainResult:
    name: str
    version: str
    run_id: str
    test: Evaluation
    valid_auc: float
    champion_test_auc: float | None
    promoted: bool
    reason: str
    split: dict
    features: list[str]
    fit_seconds: float
    baseline: Baseline | None = None
    min_auc: float = 0.5
    champion: str | None = None        # the version that is champion after this run (None: the target has none)
    search: dict | None = None         # a bring-your-own table's hyperparameter search (jobs/models/search.py)

    @property
    def auc(self) -> float:
        return self.test.auc

    def as_dict(self) -> dict:
        return {**asdict(self), "auc": self.auc}


# -- inputs ------------------------------------------------------------------------------------------

def labels_of(frame: pd.DataFrame, label: str) -> np.ndarray:
    """The label as a 0/1 int array, with clear errors for anything else."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    if frame.empty:
        raise ValueError("training frame is empty: no rows to train on")
    if label not in frame.columns:
        raise ValueError(f"label column {label!r} missing from the frame "
                         f"(columns: {', '.join(map(str, frame.columns))})")
    y = frame[label]
    if y.isna().any():
        raise ValueError(f"label {label!r} has {int(y.isna().sum())} null value(s); it must be 0 or 1")
    if pd.api.types.is_bool_dtype(y):
        y = y.astype("int64")
    values = pd.to_numeric(y, errors="coerce")
    if values.isna().any() or not values.isin([0, 1]).all():
        seen = sorted(map(str, pd.unique(y)))[:5]
        raise ValueError(f"label {label!r} must be 0/1, found values {', '.join(seen)}")
    return values.to_numpy().astype("int64")


def weights_of(frame: pd.DataFrame, spec: ModelSpec) -> np.ndarray | None:
    """The rows' sample weights (None when the spec has no weight column), with clear errors for bad ones."""
    if spec.weight_column is None:
        return None
    if spec.weight_column not in frame.columns:
        raise ValueError(f"weight column {spec.weight_column!r} missing from the frame")
    w = pd.to_numeric(frame[spec.weight_column], errors="coerce").to_numpy(dtype=np.float64)
    if not (np.isfinite(w).all() and (w > 0).all()):
        raise ValueError(f"weight column {spec.weight_column!r} must be positive numbers, "
                         f"found {int((~(np.isfinite(w) & (w > 0))).sum())} other value(s)")
    return w


def _part(w: np.ndarray | None, rows: np.ndarray) -> np.ndarray | None:
    return None if w is None else w[rows]


def weighted_medians(X: pd.DataFrame, w: np.ndarray | None) -> dict[str, float | None]:
    """Each column's median over the population the rows stand for (missing values left out)."""
    if w is None:
        return {f: (None if math.isnan(m) else float(m)) for f, m in X.median().items()}
    medians = {}
    for f in X.columns:
        values = X[f].to_numpy(dtype=np.float64)
        present = ~np.isnan(values)
        if not present.any():
            medians[f] = None
            continue
        order = np.argsort(values[present], kind="stable")
        cumulative = np.cumsum(w[present][order])
        medians[f] = float(values[present][order][np.searchsorted(cumulative, 0.5 * cumulative[-1])])
    return medians


def plan_for(frame: pd.DataFrame, spec: ModelSpec) -> FeaturePlan:
    if spec.features is None:
        exclude = (*spec.exclude, spec.weight_column) if spec.weight_column else spec.exclude
        return FeaturePlan.infer(frame, spec.label, id_columns=spec.id_columns, exclude=exclude)
    features = list(spec.features)
    if not features:
        raise ValueError("no features given")
    duplicated = sorted({f for f in features if features.count(f) > 1})
    if duplicated:
        raise ValueError(f"feature(s) listed more than once: {', '.join(duplicated)}")
    for forbidden in (spec.label, *spec.id_columns, *([spec.weight_column] if spec.weight_column else [])):
        if forbidden in features:
            raise ValueError(f"{forbidden!r} cannot be a feature")
    missing = [f for f in features if f not in frame.columns]
    if missing:
        raise ValueError(f"feature column(s) missing from the frame: {', '.join(missing)}")
    return FeaturePlan(numeric=features)


# -- split -------------------------------------------------------------------------------------------

def split_rows(frame: pd.DataFrame, y: np.ndarray, spec: ModelSpec, seed: int):
    """(train, valid, test) row positions and a description of the split."""
    if spec.time_column:
        if spec.time_column not in frame.columns:
            raise ValueError(f"time column {spec.time_column!r} missing from the frame")
        times = pd.to_datetime(frame[spec.time_column])
        if times.isna().any():
            raise ValueError(f"time column {spec.time_column!r} has {int(times.isna().sum())} empty value(s)")
        dates = sorted(times.unique())
        if len(dates) < 2:
            raise ValueError(f"an out-of-time split needs rows of at least two {spec.time_column} values, "
                             f"got {len(dates)}: add earlier as-of dates")
        test_time = dates[-1]
        valid_time = dates[-2] if len(dates) >= 3 else dates[-1]
        position = np.arange(len(frame))
        test = position[(times == test_time).to_numpy()]
        valid = position[(times == valid_time).to_numpy()]
        train = position[(times < valid_time).to_numpy()]
        described = {"split": "out_of_time", "train_times": [str(d.date()) for d in dates if d < valid_time],
                     "valid_time": str(pd.Timestamp(valid_time).date()),
                     "test_time": str(pd.Timestamp(test_time).date())}
        if len(dates) == 2:
            described["note"] = "two times only: early stopping and the test share the later one"
    else:
        from sklearn.model_selection import train_test_split

        position = np.arange(len(frame))
        train, rest = train_test_split(position, train_size=RANDOM_SPLIT[0], stratify=y, random_state=seed)
        valid, test = train_test_split(rest, test_size=RANDOM_SPLIT[2] / (1 - RANDOM_SPLIT[0]), stratify=y[rest],
                                       random_state=seed)
        train, valid, test = np.sort(train), np.sort(valid), np.sort(test)
        described = {"split": "stratified_random", "fractions": list(RANDOM_SPLIT)}
    for part, rows in (("train", train), ("test", test)):
        positives = int(y[rows].sum())
        least = MIN_CLASS_COUNT if part == "train" else 1
        if positives < least or len(rows) - positives < least:
            raise ValueError(f"label {spec.label!r} needs at least {least} positive and {least} negative row(s) "
                             f"in the {part} set, got {positives} positive(s) of {len(rows)}")
    described.update({"n_train": len(train), "n_valid": len(valid), "n_test": len(test),
                      "positives_train": int(y[train].sum()), "positives_test": int(y[test].sum())})
    return train, valid, test, described


# -- artifacts ---------------------------------------------------------------------------------------

def gain_importance(booster, features: list[str]) -> list[dict]:
    """Average gain per feature (0 for features no tree used), largest first, with its share of the total."""
    gains = booster.get_score(importance_type="gain")
    total = sum(gains.values()) or 1.0
    rows = [{"feature": f, "gain": float(gains.get(f, 0.0)), "share": float(gains.get(f, 0.0)) / total}
            for f in features]
    return sorted(rows, key=lambda r: (-r["gain"], r["feature"]))


def importance_figure(importance: list[dict], title: str):
    """A horizontal bar chart of gain (matplotlib Figure on the Agg canvas; no pyplot global state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    shown = importance[:25][::-1]
    fig = Figure(figsize=(7, 0.3 * len(shown) + 1.2))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.barh([r["feature"] for r in shown], [r["gain"] for r in shown], color="#2b6cb0")
    ax.set_xlabel("average gain per split")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def _pip_requirements() -> list[str]:
    """Pinned runtime needs of the logged model, so MLflow skips its ~10 s environment inference."""
    from importlib.metadata import version

    return [f"{pkg}=={version(pkg)}" for pkg in ("mlflow", "xgboost", "numpy", "pandas", "scipy")]


def plan_of(booster) -> FeaturePlan:
    """The encoding a model was trained with (a model without one takes numeric features by name)."""
    raw = booster.attr(PLAN_ATTR)
    return FeaturePlan.from_json(raw) if raw else FeaturePlan(numeric=list(booster.feature_names or []))


def _champion_auc_on(settings: Settings, name: str, frame: pd.DataFrame, y: np.ndarray,
                     w: np.ndarray | None = None) -> float | None:
    """The current champion's AUC on these rows, or None when there is no champion or it cannot read them."""
    import mlflow.xgboost
    import xgboost as xgb
    from sklearn.metrics import roc_auc_score

    version = registry.alias_version(registry.client(settings), name, registry.CHAMPION)
    if version is None:
        return None
    booster = mlflow.xgboost.load_model(f"models:/{name}/{version}")
    try:
        X = plan_of(booster).matrix(frame)
    except ValueError as exc:
        log.warning("%s champion v%s cannot read the new test set (%s); comparing logged AUCs", name, version, exc)
        return None
    return float(roc_auc_score(y, booster.predict(xgb.DMatrix(X, feature_names=list(X.columns))), sample_weight=w))


# -- train -------------------------------------------------------------------------------------------

def floor_for(min_auc: float, baseline: Baseline | None) -> registry.Floor:
    if baseline is None:
        return registry.Floor(min_auc)
    return registry.Floor(min_auc, baseline.auc, baseline.describe())


def train_model(frame: pd.DataFrame, spec: ModelSpec, settings: Settings, margin: float | None = None,
                min_auc: float | None = None, params: dict | None = None) -> TrainResult:
    """Train, evaluate, log, register and (maybe) promote `spec.name`; return what happened. `params`: more
    MLflow params for the run (e.g. how the training rows were sampled)."""
    import xgboost as xgb

    y = labels_of(frame, spec.label)
    w = weights_of(frame, spec)
    plan = plan_for(frame, spec)
    X = plan.matrix(frame)
    features = list(X.columns)
    train, valid, test, split = split_rows(frame, y, spec, settings.seed)

    extra_params = dict(params or {})
    params = {**XGB_PARAMS, "seed": settings.seed}
    started = time.perf_counter()
    dtrain = xgb.DMatrix(X.iloc[train], label=y[train], weight=_part(w, train), feature_names=features)
    dvalid = xgb.DMatrix(X.iloc[valid], label=y[valid], weight=_part(w, valid), feature_names=features)
    booster = xgb.train(params, dtrain, num_boost_round=NUM_BOOST_ROUND, evals=[(dvalid, "valid")],
                        early_stopping_rounds=EARLY_STOPPING_ROUNDS, verbose_eval=False)
    best_iteration = int(booster.best_iteration)
    booster = booster[: best_iteration + 1]   # keep only the trees up to the best round

    from sklearn.metrics import roc_auc_score

    valid_prob = booster.predict(dvalid)
    valid_auc = float(roc_auc_score(y[valid], valid_prob, sample_weight=_part(w, valid))) \
        if 0 < y[valid].sum() < len(valid) else math.nan
    # Then fit again on the training and validation rows with the rounds early stopping chose: the latest
    # labelled month before the test is the one most like the months the model will score. Not when the
    # validation rows are the test rows (two times only): the test must stay unseen.
    fit = train
    if not np.intersect1d(valid, test).size:
        fit = np.sort(np.concatenate([train, valid]))
        dfit = xgb.DMatrix(X.iloc[fit], label=y[fit], weight=_part(w, fit), feature_names=features)
        booster = xgb.train(params, dfit, num_boost_round=best_iteration + 1)
    split.update({"fit_on": "train+valid" if len(fit) > len(train) else "train", "n_fit": len(fit)})
    _remember(booster, X.iloc[fit], _part(w, fit), plan, spec)
    fitted = Fitted(booster=booster, features=features, plan=plan, X_fit=X.iloc[fit], y_fit=y[fit],
                    w_fit=_part(w, fit), X_test=X.iloc[test], y_test=y[test], w_test=_part(w, test),
                    test_rows=frame.iloc[test], split=split, valid_auc=valid_auc, best_iteration=best_iteration,
                    fit_seconds=time.perf_counter() - started, example=X.iloc[train].head(3),
                    positives=float(y.sum()), n_rows=float(len(y)))
    margin = settings.promotion_margin if margin is None else margin
    min_auc = settings.promotion_min_auc if min_auc is None else min_auc
    logged = {**_flat(params), "num_boost_round": NUM_BOOST_ROUND, "early_stopping_rounds": EARLY_STOPPING_ROUNDS,
              "n_features": len(features), "promotion_margin": margin, "promotion_min_auc": min_auc,
              **_flat(split), **({"weight_column": spec.weight_column} if spec.weight_column else {}),
              **_flat(extra_params)}
    return _record(fitted, spec, settings, margin, min_auc, logged)


def _flat(values: dict) -> dict:
    """MLflow params are strings: lists joined by commas."""
    return {k: (",".join(map(str, v)) if isinstance(v, list) else v) for k, v in values.items()}


def _remember(booster, X_fit: pd.DataFrame, w_fit: np.ndarray | None, plan: FeaturePlan, spec: ModelSpec) -> None:
    """What scoring needs besides the trees: the training medians (reasons' wording), the encoding, the ids."""
    booster.set_attr(**{MEDIANS_ATTR: json.dumps(weighted_medians(X_fit, w_fit)), PLAN_ATTR: plan.to_json(),
                        IDS_ATTR: json.dumps(list(spec.id_columns))})


@dataclass
class Fitted:
    """A fitted model and the rows around it, everything `_record` needs to evaluate, log and register it."""
    booster: object
    features: list[str]
    plan: FeaturePlan
    X_fit: pd.DataFrame            # the rows the model was fit on (the baseline is chosen on them)
    y_fit: np.ndarray
    w_fit: np.ndarray | None
    X_test: pd.DataFrame
    y_test: np.ndarray
    w_test: np.ndarray | None
    test_rows: pd.DataFrame        # the test rows as given (the champion encodes them its own way)
    split: dict
    valid_auc: float
    best_iteration: int
    fit_seconds: float
    example: pd.DataFrame          # the logged model's input example
    positives: float
    n_rows: float
    metrics: dict = field(default_factory=dict)     # more MLflow metrics
    artifacts: dict = field(default_factory=dict)   # more MLflow dict artifacts: path -> dict


def _record(fitted: Fitted, spec: ModelSpec, settings: Settings, margin: float, min_auc: float,
            logged: dict) -> TrainResult:
    """Evaluate on the test rows, compare with the baseline and the champion, log the run to MLflow (params
    `logged`), register the model and promote it if it earns it."""
    import mlflow
    import mlflow.xgboost
    import xgboost as xgb
    from mlflow.models import infer_signature

    booster, features = fitted.booster, fitted.features
    test_prob = booster.predict(xgb.DMatrix(fitted.X_test, feature_names=features))
    result = evaluate(fitted.y_test, test_prob, fitted.w_test)
    baseline = single_feature_baseline(fitted.X_fit, fitted.y_fit, fitted.X_test, fitted.y_test, settings.seed,
                                       w_fit=fitted.w_fit, w_test=fitted.w_test)
    champion_auc = _champion_auc_on(settings, spec.name, fitted.test_rows, fitted.y_test, fitted.w_test)
    importance = gain_importance(booster, features)

    registry.configure_mlflow(settings, spec.experiment)
    client = registry.client(settings)
    times = fitted.split.get("test_time", "random")
    with mlflow.start_run(run_name=f"{spec.name}-{times}",
                          tags={"model_name": spec.name, "label": spec.label, **spec.tags}) as run:
        mlflow.log_params(logged)
        mlflow.log_dict({"features": features, "label": spec.label, "plan": json.loads(fitted.plan.to_json())},
                        "features.json")
        mlflow.log_dict({"importance_type": "gain", "features": importance}, "importance/gain.json")
        mlflow.log_figure(importance_figure(importance, f"{spec.name}: gain importance"), "importance/gain.png")
        mlflow.log_dict({"test": asdict(result), "valid_auc": fitted.valid_auc, "champion_test_auc": champion_auc,
                         "baseline": asdict(baseline) if baseline else None}, "evaluation.json")
        for path, content in fitted.artifacts.items():
            mlflow.log_dict(content, path)
        log_started = time.perf_counter()
        info = mlflow.xgboost.log_model(
            xgb_model=booster, name="model",
            signature=infer_signature(fitted.X_test.head(50), test_prob[:50]),
            input_example=fitted.example, pip_requirements=_pip_requirements(), model_format="ubj",
        )
        metrics = {**result.metrics("test_"), "auc": result.auc, "pr_auc": result.pr_auc,
                   "valid_auc": fitted.valid_auc, "best_iteration": fitted.best_iteration,
                   "fit_seconds": fitted.fit_seconds, "log_model_seconds": time.perf_counter() - log_started,
                   "positives": fitted.positives, "n_rows": fitted.n_rows,
                   "baseline_auc": baseline.auc if baseline else None, **fitted.metrics}
        mlflow.log_metrics({k: v for k, v in metrics.items() if v is not None and math.isfinite(v)},
                           model_id=info.model_id)
        version = registry.register(client, spec.name, info, run.info.run_id, description=spec.description,
                                    tags={"auc": repr(result.auc), "min_auc": repr(min_auc),
                                          **{k: str(v) for k, v in spec.tags.items()}})
        decision = registry.promote(client, spec.name, version, result.auc, margin=margin, champion_auc=champion_auc,
                                    floor=floor_for(min_auc, baseline))
        mlflow.log_dict(decision.as_dict(), "promotion.json")
        mlflow.set_tags({"promotion.promoted": str(decision.promoted).lower(), "promotion.reason": decision.reason,
                         "model_version": version})
        client.set_model_version_tag(spec.name, version, "promotion", decision.reason)

    log.info("trained %s v%s: test AUC %.3f (champion on the same rows: %s, baseline: %s), PR-AUC %.3f, fit %.1fs",
             spec.name, version, result.auc, "none" if champion_auc is None else f"{champion_auc:.3f}",
             "none" if baseline is None else f"{baseline.auc:.3f}", result.pr_auc, fitted.fit_seconds)
    return TrainResult(name=spec.name, version=version, run_id=run.info.run_id, test=result,
                       valid_auc=fitted.valid_auc, champion_test_auc=champion_auc, promoted=decision.promoted,
                       reason=decision.reason, split=fitted.split, features=features, fit_seconds=fitted.fit_seconds,
                       baseline=baseline, min_auc=min_auc, champion=decision.champion)


# -- a bring-your-own table: cross-validated search, refit on every labelled row ---------------------------

def check_test_table(frame: pd.DataFrame, test_frame: pd.DataFrame, label: str) -> np.ndarray:
    """A separate test table must have the training table's columns, and a 0/1 label with both classes;
    its labels."""
    if not isinstance(test_frame, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame for the test table, got {type(test_frame).__name__}")
    missing = [c for c in frame.columns if c not in test_frame.columns]
    extra = [c for c in test_frame.columns if c not in frame.columns]
    if missing or extra:
        raise ValueError("the test table must have the training table's columns: "
                         + "; ".join(part for part in (f"missing {', '.join(map(str, missing))}" if missing else "",
                                                       f"not in the training table {', '.join(map(str, extra))}"
                                                       if extra else "") if part))
    try:
        y_test = labels_of(test_frame, label)
    except ValueError as exc:
        raise ValueError(f"test table: {exc}") from None
    if not 0 < y_test.sum() < len(y_test):
        raise ValueError(f"test table: label {label!r} needs at least one positive and one negative row to measure "
                         f"an AUC, got {int(y_test.sum())} positive(s) of {len(y_test)}")
    return y_test


def holdout_rows(frame: pd.DataFrame, y: np.ndarray, spec: ModelSpec, seed: int):
    """(fit, test) row positions and a description: with a time column the latest time is the test (out of
    time); otherwise a stratified, seeded HOLDOUT share of the rows."""
    position = np.arange(len(frame))
    if spec.time_column:
        train, valid, test, described = split_rows(frame, y, spec, seed)
        fit = position[~np.isin(position, test)]
        return fit, test, {"split": "out_of_time", "test_time": described["test_time"],
                           "test": f"the rows of the latest {spec.time_column} ({described['test_time']})"}
    from sklearn.model_selection import train_test_split

    fit, test = train_test_split(position, test_size=HOLDOUT, stratify=y, random_state=seed)
    fit, test = np.sort(fit), np.sort(test)
    for part, rows, least in (("training", fit, MIN_CLASS_COUNT), ("test", test, 1)):
        positives = int(y[rows].sum())
        if positives < least or len(rows) - positives < least:
            raise ValueError(f"label {spec.label!r} needs at least {least} positive and {least} negative row(s) in "
                             f"the {part} rows, got {positives} positive(s) of {len(rows)}")
    return fit, test, {"split": "stratified_holdout", "holdout": HOLDOUT,
                       "test": f"{HOLDOUT:.0%} of the table held out (stratified, seed {seed})"}


def fit_table(frame: pd.DataFrame, spec: ModelSpec, seed: int = 0, test_frame: pd.DataFrame | None = None,
              time_budget: float = search.TIME_BUDGET, max_trials: int = search.MAX_TRIALS,
              progress=None) -> tuple[Fitted, search.Search]:
    """Search settings by cross-validation on the training rows, then fit once on all of them with the chosen
    settings and rounds; nothing is logged. The training rows: every row of `frame` when a `test_frame` is
    given (the test), else all but a held-out test (holdout_rows)."""
    import xgboost as xgb

    if test_frame is not None and spec.time_column:
        raise ValueError("a time column and a test table both say which rows are the test: give one of them")
    if spec.time_column:   # a date the test rows are all past is no feature (the trees would read it as "later")
        spec = replace(spec, exclude=(*spec.exclude, spec.time_column))
    y = labels_of(frame, spec.label)
    w = weights_of(frame, spec)
    if test_frame is not None:
        y_test = check_test_table(frame, test_frame, spec.label)
        fit, split = np.arange(len(frame)), {"split": "test_table", "test": "the test table"}
        if int(y.sum()) < MIN_CLASS_COUNT or len(y) - int(y.sum()) < MIN_CLASS_COUNT:
            raise ValueError(f"label {spec.label!r} needs at least {MIN_CLASS_COUNT} positive and {MIN_CLASS_COUNT} "
                             f"negative rows to train on, got {int(y.sum())} positive(s) of {len(y)}")
        test_rows, w_test = test_frame, weights_of(test_frame, spec)
    else:
        fit, test, split = holdout_rows(frame, y, spec, seed)
        test_rows, y_test, w_test = frame.iloc[test], y[test], _part(w, test)
    plan = plan_for(frame, spec)
    X = plan.matrix(frame)
    X_test = plan.matrix(test_rows)
    features = list(X.columns)
    X_fit, y_fit, w_fit = X.iloc[fit], y[fit], _part(w, fit)

    started = time.perf_counter()
    found = search.search(X_fit, y_fit, w_fit, seed=seed, time_budget=time_budget, max_trials=max_trials,
                          progress=progress)
    booster = xgb.train(found.params, xgb.DMatrix(X_fit, label=y_fit, weight=w_fit, feature_names=features),
                        num_boost_round=found.rounds)
    booster = search.undo_class_weight(booster, found.params["scale_pos_weight"])
    _remember(booster, X_fit, w_fit, plan, spec)
    split.update({"n_train": len(fit), "n_valid": 0, "n_test": len(y_test), "positives_train": int(y_fit.sum()),
                  "positives_test": int(y_test.sum()), "fit_on": "every training row", "n_fit": len(fit),
                  "cv_folds": found.folds})
    fitted = Fitted(booster=booster, features=features, plan=plan, X_fit=X_fit, y_fit=y_fit, w_fit=w_fit,
                    X_test=X_test, y_test=y_test, w_test=w_test, test_rows=test_rows, split=split,
                    valid_auc=found.cv_auc, best_iteration=found.rounds - 1,
                    fit_seconds=time.perf_counter() - started, example=X_fit.head(3),
                    positives=float(y_fit.sum()), n_rows=float(len(fit)),
                    metrics={"cv_auc": found.cv_auc, "cv_auc_std": found.cv_auc_std,
                             "search_seconds": found.seconds, "search_trials": float(len(found.trials))},
                    artifacts={"search.json": found.as_dict()})
    return fitted, found


def train_table(frame: pd.DataFrame, spec: ModelSpec, settings: Settings, test_frame: pd.DataFrame | None = None,
                time_budget: float = search.TIME_BUDGET, max_trials: int = search.MAX_TRIALS,
                margin: float | None = None, min_auc: float | None = None, progress=None) -> TrainResult:
    """A bring-your-own table's model (`marketofone train`): fit_table, then evaluated on the test rows,
    logged with the chosen settings and the CV AUC, registered and (maybe) promoted like a daily model."""
    margin = settings.promotion_margin if margin is None else margin
    min_auc = settings.promotion_min_auc if min_auc is None else min_auc
    fitted, found = fit_table(frame, spec, settings.seed, test_frame, time_budget, max_trials, progress)
    logged = {**_flat(found.params), "num_boost_round": found.rounds, "cv_folds": found.folds,
              "search_time_budget": found.time_budget, "search_max_trials": max_trials,
              "search_tried": len(found.trials), "n_features": len(fitted.features), "promotion_margin": margin,
              "promotion_min_auc": min_auc, **_flat(fitted.split)}
    result = _record(fitted, spec, settings, margin, min_auc, logged)
    result.search = {"params": found.params, "rounds": found.rounds, "cv_auc": found.cv_auc,
                     "cv_auc_std": found.cv_auc_std, "folds": found.folds, "tried": len(found.trials),
                     "planned": found.planned, "seconds": found.seconds, "time_budget": found.time_budget}
    return result
