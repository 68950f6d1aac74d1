"""One micro-batch of events into bronze and silver, on any engine: the batch load's own rules.

For each day and source in the batch:
- events already in bronze or its quarantine (the same event id: a file read again after a crash, or sent
  again by the source) are left out;
- the rows are judged by the landing contract's checks (jobs/ingest/contract_checks.py), a key seen
  earlier in the day's stream, in bronze or in quarantine, counting as a duplicate (the first occurrence
  is kept, as in a file), and appended to bronze.<source> or quarantine.<source> with `_check` and
  `_reason`, keyed by their place in the stream (an idempotent append);
- lines that are not events at all go to quarantine.stream_events with the reason.
Rows in = rows appended to bronze + rows quarantined, checked for every batch.

Then silver is brought up to date for each day in the batch by the silver step's own activity and
engagement code (jobs/unify/run.py), over the day's bronze so far: the same transforms, the same suites,
the same late-arrival rules, MERGEd on the silver keys, so that the stream's silver and the batch load's
are the same rows and a batch replayed changes nothing.

The export stays the book of record: once a day's export is loaded into a bronze table (rows without an
event id), the nightly load has replaced that day's events there and the stream leaves the day's events of
that source alone. (The bronze GX suite runs on the export; the stream runs the contract's checks, which
hold all of the suite's rules but one: the suite's regexes on untrimmed text, jobs/ingest/suites.py.)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs import lakehouse_lock
from jobs.contracts import load_contract
from jobs.ingest.contract_checks import check_rows
from jobs.ingest.load import LINE_COLUMN, RAW_LINE_COLUMN, STRUCTURE_CHECK
from jobs.publish import results_per_step
from jobs.quality import CHECK_COLUMN, REASON_COLUMN
from jobs.stream.events import EventFile
from jobs.tables import Lakehouse, quarantine_of
from jobs.unify import run as silver

log = logging.getLogger(__name__)

EVENT_ID = "_event_id"
STREAM_QUARANTINE = "quarantine.stream_events"
# Fault injection for the exactly-once tests: "<batch>" kills the process (SIGKILL) after that batch's bronze
# writes, before its silver and its commit.
KILL_AFTER_BRONZE = "MARKETOFONE_STREAM_KILL_AFTER_BRONZE"
TXN_APP_ID, TXN_VERSION = "spark.databricks.delta.write.txnAppId", "spark.databricks.delta.write.txnVersion"


COUNTS = ("events", "bronze", "quarantined", "malformed", "repeated", "superseded")


@dataclass
class BatchReport:
    events: int = 0
    bronze: int = 0
    quarantined: int = 0
    malformed: int = 0
    repeated: int = 0          # already in the lakehouse: read again, written nothing
    superseded: int = 0        # of a day whose export is loaded already
    silver: dict[str, int] = field(default_factory=dict)

    @property
    def balanced(self) -> bool:
        return self.events == self.bronze + self.quarantined + self.malformed + self.repeated + self.superseded


def _source_table(source: str) -> str:
    return "bronze." + source.replace("/", "_")


def _rows_frame(lh: Lakehouse, files: list[EventFile], day: dt.date, source: str, name: str) -> DataFrame | None:
    """The day's rows of one source in these files, as text, with where each came from."""
    contract = load_contract(*source.split("/"))
    parts = []
    for f in files:
        columns = f.rows.get(source)
        if f.day != day or not columns:
            continue
        n = len(columns["_event_id"])
        parts.append(pa.table({
            **{c: pa.array(columns[c], pa.string()) for c in contract.column_names},
            "_row_id": pa.array(columns["_row_id"], pa.int64()),
            LINE_COLUMN: pa.array(columns["_line"], pa.int64()),   # for a quarantined row's reason only
            EVENT_ID: pa.array(columns["_event_id"], pa.string()),
            "_source_file": pa.array([f.name] * n, pa.string()),
            "_source_checksum": pa.array([f.checksum] * n, pa.string()),
        }))
    if not parts:
        return None
    path = lh.scratch_path(f"stream/{name}.parquet")
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.concat_tables(parts)
    pq.write_table(table, path)
    return lh.spark.read.schema(_spark_schema(table.schema)).parquet(str(path))


def _spark_schema(schema: pa.Schema) -> str:
    return ", ".join(f"`{f.name}` {'bigint' if f.type == pa.int64() else 'string'}" for f in schema)


def _export_loaded(lh: Lakehouse, bronze: str, day: dt.date) -> bool:
    if not lh.exists(bronze):
        return False
    rows = lh.read(bronze).where(F.col("_logical_date") == F.lit(day))
    if EVENT_ID in rows.columns:
        rows = rows.where(F.col(EVENT_ID).isNull())
    return bool(rows.limit(1).count())


def _seen(lh: Lakehouse, names: tuple[str, ...], day: dt.date, columns: list[str]) -> DataFrame | None:
    """The day's rows already in these tables (bronze and its quarantine), these columns only."""
    frames = [lh.read(n).where(F.col("_logical_date") == F.lit(day)).select(*columns)
              for n in names if lh.exists(n) and EVENT_ID in lh.read(n).columns]
    if not frames:
        return None
    out = frames[0]
    for frame in frames[1:]:
        out = out.unionByName(frame)
    return out


def load_source(lh: Lakehouse, files: list[EventFile], day: dt.date, source: str, report: BatchReport,
                txn: Callable[[dt.date], tuple[str, int]] | None = None) -> bool:
    """Append the day's events of one source; True when the day's silver may lack some of them (they are new, or
    were written by a batch that may have died before its silver), False when the export has them all."""
    bronze = _source_table(source)
    quarantine = quarantine_of(bronze)
    rows = _rows_frame(lh, files, day, source, f"{source.replace('/', '_')}_{day.isoformat()}")
    if rows is None:
        return False
    events = rows.count()
    report.events += events
    if _export_loaded(lh, bronze, day):
        log.info("%s: the %s export is loaded; %d event(s) of the day left to it", bronze, day, events)
        report.superseded += events
        return False
    contract = load_contract(*source.split("/"))
    seen = _seen(lh, (bronze, quarantine), day, [*contract.key, "_row_id", EVENT_ID])
    if seen is not None:
        rows = rows.join(seen.select(EVENT_ID), EVENT_ID, "left_anti")
    rows = lh.scratch(rows, f"stream/new_{bronze}")
    new = rows.count()
    report.repeated += events - new
    if not new:
        return True
    # The day's earlier rows take part in the key check only: a key they hold makes a new row a duplicate.
    marked = rows.withColumn("_earlier", F.lit(False))
    if seen is not None and contract.key:
        earlier = seen.select(*contract.key, "_row_id").withColumn("_earlier", F.lit(True))
        for c in rows.columns:
            if c not in earlier.columns:
                earlier = earlier.withColumn(c, F.lit(None).cast(rows.schema[c].dataType))
        marked = marked.unionByName(earlier)
    checked = check_rows(marked, contract).where(~F.col("_earlier")).drop("_earlier")
    checked = (checked.withColumnRenamed("_rule", CHECK_COLUMN).withColumnRenamed("_reason", REASON_COLUMN)
               .withColumn("_logical_date", F.lit(day)).withColumn("_loaded_at", F.current_timestamp()))
    checked = lh.scratch(checked, f"stream/checked_{bronze}")
    clean = checked.where(F.col(CHECK_COLUMN).isNull()).drop(CHECK_COLUMN, REASON_COLUMN, LINE_COLUMN)
    bad = checked.where(F.col(CHECK_COLUMN).isNotNull()).withColumn(RAW_LINE_COLUMN, F.lit(None).cast("string"))
    n_clean, n_bad = clean.count(), bad.count()
    with _txn(lh, txn, day):
        if n_clean:
            lh.append_new(bronze, clean, count=False)
        if n_bad:
            lh.append_new(quarantine, bad, count=False)
    if n_clean + n_bad != new:
        raise RuntimeError(f"{bronze}: {new} events in, {n_clean} bronze + {n_bad} quarantined")
    report.bronze += n_clean
    report.quarantined += n_bad
    return True


def quarantine_malformed(lh: Lakehouse, files: list[EventFile], report: BatchReport) -> None:
    lines = [(f.name, f.checksum, f.day, f.unit, m) for f in files for m in f.malformed]
    report.events += len(lines)
    report.malformed += len(lines)
    if not lines:
        return
    rows = [(name, m.row_id, checksum, day, STRUCTURE_CHECK, f"{unit} {m.line}: {m.reason}", m.line, m.text)
            for name, checksum, day, unit, m in lines]
    frame = lh.spark.createDataFrame(rows, "_source_file string, _row_id bigint, _source_checksum string, "
                                           "_logical_date date, _check string, _reason string, _line bigint, "
                                           "_raw_line string")
    lh.append_new(STREAM_QUARANTINE, frame.withColumn("_loaded_at", F.current_timestamp()), count=False)
    for name, _, _, unit, m in lines[:5]:
        log.warning("%s, %s %d: %s; quarantined in %s", name, unit, m.line, m.reason, STREAM_QUARANTINE)


def refresh_silver(lh: Lakehouse, day: dt.date) -> dict[str, int]:
    """The silver step's activity and engagement for the day, over the day's bronze so far."""
    if not lh.exists("silver.account"):
        raise RuntimeError("the stream adds activity to a loaded lakehouse: load an export first "
                           "(marketofone run personalization_daily --date ...); silver.account does not exist")
    newest = lh.bound("bronze.deposits_customers", "_logical_date", "max")
    horizon = max(day, newest or day)
    with results_per_step(lh):
        return silver.activity(lh, day, horizon) | silver.engagement(lh, day, horizon)


def _txn(lh: Lakehouse, txn: Callable[[dt.date], tuple[str, int]] | None, day: dt.date):
    """Delta's idempotent writes around a bronze append, where the caller gives an (application, version) per day
    (Structured Streaming: the batch id, jobs/stream/structured.py); nothing otherwise."""
    return contextlib.nullcontext() if txn is None else idempotent_writes(lh, *txn(day))


@contextlib.contextmanager
def idempotent_writes(lh: Lakehouse, app_id: str, version: int) -> Iterator[None]:
    """The writes inside carry (app_id, version) to Delta, which skips a write the table already has from
    them."""
    conf = lh.spark.conf
    conf.set(TXN_APP_ID, app_id)
    conf.set(TXN_VERSION, str(version))
    try:
        yield
    finally:
        conf.unset(TXN_APP_ID)
        conf.unset(TXN_VERSION)


def load_batch(lh: Lakehouse, files: list[EventFile], batch: int,
               txn: Callable[[dt.date], tuple[str, int]] | None = None) -> BatchReport:
    """Write one batch of event files: bronze (and quarantine) first, then silver for each day in it, holding the
    lakehouse lock from the first read to the last write (jobs/lakehouse_lock.py), as a pipeline step does."""
    with lakehouse_lock.shared(lh.settings.home, f"stream batch {batch}"):
        return _load_batch(lh, files, batch, txn)


def _load_batch(lh: Lakehouse, files: list[EventFile], batch: int,
                txn: Callable[[dt.date], tuple[str, int]] | None) -> BatchReport:
    report = BatchReport()
    days = sorted({f.day for f in files})
    sources = sorted({s for f in files for s in f.rows})
    stale = []   # the days whose silver the batch must bring up to date
    for day in days:
        touched = [load_source(lh, files, day, source, report, txn) for source in sources]
        if any(touched):
            stale.append(day)
    quarantine_malformed(lh, files, report)
    if os.environ.get(KILL_AFTER_BRONZE) == str(batch):
        log.warning("%s=%d: killing this process after the batch's bronze writes", KILL_AFTER_BRONZE, batch)
        os.kill(os.getpid(), signal.SIGKILL)
    if not report.balanced:
        raise RuntimeError(f"batch {batch}: {report.events} events in, {report.bronze} bronze + {report.quarantined} "
                           f"quarantined + {report.malformed} malformed + {report.repeated} already loaded + "
                           f"{report.superseded} left to the export")
    for day in stale:
        report.silver |= refresh_silver(lh, day)
    return report
