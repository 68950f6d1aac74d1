"""Thin runs of the model steps: train each target's model on gold.training_set, score the day's
customer-360 with every champion into gold.propensity_scores.

Two gates keep a model out of the offers, and both runs say which targets they leave without a champion
(their products are then not offered by model):
- the floor (jobs/models/registry.py): a champion's test AUC is at least Settings.promotion_min_auc and
  beats a one-feature baseline on the same test set;
- the policy's protected attributes (schemas/decisioning/policy.json): a credit product's model is
  trained without them, and a champion that uses one the policy does not allow for its product is
  retired before training and never scores.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from dataclasses import replace

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.decide.catalog import Policy, load_policy
from jobs.gold.customer_360 import MODEL_FEATURES
from jobs.gold.targets import TARGETS, Target, target
from jobs.gold.training_set import settled_by
from jobs.models import registry
from jobs.models.sample import WEIGHT_COLUMN, Sampling, sample_training_rows
from jobs.models.score import PROPENSITY_SCHEMA, ChampionRef, scoring_function
from jobs.models.train import ModelSpec, train_model
from jobs.publish import publish
from jobs.settings import Settings
from jobs.tables import Lakehouse

log = logging.getLogger(__name__)


def protected_columns(t: Target, policy: Policy) -> frozenset[str]:
    """The columns the policy keeps out of this target's model (a credit product's protected attributes)."""
    return policy.protected.blocked_columns(t.name) if t.kind == "product" else frozenset()


def spec_for(t: Target, policy: Policy | None = None) -> ModelSpec:
    """The target's model: every customer-360 feature but the protected columns the policy blocks for it."""
    policy = policy or load_policy()
    blocked = protected_columns(t, policy)
    features = tuple(f for f in MODEL_FEATURES if f not in blocked)
    left_out = ",".join(f for f in MODEL_FEATURES if f in blocked) or "none"
    return ModelSpec(name=t.model_name, label=t.label, experiment=t.experiment, time_column="as_of_date",
                     features=features, description=t.question,
                     tags={"kind": t.kind, "target": t.name, "protected_left_out": left_out,
                           "policy_version": policy.version})


def _model_features(client, name: str, version: str) -> list[str]:
    """The features a registered version was trained on (its run's features.json, through `client`)."""
    run_id = client.get_model_version(name, version).run_id
    with open(client.download_artifacts(run_id, "features.json")) as handle:
        return json.load(handle)["features"]


def _protected_in_use(client, t: Target, version: str, policy: Policy) -> str | None:
    """Why the version may not serve its product under the policy (it uses a blocked column), or None."""
    blocked = protected_columns(t, policy)
    if not blocked:
        return None
    used = sorted(set(_model_features(client, t.model_name, version)) & blocked)
    if not used:
        return None
    return (f"v{version} uses {', '.join(used)}, protected attribute(s) policy {policy.version} does not allow "
            f"for {t.name}")


def champion_status(client, t: Target, settings: Settings, policy: Policy) -> tuple[str | None, str]:
    """(the champion version scoring may use, or None; why not, in words)."""
    version = registry.alias_version(client, t.model_name, registry.CHAMPION)
    if version is None:
        return None, _why_no_champion(client, t)
    # The AUC logged at training against today's floor (the baseline was judged at promotion): catches a
    # champion promoted before the floor existed, or under a lower one.
    auc = registry.logged_auc(client, t.model_name, version)
    short = None if math.isnan(auc) else registry.Floor(settings.promotion_min_auc).falls_short(auc)
    if short:
        return None, f"champion v{version} falls short of the floor ({short}); run models_weekly to retrain it"
    unfit = _protected_in_use(client, t, version, policy)
    if unfit:
        return None, f"champion {unfit}; run models_weekly to retrain it without them"
    return version, f"champion v{version}"


def _why_no_champion(client, t: Target) -> str:
    """The newest version's promotion reason (e.g. its AUC is below the floor), or that none is trained."""
    newest = _newest_version(client, t.model_name)
    if newest is None:
        return "no model trained yet"
    reason = newest.tags.get("retired") or newest.tags.get("promotion") or "not promoted"
    return f"no champion; v{newest.version}: {reason}"


def _newest_version(client, name: str):
    from mlflow.exceptions import MlflowException

    try:
        versions = client.search_model_versions(f"name = '{name}'")
    except MlflowException:
        return None
    return max(versions, key=lambda v: int(v.version), default=None)


def eligible_rows(lh: Lakehouse, t: Target, features: tuple[str, ...] | None = None, day: dt.date | None = None):
    """The target's eligible rows of gold.training_set as a Spark DataFrame: the ids, the model's features (all
    of MODEL_FEATURES unless given) and the label; every as-of date, or with `day` those whose labels were
    settled on it (a run for the day learns nothing a later run wrote); nothing is read yet."""
    if not lh.exists("gold.training_set"):
        raise FileNotFoundError("gold.training_set has not been written yet; run the training_set step first")
    columns = ["as_of_date", "customer_id", *(MODEL_FEATURES if features is None else features), t.label]
    rows = lh.read("gold.training_set").where(F.col(f"eligible_{t.name}"))
    if day is not None:
        settings = lh.settings
        rows = settled_by(rows, day, settings.label_horizon_days, settings.label_maturity_days)
    return money_as_floats(rows.select(*columns))


def money_as_floats(rows: DataFrame) -> DataFrame:
    """`rows` with its decimal (money) columns cast to double on the engine, as the models read them.

    Money is decimal in the lakehouse and a float to the models. Cast where the rows are, so that Arrow hands
    pandas float64 columns instead of one Decimal object per value: converting those in pandas took a quarter
    of a model's training and a fifth of the scoring. Training and scoring both read through here, so a model
    sees the same floats at both (a decimal becomes its nearest double on every engine)."""
    from pyspark.sql.types import DecimalType

    return rows.select(*[F.col(f.name).cast("double").alias(f.name) if isinstance(f.dataType, DecimalType)
                         else F.col(f.name) for f in rows.schema.fields])


def training_rows(lh: Lakehouse, t: Target, features: tuple[str, ...] | None = None, day: dt.date | None = None
                  ) -> tuple[pd.DataFrame, Sampling]:
    """The rows the target's model is trained on, sampled in Spark before they reach the driver: every
    eligible positive, and the negatives sampled (deterministically, jobs/models/sample.py) to the caps in
    the settings, with a `sample_weight` column (1 / sampling rate on negatives) so probabilities stay
    calibrated. Sorted by as-of date and customer, so the same rows always reach XGBoost in the same order."""
    settings = lh.settings
    rows, sampling = sample_training_rows(
        eligible_rows(lh, t, features, day), t.label, settings.seed, ratio=settings.training_negative_ratio,
        min_negatives=settings.training_min_negatives, max_negatives=settings.training_max_negatives)
    frame = rows.toPandas()
    frame = frame.sort_values(["as_of_date", "customer_id"], kind="stable").reset_index(drop=True)
    sampling = replace(sampling, negatives_kept=len(frame) - int((frame[t.label] == 1).sum()))
    log.info("%s training rows: %d positives (all kept), %d of %d negatives kept (rate %.4f, weight %.2f)",
             t.model_name, sampling.positives, sampling.negatives_kept, sampling.negatives, sampling.negative_rate,
             sampling.negative_weight)
    return frame, sampling


def _already_trained(client, settings: Settings, spec: ModelSpec, test_time: str) -> str | None:
    """What became of the newest version when it was trained on the same latest as-of date, under the same
    floor and with the same protected columns left out (a re-run retrains nothing); None: train."""
    newest = _newest_version(client, spec.name)
    if newest is None:
        return None
    tags = newest.tags
    same = (tags.get("test_time") == test_time and tags.get("min_auc") == repr(settings.promotion_min_auc)
            and tags.get("protected_left_out") == spec.tags["protected_left_out"])
    if not same:
        return None
    champion = registry.alias_version(client, spec.name, registry.CHAMPION)
    outcome = "champion" if champion == str(newest.version) else \
        f"not champion, {tags.get('retired') or tags.get('promotion', 'not promoted')}"
    return f"v{newest.version} already trained with as-of dates up to {test_time}: {outcome}"


def _retire_if_protected(client, t: Target, policy: Policy) -> str | None:
    """Retire a champion that uses a protected attribute the policy does not allow for its product, so the
    new model (trained without it) is not compared with it; the reason, or None."""
    version = registry.alias_version(client, t.model_name, registry.CHAMPION)
    unfit = version and _protected_in_use(client, t, version, policy)
    if unfit:
        registry.retire_champion(client, t.model_name, version, unfit)
    return unfit or None


def train_target(lh: Lakehouse, name: str, policy: Policy | None = None, day: dt.date | None = None) -> dict:
    """Train one target's model (on the as-of dates settled by `day`, all of them without); a target without
    enough positives is skipped with the reason. `champion` says which version scores the target after the run
    (None: its product is not offered by model)."""
    t = target(name)
    policy = policy or load_policy()
    spec = replace(spec_for(t, policy), weight_column=WEIGHT_COLUMN)   # the sampled negatives' weights
    frame, sampling = training_rows(lh, t, spec.features, day)
    registry.configure_mlflow(lh.settings, t.experiment)
    if frame.empty:
        return _with_champion(lh, t, policy, {"skipped": "no eligible rows in gold.training_set"})
    test_time = str(frame["as_of_date"].max())
    client = registry.client(lh.settings)
    spec.tags["test_time"] = test_time
    retired = _retire_if_protected(client, t, policy)
    existing = _already_trained(client, lh.settings, spec, test_time)
    if existing:
        return _with_champion(lh, t, policy, {"skipped": existing})
    try:
        result = train_model(frame, spec, lh.settings, params=sampling.params())
    except ValueError as exc:  # too few positives at this size: say so, do not fail the run
        log.warning("not training %s: %s", t.model_name, exc)
        return _with_champion(lh, t, policy, {"skipped": str(exc)})
    baseline = result.baseline
    return {"version": result.version, "auc": round(result.auc, 4), "pr_auc": round(result.test.pr_auc, 4),
            "brier": round(result.test.brier, 5), "lift_top_decile": round(result.test.lift_top_decile, 2),
            "min_auc": result.min_auc, "baseline_auc": None if baseline is None else round(baseline.auc, 4),
            "baseline": None if baseline is None else baseline.describe(),
            "promoted": result.promoted, "champion": result.champion,
            "reason": result.reason + (f"; champion {retired}, so it was retired first" if retired else ""),
            "protected_left_out": spec.tags["protected_left_out"], "positives": sampling.positives,
            "negatives": sampling.negatives, "negatives_kept": sampling.negatives_kept,
            "negative_rate": round(sampling.negative_rate, 6),
            "rows": len(frame), "test_time": test_time}


def _with_champion(lh: Lakehouse, t: Target, policy: Policy, outcome: dict) -> dict:
    """A skipped target's outcome, with the champion that still scores it (if any)."""
    version, why = champion_status(registry.client(lh.settings), t, lh.settings, policy)
    return {**outcome, "champion": version, **({} if version else {"no_champion": why})}


def train(lh: Lakehouse, day: dt.date, targets: tuple[str, ...] | None = None) -> dict:
    policy = load_policy()
    models = {name: train_target(lh, name, policy, day) for name in (targets or tuple(TARGETS))}
    return {"models": models, "no_champion": {name: m.get("no_champion") or m.get("reason") or m.get("skipped")
                                              for name, m in models.items() if m["champion"] is None}}


def scoring_rows(lh: Lakehouse, day: dt.date):
    """The day's gold.customer_360 as scoring reads it (a Spark DataFrame): the customer, the model features
    and an `eligible_<target>` flag per target."""
    c360 = lh.read("gold.customer_360").where(F.col("as_of_date") == F.lit(day))
    flags = [F.coalesce(F.expr(t.eligible), F.lit(False)).alias(f"eligible_{t.name}") for t in TARGETS.values()]
    return money_as_floats(c360.select("customer_id", *MODEL_FEATURES, *flags))


def champions(lh: Lakehouse) -> tuple[list[ChampionRef], dict[str, str]]:
    """The champion each target scores with (resolved once, on the driver), and the targets left unscored
    with why (no champion, or one that falls short of the floor or uses a protected attribute the policy
    does not allow)."""
    settings = lh.settings
    client = registry.client(settings)
    policy = load_policy()
    refs, unscored = [], {}
    for t in TARGETS.values():
        version, why = champion_status(client, t, settings, policy)
        if version is None:
            log.warning("%s not scored: %s", t.model_name, why)
            unscored[t.name] = why
            continue
        source = client.get_model_version(t.model_name, version).source or ""
        refs.append(ChampionRef(target=t.name, kind=t.kind, model=t.model_name, version=version,
                                uri=settings.mlflow_uri, source=source))
    return refs, unscored


def score(lh: Lakehouse, day: dt.date) -> tuple[dict[str, int], dict]:
    """Score every customer of the day's 360 with each champion, for the targets they are eligible for.

    The scoring runs where the rows are: `mapInPandas` hands each partition's batches to the pandas
    kernel (jobs/models/score.py, `score_targets`), each Python worker loads a champion once, and the
    scores are written from there; no more than one row of the customer base comes to the driver.

    Returns the rows written and the details: `no_champion`, each target left unscored and why (no
    champion, or one that falls short of the floor or uses a protected attribute the policy does not
    allow): its product is not offered by model that day."""
    rows = scoring_rows(lh, day)
    if rows.isEmpty():
        raise ValueError(f"gold.customer_360 has no rows for {day}; run the customer_360 step first")
    refs, unscored = champions(lh)
    if refs:
        df = rows.mapInPandas(scoring_function(day, refs), PROPENSITY_SCHEMA)
    else:  # a new lakehouse: nothing to score with until models_weekly has trained
        log.warning("no model has a champion yet: nothing scored for %s (run the models_weekly DAG)", day)
        df = lh.spark.createDataFrame([], PROPENSITY_SCHEMA)
    counts = publish(lh, "gold.propensity_scores", df, day)
    return counts, {"no_champion": unscored}
