"""Where each consumer of the event stream is: the files it has committed, per day.

    <home>/stream/checkpoints/<consumer>.json     {"2026-07-01": 7, ...}: parts 1..7 of that day are done

Files of a day are numbered in the order the stream wrote them, so a day's progress is one number. A
consumer commits a batch of files only after everything the batch writes is written, and every write is
idempotent on the event (bronze and the triggers' log are keyed by it, silver by its rows' keys): a consumer
killed between its writes and its commit reads the same files again, and writing them again changes nothing.
That is the exactly-once of a Structured Streaming checkpoint with an idempotent sink, on an engine without
one (Sail): no event is lost (nothing is committed before it is written) and none counts twice.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from jobs.generate.event_stream import events_dir
from jobs.stream.events import part_number


def _path(home: Path, consumer: str) -> Path:
    return home / "stream" / "checkpoints" / f"{consumer}.json"


def committed(home: Path, consumer: str) -> dict[str, int]:
    path = _path(home, consumer)
    return json.loads(path.read_text()) if path.is_file() else {}


def pending(home: Path, consumer: str, limit: int | None = None) -> list[tuple[dt.date, Path]]:
    """The files the consumer has not committed, oldest day first, in the stream's order."""
    root = home / "stream" / "events"
    if not root.is_dir():
        return []
    done = committed(home, consumer)
    out: list[tuple[dt.date, Path]] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        try:
            day = dt.date.fromisoformat(folder.name)
        except ValueError:
            continue
        last = done.get(folder.name, 0)
        out += [(day, p) for p in sorted(folder.glob("part-*.jsonl")) if part_number(p) > last]
        if limit is not None and len(out) >= limit:
            return out[:limit]
    return out


def commit(home: Path, consumer: str, files: list[tuple[dt.date, Path]]) -> None:
    """Mark the files done (written whole, then renamed: a crash leaves the old checkpoint or the new one)."""
    done = committed(home, consumer)
    for day, path in files:
        if events_dir(home, day) != path.parent:
            raise ValueError(f"{path} is not in the stream's folder for {day}")
        done[day.isoformat()] = max(done.get(day.isoformat(), 0), part_number(path))
    path = _path(home, consumer)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(dict(sorted(done.items())), indent=1))
    os.replace(tmp, path)
