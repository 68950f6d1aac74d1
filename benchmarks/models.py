"""Every product and life-event model against the oracle: the generator's true probabilities.

    .venv/bin/python benchmarks/models.py --customers 100000 [--days 365] [--date 2026-06-30] [--home DIR [--reuse]]

Generates a bank into a fresh home (a temporary folder unless --home is given), runs the pipeline steps
the models need (ingest, silver, training_set; in-process, jobs.pipeline.run_step), trains every
target's model (jobs.models.run.train_target: out-of-time test on the latest as-of date, on the rows
sampled in Spark: every positive and a weighted sample of the negatives, jobs/models/sample.py), and
scores every eligible row of that test date (not just the sampled ones) with the model and the oracle:
each customer's true probability for the month after the as-of date
(ground_truth/probabilities.parquet, p_<product> or h_<event> of the person behind the customer).
`--home DIR --reuse` skips the bank and the steps, and trains on what an earlier run left in DIR (into an MLflow
store of its own, so every model is trained again).
Prints one `name: value` figure a line, per model:

  auc_<model>, oracle_auc_<model>, auc_ratio_<model>   model AUC / oracle AUC on the same test rows
  pr_auc_<model>, brier_<model>, lift_top_decile_<model>
  base_rate_<model>, test_positives_<model>, train_seconds_<model>
  negative_rate_<model>, negatives_kept_<model>                     the share of negatives trained on
and the totals (customers, as_of_dates, ingest/silver/training_set/train seconds). Targets (issue:
models that earn their place): every model at >= 0.95 of the oracle AUC; oracle AUCs between 0.70 and
0.92 and monthly base rates of a few percent or less (a world as hard as a bank's).

The oracle knows everything that drives an opening, age included. A credit product's model may not use the
protected attributes the policy blocks for it (fair lending: age, gender, marital status; schemas/decisioning/
policy.json), so for those models the benchmark also trains the same model with the blocked attributes let back
in, as a comparison only (registered under `<model>_protected_allowed`, never a champion of the product), and
prints, besides the figures above for the model the bank may use:

  protected_left_out_<model>                        the columns the policy keeps out of it
  auc_protected_allowed_<model>, auc_ratio_protected_allowed_<model>
  fair_lending_cost_<model>                          the AUC the policy costs: allowed minus the policy's model

The 0.95 target is for what a model may know: the policy's model for every product the policy does not
restrict, the protected-allowed one for those it does (the policy's own gap is the fair-lending cost).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import add_bank_arguments, project_home, quiet_engine  # noqa: E402


def person_of_customer(lh, ground_truth: Path):
    """customer_id -> the person most of its silo records belong to (ground truth)."""
    import pandas as pd

    crosswalk = lh.rows("silver.customer_crosswalk", columns=["silo", "silo_customer_id", "customer_id"]).to_pandas()
    truth = pd.read_parquet(ground_truth / "silo_ids.parquet")
    linked = crosswalk.merge(truth, on=["silo", "silo_customer_id"])
    return linked.groupby("customer_id")["person_id"].agg(lambda s: s.mode().iloc[0])


def protected_allowed_auc(lh, target, policy, test, y) -> float:
    """The AUC on the same test rows of the same model with the attributes the policy blocks for the product let
    back in: trained and registered as `<model>_protected_allowed` (a comparison, never the product's champion),
    then scored with the version that run registered."""
    from dataclasses import replace

    from sklearn.metrics import roc_auc_score

    from jobs.models.run import spec_for, training_rows
    from jobs.models.sample import WEIGHT_COLUMN
    from jobs.models.score import _load_version, score_rows
    from jobs.models.train import train_model

    everything = tuple(policy.protected.attributes)
    allowing = replace(policy, protected=replace(policy.protected, allow={**policy.protected.allow,
                                                                          target.name: everything}))
    spec = spec_for(target, allowing)
    spec = replace(spec, name=f"{target.model_name}_protected_allowed", weight_column=WEIGHT_COLUMN)
    frame, sampling = training_rows(lh, target, spec.features)
    result = train_model(frame, spec, lh.settings, params=sampling.params())
    booster, plan = _load_version(lh.settings.mlflow_uri, spec.name, result.version)
    scored = score_rows(test.reset_index(drop=True), spec.name, result.version, booster, plan)
    return roc_auc_score(y, scored["probability"].to_numpy())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_bank_arguments(parser, customers=100_000, date_help="the export's date (the pipeline's logical date)")
    parser.add_argument("--reuse", action="store_true",
                        help="with --home: train and evaluate on the bank and tables an earlier run left there")
    args = parser.parse_args()
    if args.reuse and not args.home:
        parser.error("--reuse needs --home: the folder an earlier run (with --home) left its bank in")
    quiet_engine()

    import pandas as pd
    from pyspark.sql import functions as F
    from sklearn.metrics import roc_auc_score

    from jobs.decide.catalog import load_policy
    from jobs.generate import generate_bank
    from jobs.gold.targets import TARGETS
    from jobs.models.run import eligible_rows, protected_columns, train_target
    from jobs.models.score import score
    from jobs.pipeline import lakehouse, run_step
    from jobs.settings import Settings, parse_date

    day = parse_date(args.date)
    figures: dict[str, object] = {"customers": args.customers}
    with project_home(args.home, "marketofone-models-") as home:
        settings = Settings.from_env().with_(home=home, customers=args.customers, history_days=args.days)
        if args.reuse:
            # Models trained afresh, in a store of their own (the home's store already holds this bank's models,
            # and a model already trained on the same dates is not trained again).
            store = home / "benchmark-mlflow" / time.strftime("%Y%m%dT%H%M%S")
            store.mkdir(parents=True)
            settings = settings.with_(tracking_uri=f"sqlite:///{store / 'mlflow.db'}")
        else:
            started = time.perf_counter()
            generate_bank(settings, day)
            figures["generate_seconds"] = round(time.perf_counter() - started, 1)
            for step in ("ingest", "silver", "training_set"):
                result = run_step(step, day, settings)
                figures[f"{step}_seconds"] = round(result.seconds, 1)
        lh = lakehouse(settings)
        figures["as_of_dates"] = lh.read("gold.training_set").select("as_of_date").distinct().count()
        persons = person_of_customer(lh, settings.ground_truth)
        truth = pd.read_parquet(settings.ground_truth / "probabilities.parquet")
        truth["month"] = pd.to_datetime(truth["month"]).dt.date
        train_total = 0.0
        policy = load_policy()
        for name, target in TARGETS.items():
            started = time.perf_counter()
            outcome = train_target(lh, name, policy)
            seconds = time.perf_counter() - started
            train_total += seconds
            model = target.model_name
            if "skipped" in outcome:
                figures[f"skipped_{model}"] = outcome["skipped"]
                continue
            if outcome["champion"] is None:   # it fell short of the floor: no champion to score the test rows with
                figures[f"no_champion_{model}"] = f"test AUC {outcome['auc']}: {outcome['reason']}"
                continue
            test = (eligible_rows(lh, target).where(F.col("as_of_date") == F.lit(outcome["test_time"]).cast("date"))
                    .toPandas().sort_values("customer_id").reset_index(drop=True))
            month = (pd.Timestamp(outcome["test_time"]) + pd.Timedelta(days=1)).date()
            column = f"p_{name}" if target.kind == "product" else f"h_{name}"
            oracle = truth.loc[truth["month"] == month, ["person_id", column]].set_index("person_id")[column]
            test["oracle"] = test["customer_id"].map(persons).map(oracle)
            known = test["oracle"].notna().to_numpy()
            y = test[target.label].to_numpy()[known]
            oracle_auc = roc_auc_score(y, test["oracle"].to_numpy()[known])
            model_auc = roc_auc_score(y, score(test, model, settings)["probability"].to_numpy()[known])
            figures.update({
                f"auc_{model}": round(model_auc, 4), f"oracle_auc_{model}": round(oracle_auc, 4),
                f"auc_ratio_{model}": round(model_auc / oracle_auc, 4),
                f"pr_auc_{model}": outcome["pr_auc"], f"brier_{model}": outcome["brier"],
                f"lift_top_decile_{model}": outcome["lift_top_decile"],
                f"base_rate_{model}": round(float(y.mean()), 5), f"test_positives_{model}": int(y.sum()),
                f"train_seconds_{model}": round(seconds, 1),
                f"negative_rate_{model}": outcome["negative_rate"],
                f"negatives_kept_{model}": outcome["negatives_kept"],
            })
            blocked = protected_columns(target, policy)
            if blocked:
                allowed_auc = protected_allowed_auc(lh, target, policy, test[known], y)
                figures.update({
                    f"protected_left_out_{model}": ",".join(sorted(blocked)),
                    f"auc_protected_allowed_{model}": round(allowed_auc, 4),
                    f"auc_ratio_protected_allowed_{model}": round(allowed_auc / oracle_auc, 4),
                    f"fair_lending_cost_{model}": round(allowed_auc - model_auc, 4),
                })
        figures["train_seconds"] = round(train_total, 1)
    for name, value in figures.items():
        print(f"{name}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
