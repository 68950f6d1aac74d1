"""What the generator tests (tests/unit/generate and tests/integration/test_generate.py) share: the export date,
the silo date formats in Python's spelling, and a landing file's contract."""

from __future__ import annotations

import datetime as dt
import json

from jobs.generate.writer import SCHEMAS_DIR

AS_OF = dt.date(2026, 6, 30)
PY_DATE = {"yyyy-MM-dd": "%Y-%m-%d", "MM/dd/yyyy": "%m/%d/%Y", "dd.MM.yyyy": "%d.%m.%Y",
           "yyyy-MM-dd HH:mm:ss": "%Y-%m-%d %H:%M:%S"}


def contract(file: str) -> dict:
    silo, entity = file.split("/")
    return json.loads((SCHEMAS_DIR / "landing" / silo / f"{entity}.json").read_text())
