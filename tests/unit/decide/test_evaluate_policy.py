"""Off-policy estimators on a simulated log whose truth is known: a logging policy that explores 20% of its
slots, a model that ranks the offers wrongly, and a candidate policy evaluated on the log alone. IPS, SNIPS
and DR must each hold the true value in their interval, and the naive mean of the log must not."""

import dataclasses
import datetime as dt

import pytest
from pyspark.sql import functions as F

from jobs.decide.catalog import load_policy
from jobs.decide.evaluate_policy import evaluate, slot_candidates, target_propensity, with_rewards
from jobs.decide.explore import draw

LOGGING = dataclasses.replace(load_policy(), exploration_share=0.2, exploration_temperature=None)   # uniform draws
# The candidate ranks by value too: the term deposit first, and it explores 10% of its slots.
CANDIDATE = dataclasses.replace(LOGGING, use_value=True, exploration_share=0.1)
# offer -> (product, true acceptance, the model's score, value of an acceptance)
OFFERS = {"SAV-GROW": ("savings", 0.10, 0.25, 60.0), "TD-12M": ("term_deposit", 0.30, 0.15, 200.0),
          "CC-EVERYDAY": ("credit_card", 0.20, 0.05, 70.0)}
SLOTS = 20000
# The logging policy shows its best (SAV-GROW) with 0.8 + 0.2/2, TD-12M with 0.2/2, credit never by chance;
# the candidate: TD-12M 0.9 + 0.1/2, SAV-GROW 0.1/2.
LOGGED_P = {"SAV-GROW": 0.9, "TD-12M": 0.1, "CC-EVERYDAY": 0.0}
TARGET_P = {"SAV-GROW": 0.05, "TD-12M": 0.95, "CC-EVERYDAY": 0.0}
TRUTH = {"acceptance": sum(TARGET_P[o] * OFFERS[o][1] for o in OFFERS),
         "revenue": sum(TARGET_P[o] * OFFERS[o][1] * OFFERS[o][3] for o in OFFERS)}


def simulated_log(spark):
    """Every slot's three candidates, the one shown drawn with the logging propensities, its acceptance drawn
    with the offer's true probability (hash draws: the same log every run)."""
    offers = spark.createDataFrame([(o, p, mu, q, v, LOGGED_P[o]) for o, (p, mu, q, v) in OFFERS.items()],
                                   "offer_id string, product string, mu double, probability double, value double, "
                                   "propensity double")
    slots = spark.range(SLOTS).select(F.concat(F.lit("CU"), F.col("id").cast("string")).alias("customer_id"),
                                      F.lit(dt.date(2026, 7, 1)).alias("as_of_date"), F.lit("mobile").alias("channel"))
    u = draw("customer_id", salt="shown")
    shown = F.when(u < 0.9, "SAV-GROW").otherwise("TD-12M")
    rows = (slots.withColumn("_shown", shown).crossJoin(offers)
            .withColumn("outcome", F.when(F.col("offer_id") == F.col("_shown"), "offered").otherwise("not_selected"))
            .withColumn("holdout", F.lit(False)).withColumn("lever", F.lit(1.0))
            .withColumn("decision_id", F.concat(F.lit("DX"), "customer_id", "offer_id")))
    accepted = (rows.where((F.col("outcome") == "offered") & (draw("customer_id", salt="accept") < F.col("mu")))
                .select("decision_id", F.lit("accepted").alias("event_type")))
    return rows.drop("_shown", "mu"), accepted


def _results(spark, policy):
    log, responses = simulated_log(spark)
    candidates = with_rewards(slot_candidates(log), responses).cache()
    return {(r.metric, r.estimator): r for r in evaluate(candidates, policy).collect()}, candidates


def test_the_policy_formula_gives_the_logged_and_the_candidates_propensities(spark):
    log, _ = simulated_log(spark)
    first = log.where("customer_id = 'CU0'")
    assert {r.offer_id: r.target for r in target_propensity(first, LOGGING).collect()} == pytest.approx(LOGGED_P)
    assert {r.offer_id: r.target for r in target_propensity(first, CANDIDATE).collect()} == pytest.approx(TARGET_P)


def test_a_softmax_explores_in_proportion_to_expected_value_to_the_power_one_over_the_temperature(spark):
    log, _ = simulated_log(spark)
    first = log.where("customer_id = 'CU0'")
    softmax = dataclasses.replace(LOGGING, exploration_temperature=0.5)
    # Explorable: SAV-GROW (0.25, weight 1) and TD-12M (0.15, weight (0.15 / 0.25)^2 = 0.36); credit never.
    explored = {"SAV-GROW": 1 / 1.36, "TD-12M": 0.36 / 1.36, "CC-EVERYDAY": 0.0}
    expected = {o: 0.8 * (o == "SAV-GROW") + 0.2 * p for o, p in explored.items()}
    got = {r.offer_id: r.target for r in target_propensity(first, softmax).collect()}
    assert got == pytest.approx(expected, abs=1e-8)
    assert sum(got.values()) == pytest.approx(1.0)


def test_estimators_hold_the_true_value_of_a_policy_never_run(spark):
    results, candidates = _results(spark, CANDIDATE)
    naive = candidates.where("outcome = 'offered'").agg(F.avg("accepted")).first()[0]
    for metric, truth in TRUTH.items():
        for estimator in ("ips", "snips", "dr"):
            r = results[(metric, estimator)]
            assert r.n == SLOTS
            assert r.lower <= truth <= r.upper, (metric, estimator, r, truth)
            assert r.upper - r.lower < 0.25 * truth   # and the interval says something
    acceptance = results[("acceptance", "dr")]
    assert not acceptance.lower <= naive <= acceptance.upper   # what the log shows is not what the candidate gets


def test_on_its_own_log_the_current_policy_is_estimated_by_what_happened(spark):
    results, candidates = _results(spark, LOGGING)
    observed = candidates.where("outcome = 'offered'").agg(F.avg("accepted")).first()[0]
    truth = sum(LOGGED_P[o] * OFFERS[o][1] for o in OFFERS)
    assert results[("acceptance", "ips")].estimate == pytest.approx(observed)   # every weight is 1
    assert results[("acceptance", "snips")].estimate == pytest.approx(observed)
    r = results[("acceptance", "dr")]
    assert r.lower <= truth <= r.upper
