"""Time each step of the pipeline on one or more engines, on the same generated bank.

    .venv/bin/python benchmarks/pipeline.py --customers 100000 [--engines sail,jvm] [--date 2026-06-30]
                                            [--days 365] [--home DIR]

Generates a bank once (a full export of --date and the next day's increment), then, for each engine, copies
the exports into a home of its own and runs the steps through jobs.pipeline.run_step — the functions the
Airflow tasks call — in a process of its own (one engine per process, as in production): the first load
(the daily DAG's loading steps, the weekly DAG's training, then scoring, offers and KPIs, i.e. a full export
through to published offers), then the next day's increment through the daily DAG.

Prints one `name: value` figure a line, per engine (`sail_step_ingest_seconds: 12.3`): each step's seconds,
rows and rows per second, `first_load_seconds` and `daily_increment_seconds`, and `driver_peak_rss_mb`,
the peak resident memory of the driver process (the Python process that runs the jobs: what a collect or a
toPandas of the customer base would blow up; the JVM engine's own executors are not in it). With two
engines, `speedup_sail_vs_jvm` is the JVM's seconds over Sail's on the same steps.

Targets (issue 14), on the 100,000-customer bank and 2 cores: first load <= 240 s on the embedded engine, a
daily increment <= 60 s, Sail >= 5x the JVM, and the driver's peak memory at 100k <= 1.5x that at 20k.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import add_bank_arguments, project_home, quiet_engine  # noqa: E402

ENGINE_SETTING = {"sail": "sail", "jvm": "jvm"}


def step_rows(result) -> int:
    if result.step.startswith("ingest"):
        return result.details["rows_in"]
    if result.step == "train":
        return sum(m.get("rows", 0) for m in result.details["models"].values())
    return result.rows


def run_engine(home: Path, day: dt.date, customers: int, days: int) -> dict:
    """In the engine's own process: the first load, then the increment; the figures as a dict."""
    from jobs.pipeline import DAILY_ORDER, WEEKLY_ORDER, run_step
    from jobs.settings import Settings

    settings = Settings.from_env().with_(home=home, customers=customers, history_days=days)
    figures: dict[str, float] = {}
    loading = DAILY_ORDER[: DAILY_ORDER.index("score")]
    first_load = 0.0
    for name in (*loading, *WEEKLY_ORDER, *DAILY_ORDER[len(loading):]):
        result = run_step(name, day, settings)
        rows = step_rows(result)
        first_load += result.seconds
        figures[f"step_{name}_seconds"] = round(result.seconds, 2)
        figures[f"step_{name}_rows"] = rows
        figures[f"step_{name}_rows_per_second"] = round(rows / result.seconds) if result.seconds else 0
        print(f"  {settings.engine}: {name} {result.seconds:.1f}s", file=sys.stderr, flush=True)
    figures["first_load_seconds"] = round(first_load, 2)
    increment = 0.0
    for name in DAILY_ORDER:
        result = run_step(name, day + dt.timedelta(days=1), settings)
        increment += result.seconds
        figures[f"increment_{name}_seconds"] = round(result.seconds, 2)
    figures["daily_increment_seconds"] = round(increment, 2)
    figures["driver_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_bank_arguments(parser, customers=2000, date_help="the full export's date; the increment is the next day")
    parser.add_argument("--engines", default="sail", help="comma-separated: sail, jvm (default: sail)")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # internal: run one engine, write its figures here
    args = parser.parse_args()
    quiet_engine()
    day = dt.date.fromisoformat(args.date)

    if args.child:
        figures = run_engine(Path(args.home), day, args.customers, args.days)
        Path(args.child).write_text(json.dumps(figures))
        return 0

    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = [e for e in engines if e not in ENGINE_SETTING]
    if unknown:
        parser.error(f"unknown engine(s) {', '.join(unknown)}; choose from {', '.join(ENGINE_SETTING)}")

    from jobs.generate import generate_bank
    from jobs.settings import Settings

    with project_home(args.home, "marketofone-bench-") as home:
        bank = home / "bank"
        settings = Settings.from_env().with_(home=bank, customers=args.customers, history_days=args.days)
        started = time.perf_counter()
        generated = generate_bank(settings, day)
        generate_bank(settings, day + dt.timedelta(days=1), daily=True)   # the next day's increment
        print(f"customers: {args.customers}")
        print(f"landing_rows: {sum(generated['files'].values())}")
        print(f"generate_seconds: {time.perf_counter() - started:.2f}", flush=True)

        results = {}
        for engine in engines:
            engine_home = home / engine
            shutil.rmtree(engine_home, ignore_errors=True)
            shutil.copytree(bank / "landing", engine_home / "landing")
            out = home / f"{engine}.json"
            env = {**os.environ, "MARKETOFONE_ENGINE": ENGINE_SETTING[engine]}
            env.pop("SPARK_REMOTE", None)
            command = [sys.executable, __file__, "--child", str(out), "--home", str(engine_home),
                       "--date", args.date, "--customers", str(args.customers), "--days", str(args.days)]
            subprocess.run(command, env=env, cwd=ROOT, check=True)
            results[engine] = json.loads(out.read_text())
            for key, value in results[engine].items():
                print(f"{engine}_{key}: {value}", flush=True)

        if "sail" in results and "jvm" in results:
            same = [k for k in results["sail"] if k.endswith("_seconds") and k.startswith(("step_", "increment_"))]
            sail, jvm = (sum(results[e][k] for k in same) for e in ("sail", "jvm"))
            print(f"speedup_sail_vs_jvm: {jvm / sail:.2f}")
        if args.home:
            print(f"home: {home}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
