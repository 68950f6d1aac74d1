"""Score rows with a model's champion, with reason codes in plain words per row.

Reasons come from the model's per-row feature contributions (exact TreeSHAP values in log-odds, the ones
XGBoost's `pred_contribs=True` gives, computed per way through a tree: jobs/models/contributions.py): the
features that pushed this row's score up the most (`reason_codes`), worded by `jobs.models.reasons` (`reason`).

One pandas kernel scores a batch of rows (`score_rows`; `score_targets` for the day's rows of
gold.customer_360 with every champion, in gold.propensity_scores' columns). The daily step runs it on
the executors (`scoring_function`, through `mapInPandas`): each Python worker loads a champion once
(`cached_champion`, by store, name and version) and the scores never pass through the driver.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from jobs.models import registry
from jobs.models.contributions import explainer_of
from jobs.models.reasons import NO_STANDOUT, reason_text
from jobs.models.train import ID_COLUMN, IDS_ATTR, MEDIANS_ATTR, plan_of
from jobs.settings import Settings

SCORE_COLUMNS = ["model", "probability", "model_version", "reason_codes", "reason"]
PROPENSITY_COLUMNS = ["as_of_date", "customer_id", "kind", "target", "model", "probability", "model_version",
                      "reason_codes", "reason"]
PROPENSITY_SCHEMA = ("as_of_date date, customer_id string, kind string, target string, model string, "
                     "probability double, model_version string, reason_codes string, reason string")


@dataclass(frozen=True)
class ChampionRef:
    """A champion version to score one target with, as the workers need it (small, picklable): where its
    store is, which version (resolved once on the driver) and the version's source (a store rebuilt in the
    same place reuses version numbers; the source tells them apart)."""
    target: str
    kind: str
    model: str
    version: str
    uri: str
    source: str = ""


_LOADED: dict[tuple[str, str, str, str], tuple] = {}   # per Python worker: (uri, model, version, source)
_LOADING = threading.Lock()
_CACHE_SIZE = 32


def _load_version(uri: str, name: str, version: str):
    """(Booster, plan) of one registered version in the store at `uri`."""
    import mlflow
    import mlflow.xgboost

    registry._quiet_mlflow()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    booster = mlflow.xgboost.load_model(f"models:/{name}/{version}")
    if not booster.feature_names:
        raise ValueError(f"{name} v{version} has no feature names; retrain it with jobs.models.train")
    return booster, plan_of(booster)


def cached_champion(ref: ChampionRef):
    """(Booster, plan) of `ref`, loaded once per Python process (a version is immutable once registered)."""
    key = (ref.uri, ref.model, ref.version, ref.source)
    with _LOADING:   # partitions scored by threads of one worker load a model once
        hit = _LOADED.get(key)
        if hit is None:
            hit = _load_version(ref.uri, ref.model, ref.version)
            while len(_LOADED) >= _CACHE_SIZE:
                _LOADED.pop(next(iter(_LOADED)))
            _LOADED[key] = hit
    return hit


def load_champion(name: str, settings: Settings):
    """(Booster, version, plan) of `<name>@champion`; LookupError if there is none.

    The alias is resolved to a version once and that exact version is loaded, so the returned version
    always matches the model even if a training run moves the alias meanwhile.
    """
    registry.configure_mlflow(settings)
    version = registry.alias_version(registry.client(settings), name, registry.CHAMPION)
    if version is None:
        raise LookupError(f"no champion model {name}@{registry.CHAMPION} in {settings.mlflow_uri}; train it first")
    booster, plan = _load_version(settings.mlflow_uri, name, version)
    return booster, version, plan


def _medians(booster, features: list[str]) -> dict[str, float | None]:
    raw = booster.attr(MEDIANS_ATTR)
    stored = json.loads(raw) if raw else {}
    return {f: stored.get(f) for f in features}


def explain(values: np.ndarray, contributions: np.ndarray, features: list[str],
            medians: dict[str, float | None], top_reasons: int) -> tuple[list[list[str]], list[str]]:
    """Per row: the `top_reasons` features with the largest positive contribution, and them in words."""
    order = np.argsort(-contributions, axis=1, kind="stable")[:, :top_reasons]
    chosen = np.take_along_axis(contributions, order, axis=1) > 0
    # Worded once per feature and distinct value (by its bits: -0.0 and 0.0 read differently), not per row:
    # most rows share their values of a flag, a count or a number of days with many others.
    words = np.full(order.shape, "", dtype=object)
    for j in np.unique(order[chosen]):
        at = chosen & (order == j)
        shown = values[at.nonzero()[0], j]
        _, first, which = np.unique(shown.view(np.int64), return_index=True, return_inverse=True)
        worded = [reason_text(features[j], float(v), medians.get(features[j])) for v in shown[first]]
        words[at] = np.array(worded, dtype=object)[which.ravel()]
    codes = [[features[j] for j, picked in zip(picks, keep, strict=True) if picked]
             for picks, keep in zip(order.tolist(), chosen.tolist(), strict=True)]
    texts = ["; ".join(w for w in row if w) or NO_STANDOUT for row in words.tolist()]
    return codes, texts


def score(frame: pd.DataFrame, name: str, settings: Settings, top_reasons: int = 3,
          id_columns: tuple[str, ...] | None = None) -> pd.DataFrame:
    """The id columns, then model, probability, model_version, reason_codes, reason for every row of
    `frame` (same order), with `<name>@champion`. `id_columns` default: the ones the model was trained with
    (remembered in it), else customer_id."""
    _check_rows(frame, top_reasons, ())
    booster, version, plan = load_champion(name, settings)
    ids = tuple(id_columns) if id_columns is not None else remembered_ids(booster)
    return score_rows(frame, name, version, booster, plan, top_reasons, ids)


def remembered_ids(booster) -> tuple[str, ...]:
    """The id columns the model was trained with (customer_id for a model trained before they were kept, or
    trained with none)."""
    raw = booster.attr(IDS_ATTR)
    return tuple(json.loads(raw)) if raw and json.loads(raw) else (ID_COLUMN,)


def _check_rows(frame, top_reasons, id_columns) -> None:
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


def score_rows(frame: pd.DataFrame, name: str, version: str, booster, plan, top_reasons: int = 3,
               id_columns: tuple[str, ...] = (ID_COLUMN,)) -> pd.DataFrame:
    """The kernel: `frame`'s rows scored and explained by a loaded model (`score`'s columns, same order)."""
    import xgboost as xgb

    _check_rows(frame, top_reasons, id_columns)
    X = plan.matrix(frame)
    ids = {c: frame[c].to_numpy() for c in id_columns}
    if frame.empty:
        return pd.DataFrame({**ids, "model": pd.Series([], dtype=object), "probability": pd.Series([], dtype="float64"),
                             "model_version": pd.Series([], dtype=object), "reason_codes": pd.Series([], dtype=object),
                             "reason": pd.Series([], dtype=object)})
    features = list(X.columns)
    matrix = xgb.DMatrix(X, feature_names=features)
    probability = booster.predict(matrix).astype("float64")
    values = X.to_numpy(dtype=np.float64)
    contributions = explainer_of(booster).contributions(values)
    codes, reasons = explain(values, contributions, features, _medians(booster, features), top_reasons)
    return pd.DataFrame({**ids, "model": name, "probability": np.clip(probability, 0.0, 1.0),
                         "model_version": version, "reason_codes": codes, "reason": reasons})


def score_targets(frame: pd.DataFrame, day: dt.date, champions: Iterable[ChampionRef],
                  top_reasons: int = 3) -> pd.DataFrame:
    """gold.propensity_scores rows for a batch of customer-360 rows (`customer_id`, the features and an
    `eligible_<target>` flag per target): each champion scores the rows eligible for its target."""
    parts = []
    for ref in champions:
        eligible = frame[frame[f"eligible_{ref.target}"].astype(bool)]
        if eligible.empty:
            continue
        booster, plan = cached_champion(ref)
        scored = score_rows(eligible, ref.model, ref.version, booster, plan, top_reasons)
        parts.append(scored.assign(kind=ref.kind, target=ref.target))
    if not parts:
        return pd.DataFrame({c: pd.Series([], dtype="float64" if c == "probability" else object)
                             for c in PROPENSITY_COLUMNS})
    scores = pd.concat(parts, ignore_index=True)
    scores.insert(0, "as_of_date", day)
    # The features behind the score, as one text ("a,b,c"): arrays do not survive every engine's append
    # into an existing Delta table alike.
    scores["reason_codes"] = scores["reason_codes"].map(",".join)
    return scores[PROPENSITY_COLUMNS]


def scoring_function(day: dt.date, champions: Iterable[ChampionRef], top_reasons: int = 3
                     ) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """The function `mapInPandas` runs on each partition (schema PROPENSITY_SCHEMA): `score_targets` per
    batch, the champions loaded once per worker. Only the refs travel in its closure."""
    champions = tuple(champions)

    def score_partition(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            scored = score_targets(batch, day, champions, top_reasons)
            if len(scored):
                yield scored

    return score_partition
