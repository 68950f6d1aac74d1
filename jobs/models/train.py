"""Train one product-propensity model (XGBoost) on a gold feature frame, track it in MLflow, promote it.

The frame is pandas (collected from a gold feature table): an id column, numeric features and a 0/1
label. Training validates the frame, splits it (`split_frame`, one small function so the out-of-time
split can replace it), fits a class-imbalance-aware XGBoost with early stopping on the validation set,
logs params / metrics / features / gain importance / the model to the `marketofone-propensity`
experiment, registers the model as `propensity_<product>` and hands the new version to `promote`.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import logging
import math
import re
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from jobs.models import registry
from jobs.settings import Settings

log = logging.getLogger(__name__)

ID_COLUMN = "customer_id"
MIN_CLASS_COUNT = 5
VALID_FRACTION = 0.25
MEDIANS_ATTR = "feature_medians"   # Booster attribute: training medians, used to word reason codes

XGB_PARAMS = {
    "objective": "binary:logistic",
    "eval_metric": ["logloss", "auc"],   # the last one drives early stopping
    "tree_method": "hist",
    "max_depth": 4,
    "eta": 0.1,
    "subsample": 0.9,
    "colsample_bytree": 0.9,
    "min_child_weight": 1.0,
    "lambda": 1.0,
}
NUM_BOOST_ROUND = 300
EARLY_STOPPING_ROUNDS = 25

_PRODUCT = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


@dataclass
class TrainResult:
    product: str
    model_name: str
    run_id: str
    version: str
    auc: float
    pr_auc: float
    n_train: int
    n_valid: int
    positives: int
    promoted: bool
    features: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def model_name(product: str) -> str:
    """Registered model name for a product: `propensity_<product>`."""
    if not isinstance(product, str) or not _PRODUCT.match(product):
        raise ValueError(f"product must be a lowercase identifier like 'credit_card', got {product!r}")
    return f"propensity_{product}"


# -- validation --------------------------------------------------------------------------------------

def _is_numeric(column: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
        return not pd.api.types.is_complex_dtype(column)
    if column.dtype == object:   # Spark DecimalType arrives as decimal.Decimal objects
        values = column.dropna()
        return all(isinstance(v, (decimal.Decimal, int, float, np.number)) and not isinstance(v, bool)
                   for v in values)
    return False


def feature_matrix(frame: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    """The feature columns as float64 (NaN stays NaN: XGBoost treats it as missing), with clear errors."""
    missing = [f for f in features if f not in frame.columns]
    if missing:
        raise ValueError(f"feature column(s) missing from the frame: {', '.join(missing)}")
    bad = [f"{f} ({frame[f].dtype})" for f in features if not _is_numeric(frame[f])]
    if bad:
        raise ValueError(f"feature column(s) must be numeric: {', '.join(bad)}")
    matrix = frame[features].astype("float64")
    infinite = [f for f in features if np.isinf(matrix[f].to_numpy()).any()]
    if infinite:
        raise ValueError(f"feature column(s) contain infinite values: {', '.join(infinite)}")
    return matrix


def validate_training_frame(frame: pd.DataFrame, label: str, features: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """Check the frame and return (features as float64, label as 0/1 int array); ValueError if unfit."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    if frame.empty:
        raise ValueError("training frame is empty: no rows to train on")
    features = list(features)
    if not features:
        raise ValueError("no features given")
    duplicated = sorted({f for f in features if features.count(f) > 1})
    if duplicated:
        raise ValueError(f"feature(s) listed more than once: {', '.join(duplicated)}")
    for forbidden in (label, ID_COLUMN):
        if forbidden in features:
            raise ValueError(f"{forbidden!r} cannot be a feature")
    if label not in frame.columns:
        raise ValueError(f"label column {label!r} missing from the frame")

    y = frame[label]
    if y.isna().any():
        raise ValueError(f"label {label!r} has {int(y.isna().sum())} null value(s); it must be 0 or 1")
    if pd.api.types.is_bool_dtype(y):
        y = y.astype("int64")
    try:
        y_values = pd.to_numeric(y, errors="raise")
    except (TypeError, ValueError):
        y_values = None
    if y_values is None or not y_values.isin([0, 1]).all():
        seen = sorted(map(str, pd.unique(y)))[:5]
        raise ValueError(f"label {label!r} must be 0/1, found values {', '.join(seen)}")
    y_array = y_values.to_numpy().astype("int64")

    X = feature_matrix(frame, features)
    positives, negatives = int(y_array.sum()), int(len(y_array) - y_array.sum())
    if positives < MIN_CLASS_COUNT or negatives < MIN_CLASS_COUNT:
        raise ValueError(
            f"label {label!r} needs at least {MIN_CLASS_COUNT} positives and {MIN_CLASS_COUNT} negatives "
            f"to train and validate, got {positives} positive(s) and {negatives} negative(s)"
        )
    return X, y_array


# -- split -------------------------------------------------------------------------------------------

def split_frame(y: np.ndarray, seed: int, valid_fraction: float = VALID_FRACTION) -> tuple[np.ndarray, np.ndarray]:
    """Row positions for (train, validation): stratified by label, seeded. Swap for an out-of-time split."""
    from sklearn.model_selection import train_test_split

    positions = np.arange(len(y))
    train_idx, valid_idx = train_test_split(positions, test_size=valid_fraction, stratify=y, random_state=seed)
    return np.sort(train_idx), np.sort(valid_idx)


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


# -- train -------------------------------------------------------------------------------------------

def train_propensity(frame: pd.DataFrame, product: str, label: str, features: list[str], settings: Settings,
                     as_of: dt.date, margin: float = 0.0) -> TrainResult:
    """Train, log, register and (maybe) promote `propensity_<product>`; return what happened."""
    import mlflow
    import xgboost as xgb
    from mlflow.models import infer_signature
    from sklearn.metrics import average_precision_score, roc_auc_score

    name = model_name(product)
    features = list(features)
    if isinstance(as_of, dt.datetime):
        as_of = as_of.date()
    if not isinstance(as_of, dt.date):
        raise TypeError(f"as_of must be a date, got {as_of!r}")
    X, y = validate_training_frame(frame, label, features)

    train_idx, valid_idx = split_frame(y, settings.seed)
    X_train, X_valid, y_train, y_valid = X.iloc[train_idx], X.iloc[valid_idx], y[train_idx], y[valid_idx]
    positives = int(y.sum())
    train_pos = int(y_train.sum())
    scale_pos_weight = (len(y_train) - train_pos) / max(train_pos, 1)
    params = {**XGB_PARAMS, "scale_pos_weight": scale_pos_weight, "seed": settings.seed}

    started = time.perf_counter()
    dtrain = xgb.DMatrix(X_train, label=y_train, feature_names=features)
    dvalid = xgb.DMatrix(X_valid, label=y_valid, feature_names=features)
    booster = xgb.train(params, dtrain, num_boost_round=NUM_BOOST_ROUND, evals=[(dvalid, "valid")],
                        early_stopping_rounds=EARLY_STOPPING_ROUNDS, verbose_eval=False)
    best_iteration = int(booster.best_iteration)
    booster = booster[: best_iteration + 1]   # keep only the trees up to the best round
    medians = {f: (None if math.isnan(m) else float(m)) for f, m in X_train.median().items()}
    booster.set_attr(**{MEDIANS_ATTR: json.dumps(medians)})
    valid_prob = booster.predict(xgb.DMatrix(X_valid, feature_names=features))
    fit_seconds = time.perf_counter() - started

    auc = float(roc_auc_score(y_valid, valid_prob))
    pr_auc = float(average_precision_score(y_valid, valid_prob))
    importance = gain_importance(booster, features)
    metrics = {"auc": auc, "pr_auc": pr_auc, "n_train": len(y_train), "n_valid": len(y_valid),
               "positives": positives, "base_rate": positives / len(y), "best_iteration": best_iteration,
               "fit_seconds": fit_seconds}

    registry.configure_mlflow(settings, registry.PROPENSITY_EXPERIMENT)
    mlflow_client = registry.client(settings)
    with mlflow.start_run(run_name=f"{product}-{as_of.isoformat()}",
                          tags={"product": product, "as_of": as_of.isoformat(), "label": label,
                                "model_name": name}) as run:
        logged_params = {k: (",".join(v) if isinstance(v, list) else v) for k, v in params.items()}
        mlflow.log_params({**logged_params, "num_boost_round": NUM_BOOST_ROUND,
                           "early_stopping_rounds": EARLY_STOPPING_ROUNDS, "split": "stratified_random",
                           "valid_fraction": VALID_FRACTION, "n_features": len(features)})
        mlflow.log_dict({"features": features, "label": label}, "features.json")
        mlflow.log_dict({"importance_type": "gain", "features": importance}, "importance/gain.json")
        mlflow.log_figure(importance_figure(importance, f"{name}: gain importance"), "importance/gain.png")

        log_started = time.perf_counter()
        signature = infer_signature(X_valid.head(50), valid_prob[:50])
        info = mlflow.xgboost.log_model(
            xgb_model=booster,
            name="model",
            signature=signature,
            input_example=X_train.head(3),
            pip_requirements=_pip_requirements(),
            model_format="ubj",
        )
        log_model_seconds = time.perf_counter() - log_started
        mlflow.log_metrics({**metrics, "log_model_seconds": log_model_seconds}, model_id=info.model_id)
        version = registry.register(mlflow_client, name, info, run.info.run_id,
                                    tags={"auc": repr(auc), "product": product, "as_of": as_of.isoformat()})

        decision = registry.promote(mlflow_client, name, version, auc, margin=margin)
        mlflow.log_dict(decision.as_dict(), "promotion.json")
        mlflow.set_tags({"promotion.promoted": str(decision.promoted).lower(),
                         "promotion.reason": decision.reason, "model_version": version})
        mlflow_client.set_model_version_tag(name, version, "promotion", decision.reason)

    log.info("trained %s v%s on %d rows: AUC %.3f, PR-AUC %.3f (fit %.2fs, log_model %.2fs)",
             name, version, len(y), auc, pr_auc, fit_seconds, log_model_seconds)
    return TrainResult(product=product, model_name=name, run_id=run.info.run_id, version=version, auc=auc,
                       pr_auc=pr_auc, n_train=len(y_train), n_valid=len(y_valid), positives=positives,
                       promoted=decision.promoted, features=features)
