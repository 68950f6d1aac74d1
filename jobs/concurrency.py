"""Writers that meet on one Delta table: tasks running in parallel (the six ingest tasks of a daily run each write
their data-quality results to audit.dq_results; under the scheduler's LocalExecutor they are six processes), or
two DAG runs that overlap (the daily and the weekly DAG, a backfill beside a scheduled run).

Delta commits optimistically: a writer reads the log, writes its files, then commits the next version; when another
writer committed that version first, the commit fails (Sail: "Failed to commit transaction: <version>", the JVM:
io.delta.exceptions.Concurrent*Exception; delta-rs: CommitFailedError). Nothing is lost, but the write did not
happen. Every lakehouse write is idempotent for its logical date (jobs/tables.py), so the answer is to try the
whole write again on the new version, after a short random wait so the writers spread out.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

# What each engine says when another writer committed first, or created the table between this writer's look and
# its write (the table's first write refuses an existing table: mode "error").
CONFLICT_MARKERS = (
    "Failed to commit transaction",          # Sail
    "Missing commit file",                   # Sail, reading a log another writer is checkpointing
    "ConcurrentAppendException", "ConcurrentDeleteReadException", "ConcurrentDeleteDeleteException",
    "ConcurrentTransactionException", "MetadataChangedException", "ProtocolChangedException",
    "DELTA_CONCURRENT_", "DELTA_METADATA_CHANGED", "DELTA_PROTOCOL_CHANGED",   # JVM Delta (error classes)
    "CommitFailedError", "version already exists",                          # delta-rs
    "Delta table already exists", "DELTA_PATH_EXISTS", "already exists and is not empty",  # a racing first write
)
TRIES = 12
FIRST_WAIT_S, LONGEST_WAIT_S = 0.2, 8.0


def is_commit_conflict(exc: BaseException) -> bool:
    text = f"{type(exc).__name__}: {exc}"
    return any(marker in text for marker in CONFLICT_MARKERS)


def retry_on_conflict(what: str, action: Callable[[], T], tries: int = TRIES,
                      sleep: Callable[[float], None] = time.sleep) -> T:
    """`action()`, tried again (up to `tries` times in all) while it fails because another writer committed first;
    any other error, or the last conflict, goes on to the caller."""
    for attempt in range(1, tries + 1):
        try:
            return action()
        except Exception as exc:
            if attempt == tries or not is_commit_conflict(exc):
                raise
            wait = min(LONGEST_WAIT_S, FIRST_WAIT_S * 2 ** (attempt - 1)) * random.uniform(0.5, 1.5)
            log.info("%s: another writer committed first (%s); writing again in %.1fs (try %d of %d)",
                     what, str(exc).splitlines()[0][:160], wait, attempt + 1, tries)
            sleep(wait)
    raise AssertionError("unreachable")
