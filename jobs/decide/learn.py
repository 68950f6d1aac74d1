"""The adaptive response model: what the offers shown so far say about the models' scores, learned every day.

The product models predict whether a customer opens a product (gold.propensity_scores); whether they accept
an offer of it also depends on the offer and the channel it comes on, and on the customer. The log knows
what was shown (audit.decision_log, the daily run's offered rows) and silver.offer_response what was
accepted, so for every cell the model learns a factor: accepted / expected, `expected` the sum of the model
probabilities of the offers shown there. An offer's learned acceptance is probability x factor.

Cells are nested, and each is shrunk toward its parent (a Gamma-Poisson posterior mean; `prior_strength`
expected acceptances of evidence):

    channel                            factor = (accepted + a x 1)       / (expected + a)
    product on the channel             factor = (accepted + a x channel) / (expected + a)
    product on the channel, in context factor = (accepted + a x product) / (expected + a)
    offer on the channel (relative)    factor = (accepted + a x 1)       / (expected' + a)

`expected` sums the model probabilities of the offers shown in the cell, each times its offer's and its month's
factor; `expected'` sums them times their context's and month's factor. A month's factor per product (`period`)
takes out what changed over time for all offers of the product alike; the three are fitted in turn (learn()).

A candidate's factor is its product's in its context (or the finest cell above it with evidence) times its
offer's relative factor. A new offer has no cell of its own: it starts as its product's offers earned in each
context on the channel (the cold-start prior from similar offers), a new product as the channel's.
The context is the customer's digital activity and, for products the fair-lending rule does not cover,
age group (both steer which channel a customer answers on): a credit offer's factor never depends on age
(schemas/decisioning/policy.json, protected_attributes).

Learning from the log, not from a new experiment: with exploration on (jobs/decide/explore.py) the offers
the ranking puts low are shown too, so their factors learn as well. Only decisions `maturity_days` old or
more count (a younger one may still be answered), at most `window_days` old, and only responses known on
the day (jobs/known.py): a re-run of a date learns the same. Everything is DataFrame -> DataFrame; the
cells are a few hundred rows whatever the customer base.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.decide.catalog import Learning, Policy

ANY = "*"   # a cell key a level does not use
# Product levels, coarse to fine: each level's factor is shrunk toward its parent's (the previous one).
LEVELS = {
    "channel": ("channel",),
    "product": ("product", "channel"),
    "context": ("product", "channel", "context"),
}
OFFER_LEVEL = "offer"   # an offer's factor relative to its product's, in the contexts it was shown in
PERIOD_LEVEL = "period"  # what changed per product and month of decision, for every offer of the product
ITERATIONS = 3          # rounds of fitting the product levels, periods and offers' factors in turn (learn())
OFFER_KEYS = ("offer_id", "product", "channel")
KEYS = ("offer_id", "product", "channel", "context")
COLUMNS = ("as_of_date", "level", *KEYS, "shown", "accepted", "expected", "factor", "upper")
DIGITAL_BANDS = ((0, "offline"), (13, "occasional"), (31, "regular"))  # sessions in 90 days below the bound
AGE_GROUPS = ((50, "under_50"), (65, "50_to_64"))                     # age below the bound; else "65_plus"


def learning_schema() -> str:
    """gold.offer_learning's columns, for a day with nothing learned yet."""
    return ("as_of_date date, level string, offer_id string, product string, channel string, context string, "
            "shown long, accepted long, expected double, factor double, upper double")


def _band(value: Column, bands, last: str) -> Column:
    out = F.when(value.isNull(), F.lit("unknown"))
    for bound, name in bands:
        out = out.when(value <= bound if bound == 0 else value < bound, F.lit(name))
    return out.otherwise(F.lit(last))


def context(policy: Policy) -> Column:
    """The candidate's context: digital activity (sessions_90d) and, where the product may use it, age group.
    Needs `product`, `age` and `sessions_90d`."""
    digital = _band(F.col("sessions_90d"), DIGITAL_BANDS, "frequent")
    age = _band(F.col("age"), AGE_GROUPS, "65_plus")
    protects_age = [p for p in policy.protected.applies_to if "age" not in policy.protected.allow.get(p, ())]
    if protects_age and "age" in policy.protected.attributes:
        age = F.when(F.col("product").isin(*protects_age), F.lit(ANY)).otherwise(age)
    return F.concat_ws("|", digital, age)


def shown_history(log_rows: DataFrame, responses: DataFrame, day: dt.date, learning: Learning) -> DataFrame:
    """The offers the daily runs showed (decision ids DX..., standing, with a context) that are old enough to
    have been answered: (offer_id, product, channel, context, probability, accepted 1/0). `responses` are
    silver.offer_response's rows known on `day`."""
    first = day - dt.timedelta(days=learning.window_days)
    last = day - dt.timedelta(days=learning.maturity_days)
    shown = log_rows.where((F.col("outcome") == "offered") & F.col("decision_id").startswith("DX")
                           & F.col("context").isNotNull() & F.col("probability").isNotNull()
                           & F.col("as_of_date").between(F.lit(first), F.lit(last)))
    if "superseded_at" in log_rows.columns:
        shown = shown.where(F.col("superseded_at").isNull())
    accepted = (responses.where(F.col("event_type") == "accepted").select("decision_id").distinct()
                .withColumn("accepted", F.lit(1)))
    return (shown.join(accepted, "decision_id", "left")
            .select("as_of_date", "offer_id", "product", "channel", "context", "probability",
                    F.coalesce("accepted", F.lit(0)).alias("accepted")))


def _cells(history: DataFrame, keys, expected: Column) -> DataFrame:
    return history.groupBy(*keys).agg(F.count("*").alias("shown"), F.sum("accepted").alias("accepted"),
                                      F.round(F.sum(expected), 9).alias("expected"))


def _shrunk(a: Column, prior: Column) -> Column:
    """The Gamma-Poisson posterior mean of accepted / expected with `a` expected acceptances at `prior`."""
    return F.round((F.col("accepted") + a * prior) / (F.col("expected") + a), 6)


def _upper(a: Column, prior: Column, z: float) -> Column:
    """The posterior mean plus `z` posterior standard deviations (sqrt(shape) / rate): optimism where evidence
    is thin."""
    shape, rate = F.col("accepted") + a * prior, F.col("expected") + a
    return F.round((shape + F.lit(float(z)) * F.sqrt(shape)) / rate, 6)


def _rows(cells: DataFrame, level: str, day: dt.date, keys) -> DataFrame:
    return cells.select(F.lit(day).alias("as_of_date"), F.lit(level).alias("level"),
                        *[F.col(k) if k in keys else F.lit(ANY).alias(k) for k in KEYS],
                        F.col("shown").cast("long"), F.col("accepted").cast("long"), "expected", "factor", "upper")


def _product_levels(history: DataFrame, a: Column, optimism: float) -> list[tuple[str, DataFrame]]:
    """The product levels' cells, each shrunk toward its parent, expected acceptances from `_expected`."""
    names = list(LEVELS)
    parent, out = None, []
    for level, keys in LEVELS.items():
        cells = _cells(history, keys, F.col("_expected"))
        if parent is None:
            cells = cells.withColumn("_prior", F.lit(1.0))
        else:
            up = LEVELS[names[names.index(level) - 1]]
            cells = cells.join(parent.select(*up, F.col("factor").alias("_prior")), list(up), "left")
        cells = (cells.withColumn("factor", _shrunk(a, F.col("_prior")))
                 .withColumn("upper", _upper(a, F.col("_prior"), optimism)).drop("_prior"))
        parent = cells
        out.append((level, cells))
    return out


EVIDENCE = "shown long, accepted long, expected double, factor double, upper double"   # a cell's columns


def _small(df: DataFrame, schema: str) -> DataFrame:
    """A few dozen cells brought to the driver and back: the next round's plan starts from them, not from every
    round before (nothing the size of the history is collected)."""
    return df.sparkSession.createDataFrame([tuple(r) for r in df.collect()], schema)


def learn(history: DataFrame, day: dt.date, prior_strength: float, optimism: float = 0.0) -> DataFrame:
    """The cells of every level with their evidence and shrunk factor (COLUMNS), from shown_history()'s rows
    (with `as_of_date`, the decision's date).

    Acceptance is modelled as probability x context factor x period factor x offer factor:
    - the product levels (LEVELS) shrink each cell toward its parent;
    - the period level, per product and month of decision (`context` holds the month's first day), takes out
      what changed over time for every offer of the product (the season, a market, the models' drift), so an
      offer shown only in later months is not credited or blamed for them. A month, not a week: an offer the
      ranking switches to takes a week's shows almost whole, and a week's factor would then be the offer's;
      within a month the offers shown before and after the switch tell time and offer apart;
    - the offer level is relative: an offer's acceptances against what its product's context and period factors
      expect where and when it was shown, shrunk toward 1.
    The three are fitted in turn (ITERATIONS rounds of backfitting, from every factor at 1). A new offer, with no
    cell of its own, is its product's in every context (the cold-start prior). Ranking uses the context and
    offer factors: the period factor is common to every offer of the product in a month.

    `upper` is the factor plus `optimism` posterior standard deviations; arbitration ranks offers by their
    offer level's upper factor, so an offer with little evidence (a new one) is shown until its evidence says
    whether it is better than its siblings, then ranked on that evidence (upper confidence bound)."""
    a = F.lit(float(prior_strength))
    spark = history.sparkSession
    history = history.withColumn("period", F.date_trunc("month", F.col("as_of_date")).cast("date").cast("string"))
    offer_factors = spark.createDataFrame([], "offer_id string, product string, channel string, _r double")
    period_factors = spark.createDataFrame([], "product string, period string, _t double")
    finest = LEVELS[list(LEVELS)[-1]]
    for _ in range(ITERATIONS):
        rows = (history.join(F.broadcast(offer_factors), list(OFFER_KEYS), "left")
                .join(F.broadcast(period_factors), ["product", "period"], "left")
                .fillna({"_r": 1.0, "_t": 1.0}))
        levels = _product_levels(rows.withColumn("_expected", F.col("probability") * F.col("_r") * F.col("_t")),
                                 a, optimism)
        rows = rows.join(levels[-1][1].select(*finest, F.col("factor").alias("_f")), list(finest), "left")
        periods = (_cells(rows, ("product", "period"), F.col("probability") * F.col("_f") * F.col("_r"))
                   .withColumn("factor", _shrunk(a, F.lit(1.0))).withColumn("upper", _upper(a, F.lit(1.0), optimism)))
        periods = _small(periods, f"product string, period string, {EVIDENCE}")
        period_factors = periods.select("product", "period", F.col("factor").alias("_t"))
        rows = rows.drop("_t").join(F.broadcast(period_factors), ["product", "period"], "left")
        offers = (_cells(rows, OFFER_KEYS, F.col("probability") * F.col("_f") * F.col("_t"))
                  .withColumn("factor", _shrunk(a, F.lit(1.0))).withColumn("upper", _upper(a, F.lit(1.0), optimism)))
        # Brought back whole: the next round joins their factors, the output takes them as they are.
        offers = _small(offers, f"offer_id string, product string, channel string, {EVIDENCE}")
        offer_factors = offers.select(*OFFER_KEYS, F.col("factor").alias("_r"))
    out = [_rows(cells, level, day, LEVELS[level]) for level, cells in levels]
    out.append(_rows(periods.withColumnRenamed("period", "context"), PERIOD_LEVEL, day, ("product", "context")))
    out.append(_rows(offers, OFFER_LEVEL, day, OFFER_KEYS))
    result = out[0]
    for more in out[1:]:
        result = result.unionByName(more)
    return result


def new_offer_upper(learning: Learning) -> float:
    """The relative factor an offer never shown is ranked with: its prior (1, its product's factor) at the same
    upper bound an offer's evidence gets, so no evidence is never ranked below thin evidence."""
    return 1.0 + learning.optimism / learning.prior_strength ** 0.5


def with_learned_factor(candidates: DataFrame, learned: DataFrame | None, unseen: float = 1.0,
                        cautious: tuple[str, ...] = ()) -> DataFrame:
    """Adds `learned_factor` to every candidate (`offer_id`, `product`, `channel`, `context`): its product's factor
    in the finest cell with evidence (context, else product on the channel, else the channel; 1.0 where nothing
    was learned yet) times its offer's relative factor at its upper bound (learn(); for an offer never shown on
    the channel, `unseen` (new_offer_upper(): the cold start) where other offers of its product were, else 1).
    Offers of `cautious` products (the policy's no-explore list: credit) are ranked on their evidence alone,
    the factor without optimism: no credit offer is shown because little is known about it. NULL when `learned`
    is None (learning is off)."""
    if learned is None:
        return candidates.withColumn("learned_factor", F.lit(None).cast("double"))
    out, found = candidates, []
    for level, keys in reversed(LEVELS.items()):
        column = f"_f_{level}"
        cells = learned.where(F.col("level") == level).select(*keys, F.col("factor").alias(column))
        out = out.join(F.broadcast(cells), list(keys), "left")
        found.append(column)
    bold = ~F.col("product").isin(*cautious) if cautious else F.lit(True)
    offers = learned.where(F.col("level") == OFFER_LEVEL).select(
        *OFFER_KEYS, F.when(bold, F.col("upper")).otherwise(F.col("factor")).alias("_f_offer"))
    seen = offers.select("product", "channel").distinct().withColumn("_siblings_seen", F.lit(True))
    out = out.join(F.broadcast(offers), list(OFFER_KEYS), "left").join(F.broadcast(seen), ["product", "channel"],
                                                                        "left")
    # Optimism for an offer never shown only where offers of its product were: it competes with their upper
    # bounds. Where none was, every offer of the product is at its prior alike, and 1 changes no ranking.
    never_shown = F.when(F.col("_siblings_seen") & bold, F.lit(float(unseen))).otherwise(F.lit(1.0))
    factor = F.coalesce(*found, F.lit(1.0)) * F.coalesce(F.col("_f_offer"), never_shown)
    return out.withColumn("learned_factor", F.round(factor, 6)).drop(*found, "_f_offer", "_siblings_seen")


def learned_acceptance() -> Column:
    """The learned probability that the candidate is accepted: the model's probability x the learned factor,
    at most 1 (the model's probability alone where nothing was learned)."""
    return F.least(F.lit(1.0), F.col("probability") * F.coalesce(F.col("learned_factor"), F.lit(1.0)))
