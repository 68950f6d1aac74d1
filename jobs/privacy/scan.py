"""The proof of an erasure: every file the product keeps, searched for the people's identifiers.

Searched: every Parquet file under the lakehouse (every version still on storage, the Delta logs' checkpoints
included), the Delta logs' commits (whose file statistics carry each column's min and max), the landing exports,
the channels' exports, the event and write-ahead files, the data-quality reports, the online store's SQLite files
and the scratch folders of processes that have ended (a running process's scratch folder holds its working
copies until it ends, when it is removed). Not searched, by design: the erasure tables themselves
(audit.erasure_*: the tombstones keep the silo ids, so that a later export cannot bring the person back), MLflow
(models and their metrics; no row of data) and the generator's answer key (`ground_truth/`, a synthetic bank's
only).

A value matches when it is an identifier, or when one of its words is (a quarantined raw line, an e-mail in a
sentence); words are runs of letters, digits and `_ - @ . +`.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from jobs.tables import live_scratch

WORD = re.compile(r"[A-Za-z0-9_\-@.+]+")
KEPT_BY_DESIGN = ("erasure_request", "erasure_report", "erasure_tombstone")
SEARCHED = ("lakehouse", "landing", "exports", "stream", "online", "data_quality", "scratch")


@dataclass
class ScanResult:
    files_scanned: int = 0
    rows_with_erased: int = 0
    files_with_erased: int = 0
    hits: Counter = field(default_factory=Counter)   # path -> rows (or lines) naming one of the people

    def add(self, path: Path, rows: int) -> None:
        self.files_scanned += 1
        if rows:
            self.rows_with_erased += rows
            self.files_with_erased += 1
            self.hits[str(path)] += rows


def _names(value: str, needles: set[str]) -> bool:
    value = value.strip()
    return value in needles or any(w in needles for w in WORD.findall(value))


def _text_lines(path: Path, needles: set[str]) -> int:
    with open(path, encoding="utf-8", errors="replace") as f:
        return sum(1 for line in f if any(w in needles for w in WORD.findall(line)))


def _parquet_rows(path: Path, needles: set[str]) -> int:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    while any(pa.types.is_struct(f.type) for f in table.schema):
        table = table.flatten()
    wanted = pa.array(sorted(needles), pa.string())
    hit = None
    for column in table.columns:
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            continue
        column = column.cast(pa.string())
        # Whole values compared at C speed; only the values with more than one word (a raw line, a sentence)
        # are split into words in Python.
        mask = pc.is_in(pc.utf8_trim_whitespace(column), value_set=wanted)
        several = pc.fill_null(pc.match_substring_regex(column, r"[^A-Za-z0-9_\-@.+]"), False)
        texts = [v for v in pc.unique(column.filter(several)).to_pylist() if v is not None]
        found = [v for v in texts if _names(v, needles)]
        if found:
            mask = pc.or_(pc.fill_null(mask, False), pc.is_in(column, value_set=pa.array(found, pa.string())))
        hit = mask if hit is None else pc.or_(pc.fill_null(hit, False), pc.fill_null(mask, False))
    return 0 if hit is None else int(pc.sum(pc.cast(pc.fill_null(hit, False), pa.int64())).as_py() or 0)


def _sqlite_rows(path: Path, needles: set[str]) -> int:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = 0
        for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            for row in con.execute(f'SELECT * FROM "{name}"'):
                rows += any(isinstance(v, str) and _names(v, needles) for v in row)
        return rows
    finally:
        con.close()


def _strings(value):
    """Every text value inside a JSON value (numbers are sizes, counts and times, not identifiers: a lending id is
    digits, and would otherwise match a table's size)."""
    if isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        yield value


def _delta_log_lines(path: Path, needles: set[str]) -> int:
    """Commit actions (a line each; a checksum file is one) naming a person, in their text values: the file
    statistics' JSON (a string inside an `add` action, with each column's min and max) searched too."""
    rows = 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                action = json.loads(line)
            except ValueError:
                rows += any(w in needles for w in WORD.findall(line))
                continue
            stats = (action.get("add") or {}).get("stats") if isinstance(action, dict) else None
            texts = [t for t in _strings(action) if t is not stats]   # the statistics are searched parsed
            if stats:
                texts += list(_strings(json.loads(stats)))
            rows += any(_names(t, needles) for t in texts)
    return rows


def scan_home(home: Path, needles: set[str], roots: tuple[str, ...] = SEARCHED) -> ScanResult:
    """Every file under the searched folders of `home` (or those of `roots`), searched for `needles` (see the
    module's doc)."""
    needles = {n.strip() for n in needles if n and n.strip()}
    result = ScanResult()
    for root in roots:
        for path in sorted((home / root).rglob("*")):
            if not path.is_file() or any(part in KEPT_BY_DESIGN for part in path.parts):
                continue
            if root == "scratch" and live_scratch(home / "scratch" / path.relative_to(home / "scratch").parts[0]):
                continue   # a running process's working copies, removed when it ends (the erasure removes the rest)
            suffix = path.suffix
            if suffix == ".parquet":
                rows = _parquet_rows(path, needles)
            elif suffix in (".json", ".crc") and "_delta_log" in path.parts:
                rows = _delta_log_lines(path, needles)
            elif suffix == ".sqlite":
                rows = _sqlite_rows(path, needles)
            elif suffix in (".csv", ".json", ".jsonl", ".crc", ".txt") or path.name.startswith("part-"):
                rows = _text_lines(path, needles)
            else:
                continue
            result.add(path, rows)
    return result
