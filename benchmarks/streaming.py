"""The event stream: throughput into the lakehouse, exactly once under SIGKILL, and event-to-offer latency.

    .venv/bin/python benchmarks/streaming.py [--home DIR --customers N] [--rate 20] [--seconds 30]

A bank is built as for benchmarks/decision_api.py (the full export's daily DAG steps, the weekly training, the
next day's daily steps: a lakehouse loaded and an online store published), or `--home` names one (with the
--customers and --date it was generated with). The home is copied twice, so the run changes nothing in it; the
day after the store's date is generated as events (stream/events/<day>/) in both copies. Then:

1. `events_per_second`: the `lakehouse` consumer (`marketofone stream`, embedded Sail) takes the day's events into
   bronze and silver in one copy, in micro-batches of --max-files files, timed from the first file to the last
   commit.
2. `duplicates_after_kill`, `lost_after_kill`: in the other copy the same day is streamed by a process killed
   (SIGKILL) after the bronze writes of its second micro-batch, then started again; every event id must then be in
   bronze or its quarantine exactly once.
3. `event_to_offer_p95_seconds`: the `triggers` consumer follows the stream (polling every 50 ms, as
   `marketofone serve --triggers` runs it) while this process writes new event files at --rate events/s, small
   files of 5 events, half of them moments of need (debit card spend on travel) and half quiet (sessions on the
   statements page), each stamped with the wall-clock time it was written; the latency of an event is from that stamp to
   the trigger's decision committed on the triggered-offers queue (published or, when no offer was open, recorded).

Prints those four figures and the counts behind them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import add_bank_arguments, build_store, project_home, quiet_engine  # noqa: E402

FILE_EVENTS = 5
P95_TARGET_S = 5.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _env(home: Path, customers: int) -> dict:
    return {**os.environ, "MARKETOFONE_HOME": str(home), "MARKETOFONE_CUSTOMERS": str(customers)}


def stream_throughput(home: Path, customers: int, max_files: int) -> tuple[float, int]:
    from jobs.pipeline import lakehouse
    from jobs.settings import Settings
    from jobs.stream.run import run

    report = run(lakehouse(Settings(home=home, customers=customers)), max_files=max_files)
    return report.events / report.seconds, report.events


def killed_and_restarted(home: Path, customers: int, events: int) -> tuple[int, int, int]:
    """(duplicates, lost, exit signal of the killed run) after a SIGKILL mid-batch and a restart."""
    from deltalake import DeltaTable

    from jobs.stream.to_lakehouse import KILL_AFTER_BRONZE

    command = [sys.executable, "-m", "jobs.cli", "stream", "--until-idle", "--max-files", "2"]
    killed = subprocess.run(command, cwd=ROOT, env={**_env(home, customers), KILL_AFTER_BRONZE: "2"},
                            capture_output=True, text=True)
    again = subprocess.run(command, cwd=ROOT, env=_env(home, customers), capture_output=True, text=True)
    if again.returncode != 0:
        raise RuntimeError(f"the restarted stream failed: {again.stderr[-2000:]}")
    ids: list[str] = []
    for source in ("deposits_transactions", "cards_transactions", "lending_repayments", "digital_sessions",
                   "crm_consents", "channels_responses"):
        for layer in ("bronze", "quarantine"):
            path = home / "lakehouse" / layer / source
            if path.is_dir():
                frame = DeltaTable(str(path)).to_pyarrow_table(columns=["_event_id"]).column(0).to_pylist()
                ids += [i for i in frame if i is not None]
    return len(ids) - len(set(ids)), events - len(set(ids)), -killed.returncode


def _moments(store, n: int) -> list[dict]:
    """Event payloads that are moments of need for customers the store knows: debit card spend on travel."""
    return [{"source": "deposits/transactions", "data": {"account_id": account, "txn_type": "CARD_SETTLEMENT",
                                                         "direction": "DR", "mcc": "4511", "amount": "412.00"}}
            for account in store.some_ids("account:deposits", n)]


def _quiet(store, n: int) -> list[dict]:
    return [{"source": "digital/sessions", "data": {"customer_ref": ref, "customer_silo": "deposits",
                                                    "page": "statements", "channel": "app"}}
            for ref in store.some_ids("customer:deposits", n)]


def trigger_latency(home: Path, day: dt.date, rate: float, seconds: float) -> tuple[list[float], int, int]:
    """(latencies of the triggers fired, events written, triggers fired) while events are written at `rate`."""
    from jobs.serve.store import OnlineStore
    from jobs.stream import triggers

    engine = triggers.standalone(home)
    triggers.run(engine)   # the day already generated, first: the follower then starts level with the stream
    store = OnlineStore(home)
    store.refresh()
    total = int(rate * seconds)
    moments, quiet = _moments(store, total), _quiet(store, total)
    if not moments:
        raise RuntimeError("the store knows no deposit account: no moment of need to write")
    stop = threading.Event()
    follower = threading.Thread(target=triggers.run, args=(engine,), kwargs={"until_idle": False, "stop": stop.is_set})
    follower.start()
    folder = home / "stream" / "events" / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    before = engine.counts["events"]
    written, started = 0, time.monotonic()
    for part in range(1, total // FILE_EVENTS + 1):
        due = started + (part - 1) * FILE_EVENTS / rate
        time.sleep(max(0.0, due - time.monotonic()))
        lines = []
        for i in range(FILE_EVENTS):
            n = written + i
            payload = moments[n // 2 % len(moments)] if n % 2 == 0 else quiet[n // 2 % len(quiet)]
            lines.append(json.dumps({"event_id": f"B{day:%Y%m%d}-{n:07d}", "source": payload["source"],
                                     "occurred_at": dt.datetime.now(dt.timezone.utc).isoformat(),
                                     "data": payload["data"]}))
        path = folder / f"part-{part:05d}.jsonl"
        tmp = folder / f".{path.name}.tmp"
        tmp.write_text("\n".join(lines) + "\n")
        os.replace(tmp, path)
        written += FILE_EVENTS
    deadline = time.monotonic() + 30
    while engine.counts["events"] - before < written and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    stop.set()
    follower.join()
    engine.decider.wal.close()
    latencies = []
    for fired in engine.live.triggered(published_only=False, limit=1_000_000):
        if fired["event_id"].startswith("B"):
            occurred = dt.datetime.fromisoformat(fired["occurred_at"])
            published = dt.datetime.fromisoformat(fired["published_at"])
            latencies.append((published - occurred).total_seconds())
    return latencies, written, len(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_bank_arguments(parser, customers=2000, date_help="the full export's date (the store is of the next day)")
    parser.add_argument("--max-files", type=int, default=20, help="event files per micro-batch")
    parser.add_argument("--rate", type=float, default=20.0, help="events per second written for the latency run")
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds of events written for the latency run")
    args = parser.parse_args()
    quiet_engine()

    from jobs.generate import generate_bank
    from jobs.serve.store import POINTER, OnlineStore, online_dir
    from jobs.settings import Settings

    with project_home(args.home, "marketofone-stream-bench-") as home:
        if not (online_dir(home) / POINTER).exists():
            started = time.monotonic()
            build_store(home, args.customers, args.days, dt.date.fromisoformat(args.date))
            print(f"store_build_seconds: {time.monotonic() - started:.1f}", flush=True)
        store = OnlineStore(home)
        store.refresh()
        day = dt.date.fromisoformat(store.meta["as_of_date"]) + dt.timedelta(days=1)
        work = Path(tempfile.mkdtemp(prefix="marketofone-stream-copies-"))
        try:
            copies = []
            for name in ("throughput", "killed"):
                copy = work / name
                shutil.copytree(home, copy, ignore=shutil.ignore_patterns("airflow", "scratch", "stream"))
                events = generate_bank(Settings(home=copy, customers=args.customers), day, daily=True,
                                       events=True)["events"]
                copies.append(copy)
            print(f"stream_day: {day}")
            print(f"events: {events}")
            per_second, streamed = stream_throughput(copies[0], args.customers, args.max_files)
            print(f"events_per_second: {per_second:.1f}", flush=True)
            duplicates, lost, signal_number = killed_and_restarted(copies[1], args.customers, events)
            print(f"killed_by: {signal.Signals(signal_number).name if signal_number > 0 else 'nothing'}")
            print(f"duplicates_after_kill: {duplicates}")
            print(f"lost_after_kill: {lost}", flush=True)
            latencies, written, fired = trigger_latency(copies[0], day + dt.timedelta(days=1), args.rate,
                                                        args.seconds)
            print(f"latency_events_written: {written}")
            print(f"latency_triggers_fired: {fired}")
            if latencies:
                print(f"event_to_offer_p50_seconds: {percentile(latencies, 0.5):.3f}")
                print(f"event_to_offer_p95_seconds: {percentile(latencies, 0.95):.3f}")
                print(f"event_to_offer_max_seconds: {max(latencies):.3f}")
                print(f"p95_within_{P95_TARGET_S:.0f}s: {percentile(latencies, 0.95) <= P95_TARGET_S}")
        finally:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
