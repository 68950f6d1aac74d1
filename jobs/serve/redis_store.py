"""The online store in Redis: the production profile's store, one server that every process shares.

The rows are the embedded store's (jobs/serve/store.py: `customer_rows`, `key_rows`, `store_meta`), and so are
its guarantees. Each publish writes a new version under its own namespace, `mo1:store:<as_of_date>-<time_ns>:`:

    ...:customer:<customer_id>   hash {holdout, candidates, features}  (the SQLite row's JSON strings)
    ...:keys:<kind>              hash {silo id: customer_id}           (kind `account:<silo>`, `customer:<silo>`)
    ...:meta                     hash {key: JSON value}                (store_meta + customers, keys, materialized_at)

and only then names it in `mo1:store:current` with one SET. Why versions and a pointer rather than writing over
the live keys: a publish takes minutes and a reader must never see half of one (a customer of the new day next
to the keys of the old); the SET is atomic, so a reader switches between two requests, and a request in flight
finishes on the version it started on, because the previous version is kept (as the embedded store keeps the
file before the current one). Older versions, and the leftovers of a publish that died half-way, are deleted
after the switch a batch of keys at a time (SCAN + UNLINK: Redis frees them in the background and never
blocks its readers on one big DEL); the current version is never deleted.

A reader's `refresh()` is one GET of the pointer, and every read is one round trip (HMGET or HGET) on the
version of the last refresh. The rows stream from the engine (`toLocalIterator`) into pipelined batches, so
neither the driver nor the pipeline ever holds the customer base.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import urllib.parse
from collections.abc import Iterable, Mapping

import redis
from pyspark.sql import DataFrame

from jobs.serve.store import BATCH_ROWS, KEEP_STORES, StoreMissingError, open_candidates

log = logging.getLogger(__name__)

PREFIX = "mo1:store:"
POINTER = PREFIX + "current"
VERSIONS = PREFIX + "versions"   # a set of every version written (also one that died half-way), for the pruning
TIMEOUT_S = 10.0                 # a Redis that hangs fails the request instead of holding the server's threads


def connect(url: str) -> redis.Redis:
    """A client for `url` (redis://host:port/db). Thread-safe: each command borrows a connection from its pool."""
    return redis.Redis.from_url(url, decode_responses=True, socket_timeout=TIMEOUT_S,
                                socket_connect_timeout=TIMEOUT_S)


def display_url(url: str) -> str:
    """`url` without its user and password (for logs and /health)."""
    parts = urllib.parse.urlsplit(url)
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}/{parts.path.strip('/') or '0'}"


def _ns(version: str) -> str:
    return f"{PREFIX}{version}:"


def _order(version: str) -> int:
    """When a version was started (the time_ns its name ends with); 0 for a name this module did not write."""
    tail = version.rpartition("-")[2]
    return int(tail) if tail.isdigit() else 0


def _write_all(client: redis.Redis, rows: Iterable[Mapping], what: str, add) -> int:
    """Write `rows` with `add(pipeline, row)` in pipelined batches of BATCH_ROWS; the count written."""
    count, pending = 0, 0
    pipe = client.pipeline(transaction=False)
    for row in rows:
        add(pipe, row)
        pending += 1
        if pending >= BATCH_ROWS:
            pipe.execute()
            count, pending = count + pending, 0
            log.info("online store: %d %s written", count, what)
    pipe.execute()
    return count + pending


def publish(url: str, rows: Iterable[Mapping], meta: dict, keys: Iterable[Mapping] = ()) -> str:
    """Write a new version from `rows` (customer_id, holdout, candidates, features), `keys` (kind, id,
    customer_id) and `meta`, point `mo1:store:current` at it and prune; its name (`display_url/<version>`).
    Rows are anything indexed by column name (the engine's Rows, sqlite3.Row), read once, in order."""
    version = f"{meta['as_of_date']}-{time.time_ns()}"
    with connect(url) as client:
        count = _publish(client, version, rows, meta, keys)
    name = f"{display_url(url)}/{version}"
    log.info("online store %s: %d customers", name, count)
    return name


def _publish(client: redis.Redis, version: str, rows: Iterable[Mapping], meta: dict, keys: Iterable[Mapping]) -> int:
    ns = _ns(version)
    started = time.monotonic()
    client.sadd(VERSIONS, version)   # first: a publish that dies half-way is known, and pruned by a later one
    count = _write_all(client, rows, "customers", lambda pipe, row: pipe.hset(
        f"{ns}customer:{row['customer_id']}",
        mapping={"holdout": int(row["holdout"] or 0), "candidates": row["candidates"],
                 "features": row["features"] or ""}))
    n_keys = _write_all(client, keys, "keys", lambda pipe, row: pipe.hset(
        f"{ns}keys:{row['kind']}", row["id"], row["customer_id"]))
    meta = {**meta, "customers": count, "keys": n_keys,
            "materialized_at": dt.datetime.now(dt.timezone.utc).isoformat()}
    client.hset(f"{ns}meta", mapping={k: json.dumps(v) for k, v in meta.items()})   # last: a whole version has it
    client.set(POINTER, version)
    log.info("online store: version %s current after %.1f s", version, time.monotonic() - started)
    _prune(client, version)
    return count


def materialize(url: str, rows: DataFrame, meta: dict, keys: DataFrame | None = None) -> str:
    """`publish` the engine's rows (customer_rows, key_rows), streamed from it batch by batch."""
    return publish(url, rows.toLocalIterator(), meta, keys.toLocalIterator() if keys is not None else ())


def _prune(client: redis.Redis, current: str) -> None:
    """Delete the versions started before `current` except the newest whole one (a reader may still be finishing
    a request on it). Versions started after `current` are left alone: another publish may be writing them."""
    older = sorted((v for v in client.smembers(VERSIONS) if _order(v) < _order(current)), key=_order)
    whole = [v for v in older if client.exists(f"{_ns(v)}meta")]
    keep = set(whole[max(0, len(whole) - (KEEP_STORES - 1)):])   # with the current one: KEEP_STORES
    for version in older:
        if version in keep or version == current:
            continue
        batch = []
        for key in client.scan_iter(match=f"{_ns(version)}*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                client.unlink(*batch)
                batch = []
        if batch:
            client.unlink(*batch)
        client.srem(VERSIONS, version)
        log.info("online store: version %s deleted", version)


def forget(url: str, ids) -> dict[str, int]:
    """An erasure (jobs/privacy/erasure.py): the people's customer hashes and silo keys deleted from every version
    kept; {golden id or silo id: keys deleted}. `ids`: jobs.privacy.subjects.Identifiers."""
    client = connect(url)
    removed: dict[str, int] = {}
    for version in client.smembers(VERSIONS):
        ns = _ns(version)
        for customer_id in sorted(ids.golden):
            if client.delete(f"{ns}customer:{customer_id}"):
                removed[customer_id] = removed.get(customer_id, 0) + 1
        for kind, pool in (("customer", ids.customers), ("account", ids.accounts)):
            for silo, id_ in sorted(pool):
                if client.hdel(f"{ns}keys:{kind}:{silo}", id_):
                    removed[id_] = removed.get(id_, 0) + 1
    return removed


class StoreUnavailableError(StoreMissingError):
    """The Redis server does not answer: like a missing store, the API answers 503 and the triggers wait."""


class RedisStore:
    """Reads the current version; `refresh()` (cheap: one GET) switches to a newer one between requests.
    Safe to share between threads: the client's pool gives each command a connection, and the version a read
    uses is the one named by the last refresh."""

    def __init__(self, url: str):
        self.url = url
        self._client = connect(url)
        self._current: tuple[str, dict] | None = None   # (version, meta), swapped whole

    @property
    def meta(self) -> dict:
        return self._current[1] if self._current else {}

    @property
    def name(self) -> str | None:
        """`redis://host:port/db/<version>` (what /health shows), None before the first refresh."""
        return f"{display_url(self.url)}/{self._current[0]}" if self._current else None

    def refresh(self) -> bool:
        """Read the version `mo1:store:current` names when it changed since the last look; True when it switched."""
        try:
            version = self._client.get(POINTER)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise StoreUnavailableError(f"the online store in {display_url(self.url)} cannot be reached: {exc}") \
                from None
        if version is None:
            raise StoreMissingError(f"no online store in {display_url(self.url)}: run the offers step (the daily "
                                    "DAG) for a date first")
        if self._current and self._current[0] == version:
            return False
        stored = self._client.hgetall(f"{_ns(version)}meta")
        if not stored:
            raise StoreMissingError(f"the online store version {version} in {display_url(self.url)} has no meta")
        meta = {k: json.loads(v) for k, v in stored.items()}
        self._current = (version, meta)
        log.info("online store %s: %s customers of %s", self.name, meta.get("customers"), meta.get("as_of_date"))
        return True

    def _ns(self) -> str:
        if self._current is None:
            self.refresh()
        return _ns(self._current[0])

    def customer(self, customer_id: str) -> tuple[bool, list[dict]] | None:
        """(holdout, open candidates) of a customer; None when the store does not know the customer."""
        holdout, candidates = self._client.hmget(f"{self._ns()}customer:{customer_id}", ["holdout", "candidates"])
        return None if candidates is None else open_candidates(holdout, candidates)

    def features(self, customer_id: str) -> dict:
        """The customer's features a trigger reads ({} for a customer the store does not know)."""
        stored = self._client.hget(f"{self._ns()}customer:{customer_id}", "features")
        return json.loads(stored) if stored else {}

    def resolve(self, kind: str, id_: str | None) -> str | None:
        """The customer a silo id belongs to (kind `account:<silo>` or `customer:<silo>`), as of the store's date."""
        if id_ is None:
            return None
        return self._client.hget(f"{self._ns()}keys:{kind}", id_)

    def some_ids(self, kind: str, n: int) -> list[str]:
        """`n` silo ids of a kind (`account:deposits`, ...) the store knows, in no order (benchmarks, examples)."""
        found: dict[str, None] = {}   # HSCAN may return a field twice
        for id_, _ in self._client.hscan_iter(f"{self._ns()}keys:{kind}", count=1000):
            if len(found) >= n:
                break
            found[id_] = None
        return list(found)

    def some_customers(self, n: int) -> list[str]:
        """`n` customer ids, in no order (benchmarks and examples)."""
        prefix = f"{self._ns()}customer:"
        found: dict[str, None] = {}   # SCAN may return a key twice
        for key in self._client.scan_iter(match=f"{prefix}*", count=1000):
            if len(found) >= n:
                break
            found[key[len(prefix):]] = None
        return list(found)
