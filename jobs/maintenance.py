"""Table maintenance that Sail's SQL lacks, through `deltalake` (delta-rs): the one module that imports it.

History, version, compaction (OPTIMIZE), VACUUM and new columns (ADD COLUMNS) of a lakehouse table, the
statistics in its Delta log, and `maintain_all(lh)` for every registered table that exists (`marketofone
maintain`). Every function takes the table's location (a path or a URI such as
`s3://bucket/lakehouse/gold/kpi_daily`, Lakehouse.path), so it works on whatever storage MARKETOFONE_STORAGE_URI
names. The steps read and write tables through Spark (jobs/tables.py); the CLI's listings that run without a
Spark session (tables, history, dq, why, offers) read through here, their rows with `read_rows`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from jobs import lakehouse_lock

log = logging.getLogger(__name__)

# Delta's default: files a reader of the last 7 days may still need are kept.
DEFAULT_RETENTION_HOURS = 168


def delta_table(location: str, version: int | None = None):
    from deltalake import DeltaTable

    return DeltaTable(location, version=version)


def read_rows(location: str, version: int | None = None, columns: list[str] | None = None,
              filters: list[tuple] = ()):
    """The table's rows (at `version`, the current one by default) as an Arrow table of its own column types:
    `columns` (every column by default) of the rows where each `(column, "=", value)` of `filters` holds.

    For the readers without a Spark session (the CLI, a channel's pull). Read with delta-rs's DataFusion engine,
    which applies deletion vectors: its pyarrow reader (`to_pyarrow_table`, `to_pandas`) refuses a table that has
    them ("reader features {'deletionVectors'} ... not yet supported"), and they are Databricks' default."""
    import pyarrow as pa

    table = delta_table(location, version)
    schema = pa.schema(table.schema().to_arrow())
    names = list(columns) if columns else schema.names
    rows = _query(location, table, f"SELECT {', '.join(_sql_name(c) for c in names)} FROM t", names, filters)
    # DataFusion reads text as views of it (string_view): given back as the table's own types.
    return rows.cast(pa.schema([schema.field(c) for c in names]))


def count_rows(location: str, filters: list[tuple] = ()) -> int:
    """How many rows the table holds (where each `(column, "=", value)` of `filters` holds), deleted rows not
    counted (see read_rows)."""
    result = _query(location, delta_table(location), "SELECT count(*) AS n FROM t", [], filters)
    return int(result["n"][0].as_py())


def _query(location: str, table, select: str, columns: list[str], filters: list[tuple]):
    """`select` (from the table as `t`) where each filter holds, through delta-rs's DataFusion engine, as a pyarrow
    table; a column the table lacks is refused by name first."""
    import pyarrow as pa
    from deltalake import QueryBuilder

    known = pa.schema(table.schema().to_arrow()).names
    unknown = [c for c in [*columns, *(f[0] for f in filters)] if c not in known]
    if unknown:
        raise ValueError(f"{location} has no column {', '.join(unknown)}; its columns: {', '.join(known)}")
    conditions = [_equals(column, op, value) for column, op, value in filters]
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return pa.table(QueryBuilder().register("t", table).execute(select + where).read_all())


def _sql_name(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _equals(column: str, op: str, value) -> str:
    """A filter `(column, "=", value)` as DataFusion SQL; a None value matches NULL."""
    import datetime as dt

    if op != "=":
        raise ValueError(f"filter {(column, op, value)!r}: only (column, '=', value) filters are read")
    name = _sql_name(column)
    if value is None:
        return f"{name} IS NULL"
    if isinstance(value, bool):
        literal = "TRUE" if value else "FALSE"
    elif isinstance(value, (int, float)):
        literal = repr(value)
    elif isinstance(value, dt.datetime):
        literal = f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    elif isinstance(value, dt.date):
        literal = f"DATE '{value.isoformat()}'"
    elif isinstance(value, str):
        literal = "'" + value.replace("'", "''") + "'"
    else:
        raise ValueError(f"filter {(column, op, value)!r}: a value of type {type(value).__name__} is not read")
    return f"{name} = {literal}"


class DeletionVectorsError(RuntimeError):
    """A table whose data files still hold rows deleted through deletion vectors: delta-rs must not rewrite or
    purge it (see files_with_deletion_vectors)."""


def files_with_deletion_vectors(location: str) -> int:
    """How many of the current version's data files carry a deletion vector.

    A Delta writer with deletion vectors on (Databricks' default; any engine on a table with
    `delta.enableDeletionVectors`, the embedded Sail and JVM Spark included) does not rewrite a file to DELETE or
    UPDATE a row: it marks the row deleted in a small `deletion_vector_*.bin` file beside it. The row's values stay
    in the data file until a REORG TABLE ... APPLY (PURGE) rewrites it. Measured with delta-rs 1.6: its full VACUUM
    deletes those .bin files as if nothing read them (the table then fails to read its files), and its compaction
    rewrites the files without applying them; neither takes the rows' values off storage."""
    table = delta_table(location)
    if "deletionVectors" not in (table.protocol().reader_features or []):
        return 0
    return sum(batch.num_rows for batch in table.deletion_vectors())


def refuse_deletion_vectors(location: str, action: str) -> None:
    """Raise DeletionVectorsError, naming the table and what to run, when `action` (delta-rs) would harm it."""
    n = files_with_deletion_vectors(location)
    if n:
        raise DeletionVectorsError(
            f"{location}: {n} data file(s) still hold rows deleted through deletion vectors; {action} with delta-rs "
            f"would break the table or keep those rows. Rewrite the files first: REORG TABLE delta.`{location}` "
            "APPLY (PURGE) on a Spark engine with Delta (an erasure does it itself)")


def delta_error() -> type[Exception]:
    """delta-rs's error type (for callers that read through delta_table and must not import deltalake)."""
    from deltalake.exceptions import DeltaError

    return DeltaError


def is_delta_table(location: str) -> bool:
    """Whether a Delta table is at `location` (for callers without a Spark session)."""
    from deltalake import DeltaTable

    return DeltaTable.is_deltatable(location)


def history(location: str, limit: int | None = None) -> list[dict]:
    return delta_table(location).history(limit)


def version(location: str) -> int:
    return delta_table(location).version()


def file_count(location: str) -> int:
    """The data files the table's current version reads."""
    return len(delta_table(location).file_uris())


def compact(location: str) -> dict:
    """Bin-pack small files into larger ones (OPTIMIZE); a new table version, the same rows. delta-rs's
    metrics (numFilesAdded, numFilesRemoved, ...). Refused on files with deletion vectors
    (files_with_deletion_vectors)."""
    refuse_deletion_vectors(location, "compacting it")
    return delta_table(location).optimize.compact()


def vacuum(location: str, retention_hours: int = DEFAULT_RETENTION_HOURS, dry_run: bool = True) -> list[str]:
    """Files no version newer than `retention_hours` reads: listed (dry run), or deleted. Under Delta's 7-day
    default the check is waived on purpose (time travel to older versions is then lost). delta-rs lists them
    from the log's tombstones, so a dry run after a vacuum lists the files already deleted again."""
    return delta_table(location).vacuum(retention_hours=retention_hours, dry_run=dry_run,
                                        enforce_retention_duration=retention_hours >= DEFAULT_RETENTION_HOURS)


LOG_RETENTION = "delta.logRetentionDuration"
DEFAULT_LOG_RETENTION = "interval 30 days"   # Delta's own default


def purge_history(location: str) -> int:
    """Leave on storage only what the table's current version needs, so no older version can be read again
    (values a rewrite replaced: old tokens, erased rows). Returns the data files removed.

    Two things keep old values after a rewrite: the data files of older versions, which a VACUUM without a
    retention (and `full`: files of writers that died before they committed too) deletes; and the Delta log,
    whose commits carry each file's statistics (the min and max of every column, a token among them). A
    checkpoint of the current version, then a log cleanup with the log retention set to nothing for the moment,
    deletes the older commits; the table's log retention is put back after. A third, JVM Delta's version
    checksum files, which the cleanup leaves, go last (_remove_stale_checksums).

    Refused while files carry deletion vectors: the rows they mark deleted are still in the files, and the full
    VACUUM would delete the vectors themselves (files_with_deletion_vectors)."""
    from deltalake import DeltaTable

    refuse_deletion_vectors(location, "purging its history")
    table = DeltaTable(location)
    removed = table.vacuum(retention_hours=0, dry_run=False, enforce_retention_duration=False, full=True)
    kept = table.metadata().configuration.get(LOG_RETENTION, DEFAULT_LOG_RETENTION)
    table.alter.set_table_properties({LOG_RETENTION: "interval 0 seconds"})
    table = DeltaTable(location)
    table.create_checkpoint()
    table.cleanup_metadata()
    DeltaTable(location).alter.set_table_properties({LOG_RETENTION: kept})
    _remove_stale_checksums(location)
    return len(removed)


# `_delta_log/<version>.<kind>`, and a Hadoop writer's hidden checksum of it (`.<version>.<kind>.crc`)
_LOG_FILE = re.compile(r"\.?(\d{20})\..+")


def _remove_stale_checksums(location: str) -> int:
    """Delete the `_delta_log` files of versions older than the log's oldest commit that delta-rs's log cleanup
    leaves: the version checksums (`<version>.crc`, written by Sail and JVM Delta; JVM Delta's list a small table's
    files with their statistics, the min and max of each column: an erased customer's id, an old token), and the
    hidden Hadoop checksums of the commits removed. Found by the erasure's run on the JVM engine
    (tests/integration/test_erasure_on_the_jvm.py). The files removed."""
    import pyarrow.fs as pafs

    filesystem, root = pafs.FileSystem.from_uri(location)
    entries = filesystem.get_file_info(pafs.FileSelector(f"{root.rstrip('/')}/_delta_log"))
    versions = {e.base_name: int(m.group(1)) for e in entries if (m := _LOG_FILE.fullmatch(e.base_name))}
    commits = [v for name, v in versions.items() if name.endswith(".json") and not name.startswith(".")]
    if not commits:
        return 0
    oldest = min(commits)
    stale = [e.path for e in entries if e.base_name.endswith(".crc") and versions.get(e.base_name, oldest) < oldest]
    for path in stale:
        filesystem.delete_file(path)
    return len(stale)


def column_bound(location: str, column: str, which: str):
    """The smallest (`min`) or largest (`max`) value of a column from the file statistics (or partition
    values) in the Delta log, so no data is read; None when a file has no statistics for it."""
    import pyarrow as pa

    files = pa.table(delta_table(location).get_add_actions(flatten=True))
    for name in (f"{which}.{column}", f"partition.{column}"):
        if name in files.column_names:
            stats = files.column(name).to_pylist()
            if stats and None not in stats:
                return (min if which == "min" else max)(stats)
    return None


def size_bytes(location: str) -> int:
    """The bytes of the files the table's current version reads, from the Delta log (no data is read)."""
    import pyarrow as pa

    files = pa.table(delta_table(location).get_add_actions(flatten=True))
    return int(pa.compute.sum(files.column("size_bytes")).as_py() or 0)


def add_columns(location: str, fields: list[dict]) -> None:
    """Add columns to a table's schema (a metadata-only commit), each given as a Spark StructField's JSON
    (`StructField.jsonValue()`: Delta's schema format). They are added as nullable, without field metadata:
    the table's earlier rows have no value for them."""
    import json

    from deltalake.schema import Field

    delta_table(location).alter.add_columns(
        [Field.from_json(json.dumps({**field, "nullable": True, "metadata": {}})) for field in fields])


@dataclass
class Maintained:
    """What maintenance did to one table."""
    table: str
    files_before: int
    files_after: int
    compacted: bool          # a compaction commit was made (files were bin-packed)
    vacuumed: list[str]      # files removed (or, on a dry run, that would be)
    dry_run: bool
    note: str = ""           # why the table was not compacted, when that is not just a dry run or a single file

    def line(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        return (f"{self.table}: files {self.files_before} -> {self.files_after}"
                f"{' (compacted)' if self.compacted else ''}; vacuum {verb} {len(self.vacuumed)} file(s)"
                f"{'; ' + self.note if self.note else ''}")


def maintain(location: str, name: str = "", retention_hours: int = DEFAULT_RETENTION_HOURS,
             dry_run: bool = False) -> Maintained:
    """Compact one table, then vacuum it. A dry run changes nothing: it counts the files and lists those a
    vacuum would remove. A table whose files carry deletion vectors is vacuumed but not compacted (delta-rs would
    rewrite its files without applying them), and its line says so: the vacuum keeps the vectors the table reads."""
    before = file_count(location)
    compacted = False
    marked = files_with_deletion_vectors(location)
    if not dry_run and before > 1 and not marked:
        metrics = compact(location)
        compacted = bool(metrics.get("numFilesRemoved"))
    removed = vacuum(location, retention_hours, dry_run=dry_run)
    note = (f"not compacted: {marked} file(s) carry deletion vectors (REORG TABLE delta.`{location}` APPLY (PURGE) "
            "on a Spark engine with Delta rewrites them)") if marked else ""
    return Maintained(name or location, before, file_count(location), compacted, removed, dry_run, note)


def maintain_all(lh, names, retention_hours: int = DEFAULT_RETENTION_HOURS,
                 dry_run: bool = False) -> list[Maintained]:
    """Compact and vacuum each of the tables `names` that exists (Lakehouse `lh`, with or without a session).
    (The caller passes the registry's names: the table layer imports this module, not the other way round.)
    Compaction commits beside the writers, so it holds the lakehouse lock as they do (jobs/lakehouse_lock.py)."""
    done = []
    with lakehouse_lock.shared(lh.settings.home, "table maintenance"):
        for name in sorted(names):
            location = lh.path(name)
            if is_delta_table(location):
                done.append(maintain(location, name, retention_hours, dry_run))
    return done


# -- retention (jobs/retention/): deletes and vacuums marked with the run's logical date -------------------------
RETENTION_MARK = "marketofone.retention"   # commit metadata: the logical date of the retention run that committed
RETENTION_PROPERTIES = ("delta.logRetentionDuration", "delta.deletedFileRetentionDuration")


def _marked(mark: str):
    from deltalake import CommitProperties

    return CommitProperties(custom_metadata={RETENTION_MARK: mark})


def delete_rows(location: str, predicate: str, mark: str) -> int:
    """Delete the rows matching `predicate` (SQL), the commit marked with `mark`; the rows deleted."""
    metrics = delta_table(location).delete(predicate, commit_properties=_marked(mark))
    return int(metrics.get("num_deleted_rows") or 0)


def purge_before_retention_delete(location: str, mark: str) -> int:
    """Vacuum every file that only versions before the table's latest retention delete read (they still hold the
    deleted rows), whatever their age; versions from that delete on stay readable. Returns the files removed: 0
    when that delete's vacuum was done already (a re-run vacuums nothing twice), or there was none."""
    table = delta_table(location)
    since = None
    for commit in table.history():   # newest first
        if RETENTION_MARK in commit and commit.get("operation") == "VACUUM END":
            return 0
        if RETENTION_MARK in commit and commit.get("operation") == "DELETE":
            since = commit["version"]
            break
    if since is None:
        return 0
    refuse_deletion_vectors(location, "purging the files its retention delete replaced")
    removed = table.vacuum(retention_hours=0, dry_run=False, enforce_retention_duration=False,
                           keep_versions=list(range(since, table.version() + 1)), commit_properties=_marked(mark))
    return len(removed)


def retention_done(location: str, mark: str) -> tuple[int, int]:
    """(rows deleted, files vacuumed) by the retention commits marked `mark`, from the table's history."""
    rows = files = 0
    for commit in delta_table(location).history():
        if commit.get(RETENTION_MARK) != mark:
            continue
        metrics = commit.get("operationMetrics") or {}
        if commit.get("operation") == "DELETE":
            rows += int(metrics.get("num_deleted_rows") or metrics.get("numDeletedRows") or 0)
        elif commit.get("operation") == "VACUUM END":
            files += int(metrics.get("numDeletedFiles") or 0)
    return rows, files


def limit_time_travel(location: str, days: int) -> bool:
    """Set the table's log and deleted-file retention to `days`, so time travel reaches no further back than its
    rows are kept; True when they were changed (a table set already gets no new commit)."""
    wanted = {name: f"interval {days} days" for name in RETENTION_PROPERTIES}
    table = delta_table(location)
    have = table.metadata().configuration
    if all(have.get(k) == v for k, v in wanted.items()):
        return False
    table.alter.set_table_properties(wanted)
    return True
