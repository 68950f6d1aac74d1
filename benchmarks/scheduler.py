"""One daily DAG run of the same bank under Airflow's real scheduler and through `dag.test()`, timed.

    .venv/bin/python benchmarks/scheduler.py [--customers 2000] [--date 2026-06-30] [--days 365] [--home DIR]

Generates the bank once (the demo's: a full export of --date), then runs `personalization_daily` for --date
twice, each on a fresh copy of the exports:

- `dag_test`: the embedded profile: `marketofone run` runs the DAG in one process through `dag.test()`, tasks
  one after the other, on the embedded Sail engine;
- `scheduler`: the production profile on this machine (jobs/local_stack.py): PostgreSQL, the MLflow server, a
  Spark Connect server (Sail's) and Airflow's api-server, scheduler (LocalExecutor, the six ingests in parallel
  processes), dag-processor and triggerer; `marketofone run` asks for the run through the REST API and waits.

Prints one `name: value` figure a line: each way's wall seconds of `marketofone run` (`*_run_seconds`), the
scheduler's own start-to-end of the DAG run (`scheduler_dag_run_seconds`), how many ingests ran at once, and the
stack's start-up (`scheduler_stack_start_seconds`, not in the run's figure).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import add_bank_arguments, project_home  # noqa: E402

CLI = [sys.executable, "-m", "jobs.cli"]
KEY = "scheduler-benchmark-key-0123456789abcdefghijk"


def _cli(env: dict[str, str], *args: str) -> float:
    started = time.perf_counter()
    done = subprocess.run([*CLI, *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{args} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def _copy_exports(source: Path, home: Path) -> None:
    for folder in ("landing", "ground_truth"):
        if (source / folder).exists():
            shutil.copytree(source / folder, home / folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_bank_arguments(parser, customers=2000, date_help="the business date of the daily run")
    args = parser.parse_args()
    bank = {"MARKETOFONE_CUSTOMERS": str(args.customers), "MARKETOFONE_HISTORY_DAYS": str(args.days),
            "MARKETOFONE_TOKENIZATION_KEY": KEY}
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MARKETOFONE_", "SPARK_REMOTE", "AIRFLOW"))}
    with project_home(args.home, "marketofone-scheduler-") as root:
        exports = root / "exports"
        _cli({**base, **bank, "MARKETOFONE_HOME": str(exports)}, "generate", "--date", args.date)

        embedded = root / "dag_test"
        _copy_exports(exports, embedded)
        seconds = _cli({**base, **bank, "MARKETOFONE_HOME": str(embedded)}, "run", "personalization_daily",
                       "--date", args.date)
        print(f"dag_test_run_seconds: {seconds:.1f}", flush=True)

        from jobs.local_stack import LocalStack

        started = time.perf_counter()
        with LocalStack(root / "services", root / "scheduler", settings_env=bank).start() as stack:
            print(f"scheduler_stack_start_seconds: {time.perf_counter() - started:.1f}", flush=True)
            _copy_exports(exports, stack.home)
            seconds = _cli(stack.env, "run", "personalization_daily", "--date", args.date)
            outcome = json.loads((stack.home / "logs" / "personalization_daily" / f"{args.date}.json").read_text())
        print(f"scheduler_run_seconds: {seconds:.1f}")
        print(f"scheduler_dag_run_seconds: {outcome['seconds']:.1f}")
        print(f"scheduler_ingests_at_once: {outcome['ingests_at_once']}")
        print(f"customers: {args.customers}")


if __name__ == "__main__":
    main()
