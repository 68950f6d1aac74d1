"""The set-up the pipeline benchmarks share: the bank's arguments, a quiet engine, a home for the run."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def add_bank_arguments(parser: argparse.ArgumentParser, customers: int, date_help: str) -> None:
    parser.add_argument("--customers", type=int, default=customers)
    parser.add_argument("--days", type=int, default=365, help="history days in the full export")
    parser.add_argument("--date", default="2026-06-30", help=date_help)
    parser.add_argument("--home", help="project home to use (default: a new temporary folder, removed)")


def quiet_engine() -> None:
    """Figures only on stdout: no engine log lines, no per-step progress (unless asked for)."""
    os.environ.setdefault("RUST_LOG", "warn")
    os.environ.setdefault("MARKETOFONE_PROGRESS", "0")


@contextmanager
def project_home(given: str | None, prefix: str) -> Iterator[Path]:
    """The home given (kept), or a new temporary folder removed at the end, however the run ends."""
    home = Path(given) if given else Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield home.resolve()
    finally:
        if not given:
            shutil.rmtree(home, ignore_errors=True)


def build_store(home: Path, customers: int, days: int, day: dt.date) -> None:
    """A bank through the full export's daily steps, the weekly training and the next day's daily steps."""
    from jobs.generate import generate_bank
    from jobs.pipeline import run_daily, run_weekly
    from jobs.settings import Settings

    settings = Settings(home=home, customers=customers, history_days=days)
    generate_bank(settings, day)
    generate_bank(settings, day + dt.timedelta(days=1), daily=True)
    for runs in (lambda: run_daily(day, settings), lambda: run_weekly(day, settings),
                 lambda: run_daily(day + dt.timedelta(days=1), settings)):
        runs()
