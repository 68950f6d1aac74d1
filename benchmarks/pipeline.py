"""Time each step of the pipeline on the embedded engine.

    .venv/bin/python benchmarks/pipeline.py --customers 2000 [--date 2026-06-30] [--home DIR]

Generates a bank into a fresh home (a temporary folder unless --home is given), then runs the steps
through jobs.pipeline.run_step — the functions the Airflow tasks call — in the order a new lakehouse
needs them: the daily DAG's loading steps, the weekly DAG's training steps, then the daily DAG's
scoring steps. Prints one `name: value` figure a line: seconds and rows per second for each step, and
the totals. Rows per step: rows read from landing for ingest, training rows for train, rows written
otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def step_rows(result) -> int:
    if result.step.startswith("ingest"):
        return result.details["rows_in"]
    if result.step == "train":
        return sum(m.get("rows", 0) for m in result.details["models"].values())
    return result.rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--date", default="2026-06-30")
    parser.add_argument("--home", help="project home to use (default: a new temporary folder)")
    args = parser.parse_args()
    os.environ.setdefault("RUST_LOG", "warn")

    from jobs.generate import generate_bank
    from jobs.pipeline import DAILY_ORDER, WEEKLY_ORDER, run_step
    from jobs.settings import Settings, parse_date

    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="marketofone-bench-"))
    settings = Settings.from_env().with_(home=home.resolve(), customers=args.customers)
    day = parse_date(args.date)

    started = time.perf_counter()
    generated = generate_bank(settings, day)
    print(f"customers: {args.customers}")
    print(f"landing_rows: {sum(generated['files'].values())}")
    print(f"generate_seconds: {time.perf_counter() - started:.2f}")

    total = 0.0
    loading = DAILY_ORDER[: DAILY_ORDER.index("score")]
    for name in (*loading, *WEEKLY_ORDER, *DAILY_ORDER[len(loading):]):
        result = run_step(name, day, settings)
        rows = step_rows(result)
        total += result.seconds
        print(f"step_{name}_seconds: {result.seconds:.2f}")
        print(f"step_{name}_rows: {rows}")
        print(f"step_{name}_rows_per_second: {rows / result.seconds:.0f}")
    print(f"pipeline_seconds: {total:.2f}")
    print(f"home: {home}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
