"""Event files as rows: each event's data under its source's landing contract, malformed lines set apart.

Pure Python, no Spark (as jobs/ingest/landing.py is for CSV): a line that is not a JSON object, whose
source is not one the lakehouse takes as events, whose `event_id` is missing, whose `data` is not an object
or names a field the source's contract does not have, cannot be split into the contract's columns; it
becomes a `MalformedEvent` (file, line, reason, raw text) and goes to quarantine.stream_events. Every other
line becomes a row of its source: the contract's columns as text (an absent field is null, as an empty CSV
value is), its event id, and its place in the day's stream (`_row_id`: the file's number and the line in
it), which orders the rows as the stream delivered them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from jobs.generate.event_stream import EVENT_SOURCES
from jobs.generate.writer import contract as landing_contract

ROW_ID_PER_FILE = 1_000_000   # _row_id = file number * ROW_ID_PER_FILE + line: the stream's order in the day
PART = re.compile(r"part-(\d{5})\.jsonl")


@dataclass(frozen=True)
class MalformedEvent:
    line: int          # the line of its file (a broker's record: its offset)
    reason: str
    text: str
    row_id: int        # its place in the day's stream, as a row's _row_id


@dataclass
class EventFile:
    """One file of events, read: its rows per source and its malformed lines."""
    day: dt.date
    path: Path
    name: str                 # as bronze's _source_file says it: stream/events/<day>/part-NNNNN.jsonl
    checksum: str
    rows: dict[str, dict[str, list]] = field(default_factory=dict)   # source -> column -> values
    malformed: list[MalformedEvent] = field(default_factory=list)
    unit: str = "line"        # what a malformed event's `line` counts: a file's lines, a broker's offsets

    @property
    def events(self) -> int:
        return sum(len(columns["_event_id"]) for columns in self.rows.values()) + len(self.malformed)


def part_number(path: Path) -> int:
    match = PART.fullmatch(path.name)
    if not match:
        raise ValueError(f"{path}: not an event file (part-NNNNN.jsonl)")
    return int(match.group(1))


def _columns(source: str) -> list[str]:
    silo, entity = source.split("/")
    return [c["name"] for c in landing_contract(silo, entity)["columns"]]


def _problem(event) -> str | None:
    if not isinstance(event, dict):
        return "not a JSON object"
    if event.get("source") not in EVENT_SOURCES:
        return f"source {event.get('source')!r} is not one of {', '.join(EVENT_SOURCES)}"
    if not isinstance(event.get("event_id"), str) or not event["event_id"].strip():
        return "event_id is missing"
    data = event.get("data")
    if not isinstance(data, dict):
        return "data is not an object"
    unknown = sorted(set(data) - set(_columns(event["source"])))
    if unknown:
        return f"data has field(s) {', '.join(unknown)} that the {event['source']} contract does not have"
    bad = sorted(k for k, v in data.items() if v is not None and not isinstance(v, str | int | float))
    if bad:
        return f"data field(s) {', '.join(bad)} are not text or numbers"
    return None


def iter_events(path: Path):
    """The file's events in order, as dicts; lines that are not events are skipped (the lakehouse consumer
    quarantines them)."""
    for line in path.read_bytes().split(b"\n"):
        event = parse_event(line)
        if event is not None:
            yield event


def parse_event(line: bytes) -> dict | None:
    """One line or record as an event; None when it is not one."""
    if not line.strip():
        return None
    try:
        event = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return event if _problem(event) is None else None


def read_event_file(path: Path, day: dt.date, root: Path) -> EventFile:
    raw = path.read_bytes()
    base = part_number(path) * ROW_ID_PER_FILE
    lines = ((base + number, number, line) for number, line in enumerate(raw.split(b"\n"), start=1))
    return read_lines(day, path, str(path.relative_to(root)), hashlib.sha256(raw).hexdigest(), lines)


def read_lines(day: dt.date, path: Path, name: str, checksum: str, lines, unit: str = "line") -> EventFile:
    """An EventFile from (row id, line number, raw line) triples: a file's lines, or a broker's records
    (jobs/stream/broker.py: the offset for both, unit "offset")."""
    out = EventFile(day, path, name, checksum, unit=unit)
    for row_id, number, line in lines:
        if not line.strip():
            continue
        try:
            text = line.decode("utf-8")
            event = json.loads(text)
            problem = _problem(event)
        except UnicodeDecodeError:
            text, problem = line.decode("utf-8", "replace"), "bytes that are not UTF-8"
        except json.JSONDecodeError as exc:
            problem = f"not JSON: {exc.msg} at column {exc.colno}"
        if problem:
            out.malformed.append(MalformedEvent(number, problem, text, row_id))
            continue
        source = event["source"]
        columns = out.rows.setdefault(source, {c: [] for c in [*_columns(source), "_event_id", "_row_id", "_line"]})
        for name in _columns(source):
            value = event["data"].get(name)
            columns[name].append(None if value is None or value == "" else str(value))
        columns["_event_id"].append(event["event_id"])
        columns["_row_id"].append(row_id)
        columns["_line"].append(number)
    return out
