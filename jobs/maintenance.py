"""Table maintenance that Sail's SQL lacks, through `deltalake` (delta-rs): the one module that imports it.

History, version, compaction (OPTIMIZE), VACUUM and new columns (ADD COLUMNS) of a lakehouse table, the
statistics in its Delta log, and `maintain_all(lh)` for every registered table that exists (`marketofone
maintain`). Every function takes the table's location (a path or a URI such as
`s3://bucket/lakehouse/gold/kpi_daily`, Lakehouse.path), so it works on whatever storage MARKETOFONE_STORAGE_URI
names. The steps read and write tables through Spark (jobs/tables.py); the CLI's listings that run without a
Spark session (tables, history, dq, offers) read through here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)

# Delta's default: files a reader of the last 7 days may still need are kept.
DEFAULT_RETENTION_HOURS = 168


def delta_table(location: str, version: int | None = None):
    from deltalake import DeltaTable

    return DeltaTable(location, version=version)


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
    metrics (numFilesAdded, numFilesRemoved, ...)."""
    return delta_table(location).optimize.compact()


def vacuum(location: str, retention_hours: int = DEFAULT_RETENTION_HOURS, dry_run: bool = True) -> list[str]:
    """Files no version newer than `retention_hours` reads: listed (dry run), or deleted. Under Delta's 7-day
    default the check is waived on purpose (time travel to older versions is then lost). delta-rs lists them
    from the log's tombstones, so a dry run after a vacuum lists the files already deleted again."""
    return delta_table(location).vacuum(retention_hours=retention_hours, dry_run=dry_run,
                                        enforce_retention_duration=retention_hours >= DEFAULT_RETENTION_HOURS)


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


def add_columns(location: str, fields: list[dict]) -> None:
    """Add columns to a table's schema (a metadata-only commit), each given as a Spark StructField's JSON
    (`StructField.jsonValue()`: Delta's schema format). They are added as nullable, without field metadata:
    the table's earlier rows have no value for them."""
    import json

    from deltalake.schema import Field

    delta_table(location).alter.add_columns(
        [Field.from_json(json.dumps({**field, "nullable": True, "metadata": {}})) for field in fields])


def count_rows(location: str) -> int:
    return delta_table(location).to_pyarrow_dataset().count_rows()


@dataclass
class Maintained:
    """What maintenance did to one table."""
    table: str
    files_before: int
    files_after: int
    compacted: bool          # a compaction commit was made (files were bin-packed)
    vacuumed: list[str]      # files removed (or, on a dry run, that would be)
    dry_run: bool

    def line(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        return (f"{self.table}: files {self.files_before} -> {self.files_after}"
                f"{' (compacted)' if self.compacted else ''}; vacuum {verb} {len(self.vacuumed)} file(s)")


def maintain(location: str, name: str = "", retention_hours: int = DEFAULT_RETENTION_HOURS,
             dry_run: bool = False) -> Maintained:
    """Compact one table, then vacuum it. A dry run changes nothing: it counts the files and lists those a
    vacuum would remove."""
    before = file_count(location)
    compacted = False
    if not dry_run and before > 1:
        metrics = compact(location)
        compacted = bool(metrics.get("numFilesRemoved"))
    removed = vacuum(location, retention_hours, dry_run=dry_run)
    return Maintained(name or location, before, file_count(location), compacted, removed, dry_run)


def maintain_all(lh, names, retention_hours: int = DEFAULT_RETENTION_HOURS,
                 dry_run: bool = False) -> list[Maintained]:
    """Compact and vacuum each of the tables `names` that exists (Lakehouse `lh`, with or without a session).
    (The caller passes the registry's names: the table layer imports this module, not the other way round.)"""
    done = []
    for name in sorted(names):
        location = lh.path(name)
        if is_delta_table(location):
            done.append(maintain(location, name, retention_hours, dry_run))
    return done
