"""The people being erased taken out of the files the product keeps beside its tables.

- landing exports (`<home>/landing/<silo>/<entity>/<date>.csv`): the person's records removed, every other
  byte kept (a record is matched by the columns that name a person in that export, jobs/privacy/locate.py);
- the channels' exports (`<home>/exports/<channel>/<date>.parquet|csv`): the person's offers removed;
- event files (`<home>/stream/events/<day>/part-*.jsonl`) and the decision API's write-ahead files
  (`<home>/online/decisions/*.jsonl`): the lines naming the person removed;
- data-quality reports (`<home>/data_quality/<table>/<date>.json`): the person's rows taken out of the
  quarantine samples;
- the embedded online store and the live state (`<home>/online/*.sqlite`): the person's rows deleted.

Each rewrite goes to a file beside the original and is renamed over it, so a crash leaves the old file or the
new one, never half of one. Each function returns what it changed: {path: the ids that named the records
removed, counted}, so the caller can tell which request each removal belongs to.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from jobs.privacy.locate import SILO_EXPORT_COLUMNS
from jobs.privacy.subjects import Identifiers

ENCODING = dict(encoding="utf-8", errors="surrogateescape", newline="")   # byte for byte, whatever the bytes


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _replace(path: Path, write: Callable[[Path], None]) -> None:
    partial = path.with_name(f".{path.name}.erasing")
    write(partial)
    os.replace(partial, path)


def _records(f) -> Iterator[tuple[list[str], str]]:
    """(fields, raw text) of each CSV record of an open file, a quoted field over several lines included."""
    raw: list[str] = []

    def lines():
        for line in f:
            raw.append(line)
            yield line

    for fields in csv.reader(lines()):
        text = "".join(raw)
        raw.clear()
        yield fields, text


def _landing_matcher(silo: str, entity: str, header: list[str], ids: Identifiers) -> Callable[[list[str]], str | None]:
    """The id by which a record of this export names one of the people (None: it names none): by the export's
    person columns; a record with another number of fields than the header (quarantined as malformed) by any
    field."""
    everything = ids.values()
    checks: list[tuple[int, set[str]]] = []
    name = f"{silo}_{entity}"
    if name in SILO_EXPORT_COLUMNS:
        table_silo, named_by = SILO_EXPORT_COLUMNS[name]
        for kind, column in named_by.items():
            pool = ids.customers if kind == "customer" else ids.accounts
            if column in header:
                checks.append((header.index(column), {i for s, i in pool if s == table_silo}))
    if name in SILO_EXPORT_COLUMNS:   # a master's e-mail, phone, national id: the person's own values
        table_silo = SILO_EXPORT_COLUMNS[name][0]
        for column in {c for s, c, _ in ids.raw if s == table_silo and c in header}:
            checks.append((header.index(column), {v for s, c, v in ids.raw if s == table_silo and c == column}))
    if "customer_id" in header:
        checks.append((header.index("customer_id"), set(ids.golden)))
    pair = ("customer_silo", "customer_ref")
    silo_index = header.index(pair[0]) if pair[0] in header else None
    ref_index = header.index(pair[1]) if pair[1] in header else None

    def matches(fields: list[str]) -> str | None:
        if len(fields) != len(header):
            return next((f.strip().strip('"') for f in fields if f.strip().strip('"') in everything), None)
        for i, values in checks:
            if fields[i].strip() in values:
                return fields[i].strip()
        if silo_index is not None and ref_index is not None \
                and (fields[silo_index].strip(), fields[ref_index].strip()) in ids.customers:
            return fields[ref_index].strip()
        return None

    return matches


def rewrite_csv(path: Path, silo: str, entity: str, ids: Identifiers) -> tuple[Counter, Path | None]:
    """The people's records taken out of one CSV export, written beside it (not yet in its place): (the ids
    that named the records removed, counted; the new file, None when nothing was removed)."""
    removed: Counter = Counter()
    with open(path, **ENCODING) as f:
        records = _records(f)
        first = next(records, None)
        if first is None:
            return removed, None
        header = [h.strip() for h in first[0]]
        matches = _landing_matcher(silo, entity, header, ids)
        partial = path.with_name(f".{path.name}.erasing")
        with open(partial, "w", **ENCODING) as out:
            out.write(first[1])
            for fields, text in records:
                found = matches(fields) if fields else None
                if found is None:
                    out.write(text)
                else:
                    removed[found] += 1
    if not removed:
        partial.unlink()
        return removed, None
    return removed, partial


@dataclass(frozen=True)
class Rewritten:
    """A landing export rewritten beside the original: what was removed, the checksums before and after."""
    path: Path
    partial: Path
    removed: Counter
    before: str
    after: str

    def put_in_place(self) -> None:
        os.replace(self.partial, self.path)


def rewrite_landing(landing: Path, ids: Identifiers) -> list[Rewritten]:
    """Every landing export that names one of the people, rewritten beside the original. The caller moves each
    into place (`put_in_place`) once the tables that record the file's checksum follow the new one, so a run
    stopped in between finds the same work to do."""
    changed = []
    for path in sorted(landing.glob("*/*/*.csv")):
        silo, entity = path.parent.parent.name, path.parent.name
        removed, partial = rewrite_csv(path, silo, entity, ids)
        if partial is not None:
            changed.append(Rewritten(path, partial, removed, sha256(path), sha256(partial)))
    return changed


def rewrite_channel_exports(exports: Path, ids: Identifiers) -> dict[Path, Counter]:
    """The channels' Parquet and CSV exports without the people's offers."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    changed: dict[Path, Counter] = {}
    golden = sorted(ids.golden)
    for path in sorted(exports.glob("*/*.parquet")):
        table = pq.read_table(path)
        if "customer_id" not in table.column_names or table.num_rows == 0:   # a day without offers: no type
            continue
        named = pc.is_in(table["customer_id"], value_set=pa.array(golden, pa.string()))
        kept = table.filter(pc.invert(named))
        if kept.num_rows != table.num_rows:
            _replace(path, lambda target, kept=kept: pq.write_table(kept, target))
            changed[path] = Counter(table.filter(named)["customer_id"].to_pylist())
    for path in sorted(exports.glob("*/*.csv")):
        # Line by line, not through Arrow: the lines kept stay as the channel received them.
        removed, partial = rewrite_csv(path, "exports", path.parent.name, Identifiers(golden=ids.golden))
        if partial is not None:
            os.replace(partial, path)
            changed[path] = removed
    return changed


def _named_by(value, everything: set[str]) -> str | None:
    """The id among `everything` that a JSON value (or any value inside it) is, if any."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return next((found for v in value if (found := _named_by(v, everything)) is not None), None)
    if isinstance(value, (str, int)) and str(value).strip() in everything:
        return str(value).strip()
    return None


def rewrite_json_lines(files: list[Path], ids: Identifiers) -> dict[Path, Counter]:
    """Event and write-ahead files (one JSON object a line): the lines with a value naming a person removed
    (a line that is not JSON is kept unless one of its fields is an id)."""
    everything = ids.values()
    changed: dict[Path, Counter] = {}
    for path in files:
        kept, removed = [], Counter()
        with open(path, **ENCODING) as f:
            for line in f:
                try:
                    found = _named_by(json.loads(line), everything)
                except ValueError:
                    found = _named_by(line.split(","), everything)
                if found is None:
                    kept.append(line)
                else:
                    removed[found] += 1
        if removed:
            def write(target: Path, kept=kept) -> None:
                with open(target, "w", **ENCODING) as out:
                    out.writelines(kept)
            _replace(path, write)
            changed[path] = removed
    return changed


def rewrite_dq_reports(dq_dir: Path, ids: Identifiers) -> dict[Path, Counter]:
    """The quarantine samples of the data-quality reports without the people's rows."""
    everything = ids.values()
    changed: dict[Path, Counter] = {}
    for path in sorted(dq_dir.glob("*/*.json")):
        report = json.loads(path.read_text())
        sample = report.get("quarantine_sample") if isinstance(report, dict) else None
        if not sample:
            continue
        named = [_named_by(row, everything) for row in sample]
        if any(n is not None for n in named):
            report["quarantine_sample"] = [row for row, n in zip(sample, named, strict=True) if n is None]
            _replace(path, lambda target, report=report: target.write_text(json.dumps(report, indent=2, default=str)))
            changed[path] = Counter(n for n in named if n is not None)
    return changed


def scrub_sqlite(folder: Path, ids: Identifiers) -> dict[Path, Counter]:
    """The embedded online store and live state: the rows of every table with a `customer_id` of the people."""
    golden = sorted(ids.golden)
    changed: dict[Path, Counter] = {}
    if not golden:
        return changed
    marks = ", ".join("?" * len(golden))
    for path in sorted(folder.glob("*.sqlite")):
        con = sqlite3.connect(path, timeout=30)
        try:
            removed: Counter = Counter()
            tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for name in tables:
                columns = {r[1] for r in con.execute(f'PRAGMA table_info("{name}")')}
                if "customer_id" in columns:
                    where = f'FROM "{name}" WHERE customer_id IN ({marks})'
                    removed.update(dict(con.execute(f"SELECT customer_id, count(*) {where} GROUP BY customer_id",
                                                    golden).fetchall()))
                    con.execute(f"DELETE {where}", golden)
            con.commit()
            if removed:
                # The deleted rows' pages would stay in the file (and its write-ahead log) until reused.
                con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                con.execute("VACUUM")
                changed[path] = removed
        finally:
            con.close()
    return changed
