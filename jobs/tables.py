"""The table registry and the Lakehouse API: the one place that knows table names, keys and locations.

Every lakehouse table is a Delta table at `<home>/lakehouse/<layer>/<name>/`. Jobs never build paths or
write modes themselves; they call `Lakehouse.overwrite`, `replace_for_date` or `merge_upsert`, each of
which is idempotent for its logical date. Maintenance that Sail's SQL lacks (history, optimize,
vacuum) goes through `deltalake` (delta-rs) on the same files.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.known import KNOWN_ON, SNAPSHOT_DATE, known_by
from jobs.settings import Settings

log = logging.getLogger(__name__)

LAYERS = ("bronze", "silver", "gold", "quarantine", "audit")


@dataclass(frozen=True)
class Table:
    layer: str
    name: str
    keys: tuple[str, ...] = ()
    date_column: str | None = None  # the logical-date column a daily run replaces
    description: str = ""

    @property
    def full_name(self) -> str:
        return f"{self.layer}.{self.name}"


# Landing sources: silo -> entities; each has a contract in schemas/landing/<silo>/<entity>.json
SOURCES: dict[str, tuple[str, ...]] = {
    "deposits": ("customers", "accounts", "balances", "transactions"),
    "cards": ("cardholders", "accounts", "balances", "transactions"),
    "lending": ("borrowers", "loans", "balances", "repayments"),
    "digital": ("sessions",),
    "crm": ("consents", "offers", "life_events"),
    "channels": ("responses",),
}


def _bronze_and_quarantine() -> list[Table]:
    tables = []
    for silo, entities in SOURCES.items():
        for entity in entities:
            name = f"{silo}_{entity}"
            tables.append(
                Table("bronze", name, ("_source_file", "_row_id"), "_logical_date",
                      f"{silo} {entity} as exported, with load metadata")
            )
            tables.append(
                Table("quarantine", name, ("_source_file", "_row_id"), "_logical_date",
                      f"{silo} {entity} rows that broke the landing contract or failed the bronze suite, "
                      "with `_check` and `_reason`")
            )
    return tables


# Tables with a Great Expectations suite (expectations/<layer>.<name>.json) validated before publishing
# (jobs/publish.py), each with its quarantine.<layer>_<name>. Bronze tables have suites too, generated
# from the landing contracts and run by ingest (jobs/ingest/load.py, quarantine.<silo>_<entity>).
VALIDATED = (("silver", "customer_crosswalk"), ("silver", "account"), ("silver", "account_balance"),
             ("silver", "customer"), ("silver", "customer_version"), ("silver", "transaction"),
             ("silver", "digital_session"),
             ("silver", "consent_event"), ("silver", "consent"), ("silver", "offer_event"),
             ("silver", "offer_interaction"), ("silver", "offer_response"), ("silver", "life_event"),
             ("gold", "customer_360"),
             ("gold", "next_best_offer"), *[("gold", f"offers_{c}") for c in ("mobile", "email", "atm", "branch")])

_TABLES = _bronze_and_quarantine() + [
    Table("silver", "customer", ("customer_id",), None,
          "one golden record per real person; direct identifiers tokenized"),
    Table("silver", "customer_version", ("customer_id", "_snapshot_date"), "_snapshot_date",
          "every version of each golden record: a row on each snapshot date on which it appeared, changed or "
          "went (`_removed`); gold reads the newest version known by its date"),
    Table("silver", "customer_crosswalk", ("silo", "silo_customer_id"), None,
          "every silo customer id -> golden customer_id, with the rule that matched"),
    Table("silver", "account", ("silo", "account_id"), None,
          "deposit accounts, card accounts and loans conformed to one shape, as in the newest export"),
    Table("silver", "account_balance", ("as_of_date", "silo", "account_id"), "as_of_date",
          "every account's end-of-day balance, limit and days past due on the dates the balance files give"),
    Table("silver", "transaction", ("silo", "txn_id"), None,
          "deposit and card transactions and loan repayments, signed amounts, categories"),
    Table("silver", "digital_session", ("session_id",), None,
          "online banking sessions (app, web) with the page they were about"),
    Table("silver", "consent_event", ("event_id",), None,
          "the consent ledger: every grant and withdrawal per purpose and channel"),
    Table("silver", "consent", ("customer_id", "purpose", "channel"), None,
          "the current consent per customer, purpose and channel (the ledger's last word)"),
    Table("silver", "offer_event", ("event_id",), None,
          "campaign events: offers held out, sent, opened, clicked, accepted, declined"),
    Table("silver", "offer_interaction", ("offer_id",), None,
          "one row per offer: customer, product, channel, holdout, what the customer did and when"),
    Table("silver", "offer_response", ("decision_id", "event_type"), None,
          "what customers did with our published offers, as the channels report it: impression, click, "
          "accepted, declined, product opened; joined to audit.decision_log by decision_id"),
    Table("silver", "life_event", ("event_id",), None,
          "life events customers declared: type, the date it happened, when and where it was recorded"),
    Table("gold", "customer_360", ("as_of_date", "customer_id"), "as_of_date",
          "one row per customer as of a date: balances, income, spend, products, tenure, engagement"),
    Table("gold", "training_set", ("as_of_date", "customer_id"), "as_of_date",
          "point-in-time features at month-end as-of dates, with eligibility and labels per target"),
    Table("gold", "propensity_scores", ("as_of_date", "customer_id", "target"), "as_of_date",
          "probability per customer and product or life event from the champion model, with reason codes"),
    Table("gold", "next_best_offer", ("as_of_date", "customer_id"), "as_of_date",
          "one ranked offer per customer with its score and reason"),
    Table("gold", "kpi_daily", ("as_of_date", "kpi"), "as_of_date",
          "retention, wallet share, engagement, products per customer, offer funnel and revenue, for treated "
          "customers, the holdout and all, with uplift and its 95% confidence interval"),
    Table("gold", "kpi_by_segment", ("as_of_date", "segment", "kpi"), "as_of_date",
          "the KPIs of gold.kpi_daily per segment (age band x income band)"),
    Table("gold", "offer_catalog", ("catalog_version", "offer_id"), None,
          "every version of the offer catalog (schemas/decisioning/catalog.json) the decisions used"),
    Table("gold", "decision_policy", ("policy_version", "rule_id"), None,
          "every version of the policy rules (schemas/decisioning/policy.json) the decisions used"),
    *[Table("gold", f"offers_{channel}", ("as_of_date", "customer_id", "rank"), "as_of_date",
            f"what the {channel} channel presents: ranked offers with content, disclosure, price, reason, validity "
            "(contract: schemas/channels/offers.json)") for channel in ("mobile", "email", "atm", "branch")],
    Table("gold", "channel_publication", ("as_of_date", "channel"), "as_of_date",
          "one row per channel and published date, written by the run that published it: when, how many offers, the "
          "channel table's Delta version, catalog, policy and model versions, the export files and their checksum; "
          "a date without a row was never published"),
    Table("gold", "fairness_daily", ("as_of_date", "dimension", "group", "metric"), "as_of_date",
          "offer rates and approved prices per protected group, ratio to the best-treated group, flags"),
    Table("audit", "decision_log", ("as_of_date", "decision_id"), "as_of_date",
          "every candidate decision (customer x offer x channel): outcome, the rules that excluded it, scores, "
          "price, model, catalog and policy versions, reasons; a published decision a forced re-run replaced stays, "
          "with `superseded_at` and `superseded_by`; kept as long as the data"),
    *[Table("quarantine", f"{layer}_{name}", (), "_run_date",
            f"{layer}.{name} rows that failed a row-level expectation, with `_check` and `_reason`")
      for layer, name in VALIDATED],
    Table("audit", "dq_results", ("run_date", "table", "expectation", "column"), "run_date",
          "every Great Expectations result: table, expectation, success, unexpected count"),
]

REGISTRY: dict[str, Table] = {t.full_name: t for t in _TABLES}


def table(full_name: str) -> Table:
    try:
        return REGISTRY[full_name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise KeyError(f"unknown table {full_name!r}; known tables: {known}") from None


def quarantine_of(full_name: str) -> str:
    """quarantine.silver_customer for silver.customer (bronze tables quarantine under their own name)."""
    layer, name = full_name.split(".")
    return f"quarantine.{name}" if layer == "bronze" else f"quarantine.{layer}_{name}"


# Spark's simple type names -> Delta's, for columns added to an existing table.
_DELTA_TYPES = {"string": "string", "double": "double", "float": "float", "bigint": "long", "int": "integer",
                "smallint": "short", "tinyint": "byte", "boolean": "boolean", "date": "date",
                "timestamp": "timestamp"}


def _sql_literal(value) -> str:
    if isinstance(value, (dt.date, dt.datetime)):
        return f"DATE'{value.isoformat()[:10]}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(value)


class Lakehouse:
    """Read and write registered tables on one Spark session."""

    def __init__(self, spark: SparkSession, settings: Settings):
        self.spark = spark
        self.settings = settings

    # -- locations ---------------------------------------------------------------------------
    def path(self, full_name: str) -> Path:
        t = table(full_name)
        return self.settings.lakehouse / t.layer / t.name

    def exists(self, full_name: str) -> bool:
        return (self.path(full_name) / "_delta_log").is_dir()

    # -- reads ---------------------------------------------------------------------------------
    def read(self, full_name: str, version: int | None = None) -> DataFrame:
        if not self.exists(full_name):
            raise FileNotFoundError(
                f"table {full_name} has not been written yet (expected at {self.path(full_name)}); "
                "run the step that produces it first"
            )
        reader = self.spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", version)
        return reader.load(str(self.path(full_name)))

    def read_known(self, full_name: str, day: dt.date) -> DataFrame:
        """A silver table's rows known on `day` (jobs/known.py): what a reader as of that day may use."""
        return known_by(self.read(full_name), day, self.first_load())

    def register_catalog(self) -> list[str]:
        """Expose every written table by its name (`gold.customer_360`) to Spark SQL."""
        names = []
        for layer in LAYERS:
            self.spark.sql(f"CREATE DATABASE IF NOT EXISTS {layer}")
        for full_name in sorted(REGISTRY):
            if self.exists(full_name):
                # Drop first: the session may hold the name for another home (dropping an external
                # table leaves its files alone).
                self.spark.sql(f"DROP TABLE IF EXISTS {full_name}")
                self.spark.sql(f"CREATE TABLE {full_name} USING delta LOCATION '{self.path(full_name)}'")
                names.append(full_name)
        return names

    def sql(self, query: str) -> DataFrame:
        self.register_catalog()
        return self.spark.sql(query)

    # -- writes (each idempotent for its logical date) -----------------------------------------
    def overwrite(self, full_name: str, df: DataFrame) -> int:
        """Replace the whole table (for tables rebuilt from their inputs on every run)."""
        path = str(self.path(full_name))
        df.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(path)
        return self._count(full_name)

    def replace_for_date(self, full_name: str, df: DataFrame, logical_date: dt.date | str) -> int:
        """Replace exactly the rows of one logical date; other dates stay untouched.

        (Sail ignores dynamic partition overwrite and would replace the whole table, so this uses
        replaceWhere, which it honours.)"""
        t = table(full_name)
        if t.date_column is None:
            raise ValueError(f"{full_name} has no logical-date column; use overwrite or merge_upsert")
        path = str(self.path(full_name))
        if not self.exists(full_name):
            df.write.format("delta").mode("overwrite").save(path)
        else:
            df = self._aligned(full_name, df)
            condition = f"{t.date_column} = {_sql_literal(logical_date)}"
            df.write.format("delta").mode("overwrite").option("replaceWhere", condition).save(path)
        return self._count(full_name, logical_date)

    def _aligned(self, full_name: str, df: DataFrame) -> DataFrame:
        """`df` in the table's column order, the table first widened by df's new columns.

        Sail writes by position and drops columns the table does not have without a word, so a new
        feature would vanish and a reordered select would swap values. New columns are added to the
        table (rows of earlier dates read them as NULL); a column the rows lack or a changed type is
        refused, naming the columns."""
        from deltalake.schema import Field, PrimitiveType

        have = {f.name: f.dataType.simpleString() for f in self.read(full_name).schema.fields}
        given = {f.name: f.dataType.simpleString() for f in df.schema.fields}
        missing = [c for c in have if c not in given]
        if missing:
            raise ValueError(f"{full_name}: the rows to write lack column(s) {', '.join(missing)} that the table has")
        changed = [f"{c} ({have[c]} -> {given[c]})" for c in have if given[c] != have[c]]
        if changed:
            raise ValueError(f"{full_name}: column type(s) changed: {', '.join(changed)}; rebuild the table "
                             "(marketofone drops nothing by itself)")
        new = [c for c in given if c not in have]
        if new:
            unknown = [c for c in new if given[c] not in _DELTA_TYPES]
            if unknown:
                raise ValueError(f"{full_name}: new column(s) of a type that cannot be added in place: "
                                 f"{', '.join(f'{c} {given[c]}' for c in unknown)}")
            self.delta_table(full_name).alter.add_columns(
                [Field(c, PrimitiveType(_DELTA_TYPES[given[c]]), nullable=True) for c in new])
            log.info("%s: added column(s) %s (earlier rows read them as NULL)", full_name, ", ".join(new))
        return df.select(*have, *new)

    def merge_upsert(self, full_name: str, df: DataFrame, delete_missing: bool = False) -> int:
        """MERGE on the table's keys: update matches, insert new rows, optionally delete rows absent
        from the source. Re-running with the same source changes nothing."""
        t = table(full_name)
        path = str(self.path(full_name))
        if not self.exists(full_name):
            df.write.format("delta").mode("overwrite").save(path)
            return self._count(full_name)
        view = f"_merge_src_{t.layer}_{t.name}"
        df.createOrReplaceTempView(view)
        on = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in t.keys)
        cols = df.columns
        updates = ", ".join(f"t.`{c}` = s.`{c}`" for c in cols if c not in t.keys)
        # Only rewrite rows whose values changed, so a re-run writes no new row versions.
        changed = " OR ".join(f"NOT (t.`{c}` <=> s.`{c}`)" for c in cols if c not in t.keys) or "false"
        statement = (
            f"MERGE INTO delta.`{path}` AS t USING {view} AS s ON {on} "
            f"WHEN MATCHED AND ({changed}) THEN UPDATE SET {updates} "
            f"WHEN NOT MATCHED THEN INSERT ({', '.join(f'`{c}`' for c in cols)}) "
            f"VALUES ({', '.join(f's.`{c}`' for c in cols)})"
        )
        if delete_missing:
            statement += " WHEN NOT MATCHED BY SOURCE THEN DELETE"
        self.spark.sql(statement)
        self.spark.catalog.dropTempView(view)
        return self._count(full_name)

    def merge_snapshot(self, full_name: str, df: DataFrame) -> int:
        """MERGE one snapshot of a master (a customer master, an account list) on the table's keys, so that
        snapshots of any dates, run in any order and any number of times, leave the same table: the values
        of the newest snapshot win (`_snapshot_date`), `_known_on` keeps the earliest date the row was known,
        and a row missing from this snapshot stays (an older snapshot says nothing about a newer one)."""
        t = table(full_name)
        path = str(self.path(full_name))
        if not self.exists(full_name):
            df.write.format("delta").mode("overwrite").save(path)
            return self._count(full_name)
        df = self._aligned(full_name, df)
        view = f"_snapshot_src_{t.layer}_{t.name}"
        df.createOrReplaceTempView(view)
        on = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in t.keys)
        values = [c for c in df.columns if c not in t.keys and c != KNOWN_ON]
        earliest = f"least(t.`{KNOWN_ON}`, s.`{KNOWN_ON}`)"
        changed = " OR ".join([f"NOT (t.`{c}` <=> s.`{c}`)" for c in values] + [f"NOT (t.`{KNOWN_ON}` <=> {earliest})"])
        sets = ", ".join([f"t.`{c}` = s.`{c}`" for c in values] + [f"t.`{KNOWN_ON}` = {earliest}"])
        self.spark.sql(
            f"MERGE INTO delta.`{path}` AS t USING {view} AS s ON {on} "
            f"WHEN MATCHED AND s.`{SNAPSHOT_DATE}` >= t.`{SNAPSHOT_DATE}` AND ({changed}) THEN UPDATE SET {sets} "
            f"WHEN MATCHED AND s.`{KNOWN_ON}` < t.`{KNOWN_ON}` THEN UPDATE SET t.`{KNOWN_ON}` = s.`{KNOWN_ON}` "
            f"WHEN NOT MATCHED THEN INSERT ({', '.join(f'`{c}`' for c in df.columns)}) "
            f"VALUES ({', '.join(f's.`{c}`' for c in df.columns)})")
        self.spark.catalog.dropTempView(view)
        return self._count(full_name)

    def first_load(self) -> dt.date | None:
        """The logical date of the lakehouse's first load (the earliest snapshot of a customer master):
        readers as of earlier dates see that load's history (jobs/known.py)."""
        if not self.exists("silver.customer_crosswalk"):
            return None
        return self.bound("silver.customer_crosswalk", KNOWN_ON, "min")

    def bound(self, full_name: str, column: str, which: str) -> dt.date | None:
        """The smallest (`min`) or largest (`max`) value of a column, from the file statistics in the Delta
        log, so no data is read (a table of every day's customer master is large); a scan of the column only
        when a file has no statistics."""
        import pyarrow as pa

        files = pa.table(self.delta_table(full_name).get_add_actions(flatten=True))
        stats = files.column(f"{which}.{column}").to_pylist() if f"{which}.{column}" in files.column_names else []
        if stats and None not in stats:
            return (min if which == "min" else max)(stats)
        agg = F.min(column) if which == "min" else F.max(column)
        return self.read(full_name).agg(agg).collect()[0][0]

    def update_matching(self, full_name: str, source: DataFrame, on: tuple[str, ...], columns: tuple[str, ...]) -> None:
        """Set `columns` of every row of the table that matches a source row on `on` (not the table's
        key: one source row may match many), where they differ; no other row is rewritten. Used to
        re-attach rows to a customer whose identity changed (the crosswalk moved a silo id), and to settle
        the quarantine records of rows that waited for a parent."""
        if not self.exists(full_name):
            return
        differs = " OR ".join(f"NOT (t.`{c}` <=> s.`{c}`)" for c in columns)
        sets = ", ".join(f"t.`{c}` = s.`{c}`" for c in columns)
        self._merge_on(full_name, source, on, f"WHEN MATCHED AND ({differs}) THEN UPDATE SET {sets}")

    def delete_matching(self, full_name: str, source: DataFrame, on: tuple[str, ...]) -> None:
        """Delete the rows of the table that a source row matches on `on`."""
        self._merge_on(full_name, source, on, "WHEN MATCHED THEN DELETE")

    def delete_unmatched(self, full_name: str, source: DataFrame, on: tuple[str, ...]) -> None:
        """Delete the rows of the table that no source row matches on `on`."""
        self._merge_on(full_name, source, on, "WHEN NOT MATCHED BY SOURCE THEN DELETE")

    def _merge_on(self, full_name: str, source: DataFrame, on: tuple[str, ...], action: str) -> None:
        t = table(full_name)
        view = f"_source_{t.layer}_{t.name}"
        source.createOrReplaceTempView(view)
        match = " AND ".join(f"t.`{k}` = s.`{k}`" for k in on)
        self.spark.sql(f"MERGE INTO delta.`{self.path(full_name)}` AS t USING {view} AS s ON {match} {action}")
        self.spark.catalog.dropTempView(view)

    def _count(self, full_name: str, logical_date=None) -> int:
        df = self.read(full_name)
        if logical_date is not None:
            df = df.where(f"{table(full_name).date_column} = {_sql_literal(logical_date)}")
        return df.count()

    def scratch(self, df: DataFrame, name: str) -> DataFrame:
        """Write an intermediate result to the home's scratch area and read it back: cuts a long
        lineage (iterative algorithms) on every engine, where checkpointing is not always available."""
        path = self.settings.home / "scratch" / name
        df.write.mode("overwrite").parquet(str(path))
        # The schema is given, not inferred: an empty frame leaves no file to infer it from (Sail
        # writes none), and validation must still see the columns of an empty input.
        return self.spark.read.schema(df.schema).parquet(str(path))

    # -- maintenance through delta-rs --------------------------------------------------------
    def delta_table(self, full_name: str):
        from deltalake import DeltaTable

        return DeltaTable(str(self.path(full_name)))

    def history(self, full_name: str, limit: int | None = None) -> list[dict]:
        return self.delta_table(full_name).history(limit)

    def version(self, full_name: str) -> int:
        return self.delta_table(full_name).version()

    def optimize(self, full_name: str) -> dict:
        return self.delta_table(full_name).optimize.compact()

    def vacuum(self, full_name: str, retention_hours: int = 168, dry_run: bool = True) -> list[str]:
        return self.delta_table(full_name).vacuum(
            retention_hours=retention_hours, dry_run=dry_run, enforce_retention_duration=retention_hours >= 168
        )

    def describe(self) -> list[dict]:
        """Every registered table that exists, with its Delta version and row count."""
        rows = []
        for full_name in sorted(REGISTRY):
            if self.exists(full_name):
                dt_ = self.delta_table(full_name)
                count = dt_.to_pyarrow_dataset().count_rows()
                rows.append({"table": full_name, "version": dt_.version(), "rows": count,
                             "path": str(self.path(full_name))})
        return rows
