"""The set-up the pipeline benchmarks share: the bank's arguments, a quiet engine, a home for the run."""

from __future__ import annotations

import argparse
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
