"""Atomic, deterministic file output: CSV landing files in contract column order, Parquet ground truth.

A reader never sees half a file: each file is written to a hidden temporary name in the same folder
and renamed into place. CSV is UTF-8, comma-separated, header row, "\\n" line ends, and a value is
quoted only when it must be (it holds a comma, a quote or a line break), so the same inputs give the
same bytes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from jobs.resources import resource_dir

SCHEMAS_DIR = resource_dir("schemas")  # the packaged copy when installed from a wheel


def contract(silo: str, entity: str) -> dict:
    """The landing contract as JSON (jobs.contracts parses the same files for Spark; this reader
    avoids importing pyspark into the generator)."""
    path = SCHEMAS_DIR / "landing" / silo / f"{entity}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no landing contract for {silo}/{entity} at {path}")
    return json.loads(path.read_text())


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def _publish(tmp: Path, path: Path) -> None:
    os.replace(tmp, path)


def write_csv(path: Path, columns: dict[str, pa.Array], names: list[str]) -> int:
    """Write the columns in `names` order; returns the number of data rows."""
    if list(columns) != names:
        raise ValueError(f"{path}: columns {list(columns)} do not match the contract {names}")
    table = pa.table({name: columns[name].cast(pa.string()) for name in names})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    header = (",".join(names) + "\n").encode()
    try:
        try:
            # Fast path: no value needs quoting, so Arrow's writer may write them bare.
            with pa.OSFile(str(tmp), "wb") as sink:
                sink.write(header)
                pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False, quoting_style="none"))
        except pa.ArrowInvalid:
            with pa.OSFile(str(tmp), "wb") as sink:
                sink.write(header)
                _write_quoted(table, sink)
        _publish(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return table.num_rows


def _write_quoted(table: pa.Table, sink, chunk_rows: int = 1_000_000) -> None:
    """Minimal quoting (RFC 4180): only values with a comma, quote or line break are quoted."""
    for start in range(0, table.num_rows, chunk_rows):
        part = table.slice(start, chunk_rows)
        cells = []
        for col in part.columns:
            col = pc.fill_null(col.combine_chunks(), "")
            needs = pc.match_substring_regex(col, '[",\r\n]')
            quoted = pc.binary_join_element_wise('"', pc.replace_substring(col, '"', '""'), '"', "")
            cells.append(pc.if_else(needs, quoted, col))
        lines = pc.binary_join_element_wise(*cells, ",")
        lines = pc.binary_join_element_wise(lines, "", "\n")
        sink.write(_body(lines))


def _body(lines: pa.Array) -> bytes:
    """The concatenated bytes of a string array whose values already end with a newline."""
    _, offsets, data = lines.buffers()
    width = np.int64 if pa.types.is_large_string(lines.type) else np.int32
    bounds = np.frombuffer(offsets, dtype=width)[lines.offset:lines.offset + len(lines) + 1]
    return data.to_pybytes()[bounds[0]:bounds[-1]]


def write_parquet(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    try:
        pq.write_table(table, tmp, compression="zstd")
        _publish(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
