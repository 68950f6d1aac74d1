"""The daily decision step: what the answered offers taught (gold.offer_learning, jobs/decide/learn.py) ->
candidates -> eligibility -> consent -> suitability -> contact policy -> price -> arbitration -> holdout,
written to audit.decision_log (every candidate), checked for fairness, then
published to the channel tables, their exports and gold.next_best_offer, and marked published in
gold.channel_publication.

A date that was never published is replaced as a whole. A published decision is evidence (the channels
pulled it, responses point to its id): a re-run of a published date that decides the same leaves the log
as it is; one that would change its decisions is refused (RepublishRefusedError) unless
MARKETOFONE_FORCE_REPUBLISH is set, and then the replaced decisions stay in the log, marked with
`superseded_at` and `superseded_by`, while the new ones take fresh ids (revised_id), so every response still
finds the decision it answers.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from functools import reduce

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.decide.arbitrate import ARBITRATION_INPUTS, arbitrate, decision_id
from jobs.decide.candidates import (
    build_candidates,
    catalog_frame,
    channel_affinity,
    contact_history,
    customer_facts,
    marketing_consent,
)
from jobs.decide.catalog import Catalog, Policy, catalog_rows, load_catalog, load_policy, policy_rows
from jobs.decide.channels import (
    PUBLICATION,
    PUBLICATION_SCHEMA,
    channel_offers,
    channel_table,
    content_frame,
    publication_row,
    publications,
    write_exports,
)
from jobs.decide.learn import (
    context,
    learn,
    learning_schema,
    new_offer_upper,
    shown_history,
    with_learned_factor,
)
from jobs.decide.pricing import add_price_and_value
from jobs.decide.rules import apply_rules, check_rules
from jobs.domain import CHANNELS
from jobs.measure.fairness import fairness_report
from jobs.publish import publish as publish_table
from jobs.tables import Lakehouse, quarantine_of, table
from jobs.unify.customers import newest_versions
from jobs.unify.engagement import offer_interactions

log = logging.getLogger(__name__)

LOG_COLUMNS = ["decision_id", "as_of_date", "customer_id", "offer_id", "product", "channel", "outcome",
               "excluded_by", "excluded_at", "note", "holdout", "probability", "value", "lever", "expected_value",
               "risk", "price", "price_unit", "rank", "propensity", "context", "learned_factor", "model",
               "model_version", "reason_codes", "reason", "catalog_version", "policy_version"]

LOG = "audit.decision_log"
# What the decision API re-decides with besides the log's columns (jobs/serve/store.py keeps them per candidate).
SERVING_COLUMNS = ["affinity", "channel_order", "channel_contacts", "contacts"]
SUPERSEDED = ("superseded_at", "superseded_by")   # set on a published decision a forced re-run replaced
KEY = ("customer_id", "offer_id", "channel")        # one candidate of a date (decision_id's key)
CONTENT = tuple(c for c in LOG_COLUMNS if c != "decision_id")
# Columns the log gained later: rows written before read NULL, which is no change of the decision.
ADDED_LATER = {"propensity": "double", "context": "string", "learned_factor": "double"}
LEARNING = "gold.offer_learning"


class FairnessGateError(RuntimeError):
    """The fairness gate is set to block and a group was flagged: nothing was published to the channels."""


class RepublishRefusedError(RuntimeError):
    """A re-run would change decisions of a date already published, and no republish was forced."""


def _on(day: dt.date) -> str:
    return f"as_of_date = DATE'{day.isoformat()}'"


def _empty_scores(lh: Lakehouse) -> DataFrame:
    return lh.spark.createDataFrame([], "as_of_date date, customer_id string, kind string, target string, "
                                        "model string, probability double, model_version string, "
                                        "reason_codes string, reason string")


def decide(lh: Lakehouse, day: dt.date, catalog: Catalog, policy: Policy,
           scores: DataFrame | None = None, learned: DataFrame | None = None) -> DataFrame:
    """Every candidate of `day` with its outcome, in LOG_COLUMNS (+ price_kind for the channel content, and the
    SERVING_COLUMNS the online store keeps).

    `scores` (customer_id, kind, target, probability, model, model_version, reason_codes, reason) replaces
    the day's gold.propensity_scores: benchmarks use it to run other arbitration policies (segment rules,
    random) through the same rules and caps. `learned` (gold.offer_learning's cells) replaces the day's cells
    of that table when the policy learns (jobs/decide/learn.py); without either, nothing is learned yet."""
    spark = lh.spark
    if policy.learning.enabled and learned is None:
        learned = (lh.read(LEARNING).where(_on(day)) if lh.exists(LEARNING)
                   else spark.createDataFrame([], learning_schema()))
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
    # Offers a forced re-run superseded count too: they were published, and may have reached the customer.
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
    candidates = with_learned_factor(candidates.withColumn("context", context(policy)),
                                     learned if policy.learning.enabled else None, new_offer_upper(policy.learning),
                                     cautious=policy.no_explore)
    # Nullable in the log's schema (a table takes the first writer's): the decision API's rows, appended to the
    # same table, have neither a context nor a learned factor.
    for column in ("context", "learned_factor"):
        candidates = candidates.withColumn(column, F.when(F.col(column).isNotNull(), F.col(column)))
    priced = add_price_and_value(apply_rules(candidates, policy))
    # Stored with the columns the log, the channels and the arbitration read: arbitrate() reads its input twice
    # (the open candidates and the others), and the joins behind it would otherwise run twice.
    kept = [c for c in (*LOG_COLUMNS, "price_kind", *SERVING_COLUMNS, *ARBITRATION_INPUTS) if c in priced.columns]
    decided = arbitrate(lh.scratch(priced.select(*dict.fromkeys(kept)), "decision_candidates"), policy)
    return (decided.withColumn("catalog_version", F.lit(catalog.version))
            .withColumn("policy_version", F.lit(policy.version))
            .withColumn("decision_id", decision_id())
            .select(*LOG_COLUMNS, "price_kind", *SERVING_COLUMNS))


def next_best_offers(decisions: DataFrame) -> DataFrame:
    """Per customer the offered decision of highest expected value (gold.next_best_offer)."""
    best = Window.partitionBy("customer_id").orderBy(F.desc("expected_value"), "offer_id", "channel")
    return (decisions.where("outcome = 'offered'").withColumn("_n", F.row_number().over(best)).where("_n = 1")
            .select("as_of_date", "customer_id", "product", F.col("probability").alias("score"),
                    F.lit(1).alias("rank"), "reason", "model_version", "offer_id", "channel", "price", "price_unit",
                    "expected_value", "decision_id"))


def revised_id(revision: Column) -> Column:
    """The id of a decision that replaces a published one of the same candidate (revision 2, 3, ...):
    decision_id()'s key and the revision, so it never equals the id of the decision it replaces."""
    key = F.concat_ws("|", F.col("as_of_date").cast("string"), "customer_id", "offer_id", "channel",
                      F.concat(F.lit("r"), revision.cast("string")))
    return F.concat(F.lit("DX"), F.upper(F.substring(F.sha2(key, 256), 1, 18)))


def standing(log_rows: DataFrame) -> DataFrame:
    """The decisions that stand: those no forced re-run superseded (tables from before the column: all)."""
    return log_rows.where(F.col("superseded_at").isNull()) if "superseded_at" in log_rows.columns else log_rows


@dataclass
class Settled:
    """What a run writes for its date: `rows` for audit.decision_log (None: the log holds them already),
    `current` the decisions that stand (LOG_COLUMNS + price_kind, what the channels get) and, for a
    published date, `changes`: how many standing decisions the run changed (0: it decided the same)."""
    rows: DataFrame | None
    current: DataFrame
    changes: int = 0


def batch_rows(lh: Lakehouse, day: dt.date) -> DataFrame:
    """The decision-log rows of `day` the daily run wrote (not the decision API's, jobs/serve/)."""
    return lh.read(LOG).where(_on(day)).where(table(LOG).replace_scope)


def _complete(rows: DataFrame) -> DataFrame:
    """Log rows with every column, those the table gained later read as NULL where it lacks them yet."""
    for column, kind in [*zip(SUPERSEDED, ("timestamp", "string"), strict=True), *ADDED_LATER.items()]:
        if column not in rows.columns:
            rows = rows.withColumn(column, F.lit(None).cast(kind))
    return rows.select(*LOG_COLUMNS, *SUPERSEDED)


def _logged(lh: Lakehouse, day: dt.date) -> DataFrame | None:
    return _complete(batch_rows(lh, day)) if lh.exists(LOG) else None


def _unsuperseded(df: DataFrame) -> DataFrame:
    return (df.withColumn("superseded_at", F.lit(None).cast("timestamp"))
            .withColumn("superseded_by", F.lit(None).cast("string")).select(*LOG_COLUMNS, *SUPERSEDED))


def _with_ids(fresh: DataFrame, kept: DataFrame) -> DataFrame:
    """`fresh` decisions with ids that no kept row of the log has: a candidate with n rows kept (superseded)
    takes revision n + 1."""
    prior = kept.groupBy(*KEY).agg(F.count("*").alias("_prior"))
    return (fresh.join(prior, list(KEY), "left")
            .withColumn("decision_id", F.when(F.col("_prior").isNull(), F.col("decision_id"))
                        .otherwise(revised_id(F.col("_prior") + 1)))
            .select(*LOG_COLUMNS, "price_kind"))


def compare(new: DataFrame, logged: DataFrame) -> DataFrame:
    """Each candidate of `new` (the run's decisions) against the standing decision of `logged`: `_status`
    same, changed, added (a candidate the log lacks) or removed (one the run no longer has), the new row's
    columns as n_<col> and the logged row's as o_<col>, and `_differs`, the columns that differ."""
    n = new.select(*[F.col(c).alias(f"n_{c}") for c in new.columns])
    o = logged.select(*[F.col(c).alias(f"o_{c}") for c in logged.columns])
    on = reduce(lambda a, b: a & b, [F.col(f"n_{k}") == F.col(f"o_{k}") for k in KEY])
    differs = [F.when(~F.col(f"n_{c}").eqNullSafe(F.col(f"o_{c}"))
                      & (F.col(f"o_{c}").isNotNull() if c in ADDED_LATER else F.lit(True)), F.lit(c))
               for c in CONTENT if c not in KEY]
    status = (F.when(F.col("o_decision_id").isNull(), "added").when(F.col("n_decision_id").isNull(), "removed")
              .when(F.col("_differs") == "", "same").otherwise("changed"))
    return n.join(o, on, "full_outer").withColumn("_differs", F.concat_ws(",", *differs)).withColumn("_status", status)


def _side(compared: DataFrame, prefix: str, columns, price_kind: bool = False) -> DataFrame:
    """One side of compare()'s rows (`n_` the run's, `o_` the log's) in their own names, with the run's
    price_kind when asked."""
    return compared.select(*[F.col(f"{prefix}{c}").alias(c) for c in columns],
                           *([F.col("n_price_kind").alias("price_kind")] if price_kind else []))


def refusal(day: dt.date, compared: DataFrame, published: list[dict]) -> str:
    """Why a re-run of a published date is refused: how many of its decisions would change, how many of them
    were offers the channels were given (per channel), which columns changed, and how to force it."""
    changed = compared.where(F.col("_status") != "same")
    groups = changed.groupBy("_status", F.coalesce("o_channel", "n_channel").alias("channel"),
                             F.coalesce(F.col("o_outcome") == "offered", F.lit(False)).alias("offer"))
    by = {(r["_status"], r["channel"], r["offer"]): r["n"] for r in groups.agg(F.count("*").alias("n")).collect()}
    total = compared.where(F.col("o_decision_id").isNotNull()).count()
    columns = (changed.where(F.col("_differs") != "").select(F.explode(F.split("_differs", ",")).alias("c"))
               .groupBy("c").agg(F.count("*").alias("n"))
               .orderBy(F.desc("n"), "c").limit(5).collect())
    kinds = {k: sum(n for (s, _, _), n in by.items() if s == k) for k in ("changed", "added", "removed")}
    offers = {}
    for (s, channel, offer), n in by.items():
        if offer and s in ("changed", "removed"):
            offers[channel] = offers.get(channel, 0) + n
    when = min(r["published_at"] for r in published)
    return (f"the decisions of {day} were published ({', '.join(sorted({r['channel'] for r in published}))}, at "
            f"{when.isoformat(timespec='seconds')}) and this run would change {sum(kinds.values())} of its {total} "
            f"decision(s) ({kinds['changed']} changed, {kinds['added']} new, {kinds['removed']} gone), "
            f"{sum(offers.values())} of them offers the channels were given"
            + (f" ({', '.join(f'{c} {n}' for c, n in sorted(offers.items()))})" if offers else "")
            + (f"; changed columns: {', '.join(f'{r.c} ({r.n})' for r in columns)}" if columns else "")
            + ". A published decision is not replaced silently: find why the date's inputs changed (a backfill of "
              "an earlier date, another champion model, catalog or policy), or set MARKETOFONE_FORCE_REPUBLISH=1 "
              "to publish the new decisions; the replaced ones then stay in audit.decision_log with superseded_at "
              "and superseded_by, and the responses to them still join.")


def settle(lh: Lakehouse, day: dt.date, new: DataFrame, published: list[dict], force: bool,
           at: dt.datetime) -> Settled:
    """The decision-log rows of `day` for the run's decisions `new` (LOG_COLUMNS + price_kind). Rows a forced
    re-run superseded earlier always stay. A date not published is replaced; a published one is compared with
    its standing decisions: the same, the log stays as it is; changed, RepublishRefusedError unless `force`,
    and then the changed and gone decisions are kept superseded (`at`, by the new decision of their candidate)
    and the new ones take revised ids."""
    logged = _logged(lh, day)
    if logged is None:
        return Settled(_unsuperseded(new), new)
    earlier = logged.where(F.col("superseded_at").isNotNull())
    if not published:
        if earlier.isEmpty():
            return Settled(_unsuperseded(new), new)
        current = lh.scratch(_with_ids(new, earlier), "decisions_current")
        return Settled(lh.scratch(_unsuperseded(current).unionByName(earlier), "decision_rows"), current)
    compared = lh.scratch(compare(new, logged.where(F.col("superseded_at").isNull())), "decisions_compared")
    changes = compared.where(F.col("_status") != "same").count()
    kept = _side(compared.where(F.col("_status") == "same"), "o_", LOG_COLUMNS, price_kind=True)
    if changes == 0:
        return Settled(None, kept, 0)
    if not force:
        raise RepublishRefusedError(refusal(day, compared, published))
    replaced = _side(compared.where(F.col("_status").isin("changed", "removed")), "o_", LOG_COLUMNS)
    fresh = _with_ids(_side(compared.where(F.col("_status").isin("changed", "added")), "n_", LOG_COLUMNS, True),
                      earlier.select(*KEY).unionByName(replaced.select(*KEY)))
    current = lh.scratch(kept.unionByName(fresh), "decisions_current")
    superseded = (replaced.join(fresh.select(*KEY, F.col("decision_id").alias("superseded_by")), list(KEY), "left")
                  .withColumn("superseded_at", F.lit(at)).select(*LOG_COLUMNS, *SUPERSEDED))
    log.warning("republishing %s (forced): %d decision(s) changed; the replaced ones stay in %s, superseded",
                day, changes, LOG)
    rows = lh.scratch(_unsuperseded(current).unionByName(superseded).unionByName(earlier), "decision_rows")
    return Settled(rows, current, changes)


def run(lh: Lakehouse, day: dt.date) -> dict[str, int]:
    catalog, policy = load_catalog(), load_policy()
    counts = publish_table(lh, "gold.offer_catalog", lh.spark.createDataFrame(catalog_rows(catalog)), day)
    counts |= publish_table(lh, "gold.decision_policy", lh.spark.createDataFrame(
        policy_rows(policy), "policy_version string, rule_id string, rule_type string, "
        "description string, exclude_when string, kind string, `limit` int, days int"), day)
    if policy.learning.enabled:
        counts |= publish_table(lh, LEARNING, learned_cells(lh, day, policy), day)
    decisions = lh.scratch(decide(lh, day, catalog, policy), "decisions")
    counts |= publish(lh, day, decisions.select(*LOG_COLUMNS, "price_kind"), catalog, policy)
    materialize_store(lh, day, decisions, catalog, policy)
    return counts


def learned_cells(lh: Lakehouse, day: dt.date, policy: Policy) -> DataFrame:
    """What the offers shown before `day` taught (jobs/decide/learn.py): the day's gold.offer_learning rows, from
    the daily runs' standing decisions and the responses known on the day."""
    if not lh.exists(LOG):
        return lh.spark.createDataFrame([], learning_schema())
    log_rows = _complete(lh.read(LOG).where(table(LOG).replace_scope))
    responses = (lh.read_known("silver.offer_response", day) if lh.exists("silver.offer_response")
                 else lh.spark.createDataFrame([], "decision_id string, event_type string"))
    history = shown_history(log_rows, responses, day, policy.learning)
    return learn(history, day, policy.learning.prior_strength, policy.learning.optimism)


def materialize_store(lh: Lakehouse, day: dt.date, decisions: DataFrame, catalog: Catalog, policy: Policy):
    """The decision API's online store of `day` (jobs/serve/store.py; the home's files or Redis, as
    jobs/serve/backend.py chooses): every customer's candidates with the decision id, outcome and rank that
    stand in the log (a forced republish may have revised them)."""
    from jobs.serve import backend, store
    from jobs.stream import rules as triggers

    standing_ids = standing(batch_rows(lh, day)).select(*KEY, "decision_id", "outcome", "rank")
    candidates = decisions.drop("decision_id", "outcome", "rank").join(standing_ids, list(KEY))
    rows = store.customer_rows(lh.read("gold.customer_360").where(_on(day)), candidates, triggers.load().features)
    keys = store.key_rows(lh.read("silver.account"), lh.read("silver.customer_crosswalk"))
    return backend.write_store(lh.settings, rows, store.store_meta(day, catalog, policy), keys)


def publish(lh: Lakehouse, day: dt.date, decisions: DataFrame, catalog: Catalog, policy: Policy) -> dict[str, int]:
    """Log the decisions of `day` (LOG_COLUMNS + price_kind), check fairness, publish the channel tables, their
    exports and gold.next_best_offer, then mark the date published in gold.channel_publication."""
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    published = publications(lh, day=day)
    settled = settle(lh, day, decisions, published, lh.settings.force_republish, now)
    counts = {}
    if settled.rows is None:
        log.info("%s was published and this run decided the same: %s is left as it is", day, LOG)
        counts[LOG] = standing(batch_rows(lh, day)).count()
    else:
        # Validated by its suite: a row that fails goes to quarantine.audit_decision_log with its reason. The
        # decisions are the code's own, so one failing is a bug to look at; it is not sent to any channel.
        # Not passed as stored, though the rows read the day's scratch files: they add literal columns to them
        # (superseded_at and _by, NULL), and on the 100,000-customer bank the engine then could not plan the
        # uniqueness rule's window over the stored rows ("does not satisfy order requirements"). Validation
        # stores them once more first (about 1 s for a day's 1.3M decisions).
        counts |= publish_table(lh, LOG, settled.rows, day)
        if counts.get(quarantine_of(LOG)):
            log.error("%d decision(s) of %s failed the %s suite: they are in %s and reach no channel",
                      counts[quarantine_of(LOG)], day, LOG, quarantine_of(LOG))
    # Only decisions the log holds reach the channels: every offer a customer sees can be explained from it.
    logged = ["decision_id", *KEY]
    current = settled.current.join(lh.read(LOG).where(_on(day)).select(*logged), logged, "left_semi")

    first = (day - dt.timedelta(days=policy.fairness_window_days - 1)).isoformat()
    window = standing(lh.read(LOG).where(f"as_of_date between DATE'{first}' and DATE'{day.isoformat()}'"))
    window = window.join(lh.spark.createDataFrame([(o.offer_id, o.price_kind) for o in catalog.offers],
                                                  "offer_id string, price_kind string"), "offer_id", "left")
    fairness = fairness_report(window, lh.read("gold.customer_360").where(_on(day)), policy)
    counts |= publish_table(lh, "gold.fairness_daily", fairness, day)
    flagged = lh.read("gold.fairness_daily").where(_on(day)).where("flagged").collect()
    for row in flagged:
        log.warning("fairness flag on %s: %s %s %s ratio %.2f (below %.2f)", day, row.dimension, row.group,
                    row.metric, row.ratio, policy.fairness_min_ratio)
    if flagged and lh.settings.fairness_gate == "block":
        groups = "; ".join(f"{r.dimension}={r.group} {r.metric} ratio {r.ratio:.2f}" for r in flagged)
        raise FairnessGateError(f"fairness gate blocked publishing the offers of {day}: {groups} "
                                f"(decisions are in audit.decision_log, the check in gold.fairness_daily)")

    content = content_frame(lh.spark, catalog)
    channels = {}
    for channel in CHANNELS:
        name = channel_table(channel)
        counts.update(publish_table(lh, name, channel_offers(current, content, channel), day))
        # The version right after the write, before the rows are read back: they are what the publication names.
        version = lh.version(name)
        rows = lh.read(name, version=version).where(_on(day)).toArrow().to_pandas()
        exports = write_exports(lh.settings.home, channel, day, rows.sort_values(["customer_id", "rank"]))
        channels[channel] = (len(rows), version, exports)
    counts.update(publish_table(lh, "gold.next_best_offer", next_best_offers(current), day))
    counts[PUBLICATION] = mark_published(lh, day, channels, catalog, policy, published, now)
    return counts


def mark_published(lh: Lakehouse, day: dt.date, channels: dict, catalog: Catalog, policy: Policy,
                   previous: list[dict], now: dt.datetime) -> int:
    """Write the gold.channel_publication rows of `day`, one per channel: `channels` maps a channel to (rows
    published, the channel table's version after the write, the export files). Decision counts and the models
    behind them come from the log of the date."""
    rows = batch_rows(lh, day)
    current = standing(rows)
    decided = {r["channel"]: r["n"] for r in current.groupBy("channel").agg(F.count("*").alias("n")).collect()}
    superseded = ({r["channel"]: r["n"] for r in rows.where(F.col("superseded_at").isNotNull())
                   .groupBy("channel").agg(F.count("*").alias("n")).collect()} if "superseded_at" in rows.columns
                  else {})
    models: dict[str, list[str]] = {}
    for r in (current.where(F.col("model").isNotNull()).select("channel", "model", "model_version").distinct()
              .orderBy("channel", "model", "model_version").collect()):
        models.setdefault(r["channel"], []).append(f"{r['model']}={r['model_version']}")
    before = {r["channel"]: r for r in previous}
    marks = [publication_row(channel, day, offers=offers, table_version=version, exports=exports,
                             decisions=decided.get(channel, 0), superseded=superseded.get(channel, 0),
                             catalog_version=catalog.version, policy_version=policy.version,
                             model_versions=", ".join(models.get(channel, [])), previous=before.get(channel), now=now)
             for channel, (offers, version, exports) in channels.items()]
    publish_table(lh, PUBLICATION, lh.spark.createDataFrame(marks, PUBLICATION_SCHEMA), day)
    return len(marks)
