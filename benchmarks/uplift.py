"""One-to-one offers against the best broad-segment rule, random offers and no offers, in the generated world.

    .venv/bin/python benchmarks/uplift.py [--customers 20000] [--weeks 4] [--date 2026-06-30] [--home DIR]

Generates a bank (a temporary home unless --home), loads it (ingest, silver), trains every model
(training_set, train: out-of-time, as the weekly DAG does), then for `weeks` weekly decision dates ending
on --date (inside the export's history, after every training label) builds the customer-360, scores it
with the champions and decides with four policies, all through jobs.decide.run.decide with the same
catalog, eligibility, consent, suitability and contact rules, prices and holdout:

- nbo:      the policy as configured (schemas/decisioning/policy.json: propensity x lever by default);
- nbo_value: the same with the catalog value switched on: expected value = propensity x value x lever
            (for the trade-off: more revenue per offer, fewer acceptances);
- segment:  the best broad-segment rule: per age band x income band x products held (1, 2, 3, 4+), the
            offer whose product had the highest acceptance in the legacy campaigns' history (offers sent
            and accepted in silver.offer_interaction; segments with fewer than 30 sends of a product use the
            product's overall rate): a strong baseline, chosen from observed data, not a strawman;
- random:   a random eligible offer (a stable hash per customer, product and week);
- none:     no offers.

The world answers as it answers the channels (jobs.generate.responses): a person accepts with
probability min(MAX_ACCEPT, p_true x OFFER_LIFT x channel fit), p_true the person's true monthly
propensity for the product (ground_truth/probabilities.parquet). Acceptances are counted in expectation
(the sum of those probabilities: the same decisions always give the same figure) and also drawn with
common random numbers shared by the policies (a person's draw for a product and week is the same under
every policy); a product accepted in an earlier week is not offered again. Revenue is the catalog value
of the accepted offers. Retention is the share of customers active in the last 30 days of the last
decision date: the generated world does not (yet) make customers leave or stay in response to offers, so
it is the same under every policy, and printed so that the comparison is complete and honest.

Prints `name: value` lines: decisions, offers, accepted (expected and drawn), revenue and retention per
policy, the fairness flags of the nbo policy's decisions, and
  accepted_lift_vs_segment, revenue_lift_vs_segment   (nbo / segment - 1, from expected acceptances)
Target (issue: decisions a compliance officer signs and a CFO believes): both lifts >= 0.20 with no
fairness flag.
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

POLICIES = ("nbo", "nbo_value", "segment", "random", "none")
MIN_SENDS = 30


def segment_rates(lh, c360):
    """(age_band, income_band, held_band, product) -> acceptance rate of the legacy campaigns' offers."""
    from pyspark.sql import functions as F

    from jobs.domain import age_band, income_band

    segments = c360.select("customer_id", age_band(F.col("age")).alias("age_band"),
                           income_band(F.col("income_monthly")).alias("income_band"),
                           F.least(F.col("products_held"), F.lit(4)).alias("held_band"))
    sent = (lh.read("silver.offer_interaction").where("not holdout and sent_at is not null")
            .select("customer_id", "product", (F.col("response") == "accepted").cast("int").alias("accepted")))
    joined = sent.join(segments, "customer_id")
    overall = joined.groupBy("product").agg((F.sum("accepted") / F.count("*")).alias("overall"))
    by_segment = joined.groupBy("age_band", "income_band", "held_band", "product").agg(
        F.count("*").alias("sends"), (F.sum("accepted") / F.count("*")).alias("rate"))
    rates = (by_segment.join(overall, "product")
             .select("age_band", "income_band", "held_band", "product",
                     F.when(F.col("sends") >= MIN_SENDS, F.col("rate")).otherwise(F.col("overall")).alias("rate")))
    return segments, rates, overall


def policy_scores(kind: str, c360, segments, rates, overall, week: int):
    """Scores for the segment or random policy in gold.propensity_scores' shape."""
    from pyspark.sql import functions as F

    from jobs.domain import PRODUCTS

    products = c360.sparkSession.createDataFrame([(p,) for p in PRODUCTS], "target string")
    base = c360.select("customer_id").crossJoin(products)
    if kind == "segment":
        with_rate = (base.join(segments, "customer_id")
                     .join(rates.withColumnRenamed("product", "target"),
                           ["age_band", "income_band", "held_band", "target"], "left")
                     .join(overall.withColumnRenamed("product", "target").withColumnRenamed("overall", "fallback"),
                           "target", "left")
                     .withColumn("probability", F.coalesce("rate", "fallback", F.lit(0.0))))
        reason = F.lit("the best-accepted product in the customer's segment")
    else:
        key = F.concat_ws("|", "customer_id", "target", F.lit(str(week)))
        with_rate = base.withColumn(
            "probability", F.conv(F.substring(F.sha2(key, 256), 1, 8), 16, 10).cast("double") / float(2 ** 32))
        reason = F.lit("chosen at random")
    return with_rate.select("customer_id", F.lit("product").alias("kind"), "target", "probability",
                            F.lit(kind).alias("model"), F.lit("-").alias("model_version"),
                            F.lit("").alias("reason_codes"), reason.alias("reason"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_bank_arguments(parser, customers=20_000, date_help="the last weekly decision date")
    parser.add_argument("--weeks", type=int, default=4)
    args = parser.parse_args()
    quiet_engine()

    import numpy as np
    import pandas as pd

    from benchmarks.models import person_of_customer
    from jobs.decide.catalog import load_catalog, load_policy
    from jobs.decide.run import decide
    from jobs.generate import generate_bank
    from jobs.generate.campaigns import acceptance_probability
    from jobs.generate.responses import uniform_of
    from jobs.measure.fairness import fairness_report
    from jobs.pipeline import lakehouse, run_step
    from jobs.settings import Settings, parse_date

    last = parse_date(args.date)
    dates = [last - dt.timedelta(days=7 * (args.weeks - 1 - w)) for w in range(args.weeks)]
    figures: dict[str, object] = {"customers": args.customers, "weeks": args.weeks,
                                  "decision_dates": ",".join(d.isoformat() for d in dates)}
    with project_home(args.home, "marketofone-uplift-") as home:
        settings = Settings.from_env().with_(home=home, customers=args.customers, history_days=args.days)
        started = time.perf_counter()
        generate_bank(settings, last)
        for step in ("ingest", "silver", "training_set", "train"):
            run_step(step, last, settings)
        figures["setup_seconds"] = round(time.perf_counter() - started, 1)
        lh = lakehouse(settings)
        catalog, policy = load_catalog(), load_policy()
        ranked_only = dataclasses.replace(policy, use_value=False, use_lever=False)

        offered: dict[str, list] = {p: [] for p in POLICIES}
        fairness = []
        started = time.perf_counter()
        for week, day in enumerate(dates):
            for step in ("customer_360", "score"):
                run_step(step, day, settings)
            c360 = lh.read("gold.customer_360").where(f"as_of_date = DATE'{day.isoformat()}'")
            segments, rates, overall = segment_rates(lh, c360)
            runs = {"nbo": (policy, None),
                    "nbo_value": (dataclasses.replace(policy, use_value=True, use_lever=True), None),
                    "segment": (ranked_only, policy_scores("segment", c360, segments, rates, overall, week)),
                    "random": (ranked_only, policy_scores("random", c360, segments, rates, overall, week))}
            for name, (chosen, scores) in runs.items():
                decisions = lh.scratch(decide(lh, day, catalog, chosen, scores), f"uplift_{name}")
                if name == "nbo":
                    fairness.append(fairness_report(decisions, c360, policy).toPandas())
                rows = decisions.where("outcome = 'offered'").select(
                    "customer_id", "offer_id", "product", "channel", "value").toPandas()
                offered[name].append(rows.assign(week=week, month=day.replace(day=1)))
        figures["decide_seconds"] = round(time.perf_counter() - started, 1)

        persons = person_of_customer(lh, settings.ground_truth)
        people = pd.read_parquet(settings.ground_truth / "persons.parquet",
                                 columns=["person_id", "preferred_channel"]).set_index("person_id")
        truth = pd.read_parquet(settings.ground_truth / "probabilities.parquet")
        truth["month"] = pd.to_datetime(truth["month"]).dt.date
        truth = truth.set_index(["month", "person_id"])
        product_id = {p: i for i, p in enumerate(sorted({o.product for o in catalog.offers}))}
        last_360 = lh.read("gold.customer_360").where(f"as_of_date = DATE'{last.isoformat()}'")
        retention = last_360.where("active_prev_30d").selectExpr("avg(cast(active_30d as double)) as r").first().r

        results = {}
        for name in POLICIES:
            rows = pd.concat(offered[name], ignore_index=True) if offered[name] else pd.DataFrame(
                columns=["customer_id", "offer_id", "product", "channel", "value", "week", "month"])
            rows["person_id"] = rows["customer_id"].map(persons)
            rows = rows.dropna(subset=["person_id"]).astype({"person_id": "int64"})
            p_true = np.array([truth.at[(m, p), f"p_{prod}"] for m, p, prod in
                               zip(rows["month"], rows["person_id"], rows["product"], strict=True)])
            preferred = people.loc[rows["person_id"], "preferred_channel"].to_numpy()
            rows["p_accept"] = acceptance_probability(p_true, rows["channel"].to_numpy() == preferred)
            # Common random numbers: one draw per person, product and week, whatever the policy.
            keys = (rows["person_id"].to_numpy(np.uint64) * np.uint64(1_000_003)
                    + rows["product"].map(product_id).to_numpy(np.uint64) * np.uint64(101)
                    + rows["week"].to_numpy(np.uint64))
            rows["accepted"] = uniform_of(keys, 7) < rows["p_accept"].to_numpy()
            # A product accepted in an earlier week is held: it is not offered (nor accepted) again.
            first_accept = (rows[rows["accepted"]].groupby(["person_id", "product"])["week"].min()
                            .rename("first_accept").reset_index())
            rows = rows.merge(first_accept, on=["person_id", "product"], how="left")
            rows = rows[rows["week"] <= rows["first_accept"].fillna(1_000)]
            results[name] = {
                "offers": len(rows),
                "accepted_expected": float(rows["p_accept"].sum()),
                "accepted_drawn": int(rows["accepted"].sum()),
                "revenue_expected": float((rows["p_accept"] * rows["value"]).sum()),
                "revenue_drawn": float(rows.loc[rows["accepted"], "value"].sum()),
                "customers_offered": int(rows["customer_id"].nunique()),
            }
        for name, r in results.items():
            figures.update({f"offers_{name}": r["offers"], f"customers_offered_{name}": r["customers_offered"],
                            f"accepted_{name}": round(r["accepted_expected"], 1),
                            f"accepted_drawn_{name}": r["accepted_drawn"],
                            f"acceptance_rate_{name}": round(r["accepted_expected"] / r["offers"], 5)
                            if r["offers"] else 0.0,
                            f"revenue_{name}": round(r["revenue_expected"], 0),
                            f"revenue_drawn_{name}": round(r["revenue_drawn"], 0),
                            f"retention_{name}": round(retention, 4)})
        nbo, segment = results["nbo"], results["segment"]
        figures["accepted_lift_vs_segment"] = round(nbo["accepted_expected"] / segment["accepted_expected"] - 1, 4)
        figures["revenue_lift_vs_segment"] = round(nbo["revenue_expected"] / segment["revenue_expected"] - 1, 4)
        figures["revenue_lift_vs_segment_nbo_value"] = round(
            results["nbo_value"]["revenue_expected"] / segment["revenue_expected"] - 1, 4)
        figures["accepted_lift_vs_segment_nbo_value"] = round(
            results["nbo_value"]["accepted_expected"] / segment["accepted_expected"] - 1, 4)
        figures["accepted_lift_vs_random"] = round(nbo["accepted_expected"] / results["random"]["accepted_expected"]
                                                   - 1, 4)
        flags = pd.concat(fairness, ignore_index=True)
        figures["fairness_flags_nbo"] = int(flags["flagged"].sum())
        figures["fairness_lowest_ratio_nbo"] = round(float(flags["ratio"].min()), 4)
    for name, value in figures.items():
        print(f"{name}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
