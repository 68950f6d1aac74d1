"""Every answer of the decision API, written ahead to a local file, then drained into audit.decision_log.

An answer is one JSON line in `<home>/online/decisions/<day>.jsonl`, written with one `write` to a file opened
for appending before the answer leaves: a crash of the server (even SIGKILL) loses no answer it gave; a thread
syncs the file to disk every `SYNC_SECONDS` (a power loss can lose that much). `drain(lh)` reads each file from
where the last drain stopped up to its last whole line, validates the decision rows with the decision log's
suite and appends them to audit.decision_log (a MERGE that inserts only ids the log lacks, so a drain that dies
half-way and runs again adds nothing twice), then records how far it read. A row that fails the suite stops the
drain with the reason, and stays in the file.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
from pathlib import Path

from jobs.serve.store import online_dir

log = logging.getLogger(__name__)

SYNC_SECONDS = 0.2
API_PREFIX = "DA"   # the decision API's own decision ids (the daily run's start with DX)


def wal_dir(home: Path) -> Path:
    return online_dir(home) / "decisions"


class DecisionWal:
    """Appends answers to the day's file; one instance per server process."""

    def __init__(self, home: Path):
        self.folder = wal_dir(home)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._files: dict[str, int] = {}
        self._dirty: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._syncer = threading.Thread(target=self._sync_loop, name="decision-wal-sync", daemon=True)
        self._syncer.start()

    def _fd(self, day: str) -> int:
        fd = self._files.get(day)
        if fd is None:
            fd = os.open(self.folder / f"{day}.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            self._files[day] = fd
        return fd

    def append(self, record: dict) -> None:
        """One answer, as one line (one write: lines of concurrent answers never interleave)."""
        line = (json.dumps(record, separators=(",", ":"), default=str) + "\n").encode()
        with self._lock:
            fd = self._fd(record["as_of_date"])
            os.write(fd, line)
            self._dirty.add(fd)

    def _sync_loop(self) -> None:
        while not self._stop.wait(SYNC_SECONDS):
            self.sync()

    def sync(self) -> None:
        with self._lock:
            dirty, self._dirty = self._dirty, set()
        for fd in dirty:
            os.fsync(fd)

    def close(self) -> None:
        self._stop.set()
        self.sync()
        with self._lock:
            for fd in self._files.values():
                os.close(fd)
            self._files.clear()


def read_records(path: Path, start: int = 0) -> tuple[list[dict], int]:
    """The whole lines of `path` from byte `start` on, parsed, and the offset after the last of them (a line
    being written, without its newline yet, is left for the next read)."""
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read()
    end = data.rfind(b"\n") + 1
    records = [json.loads(line) for line in data[:end].splitlines() if line.strip()]
    return records, start + end


def decision_rows(records: list[dict]) -> list[dict]:
    """The decision-log rows of answers: one per decision of the API's own (id `DA...`) an answer gave. An offer
    the batch made is answered under the batch's id, and the log has its row already; an answer that repeats an
    earlier API decision names the same id, and the log keeps it once."""
    rows = {}
    for record in records:
        for offer in record["offers"]:
            if not offer["decision_id"].startswith(API_PREFIX):
                continue
            rows[(record["as_of_date"], offer["decision_id"])] = {
                "decision_id": offer["decision_id"], "as_of_date": dt.date.fromisoformat(record["as_of_date"]),
                "customer_id": record["customer_id"], "offer_id": offer["offer_id"], "product": offer["product"],
                "channel": record["channel"], "outcome": "offered", "excluded_by": "", "excluded_at": None,
                "note": offer["note"], "holdout": False, "probability": offer["probability"],
                "value": offer["value"], "lever": offer["lever"], "expected_value": offer["expected_value"],
                "risk": offer["risk"], "price": offer["price"], "price_unit": offer["price_unit"],
                # The API answers with the greedy ranking (it never explores): each offer chosen for sure.
                "rank": offer["rank"], "propensity": offer.get("propensity", 1.0),
                # Learning counts the daily runs' decisions only (jobs/decide/learn.py): an answer has no context.
                "context": None, "learned_factor": None, "model": offer["model"],
                "model_version": offer["model_version"],
                "reason_codes": offer["reason_codes"], "reason": offer["reason"],
                "catalog_version": record["catalog_version"], "policy_version": record["policy_version"],
                "superseded_at": None, "superseded_by": None}
    return list(rows.values())


def _marker(path: Path) -> Path:
    return path.with_name(f".{path.name}.drained")


def drain(lh) -> dict[str, int]:
    """Move every answer not yet drained into audit.decision_log; returns rows appended per file."""
    from jobs import quality
    from jobs.decide.run import LOG, LOG_COLUMNS, SUPERSEDED
    from jobs.publish import record_results

    drained = {}
    for path in sorted(wal_dir(lh.settings.home).glob("*.jsonl")):
        marker = _marker(path)
        start = int(marker.read_text()) if marker.exists() else 0
        records, end = read_records(path, start)
        rows = decision_rows(records)
        if rows:
            day = dt.date.fromisoformat(path.stem)
            df = lh.spark.createDataFrame(rows, _LOG_SCHEMA).select(*LOG_COLUMNS, *SUPERSEDED)
            result = quality.validate(df, LOG, lh.settings, day, materialize=lh.scratch)
            record_results(lh, result, day)
            quality.raise_on_failure(result)
            if result.quarantined_count:
                sample = result.quarantined.select("decision_id", "_check", "_reason").limit(3).collect()
                raise ValueError(f"{result.quarantined_count} decision(s) of the API in {path} fail the {LOG} suite "
                                 f"(e.g. {[tuple(r) for r in sample]}); they stay in the file, nothing was drained")
            lh.append_new(LOG, result.valid, count=False)
        tmp = marker.with_name(marker.name + ".partial")
        tmp.write_text(str(end))
        os.replace(tmp, marker)
        drained[path.name] = len(rows)
        if rows:
            log.info("%s: %d decision(s) of %d answer(s) appended to %s", path.name, len(rows), len(records), LOG)
    return drained


_LOG_SCHEMA = ("decision_id string, as_of_date date, customer_id string, offer_id string, product string, "
               "channel string, outcome string, excluded_by string, excluded_at string, note string, holdout boolean, "
               "probability double, value double, lever double, expected_value double, risk double, price double, "
               "price_unit string, rank int, propensity double, context string, learned_factor double, model string, "
               "model_version string, "
               "reason_codes string, "
               "reason string, catalog_version string, policy_version string, superseded_at timestamp, "
               "superseded_by string")
