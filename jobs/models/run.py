"""Thin runs of the model steps: train each target's model on gold.training_set, score the day's
customer-360 with every champion into gold.propensity_scores."""

from __future__ import annotations

import datetime as dt
import logging

import pandas as pd
from pyspark.sql import functions as F

from jobs.gold.customer_360 import MODEL_FEATURES
from jobs.gold.targets import TARGETS, Target, target
from jobs.models import registry
from jobs.models.score import score as score_frame
from jobs.models.train import ModelSpec, train_model
from jobs.tables import Lakehouse

log = logging.getLogger(__name__)


def spec_for(t: Target) -> ModelSpec:
    return ModelSpec(name=t.model_name, label=t.label, experiment=t.experiment, time_column="as_of_date",
                     features=tuple(MODEL_FEATURES), description=t.question,
                     tags={"kind": t.kind, "target": t.name})


def training_rows(lh: Lakehouse, t: Target) -> pd.DataFrame:
    """The target's eligible rows of every as-of date, read with delta-rs (no Spark round trip)."""
    import pyarrow.compute as pc

    if not lh.exists("gold.training_set"):
        raise FileNotFoundError("gold.training_set has not been written yet; run the training_set step first")
    table = lh.delta_table("gold.training_set").to_pyarrow_table(
        columns=["as_of_date", "customer_id", *MODEL_FEATURES, f"eligible_{t.name}", t.label])
    return table.filter(pc.field(f"eligible_{t.name}")).to_pandas()


def _already_trained(lh: Lakehouse, t: Target, test_time: str) -> str | None:
    """The champion's version when it was trained with the same latest as-of date (a re-run retrains nothing)."""
    client = registry.client(lh.settings)
    version = registry.alias_version(client, t.model_name, registry.CHAMPION)
    if version is None:
        return None
    tags = client.get_model_version(t.model_name, version).tags
    return version if tags.get("test_time") == test_time else None


def train_target(lh: Lakehouse, name: str) -> dict:
    """Train one target's model; a target without enough positives is skipped with the reason."""
    t = target(name)
    frame = training_rows(lh, t)
    if frame.empty:
        return {"skipped": "no eligible rows in gold.training_set"}
    test_time = str(frame["as_of_date"].max())
    registry.configure_mlflow(lh.settings, t.experiment)
    existing = _already_trained(lh, t, test_time)
    if existing:
        return {"skipped": f"champion v{existing} already trained with as-of dates up to {test_time}"}
    spec = spec_for(t)
    spec.tags["test_time"] = test_time
    try:
        result = train_model(frame, spec, lh.settings)
    except ValueError as exc:  # too few positives at this size: say so, do not fail the run
        log.warning("not training %s: %s", t.model_name, exc)
        return {"skipped": str(exc)}
    return {"version": result.version, "auc": round(result.auc, 4), "pr_auc": round(result.test.pr_auc, 4),
            "brier": round(result.test.brier, 5), "lift_top_decile": round(result.test.lift_top_decile, 2),
            "promoted": result.promoted, "reason": result.reason, "positives": int(frame[t.label].sum()),
            "rows": len(frame), "test_time": test_time}


def train(lh: Lakehouse, day: dt.date, targets: tuple[str, ...] | None = None) -> dict:
    return {"models": {name: train_target(lh, name) for name in (targets or tuple(TARGETS))}}


def score(lh: Lakehouse, day: dt.date) -> dict[str, int]:
    """Score every customer of the day's 360 with each champion, for the targets they are eligible for."""
    settings = lh.settings
    c360 = lh.read("gold.customer_360").where(F.col("as_of_date") == F.lit(day))
    flags = [F.coalesce(F.expr(t.eligible), F.lit(False)).alias(f"eligible_{t.name}") for t in TARGETS.values()]
    frame = c360.select("customer_id", *MODEL_FEATURES, *flags).toPandas()
    if frame.empty:
        raise ValueError(f"gold.customer_360 has no rows for {day}; run the customer_360 step first")
    client = registry.client(settings)
    parts = []
    for t in TARGETS.values():
        if registry.alias_version(client, t.model_name, registry.CHAMPION) is None:
            log.warning("no champion for %s yet: not scored", t.model_name)
            continue
        eligible = frame[frame[f"eligible_{t.name}"]]
        if not eligible.empty:
            scored = score_frame(eligible, t.model_name, settings)
            parts.append(scored.assign(kind=t.kind, target=t.name))
    columns = ["as_of_date", "customer_id", "kind", "target", "model", "probability", "model_version",
               "reason_codes", "reason"]
    if parts:
        scores = pd.concat(parts, ignore_index=True)
        scores.insert(0, "as_of_date", day)
        # The features behind the score, as one text ("a,b,c"): arrays do not survive every engine's
        # append into an existing Delta table alike.
        scores["reason_codes"] = scores["reason_codes"].map(",".join)
    else:  # a new lakehouse: nothing to score with until models_weekly has trained
        log.warning("no model has a champion yet: nothing scored for %s (run the models_weekly DAG)", day)
        scores = pd.DataFrame(columns=columns)
    df = lh.spark.createDataFrame(
        scores[columns],
        "as_of_date date, customer_id string, kind string, target string, model string, probability double, "
        "model_version string, reason_codes string, reason string")
    return {"gold.propensity_scores": lh.replace_for_date("gold.propensity_scores", df, day)}
