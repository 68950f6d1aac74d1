"""Holdout, arbitration by expected value, and the outcome of every candidate.

Expected value = propensity x value x business lever, each factor switchable in the policy (off = 1); with
learning on, the propensity is the learned acceptance (jobs/decide/learn.py).
Selection, per customer, in this order:
1. one channel per product: of the channels still open, the one the customer opened most offers on,
   then the catalog's channel order;
2. per channel, the best `offers_per_channel` offers by expected value, fewer when the channel cap
   leaves less room after the contacts of the last days;
3. across channels, no more than the fatigue cap leaves room for, best expected value first.
Ties break on offer id and channel, so a re-run picks the same offers.

With an exploration share in the policy (jobs/decide/explore.py), a channel's slot may go to a candidate
drawn among those every rule allows instead of the best; the fatigue cap still ranks the slot by its best
candidate, so exploration changes what a slot shows, never which slots there are. Every row logs the
probability with which the policy chose it (`propensity`).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.decide.catalog import Policy
from jobs.decide.explore import mark_exploration, propensity
from jobs.decide.learn import learned_acceptance
from jobs.domain import in_holdout

OUTCOMES = ("offered", "not_selected", "excluded", "holdout")
# The candidate columns arbitrate() reads, besides the keys (customer_id, product, offer_id, channel, as_of_date).
ARBITRATION_INPUTS = ("excluded_by", "excluded_at", "probability", "learned_factor", "value", "lever", "affinity",
                      "channel_order", "channel_contacts", "contacts")
# What the choice among the open candidates decides for each (False on a closed one): the outcome and note read them.
CHOICE = ("_pick", "_in_slot", "_explored", "_fits_channel", "_selected", "_slot_explored")


def expected_value(policy: Policy) -> Column:
    """propensity x value x lever, each as the policy switches it; with learning on, the propensity is the learned
    acceptance (the model's probability x the learned factor, jobs/decide/learn.py)."""
    one = F.lit(1.0)
    chance = learned_acceptance() if policy.learning.enabled else F.col("probability")
    return ((chance if policy.use_propensity else one)
            * (F.col("value") if policy.use_value else one)
            * (F.col("lever") if policy.use_lever else one))


def decision_id() -> Column:
    key = F.concat_ws("|", F.col("as_of_date").cast("string"), "customer_id", "offer_id", "channel")
    return F.concat(F.lit("DX"), F.upper(F.substring(F.sha2(key, 256), 1, 18)))


def arbitrate(priced: DataFrame, policy: Policy) -> DataFrame:
    """Adds holdout, expected_value, outcome, note, rank (1.. per customer and channel for offered rows) and
    propensity (the probability the policy offered the row; see jobs/decide/explore.py).

    Only the open candidates (no rule excludes them, not in the holdout) compete: the rankings below run over
    them alone (on a large bank about a sixth of the candidates), and a closed candidate's outcome needs none.
    `priced` is read twice, once per kind: a caller with a long plan behind it stores it first (decide())."""
    for column, kind in (("context", "string"), ("learned_factor", "double")):
        if column not in priced.columns:   # candidates decided without learning (jobs/decide/learn.py)
            priced = priced.withColumn(column, F.lit(None).cast(kind))
    df = (priced.withColumn("holdout", in_holdout(policy.holdout_share))
          .withColumn("expected_value", F.round(expected_value(policy), 6))
          .withColumn("_open", F.coalesce((F.col("excluded_by") == "") & ~F.col("holdout"), F.lit(False))))
    carried = [*df.columns, *CHOICE, "rank", "propensity"]
    closed = df.where(~F.col("_open")).select(
        *df.columns, *[F.lit(False).alias(c) for c in CHOICE], F.lit(None).cast("int").alias("rank"),
        F.lit(0.0).alias("propensity"))
    decided = _choose(df.where(F.col("_open")), policy).select(*carried).unionByName(closed.select(*carried))

    outcome = (F.when(F.col("holdout"), "holdout").when(F.col("excluded_by") != "", "excluded")
               .when(F.col("_selected"), "offered").otherwise("not_selected"))
    note = (F.when(F.col("holdout"), "in the random holdout: receives no offer (uplift measurement)")
            .when(F.col("excluded_by") != "", F.concat(F.lit("excluded at "), F.col("excluded_at")))
            .when(F.col("_selected") & F.col("_explored"),
                  "drawn by exploration among the offers every rule allows (the policy's exploration share)")
            .when(F.col("_selected"), "highest expected value within the contact limits")
            .when(~F.col("_pick") & F.col("_in_slot"), "another offer of the same product ranks higher on this channel")
            .when(~F.col("_pick"), "the same product goes out on a channel the customer prefers")
            .when(F.col("_slot_explored"), "the channel's slot went to an offer drawn by exploration")
            .when(~F.col("_fits_channel"), "the channel's room went to offers of higher expected value")
            .otherwise("the fatigue cap's room went to offers of higher expected value"))
    return decided.select(*priced.columns, "holdout", "expected_value", outcome.alias("outcome"), note.alias("note"),
                          "rank", "propensity")


def _choose(candidates: DataFrame, policy: Policy) -> DataFrame:
    """Open candidates -> the CHOICE flags, rank and propensity: which of them the policy offers."""
    channel_cap, fatigue_cap = policy.contact("channel_cap"), policy.contact("fatigue_cap")
    big = F.lit(1_000_000)
    channel_room = F.least(F.lit(policy.offers_per_channel),
                           (F.lit(channel_cap.limit) - F.col("channel_contacts")) if channel_cap else big)
    total_room = (F.lit(fatigue_cap.limit) - F.col("contacts")) if fatigue_cap else big
    per_product = Window.partitionBy("customer_id", "product").orderBy(
        F.desc("expected_value"), F.desc("affinity"), "channel_order", "offer_id", "channel")
    # A slot's candidates: each product's best offer on its channel (`_pick`) and, for exploration, the product's
    # other open offers on that channel (a new offer of a product is tried beside the one the ranking prefers).
    df = (candidates.withColumn("_pick", F.row_number().over(per_product) == 1)
          .withColumn("_pick_channel", F.first("channel").over(per_product))
          .withColumn("_in_slot", F.col("channel") == F.col("_pick_channel")))
    df = mark_exploration(df, policy)
    per_channel = Window.partitionBy("customer_id", "channel").orderBy(
        F.desc("_explored"), F.desc("_pick"), F.desc("expected_value"), "offer_id")
    df = df.withColumn("_fits_channel", (F.col("_pick") | F.col("_explored"))
                       & (F.row_number().over(per_channel) <= channel_room))
    # An explored offer competes for the fatigue cap's room with its slot's best: which slots there are
    # does not depend on the draw, so the logged propensities are exact.
    slot_ev = F.when(F.col("_explored"), F.col("_best_ev")).otherwise(F.col("expected_value"))
    slot_offer = F.when(F.col("_explored"), F.col("_best_offer")).otherwise(F.col("offer_id"))
    per_customer = Window.partitionBy("customer_id").orderBy(
        F.desc("_fits_channel"), F.desc(slot_ev), slot_offer, "channel")
    df = df.withColumn("_selected", F.col("_fits_channel") & (F.row_number().over(per_customer) <= total_room))
    # Whether the slot got an offer, on the rank's window: its order leads with the selected rows, so the engine
    # sorts the candidates once for both (a window of its own was one more sort of every candidate).
    ranked = Window.partitionBy("customer_id", "channel").orderBy(F.desc("_selected"), F.desc("expected_value"),
                                                                  "offer_id")
    whole_slot = ranked.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    df = (df.withColumn("_slot", F.first("_selected").over(ranked))
          .withColumn("_slot_explored", F.max(F.col("_selected") & F.col("_explored")).over(whole_slot)))
    # A slate of several offers per channel is never explored (the policy file refuses it): each position's
    # offer is the greedy one, chosen with probability 1.
    chosen = (propensity(policy) if policy.offers_per_channel == 1
              else F.when(F.col("_selected"), F.lit(1.0)).otherwise(F.lit(0.0)))
    return (df.withColumn("rank", F.when(F.col("_selected"), F.row_number().over(ranked)).cast("int"))
            .withColumn("propensity", chosen))
