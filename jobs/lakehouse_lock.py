"""The lakehouse lock: every writer holds it shared; an erasure and a key rotation hold it alone.

Writers meet safely on a table (Delta's optimistic commits, jobs/concurrency.py). Two jobs are not safe beside any
other writer:
- an erasure (jobs/privacy/erasure.py) purges every file the table's current version does not read, and with it
  the files a running writer has written and not committed yet: that commit then names files that are gone. And a
  step that read bronze before the erasure would write the person back after it;
- a key rotation (jobs/key_rotation.py) re-tokenizes every table: a step beside it would write old-key tokens.
So a pipeline step, a stream batch and every lakehouse write hold the lock shared (many at once), and those two
hold it exclusive: they wait for the writers that run to finish, and a writer that starts meanwhile waits for them.
Whoever waits says so in its log, with what holds the lock.

The lock is an flock(2) on `<home>/locks/lakehouse.lock`, so it orders the processes of one host: the embedded
engine, the local stack's scheduler and task processes, the compose stack's containers (they share the home's
volume). A process that dies lets go of it. Inside a process the lock is counted: a write inside a step, or
inside the erasure, takes what the process already holds.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

SHARED, EXCLUSIVE = "shared", "exclusive"
WAIT_LOG_EVERY_S = 30.0
_POLL_S = 0.2


def lock_file(home: Path) -> Path:
    return Path(home) / "locks" / "lakehouse.lock"


def _holders_dir(home: Path) -> Path:
    return Path(home) / "locks" / "holders"


@dataclass
class _Held:
    mode: str
    depth: int
    handle: IO
    note: Path


_HELD: dict[Path, _Held] = {}   # this process's hold per lock file
_STATE = threading.Lock()
_ACQUIRING = threading.Lock()


def _forgotten_in_child() -> None:
    """A forked child holds nothing of its own: it takes the lock itself if it writes (and never lets go of the
    parent's hold through the descriptor it inherited)."""
    global _STATE, _ACQUIRING
    _HELD.clear()
    _STATE, _ACQUIRING = threading.Lock(), threading.Lock()


os.register_at_fork(after_in_child=_forgotten_in_child)


@contextmanager
def shared(home: Path, what: str) -> Iterator[None]:
    """Hold the lock with the other writers while `what` (a step, a table's write) runs."""
    with _hold(Path(home), SHARED, what):
        yield


@contextmanager
def exclusive(home: Path, what: str) -> Iterator[None]:
    """Hold the lock alone while `what` (an erasure, a key rotation) runs."""
    with _hold(Path(home), EXCLUSIVE, what):
        yield


@contextmanager
def _hold(home: Path, mode: str, what: str) -> Iterator[None]:
    path = lock_file(home).resolve()
    with _ACQUIRING:   # one thread of the process takes the file lock; the others count on it
        with _STATE:
            held = _HELD.get(path)
            if held is not None:
                if mode == EXCLUSIVE and held.mode == SHARED:
                    raise RuntimeError(f"{what} needs the lakehouse to itself, but this process is writing to it "
                                       f"already ({_read(held.note)}); run it on its own")
                held.depth += 1
        if held is None:
            handle, note = _acquire(home, path, mode, what)
            with _STATE:
                _HELD[path] = _Held(mode, 1, handle, note)
    try:
        yield
    finally:
        _let_go(path)


def _let_go(path: Path) -> None:
    with _STATE:
        held = _HELD[path]
        held.depth -= 1
        if held.depth:
            return
        del _HELD[path]
    held.note.unlink(missing_ok=True)
    fcntl.flock(held.handle, fcntl.LOCK_UN)
    held.handle.close()


def _acquire(home: Path, path: Path, mode: str, what: str) -> tuple[IO, Path]:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+b")
    flag = fcntl.LOCK_EX if mode == EXCLUSIVE else fcntl.LOCK_SH
    started = last_said = time.monotonic()
    said = False
    while True:
        try:
            fcntl.flock(handle, flag | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            now = time.monotonic()
            if not said or now - last_said >= WAIT_LOG_EVERY_S:
                log.warning("%s waits for the lakehouse (%s) %.0fs so far: held by %s", what, mode, now - started,
                            "; ".join(holders(home)) or "another process")
                said, last_said = True, now
            time.sleep(_POLL_S)
    if said:
        log.warning("%s has the lakehouse (%s) after %.0fs", what, mode, time.monotonic() - started)
    note = _holders_dir(home) / f"{socket.gethostname()}-{os.getpid()}"
    note.parent.mkdir(parents=True, exist_ok=True)
    note.write_text(f"{what} ({mode}, pid {os.getpid()} on {socket.gethostname()}, since "
                    f"{time.strftime('%Y-%m-%d %H:%M:%S')})\n", encoding="utf-8")
    return handle, note


def holders(home: Path) -> list[str]:
    """What holds the lock now, as each holder wrote it when it started (a process of this host that is gone is
    left out: it let go when it died)."""
    folder = _holders_dir(home)
    if not folder.is_dir():
        return []
    here = socket.gethostname()
    out = []
    for note in sorted(folder.iterdir()):
        host, _, pid = note.name.rpartition("-")
        if host == here and pid.isdigit() and not _alive(int(pid)):
            note.unlink(missing_ok=True)
            continue
        text = _read(note)
        if text:
            out.append(text)
    return out


def _read(note: Path) -> str:
    try:
        return note.read_text(encoding="utf-8").strip()
    except FileNotFoundError:   # let go meanwhile
        return ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def held(home: Path) -> str | None:
    """How this process holds the lock of `home` now (SHARED, EXCLUSIVE), or None."""
    with _STATE:
        hold = _HELD.get(lock_file(home).resolve())
        return hold.mode if hold else None
