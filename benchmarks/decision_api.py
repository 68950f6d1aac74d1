"""The decision API under load: latency at a fixed request rate, and the rate at which p99 passes 10 ms.

    .venv/bin/python benchmarks/decision_api.py [--home DIR] [--customers 2000] [--seconds 20]
                                                [--rates 1000,1500,2000,3000] [--redis | --store redis://...]

The API answers from a home's online store (the offers step writes it). With `--home`, the store already there is
used; without, a bank of --customers is generated and its daily DAG's steps, the weekly training and the next
day's daily steps run first (a few minutes). The store is copied into a fresh folder, so the benchmark's answers
(and its write-ahead file) never reach the home's decision log. With `--redis` (a redis-server of the benchmark's
own, on this machine) or `--store redis://host:port/db` (a Redis you name: the copy is published there as a new
version, and its readers switch to it), the copy goes to Redis and the API answers from it (the production
profile's store, MARKETOFONE_ONLINE_STORE) instead of from the embedded SQLite file.

The server (`marketofone serve`, one process) and the load (this process, a second one) share the machine's cores
over loopback. The load is open-loop: request i is due at start + i / rate whatever the answers before it did, and
its latency counts from when it was due (a slow answer delays the next ones, and that delay is counted). Requests
go over 64 keep-alive connections: 80% `GET /customers/{id}/next-best-offers?channel=...` and 20%
`POST /decisions` with a page viewed, for customers drawn at random from the store.

Prints `p50_ms`, `p99_ms`, `errors` and `achieved_rps` at the first rate (1,000/s; target: p99 <= 10 ms, 0 errors,
on 2 cores), the same per rate tried (`rps_<rate>_p99_ms`), and `max_rps_p99_under_10ms`, the highest rate tried
whose p99 stayed within 10 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import add_bank_arguments, build_store, project_home, quiet_engine  # noqa: E402

CONNECTIONS = 64
P99_TARGET_MS = 10.0
PAGES = ("savings_rates", "credit_cards", "personal_loans", "mortgage_calculator", "auto_loans")
CHANNELS = ("mobile", "email", "atm", "branch")


def start_server(home: Path, port: int, as_of: str, online_store: str = "") -> subprocess.Popen:
    env = {**os.environ, "MARKETOFONE_HOME": str(home), "MARKETOFONE_ONLINE_STORE": online_store}
    server = subprocess.Popen([sys.executable, "-m", "jobs.cli", "serve", "--port", str(port), "--as-of", as_of],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return server
        except OSError:
            if server.poll() is not None:
                raise RuntimeError(f"the server exited: {server.stdout.read()[-2000:]}") from None
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("the server did not listen within 60 s")


def copy_to_redis(store_file: Path, url: str) -> str:
    """The store file's rows, keys and meta published in Redis as a new version; its name."""
    from jobs.serve import redis_store

    con = sqlite3.connect(f"file:{store_file}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        meta = {k: json.loads(v) for k, v in con.execute("SELECT key, value FROM meta")}
        return redis_store.publish(url, con.execute("SELECT * FROM customers"), meta,
                                   con.execute("SELECT * FROM keys"))
    finally:
        con.close()


def requests(customers: list[str], n: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        customer, channel = rng.choice(customers), rng.choice(CHANNELS)
        if rng.random() < 0.8:
            out.append(f"GET /customers/{customer}/next-best-offers?channel={channel} HTTP/1.1\r\n"
                       f"Host: api\r\n\r\n".encode())
        else:
            body = json.dumps({"customer_id": customer, "channel": channel,
                               "context": {"page": rng.choice(PAGES)}}).encode()
            out.append(b"POST /decisions HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
                       + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    return out


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status


async def load(port: int, batch: list[bytes], rate: float) -> tuple[list[float], int, float]:
    """Send `batch` open-loop at `rate` per second; (latencies in ms, errors, seconds taken)."""
    clock = time.perf_counter   # uvloop's loop.time() counts whole milliseconds
    pool: asyncio.Queue = asyncio.Queue()
    for _ in range(CONNECTIONS):
        pool.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    latencies: list[float] = []
    errors = 0

    async def one(due: float, request: bytes) -> None:
        nonlocal errors
        reader, writer = await pool.get()
        try:
            status = await _exchange(reader, writer, request)
            if status != 200:
                errors += 1
        except (OSError, asyncio.IncompleteReadError):
            errors += 1
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        latencies.append((clock() - due) * 1000)
        pool.put_nowait((reader, writer))

    start = clock() + 0.05
    tasks = []
    for i, request in enumerate(batch):
        due = start + i / rate
        delay = due - clock()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(due, request)))
    await asyncio.gather(*tasks)
    taken = clock() - start
    while not pool.empty():
        pool.get_nowait()[1].close()
    return latencies, errors, taken


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_bank_arguments(parser, customers=2000, date_help="the full export's date (the store is of the next day)")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of load per rate")
    parser.add_argument("--rates", default="1000,1500,2000,3000", help="requests per second, the target's first")
    backend = parser.add_mutually_exclusive_group()
    backend.add_argument("--redis", action="store_true", help="answer from a redis-server the benchmark starts")
    backend.add_argument("--store", help="answer from this Redis (redis://host:port/db), which the home's store is "
                                         "published to")
    args = parser.parse_args()
    from jobs.settings import redis_url_problem

    if args.store and (why := redis_url_problem(args.store)):
        parser.error(f"--store wants redis://host:port/db, and {why}")
    quiet_engine()
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass

    from jobs.connect_server import free_port
    from jobs.serve.backend import open_store
    from jobs.serve.store import POINTER, online_dir
    from jobs.settings import Settings

    with project_home(args.home, "marketofone-api-bench-") as home, contextlib.ExitStack() as cleanup:
        if not (online_dir(home) / POINTER).exists():
            started = time.monotonic()
            build_store(home, args.customers, args.days, dt.date.fromisoformat(args.date))
            print(f"store_build_seconds: {time.monotonic() - started:.1f}", flush=True)
        bench_home = Path(tempfile.mkdtemp(prefix="marketofone-api-serve-"))
        cleanup.callback(shutil.rmtree, bench_home, ignore_errors=True)
        source = online_dir(home)
        current = (source / POINTER).read_text().strip()
        url = args.store or ""
        if args.redis:
            from jobs.serve import redis_server  # redis is the production extra: only imported when asked

            url = cleanup.enter_context(redis_server.running(bench_home / "redis"))
        if url:
            started = time.monotonic()
            print(f"store: {copy_to_redis(source / current, url)}")
            print(f"store_copy_seconds: {time.monotonic() - started:.1f}")
        else:
            (bench_home / "online").mkdir()
            shutil.copy(source / current, bench_home / "online" / current)
            (bench_home / "online" / POINTER).write_text(current)
            print(f"store: {current}")
        store = open_store(Settings(home=bench_home, online_store=url))
        store.refresh()
        customers = store.some_customers(1_000_000)
        as_of = (dt.date.fromisoformat(store.meta["as_of_date"]) + dt.timedelta(days=1)).isoformat()
        print(f"store_customers: {len(customers)}")
        print(f"store_date: {store.meta['as_of_date']}")
        port = free_port()
        server = start_server(bench_home, port, as_of, url)
        try:
            rates = [float(r) for r in args.rates.split(",")]
            asyncio.run(load(port, requests(customers, 2000, seed=0), 500))   # warm-up
            best = 0.0
            for i, rate in enumerate(rates):
                batch = requests(customers, int(rate * args.seconds), seed=i + 1)
                latencies, errors, taken = asyncio.run(load(port, batch, rate))
                p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
                if i == 0:
                    print(f"rps: {rate:.0f}")
                    print(f"p50_ms: {p50:.2f}")
                    print(f"p99_ms: {p99:.2f}")
                    print(f"errors: {errors}")
                    print(f"achieved_rps: {len(batch) / taken:.0f}")
                print(f"rps_{rate:.0f}_p50_ms: {p50:.2f}")
                print(f"rps_{rate:.0f}_p99_ms: {p99:.2f}")
                print(f"rps_{rate:.0f}_errors: {errors}", flush=True)
                if p99 <= P99_TARGET_MS and errors == 0:
                    best = max(best, rate)
                else:
                    break
            print(f"max_rps_p99_under_10ms: {best:.0f}")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
