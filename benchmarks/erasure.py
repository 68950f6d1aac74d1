"""Erasure measured: random customers erased from a whole bank, then every file searched for them.

    .venv/bin/python benchmarks/erasure.py --customers 20000 [--erase 100] [--date 2026-06-30] [--days N]
        [--seed 7] [--home DIR]

A bank is generated into a fresh home (a temporary folder unless --home names one that already holds a run) and
run through the full export's daily steps, the weekly training and the next day's daily steps (benchmarks/
common.build_store: landing files, bronze, quarantine, silver, gold, scores, training sets, decisions, channel
tables, exports, the online store). Then `--erase` customers, drawn at random among those with a golden record,
are queued (`marketofone erase`'s jobs.privacy.erasure.queue) and erased in one run of the erasure step (what
the erasure DAG runs).

Before the erasure, each person's identifiers are gathered: their golden ids, silo customer ids and account ids
(jobs/privacy/subjects.py), their tokens (silver.customer) and their raw identifiers as the silos exported them
(e-mail, phone, national id from the customer masters, the values no one else shares). After it, every file
under the home is searched for them (jobs/privacy/scan.py: every Parquet file of every table, every version
still on storage, the Delta logs, the landing files, the exports, the event files, the reports, the stores).
A token or raw value another customer also carries (a household's street or e-mail, a namesake) is left out of
the search: finding it would not be finding the person.

Figures, one `name: value` a line:
  customers_erased, identifiers      the people erased and the identifiers searched for
  rows_before, files_before          rows (lines) and files naming them before the erasure
  queue_seconds                      the requests queued, one at a time as `marketofone erase` queues them
  seconds                            the erasure run: identification, deletes, file rewrites, purges, report
  rows_with_erased, files_with_erased  after it: the target is 0 and 0
  decisions_redacted                 their decisions kept in audit.decision_log under the erasure id
  files_scanned, scan_seconds
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import build_store, project_home, quiet_engine  # noqa: E402

RAW_COLUMNS = {"deposits_customers": ("cif_id", ("email", "phone", "national_id")),
               "cards_cardholders": ("holder_ref", ("email", "phone", "ssn")),
               "lending_borrowers": ("borrower_no", ("email", "phone", "tax_id"))}
TOKENS = ("name_token", "email_token", "phone_token", "national_id_token", "street_token")


def needles(lh, subjects) -> set[str]:
    """Every identifier of the people: ids, tokens, and the raw values only they carry."""
    from pyspark.sql import functions as F

    golden = sorted({g for s in subjects for g in s.ids.golden})
    found = {v for s in subjects for v in s.ids.values()}
    customers = lh.read("silver.customer")
    tokens = {v for row in customers.where(F.col("customer_id").isin(*golden)).select(*TOKENS).collect()
              for v in row if v}
    # A token someone else also has (a household's street, a namesake's name) is not theirs alone.
    others = customers.where(~F.col("customer_id").isin(*golden))
    shared = {r[0] for t in TOKENS for r in others.where(F.col(t).isin(*sorted(tokens))).select(t).distinct().collect()}
    found |= tokens - shared
    # Their raw values from every silo's master; a value any other record of any silo carries (a household's
    # e-mail, a placeholder national id, a record of theirs the identity resolution did not link, which the
    # lakehouse holds as another customer) is not theirs alone.
    values, shared = set(), set()
    masters = [(name, id_column, columns, sorted({i for s in subjects for k, i in s.ids.customers
                                                  if k == table.split("_")[0]}))
               for table, (id_column, columns) in RAW_COLUMNS.items()
               for name in (f"bronze.{table}", f"quarantine.{table}") if lh.exists(name)]
    for name, id_column, columns, ids in masters:
        if ids:
            mine = lh.read(name).where(F.trim(F.col(id_column)).isin(*ids))
            values |= {v.strip() for r in mine.select(*columns).collect() for v in r if v and v.strip()}
    for name, id_column, columns, ids in masters:
        others = lh.read(name).where(~F.trim(F.col(id_column)).isin(*ids)) if ids else lh.read(name)
        shared |= {r[0] for c in columns for r in others.where(F.trim(F.col(c)).isin(*sorted(values)))
                   .select(F.trim(F.col(c))).distinct().collect()}
    found = (found | values) - shared   # Identifiers.raw too: the product judges a value within its silo
    return found


def timed_scan(home: Path, searched: set[str], rows: str, files: str):
    """Every file under the home searched (jobs/privacy/scan.py); its figures printed under these names."""
    from jobs.privacy import scan

    t = time.perf_counter()
    found = scan.scan_home(home, searched)
    print(f"{rows}: {found.rows_with_erased}")
    print(f"{files}: {found.files_with_erased}")
    print(f"scan_seconds: {time.perf_counter() - t:.1f}")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=20000)
    parser.add_argument("--erase", type=int, default=100, help="customers to erase (default 100)")
    parser.add_argument("--date", default="2026-06-30", help="the full export's date; the next day follows")
    parser.add_argument("--days", type=int, default=365, help="days of history in the full export")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--home", help="keep the bank here; a home that already holds a run is reused")
    args = parser.parse_args()
    quiet_engine()

    from pyspark.sql import functions as F

    from jobs.pipeline import lakehouse
    from jobs.privacy import erasure
    from jobs.privacy.subjects import identify_all
    from jobs.settings import Settings

    day = dt.date.fromisoformat(args.date)
    with project_home(args.home, "erasure-bench-") as home:
        started = time.perf_counter()
        if not (home / "lakehouse" / "gold" / "customer_360").is_dir():
            build_store(home, args.customers, args.days, day)
            print(f"build_seconds: {time.perf_counter() - started:.1f}")
        lh = lakehouse(Settings(home=home, customers=args.customers, history_days=args.days))
        everyone = [r[0] for r in lh.read("silver.customer_crosswalk").select("customer_id").distinct()
                    .orderBy("customer_id").collect()]   # ids only, for the draw: the benchmark's, not the product's
        chosen = random.Random(args.seed).sample(everyone, min(args.erase, len(everyone)))
        subjects, _ = identify_all(lh, {f"B{i}": c for i, c in enumerate(chosen)})
        searched = needles(lh, subjects)
        golden = sorted({g for s in subjects for g in s.ids.golden})
        decisions = lh.read("audit.decision_log").where(F.col("customer_id").isin(*golden)).count()
        print(f"customers_erased: {len(chosen)}")
        print(f"identifiers: {len(searched)}")
        timed_scan(home, searched, rows="rows_before", files="files_before")

        t = time.perf_counter()
        ids = [erasure.queue(lh, c, "benchmark", check=False) for c in chosen]
        print(f"queue_seconds: {time.perf_counter() - t:.1f}")
        t = time.perf_counter()
        outcome = erasure.run(lh, day + dt.timedelta(days=2))
        print(f"seconds: {time.perf_counter() - t:.1f}")
        assert sorted(outcome.erased) == sorted(ids), outcome.unknown

        after = timed_scan(home, searched, rows="rows_with_erased", files="files_with_erased")
        print(f"files_scanned: {after.files_scanned}")
        redacted = lh.read("audit.decision_log").where(F.col("customer_id").isin(*ids)).count()
        print(f"decisions_redacted: {redacted} (of {decisions})")
        for path, rows in after.hits.most_common(20):
            print(f"  still names them: {path}: {rows}")
    return 0 if after.rows_with_erased == 0 and after.files_with_erased == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
