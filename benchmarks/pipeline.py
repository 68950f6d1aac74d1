"""Time each step of the pipeline on one or more engines, on the same generated bank.

    .venv/bin/python benchmarks/pipeline.py --customers 100000 [--engines sail,jvm] [--date 2026-06-30]
                                            [--days 365] [--home DIR] [--until STEP]

Generates a bank once (a full export of --date and the next day's increment), then, for each engine, copies
the exports into a home of its own and runs the steps through jobs.pipeline.run_step — the functions the
Airflow tasks call — in a process of its own (one engine per process, as in production): the first load
(the daily DAG's loading steps, the weekly DAG's training, then scoring, offers and KPIs, i.e. a full export
through to published offers), then the next day's increment through the daily DAG. `--until STEP` stops
the first load after STEP, with no increment: the same steps on every engine, for a comparison the slower
engine would not finish in time.

Prints one `name: value` figure a line, per engine (`sail_step_ingest_seconds: 12.3`): each step's seconds,
rows and rows per second, `first_load_seconds` and `daily_increment_seconds`, and `driver_peak_rss_mb`,
the peak resident memory of the driver process (the Python process that runs the jobs: what a collect or a
toPandas of the customer base would blow up). The embedded engine works inside that process, so its figure
includes the engine's own; `sail-server` runs the same engine in a process of its own and prints that process's
peak as `engine_peak_rss_mb` (the JVM engine's executors are not in the driver's figure either). With Sail and the
JVM, `speedup_sail_vs_jvm` is the JVM's seconds over Sail's on the same steps.

Targets (issue 14), on the 100,000-customer bank and 2 cores: first load <= 240 s on the embedded engine, a
daily increment <= 60 s, Sail >= 5x the JVM, and the driver's peak memory at 100k <= 1.5x that at 20k.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import add_bank_arguments, project_home, quiet_engine  # noqa: E402

# sail: the embedded engine, in the driver's process (the default); sail-server: the same engine as a process of
# its own, reached over Spark Connect (`marketofone connect-server --engine sail`), so that the driver's peak memory
# is the driver's alone; jvm: classic JVM Spark + Delta (its JVM is a process of its own too).
ENGINE_SETTING = {"sail": "sail", "sail-server": "remote", "jvm": "jvm"}


def step_rows(result) -> int:
    if result.step.startswith("ingest"):
        return result.details["rows_in"]
    if result.step == "train":
        return sum(m.get("rows", 0) for m in result.details["models"].values())
    return result.rows


def first_load_steps() -> tuple[str, ...]:
    """A full export through to published offers: the daily DAG's loading steps, the weekly DAG's training,
    then scoring, offers and KPIs."""
    from jobs.pipeline import DAILY_ORDER, WEEKLY_ORDER

    loading = DAILY_ORDER[: DAILY_ORDER.index("score")]
    return (*loading, *WEEKLY_ORDER, *DAILY_ORDER[len(loading):])


def run_engine(home: Path, day: dt.date, customers: int, days: int, until: str | None = None) -> dict:
    """In the engine's own process: the first load (up to `until`), then the increment (only after a whole
    first load); the figures as a dict."""
    from jobs.pipeline import DAILY_ORDER, run_step
    from jobs.settings import Settings

    settings = Settings.from_env().with_(home=home, customers=customers, history_days=days)
    figures: dict[str, float] = {}
    steps = first_load_steps()
    whole = until is None
    steps = steps if whole else steps[: steps.index(until) + 1]
    first_load = 0.0
    for name in steps:
        result = run_step(name, day, settings)
        rows = step_rows(result)
        first_load += result.seconds
        figures[f"step_{name}_seconds"] = round(result.seconds, 2)
        figures[f"step_{name}_rows"] = rows
        figures[f"step_{name}_rows_per_second"] = round(rows / result.seconds) if result.seconds else 0
        print(f"  {settings.engine}: {name} {result.seconds:.1f}s", file=sys.stderr, flush=True)
    figures["first_load_seconds" if whole else f"first_load_until_{until}_seconds"] = round(first_load, 2)
    if whole:
        increment = 0.0
        for name in DAILY_ORDER:
            result = run_step(name, day + dt.timedelta(days=1), settings)
            increment += result.seconds
            figures[f"increment_{name}_seconds"] = round(result.seconds, 2)
            print(f"  {settings.engine}: increment {name} {result.seconds:.1f}s", file=sys.stderr, flush=True)
        figures["daily_increment_seconds"] = round(increment, 2)
    # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss across execve, so a child started by this
    # benchmark would report the parent's peak (the bank's generation, ~5 GB at 100,000 customers).
    figures["driver_peak_rss_mb"] = peak_rss_mb(os.getpid())
    return figures


@contextmanager
def engine_process(engine: str, home: Path):
    """The environment a child needs for `engine`, and (sail-server) Sail's server as a process of its own,
    stopped on the way out; yields (env, a function giving the server's peak RSS in MB, or None)."""
    env = {**os.environ, "MARKETOFONE_ENGINE": ENGINE_SETTING[engine]}
    env.pop("SPARK_REMOTE", None)
    if engine != "sail-server":
        yield env, lambda: None
        return
    from jobs.connect_server import _listening, free_port

    port = free_port()
    log = open(home / f"{engine}.log", "ab")
    server = subprocess.Popen([sys.executable, "-m", "jobs.cli", "connect-server", "--engine", "sail", "--port",
                               str(port)], cwd=ROOT, env={**os.environ, "MARKETOFONE_HOME": str(home / engine)},
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not _listening(port):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Sail's Connect server did not start; its output: {home / f'{engine}.log'}")
            time.sleep(0.2)
        env["SPARK_REMOTE"] = f"sc://127.0.0.1:{port}"
        yield env, lambda: peak_rss_mb(server.pid)
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def peak_rss_mb(pid: int) -> int:
    """A live process's peak resident memory (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    raise RuntimeError(f"no VmHWM for process {pid}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_bank_arguments(parser, customers=2000, date_help="the full export's date; the increment is the next day")
    parser.add_argument("--engines", default="sail", help="comma-separated: sail, sail-server, jvm (default: sail)")
    parser.add_argument("--until", help="stop the first load after this step (no increment)")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # internal: run one engine, write its figures here
    args = parser.parse_args()
    quiet_engine()
    day = dt.date.fromisoformat(args.date)

    if args.child:
        figures = run_engine(Path(args.home), day, args.customers, args.days, args.until)
        Path(args.child).write_text(json.dumps(figures))
        return 0

    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = [e for e in engines if e not in ENGINE_SETTING]
    if unknown:
        parser.error(f"unknown engine(s) {', '.join(unknown)}; choose from {', '.join(ENGINE_SETTING)}")

    if args.until and args.until not in first_load_steps():
        parser.error(f"unknown step {args.until!r}; the first load's steps: {', '.join(first_load_steps())}")

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
            command = [sys.executable, __file__, "--child", str(out), "--home", str(engine_home),
                       "--date", args.date, "--customers", str(args.customers), "--days", str(args.days)]
            command += ["--until", args.until] if args.until else []
            with engine_process(engine, home) as (env, engine_peak):
                subprocess.run(command, env=env, cwd=ROOT, check=True)
                results[engine] = json.loads(out.read_text())
                engine_peak_mb = engine_peak()
                if engine_peak_mb is not None:
                    results[engine]["engine_peak_rss_mb"] = engine_peak_mb
            for key, value in results[engine].items():
                print(f"{engine}_{key}: {value}", flush=True)

        sail = next((e for e in ("sail", "sail-server") if e in results), None)
        if sail and "jvm" in results:
            same = [k for k in results[sail] if k.endswith("_seconds") and k.startswith(("step_", "increment_"))]
            sail_seconds, jvm_seconds = (sum(results[e][k] for k in same) for e in (sail, "jvm"))
            print(f"speedup_sail_vs_jvm: {jvm_seconds / sail_seconds:.2f}")
        if args.home:
            print(f"home: {home}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
