"""Load one silo export into bronze for a logical date.

Bronze is the export as it came (text values, the silo's own formats) plus load metadata. Every file
is judged twice, on the same raw rows: by the landing contract's checks (jobs/ingest/contract_checks.py:
types and formats, bounds, required, patterns, allowed values, unique key) and by the bronze Great
Expectations suite generated from the same contract (expectations/bronze.<table>.json, see
jobs/ingest/suites.py). A row that fails either goes to quarantine.<table> once, with every failed
check in `_check` (contract rule ids such as `type:birth_date`, then GX expectation ids such as
`expect_column_values_to_match_regex(cif_id)`, "; "-joined) and the reasons in `_reason`. The GX
results go to audit.dq_results and <dq_dir>/bronze.<table>/<date>.json; a table-level failure (an
empty export) fails the load before anything is written. A header that does not match the contract
fails it too, with one allowance: an optional column (neither required nor in the key) may be absent
altogether, as from a bank's exports older than the column (the address): the file loads with the column
NULL, which its warning expectation counts; a missing required column still fails the file.

A line that cannot be split into the contract's columns (another number of fields, bytes that are not
UTF-8, not CSV at all) is quarantined too, with `_check` = `structure`, the line number in `_line` and the
line as exported in `_raw_line` (jobs/ingest/landing.py finds them); the rest of the file loads. More
than MARKETOFONE_MAX_MALFORMED_SHARE of the lines malformed fails the file: the export is broken as a whole.

A silo's files load all or nothing for a date: every file is read, checked and validated first, and only
then are the silo's tables written, so a bad file leaves none of the silo's tables changed for the date.

Both writes replace exactly the logical date, and a file whose checksum is already loaded for that
date is not read again, so a re-run changes nothing. Loaded means both writes done and the file's GX results
recorded (they are recorded after the writes): a run killed part way loads what it had not finished again. A file
of the same name with other bytes than the one loaded for the date (a re-delivery) is refused, naming both
checksums, unless MARKETOFONE_ACCEPT_REDELIVERY=1 says to replace the date with it. Invariant, checked on every
load: rows in the file = rows in bronze + rows quarantined.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StringType, StructField, StructType

from jobs import quality
from jobs.contracts import Contract, load_contract, with_absent_columns
from jobs.engine import engine_message
from jobs.ingest import landing
from jobs.ingest.contract_checks import check_rows
from jobs.ingest.errors import ContractError, MissingExportError, RedeliveredExportError
from jobs.publish import RESULTS, record_results
from jobs.quality import CHECK_COLUMN, REASON_COLUMN, QualityResult
from jobs.settings import Settings
from jobs.tables import SOURCES, Lakehouse, quarantine_of

__all__ = ["ContractError", "MissingExportError", "RedeliveredExportError", "IngestReport", "load_entity", "load_silo",
           "run"]

log = logging.getLogger(__name__)

METADATA = ("_source_file", "_source_checksum", "_row_id", "_logical_date", "_loaded_at", "_event_id")
# The contract checks' verdict while GX validates the staged rows (GX's own goes to _check / _reason).
_RULE, _RULE_REASON = "_contract_rule", "_contract_reason"
# Quarantine only: where a malformed line was and what it said (NULL on rows that could be read).
LINE_COLUMN, RAW_LINE_COLUMN = "_line", "_raw_line"
STRUCTURE_CHECK = "structure"


@dataclass(frozen=True)
class IngestReport:
    table: str
    source_file: str
    rows_in: int
    rows_bronze: int
    rows_quarantined: int
    skipped: bool = False
    rows_malformed: int = 0  # of rows_quarantined: lines that could not be split into the contract's columns
    rows_erased: int = 0     # rows of people erased (audit.erasure_tombstone), dropped: neither bronze nor quarantine

    @property
    def balanced(self) -> bool:
        return self.rows_in == self.rows_bronze + self.rows_quarantined + self.rows_erased


@dataclass(frozen=True)
class PreparedLoad:
    """One file read, checked and validated, nothing written yet: what `publish` writes."""
    contract: Contract
    source: str
    rows_in: int
    bronze: DataFrame
    quarantine: DataFrame
    malformed: int
    result: QualityResult
    # An empty export for a date the tables hold no rows of: validated (its results recorded, whatever order
    # the dates run in), nothing to write.
    nothing_to_write: bool = False
    erased: int = 0   # rows of people erased, dropped before validation (jobs/privacy/tombstones.py)


def landing_file(settings: Settings, silo: str, entity: str, logical_date: dt.date) -> Path:
    return settings.landing / silo / entity / f"{logical_date.isoformat()}.csv"


def read_landing(spark: SparkSession, path: Path, contract: Contract, row_ids_in_file: bool = False,
                 absent: list[str] | tuple[str, ...] = ()) -> DataFrame:
    """Every column as text, exactly as exported, in the contract's order; `absent`: the optional columns the
    file lacks (check_header), NULL on every row. `_row_id` orders the rows as in the file (`_stage` makes it
    their position; the clean copy of a file with malformed lines carries the position as its last column)."""
    in_file = [c for c in contract.column_names if c not in absent]
    columns = in_file + ([landing.ROW_ID] if row_ids_in_file else [])
    # The schema names the file's own columns: the reader matches them to the header by position.
    schema = StructType([StructField(c, StringType(), True) for c in columns])
    # FAILFAST: an engine that would pad or cut a line with the wrong number of fields (JVM Spark's
    # PERMISSIVE) refuses it instead, and the loader finds and quarantines the line (Sail always refuses).
    df = spark.read.option("header", True).option("mode", "FAILFAST").schema(schema).csv(str(path))
    if row_ids_in_file:
        df = df.withColumn("_row_id", F.col(landing.ROW_ID).cast("long"))
    else:
        df = df.withColumn("_row_id", F.monotonically_increasing_id())
    return with_absent_columns(df, contract)


def with_load_metadata(df: DataFrame, source_file: str, checksum: str, logical_date: dt.date) -> DataFrame:
    return (
        df.withColumn("_source_file", F.lit(source_file))
        .withColumn("_source_checksum", F.lit(checksum))
        .withColumn("_logical_date", F.lit(logical_date))
        .withColumn("_loaded_at", F.current_timestamp())
        # A row of an export: no event carried it (the stream's rows name theirs, jobs/stream/to_lakehouse.py).
        .withColumn("_event_id", F.lit(None).cast("string"))
    )


def _already_loaded(lh: Lakehouse, names: tuple[str, ...], checksum: str, logical_date: dt.date,
                    empty_file: bool = False) -> bool:
    """True when the date's rows in these tables all come from this very file (and some exist), or the
    file has no rows and the tables hold none for the date (an empty export leaves no checksum behind)."""
    if not all(lh.exists(name) for name in names):
        return False
    checksums: set[str] = set()
    for name in names:
        loaded = (
            lh.read(name).where(F.col("_logical_date") == F.lit(logical_date))
            .select("_source_checksum").distinct().collect()
        )
        checksums |= {r[0] for r in loaded}
    return checksums == {checksum} or (empty_file and not checksums)


def _refuse_redelivery(lh: Lakehouse, names: tuple[str, ...], source: str, checksum: str,
                       logical_date: dt.date) -> None:
    """A file of the same name already loaded for the date with other bytes is a re-delivery: refused, naming both
    checksums, unless MARKETOFONE_ACCEPT_REDELIVERY is set (then the new file replaces the date's rows). The rows
    of the stream (an `_event_id`) are not a delivery of the file."""
    if lh.settings.accept_redelivery:
        return
    loaded: dict[str, int] = {}
    for name in names:
        if lh.exists(name):
            rows = (lh.read(name).where((F.col("_logical_date") == F.lit(logical_date))
                                        & (F.col("_source_file") == F.lit(source)) & F.col("_event_id").isNull())
                    .groupBy("_source_checksum").count().collect())
            for row in rows:
                loaded[row[0]] = loaded.get(row[0], 0) + row[1]
    if loaded and set(loaded) != {checksum}:
        before = ", ".join(f"sha256 {c[:12]} ({n} rows)" for c, n in sorted(loaded.items()))
        raise RedeliveredExportError(
            f"{source}: re-delivered with other content: {before} loaded for {logical_date}, this file is sha256 "
            f"{checksum[:12]}; nothing loaded, the date's rows are as they were. To replace them with this file, "
            "run again with MARKETOFONE_ACCEPT_REDELIVERY=1")


def _results_recorded(lh: Lakehouse, validated_table: str, logical_date: dt.date) -> bool:
    if not lh.exists(RESULTS):
        return False
    recorded = lh.read(RESULTS).where((F.col("run_date") == F.lit(logical_date)) & (F.col("table") == validated_table))
    return bool(recorded.limit(1).count())


def combine_verdicts(validated: DataFrame) -> DataFrame:
    """One `_check` / `_reason` per row from both verdicts (contract rules first, then GX expectations),
    NULL on a row that passed both; the contract's own columns dropped."""
    def joined(first: str, second: str) -> F.Column:
        text = F.concat_ws("; ", F.col(first), F.col(second))
        return F.when(text == "", F.lit(None).cast("string")).otherwise(text)

    return (
        validated.withColumn(CHECK_COLUMN, joined(_RULE, CHECK_COLUMN))
        .withColumn(REASON_COLUMN, joined(_RULE_REASON, REASON_COLUMN))
        .drop(_RULE, _RULE_REASON)
    )


def malformed_frame(spark: SparkSession, malformed: tuple[landing.MalformedLine, ...], contract: Contract,
                    scratch: Path) -> DataFrame:
    """The malformed lines as quarantine rows: the contract's columns empty (the line could not be split
    into them), the line number and raw text kept. Written through Parquet so that a file with many of them
    does not travel row by row through the client."""
    table = pa.table({
        **{c: pa.nulls(len(malformed), pa.string()) for c in contract.column_names},
        "_row_id": pa.array([m.row for m in malformed], pa.int64()),
        CHECK_COLUMN: pa.array([STRUCTURE_CHECK] * len(malformed), pa.string()),
        REASON_COLUMN: pa.array([f"line {m.line}: {m.reason}" for m in malformed], pa.string()),
        LINE_COLUMN: pa.array([m.line for m in malformed], pa.int64()),
        RAW_LINE_COLUMN: pa.array([m.text for m in malformed], pa.string()),
    })
    scratch.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, scratch)
    schema = StructType([StructField(c, StringType(), True) for c in contract.column_names] + [
        StructField("_row_id", LongType(), True), StructField(CHECK_COLUMN, StringType(), True),
        StructField(REASON_COLUMN, StringType(), True), StructField(LINE_COLUMN, LongType(), True),
        StructField(RAW_LINE_COLUMN, StringType(), True)])
    return spark.read.schema(schema).parquet(str(scratch))


def with_line_columns(rows: DataFrame) -> DataFrame:
    """Quarantine rows that could be read have no line of their own to show."""
    return rows.withColumn(LINE_COLUMN, F.lit(None).cast("long")).withColumn(
        RAW_LINE_COLUMN, F.lit(None).cast("string"))


def prepare_entity(lh: Lakehouse, silo: str, entity: str, logical_date: dt.date) -> PreparedLoad | IngestReport:
    """Read, check and validate one file; write nothing but its GX results (an IngestReport when the very
    same file is already loaded for the date)."""
    contract = load_contract(silo, entity)
    path = landing_file(lh.settings, silo, entity, logical_date)
    if not path.is_file():
        raise MissingExportError(f"no {silo}/{entity} export for {logical_date}: expected {path}")
    source = str(path.relative_to(lh.settings.landing))
    facts = landing.inspect(path)
    absent = landing.check_header(facts, contract.column_names, source, contract.name, contract.may_be_absent)
    if absent:
        log.warning("%s: no %s column(s) in the file (optional): loaded as empty", source, ", ".join(absent))
    bronze = f"bronze.{contract.name}"
    quarantine = quarantine_of(bronze)

    # An empty export leaves no row, hence no checksum, behind: it counts as loaded once its results are in
    # audit.dq_results. (Counted as loaded as soon as another date had created the tables, it went unvalidated,
    # and the results of a date depended on the order dates ran in.)
    # Loaded means written and validated: a file's results are recorded after both of its writes (publish), so a
    # process killed between them, or before the step's results were written, loads the file again.
    loaded = _already_loaded(lh, (bronze, quarantine), facts.checksum, logical_date, empty_file=not facts.has_data_rows)
    if loaded and _results_recorded(lh, bronze, logical_date):
        n_bronze = lh.read(bronze).where(F.col("_logical_date") == F.lit(logical_date)).count()
        n_quarantine = lh.read(quarantine).where(F.col("_logical_date") == F.lit(logical_date)).count()
        log.info("%s: %s already loaded for %s; nothing to do", bronze, source, logical_date)
        return IngestReport(contract.name, source, n_bronze + n_quarantine, n_bronze, n_quarantine, skipped=True)

    if not loaded:
        _refuse_redelivery(lh, (bronze, quarantine), source, facts.checksum, logical_date)
    scratch = lh.scratch_path(f"landing/{contract.name}")
    scan = None if facts.utf8 and facts.complete else _scan(path, contract, source, scratch, lh.settings, absent)
    try:
        staged = _stage(lh, contract, source, facts.checksum, logical_date, scan.clean if scan else path, scan,
                        absent)
    except FilePositionsUnknown as exc:
        # Rare (a file holding the same record twice where the engine split it): number the lines in Python.
        log.info("%s; numbering its lines while reading it", exc)
        scan = _scan(path, contract, source, scratch, lh.settings, absent)
        staged = _stage(lh, contract, source, facts.checksum, logical_date, scan.clean, scan, absent)
    except Exception as exc:
        if scan is not None:  # the clean copy failed too: not a malformed line
            raise RuntimeError(f"{source}: the engine could not read it: {engine_message(exc)}") from exc
        # The engine refused the file (e.g. Sail: "incorrect number of fields for line 658"): find the
        # lines, quarantine them and read the rest, or name the file if no line is to blame.
        scan = _scan(path, contract, source, scratch, lh.settings, absent)
        if not scan.malformed:
            raise RuntimeError(f"{source}: the engine could not read it: {engine_message(exc)}") from exc
        staged = _stage(lh, contract, source, facts.checksum, logical_date, scan.clean, scan, absent)
    staged, malformed, erased = _without_erased(lh, contract.name, staged, scan.malformed if scan else ())

    # The staged rows are files in scratch (_stage): the suite's unique rules may read them more than once.
    result = quality.validate(staged, bronze, lh.settings, logical_date, materialize=lh.scratch, stored=True)
    try:
        quality.raise_on_failure(result)  # e.g. an empty export: nothing is written
    except Exception:
        record_results(lh, result, logical_date)   # the results that say why
        raise

    rows = combine_verdicts(result.checked)
    clean_rows = rows.where(F.col(CHECK_COLUMN).isNull()).drop(CHECK_COLUMN, REASON_COLUMN)
    quarantined = with_line_columns(rows.where(F.col(CHECK_COLUMN).isNotNull()))
    if malformed:
        lines = with_load_metadata(malformed_frame(lh.spark, malformed, contract, scratch / "malformed.parquet"),
                                   source, facts.checksum, logical_date)
        quarantined = quarantined.unionByName(lines)
    return PreparedLoad(contract, source, result.row_count + len(malformed) + erased, clean_rows, quarantined,
                        len(malformed), result, nothing_to_write=loaded and not facts.has_data_rows, erased=erased)


def _without_erased(lh: Lakehouse, name: str, staged: DataFrame, malformed: tuple[landing.MalformedLine, ...]
                    ) -> tuple[DataFrame, tuple[landing.MalformedLine, ...], int]:
    """The staged rows and malformed lines without those of people erased (a silo may export a person after the
    bank erased them): (rows, lines, how many were dropped). Nobody erased: the rows as they are."""
    from jobs.privacy.tombstones import drop_erased, erased_values, tombstones

    erased = tombstones(lh)
    if erased is None:
        return staged, malformed, 0
    kept = lh.scratch(drop_erased(staged, name, erased), f"unerased_{name}")
    values = erased_values(erased)
    lines = tuple(m for m in malformed if not any(f.strip().strip('"') in values for f in m.text.split(",")))
    dropped = staged.count() - kept.count() + len(malformed) - len(lines)
    if dropped:
        log.warning("%s: %d rows of people erased dropped (audit.erasure_tombstone)", name, dropped)
    return kept, lines, dropped


def _scan(path: Path, contract: Contract, source: str, scratch: Path, settings: Settings,
          absent: list[str]) -> landing.LineScan:
    scan = landing.scan_lines(path, len(contract.columns) - len(absent), scratch / "clean.csv")
    landing.check_malformed_share(scan, source, settings.max_malformed_share)
    for m in scan.malformed[:5]:
        log.warning("%s, line %d: %s; quarantined", source, m.line, m.reason)
    if len(scan.malformed) > 5:
        log.warning("%s: %d more malformed lines quarantined", source, len(scan.malformed) - 5)
    return scan


def _stage(lh: Lakehouse, contract: Contract, source: str, checksum: str, logical_date: dt.date,
           path: Path, scan: landing.LineScan | None, absent: list[str]) -> DataFrame:
    """The file's readable rows with the contract checks' verdict and the load metadata, written once to
    scratch (Sail cannot cache): GX, the split and both writes then read these files. Reading happens here,
    so this is where the engine refuses a malformed file."""
    # Stored as read first: the key check reads the rows twice, and rows read from a CSV may be given other ids
    # the second time (jobs/quality/repeats.py).
    raw = lh.scratch(read_landing(lh.spark, path, contract, row_ids_in_file=scan is not None, absent=absent),
                     f"read_bronze_{contract.name}")
    checked = check_rows(raw, contract).withColumnRenamed("_rule", _RULE).withColumnRenamed("_reason", _RULE_REASON)
    staged = lh.scratch(with_load_metadata(checked, source, checksum, logical_date), f"staged_bronze_{contract.name}")
    in_file = [c for c in contract.column_names if c not in absent]
    return staged if scan is not None else with_file_positions(staged, path, in_file)


class FilePositionsUnknown(RuntimeError):
    """The engine's row ids could not be turned into places in the file: the loader numbers the lines itself."""


def with_file_positions(staged: DataFrame, path: Path, columns: list[str]) -> DataFrame:
    """`_row_id` from the engine's monotonically_increasing_id (a read partition's index in the upper bits, the
    row's place in it in the lower 33) to the row's position among the file's data records, the id the clean copy
    of a file with malformed lines carries: the same on every engine, whatever its partitions (Sail and the JVM
    split a file differently). Each partition is one byte range of the file, its rows in order, but the index an
    engine gives a range is not its place in the file (Sail's indexes changed from one write to the next): the
    ranges are put in file order by walking the file from one range's first record to the next
    (landing.ranges_in_file_order), each one's offset is then the rows of those before it. Two small aggregates,
    a row per partition, reach the driver. Raises FilePositionsUnknown when the walk cannot place every range
    (the caller numbers the lines itself).
    `columns`: the file's columns, in its order."""
    partition, place = F.shiftright(F.col("_row_id"), 33), F.col("_row_id") % (1 << 33)
    counts = {r["p"]: r["count"] for r in staged.groupBy(partition.alias("p")).count().collect()}
    if set(counts) <= {0}:
        return staged  # one partition, the first: the ids are the positions already
    firsts = {r["p"]: [r[c] for c in columns]
              for r in staged.where(place == 0).select(partition.alias("p"), *columns).collect()}
    order = (landing.ranges_in_file_order(path, {p: (firsts[p], counts[p]) for p in counts})
             if set(firsts) == set(counts) else None)
    if order is None:
        raise FilePositionsUnknown(f"{path.name}: the engine's {len(counts)} read partitions could not be placed in "
                                   "the file by their first rows and row counts")
    start, before = {}, 0
    for p in order:
        start[p], before = before, before + counts[p]
    offset = F.coalesce(*[F.when(partition == p, F.lit(first)) for p, first in start.items()])
    return staged.withColumn("_row_id", (offset + place).cast("long"))


def publish(lh: Lakehouse, prepared: PreparedLoad, logical_date: dt.date) -> IngestReport:
    contract = prepared.contract
    bronze = f"bronze.{contract.name}"
    if prepared.nothing_to_write:  # writing no rows would only add an empty version to both tables
        record_results(lh, prepared.result, logical_date)
        return IngestReport(contract.name, prepared.source, 0, 0, 0)
    # Validated above (contract checks and the bronze suite, with the malformed lines): written the declared
    # way (replace the logical date), not through jobs/publish.py, which would run the suite a second time.
    n_bronze = lh.write(bronze, prepared.bronze, logical_date)
    n_quarantine = lh.write(quarantine_of(bronze), prepared.quarantine, logical_date)
    report = IngestReport(contract.name, prepared.source, prepared.rows_in, n_bronze, n_quarantine,
                          rows_malformed=prepared.malformed, rows_erased=prepared.erased)
    if not report.balanced:  # would mean rows were lost between the file and the tables
        raise RuntimeError(f"{contract.name}: {prepared.rows_in} rows in, {n_bronze} bronze + {n_quarantine} "
                           f"quarantined + {prepared.erased} of people erased")
    # Last, after both writes: the results mark the file loaded (prepare_entity).
    record_results(lh, prepared.result, logical_date)
    log.info("%s: %d rows in -> %d bronze, %d quarantined (%d of them by GX, %d malformed lines; report %s)",
             contract.name, prepared.rows_in, n_bronze, n_quarantine, prepared.result.quarantined_count,
             prepared.malformed, prepared.result.report_path)
    return report


def load_silo(lh: Lakehouse, silo: str, logical_date: dt.date,
              entities: tuple[str, ...] | None = None) -> list[IngestReport]:
    """All of a silo's files for the date, or none: each is read and checked before any table is written."""
    if silo not in SOURCES:
        raise ValueError(f"unknown silo {silo!r}; known silos: {', '.join(SOURCES)}")
    prepared = [prepare_entity(lh, silo, entity, logical_date) for entity in entities or SOURCES[silo]]
    return [p if isinstance(p, IngestReport) else publish(lh, p, logical_date) for p in prepared]


def load_entity(lh: Lakehouse, silo: str, entity: str, logical_date: dt.date) -> IngestReport:
    return load_silo(lh, silo, logical_date, (entity,))[0]


def run(lh: Lakehouse, logical_date: dt.date, silos: tuple[str, ...] | None = None) -> list[IngestReport]:
    for silo in silos or ():
        if silo not in SOURCES:
            raise ValueError(f"unknown silo {silo!r}; known silos: {', '.join(SOURCES)}")
    return [report for silo in silos or tuple(SOURCES) for report in load_silo(lh, silo, logical_date)]
