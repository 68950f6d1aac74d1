"""Erasure requests (GDPR Art. 17): queued by `marketofone erase`, carried out by the `erasure` DAG.

A run takes every queued request (audit.erasure_request) and, for all of them at once:

1. finds each person's ids (jobs/privacy/subjects.py) and writes them to audit.erasure_tombstone first, so an
   export loaded from now on drops their rows at ingest (jobs/privacy/tombstones.py);
2. deletes the people's rows from every lakehouse table that names a person (jobs/privacy/locate.py), except the
   decision log, where each decision stays with the customer id replaced by the request's erasure id (a bank
   must still show what it decided); the channel tables, scores, training sets and quarantines included;
3. rewrites the files beside the tables without them: landing exports (bronze's `_source_checksum` follows the
   new file, so a re-run of the date does not take it for a re-delivery), channel exports (with
   gold.channel_publication's checksum), event and write-ahead files, data-quality reports, the online store;
4. purges every table it changed, and every table whose older versions still hold one of the people: VACUUM
   without a retention and a log cleanup (jobs/maintenance.purge_history), so no time travel reads them again;
   a table with deletion vectors has the files that carry them rewritten first (the DELETE only marked the rows);
5. lists the models whose training set held one of the people, for the next weekly run to replace;
6. reports per request and per table, landing file, export, store and model what went (audit.erasure_report),
   and closes the request: status `erased`, the reference that named the person cleared.

Every step is idempotent: a run killed part way is run again and finishes the same requests.
Nothing the size of the customer base reaches the driver: only the requests' few ids and per-table counts.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import functions as F

from jobs import lakehouse_lock, maintenance
from jobs.engine import engine_message
from jobs.privacy import files
from jobs.privacy.locate import person_condition
from jobs.privacy.subjects import Identifiers, Subject, identify, identify_all, parse_reference
from jobs.serve.decision_wal import wal_dir
from jobs.serve.store import online_dir
from jobs.tables import REGISTRY, Lakehouse, remove_stale_scratch

log = logging.getLogger(__name__)

REQUESTS = "audit.erasure_request"
REPORT = "audit.erasure_report"
TOMBSTONES = "audit.erasure_tombstone"
DECISION_LOG = "audit.decision_log"
PUBLICATIONS = "gold.channel_publication"
TRAINING_SET = "gold.training_set"
# Kept by design: the requests (their reference cleared once done), what went, and the ids ingest must keep out.
ERASURE_TABLES = (REQUESTS, REPORT, TOMBSTONES)

REQUEST_SCHEMA = ("erasure_id string, requested_at timestamp, reason string, reference string, status string, "
                  "completed_on date, message string")
REPORT_SCHEMA = ("erasure_id string, object string, kind string, rows_removed long, rows_redacted long, "
                 "files_purged long, note string")
TOMBSTONE_SCHEMA = "kind string, silo string, id string, erasure_id string, erased_on date"


def new_erasure_id(now: dt.datetime) -> str:
    return f"ER{now:%Y%m%d}-{secrets.token_hex(4).upper()}"


def queue(lh: Lakehouse, reference: str, reason: str = "", now: dt.datetime | None = None, check: bool = True) -> str:
    """Queue a request; its erasure id. The reference is checked at once (`check`: a silo id the lakehouse does
    not know is an error now, not at the run)."""
    parse_reference(reference)
    now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    erasure_id = new_erasure_id(now)
    if check:
        identify(lh, erasure_id, reference)   # raises UnknownSubject, naming what is wrong
    row = [(erasure_id, now, reason or "", reference.strip(), "queued", None, "")]
    lh.write(REQUESTS, lh.spark.createDataFrame(row, REQUEST_SCHEMA))
    return erasure_id


def queued(lh: Lakehouse) -> list:
    if not lh.exists(REQUESTS):
        return []
    return lh.read(REQUESTS).where(F.col("status") == "queued").orderBy("requested_at").collect()


@dataclass
class Outcome:
    """What one run did: per request, its report rows; the tables and files purged."""
    erased: list[str] = field(default_factory=list)
    unknown: dict[str, str] = field(default_factory=dict)
    report: list[tuple] = field(default_factory=list)

    def rows(self, kind: str) -> int:
        return sum(r[3] + r[4] for r in self.report if r[2] == kind)


def run(lh: Lakehouse, day: dt.date) -> Outcome:
    """Carry out every queued request (see the module's doc), with no other writer beside it: the purge deletes
    every file the tables' current versions do not read (jobs/lakehouse_lock.py)."""
    with lakehouse_lock.exclusive(lh.settings.home, f"the erasure of {day}"):
        return _run(lh, day)


def _run(lh: Lakehouse, day: dt.date) -> Outcome:
    outcome = Outcome()
    requests = queued(lh)
    # A run that stopped part way (the task is retried) finds its people by the tombstones it wrote first: the
    # rows that named them may be deleted already.
    begun = _tombstoned(lh, [r.erasure_id for r in requests])
    # A request naming no one (e.g. a person an earlier request erased already) is closed as `unknown`, saying why.
    subjects, outcome.unknown = identify_all(lh, {r.erasure_id: r.reference for r in requests
                                                  if r.erasure_id not in begun})
    subjects += [Subject(r.erasure_id, r.reference, begun[r.erasure_id]) for r in requests if r.erasure_id in begun]
    if subjects:
        _tombstone(lh, subjects, day)
        models = _models_trained_on(lh, subjects)
        changed = _erase_tables(lh, subjects, outcome)
        changed |= _erase_files(lh, subjects, outcome)
        _purge(lh, changed, subjects, outcome, resumed=bool(begun))
        _report_models(models, subjects, outcome)
        outcome.erased = [s.erasure_id for s in subjects]
    _close(lh, outcome, day)
    return outcome


# -- 1. tombstones ----------------------------------------------------------------------------------
def _tombstone(lh: Lakehouse, subjects: list[Subject], day: dt.date) -> None:
    rows = [row for s in subjects for row in s.ids.tombstones(s.erasure_id, day)]
    lh.write(TOMBSTONES, lh.spark.createDataFrame(rows, TOMBSTONE_SCHEMA))


def _tombstoned(lh: Lakehouse, erasure_ids: list[str]) -> dict[str, Identifiers]:
    """The ids of requests whose tombstones are written already (a run that stopped part way)."""
    if not erasure_ids or not lh.exists(TOMBSTONES):
        return {}
    found: dict[str, dict[str, set]] = {}
    for r in lh.read(TOMBSTONES).where(F.col("erasure_id").isin(*erasure_ids)).collect():
        kinds = found.setdefault(r.erasure_id, {"golden": set(), "customer": set(), "account": set()})
        kinds[r.kind].add(r.id if r.kind == "golden" else (r.silo, r.id))
    return {e: Identifiers(frozenset(k["golden"]), frozenset(k["customer"]), frozenset(k["account"]))
            for e, k in found.items()}


# -- 2. tables ----------------------------------------------------------------------------------------
def _any(conditions: dict[str, str]) -> str:
    """The rows of any of the requests."""
    return " OR ".join(f"({c})" for c in conditions.values())


def _per_request(conditions: dict[str, str]) -> str:
    """The erasure id of the request a row belongs to (the first whose condition it meets), as SQL."""
    whens = " ".join(f"WHEN {c} THEN '{erasure_id}'" for erasure_id, c in conditions.items())
    return f"CASE {whens} END"


def _conditions(full_name: str, columns: list[str], subjects: list[Subject]) -> dict[str, str]:
    found = {s.erasure_id: person_condition(full_name, columns, s.ids) for s in subjects}
    return {erasure_id: c for erasure_id, c in found.items() if c}


def _erase_tables(lh: Lakehouse, subjects: list[Subject], outcome: Outcome) -> set[str]:
    """Delete (or, in the decision log, redact) the people's rows in every table; the tables changed."""
    changed: set[str] = set()
    for full_name in sorted(REGISTRY):
        if full_name in ERASURE_TABLES or not lh.exists(full_name):
            continue
        df = lh.read(full_name)
        conditions = _conditions(full_name, df.columns, subjects)
        if not conditions:
            continue
        counts = {r[0]: r[1] for r in df.where(_any(conditions))
                  .groupBy(F.expr(_per_request(conditions)).alias("e")).count().collect()}
        if not counts:
            continue
        location = lh.path(full_name)
        if full_name == DECISION_LOG:
            lh.spark.sql(f"UPDATE delta.`{location}` SET customer_id = {_per_request(conditions)} "
                         f"WHERE {_any(conditions)}")
        else:
            lh.spark.sql(f"DELETE FROM delta.`{location}` WHERE {_any(conditions)}")
        for erasure_id, n in counts.items():
            removed, redacted = (0, n) if full_name == DECISION_LOG else (n, 0)
            outcome.report.append((erasure_id, full_name, "table", removed, redacted, 0, ""))
        changed.add(full_name)
        log.info("erasure: %s: %d rows %s", full_name, sum(counts.values()),
                 "redacted" if full_name == DECISION_LOG else "deleted")
    return changed


# -- 3. files -------------------------------------------------------------------------------------------
def _erase_files(lh: Lakehouse, subjects: list[Subject], outcome: Outcome) -> set[str]:
    """The landing exports, channel exports, event files, reports and stores, in one pass over each for all the
    requests; the tables whose bookkeeping of a rewritten file changed (bronze's checksums, the channels'
    publication rows)."""
    home = lh.settings.home
    everyone = Identifiers()
    owner: dict[str, str] = {}
    for s in subjects:
        everyone |= s.ids
        owner.update({value: s.erasure_id for value in s.ids.values()})

    def report(kind: str, changed: dict) -> None:
        for path, removed in changed.items():
            per_request = Counter()
            for value, n in removed.items():
                per_request[owner.get(value, subjects[0].erasure_id)] += n
            for erasure_id, n in sorted(per_request.items()):
                outcome.report.append((erasure_id, _relative(path, home), kind, n, 0, 0, ""))

    changed: set[str] = set()
    rewritten = files.rewrite_landing(lh.settings.landing, everyone)
    for r in rewritten:
        changed |= _follow_landing_checksum(lh, r.path, r.before, r.after)
        r.put_in_place()
    report("landing_file", {r.path: r.removed for r in rewritten})
    exports = files.rewrite_channel_exports(home / "exports", everyone)
    report("channel_export", exports)
    if any(p.suffix == ".csv" for p in exports):
        changed |= _follow_export_checksums(lh, [p for p in exports if p.suffix == ".csv"])
    event_files = sorted((home / "stream" / "events").glob("*/part-*.jsonl")) + sorted(wal_dir(home).glob("*.jsonl"))
    report("event_file", files.rewrite_json_lines(event_files, everyone))
    report("dq_report", files.rewrite_dq_reports(lh.settings.dq_dir, everyone))
    report("online_store", files.scrub_sqlite(online_dir(home), everyone))
    remove_stale_scratch(home)   # working copies a killed process left behind
    if lh.settings.online_store:
        from jobs.serve.redis_store import forget

        report("online_store", {"redis": forget(lh.settings.online_store, everyone)})
    return changed


def _relative(path, home) -> str:
    try:
        return str(Path(path).relative_to(home))
    except ValueError:
        return str(path)


def _follow_landing_checksum(lh: Lakehouse, path, before: str, after: str) -> set[str]:
    """The rows a rewritten export loaded now come from the new file: their `_source_checksum` follows it."""
    silo, entity = path.parent.parent.name, path.parent.name
    source = str(path.relative_to(lh.settings.landing))
    changed = set()
    for full_name in (f"bronze.{silo}_{entity}", f"quarantine.{silo}_{entity}"):
        if full_name in REGISTRY and lh.exists(full_name):
            lh.spark.sql(f"UPDATE delta.`{lh.path(full_name)}` SET _source_checksum = '{after}' "
                         f"WHERE _source_file = '{source}' AND _source_checksum = '{before}'")
            changed.add(full_name)
    return changed


def _follow_export_checksums(lh: Lakehouse, csv_files) -> set[str]:
    if not lh.exists(PUBLICATIONS):
        return set()
    for path in csv_files:
        lh.spark.sql(f"UPDATE delta.`{lh.path(PUBLICATIONS)}` SET content_sha256 = '{files.sha256(path)}' "
                     f"WHERE export_csv = '{path}'")
    return {PUBLICATIONS}


# -- 4. purge -------------------------------------------------------------------------------------------
def _old_versions_hold(lh: Lakehouse, full_name: str, subjects: list[Subject], resumed: bool) -> bool:
    """Whether a file the current version no longer reads, still on storage, holds one of the people. A resumed
    run knows its people by their ids only (their raw identifiers are not kept): any such file is purged."""
    location = lh.path(full_name)
    # delta-rs names them relative to the table (a path Sail would read as nothing, not as an error).
    stale = [f"{location.rstrip('/')}/{name}" for name in
             maintenance.vacuum(location, retention_hours=0, dry_run=True)]
    if not stale or resumed:
        return bool(stale)
    try:
        df = lh.spark.read.option("mergeSchema", "true").parquet(*stale)
        conditions = _conditions(full_name, df.columns, subjects)
        return bool(conditions) and bool(df.where(_any(conditions)).limit(1).count())
    except Exception:   # files that no longer read alike: purge rather than guess
        log.warning("erasure: could not read the older files of %s; purging them", full_name, exc_info=True)
        return True


def _without_deletion_vectors(lh: Lakehouse, full_name: str) -> None:
    """Rewrite the table's files that carry deletion vectors, so that the rows the DELETE and UPDATE above took out
    are in no data file any more (jobs/maintenance.files_with_deletion_vectors: with vectors on, those statements
    only mark rows deleted, and a purge would leave the rows and delete the marks). REORG TABLE ... APPLY (PURGE)
    rewrites those files alone (JVM Spark with Delta, Databricks); an engine without it (the embedded Sail) writes
    the table's rows again, whole."""
    location = lh.path(full_name)
    if not maintenance.files_with_deletion_vectors(location):
        return
    try:
        lh.spark.sql(f"REORG TABLE delta.`{location}` APPLY (PURGE)")
    except Exception as exc:   # the statement unknown to the engine: any failure is caught by the check below
        log.warning("erasure: %s: files with deletion vectors and no REORG on this engine (%s): writing the whole "
                    "table again", full_name, engine_message(exc, 200))
        lh.overwrite(full_name, lh.scratch(lh.read(full_name), f"erasure_{full_name.replace('.', '_')}"),
                     count=False)
    left = maintenance.files_with_deletion_vectors(location)
    if left:
        raise maintenance.DeletionVectorsError(
            f"{full_name}: {left} file(s) still carry deletion vectors after the rewrite; nothing purged")


def _purge(lh: Lakehouse, changed: set[str], subjects: list[Subject], outcome: Outcome, resumed: bool) -> None:
    candidates = set(changed)
    for full_name in sorted(REGISTRY):
        if full_name not in changed and full_name not in ERASURE_TABLES and lh.exists(full_name) \
                and _conditions(full_name, lh.read(full_name).columns, subjects) \
                and _old_versions_hold(lh, full_name, subjects, resumed):
            candidates.add(full_name)
    for full_name in sorted(candidates):
        _without_deletion_vectors(lh, full_name)
        purged = maintenance.purge_history(lh.path(full_name))
        note = "" if full_name in changed else "older versions only"
        for s in subjects:
            outcome.report.append((s.erasure_id, full_name, "purge", 0, 0, purged, note))
        log.info("erasure: %s: %d files purged%s", full_name, purged, f" ({note})" if note else "")


# -- 5. models ------------------------------------------------------------------------------------------
def _models_trained_on(lh: Lakehouse, subjects: list[Subject]) -> dict[str, list[str]]:
    """Per request, the champions whose training set held the person (before their rows go)."""
    if not lh.exists(TRAINING_SET):
        return {}
    df = lh.read(TRAINING_SET)
    conditions = _conditions(TRAINING_SET, df.columns, subjects)
    if not conditions:
        return {}
    held = {r[0] for r in df.where(_any(conditions)).select(F.expr(_per_request(conditions))).distinct().collect()}
    if not held:
        return {}
    champions = _champions(lh)
    return {erasure_id: champions for erasure_id in held}


def _champions(lh: Lakehouse) -> list[str]:
    from jobs.gold.targets import TARGETS
    from jobs.models import registry

    client = registry.client(lh.settings)
    found = []
    for name in sorted(TARGETS):
        try:
            version = registry.alias_version(client, name, registry.CHAMPION)
        except Exception:   # no such model registered yet
            version = None
        if version:
            found.append(f"{name} v{version}")
    return found


def _report_models(models: dict[str, list[str]], subjects: list[Subject], outcome: Outcome) -> None:
    for s in subjects:
        for model in models.get(s.erasure_id, []):
            outcome.report.append((s.erasure_id, model, "model", 0, 0, 0,
                                   "trained on the person: replaced at the next weekly run"))


# -- 6. report and close --------------------------------------------------------------------------------
def _close(lh: Lakehouse, outcome: Outcome, day: dt.date) -> None:
    if outcome.report:
        lh.write(REPORT, lh.spark.createDataFrame(outcome.report, REPORT_SCHEMA))
    closing = [(e, "erased", "") for e in outcome.erased] + [(e, "unknown", m) for e, m in outcome.unknown.items()]
    if not closing:
        return
    updates = lh.spark.createDataFrame(
        [(e, status, day, message) for e, status, message in closing],
        "erasure_id string, status string, completed_on date, message string")
    requests = lh.read(REQUESTS).join(updates.select("erasure_id"), "erasure_id")
    closed = (requests.drop("status", "completed_on", "message").join(updates, "erasure_id")
              .withColumn("reference", F.lit(None).cast("string"))
              .select(*[c.split()[0] for c in REQUEST_SCHEMA.split(", ")]))
    lh.write(REQUESTS, closed)
    _without_deletion_vectors(lh, REQUESTS)
    maintenance.purge_history(lh.path(REQUESTS))   # older versions keep the references


def report(lh: Lakehouse, erasure_id: str | None = None) -> list:
    """The report rows of one request (or all), for `marketofone erase --status`."""
    if not lh.exists(REPORT):
        return []
    df = lh.read(REPORT)
    if erasure_id:
        df = df.where(F.col("erasure_id") == erasure_id)
    return df.orderBy("erasure_id", "kind", "object").collect()


__all__ = ["queue", "queued", "run", "report", "Outcome", "REQUESTS", "REPORT", "TOMBSTONES"]
