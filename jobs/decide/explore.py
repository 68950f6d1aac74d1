"""Exploration within the rules, and the probability with which the policy chose each candidate.

A decision is a slot: one customer, one channel, one date, with room for an offer (channel cap, fatigue
cap and holdout leave it open; none of them depends on exploration, so whether a slot exists is fixed).
Its candidates are the open rows (no rule excludes them, not in the holdout) whose product goes out on
this channel. The policy is epsilon-greedy over them: with probability 1 - share the highest expected value,
with probability `share` one candidate drawn from those that may be explored (no product the policy lists as
no-explore: credit is never offered by chance), uniformly or, with a temperature, by a softmax over their
expected values (explore_weight): offers the ranking puts just below the best are tried more often than
hopeless ones. Every draw comes from SHA-256 of (customer, channel, date, seed), so a re-run, on any engine,
draws the same.

The propensity of a candidate is then exact: (1 - share) * [best] + share * [explorable] * w / W, w its
weight and W the slot's total (1/m for uniform draws among m explorable candidates; no draw when m = 0: the
best with probability 1). Rows that are no slot's candidate
(excluded, holdout, the product on another channel, a channel without room) have propensity 0: the policy
never shows them. Over a slot's candidates the propensities sum to 1.
"""

from __future__ import annotations

from pyspark.sql import Column, Window
from pyspark.sql import functions as F

from jobs.decide.catalog import Policy


def draw(*parts: Column | str, salt: str) -> Column:
    """A number in [0, 1) fixed by `parts` and the salt: the first 32 bits of SHA-256, as a fraction (the
    holdout's construction, jobs/domain.in_holdout; Spark built-ins only, the same on every engine)."""
    key = F.concat_ws("|", F.lit(salt), *[F.col(p) if isinstance(p, str) else p for p in parts])
    return F.conv(F.substring(F.sha2(key, 256), 1, 8), 16, 10).cast("double") / float(2 ** 32)


def explorable(policy: Policy) -> Column:
    """A candidate exploration may offer: in the slot (open, its product's channel) and not of a no-explore
    product."""
    candidate = F.col("_in_slot")
    return candidate & ~F.col("product").isin(*policy.no_explore) if policy.no_explore else candidate


def explore_weight(policy: Policy, value: str = "expected_value") -> Column:
    """How much exploration favours each candidate of its slot: 1 for every explorable one (uniform draws), or,
    with a temperature t, a softmax over expected value relative to the slot's best explorable one,
    exp((ln ev - ln best) / t) = (ev / best)^(1/t), in (0, 1]; 0 for the candidates exploration may not offer.
    Rounded, so that every engine draws the same. Needs `_can_explore` and the expected value (`value`)."""
    if policy.exploration_temperature is None:
        weight = F.lit(1.0)
    else:
        ev = F.greatest(F.col(value), F.lit(1e-9))
        top = F.max(F.when(F.col("_can_explore"), ev)).over(Window.partitionBy("customer_id", "channel"))
        weight = F.round(F.exp((F.log(ev) - F.log(top)) / F.lit(float(policy.exploration_temperature))), 9)
    return F.when(F.col("_can_explore"), weight).otherwise(F.lit(0.0))


def mark_exploration(df, policy: Policy):
    """Adds `_explored` (true on the one candidate an exploring slot draws), with a share above 0 `_can_explore`,
    `_m`, `_w` and `_w_sum` (the candidate's exploration weight and the slot's total) and, per slot, the greedy
    best's expected value and offer (`_best_ev`, `_best_offer`): the fatigue cap ranks slots by those, so whether
    a channel keeps its slot never depends on the draw. `df` carries `_pick` (the greedy candidates: each
    product's best offer on its channel) and `_in_slot` (those and the product's other open offers on the same
    channel: what exploration may show)."""
    slot = Window.partitionBy("customer_id", "channel")
    greedy = slot.orderBy(F.desc("_pick"), F.desc("expected_value"), "offer_id")
    date = F.col("as_of_date").cast("string")
    df = (df.withColumn("_best_ev", F.first("expected_value").over(greedy))
          .withColumn("_best_offer", F.first("offer_id").over(greedy)))
    if policy.exploration_share <= 0:
        # Nothing is drawn, so the weights are never read (propensity() is the greedy choice alone), and three
        # windows over the candidates are saved.
        return df.withColumn("_explored", F.lit(False))
    df = (df.withColumn("_can_explore", explorable(policy))
          .withColumn("_m", F.sum(F.col("_can_explore").cast("int")).over(slot))
          .withColumn("_w", explore_weight(policy))
          .withColumn("_w_sum", F.sum("_w").over(slot)))
    explores = (F.col("_m") > 0) & (draw("customer_id", "channel", date, salt=f"{policy.exploration_seed}|slot")
                                    < F.lit(float(policy.exploration_share)))
    # One more draw per slot, u in [0, 1), picks the candidate whose share of the weights covers u: the
    # explorable candidates in offer order, each owning [weights before it, weights up to it) / total.
    ordered = slot.orderBy(F.desc("_can_explore"), "offer_id").rowsBetween(Window.unboundedPreceding,
                                                                          Window.currentRow)
    u = draw("customer_id", "channel", date, salt=f"{policy.exploration_seed}|offer") * F.col("_w_sum")
    upto = F.sum("_w").over(ordered)
    return (df.withColumn("_upto", upto)
            .withColumn("_explored", explores & F.col("_can_explore") & (F.col("_upto") - F.col("_w") <= u)
                        & (u < F.col("_upto")))
            .drop("_upto"))


def propensity(policy: Policy) -> Column:
    """The probability the policy put this candidate in its slot; needs `_slot` (the slot got an offer),
    `_in_slot`, `_best_offer` and, with a share above 0, `_can_explore`, `_m`, `_w`, `_w_sum` from mark_exploration."""
    share = F.lit(float(policy.exploration_share))
    best = (F.col("offer_id") == F.col("_best_offer")).cast("double")
    if policy.exploration_share <= 0:   # the formula below with share 0, without the weights it multiplies by 0
        return F.when(F.col("_slot") & F.col("_in_slot"), best).otherwise(F.lit(0.0))
    explored = F.when(F.col("_can_explore"), F.col("_w") / F.col("_w_sum")).otherwise(F.lit(0.0))
    chance = F.when(F.col("_m") > 0, (F.lit(1.0) - share) * best + share * explored).otherwise(best)
    return F.when(F.col("_slot") & F.col("_in_slot"), F.round(chance, 9)).otherwise(F.lit(0.0))
