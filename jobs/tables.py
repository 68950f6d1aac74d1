"""The table registry and the Lakehouse API: the one place that knows table names, keys, write modes and
locations.

Every lakehouse table is declared once below (`Table`): its keys, its logical-date column, how it is written
(`write`), what it is clustered by (`cluster_by`) and whether a Great Expectations suite validates it
(`suite`). Every table is a Delta table at `<storage>/<layer>/<name>` where the storage is
MARKETOFONE_STORAGE_URI (default: the home's `lakehouse/` folder; `s3://...` or `file:///...` work too).
Jobs never choose a write mode: they call `publish(lh, name, df, day)` (write-audit-publish,
jobs/publish.py), which validates the rows when the table has a suite and writes them the declared way;
`Lakehouse.write` is the declared write without the audit. Each mode is idempotent for its logical date.
Maintenance that Sail's SQL lacks (history, compaction, vacuum, adding a column) is delta-rs's, in
jobs/maintenance.py.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs import access, lakehouse_lock
from jobs.concurrency import retry_on_conflict
from jobs.known import ARRIVED_ON, KNOWN_ON, SNAPSHOT_DATE, known_by
from jobs.settings import LAYERS, Settings  # noqa: F401  (LAYERS: the registry names the layers; one list, in settings)
from jobs.settings import table_location as location

log = logging.getLogger(__name__)



# How a table is written (Lakehouse.write): each is idempotent for its logical date.
WRITE_MODES = {
    "replace_date": "replace the rows of the logical date (date_column); other dates stay",
    "merge": "MERGE on the keys: update the rows that changed, insert new ones",
    "sync": "MERGE on the keys and delete the rows the source lacks (a current state rebuilt from its events)",
    "snapshot": "MERGE one snapshot of a master: the newest snapshot's values win, _known_on keeps the first "
                "date, rows missing from the snapshot stay (Lakehouse.merge_snapshot)",
    "append": "insert the rows whose keys the table lacks; rows already there are left as they are",
    "overwrite": "replace the whole table",
}


@dataclass(frozen=True)
class Table:
    """One lakehouse table, declared once.

    `cluster_by`: the columns the table is laid out by (the logical date for date-replaced tables). It is
    declared, not applied: Sail 0.7 writes Delta with `partitionBy` (measured), but then reads the
    partition columns back LAST (`struct<kpi,value,as_of_date>`) and writes by position, so a partitioned
    table would read in another column order than it was written in and a positional write could swap
    values; JVM Spark keeps the declared order. Until Sail keeps it (or Delta liquid clustering is
    available on both engines) the layout stays unpartitioned and replace_date relies on replaceWhere."""
    layer: str
    name: str
    keys: tuple[str, ...] = ()
    date_column: str | None = None  # the logical-date column a daily run replaces
    description: str = ""
    write: str = "merge"
    cluster_by: tuple[str, ...] = ()
    suite: bool = False             # expectations/<layer>.<name>.json validates it before publishing
    # For a table two writers share: the rows of a date the declared write owns (a SQL condition); a replace
    # of the date leaves the other rows of the date alone.
    replace_scope: str | None = None
    # For a merge table whose rows can come again with other values (a transaction re-sent corrected): the
    # column saying when a row's values came. A MERGE updates a row only with values that came on its date or
    # later, so a date run again after later ones, or a row released late from the quarantine, leaves the newer
    # values in place.
    newest_by: str | None = None

    def __post_init__(self) -> None:
        if self.write not in WRITE_MODES:
            raise ValueError(f"{self.full_name}: unknown write mode {self.write!r}; one of {', '.join(WRITE_MODES)}")
        if self.write == "replace_date" and self.date_column is None:
            raise ValueError(f"{self.full_name}: write='replace_date' needs a date_column")
        if self.write in ("merge", "sync", "snapshot", "append") and not self.keys:
            raise ValueError(f"{self.full_name}: write={self.write!r} needs keys")
        if self.newest_by and self.write != "merge":
            raise ValueError(f"{self.full_name}: newest_by orders the versions a MERGE keeps: write='merge' only")

    @property
    def full_name(self) -> str:
        return f"{self.layer}.{self.name}"


def _daily(layer: str, name: str, keys: tuple[str, ...], date_column: str, description: str,
           suite: bool = False, replace_scope: str | None = None) -> Table:
    """A table whose run for a logical date replaces that date's rows, laid out by that date."""
    return Table(layer, name, keys, date_column, description, write="replace_date", cluster_by=(date_column,),
                 suite=suite, replace_scope=replace_scope)


# The decision log's rows the daily offers step writes (and replaces on a re-run of a date); the decision API's
# own decisions (jobs/serve/) are appended to the same table under ids starting DA.
BATCH_DECISIONS = "decision_id LIKE 'DX%'"

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
            # Bronze suites are generated from the landing contracts and run by ingest itself (with the
            # contract checks, jobs/ingest/load.py), which quarantines under quarantine.<silo>_<entity>.
            tables.append(_daily("bronze", name, ("_source_file", "_row_id"), "_logical_date",
                                 f"{silo} {entity} as exported, with load metadata", suite=True))
            tables.append(_daily("quarantine", name, ("_source_file", "_row_id"), "_logical_date",
                                 f"{silo} {entity} rows that broke the landing contract or failed the bronze suite, "
                                 "with `_check` and `_reason`"))
    # Lines of the event stream that are not events at all (not JSON, no known source): the stream's
    # "malformed line" (jobs/stream/events.py), kept as they came with the reason.
    tables.append(Table("quarantine", "stream_events", ("_source_file", "_row_id"), "_logical_date",
                        "lines of the event stream that could not be read as an event, as they came, with `_reason`",
                        write="append", cluster_by=("_logical_date",)))
    return tables


_DECLARED = _bronze_and_quarantine() + [
    Table("silver", "customer", ("customer_id",), None,
          "one golden record per real person; direct identifiers tokenized", write="snapshot", suite=True),
    _daily("silver", "customer_version", ("customer_id", "_snapshot_date"), "_snapshot_date",
           "every version of each golden record: a row on each snapshot date on which it appeared, changed or "
           "went (`_removed`); gold reads the newest version known by its date", suite=True),
    Table("silver", "customer_crosswalk", ("silo", "silo_customer_id"), None,
          "every silo customer id -> golden customer_id, with the rule that matched, the match probability and the "
          "evidence of the record's strongest link", write="snapshot", suite=True),
    Table("silver", "account", ("silo", "account_id"), None,
          "deposit accounts, card accounts and loans conformed to one shape, as in the newest export",
          write="snapshot", suite=True),
    Table("silver", "account_balance", ("as_of_date", "silo", "account_id"), "as_of_date",
          "every account's end-of-day balance, limit and days past due on the dates the balance files give",
          write="merge", cluster_by=("as_of_date",), suite=True),
    Table("silver", "transaction", ("silo", "txn_id"), None,
          "deposit and card transactions and loan repayments, signed amounts, categories",
          suite=True, newest_by=ARRIVED_ON),
    Table("silver", "digital_session", ("session_id",), None,
          "online banking sessions (app, web) with the page they were about", suite=True, newest_by=ARRIVED_ON),
    Table("silver", "digital_session_monthly", ("customer_id", "month", "channel", "aggregated_on"), None,
          "online sessions past their retention, as counts per customer, month and channel (sessions, page views, "
          "seconds); one row per retention run that aggregated them (`aggregated_on`): sum over it", suite=True),
    Table("silver", "consent_event", ("event_id",), None,
          "the consent ledger: every grant and withdrawal per purpose and channel", suite=True, newest_by=ARRIVED_ON),
    Table("silver", "consent", ("customer_id", "purpose", "channel"), None,
          "the current consent per customer, purpose and channel (the ledger's last word)", write="sync",
          suite=True),
    Table("silver", "offer_event", ("event_id",), None,
          "campaign events: offers held out, sent, opened, clicked, accepted, declined",
          suite=True, newest_by=ARRIVED_ON),
    Table("silver", "offer_interaction", ("offer_id",), None,
          "one row per offer: customer, product, channel, holdout, what the customer did and when", write="sync",
          suite=True),
    Table("silver", "offer_response", ("decision_id", "event_type"), None,
          "what customers did with our published offers, as the channels report it: impression, click, "
          "accepted, declined, product opened; joined to audit.decision_log by decision_id",
          suite=True, newest_by=ARRIVED_ON),
    Table("silver", "life_event", ("event_id",), None,
          "life events customers declared: type, the date it happened, when and where it was recorded",
          suite=True, newest_by=ARRIVED_ON),
    _daily("gold", "customer_360", ("as_of_date", "customer_id"), "as_of_date",
           "one row per customer as of a date: balances, income, spend, products, tenure, engagement", suite=True),
    _daily("gold", "training_set", ("as_of_date", "customer_id"), "as_of_date",
           "point-in-time features at month-end as-of dates, with eligibility and labels per target", suite=True),
    _daily("gold", "propensity_scores", ("as_of_date", "customer_id", "target"), "as_of_date",
           "probability per customer and product or life event from the champion model, with reason codes",
           suite=True),
    _daily("gold", "next_best_offer", ("as_of_date", "customer_id"), "as_of_date",
           "one ranked offer per customer with its score and reason", suite=True),
    _daily("gold", "kpi_daily", ("as_of_date", "kpi"), "as_of_date",
           "retention, wallet share, engagement, products per customer, offer funnel and revenue, for treated "
           "customers, the holdout and all, with uplift and its 95% confidence interval", suite=True),
    _daily("gold", "kpi_by_segment", ("as_of_date", "segment", "kpi"), "as_of_date",
           "the KPIs of gold.kpi_daily per segment (age band x income band)", suite=True),
    Table("gold", "offer_catalog", ("catalog_version", "offer_id"), None,
          "every version of the offer catalog (schemas/decisioning/catalog.json) the decisions used"),
    Table("gold", "decision_policy", ("policy_version", "rule_id"), None,
          "every version of the policy rules (schemas/decisioning/policy.json) the decisions used"),
    *[_daily("gold", f"offers_{channel}", ("as_of_date", "customer_id", "rank"), "as_of_date",
             f"what the {channel} channel presents: ranked offers with content, disclosure, price, reason, validity "
             "(contract: schemas/channels/offers.json)", suite=True)
      for channel in ("mobile", "email", "atm", "branch")],
    # MERGEd, not replaced: a run marks only the channels it published, and a re-run keeps an unchanged mark.
    Table("gold", "channel_publication", ("as_of_date", "channel"), "as_of_date",
          "one row per channel and published date, written by the run that published it: when, how many offers, the "
          "channel table's Delta version, catalog, policy and model versions, the export files and their checksum; "
          "a date without a row was never published", write="merge", cluster_by=("as_of_date",)),
    Table("gold", "triggered_offers", ("trigger_id", "event_id"), "day",
          "every trigger that fired on an event of the stream (schemas/decisioning/triggers.json): the customer, the "
          "channel, the offers its decision published (or none open) or the help contact, when the event happened "
          "and when it was published; drained from the triggers consumer's queue", write="append",
          cluster_by=("day",)),
    _daily("gold", "offer_learning", ("as_of_date", "level", "offer_id", "product", "channel", "context"),
           "as_of_date",
           "what the offers shown so far taught the decisions (jobs/decide/learn.py), learned each day before "
           "deciding: per cell (channel; product, product in a customer context and in a month, offer relative to "
           "its product; `*` a key the level does not use) the offers shown, accepted and expected by the models, "
           "and the shrunk factor arbitration multiplies the model's probability by; only when the policy learns "
           "(schemas/decisioning/policy.json)", suite=True),
    _daily("gold", "fairness_daily", ("as_of_date", "dimension", "group", "metric"), "as_of_date",
           "offer rates and approved prices per protected group, ratio to the best-treated group, flags", suite=True),
    _daily("audit", "decision_log", ("as_of_date", "decision_id"), "as_of_date",
           "every candidate decision (customer x offer x channel): outcome, the rules that excluded it, scores, "
           "price, model, catalog and policy versions, reasons, the propensity (probability the policy offered the "
           "row: exploration, jobs/decide/explore.py; over a slot's candidates they sum to 1); a published decision "
           "a forced re-run replaced stays, with `superseded_at` and `superseded_by`; the decision API's answers "
           "(ids `DA...`) are appended beside the daily run's (ids `DX...`), which a re-run of the date replaces; "
           "kept as long as the data", suite=True,
           replace_scope=BATCH_DECISIONS),
    Table("audit", "retention_run", ("run_date", "table"), "run_date",
          "what each date's retention run (schemas/governance/retention.json, jobs/retention/) removed per table and "
          "home folder: the action, the days kept, the cutoff, rows deleted and files removed", write="merge",
          cluster_by=("run_date",)),
    _daily("audit", "identity_review", ("as_of_date", "pair_id"), "as_of_date",
           "pairs of silo customer records the identity model is unsure of (schemas/identity/policy.json's grey "
           "zone), left apart for a reviewer: both records' silo ids and tokens, the match weight, probability "
           "and evidence; written by the silver step for its date (jobs/unify/review.py)"),
    Table("audit", "identity_decision", ("pair_id",), None,
          "reviewers' decisions on pairs of audit.identity_review (same person or not), honoured by every later "
          "silver run; kept by `marketofone identity-review --decisions FILE`", write="merge"),
    Table("audit", "key_rotation", ("rotation_id", "table"), None,
          "every rotation of the tokenization key (`marketofone rotate-key`, jobs/key_rotation.py), one row per table "
          "it rewrote: when, the fingerprints of the retired and the new key (never a key), the token columns, the "
          "rows rewritten, the tokens forgotten and the files vacuumed; a key named here as retired is refused",
          write="append"),
    # Erasure (jobs/privacy/erasure.py): the requests, what each took away, and the ids ingest keeps out.
    Table("audit", "erasure_request", ("erasure_id",), None,
          "every erasure request (`marketofone erase`): when, why, its status (queued, erased, unknown) and the date "
          "it was carried out; the customer or silo id that named the person is kept only while it is queued",
          write="merge"),
    Table("audit", "erasure_report", ("erasure_id", "kind", "object"), None,
          "what each erasure took away: per table, landing file, channel export, event file, data-quality report and "
          "online store the rows removed (or, in audit.decision_log, redacted), per table the files purged, and "
          "the models trained on the person, to be replaced at the next weekly run", write="merge"),
    Table("audit", "erasure_tombstone", ("kind", "silo", "id"), None,
          "the ids of the people erased (golden customer ids, silo customer ids, account ids), each with its "
          "erasure id: a later export that still carries one has those rows dropped at ingest, counted",
          write="append"),
    Table("audit", "dq_results", ("run_date", "table", "expectation", "column"), "run_date",
          "every Great Expectations result: table, expectation, success, unexpected count", write="merge",
          cluster_by=("run_date",)),
]

# Every table validated by write-audit-publish (jobs/publish.py) keeps its failing rows, with `_check` and
# `_reason`, in quarantine.<layer>_<name>, replaced per run date (bronze quarantines under its own names above).
_TABLES = _DECLARED + [
    _daily("quarantine", f"{t.layer}_{t.name}", (), "_run_date",
           f"{t.full_name} rows that failed a row-level expectation, with `_check` and `_reason`")
    for t in _DECLARED if t.suite and t.layer != "bronze"]

REGISTRY: dict[str, Table] = {t.full_name: t for t in _TABLES}

# (layer, name) of every table with a suite that write-audit-publish runs (not bronze: ingest runs its own).
VALIDATED = tuple((t.layer, t.name) for t in _DECLARED if t.suite and t.layer != "bronze")


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


# The tables that hold raw PII (jobs/access.py): bronze, and the quarantines of bronze and of the event stream,
# which keep refused rows as they came. Only the ingestion role reads or writes them.
RAW_PII = frozenset([n for n, t in REGISTRY.items() if t.layer == "bronze"]
                    + [quarantine_of(n) for n, t in REGISTRY.items() if t.layer == "bronze"]
                    + ["quarantine.stream_events"])
# Write-audit-publish's quarantines (quarantine.gold_customer_360) hold tokens, not raw PII: each lives in the
# storage of the layer it quarantines, so the role writing a table writes its quarantine with the same rights.
_PUBLISHED_QUARANTINE = {quarantine_of(f"{layer}.{name}"): layer for layer, name in VALIDATED}


def storage_layer(full_name: str) -> str:
    """The layer whose storage (Settings.storage_for) holds the table."""
    return _PUBLISHED_QUARANTINE.get(full_name) or table(full_name).layer


def _sql_literal(value) -> str:
    if isinstance(value, (dt.date, dt.datetime)):
        return f"DATE'{value.isoformat()[:10]}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(value)


def _retried(write):
    """A write that failed because another writer committed to the table first is done again, whole, on the new
    version (jobs/concurrency.py): each write below is idempotent for its logical date. A write that calls another
    (write() calls merge_upsert()) is retried once, at the outermost. It holds the lakehouse lock shared
    (jobs/lakehouse_lock.py): an erasure or a key rotation never purges a file it has written and not committed."""
    @functools.wraps(write)
    def retried(self: "Lakehouse", full_name: str, *args, **kwargs):
        if self._writing:
            return write(self, full_name, *args, **kwargs)
        self._writing = True
        try:
            with lakehouse_lock.shared(self.settings.home, f"a write to {full_name}"):
                return retry_on_conflict(full_name, lambda: write(self, full_name, *args, **kwargs))
        finally:
            self._writing = False
    return retried


def changes(target: DataFrame, source: DataFrame, on: tuple[str, ...], columns: tuple[str, ...]) -> DataFrame:
    """The rows of `source` (`on` and `columns`) that match a row of `target` on `on` whose `columns` differ
    (NULL equals NULL): what an update of `target` from `source` would change. Reads only those columns of
    `target`."""
    current = target.select(*on, *[F.col(c).alias(f"_current_{c}") for c in columns])
    differs = functools.reduce(lambda a, b: a | b, [~F.col(c).eqNullSafe(F.col(f"_current_{c}")) for c in columns])
    return (source.select(*on, *columns).join(current, list(on)).where(differs)
            .select(*on, *columns).distinct())


class Lakehouse:
    """Read and write registered tables on one Spark session."""

    def __init__(self, spark: SparkSession, settings: Settings):
        self.spark = spark
        self.settings = settings
        self._named: set[str] = set()  # tables this Lakehouse has named in the catalog
        self._writing = False          # inside a write (see _retried)

    # -- locations ---------------------------------------------------------------------------
    def path(self, full_name: str) -> str:
        """The table's location: `<storage>/<layer>/<name>`, a path or a URI (MARKETOFONE_STORAGE_URI, or the layer's
        own MARKETOFONE_STORAGE_URI_<LAYER>). Every read, write and maintenance finds the table here, so this is
        where a role is refused a table holding raw PII (jobs/access.py)."""
        t = table(full_name)
        access.check(self.settings.role, full_name, full_name in RAW_PII)
        return location(self.settings.storage_for(storage_layer(full_name)), t.layer, t.name)

    def may_access(self, full_name: str) -> bool:
        """Whether this process's role may read the table (listings skip the others)."""
        return full_name not in RAW_PII or access.may_touch_raw(self.settings.role)

    def exists(self, full_name: str) -> bool:
        """Whether the table has been written: the engine resolves the Delta table's schema (a few ms on the
        embedded Sail engine; no data is read). No local-file check, so it works for any storage URI. Without
        a Spark session (the CLI's listings), delta-rs answers (jobs/maintenance.py)."""
        if self.spark is None:
            from jobs import maintenance

            return maintenance.is_delta_table(self.path(full_name))
        return self._resolved(full_name) is not None

    def _resolved(self, full_name: str, version: int | None = None, quiet: bool = True) -> DataFrame | None:
        """The table loaded and its schema resolved by the engine (lazy on Spark Connect, so resolved here: a
        missing table fails here, not at a later use); None when the engine finds no such Delta table (or, with
        `version`, not that version), or with quiet=False the engine's error."""
        from pyspark.errors import AnalysisException

        reader = self.spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", version)
        try:
            df = reader.load(self.path(full_name))
            _ = df.schema
        except AnalysisException:
            if not quiet:
                raise
            return None
        return df

    # -- reads ---------------------------------------------------------------------------------
    def read(self, full_name: str, version: int | None = None) -> DataFrame:
        """The table as a DataFrame, resolved once by the engine (`_resolved`, as `exists` resolves it): the first
        use of its schema costs a JVM engine a Delta snapshot check, a Spark Connect engine a round trip, so a read
        does not resolve it twice (once to ask whether it exists, once to load it)."""
        df = self._resolved(full_name, version)
        if df is not None:
            return df
        if version is not None and self.exists(full_name):
            self._resolved(full_name, version, quiet=False)   # the table is there, not the version: the engine says so
        raise FileNotFoundError(
            f"table {full_name} has not been written yet (expected at {self.path(full_name)}); "
            "run the step that produces it first"
        )

    def read_known(self, full_name: str, day: dt.date) -> DataFrame:
        """A silver table's rows known on `day` (jobs/known.py): what a reader as of that day may use."""
        return known_by(self.read(full_name), day, self.first_load())

    def sql_name(self, full_name: str) -> str:
        """The table's name in Spark SQL: `gold.customer_360`, or `<catalog>.<prefix>gold.customer_360` with
        MARKETOFONE_CATALOG / MARKETOFONE_SCHEMA_PREFIX."""
        t = table(full_name)
        return self.settings.table_name(t.layer, t.name)

    def register_catalog(self) -> list[str]:
        """Expose every written table by its name (`sql_name`) to Spark SQL; returns the names."""
        names = []
        for full_name in sorted(REGISTRY):
            if self.may_access(full_name) and self.exists(full_name):
                # Session-local names are re-pointed (the session may hold a name for another home; dropping
                # an external table leaves its files alone); a configured catalog's names are only added.
                self._name_table(full_name, replace=not self.settings.registers_names)
                names.append(self.sql_name(full_name))
        return names

    def _name_table(self, full_name: str, replace: bool) -> None:
        name = self.sql_name(full_name)
        self.spark.sql(f"CREATE SCHEMA IF NOT EXISTS {name.rsplit('.', 1)[0]}")
        if replace:
            self.spark.sql(f"DROP TABLE IF EXISTS {name}")
        self.spark.sql(f"CREATE TABLE IF NOT EXISTS {name} USING delta LOCATION '{self.path(full_name)}'")
        self._named.add(full_name)

    def sql(self, query: str) -> DataFrame:
        self.register_catalog()
        return self.spark.sql(query)

    # -- writes (each idempotent for its logical date) -----------------------------------------
    @_retried
    def write(self, full_name: str, df: DataFrame, day: dt.date | None = None, count: bool = True,
              rows: int | None = None) -> int | None:
        """Write `df` the way the table is declared (`Table.write`), without validation: `day` is the logical
        date a replace_date table replaces. Returns the table's rows (of `day` for replace_date), read back
        after the write; with count=False, None (the caller knows its rows: the read-back is one more query).

        `rows`: how many rows `df` holds, where the caller has counted them (a validation). No rows to replace a
        date with, on a table that holds none of the date, is no write at all: most days most quarantines are
        empty, and on a JVM engine each empty replace still cost its queries (about 0.5 s)."""
        mode = table(full_name).write
        if mode == "replace_date":
            if day is None:
                raise ValueError(f"{full_name} replaces the rows of a logical date: give the date")
            if not (rows == 0 and self._lacks_date(full_name, day)):
                self.replace_for_date(full_name, df, day, count=False)
        elif mode in ("merge", "sync"):
            self.merge_upsert(full_name, df, delete_missing=mode == "sync", count=False)
        elif mode == "snapshot":
            self.merge_snapshot(full_name, df, count=False)
        elif mode == "append":
            self.append_new(full_name, df, count=False)
        else:
            self.overwrite(full_name, df, count=False)
        if not count:
            return None
        return self._count(full_name, day if mode == "replace_date" else None)

    @_retried
    def overwrite(self, full_name: str, df: DataFrame, count: bool = True) -> int | None:
        """Replace the whole table (for tables rebuilt from their inputs on every run)."""
        path = self.path(full_name)
        df.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(path)
        self._register(full_name)
        return self._count(full_name) if count else None

    def _create(self, full_name: str, df: DataFrame) -> None:
        """The table's first write, and its name in the catalog when the settings ask for one. It refuses a table
        that exists (mode "error"): a writer in another process that created it since this one looked must not
        be overwritten; the refusal is a commit conflict, and the write is done again as a write to a table
        that exists (_retried)."""
        df.write.format("delta").mode("error").save(self.path(full_name))
        self._register(full_name)

    def _register(self, full_name: str) -> None:
        """Name a just-created table in the engine's catalog (MARKETOFONE_CATALOG / MARKETOFONE_SCHEMA_PREFIX) as an
        external Delta table at its location, so analysts and channels find it in their metastore by name."""
        if self.settings.registers_names and full_name not in self._named:
            self._name_table(full_name, replace=False)

    @_retried
    def replace_for_date(self, full_name: str, df: DataFrame, logical_date: dt.date | str,
                         count: bool = True) -> int | None:
        """Replace exactly the rows of one logical date; other dates stay untouched.

        (Sail ignores dynamic partition overwrite and would replace the whole table, so this uses
        replaceWhere, which it honours.)"""
        t = table(full_name)
        if t.date_column is None:
            raise ValueError(f"{full_name} has no logical-date column; use overwrite or merge_upsert")
        path = self.path(full_name)
        if not self.exists(full_name):
            self._create(full_name, df)
        else:
            df = self._aligned(full_name, df)
            df.write.format("delta").mode("overwrite").option("replaceWhere", self._date_rows(t, logical_date)) \
                .save(path)
        return self._count(full_name, logical_date) if count else None

    @staticmethod
    def _date_rows(t: Table, logical_date: dt.date | str) -> str:
        """The rows a replace of the date replaces: the date's, within the table's replace_scope."""
        condition = f"{t.date_column} = {_sql_literal(logical_date)}"
        return f"{condition} AND ({t.replace_scope})" if t.replace_scope else condition

    def _lacks_date(self, full_name: str, logical_date: dt.date | str) -> bool:
        """Whether the table exists and has no row a replace of the date would replace (the engine skips the files
        whose statistics rule the date out). The table is resolved once, as `read` does."""
        current = self._resolved(full_name)
        return current is not None and current.where(self._date_rows(table(full_name), logical_date)).isEmpty()

    def _aligned(self, full_name: str, df: DataFrame) -> DataFrame:
        """`df` in the table's column order, the table first widened by df's new columns.

        Sail writes by position and drops columns the table does not have without a word, so a new
        feature would vanish and a reordered select would swap values. New columns are added to the table
        first (`_add_columns`; rows of earlier dates read them as NULL); a column the rows lack or a changed
        type is refused, naming the columns."""
        have = {f.name: f.dataType.simpleString() for f in self.read(full_name).schema.fields}
        given = {f.name: f.dataType.simpleString() for f in df.schema.fields}
        missing = [c for c in have if c not in given]
        if missing:
            raise ValueError(f"{full_name}: the rows to write lack column(s) {', '.join(missing)} that the table has")
        changed = [f"{c} ({have[c]} -> {given[c]})" for c in have if given[c] != have[c]]
        if changed:
            raise ValueError(f"{full_name}: column type(s) changed: {', '.join(changed)}; rebuild the table "
                             "(marketofone drops nothing by itself)")
        new = [f for f in df.schema.fields if f.name not in have]
        if new:
            self._add_columns(full_name, new)
        return df.select(*have, *(f.name for f in new))

    def _add_columns(self, full_name: str, fields: list) -> None:
        """Add `fields` to the table as nullable columns (earlier rows have no value for them), and check that
        the table has them after: a write must never lose a column quietly.

        `ALTER TABLE ... ADD COLUMNS` where the engine has it (JVM Spark + Delta, named tables in a metastore);
        Sail has no ALTER TABLE for it, so delta-rs adds them there (jobs/maintenance.py). Not an empty
        `mergeSchema` append: Sail's schema merge keeps the table's old schema, new columns dropped, as soon as
        the table has a NOT NULL column that the rows to write have as nullable."""
        from pyspark.errors import UnsupportedOperationException

        from jobs import maintenance

        names = ", ".join(f.name for f in fields)
        target = self.sql_name(full_name) if full_name in self._named else f"delta.`{self.path(full_name)}`"
        columns = ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in fields)
        try:
            self.spark.sql(f"ALTER TABLE {target} ADD COLUMNS ({columns})")
        except UnsupportedOperationException:  # Sail: "unsupported ALTER TABLE operation"
            maintenance.add_columns(self.path(full_name), [f.jsonValue() for f in fields])
        now = set(self.read(full_name).columns)
        lost = [f.name for f in fields if f.name not in now]
        if lost:
            raise RuntimeError(f"{full_name}: adding column(s) {', '.join(lost)} did not change the table's schema; "
                               "nothing was written")
        log.info("%s: added column(s) %s (earlier rows read them as NULL)", full_name, names)

    @_retried
    def merge_upsert(self, full_name: str, df: DataFrame, delete_missing: bool = False,
                     count: bool = True) -> int | None:
        """MERGE on the table's keys: update matches, insert new rows, optionally delete rows absent
        from the source. Re-running with the same source changes nothing.

        A table declared `newest_by` keeps a row's newer values: a source row whose values came earlier than the
        row's updates nothing. A row keeps the earliest `_known_on` any of its sources gave.

        Without deletes, into a large table (`_large`), the rows whose keys are new are appended and only the
        others MERGEd (`_by_presence`): a MERGE reads the whole table, even for a source of new rows only (a day's
        transactions: 6 s of a 15M-row table at 100,000 customers, against about 1 s to look their keys up)."""
        t = table(full_name)
        path = self.path(full_name)
        if not self.exists(full_name):
            self._create(full_name, df)
            return self._count(full_name) if count else None
        if not delete_missing and self._large(full_name):
            df = self._append_absent(full_name, df)
            if df is None:
                return self._count(full_name) if count else None
        # As every other write: a column the table lacks is added first (a table written before the column was
        # declared gets it; for `newest_by`, NULL counts as older than any date), a missing or retyped one refused.
        df = self._aligned(full_name, df)
        view = f"_merge_src_{t.layer}_{t.name}"
        df.createOrReplaceTempView(view)
        on = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in t.keys)
        cols = df.columns
        # A row keeps the first date it was known on (as merge_snapshot does): a row sent again on a later date,
        # changed or not, was known since the first, and a replay of that date must still see it.
        known = KNOWN_ON in cols and KNOWN_ON not in t.keys
        updates, changed, earlier = _update_clauses(cols, t.keys, known)
        if t.newest_by:   # and never with values older than the row's
            v = t.newest_by
            changed = f"(s.`{v}` IS NULL OR t.`{v}` IS NULL OR s.`{v}` >= t.`{v}`) AND ({changed})"
        statement = (
            f"MERGE INTO delta.`{path}` AS t USING {view} AS s ON {on} "
            f"WHEN MATCHED AND ({changed}) THEN UPDATE SET {updates} {earlier}"
            f"WHEN NOT MATCHED THEN INSERT ({', '.join(f'`{c}`' for c in cols)}) "
            f"VALUES ({', '.join(f's.`{c}`' for c in cols)})"
        )
        if delete_missing:
            statement += " WHEN NOT MATCHED BY SOURCE THEN DELETE"
        self.spark.sql(statement)
        self.spark.catalog.dropTempView(view)
        return self._count(full_name) if count else None

    def _by_presence(self, full_name: str, df: DataFrame) -> tuple[DataFrame, DataFrame]:
        """`df` -> (its rows whose keys the table has, its rows whose keys it lacks), keys compared NULL-safe as
        in a MERGE. The table's key columns are read once; `df` is stored first, so its plan runs once."""
        t = table(full_name)
        keys = list(t.keys)
        staged = self.scratch(df, f"upsert_{t.layer}_{t.name}")

        def same_keys(left: DataFrame, right: DataFrame) -> Column:
            return functools.reduce(lambda a, b: a & b, [left[k].eqNullSafe(right[k]) for k in keys])

        target, source = self.read(full_name).select(*keys), staged.select(*keys)
        # The table's keys the rows have: at most as many as the rows, so what the two splits below read is small.
        present_keys = self.scratch(target.join(source, same_keys(target, source), "left_semi").distinct(),
                                    f"upsert_keys_{t.layer}_{t.name}")
        has_key = same_keys(staged, present_keys)
        return staged.join(present_keys, has_key, "left_semi"), staged.join(present_keys, has_key, "left_anti")

    def _append_absent(self, full_name: str, df: DataFrame) -> DataFrame | None:
        """Append the rows of `df` whose keys the table lacks (a plain append: no MERGE reads the table); the
        others, to be MERGEd, or None when there are none."""
        present, absent = self._by_presence(full_name, df)
        if not absent.isEmpty():
            self._aligned(full_name, absent).write.format("delta").mode("append").save(self.path(full_name))
        return None if present.isEmpty() else present

    @_retried
    def merge_snapshot(self, full_name: str, df: DataFrame, count: bool = True) -> int | None:
        """MERGE one snapshot of a master (a customer master, an account list) on the table's keys, so that
        snapshots of any dates, run in any order and any number of times, leave the same table: the values
        of the newest snapshot win (`_snapshot_date`), `_known_on` keeps the earliest date the row was known,
        and a row missing from this snapshot stays (an older snapshot says nothing about a newer one)."""
        t = table(full_name)
        path = self.path(full_name)
        if not self.exists(full_name):
            self._create(full_name, df)
            return self._count(full_name) if count else None
        df = self._aligned(full_name, df)
        view = f"_snapshot_src_{t.layer}_{t.name}"
        df.createOrReplaceTempView(view)
        on = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in t.keys)
        sets, changed, earlier = _update_clauses(df.columns, t.keys, known=True)
        self.spark.sql(
            f"MERGE INTO delta.`{path}` AS t USING {view} AS s ON {on} "
            f"WHEN MATCHED AND s.`{SNAPSHOT_DATE}` >= t.`{SNAPSHOT_DATE}` AND ({changed}) THEN UPDATE SET {sets} "
            f"{earlier}"
            f"WHEN NOT MATCHED THEN INSERT ({', '.join(f'`{c}`' for c in df.columns)}) "
            f"VALUES ({', '.join(f's.`{c}`' for c in df.columns)})")
        self.spark.catalog.dropTempView(view)
        return self._count(full_name) if count else None

    @_retried
    def append_new(self, full_name: str, df: DataFrame, count: bool = True) -> int | None:
        """An idempotent append: insert the rows whose keys the table lacks, so a retry adds nothing; rows
        already there are left as they are. Into a large table (`_large`), a plain append of those rows, not a
        MERGE that only inserts: the MERGE reads the whole table (`_by_presence` reads its key columns)."""
        if not self.exists(full_name):
            self._create(full_name, df)
            return self._count(full_name) if count else None
        if self._large(full_name):
            self._append_absent(full_name, df)
        else:
            self._insert_absent(full_name, df)
        return self._count(full_name) if count else None

    def _insert_absent(self, full_name: str, df: DataFrame) -> None:
        """A MERGE that only inserts the rows whose keys the table lacks (one query: for a small table)."""
        t = table(full_name)
        df = self._aligned(full_name, df)
        view = f"_append_src_{t.layer}_{t.name}"
        df.createOrReplaceTempView(view)
        on = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in t.keys)
        self.spark.sql(f"MERGE INTO delta.`{self.path(full_name)}` AS t USING {view} AS s ON {on} "
                       f"WHEN NOT MATCHED THEN INSERT ({', '.join(f'`{c}`' for c in df.columns)}) "
                       f"VALUES ({', '.join(f's.`{c}`' for c in df.columns)})")
        self.spark.catalog.dropTempView(view)

    def _large(self, full_name: str) -> bool:
        """Whether the table, which exists (each caller has just checked), holds `large_table_bytes` or more
        (Settings): a MERGE into it reads all of it."""
        from jobs import maintenance

        return maintenance.size_bytes(self.path(full_name)) >= self.settings.large_table_bytes

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
        from jobs import maintenance

        found = maintenance.column_bound(self.path(full_name), column, which)
        if found is not None:
            return found
        agg = F.min(column) if which == "min" else F.max(column)
        return self.read(full_name).agg(agg).collect()[0][0]

    @_retried
    def update_matching(self, full_name: str, source: DataFrame, on: tuple[str, ...], columns: tuple[str, ...]) -> None:
        """Set `columns` of every row of the table that matches a source row on `on` (not the table's
        key: one source row may match many), where they differ. Used to re-attach rows to a customer whose
        identity changed (the crosswalk moved a silo id), and to settle the quarantine records of rows that
        waited for a parent.

        For a large table (`_large`) the source is first cut to the rows that change something (`changes`, which
        reads only the columns it compares): a MERGE reads the whole table whatever its source (5.5 s for an empty
        source into the 15M rows of silver.transaction at 100,000 customers). Fed every account, the daily
        re-attachment of silver.transaction took 34 s there; on a day nothing moves it now takes about 1 s and runs
        no MERGE, and on a day accounts move, the MERGE joins the table with those accounts only."""
        if not self.exists(full_name):
            return
        t = table(full_name)
        moved = source
        if self._large(full_name):
            moved = self.scratch(changes(self.read(full_name), source, on, columns), f"changes_{t.layer}_{t.name}")
        # No source row, no change: but the MERGE would still run (4 queries, about 0.6 s on a JVM engine).
        if moved.isEmpty():
            return
        differs = " OR ".join(f"NOT (t.`{c}` <=> s.`{c}`)" for c in columns)
        sets = ", ".join(f"t.`{c}` = s.`{c}`" for c in columns)
        self._merge_on(full_name, moved, on, f"WHEN MATCHED AND ({differs}) THEN UPDATE SET {sets}")

    @_retried
    def delete_matching(self, full_name: str, source: DataFrame, on: tuple[str, ...]) -> None:
        """Delete the rows of the table that a source row matches on `on` (no MERGE for an empty source: it would
        still read the table, the whole of a large one, and cost a JVM engine 4 queries)."""
        if source.isEmpty():
            return
        self._merge_on(full_name, source, on, "WHEN MATCHED THEN DELETE")

    @_retried
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

    def scratch_path(self, name: str) -> Path:
        """A scratch folder of this process for `name` (see _scratch_dir)."""
        return _scratch_dir(self.settings.home) / name

    def scratch(self, df: DataFrame, name: str) -> DataFrame:
        """Write an intermediate result to the home's scratch area and read it back: cuts a long
        lineage (iterative algorithms) on every engine, where checkpointing is not always available."""
        path = self.scratch_path(name)
        df.write.mode("overwrite").parquet(str(path))
        # The schema is given, not inferred: an empty frame leaves no file to infer it from (Sail
        # writes none), and validation must still see the columns of an empty input.
        return self.spark.read.schema(df.schema).parquet(str(path))

    # -- maintenance: delta-rs, in jobs/maintenance.py ------------------------------------------
    def delta_table(self, full_name: str, version: int | None = None):
        """The delta-rs table (its log: protocol, metadata, files; to read its rows, `rows`)."""
        from jobs import maintenance

        return maintenance.delta_table(self.path(full_name), version)

    def rows(self, full_name: str, version: int | None = None, columns: list[str] | None = None,
             filters: list[tuple] = ()):
        """The table's rows as an Arrow table, for readers without a Spark session (the CLI, a channel's pull):
        `columns` of the rows where each `(column, "=", value)` of `filters` holds (maintenance.read_rows)."""
        from jobs import maintenance

        return maintenance.read_rows(self.path(full_name), version, columns, filters)

    def history(self, full_name: str, limit: int | None = None) -> list[dict]:
        from jobs import maintenance

        return maintenance.history(self.path(full_name), limit)

    def version(self, full_name: str) -> int:
        from jobs import maintenance

        return maintenance.version(self.path(full_name))

    def optimize(self, full_name: str) -> dict:
        from jobs import maintenance

        return maintenance.compact(self.path(full_name))

    def vacuum(self, full_name: str, retention_hours: int = 168, dry_run: bool = True) -> list[str]:
        from jobs import maintenance

        return maintenance.vacuum(self.path(full_name), retention_hours, dry_run)

    def describe(self) -> list[dict]:
        """Every registered table that exists, with its Delta version and row count."""
        from jobs import maintenance

        rows = []
        for full_name in sorted(REGISTRY):
            if self.may_access(full_name) and self.exists(full_name):
                path = self.path(full_name)
                rows.append({"table": full_name, "version": maintenance.version(path),
                             "rows": maintenance.count_rows(path), "path": path})
        return rows


_scratch: dict[Path, Path] = {}


def _update_clauses(columns, keys, known: bool) -> tuple[str, str, str]:
    """A MERGE's (SET list, condition that a matched row changed, further WHEN MATCHED clause) for source
    `columns`. Only rows whose values changed are rewritten, so a re-run writes no new row versions. With
    `known`, the row keeps the earliest `_known_on` of itself and the source, and an earlier source moves it back
    even where its values do not replace the row's."""
    values = [c for c in columns if c not in keys and c != KNOWN_ON]
    sets = [f"t.`{c}` = s.`{c}`" for c in values]
    changed = [f"NOT (t.`{c}` <=> s.`{c}`)" for c in values]
    earlier = ""
    if known:
        earliest = f"least(t.`{KNOWN_ON}`, s.`{KNOWN_ON}`)"
        sets.append(f"t.`{KNOWN_ON}` = {earliest}")
        changed.append(f"NOT (t.`{KNOWN_ON}` <=> {earliest})")
        earlier = f"WHEN MATCHED AND s.`{KNOWN_ON}` < t.`{KNOWN_ON}` THEN UPDATE SET t.`{KNOWN_ON}` = s.`{KNOWN_ON}` "
    return ", ".join(sets), " OR ".join(changed) or "false", earlier


def _scratch_dir(home: Path) -> Path:
    """This process's scratch folder: `<home>/scratch/<host>-<pid>/`. Tasks running at once (parallel ingests, two
    dates) stage tables of the same name; a folder per process keeps one from overwriting what another is
    reading. Made at first use, when the folders of this host's processes that have ended are removed; removed
    at exit."""
    if home in _scratch:
        return _scratch[home]
    import atexit

    host = socket.gethostname()
    root = home / "scratch"
    remove_stale_scratch(home)
    mine = root / f"{host}-{os.getpid()}"
    mine.mkdir(parents=True, exist_ok=True)
    atexit.register(shutil.rmtree, mine, True)
    _scratch[home] = mine
    return mine


def live_scratch(folder: Path) -> bool:
    """Whether a scratch folder belongs to a process of this host that is still running (or to another host)."""
    host = socket.gethostname()
    return not folder.name.startswith(f"{host}-") or _alive(folder.name.rsplit("-", 1)[1])


def remove_stale_scratch(home: Path) -> None:
    """Remove the scratch folders of this host's processes that have ended (a killed one leaves its folder)."""
    root = home / "scratch"
    if root.is_dir():
        for folder in root.iterdir():
            if folder.is_dir() and not live_scratch(folder):
                shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (ValueError, PermissionError):
        return True  # not a pid of ours to judge, or alive under another user
    return True
