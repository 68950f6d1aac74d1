"""Thin runs of the model steps: train on gold.training_set, score gold.customer_360 with champions."""

from __future__ import annotations

import datetime as dt
import logging

import pandas as pd
from pyspark.sql import functions as F

from jobs.gold.customer_360 import MODEL_FEATURES
from jobs.gold.training_set import PROPENSITY_PRODUCTS, training_cutoff
from jobs.models import registry
from jobs.models.score import score as score_frame
from jobs.models.train import MIN_CLASS_COUNT, model_name, train_propensity
from jobs.tables import Lakehouse

log = logging.getLogger(__name__)


def _champion_trained_on(settings, product: str, cutoff: dt.date) -> str | None:
    """The champion's version when it was already trained on this cutoff (so a re-run retrains nothing)."""
    client = registry.client(settings)
    version = registry.alias_version(client, model_name(product), registry.CHAMPION)
    if version is None:
        return None
    tags = client.get_model_version(model_name(product), version).tags
    return version if tags.get("as_of") == cutoff.isoformat() else None


def train(lh: Lakehouse, day: dt.date) -> dict:
    settings = lh.settings
    cutoff = training_cutoff(day, settings.label_horizon_days)
    registry.configure_mlflow(settings)
    frame = (lh.read("gold.training_set").where(F.col("as_of_date") == F.lit(cutoff)).toPandas())
    if frame.empty:
        raise ValueError(f"gold.training_set has no rows for cutoff {cutoff}; run the training_set step first")
    outcome = {"cutoff": cutoff.isoformat(), "models": {}}
    for product in PROPENSITY_PRODUCTS:
        existing = _champion_trained_on(settings, product, cutoff)
        if existing:
            outcome["models"][product] = {"skipped": f"champion v{existing} already trained on {cutoff}"}
            continue
        eligible = frame[frame[f"has_{product}"] == 0]
        label = f"label_{product}"
        positives = int(eligible[label].sum())
        if min(positives, len(eligible) - positives) < MIN_CLASS_COUNT:
            log.warning("not training %s: %d positives in %d rows", product, positives, len(eligible))
            outcome["models"][product] = {"skipped": f"{positives} positives in {len(eligible)} rows"}
            continue
        result = train_propensity(eligible, product, label, list(MODEL_FEATURES), settings, cutoff)
        outcome["models"][product] = {"version": result.version, "auc": round(result.auc, 4),
                                      "pr_auc": round(result.pr_auc, 4), "promoted": result.promoted,
                                      "positives": result.positives, "rows": result.n_train + result.n_valid}
    return outcome


def score(lh: Lakehouse, day: dt.date) -> dict[str, int]:
    """Score every customer of the day's 360 for each product they do not hold, with the champion."""
    settings = lh.settings
    registry.configure_mlflow(settings)
    client = registry.client(settings)
    c360 = lh.read("gold.customer_360").where(F.col("as_of_date") == F.lit(day)).toPandas()
    if c360.empty:
        raise ValueError(f"gold.customer_360 has no rows for {day}; run the customer_360 step first")
    parts = []
    for product in PROPENSITY_PRODUCTS:
        if registry.alias_version(client, model_name(product), registry.CHAMPION) is None:
            log.warning("no champion for %s yet: not scored", product)
            continue
        eligible = c360[c360[f"has_{product}"] == 0]
        if not eligible.empty:
            parts.append(score_frame(eligible, product, settings))
    if not parts:
        raise RuntimeError("no product has a champion model: run the train step first")
    scores = pd.concat(parts, ignore_index=True)
    scores.insert(0, "as_of_date", day)
    df = lh.spark.createDataFrame(scores[["as_of_date", "customer_id", "product", "probability",
                                          "model_version", "reason"]])
    df = df.withColumn("as_of_date", F.col("as_of_date").cast("date"))
    return {"gold.propensity_scores": lh.replace_for_date("gold.propensity_scores", df, day)}
