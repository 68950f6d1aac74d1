"""Benchmark the synthetic bank generator on its own.

    .venv/bin/python benchmarks/generate.py --customers 100000 [--days 365] [--date 2026-06-30] [--home DIR]

Generates one full export (the world from its first day to --date, --days of history in the files)
into a temporary home (removed afterwards unless --home is given) and prints one `name: value` figure
per line: customers, history days, transactions (deposit + card transactions and loan repayments),
sessions, consent and offer events, all landing rows, megabytes, seconds, rows per second (landing
rows / seconds), and the seconds of one daily increment for the day after.
Target (issue: a bank that looks real): 100,000 customers, 12 months, over 10 million transactions in
under 60 seconds on a 2-core machine.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

TRANSACTION_FILES = ("deposits/transactions", "cards/transactions", "lending/repayments")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=365, help="history days in the export window")
    parser.add_argument("--date", default="2026-06-30", help="the export's as-of date")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--home", help="project home to write into (default: a temporary folder, removed)")
    args = parser.parse_args()

    import datetime as dt

    from jobs.generate import generate_bank
    from jobs.settings import Settings, parse_date

    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="marketofone-generate-"))
    settings = Settings(home=home.resolve(), seed=args.seed, customers=args.customers, history_days=args.days,
                        label_horizon_days=min(30, args.days))
    try:
        started = time.perf_counter()
        summary = generate_bank(settings, parse_date(args.date))
        seconds = time.perf_counter() - started
        size = sum(p.stat().st_size for p in settings.landing.rglob("*.csv"))
        started = time.perf_counter()
        generate_bank(settings, parse_date(args.date) + dt.timedelta(days=1), daily=True)
        daily_seconds = time.perf_counter() - started
    finally:
        if not args.home:
            shutil.rmtree(home, ignore_errors=True)

    rows = sum(summary["files"].values())
    print(f"customers: {args.customers}")
    print(f"history_days: {args.days}")
    print(f"transactions: {sum(summary['files'][f] for f in TRANSACTION_FILES)}")
    print(f"sessions: {summary['files']['digital/sessions']}")
    print(f"consent_events: {summary['files']['crm/consents']}")
    print(f"offer_events: {summary['files']['crm/offers']}")
    print(f"landing_rows: {rows}")
    print(f"landing_megabytes: {size / 1e6:.1f}")
    print(f"seconds: {seconds:.2f}")
    print(f"rows_per_second: {rows / seconds:.0f}")
    print(f"daily_increment_seconds: {daily_seconds:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
