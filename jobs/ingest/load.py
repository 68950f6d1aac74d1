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
fails it too.

Both writes replace exactly the logical date, and a file whose checksum is already loaded for that
date is not read again, so a re-run changes nothing. Invariant, checked on every load: rows in the file
= rows in bronze + rows quarantined.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from jobs import quality
from jobs.contracts import Contract, load_contract
from jobs.ingest.contract_checks import check_rows
from jobs.quality import CHECK_COLUMN, REASON_COLUMN
from jobs.settings import Settings
from jobs.tables import SOURCES, Lakehouse, quarantine_of

log = logging.getLogger(__name__)

METADATA = ("_source_file", "_source_checksum", "_row_id", "_logical_date", "_loaded_at")
# The contract checks' verdict while GX validates the staged rows (GX's own goes to _check / _reason).
_RULE, _RULE_REASON = "_contract_rule", "_contract_reason"


class ContractError(ValueError):
    """The file as a whole does not match its contract (missing or unexpected columns)."""


@dataclass(frozen=True)
class IngestReport:
    table: str
    source_file: str
    rows_in: int
    rows_bronze: int
    rows_quarantined: int
    skipped: bool = False

    @property
    def balanced(self) -> bool:
        return self.rows_in == self.rows_bronze + self.rows_quarantined


def landing_file(settings: Settings, silo: str, entity: str, logical_date: dt.date) -> Path:
    return settings.landing / silo / entity / f"{logical_date.isoformat()}.csv"


def file_checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_header(path: Path, contract: Contract) -> None:
    with path.open(newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh), [])
    if header != contract.column_names:
        missing = [c for c in contract.column_names if c not in header]
        extra = [c for c in header if c not in contract.column_names]
        raise ContractError(
            f"{path}: header does not match contract {contract.name}"
            + (f"; missing {missing}" if missing else "")
            + (f"; unexpected {extra}" if extra else "")
            + ("; columns out of order" if not missing and not extra else "")
        )


def read_landing(spark: SparkSession, path: Path, contract: Contract) -> DataFrame:
    """Every column as text, exactly as exported; `_row_id` is the row's position in the file."""
    schema = StructType([StructField(c, StringType(), True) for c in contract.column_names])
    df = spark.read.option("header", True).option("mode", "PERMISSIVE").schema(schema).csv(str(path))
    return df.withColumn("_row_id", F.monotonically_increasing_id())


def with_load_metadata(df: DataFrame, source_file: str, checksum: str, logical_date: dt.date) -> DataFrame:
    return (
        df.withColumn("_source_file", F.lit(source_file))
        .withColumn("_source_checksum", F.lit(checksum))
        .withColumn("_logical_date", F.lit(logical_date))
        .withColumn("_loaded_at", F.current_timestamp())
    )


def _has_data_rows(path: Path) -> bool:
    with path.open("rb") as fh:
        fh.readline()                       # the header
        return bool(fh.readline().strip())


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


def load_entity(lh: Lakehouse, silo: str, entity: str, logical_date: dt.date) -> IngestReport:
    contract = load_contract(silo, entity)
    path = landing_file(lh.settings, silo, entity, logical_date)
    if not path.is_file():
        raise FileNotFoundError(f"no {silo}/{entity} export for {logical_date}: expected {path}")
    check_header(path, contract)
    checksum = file_checksum(path)
    bronze = f"bronze.{contract.name}"
    quarantine = quarantine_of(bronze)
    source = str(path.relative_to(lh.settings.landing))

    if _already_loaded(lh, (bronze, quarantine), checksum, logical_date, empty_file=not _has_data_rows(path)):
        n_bronze = lh.read(bronze).where(F.col("_logical_date") == F.lit(logical_date)).count()
        n_quarantine = lh.read(quarantine).where(F.col("_logical_date") == F.lit(logical_date)).count()
        log.info("%s: %s already loaded for %s; nothing to do", bronze, source, logical_date)
        return IngestReport(contract.name, source, n_bronze + n_quarantine, n_bronze, n_quarantine, skipped=True)

    raw = read_landing(lh.spark, path, contract)
    checked = check_rows(raw, contract).withColumnRenamed("_rule", _RULE).withColumnRenamed("_reason", _RULE_REASON)
    # Staged once (Sail cannot cache): GX, the split and both writes then read these files.
    staged = lh.scratch(with_load_metadata(checked, source, checksum, logical_date), f"staged_bronze_{contract.name}")
    result = quality.validate(staged, bronze, lh.settings, logical_date)
    lh.merge_upsert("audit.dq_results", quality.results_frame(lh.spark, result, logical_date))
    quality.raise_on_failure(result)  # e.g. an empty export: nothing is written

    rows = combine_verdicts(result.checked)
    n_bronze = lh.replace_for_date(bronze, rows.where(F.col(CHECK_COLUMN).isNull())
                                   .drop(CHECK_COLUMN, REASON_COLUMN), logical_date)
    n_quarantine = lh.replace_for_date(quarantine, rows.where(F.col(CHECK_COLUMN).isNotNull()), logical_date)
    rows_in = result.row_count
    report = IngestReport(contract.name, source, rows_in, n_bronze, n_quarantine)
    if not report.balanced:  # would mean rows were lost between the file and the tables
        raise RuntimeError(f"{contract.name}: {rows_in} rows in, {n_bronze} bronze + {n_quarantine} quarantined")
    log.info("%s: %d rows in -> %d bronze, %d quarantined (%d of them by GX; report %s)",
             contract.name, rows_in, n_bronze, n_quarantine, result.quarantined_count, result.report_path)
    return report


def run(lh: Lakehouse, logical_date: dt.date, silos: tuple[str, ...] | None = None) -> list[IngestReport]:
    reports = []
    for silo in silos or tuple(SOURCES):
        if silo not in SOURCES:
            raise ValueError(f"unknown silo {silo!r}; known silos: {', '.join(SOURCES)}")
        for entity in SOURCES[silo]:
            reports.append(load_entity(lh, silo, entity, logical_date))
    return reports
