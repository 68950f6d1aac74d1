"""Identity resolution against the generator's ground truth: pairwise precision and recall.

    .venv/bin/python benchmarks/identity_resolution.py --customers 100000 [--date 2026-06-30] [--seed 42]
        [--home DIR] [--errors N]

Generates a bank into a fresh home (a temporary folder unless --home is given), runs the ingest and
silver steps through jobs.pipeline.run_step, reads silver.customer_crosswalk and the ground truth
(ground_truth/silo_ids.parquet) and prints one `name: value` figure a line:

  customers, silo_records, left_out   silo records scored; records quarantined at ingest (not in the
                                      crosswalk) are left out of both sides
  true_pairs, predicted_pairs, correct_pairs, precision, recall
                                      same-person pairs of silo records (jobs/unify/identity_quality.py)
  seconds                             resolution alone: `resolve` on the standardized silo records,
                                      crosswalk written (run once more after the silver step, timed)
  ingest_seconds, silver_seconds      the two steps as the pipeline runs them
  rule_<match_rule>                   crosswalk records per match rule
  customers_resolved                  golden customers (distinct customer_id)

--errors N also prints up to N false and missed merges with the silo records behind them.
Targets: precision >= 0.995 and recall >= 0.98.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--date", default="2026-06-30")
    parser.add_argument("--seed", type=int, default=None, help="generator seed (default: MARKETOFONE_SEED or 42)")
    parser.add_argument("--home", help="project home to use (default: a new temporary folder)")
    parser.add_argument("--errors", type=int, default=0, help="print up to N false and N missed merges")
    args = parser.parse_args()
    os.environ.setdefault("RUST_LOG", "warn")
    os.environ.setdefault("MARKETOFONE_PROGRESS", "0")

    import pandas as pd

    from jobs.generate import generate_bank
    from jobs.pipeline import lakehouse, run_step
    from jobs.settings import Settings, parse_date
    from jobs.unify.identity import resolve
    from jobs.unify.identity_quality import error_pairs, pair_precision_recall
    from jobs.unify.standardize import all_silo_customers, newest_export

    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="marketofone-identity-"))
    settings = Settings.from_env().with_(home=home.resolve(), customers=args.customers)
    if args.seed is not None:
        settings = settings.with_(seed=args.seed)
    day = parse_date(args.date)

    with contextlib.redirect_stdout(sys.stderr):  # step reports go to stderr: stdout is the figures
        generate_bank(settings, day)
        ingest = run_step("ingest", day, settings)
        silver = run_step("silver", day, settings)
    lh = lakehouse(settings)
    crosswalk = lh.read("silver.customer_crosswalk").toArrow().to_pandas()
    truth = pd.read_parquet(settings.ground_truth / "silo_ids.parquet")
    quality = pair_precision_recall(crosswalk, truth)

    # Resolution alone, on the same standardized records the silver step resolved.
    def bronze(name: str):
        return newest_export(lh.read(f"bronze.{name}"))

    records = lh.scratch(all_silo_customers(bronze("deposits_customers"), bronze("cards_cardholders"),
                                            bronze("lending_borrowers")), "bench_silo_customers")
    records.count()
    started = time.perf_counter()
    again = resolve(records, materialize=lambda df, i: lh.scratch(df, f"bench_identity_labels_{i % 2}"))
    again = lh.scratch(again, "bench_crosswalk")
    again.count()
    seconds = time.perf_counter() - started
    again_pdf = again.toPandas()
    key = ["silo", "silo_customer_id", "customer_id", "match_rule"]
    identical = again_pdf.sort_values(key).reset_index(drop=True)[key].equals(
        crosswalk.sort_values(key).reset_index(drop=True)[key])

    print(f"customers: {args.customers}")
    print(f"seed: {settings.seed}")
    print(f"silo_records: {quality['silo_records']}")
    print(f"left_out: {quality['left_out']}")
    print(f"true_pairs: {quality['true_pairs']}")
    print(f"predicted_pairs: {quality['predicted_pairs']}")
    print(f"correct_pairs: {quality['correct_pairs']}")
    print(f"precision: {quality['precision']:.5f}")
    print(f"recall: {quality['recall']:.5f}")
    print(f"seconds: {seconds:.2f}")
    print(f"ingest_seconds: {ingest.seconds:.2f}")
    print(f"silver_seconds: {silver.seconds:.2f}")
    print(f"rerun_identical: {str(identical).lower()}")
    print(f"customers_resolved: {crosswalk['customer_id'].nunique()}")
    for rule, n in crosswalk["match_rule"].value_counts().sort_index().items():
        print(f"rule_{rule}: {n}")
    print(f"home: {home}")

    if args.errors:
        false_merges, missed = error_pairs(crosswalk, truth)
        records_pdf = records.toPandas()
        with pd.option_context("display.width", 250, "display.max_columns", 30, "display.max_rows", 10_000):
            for title, groups, by in (("false merges", false_merges, "customer_id"),
                                      ("missed merges", missed, "person_id")):
                keep = groups[by].drop_duplicates().head(args.errors)
                shown = groups[groups[by].isin(keep)].merge(records_pdf, on=["silo", "silo_customer_id"])
                print(f"--- {title}: {groups[by].nunique()} groups, showing {len(keep)}")
                print(shown.drop(columns=["first_name", "last_name"]).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
