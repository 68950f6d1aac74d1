"""The event stream into the lakehouse on the embedded engine: an incremental micro-batch loop.

Sail has no streaming sinks (DESIGN.md), so the loop is ours: take the files the `lakehouse` consumer has not
committed (at most `max_files`, the stream's order), write them (jobs/stream/to_lakehouse.py), commit them
(jobs/stream/checkpoint.py), and wait for more. On JVM Spark the same batch function runs under Structured
Streaming (jobs/stream/structured.py). Each batch logs what it did and how far behind the stream it is.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from jobs.generate.event_stream import EVENTS_PER_FILE
from jobs.stream import checkpoint
from jobs.stream.events import read_event_file
from jobs.stream.to_lakehouse import COUNTS, BatchReport, load_batch
from jobs.tables import Lakehouse

log = logging.getLogger(__name__)

CONSUMER = "lakehouse"


@dataclass
class StreamReport(BatchReport):
    """The batches' counts added up, and how long the run took."""
    batches: int = 0
    seconds: float = 0.0

    def add(self, batch: BatchReport) -> None:
        self.batches += 1
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(batch, name))


def run(lh: Lakehouse, max_files: int = 20, until_idle: bool = True, poll_seconds: float = 1.0,
        stop: Callable[[], bool] | None = None) -> StreamReport:
    """Process the stream: until no file is left (until_idle), or until `stop()` says so. On a Kafka broker
    (MARKETOFONE_EVENTS_BROKER) a batch is at most as many records as `max_files` files hold."""
    if lh.settings.events_broker:
        return _run_broker(lh, max_files * EVENTS_PER_FILE, until_idle, poll_seconds, stop)
    home = lh.settings.home
    report = StreamReport()
    started = time.perf_counter()
    while not (stop and stop()):
        files = checkpoint.pending(home, CONSUMER, limit=max_files)
        if not files:
            if until_idle:
                break
            time.sleep(poll_seconds)
            continue
        began = time.perf_counter()
        events = [read_event_file(path, day, home) for day, path in files]
        batch = load_batch(lh, events, report.batches + 1)
        checkpoint.commit(home, CONSUMER, files)
        report.add(batch)
        behind = len(checkpoint.pending(home, CONSUMER))
        log.info("batch %d: %d file(s), %d event(s): %d bronze, %d quarantined, %d malformed, %d already loaded, "
                 "%d left to the export; %.1fs; %d file(s) behind", report.batches, len(files), batch.events,
                 batch.bronze, batch.quarantined, batch.malformed, batch.repeated, batch.superseded,
                 time.perf_counter() - began, behind)
    report.seconds = time.perf_counter() - started
    return report


def _run_broker(lh: Lakehouse, max_events: int, until_idle: bool, poll_seconds: float,
                stop: Callable[[], bool] | None) -> StreamReport:
    """The same loop on the broker's topic: the `lakehouse` group's records, its offsets committed after each
    batch's writes (jobs/stream/broker.py)."""
    from jobs.stream import broker

    report = StreamReport()
    started = time.perf_counter()
    with broker.Consumer(lh.settings.events_broker, CONSUMER) as source:
        while not (stop and stop()):
            records = source.take(max_events, timeout=poll_seconds)
            if not records:
                if until_idle and source.idle():
                    break
                continue
            began = time.perf_counter()
            batch = load_batch(lh, broker.as_event_files(records), report.batches + 1)
            source.commit()
            report.add(batch)
            log.info("batch %d: offsets %d-%d, %d event(s): %d bronze, %d quarantined, %d malformed, %d already "
                     "loaded, %d left to the export; %.1fs; %d record(s) behind", report.batches, records[0].offset,
                     records[-1].offset, batch.events, batch.bronze, batch.quarantined, batch.malformed,
                     batch.repeated, batch.superseded, time.perf_counter() - began, source.lag())
    report.seconds = time.perf_counter() - started
    return report
