"""The day's activity as events: what the silos' event bus would have carried, in time order.

A daily increment's activity rows (deposit and card transactions, loan repayments, online sessions,
consent changes, the channels' responses) are also written as events, the same rows with the same values
(defective ones included: the stream quarantines them as the batch load does), as small JSON-lines files:

    <home>/stream/events/<day>/part-00001.jsonl ...     EVENTS_PER_FILE events a file, in time order

or, in the production profile (MARKETOFONE_EVENTS_BROKER), as records of the Kafka topic (jobs/stream/broker.py):
one record per event, its value the same line, its timestamp the event's `occurred_at`.

One event per line:

    {"event_id": "E20260701-dtx-0000042", "source": "deposits/transactions",
     "occurred_at": "2026-07-01T09:14:03", "data": {"txn_id": "...", "amount": "12.50", ...}}

`data` holds the contract's columns as text, exactly as the export writes them (an empty value is null).
The event id names the day, the source and the row's position in the day's export: the same event always
has the same id, whichever file or broker carries it. `occurred_at` is the row's own time where it has one
(a session's start, a consent's recording, a response) and a time of day drawn once per row otherwise
(transactions carry a date only); a duplicate the source re-sends comes at the end of the day, after its
first copy, as the export re-sends it at the end of the file. Files are written whole (write-then-rename):
a reader never sees half a file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa

from jobs.generate.common import stream

# Export file -> the short code in its events' ids.
EVENT_SOURCES = {
    "deposits/transactions": "dtx", "cards/transactions": "ctx", "lending/repayments": "lrp",
    "digital/sessions": "dse", "crm/consents": "cns", "channels/responses": "rsp",
}
# Each source's own time, where it has one (yyyy-MM-dd HH:mm:ss in every one of these contracts).
TIME_COLUMNS = {"digital/sessions": "started_at", "crm/consents": "recorded_at", "channels/responses": "event_at"}
EVENTS_PER_FILE = 50
END_OF_DAY = 24 * 3600 - 1


def events_dir(home: Path, day: dt.date) -> Path:
    return home / "stream" / "events" / day.isoformat()


def _own_second(values: list, day: dt.date) -> np.ndarray:
    """The second of the day each row happened at, from its timestamp; -1 where it has none on the day."""
    prefix = day.isoformat() + " "
    out = np.full(len(values), -1, dtype=np.int64)
    for i, value in enumerate(values):
        if isinstance(value, str) and value.startswith(prefix) and len(value) == 19:
            try:
                hours, minutes, seconds = (int(x) for x in value[11:].split(":"))
            except ValueError:
                continue
            if 0 <= hours < 24 and 0 <= minutes < 60 and 0 <= seconds < 60:
                out[i] = hours * 3600 + minutes * 60 + seconds
    return out


def _events_of(file: str, columns: dict[str, pa.Array], keys: list[str], day: dt.date, seed: int,
               customers: int) -> list[tuple[int, str, int, dict]]:
    """(second of the day, source, row, data) for each row of one export file."""
    data = {name: array.cast(pa.string()).to_pylist() for name, array in columns.items()}
    rows = len(next(iter(data.values()))) if data else 0
    drawn = stream(seed, customers, f"event-times-{file}", day).integers(6 * 3600, 23 * 3600, size=rows)
    seconds = _own_second(data[TIME_COLUMNS[file]], day) if file in TIME_COLUMNS else np.full(rows, -1)
    seconds = np.where(seconds >= 0, seconds, drawn)
    seen: set[tuple] = set()
    out = []
    for row in range(rows):
        values = {name: (data[name][row] or None) for name in data}
        key = tuple(values[k] for k in keys)
        resent = all(key) and key in seen   # the source sends the row again: at the end of the day
        seen.add(key)
        out.append((END_OF_DAY if resent else int(seconds[row]), file, row, values))
    return out


def day_events(day: dt.date, files: dict[str, tuple[dict[str, pa.Array], list[str]]], seed: int,
               customers: int) -> list[tuple[str, bytes]]:
    """The day's events in time order: (occurred_at, the event's JSON line)."""
    events = []
    for file in EVENT_SOURCES:
        if file in files:
            columns, keys = files[file]
            events += _events_of(file, columns, keys, day, seed, customers)
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    midnight = dt.datetime.combine(day, dt.time())
    out = []
    for second, file, row, values in events:
        occurred_at = (midnight + dt.timedelta(seconds=second)).isoformat()
        out.append((occurred_at, json.dumps({
            "event_id": f"E{day:%Y%m%d}-{EVENT_SOURCES[file]}-{row:07d}", "source": file,
            "occurred_at": occurred_at, "data": values,
        }, separators=(",", ":")).encode()))
    return out


def write_events(home: Path, day: dt.date, events: list[tuple[str, bytes]]) -> int:
    """Write the day's events (day_events) as files; returns how many. The day's folder is rewritten whole: the
    same inputs give the same files. (With a broker, jobs/generate/__init__.py publishes them instead.)"""
    folder = events_dir(home, day)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("part-*.jsonl"):
        old.unlink()
    for start in range(0, len(events), EVENTS_PER_FILE):
        lines = b"".join(line + b"\n" for _, line in events[start:start + EVENTS_PER_FILE])
        path = folder / f"part-{start // EVENTS_PER_FILE + 1:05d}.jsonl"
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(lines)
        os.replace(tmp, path)
    return len(events)
