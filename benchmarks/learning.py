"""A policy that learns from its own offers, against the static ranking, the best segment rule and the truth.

    .venv/bin/python benchmarks/learning.py [--customers 20000] [--weeks 12] [--date 2026-06-30] [--home DIR]
                                            [--new-offer-week 6] [--exploration 0.1] [--prior-strength A]
                                            [--optimism Z]

Generates a bank (a temporary home unless --home; a home that has trained models is reused), loads it and trains
every model as benchmarks/uplift.py does, then for `weeks` weekly decision dates ending on --date builds the
customer-360, scores it with the champions and decides with three policies, all through jobs.decide.run.decide
with the same catalog, rules, contact limits and holdout:

- static:   today's ranking (schemas/decisioning/policy.json with learning and exploration off);
- learning: the same rules with the adaptive response model on (jobs/decide/learn.py, learned each week from
            its own offers answered so far: only decisions at least the policy's maturity_days old count, as in
            the daily run) and exploration (--exploration of the slots, softmax at the policy's temperature);
- segment:  the best broad-segment rule of benchmarks/uplift.py (the legacy campaigns' best product per age,
            income and products-held segment).

The world answers as it answers the channels (jobs.generate.responses): a person accepts with probability
min(MAX_ACCEPT, p_true x OFFER_LIFT x channel fit). Acceptances are counted in expectation (the sum of those
probabilities) and drawn with common random numbers (one draw per person, product and week, whatever the
policy); the learning policy learns from the drawn ones, as it would from silver.offer_response. A product
accepted in an earlier week is held: it is not offered again.

At --new-offer-week the catalog gains SAV-PLUS, a savings offer the world accepts 25% more often than SAV-GROW
(a better rate; the models score the product, so they cannot tell the two apart): its fair share, what an oracle
that knew both offers would give it, is all of the savings acceptances. It starts from the cold-start prior
(what savings offers earned in each context), and the ranking's optimism about an offer with little evidence
shows it until its own evidence counts.

Off-policy evaluation: the static policy is evaluated on the learning policy's log (its explored slots, logged
propensities and drawn acceptances: jobs/decide/evaluate_policy.py) and compared with the truth: on the same
slots, the acceptance the static policy's choices would get in the world.

Prints `name: value` lines, among them
  ope_relative_error_dr       |DR estimate - true value| / true value              target <= 0.10
  accepted_lift_vs_static     learning / static - 1, expected acceptances of the last four weeks   >= 0.10
  accepted_lift_vs_segment    learning / segment - 1, the same weeks                               >= 0.30
  fairness_flags              the learning policy's flagged groups, every week                     0
  rule_breaks                 learning offers a rule, the holdout, a contact limit or no_explore forbids   0
  new_offer_weeks_to_share    weeks from its introduction until SAV-PLUS has >= 80% of savings acceptances
                              (counting its first week as 1)                                       <= 3
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import add_bank_arguments, project_home, quiet_engine  # noqa: E402

POLICIES = ("static", "learning", "segment")
NEW_OFFER, SIBLING = "SAV-PLUS", "SAV-GROW"
LAST_WEEKS = 4
APPEAL = {NEW_OFFER: 1.25}   # the new offer is accepted 25% more often than its sibling (a better rate)
SHARE_REACHED = 0.8          # of savings acceptances: the oracle gives it all (up to the acceptance cap)


class World:
    """The generated world's answer to an offer: true acceptance probabilities and common-random-number draws."""

    def __init__(self, lh, settings, catalog):
        import pandas as pd

        from benchmarks.models import person_of_customer

        self.persons = person_of_customer(lh, settings.ground_truth)
        people = pd.read_parquet(settings.ground_truth / "persons.parquet", columns=["person_id", "preferred_channel"])
        self.preferred = people.set_index("person_id")["preferred_channel"]
        truth = pd.read_parquet(settings.ground_truth / "probabilities.parquet")
        truth["month"] = pd.to_datetime(truth["month"]).dt.date
        self.truth = truth
        self.product_id = {p: i for i, p in enumerate(sorted({o.product for o in catalog.offers}))}

    def answer(self, rows, day: dt.date, week: int):
        """`rows` (customer_id, product, channel, ...) of people the world knows, with `p_accept` and a drawn
        `accepted`."""
        import numpy as np

        from jobs.generate.campaigns import MAX_ACCEPT, acceptance_probability
        from jobs.generate.responses import uniform_of

        rows = rows.assign(person_id=rows["customer_id"].map(self.persons)).dropna(subset=["person_id"])
        rows = rows.astype({"person_id": "int64"}).reset_index(drop=True)
        month = self.truth[self.truth["month"] == day.replace(day=1)].set_index("person_id")
        p_columns = month[[f"p_{p}" for p in self.product_id]].to_numpy()
        which = np.array([list(self.product_id).index(p) for p in rows["product"]], dtype=np.int64)
        at = month.index.get_indexer(rows["person_id"])
        p_true = p_columns[at, which] if len(rows) else np.zeros(0)
        on_preferred = rows["channel"].to_numpy() == self.preferred.loc[rows["person_id"]].to_numpy()
        keys = (rows["person_id"].to_numpy(np.uint64) * np.uint64(1_000_003)
                + which.astype(np.uint64) * np.uint64(101) + np.uint64(week))
        p_accept = acceptance_probability(p_true, on_preferred)
        if "offer_id" in rows:
            appeal = rows["offer_id"].map(APPEAL).fillna(1.0).to_numpy()
            p_accept = np.minimum(MAX_ACCEPT, p_accept * appeal)
        return rows.assign(p_accept=p_accept, accepted=uniform_of(keys, 7) < p_accept)


def with_new_offer(catalog, day: dt.date):
    """The catalog with SAV-PLUS, a copy of SAV-GROW valid from `day`."""
    from jobs.decide.catalog import Catalog

    sibling = catalog.offer(SIBLING)
    new = dataclasses.replace(sibling, offer_id=NEW_OFFER, name="Savings plus", valid_from=day)
    return Catalog(f"{catalog.version}+{NEW_OFFER}", (*catalog.offers, new))


def rule_breaks(decisions, policy) -> int:
    """Offers a rule, the holdout, a contact limit or the no-explore list forbids (0 is the only right answer)."""
    from pyspark.sql import functions as F

    offered = decisions.where("outcome = 'offered'")
    excluded = offered.where("excluded_by != '' OR holdout").count()
    credit_drawn = offered.where(F.col("note").startswith("drawn by exploration")
                                 & F.col("product").isin(*policy.no_explore)).count()
    fatigue = policy.contact("fatigue_cap").limit
    over_fatigue = offered.groupBy("customer_id").count().where(F.col("count") > fatigue).count()
    over_channel = (offered.groupBy("customer_id", "channel").count()
                    .where(F.col("count") > policy.offers_per_channel).count())
    return excluded + credit_drawn + over_fatigue + over_channel


def ensure_scored(lh, day: dt.date, settings) -> None:
    """The day's customer-360 and scores, built unless a reused home has them."""
    from jobs.pipeline import run_step

    on = f"as_of_date = DATE'{day.isoformat()}'"
    if lh.exists("gold.propensity_scores") and not lh.read("gold.propensity_scores").where(on).isEmpty():
        return
    for step in ("customer_360", "score"):
        run_step(step, day, settings)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_bank_arguments(parser, customers=20_000, date_help="the last weekly decision date")
    parser.add_argument("--weeks", type=int, default=12)
    parser.add_argument("--new-offer-week", type=int, default=6, help="the week (0-based) SAV-PLUS is added")
    parser.add_argument("--exploration", type=float, default=0.1, help="the learning policy's exploration share")
    parser.add_argument("--prior-strength", type=float, help="the learning block's prior_strength (default: the "
                                                                  "policy file's)")
    parser.add_argument("--optimism", type=float, help="the learning block's optimism (default: the policy file's)")
    args = parser.parse_args()
    quiet_engine()

    import pandas as pd
    from pyspark.sql import functions as F

    from benchmarks.uplift import policy_scores, segment_rates
    from jobs.decide.catalog import load_catalog, load_policy
    from jobs.decide.evaluate_policy import evaluate, slot_candidates, target_propensity, with_rewards
    from jobs.decide.learn import learn, learning_schema
    from jobs.decide.run import decide
    from jobs.generate import generate_bank
    from jobs.measure.fairness import fairness_report
    from jobs.pipeline import lakehouse, run_step
    from jobs.settings import Settings, parse_date

    last = parse_date(args.date)
    dates = [last - dt.timedelta(days=7 * (args.weeks - 1 - w)) for w in range(args.weeks)]
    figures: dict[str, object] = {"customers": args.customers, "weeks": args.weeks,
                                  "decision_dates": f"{dates[0]}..{dates[-1]}", "exploration": args.exploration}
    with project_home(args.home, "marketofone-learning-") as home:
        settings = Settings.from_env().with_(home=home, customers=args.customers, history_days=args.days)
        started = time.perf_counter()
        lh = lakehouse(settings)
        if not lh.exists("gold.training_set"):
            generate_bank(settings, last)
            for step in ("ingest", "silver", "training_set", "train"):
                run_step(step, last, settings)
        figures["setup_seconds"] = round(time.perf_counter() - started, 1)
        spark = lh.spark

        base_catalog, shipped = load_catalog(), load_policy()
        static = dataclasses.replace(shipped, learning=dataclasses.replace(shipped.learning, enabled=False),
                                     exploration_share=0.0)
        tuned = {k: v for k, v in (("prior_strength", args.prior_strength), ("optimism", args.optimism))
                 if v is not None}
        learning = dataclasses.replace(
            shipped, learning=dataclasses.replace(shipped.learning, enabled=True, **tuned),
            exploration_share=args.exploration)
        figures.update({"prior_strength": learning.learning.prior_strength, "optimism": learning.learning.optimism,
                        "temperature": learning.exploration_temperature})
        segment = dataclasses.replace(static, use_value=False, use_lever=False)
        world = World(lh, settings, base_catalog)

        history = []                              # the learning policy's offers with drawn answers
        held = {name: set() for name in POLICIES}  # (customer, product) accepted earlier, per policy
        weekly = []                               # one row per week, policy and offer: offers, expected acceptances
        log_parts, answers = [], []               # the learning policy's candidates and accepted ids, for OPE
        flags = breaks = 0
        started = time.perf_counter()
        for week, day in enumerate(dates):
            catalog = with_new_offer(base_catalog, dates[args.new_offer_week]) \
                if 0 <= args.new_offer_week <= week else base_catalog
            ensure_scored(lh, day, settings)
            c360 = lh.read("gold.customer_360").where(f"as_of_date = DATE'{day.isoformat()}'")
            mature = [h for h in history if h["as_of_date"].iloc[0] <= day - dt.timedelta(
                days=learning.learning.maturity_days)]
            history_schema = ("as_of_date date, offer_id string, product string, channel string, context string, "
                              "probability double, accepted int")
            columns = [c.split(" ")[0] for c in history_schema.split(", ")]
            # Written first: learn() reads its history several times, and a plan that carries the rows each time
            # outgrows what Spark Connect sends (the daily run reads the log, a table).
            shown = lh.scratch(spark.createDataFrame(pd.concat(mature, ignore_index=True)[columns], history_schema)
                               if mature else spark.createDataFrame([], history_schema), "learning_history")
            learned = lh.scratch(learn(shown, day, learning.learning.prior_strength, learning.learning.optimism)
                                 if mature
                                 else spark.createDataFrame([], learning_schema()), "learning_cells")
            for r in learned.where(F.col("offer_id").isin(SIBLING, NEW_OFFER)).orderBy("channel", "offer_id").collect():
                print(f"  learned {r.offer_id} {r.channel}: shown {r.shown}, accepted {r.accepted}, expected "
                      f"{r.expected:.1f}, factor {r.factor:.3f}, upper {r.upper:.3f}", file=sys.stderr)
            segments, rates, overall = segment_rates(lh, c360)
            runs = {"static": (static, None), "learning": (learning, None),
                    "segment": (segment, policy_scores("segment", c360, segments, rates, overall, week))}
            for name, (policy, scores) in runs.items():
                decisions = lh.scratch(decide(lh, day, catalog, policy, scores, learned), f"learning_{name}")
                rows = decisions.where("outcome = 'offered'").select(
                    "decision_id", "customer_id", "offer_id", "product", "channel", "context", "probability").toPandas()
                keep = [(c, p) not in held[name] for c, p in zip(rows["customer_id"], rows["product"], strict=True)]
                answered = world.answer(rows[keep], day, week)
                held[name] |= set(zip(answered.loc[answered["accepted"], "customer_id"],
                                      answered.loc[answered["accepted"], "product"], strict=True))
                per_offer = answered.groupby("offer_id").agg(offers=("p_accept", "size"),
                                                             expected=("p_accept", "sum"), drawn=("accepted", "sum"))
                weekly.append(per_offer.reset_index().assign(week=week, policy=name))
                if name == "learning":
                    history.append(answered.assign(as_of_date=day, accepted=answered["accepted"].astype(int)))
                    flags += int(fairness_report(decisions, c360, policy).where("flagged").count())
                    breaks += rule_breaks(decisions, policy)
                    # The slots the world answered (a person it knows, a product not held yet): the log to evaluate on.
                    slots = spark.createDataFrame(answered[["customer_id", "channel"]].drop_duplicates())
                    log_parts.append(lh.scratch(decisions.join(slots, ["customer_id", "channel"], "left_semi"),
                                                f"log_{week}"))
                    answers.append(answered.loc[answered["accepted"], ["decision_id"]])
            print(f"week {week} ({day}) done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        figures["decide_seconds"] = round(time.perf_counter() - started, 1)

        table = pd.concat(weekly, ignore_index=True)
        per_week = table.groupby(["week", "policy"])["expected"].sum().unstack()
        for week in per_week.index:
            figures[f"accepted_week{week}"] = " ".join(f"{name} {per_week.loc[week, name]:.1f}" for name in POLICIES)
        last = table[table["week"] >= args.weeks - LAST_WEEKS]
        recent = last.groupby("policy")[["offers", "expected", "drawn"]].sum()
        for name in POLICIES:
            figures[f"offers_last{LAST_WEEKS}w_{name}"] = int(recent.loc[name, "offers"])
            figures[f"accepted_last{LAST_WEEKS}w_{name}"] = round(float(recent.loc[name, "expected"]), 1)
            figures[f"accepted_drawn_last{LAST_WEEKS}w_{name}"] = int(recent.loc[name, "drawn"])
        accepted = recent["expected"]
        figures["accepted_lift_vs_static"] = round(accepted["learning"] / accepted["static"] - 1, 4)
        figures["accepted_lift_vs_segment"] = round(accepted["learning"] / accepted["segment"] - 1, 4)
        figures["fairness_flags"] = flags
        figures["rule_breaks"] = breaks

        # The new offer's share of savings acceptances, week by week from its introduction.
        savings = table[(table["policy"] == "learning") & table["offer_id"].isin([SIBLING, NEW_OFFER])]
        by_week = savings.pivot_table(index="week", columns="offer_id", values="expected", aggfunc="sum").fillna(0.0)
        reached = None
        for week in range(max(args.new_offer_week, 0), args.weeks):
            row = by_week.loc[week] if week in by_week.index else None
            share = float(row.get(NEW_OFFER, 0.0) / row.sum()) if row is not None and row.sum() else 0.0
            figures[f"new_offer_share_week{week}"] = round(share, 4)
            if reached is None and share >= SHARE_REACHED:
                reached = week - args.new_offer_week + 1
        figures["new_offer_weeks_to_share"] = reached if reached is not None else f"not within {args.weeks} weeks"

        # Off-policy: the static policy on the learning policy's log, against what it would get in the world.
        log = log_parts[0]
        for part in log_parts[1:]:
            log = log.unionByName(part)
        accepted_ids = spark.createDataFrame(pd.concat(answers, ignore_index=True).assign(event_type="accepted"))
        candidates = lh.scratch(with_rewards(slot_candidates(log), accepted_ids), "ope_candidates")
        estimates = {(r.metric, r.estimator): r for r in evaluate(candidates, static).collect()}
        chosen = (target_propensity(candidates, static).where("target > 0")
                  .select("as_of_date", "customer_id", "offer_id", "product", "channel", "target").toPandas())
        truth_parts = []
        for week, day in enumerate(dates):
            rows = chosen[chosen["as_of_date"] == day]
            if len(rows):
                truth_parts.append(world.answer(rows, day, week))
        truth = pd.concat(truth_parts, ignore_index=True)
        slots = candidates.select("as_of_date", "customer_id", "channel").distinct().count()
        true_value = float((truth["target"] * truth["p_accept"]).sum()) / slots
        figures["ope_slots"] = slots
        figures["ope_true_acceptance_static"] = round(true_value, 5)
        for estimator in ("ips", "snips", "dr"):
            r = estimates[("acceptance", estimator)]
            figures[f"ope_{estimator}_acceptance_static"] = (f"{r.estimate:.5f} [{r.lower:.5f}, {r.upper:.5f}]")
        dr = estimates[("acceptance", "dr")].estimate
        figures["ope_relative_error_dr"] = round(abs(dr - true_value) / true_value, 4)
        logged = candidates.where("outcome = 'offered'").agg(F.avg("accepted")).first()[0]
        figures["ope_logged_acceptance_learning"] = round(float(logged), 5)
    for name, value in figures.items():
        print(f"{name}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
