"""The daily decision step: candidates -> eligibility -> consent -> suitability -> contact policy -> price ->
arbitration -> holdout, written to audit.decision_log (every candidate), checked for fairness, then
published to the channel tables, their exports and gold.next_best_offer.

Everything of a date is replaced as a whole, so a re-run of a date decides and publishes the same.
"""

from __future__ import annotations

import datetime as dt
import logging

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from jobs.decide.arbitrate import arbitrate, decision_id
from jobs.decide.candidates import (
    build_candidates,
    catalog_frame,
    channel_affinity,
    contact_history,
    customer_facts,
    marketing_consent,
)
from jobs.decide.catalog import CHANNELS, Catalog, Policy, catalog_rows, load_catalog, load_policy, policy_rows
from jobs.decide.channels import channel_offers, channel_table, content_frame, write_exports
from jobs.decide.fairness import fairness_report
from jobs.decide.pricing import add_price_and_value
from jobs.decide.rules import apply_rules, check_rules
from jobs.publish import validated_write
from jobs.tables import Lakehouse
from jobs.unify.customers import newest_versions
from jobs.unify.engagement import offer_interactions

log = logging.getLogger(__name__)

LOG_COLUMNS = ["decision_id", "as_of_date", "customer_id", "offer_id", "product", "channel", "outcome",
               "excluded_by", "excluded_at", "note", "holdout", "probability", "value", "lever", "expected_value",
               "risk", "price", "price_unit", "rank", "model", "model_version", "reason_codes", "reason",
               "catalog_version", "policy_version"]


class FairnessGateError(RuntimeError):
    """The fairness gate is set to block and a group was flagged: nothing was published to the channels."""


def _on(day: dt.date) -> str:
    return f"as_of_date = DATE'{day.isoformat()}'"


def _empty_scores(lh: Lakehouse) -> DataFrame:
    return lh.spark.createDataFrame([], "as_of_date date, customer_id string, kind string, target string, "
                                        "model string, probability double, model_version string, "
                                        "reason_codes string, reason string")


def decide(lh: Lakehouse, day: dt.date, catalog: Catalog, policy: Policy,
           scores: DataFrame | None = None) -> DataFrame:
    """Every candidate of `day` with its outcome, in LOG_COLUMNS (+ price_kind for the channel content).

    `scores` (customer_id, kind, target, probability, model, model_version, reason_codes, reason) replaces
    the day's gold.propensity_scores: benchmarks use it to run other arbitration policies (segment rules,
    random) through the same rules and caps."""
    spark = lh.spark
    c360 = lh.read("gold.customer_360").where(_on(day))
    if scores is None:
        scores = (lh.read("gold.propensity_scores").where(_on(day)) if lh.exists("gold.propensity_scores")
                  else _empty_scores(lh))
    # Silver as known on the day (jobs/known.py): a re-run of the day decides the same, whatever came since.
    interactions = offer_interactions(lh.read_known("silver.offer_event", day))
    campaign = (interactions.where(~F.col("holdout") & F.col("sent_at").isNotNull())
                .select("customer_id", "channel", F.to_date("sent_at").alias("sent_date"),
                        F.col("opened_at").isNotNull().alias("opened")))
    declines = interactions.where("response = 'declined'").select(
        "customer_id", "product", F.to_date("response_at").alias("declined_date"))
    if lh.exists("silver.offer_response"):
        declines = declines.unionByName(lh.read_known("silver.offer_response", day).where(
            "event_type = 'declined'").select(
            "customer_id", "product", F.to_date("event_at").alias("declined_date")))
    previous = (lh.read("audit.decision_log").where("outcome = 'offered'").select("customer_id", "channel",
                                                                                     "as_of_date")
                if lh.exists("audit.decision_log")
                else spark.createDataFrame([], "customer_id string, channel string, as_of_date date"))
    per_channel, per_customer, declined = contact_history(previous, campaign, declines, day, policy)
    golden = newest_versions(lh.read_known("silver.customer_version", day))  # the golden records of the day
    candidates = build_candidates(
        c360, customer_facts(golden), scores, catalog_frame(spark, catalog, day),
        marketing_consent(lh.read_known("silver.consent_event", day), day), per_channel, per_customer, declined,
        channel_affinity(campaign))
    check_rules(candidates, policy)
    decided = arbitrate(add_price_and_value(apply_rules(candidates, policy)), policy)
    return (decided.withColumn("catalog_version", F.lit(catalog.version))
            .withColumn("policy_version", F.lit(policy.version))
            .withColumn("decision_id", decision_id())
            .select(*LOG_COLUMNS, "price_kind"))


def next_best_offers(decisions: DataFrame) -> DataFrame:
    """Per customer the offered decision of highest expected value (gold.next_best_offer)."""
    best = Window.partitionBy("customer_id").orderBy(F.desc("expected_value"), "offer_id", "channel")
    return (decisions.where("outcome = 'offered'").withColumn("_n", F.row_number().over(best)).where("_n = 1")
            .select("as_of_date", "customer_id", "product", F.col("probability").alias("score"),
                    F.lit(1).alias("rank"), "reason", "model_version", "offer_id", "channel", "price", "price_unit",
                    "expected_value", "decision_id"))


def run(lh: Lakehouse, day: dt.date) -> dict[str, int]:
    catalog, policy = load_catalog(), load_policy()
    counts = {"gold.offer_catalog": lh.merge_upsert("gold.offer_catalog",
                                                    lh.spark.createDataFrame(catalog_rows(catalog))),
              "gold.decision_policy": lh.merge_upsert(
                  "gold.decision_policy", lh.spark.createDataFrame(
                      policy_rows(policy), "policy_version string, rule_id string, rule_type string, "
                      "description string, exclude_when string, kind string, `limit` int, days int"))}
    decisions = lh.scratch(decide(lh, day, catalog, policy), "decisions")
    counts["audit.decision_log"] = lh.replace_for_date("audit.decision_log", decisions.drop("price_kind"), day)

    first = (day - dt.timedelta(days=policy.fairness_window_days - 1)).isoformat()
    window = lh.read("audit.decision_log").where(f"as_of_date between DATE'{first}' and DATE'{day.isoformat()}'")
    window = window.join(lh.spark.createDataFrame([(o.offer_id, o.price_kind) for o in catalog.offers],
                                                  "offer_id string, price_kind string"), "offer_id", "left")
    fairness = fairness_report(window, lh.read("gold.customer_360").where(_on(day)), policy)
    counts["gold.fairness_daily"] = lh.replace_for_date("gold.fairness_daily", fairness, day)
    flagged = lh.read("gold.fairness_daily").where(_on(day)).where("flagged").collect()
    for row in flagged:
        log.warning("fairness flag on %s: %s %s %s ratio %.2f (below %.2f)", day, row.dimension, row.group,
                    row.metric, row.ratio, policy.fairness_min_ratio)
    if flagged and lh.settings.fairness_gate == "block":
        groups = "; ".join(f"{r.dimension}={r.group} {r.metric} ratio {r.ratio:.2f}" for r in flagged)
        raise FairnessGateError(f"fairness gate blocked publishing the offers of {day}: {groups} "
                                f"(decisions are in audit.decision_log, the check in gold.fairness_daily)")

    content = content_frame(lh.spark, catalog)
    for channel in CHANNELS:
        name = channel_table(channel)
        counts.update(validated_write(lh, name, channel_offers(decisions, content, channel), day,
                                      lambda valid, name=name: lh.replace_for_date(name, valid, day)))
        published = lh.delta_table(name).to_pandas(filters=[("as_of_date", "=", day)])
        write_exports(lh.settings.home, channel, day, published.sort_values(["customer_id", "rank"]))
    counts.update(validated_write(lh, "gold.next_best_offer", next_best_offers(decisions), day,
                                  lambda valid: lh.replace_for_date("gold.next_best_offer", valid, day)))
    return counts
