"""Score rows with a model's champion, with reason codes in plain words per row.

Reasons come from XGBoost's own per-row feature contributions (`pred_contribs=True`, SHAP values in
log-odds): the features that pushed this row's score up the most (`reason_codes`), worded by
`jobs.models.reasons` (`reason`).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from jobs.models import registry
from jobs.models.reasons import NO_STANDOUT, reason_text
from jobs.models.train import ID_COLUMN, MEDIANS_ATTR, plan_of
from jobs.settings import Settings

SCORE_COLUMNS = ["model", "probability", "model_version", "reason_codes", "reason"]


def load_champion(name: str, settings: Settings):
    """(Booster, version, plan) of `<name>@champion`; LookupError if there is none.

    The alias is resolved to a version once and that exact version is loaded, so the returned version
    always matches the model even if a training run moves the alias meanwhile.
    """
    import mlflow.xgboost

    registry.configure_mlflow(settings)
    version = registry.alias_version(registry.client(settings), name, registry.CHAMPION)
    if version is None:
        raise LookupError(f"no champion model {name}@{registry.CHAMPION} in {settings.mlflow_uri}; train it first")
    booster = mlflow.xgboost.load_model(f"models:/{name}/{version}")
    if not booster.feature_names:
        raise ValueError(f"{name} v{version} has no feature names; retrain it with jobs.models.train")
    return booster, version, plan_of(booster)


def _medians(booster, features: list[str]) -> dict[str, float | None]:
    raw = booster.attr(MEDIANS_ATTR)
    stored = json.loads(raw) if raw else {}
    return {f: stored.get(f) for f in features}


def explain(values: np.ndarray, contributions: np.ndarray, features: list[str],
            medians: dict[str, float | None], top_reasons: int) -> tuple[list[list[str]], list[str]]:
    """Per row: the `top_reasons` features with the largest positive contribution, and them in words."""
    order = np.argsort(-contributions, axis=1, kind="stable")[:, :top_reasons]
    codes, texts = [], []
    for row, picks in enumerate(order):
        chosen = [j for j in picks if contributions[row, j] > 0]
        codes.append([features[j] for j in chosen])
        parts = [reason_text(features[j], float(values[row, j]), medians.get(features[j])) for j in chosen]
        texts.append("; ".join(parts) if parts else NO_STANDOUT)
    return codes, texts


def score(frame: pd.DataFrame, name: str, settings: Settings, top_reasons: int = 3,
          id_columns: tuple[str, ...] = (ID_COLUMN,)) -> pd.DataFrame:
    """The id columns, then model, probability, model_version, reason_codes, reason for every row of
    `frame` (same order)."""
    import xgboost as xgb

    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(frame).__name__}")
    if not isinstance(top_reasons, int) or top_reasons < 1:
        raise ValueError(f"top_reasons must be a positive integer, got {top_reasons!r}")
    missing = [c for c in id_columns if c not in frame.columns]
    if missing:
        raise ValueError(f"frame has no {', '.join(map(repr, missing))} column to identify the scored rows")
    for c in id_columns:
        if frame[c].isna().any():
            raise ValueError(f"{int(frame[c].isna().sum())} row(s) have a null {c}")

    booster, version, plan = load_champion(name, settings)
    X = plan.matrix(frame)
    ids = {c: frame[c].to_numpy() for c in id_columns}
    if frame.empty:
        return pd.DataFrame({**ids, "model": pd.Series([], dtype=object), "probability": pd.Series([], dtype="float64"),
                             "model_version": pd.Series([], dtype=object), "reason_codes": pd.Series([], dtype=object),
                             "reason": pd.Series([], dtype=object)})
    features = list(X.columns)
    matrix = xgb.DMatrix(X, feature_names=features)
    probability = booster.predict(matrix).astype("float64")
    contributions = booster.predict(matrix, pred_contribs=True)[:, : len(features)]   # last column: bias
    codes, reasons = explain(X.to_numpy(), contributions, features, _medians(booster, features), top_reasons)
    return pd.DataFrame({**ids, "model": name, "probability": np.clip(probability, 0.0, 1.0),
                         "model_version": version, "reason_codes": codes, "reason": reasons})
