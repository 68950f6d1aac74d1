"""What the event stream changed since the last publish, for the decision API: `<home>/online/live.sqlite`.

The online store is the batch's view of one date; the stream goes on. The triggers consumer
(jobs/stream/triggers.py) writes here, the API reads here on every answer:

- consent: each customer's last marketing consent event per channel from the stream (a withdrawal takes the
  channel's offers out of the next answer; the batch had the ledger up to the store's date);
- holds: credit offers held for a customer until a date (a help trigger: the customer is behind on payments);
- triggered: the triggered-offers queue, one row per trigger fired (`seq` orders it; the channels read it from
  GET /triggered-offers?after=<seq>); UNIQUE (trigger_id, event_id), so an event read again fires nothing twice.

SQLite in WAL mode: one writer (the triggers consumer) and any number of readers (API workers) at once; each
write is a transaction, committed before the trigger counts as fired. After a trigger fires, the consumer touches
`<home>/stream/triggered/.new`: the personalization_triggers DAG's asset watcher waits for it (and removes it), and
its run drains the queue into gold.triggered_offers (`drain_triggered`) for analysts and compliance.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from jobs.domain import CHANNELS
from jobs.serve.store import online_dir

TABLE = "gold.triggered_offers"
ALL_CHANNELS = "all"   # a consent event's channel when it is about marketing as a whole
DRAIN_ROWS = 10_000


def new_marker(home: Path) -> Path:
    """The file whose appearance tells the personalization_triggers DAG that triggers fired."""
    return Path(home) / "stream" / "triggered" / ".new"

SCHEMA = """
CREATE TABLE IF NOT EXISTS consent (customer_id TEXT, channel TEXT, status TEXT, recorded_at TEXT, event_id TEXT,
                                    PRIMARY KEY (customer_id, channel)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS holds (customer_id TEXT, trigger_id TEXT, until TEXT, event_id TEXT,
                                  PRIMARY KEY (customer_id, trigger_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS triggered (seq INTEGER PRIMARY KEY AUTOINCREMENT, trigger_id TEXT, event_id TEXT,
                                      customer_id TEXT, channel TEXT, action TEXT, occurred_at TEXT, day TEXT,
                                      published INTEGER, published_at TEXT, record TEXT,
                                      UNIQUE (trigger_id, event_id));
CREATE INDEX IF NOT EXISTS triggered_customer ON triggered (customer_id, trigger_id, day);
"""


CACHE_ENTRIES = 100_000


class LiveState:
    """One connection per thread; writes commit at once. The API's reads are cached per thread until the file
    changes (`PRAGMA data_version`: another connection committed) or this object wrote: an answer costs one pragma
    while nothing changed, not two queries."""

    def __init__(self, home: Path):
        self.path = online_dir(home) / "live.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._writes = 0
        con = self._con()
        con.executescript(SCHEMA)
        con.commit()

    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            self._local.con = con
        return con

    def _cached(self, key: tuple, read):
        con = self._con()
        stamp = (con.execute("PRAGMA data_version").fetchone()[0], self._writes)
        local = self._local
        if getattr(local, "stamp", None) != stamp or len(local.cache) > CACHE_ENTRIES:
            local.stamp, local.cache = stamp, {}
        if key not in local.cache:
            local.cache[key] = read(con)
        return local.cache[key]

    # -- written by the triggers consumer ------------------------------------------------------------
    def record_consent(self, customer_id: str, channel: str, status: str, recorded_at: str, event_id: str) -> None:
        """Keep the later of this event and the one held (an older event read late changes nothing)."""
        self._writes += 1
        self._con().execute(
            "INSERT INTO consent VALUES (?, ?, ?, ?, ?) ON CONFLICT (customer_id, channel) DO UPDATE SET "
            "status = excluded.status, recorded_at = excluded.recorded_at, event_id = excluded.event_id "
            "WHERE (excluded.recorded_at, excluded.event_id) > (consent.recorded_at, consent.event_id)",
            (customer_id, channel, status, recorded_at, event_id))

    def fire(self, trigger_id: str, event_id: str, customer_id: str, channel: str, action: str, occurred_at: str,
             day: dt.date, record: dict, published: bool, hold_until: dt.date | None = None) -> int | None:
        """Record a fired trigger (and its hold) in one transaction, on the queue when `published` (it has offers
        or a help contact for the channel); the new seq, or None when this trigger already fired for this event."""
        self._writes += 1
        con = self._con()
        con.execute("BEGIN IMMEDIATE")
        try:
            cursor = con.execute(
                "INSERT OR IGNORE INTO triggered (trigger_id, event_id, customer_id, channel, action, occurred_at, "
                "day, published, published_at, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (trigger_id, event_id, customer_id, channel, action, occurred_at, day.isoformat(), int(published),
                 dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"), json.dumps(record)))
            seq = cursor.lastrowid if cursor.rowcount else None
            if seq is not None and hold_until is not None:
                con.execute("INSERT INTO holds VALUES (?, ?, ?, ?) ON CONFLICT (customer_id, trigger_id) DO UPDATE "
                            "SET until = max(holds.until, excluded.until), event_id = excluded.event_id",
                            (customer_id, trigger_id, hold_until.isoformat(), event_id))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        if seq is not None:
            marker = new_marker(self.path.parent.parent)
            if not marker.exists():
                marker.parent.mkdir(parents=True, exist_ok=True)
                marker.touch()
        return seq

    def fired_since(self, customer_id: str, trigger_id: str, since: dt.date) -> bool:
        row = self._con().execute("SELECT 1 FROM triggered WHERE customer_id = ? AND trigger_id = ? AND day >= ? "
                                  "LIMIT 1", (customer_id, trigger_id, since.isoformat())).fetchone()
        return row is not None

    # -- read by the API -----------------------------------------------------------------------------
    def withdrawn(self, customer_id: str, after: str) -> dict[str, str]:
        """Channel -> the withdrawal's event id, for the channels whose last marketing consent event recorded
        after `after` (the end of the store's date) is a withdrawal. An event for channel `all` (marketing as a
        whole) is an event of every channel: the later of it and the channel's own wins."""
        def read(con) -> dict[str, str]:
            held = {channel: (recorded_at, event_id, status) for channel, status, recorded_at, event_id in con.execute(
                "SELECT channel, status, recorded_at, event_id FROM consent WHERE customer_id = ? AND recorded_at > ?",
                (customer_id, after))}
            last = {c: max(filter(None, (held.get(c), held.get(ALL_CHANNELS))), default=None) for c in CHANNELS}
            return {c: e[1] for c, e in last.items() if e is not None and e[2] == "withdrawn"}
        return self._cached(("withdrawn", customer_id, after), read)

    def holds(self, customer_id: str, day: dt.date) -> list[str]:
        """The triggers holding the customer's credit offers on `day`."""
        return self._cached(("holds", customer_id, day), lambda con: [r[0] for r in con.execute(
            "SELECT trigger_id FROM holds WHERE customer_id = ? AND until >= ? ORDER BY 1",
            (customer_id, day.isoformat())).fetchall()])

    def triggered(self, after: int = 0, channel: str | None = None, limit: int = 100,
                  published_only: bool = True) -> list[dict]:
        """The queue after `after` (seq), oldest first, with when each was published."""
        query = ("SELECT seq, published_at, record FROM triggered WHERE seq > ?"
                 + (" AND published = 1" if published_only else "") + (" AND channel = ?" if channel else "")
                 + " ORDER BY seq LIMIT ?")
        params = (after, channel, limit) if channel else (after, limit)
        return [{"seq": seq, "published_at": at, **json.loads(record)}
                for seq, at, record in self._con().execute(query, params)]


def drain_triggered(lh) -> int:
    """The queue's rows not yet in gold.triggered_offers appended to it (keyed on trigger and event: a drain run
    twice adds nothing), DRAIN_ROWS at a time; returns how many. Every fired trigger is kept, published or not."""
    from pyspark.sql import functions as F

    live = LiveState(lh.settings.home)
    done = 0
    if lh.exists(TABLE):
        last = lh.read(TABLE).agg(F.max("seq").alias("seq")).collect()[0]["seq"]
        done = int(last or 0)
    total = 0
    while True:
        rows = live._con().execute(
            "SELECT seq, trigger_id, event_id, customer_id, channel, action, day, occurred_at, published, "
            "published_at, record FROM triggered WHERE seq > ? ORDER BY seq LIMIT ?", (done, DRAIN_ROWS)).fetchall()
        if not rows:
            return total
        records = [json.loads(r[10]) for r in rows]
        table = pa.table({
            "seq": pa.array([r[0] for r in rows], pa.int64()),
            "trigger_id": [r[1] for r in rows], "event_id": [r[2] for r in rows], "customer_id": [r[3] for r in rows],
            "channel": [r[4] for r in rows], "action": [r[5] for r in rows],
            "day": pa.array([dt.date.fromisoformat(r[6]) for r in rows], pa.date32()),
            "occurred_at": [r[7] for r in rows], "published": pa.array([bool(r[8]) for r in rows], pa.bool_()),
            "published_at": [r[9] for r in rows],
            "decision_ids": [",".join(o["decision_id"] for o in rec.get("offers", [])) for rec in records],
            "offer_ids": [",".join(o["offer_id"] for o in rec.get("offers", [])) for rec in records],
            "triggers_version": [rec.get("triggers_version") for rec in records],
            "record": [r[10] for r in rows],
        })
        path = lh.scratch_path("triggered_offers.parquet")
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)
        lh.append_new(TABLE, lh.spark.read.parquet(str(path)), count=False)
        done, total = rows[-1][0], total + len(rows)
