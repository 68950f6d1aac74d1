"""Score a feature frame with the champion model of a product, with a plain-language reason per row.

Reasons come from XGBoost's own per-row feature contributions (`pred_contribs=True`, SHAP values in
log-odds): the features that pushed this customer's score up the most, worded by `jobs.models.reasons`.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from jobs.models import registry
from jobs.models.reasons import NO_STANDOUT, reason_text
from jobs.models.train import ID_COLUMN, MEDIANS_ATTR, feature_matrix, model_name
from jobs.settings import Settings

OUTPUT_COLUMNS = ["customer_id", "product", "probability", "model_version", "reason"]


def load_champion(product: str, settings: Settings):
    """(Booster, version, features) of `propensity_<product>@champion`; LookupError if there is none.

    The alias is resolved to a version once and that exact version is loaded, so the returned version
    always matches the model even if a training run moves the alias meanwhile.
    """
    import mlflow.xgboost

    name = model_name(product)
    registry.configure_mlflow(settings)
    version = registry.alias_version(registry.client(settings), name, registry.CHAMPION)
    if version is None:
        raise LookupError(f"no champion model for {product!r}: {name}@{registry.CHAMPION} is not set in "
                          f"{settings.mlflow_uri}; train the model first")
    booster = mlflow.xgboost.load_model(f"models:/{name}/{version}")
    features = list(booster.feature_names or [])
    if not features:
        raise ValueError(f"{name} v{version} has no feature names; retrain it with jobs.models.train")
    return booster, version, features


def _medians(booster, features: list[str]) -> dict[str, float | None]:
    raw = booster.attr(MEDIANS_ATTR)
    stored = json.loads(raw) if raw else {}
    return {f: stored.get(f) for f in features}


def explain(values: np.ndarray, contributions: np.ndarray, features: list[str],
            medians: dict[str, float | None], top_reasons: int) -> list[str]:
    """Per row: the `top_reasons` features with the largest positive contribution, in words."""
    order = np.argsort(-contributions, axis=1, kind="stable")[:, :top_reasons]
    texts = []
    for row, picks in enumerate(order):
        parts = [reason_text(features[j], float(values[row, j]), medians.get(features[j]))
                 for j in picks if contributions[row, j] > 0]
        texts.append("; ".join(parts) if parts else NO_STANDOUT)
    return texts


def score(frame: pd.DataFrame, product: str, settings: Settings, top_reasons: int = 2) -> pd.DataFrame:
    """customer_id, product, probability, model_version, reason for every row of `frame` (same order)."""
    import xgboost as xgb

    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    if not isinstance(top_reasons, int) or top_reasons < 1:
        raise ValueError(f"top_reasons must be a positive integer, got {top_reasons!r}")
    if ID_COLUMN not in frame.columns:
        raise ValueError(f"frame has no {ID_COLUMN!r} column to identify the scored customers")
    if frame[ID_COLUMN].isna().any():
        raise ValueError(f"{int(frame[ID_COLUMN].isna().sum())} row(s) have a null {ID_COLUMN}")

    booster, version, features = load_champion(product, settings)
    X = feature_matrix(frame, features)
    if frame.empty:
        return pd.DataFrame({
            "customer_id": frame[ID_COLUMN].to_numpy(), "product": pd.Series([], dtype=object),
            "probability": pd.Series([], dtype="float64"), "model_version": pd.Series([], dtype=object),
            "reason": pd.Series([], dtype=object)})

    matrix = xgb.DMatrix(X, feature_names=features)
    probability = booster.predict(matrix).astype("float64")
    contributions = booster.predict(matrix, pred_contribs=True)[:, : len(features)]   # last column: bias
    reasons = explain(X.to_numpy(), contributions, features, _medians(booster, features), top_reasons)
    return pd.DataFrame({
        "customer_id": frame[ID_COLUMN].to_numpy(),
        "product": product,
        "probability": np.clip(probability, 0.0, 1.0),
        "model_version": version,
        "reason": reasons,
    }, columns=OUTPUT_COLUMNS)
