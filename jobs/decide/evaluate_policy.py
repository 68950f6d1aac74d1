"""Off-policy evaluation: what another policy would have earned on the decisions already logged.

Each logged slot (customer x channel x date that got an offer) is one sample: the offer shown `a`, the
probability the logging policy showed it (`propensity`, jobs/decide/explore.py), the reward (accepted: 1/0;
revenue: the offer's value when accepted) and, for every candidate of the slot, the probability the
evaluated policy would show it (`target`) and the model's predicted reward (`q`: the logged learned
acceptance, times the value for revenue). With w = target(a) / propensity(a):

- IPS     mean(w r)                                  unbiased where the logging policy gave every offer the
                                                     evaluated policy shows a chance (exploration)
- SNIPS   sum(w r) / sum(w)                          less variance, slightly biased
- DR      mean(sum_b target(b) q(b) + w (r - q(a)))  unbiased if the propensities or q are right

Confidence intervals are the normal approximation (mean +/- z sd / sqrt(n); SNIPS by the delta method).
The evaluated policy re-ranks each slot's candidates as the log has them (outcome offered or not_selected:
every rule passed); its weights, levers and exploration change, the slots and rules stay as logged.
Everything is DataFrame -> DataFrame; only the one-row-per-estimator results reach the driver.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.decide.arbitrate import expected_value
from jobs.decide.catalog import Policy
from jobs.decide.explore import explore_weight, propensity
from jobs.decide.learn import learned_acceptance

SLOT = ("as_of_date", "customer_id", "channel")
ESTIMATORS = ("ips", "snips", "dr")
Z95 = 1.959964


def slot_candidates(log_rows: DataFrame) -> DataFrame:
    """The candidates of every logged slot with a known propensity: the rows every rule allowed (offered or
    not_selected) of a customer-channel-date whose offer has a logged propensity above 0 (rows logged before
    the column, or by the decision API, which never explores, have none to weigh by)."""
    allowed = log_rows.where(F.col("outcome").isin("offered", "not_selected") & ~F.col("holdout"))
    shown = (allowed.where((F.col("outcome") == "offered") & (F.col("propensity") > 0)
                           & F.col("decision_id").startswith("DX"))
             .groupBy(*SLOT).agg(F.count("*").alias("_n")).where("_n = 1").drop("_n"))
    return allowed.join(shown, list(SLOT), "left_semi")


def with_rewards(candidates: DataFrame, responses: DataFrame) -> DataFrame:
    """Adds `accepted` (1.0/0.0 on the offered row: silver.offer_response holds an acceptance for its
    decision id; NULL on the others) and `revenue` (the offer's value when accepted)."""
    accepted = (responses.where(F.col("event_type") == "accepted").select("decision_id").distinct()
                .withColumn("_accepted", F.lit(1.0)))
    shown = F.col("outcome") == "offered"
    return (candidates.join(accepted, "decision_id", "left")
            .withColumn("accepted", F.when(shown, F.coalesce("_accepted", F.lit(0.0))))
            .withColumn("revenue", F.col("accepted") * F.coalesce("value", F.lit(0.0))).drop("_accepted"))


def target_propensity(candidates: DataFrame, policy: Policy) -> DataFrame:
    """Adds `target`: the probability `policy` shows each candidate of its slot, epsilon-greedy over its own
    expected value among the slot's candidates (jobs/decide/explore.py's formula, so the current policy
    evaluated this way gives the logged propensities back where the log's slots are its own)."""
    slot = Window.partitionBy(*SLOT)
    greedy = slot.orderBy(F.desc("_ev"), "offer_id")
    explorable = ~F.col("product").isin(*policy.no_explore) if policy.no_explore else F.lit(True)
    if "learned_factor" not in candidates.columns:   # logged before learning: nothing learned
        candidates = candidates.withColumn("learned_factor", F.lit(None).cast("double"))
    return (candidates.withColumn("_ev", F.coalesce(F.round(expected_value(policy), 6), F.lit(0.0)))
            .withColumn("_best_offer", F.first("offer_id").over(greedy))
            .withColumn("_can_explore", explorable)
            .withColumn("_m", F.sum(F.col("_can_explore").cast("int")).over(slot))
            .withColumn("_w", explore_weight(policy, "_ev"))
            .withColumn("_w_sum", F.sum("_w").over(slot))
            .withColumn("_slot", F.lit(True)).withColumn("_in_slot", F.lit(True))
            .withColumn("target", propensity(policy))
            .drop("_ev", "_best_offer", "_can_explore", "_m", "_w", "_w_sum", "_slot", "_in_slot"))


def per_slot(candidates: DataFrame, reward: str, q: Column) -> DataFrame:
    """One row per slot: w (target / propensity of the offer shown), r (its reward), q_shown (the model's
    prediction for it) and dm (the evaluated policy's predicted reward: sum of target x q)."""
    shown = F.col("outcome") == "offered"
    return (candidates.withColumn("_q", F.coalesce(q, F.lit(0.0))).groupBy(*SLOT).agg(
        F.max(F.when(shown, F.col("target") / F.col("propensity"))).alias("w"),
        F.max(F.when(shown, F.col(reward))).alias("r"),
        F.max(F.when(shown, F.col("_q"))).alias("q_shown"),
        F.sum(F.col("target") * F.col("_q")).alias("dm")))


def estimates(slots: DataFrame, z: float = Z95) -> DataFrame:
    """IPS, SNIPS and DR with their normal-approximation intervals from per_slot()'s rows: one row per
    estimator (estimator, estimate, lower, upper, n)."""
    s = (slots.withColumn("_ips", F.col("w") * F.col("r"))
         .withColumn("_dr", F.col("dm") + F.col("w") * (F.col("r") - F.col("q_shown"))))
    agg = s.agg(F.count("*").alias("n"), F.avg("_ips").alias("ips"), F.stddev_samp("_ips").alias("ips_sd"),
                F.avg("_dr").alias("dr"), F.stddev_samp("_dr").alias("dr_sd"), F.avg("w").alias("w_mean"),
                F.sum("_ips").alias("wr"), F.sum("w").alias("w_sum"))
    agg = agg.withColumn("snips", F.col("wr") / F.col("w_sum"))
    # Delta method: SNIPS's variance is that of w (r - snips), divided by mean(w)^2.
    resid = s.crossJoin(agg.select("snips")).agg(F.stddev_samp(F.col("w") * (F.col("r") - F.col("snips")))
                                                 .alias("snips_sd_raw"))
    agg = agg.crossJoin(resid).withColumn("snips_sd", F.col("snips_sd_raw") / F.col("w_mean"))
    half = {e: F.lit(z) * F.coalesce(F.col(f"{e}_sd"), F.lit(0.0)) / F.sqrt(F.col("n")) for e in ESTIMATORS}
    rows = [F.struct(F.lit(e).alias("estimator"), F.col(e).alias("estimate"), (F.col(e) - half[e]).alias("lower"),
                     (F.col(e) + half[e]).alias("upper"), F.col("n").alias("n")) for e in ESTIMATORS]
    return agg.select(F.explode(F.array(*rows)).alias("e")).select("e.*")


def evaluate(candidates: DataFrame, policy: Policy, z: float = Z95) -> DataFrame:
    """`policy`'s acceptance rate and revenue per slot on the logged candidates (with_rewards()'s columns):
    rows (metric, estimator, estimate, lower, upper, n). The model's q: the learned acceptance the log holds
    (the propensity score x the learned factor, jobs/decide/learn.py; the score alone for rows logged without
    learning), times the offer's value for revenue."""
    targeted = target_propensity(candidates, policy)
    q_accept = learned_acceptance()
    out = []
    for metric, reward, q in (("acceptance", "accepted", q_accept),
                              ("revenue", "revenue", q_accept * F.coalesce("value", F.lit(0.0)))):
        out.append(estimates(per_slot(targeted, reward, q), z).withColumn("metric", F.lit(metric)))
    return out[0].unionByName(out[1]).select("metric", "estimator", "estimate", "lower", "upper", "n")
