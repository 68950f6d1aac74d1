"""The online store: every customer's open candidates of the last published date, one key lookup away.

The offers step materializes it after each publish (`materialize`): for each customer of the day's customer-360,
the candidates the batch left open (offered or not selected: what the contact limits and the live context may
still choose among), with what the arbitration reads and what an answer shows, plus the batch's own decision id
and rank of each. Candidates a rule excluded, and customers in the holdout, can only stay without an offer
during the day (live state only ever narrows the contact room), so they are not stored: a holdout customer is
stored with an empty list and the flag.

The embedded store is one SQLite file per publish under `<home>/online/`, written aside and then named in
`CURRENT` with an atomic rename: a server picks the new file up between two requests, and a request in flight
finishes on the file it started on. The rows are streamed from the engine in batches
(`toLocalIterator`), so the driver never holds the customer base.

For the triggers consumer (jobs/stream/triggers.py) the store also keeps each customer's features that a trigger
reads (`features`, JSON, from gold.customer_360) and the silo ids that events carry, each to its customer
(`keys`: kind `account:<silo>` from silver.account, `customer:<silo>` from silver.customer_crosswalk).

The production profile keeps the same rows in a Redis server that every process shares (jobs/serve/redis_store.py,
with the same guarantees: a new version per publish, one atomic pointer); jobs/serve/backend.py chooses.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sqlite3
import time
from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.decide.catalog import Catalog, Policy

log = logging.getLogger(__name__)

POINTER = "CURRENT"
BATCH_ROWS = 5000
KEEP_STORES = 2   # the current file and the one before it (a server may still be finishing a request on it)

# Per candidate: what the arbitration reads (jobs/serve/arbitrate.py) and what an answer shows. The score of a
# product (its probability, model and reasons) is the same on every channel, so it is kept once per product.
SCORE_FIELDS = ("probability", "model", "model_version", "reason_codes", "reason")
OFFER_FIELDS = ("offer_id", "product", "channel", "channel_order", "affinity", "expected_value", "value", "lever",
                "risk", "price", "channel_contacts", "contacts", "decision_id", "outcome", "rank")


def online_dir(home: Path) -> Path:
    return Path(home) / "online"


def store_meta(day: dt.date, catalog: Catalog, policy: Policy) -> dict:
    """What an answer needs besides the customer's candidates: the versions, the contact limits, the rules'
    stages (to tell a contact exclusion from the others) and each offer's content."""
    channel_cap, fatigue_cap = policy.contact("channel_cap"), policy.contact("fatigue_cap")
    return {
        "as_of_date": day.isoformat(),
        "catalog_version": catalog.version,
        "policy_version": policy.version,
        "offers_per_channel": policy.offers_per_channel,
        "channel_cap": channel_cap.limit if channel_cap else None,
        "fatigue_cap": fatigue_cap.limit if fatigue_cap else None,
        "consent_rule": next((r.rule_id for r in policy.rules if r.rule_type == "consent"), None),
        "contact_rules": {"channel_cap": channel_cap.rule_id if channel_cap else None,
                          "fatigue_cap": fatigue_cap.rule_id if fatigue_cap else None},
        "offers": {o.offer_id: {"headline": o.headline, "body": o.body, "disclosure": o.disclosure, "image": o.image,
                                "price_kind": o.price_kind, "price_unit": o.price_unit,
                                "validity_days": o.validity_days}
                   for o in catalog.offers},
    }


def customer_rows(customers: DataFrame, decisions: DataFrame, features: list[str] | None = None) -> DataFrame:
    """(customer_id, holdout, candidates, features): one row per customer of `customers`; `candidates` is JSON,
    {"scores": [one per product: product + SCORE_FIELDS], "offers": [one per open candidate (outcome offered or
    not_selected): OFFER_FIELDS]}; `features` is JSON of these columns of `customers` (gold.customer_360)."""
    open_rows = decisions.where(F.col("outcome").isin("offered", "not_selected"))
    offers = open_rows.groupBy("customer_id").agg(F.to_json(F.collect_list(F.struct(*OFFER_FIELDS))).alias("o"))
    scores = (open_rows.select("customer_id", "product", *SCORE_FIELDS).dropDuplicates(["customer_id", "product"])
              .groupBy("customer_id").agg(F.to_json(F.collect_list(F.struct("product", *SCORE_FIELDS))).alias("s")))
    candidates = offers.join(scores, "customer_id").select(
        "customer_id", F.concat(F.lit('{"scores":'), "s", F.lit(',"offers":'), "o", F.lit("}")).alias("candidates"))
    holdout = decisions.groupBy("customer_id").agg(F.max(F.col("holdout").cast("int")).alias("holdout"))
    kept = F.to_json(F.struct(*[F.col(c).cast("double").alias(c) for c in features])) if features else F.lit("{}")
    return (customers.select("customer_id", kept.alias("features")).dropDuplicates(["customer_id"])
            .join(holdout, "customer_id", "left").join(candidates, "customer_id", "left")
            .select("customer_id", F.coalesce("holdout", F.lit(0)).alias("holdout"),
                    F.coalesce("candidates", F.lit('{"scores":[],"offers":[]}')).alias("candidates"), "features"))


def key_rows(accounts: DataFrame, crosswalk: DataFrame) -> DataFrame:
    """(kind, id, customer_id): the silo ids events carry, each to its customer."""
    return (accounts.select(F.concat(F.lit("account:"), "silo").alias("kind"), F.col("account_id").alias("id"),
                            "customer_id")
            .unionByName(crosswalk.select(F.concat(F.lit("customer:"), "silo").alias("kind"),
                                          F.col("silo_customer_id").alias("id"), "customer_id"))
            .where(F.col("customer_id").isNotNull() & F.col("id").isNotNull()).dropDuplicates(["kind", "id"]))


def _insert_all(con: sqlite3.Connection, rows: DataFrame, table: str, columns: tuple[str, ...]) -> int:
    count, batch = 0, []
    statement = f"INSERT INTO {table} VALUES ({', '.join('?' for _ in columns)})"
    # Selected in the table's column order, a row is its tuple of values: looking each value up by name took
    # 2.4 s for a day's 100,000 customers and 490,000 keys.
    for row in rows.select(*columns).toLocalIterator():
        batch.append(tuple(row))
        if len(batch) >= BATCH_ROWS:
            con.executemany(statement, batch)
            count += len(batch)
            batch = []
            log.info("online store: %d %s written", count, table)
    con.executemany(statement, batch)
    return count + len(batch)


def materialize(home: Path, rows: DataFrame, meta: dict, keys: DataFrame | None = None) -> Path:
    """Write a new store file from `rows` (customer_rows), `keys` (key_rows) and `meta`, then point CURRENT at it."""
    folder = online_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"store-{meta['as_of_date']}-{time.time_ns()}.sqlite"
    partial = folder / f".{name}.partial"
    started = time.monotonic()
    con = sqlite3.connect(partial)
    try:
        con.execute("PRAGMA journal_mode=OFF")
        con.execute("PRAGMA synchronous=OFF")
        con.execute("CREATE TABLE customers (customer_id TEXT PRIMARY KEY, holdout INTEGER, candidates TEXT, "
                    "features TEXT) WITHOUT ROWID")
        con.execute("CREATE TABLE keys (kind TEXT, id TEXT, customer_id TEXT, PRIMARY KEY (kind, id)) WITHOUT ROWID")
        con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        count = _insert_all(con, rows, "customers", ("customer_id", "holdout", "candidates", "features"))
        n_keys = _insert_all(con, keys, "keys", ("kind", "id", "customer_id")) if keys is not None else 0
        meta = {**meta, "customers": count, "keys": n_keys,
                "materialized_at": dt.datetime.now(dt.timezone.utc).isoformat()}
        con.executemany("INSERT INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in meta.items()])
        con.commit()
    finally:
        con.close()
    _fsync(partial)
    target = folder / name
    os.replace(partial, target)
    pointer = folder / f".{POINTER}.partial"
    pointer.write_text(name)
    os.replace(pointer, folder / POINTER)
    _prune(folder, keep=name)
    log.info("online store %s: %d customers in %.1f s", target, count, time.monotonic() - started)
    return target


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _prune(folder: Path, keep: str) -> None:
    stores = sorted(folder.glob("store-*.sqlite"), key=lambda p: p.stat().st_mtime_ns)
    for old in stores[:-KEEP_STORES]:
        if old.name != keep:
            old.unlink(missing_ok=True)


def open_candidates(holdout, candidates: str) -> tuple[bool, list[dict]]:
    """(holdout, one dict per open candidate: OFFER_FIELDS and its product's SCORE_FIELDS) from a stored row."""
    stored = json.loads(candidates)
    scores = {score["product"]: score for score in stored["scores"]}
    # The engine's JSON leaves NULL fields out (Sail ignores to_json's ignoreNullFields): they read as None.
    return bool(int(holdout)), [{**{f: offer.get(f) for f in OFFER_FIELDS},
                                 **{f: scores[offer["product"]].get(f) for f in SCORE_FIELDS}}
                                for offer in stored["offers"]]


class StoreMissingError(LookupError):
    """No store has been materialized yet."""


class OnlineStore:
    """Reads the current store file; `refresh()` (cheap: one stat) switches to a newer one between requests."""

    def __init__(self, home: Path):
        self.folder = online_dir(home)
        self._stamp: int | None = None
        self._con: sqlite3.Connection | None = None
        self.meta: dict = {}
        self.file: Path | None = None

    @property
    def name(self) -> str | None:
        """The current store's file name (what /health shows), None before the first refresh."""
        return self.file.name if self.file else None

    def refresh(self) -> bool:
        """Open the store CURRENT names when it changed since the last look; True when it switched."""
        pointer = self.folder / POINTER
        try:
            stamp = pointer.stat().st_mtime_ns
        except FileNotFoundError:
            raise StoreMissingError(f"no online store under {self.folder}: run the offers step (the daily DAG) "
                                    "for a date first") from None
        if stamp == self._stamp:
            return False
        path = self.folder / pointer.read_text().strip()
        con = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
        meta = {k: json.loads(v) for k, v in con.execute("SELECT key, value FROM meta")}
        old, self._con, self.meta, self.file, self._stamp = self._con, con, meta, path, stamp
        if old is not None:
            old.close()
        log.info("online store %s: %s customers of %s", path.name, meta.get("customers"), meta.get("as_of_date"))
        return True

    def customer(self, customer_id: str) -> tuple[bool, list[dict]] | None:
        """(holdout, open candidates) of a customer; None when the store does not know the customer."""
        if self._con is None:
            self.refresh()
        row = self._con.execute("SELECT holdout, candidates FROM customers WHERE customer_id = ?",
                                (customer_id,)).fetchone()
        return None if row is None else open_candidates(row[0], row[1])

    def features(self, customer_id: str) -> dict:
        """The customer's features a trigger reads ({} for a customer the store does not know)."""
        if self._con is None:
            self.refresh()
        row = self._con.execute("SELECT features FROM customers WHERE customer_id = ?", (customer_id,)).fetchone()
        return json.loads(row[0]) if row and row[0] else {}

    def resolve(self, kind: str, id_: str | None) -> str | None:
        """The customer a silo id belongs to (kind `account:<silo>` or `customer:<silo>`), as of the store's date."""
        if id_ is None:
            return None
        if self._con is None:
            self.refresh()
        row = self._con.execute("SELECT customer_id FROM keys WHERE kind = ? AND id = ?", (kind, id_)).fetchone()
        return row[0] if row else None

    def some_ids(self, kind: str, n: int) -> list[str]:
        """The first `n` silo ids of a kind (`account:deposits`, ...) the store knows (benchmarks and examples)."""
        if self._con is None:
            self.refresh()
        return [r[0] for r in self._con.execute("SELECT id FROM keys WHERE kind = ? LIMIT ?", (kind, n))]

    def some_customers(self, n: int) -> list[str]:
        """The first `n` customer ids (benchmarks and examples)."""
        if self._con is None:
            self.refresh()
        return [r[0] for r in self._con.execute("SELECT customer_id FROM customers LIMIT ?", (n,))]

