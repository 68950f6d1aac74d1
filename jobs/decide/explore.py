"""Exploration within the rules, and the probability with which the policy chose each candidate.

A decision is a slot: one customer, one channel, one date, with room for an offer (channel cap, fatigue
cap and holdout leave it open; none of them depends on exploration, so whether a slot exists is fixed).
Its candidates are the open rows (no rule excludes them, not in the holdout) whose product goes out on
this channel. The policy is epsilon-greedy over them: with probability 1 - share the highest expected value,
with probability `share` one candidate drawn uniformly from those that may be explored (no product the
policy lists as no-explore: credit is never offered by chance). Every draw comes from SHA-256 of
(customer, channel or offer, date, seed), so a re-run, on any engine, draws the same.

The propensity of a candidate is then exact: (1 - share) * [best] + share * [explorable] / m, m the number
of explorable candidates (no draw when m = 0: the best with probability 1). Rows that are no slot's candidate
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
    """A candidate exploration may offer: open and not of a no-explore product."""
    return F.col("_pick") & ~F.col("product").isin(*policy.no_explore) if policy.no_explore else F.col("_pick")


def mark_exploration(df, policy: Policy):
    """Adds `_explored` (true on the one candidate an exploring slot draws) and, per slot, the greedy best's
    expected value and offer (`_best_ev`, `_best_offer`): the fatigue cap ranks slots by those, so whether a
    channel keeps its slot never depends on the draw. `df` carries `_pick` (the slot's candidates)."""
    slot = Window.partitionBy("customer_id", "channel")
    greedy = slot.orderBy(F.desc("_pick"), F.desc("expected_value"), "offer_id")
    date = F.col("as_of_date").cast("string")
    df = (df.withColumn("_best_ev", F.first("expected_value").over(greedy))
          .withColumn("_best_offer", F.first("offer_id").over(greedy))
          .withColumn("_can_explore", explorable(policy))
          .withColumn("_m", F.sum(F.col("_can_explore").cast("int")).over(slot)))
    if policy.exploration_share <= 0:
        return df.withColumn("_explored", F.lit(False))
    explores = (F.col("_m") > 0) & (draw("customer_id", "channel", date, salt=f"{policy.exploration_seed}|slot")
                                    < F.lit(float(policy.exploration_share)))
    # Uniform among the explorable: the smallest draw of (customer, offer, channel, date) wins.
    lottery = slot.orderBy(F.desc("_can_explore"), "_ticket", "offer_id")
    return (df.withColumn("_ticket", draw("customer_id", "offer_id", "channel", date,
                                          salt=f"{policy.exploration_seed}|offer"))
            .withColumn("_explored", explores & F.col("_can_explore") & (F.row_number().over(lottery) == 1))
            .drop("_ticket"))


def propensity(policy: Policy) -> Column:
    """The probability the policy put this candidate in its slot; needs `_slot` (the slot got an offer),
    `_pick`, `_can_explore`, `_m`, `_best_offer` from mark_exploration."""
    share = F.lit(float(policy.exploration_share))
    best = (F.col("offer_id") == F.col("_best_offer")).cast("double")
    explored = F.when(F.col("_can_explore"), F.lit(1.0) / F.col("_m")).otherwise(F.lit(0.0))
    chance = F.when(F.col("_m") > 0, (F.lit(1.0) - share) * best + share * explored).otherwise(best)
    return F.when(F.col("_slot") & F.col("_pick"), F.round(chance, 9)).otherwise(F.lit(0.0))
