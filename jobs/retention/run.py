"""Apply the retention policy for one logical date: every lakehouse table that exists and the home's dated folders.

Per table (policy.py's rule): the rows whose date column is before the cutoff (`days` before the run's logical date,
never the wall clock, so a date run again finds nothing more to do) are aggregated first where the rule says so
(aggregate.py), then deleted; the files that held them are vacuumed at once, whatever their age (a Delta DELETE only
hides rows from the new version: every older version would still read them), and the table's log and deleted-file
retention are set to its `days`. Deletes and vacuums are delta-rs commits marked with the run's date
(jobs/maintenance.py), so what a date removed is read back from each table's history: a re-run, or a run after a
crash between the delete and the vacuum, finishes the job and records the same numbers. The folders (`files`) lose
the files whose name starts with a date before their cutoff. audit.retention_run keeps one row per date and table.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from functools import reduce
from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs import lakehouse_lock, maintenance
from jobs.publish import publish
from jobs.retention import aggregate
from jobs.retention.policy import RetentionPolicy, load
from jobs.tables import REGISTRY, Lakehouse

log = logging.getLogger(__name__)

AUDIT = "audit.retention_run"
AUDIT_SCHEMA = ("run_date date, `table` string, action string, days int, cutoff date, `rows` long, files long, "
                "`into` string, policy_version string")
DATED_FILE = re.compile(r"^(\d{4}-\d{2}-\d{2})")


@dataclass
class Removed:
    """What the run did to one table or folder (`rows` None for a folder; `days` None: not aged)."""
    table: str
    action: str
    days: int | None
    cutoff: dt.date | None
    rows: int | None
    files: int
    into: str | None = None
    note: str = ""

    def line(self, dry_run: bool = False) -> str:
        if self.cutoff is None:
            return f"{self.table}: kept ({self.note or self.action})"
        verb = "would remove" if dry_run else "removed"
        rows = "" if self.rows is None else f"{self.rows:,} row(s)"
        files = "" if dry_run and self.rows is not None else f"{self.files:,} file(s)"
        what = ", ".join(x for x in (rows, files) if x)
        into = f", aggregated into {self.into}" if self.into else ""
        return f"{self.table}: {verb} {what} before {self.cutoff} ({self.action}, {self.days} days{into})"


def cutoff(day: dt.date, days: int, action: str) -> dt.date:
    """Rows dated before this are past their retention; an aggregate waits for whole months."""
    first_kept = day - dt.timedelta(days=days)
    return aggregate.whole_months_before(first_kept) if action == "aggregate" else first_kept


def run(lh: Lakehouse, day: dt.date, dry_run: bool = False, policy: RetentionPolicy | None = None) -> list[Removed]:
    # Its deletes go through delta-rs, beside the Lakehouse's writes: it holds the lakehouse lock as a writer does.
    with lakehouse_lock.shared(lh.settings.home, f"the retention of {day}"):
        return _run(lh, day, dry_run, policy)


def _run(lh: Lakehouse, day: dt.date, dry_run: bool, policy: RetentionPolicy | None) -> list[Removed]:
    policy = policy or load()
    names = [name for name in sorted(REGISTRY) if name != AUDIT and lh.exists(name)]
    done = _age_tables(lh, names, policy, day, dry_run)
    # An aggregate's table the pass created (its first rows) is aged as well, as a re-run of the date ages it.
    created = [name for name in sorted(REGISTRY) if name != AUDIT and name not in names and lh.exists(name)]
    done = sorted(done + _age_tables(lh, created, policy, day, dry_run), key=lambda r: r.table)
    done += [_age_folder(lh.settings.home / folder, folder, days, day, dry_run)
             for folder, days in sorted(policy.files.items())]
    if not dry_run:
        _record(lh, day, done, policy)
        if lh.exists(AUDIT):   # aged last: this run's own rows are in it
            done += _age_tables(lh, [AUDIT], policy, day, dry_run)
    return done


def _age_tables(lh: Lakehouse, names: list[str], policy: RetentionPolicy, day: dt.date,
                dry_run: bool) -> list[Removed]:
    # An aggregate's table gains rows as its source is aged, so it is read at its turn; the other tables are
    # probed at once.
    targets = {target for target, _ in aggregate.AGGREGATES.values()}
    found = {name: _expired(lh, name, policy, day) for name in names if name not in targets}
    holding = set() if dry_run else _holding_rows(lh, found)
    done = []
    for name in names:
        if name in targets:
            expired = _expired(lh, name, policy, day)
            holds = not dry_run and name in _holding_rows(lh, {name: expired})
        else:
            expired, holds = found[name], name in holding
        done.append(_age_table(lh, name, policy, day, expired, dry_run, holds))
    return done


@dataclass
class _Expired:
    rows: DataFrame       # the table's rows past their retention
    column: str           # the date column that ages them
    before: dt.date       # the cutoff: rows dated before it


def _expired(lh: Lakehouse, name: str, policy: RetentionPolicy, day: dt.date) -> _Expired | None:
    """The rows of `name` past their retention on `day`; None for a table the policy keeps or cannot age."""
    rule, column = policy.rule(name), policy.age_column(name)
    if rule.action == "keep" or column is None:
        return None
    df = lh.read(name)
    if column not in df.columns:
        raise ValueError(f"{name}: the retention policy ages its rows by {column!r}, a column it does not have "
                         f"(columns: {', '.join(df.columns)})")
    before = cutoff(day, rule.days, rule.action)
    return _Expired(df.where(F.col(column) < F.lit(before)), column, before)


def _holding_rows(lh: Lakehouse, found: dict[str, _Expired | None]) -> set[str]:
    """The tables that hold a row past its retention. Where the Delta log's file statistics have the column, its
    smallest value says so and no data is read; a table with no file holds nothing; the rest are asked in one query,
    not one per table. (The query over every table took a JVM engine about 8 s of a daily run, warm; 31 s cold.)"""
    holding, unsure = set(), {}
    for name, expired in found.items():
        if expired is None:
            continue
        earliest = maintenance.column_bound(lh.path(name), expired.column, "min")
        if isinstance(earliest, dt.date):   # a date or a timestamp (a column of another type: asked below)
            if _day(earliest) < expired.before:
                holding.add(name)
        elif maintenance.file_count(lh.path(name)):
            unsure[name] = expired
    probes = [e.rows.limit(1).select(F.lit(name).alias("table")) for name, e in unsure.items()]
    if probes:
        holding |= {row["table"] for row in reduce(DataFrame.unionByName, probes).collect()}
    return holding


def _day(value: dt.date) -> dt.date:
    """A statistic's date: a timestamp's (UTC, the session's time zone) is the day it falls on, so that it compares
    with a date cutoff as the column does (a timestamp before midnight of the cutoff is a day before it)."""
    return value.date() if isinstance(value, dt.datetime) else value


def _age_table(lh: Lakehouse, name: str, policy: RetentionPolicy, day: dt.date, expired: _Expired | None,
               dry_run: bool, holds_rows: bool) -> Removed:
    rule = policy.rule(name)
    if expired is None:
        return Removed(name, "keep", None, None, 0, 0, note="kept by the policy" if rule.action == "keep"
                       else "no date column")
    before = expired.before
    if dry_run:
        return Removed(name, rule.action, rule.days, before, expired.rows.count(), 0, rule.into)
    path, mark = lh.path(name), day.isoformat()
    maintenance.limit_time_travel(path, rule.days)
    if holds_rows:
        if rule.action == "aggregate":
            target, aggregation = aggregate.AGGREGATES[name]
            publish(lh, target, aggregation(expired.rows, day), day)   # validated: a silver table
        maintenance.delete_rows(path, f"\"{expired.column}\" < '{before.isoformat()}'", mark)
    maintenance.purge_before_retention_delete(path, mark)
    rows, files = maintenance.retention_done(path, mark)
    return Removed(name, rule.action, rule.days, before, rows, files, rule.into)


def _age_folder(root: Path, folder: str, days: int, day: dt.date, dry_run: bool) -> Removed:
    """Delete the files under `root` whose name starts with a date before the cutoff (an export's logical date)."""
    before = cutoff(day, days, "delete")
    expired = [p for p in root.rglob("*") if p.is_file() and (m := DATED_FILE.match(p.name))
               and dt.date.fromisoformat(m.group(1)) < before] if root.is_dir() else []
    if not dry_run:
        for path in expired:
            path.unlink(missing_ok=True)
    return Removed(folder, "delete", days, before, None, len(expired))


def _record(lh: Lakehouse, day: dt.date, done: list[Removed], policy: RetentionPolicy) -> None:
    """One audit.retention_run row per table and folder for `day`. A table's numbers come from its history (the
    same on a re-run); a folder's files add to what earlier runs of the date removed (a re-run finds none). Only
    rows that change, of tables and folders something was removed from, are written, so a re-run leaves the table
    as it is."""
    had = {}
    if lh.exists(AUDIT):
        had = {r["table"]: r.asDict() for r in lh.read(AUDIT).where(F.col("run_date") == F.lit(day)).collect()}
    rows = []
    for r in done:
        earlier = (had.get(r.table) or {}).get("files") or 0
        r.files = files = r.files + earlier if r.rows is None else r.files   # what the date removed, as for tables
        row = {"run_date": day, "table": r.table, "action": r.action, "days": r.days, "cutoff": r.cutoff,
               "rows": r.rows, "files": files, "into": r.into, "policy_version": policy.version}
        # A table with nothing to remove is not recorded: the tables a date's run covers depend on what existed
        # when it started (its own validation results and record exist from its first run on), and a re-run must
        # write nothing.
        if had.get(r.table) != row and (r.rows or files or r.table in had):
            rows.append(row)
    if rows:
        lh.write(AUDIT, lh.spark.createDataFrame([tuple(r.values()) for r in rows], AUDIT_SCHEMA), day, count=False)
