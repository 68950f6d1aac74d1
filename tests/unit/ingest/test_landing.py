"""jobs/ingest/landing.py: what one pass over a landing file's bytes finds, without holding the file."""

from __future__ import annotations

import hashlib
import tracemalloc

from jobs.ingest import landing


def test_inspect_reads_a_file_a_megabyte_at_a_time_not_whole(tmp_path):
    # A 40 MB export: at a bank's size the transactions file is gigabytes, and the driver must not hold it.
    path = tmp_path / "big.csv"
    row = "T0000001,2026-06-30,-12.34,groceries,card\n"
    with path.open("w") as out:
        out.write("txn_id,txn_date,amount,category,kind\n")
        for _ in range(40 * (1 << 20) // len(row)):
            out.write(row)
    tracemalloc.start()
    try:
        facts = landing.inspect(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert facts.checksum == hashlib.sha256(path.read_bytes()).hexdigest()
    assert facts.header == ["txn_id", "txn_date", "amount", "category", "kind"] and facts.has_data_rows and facts.utf8
    assert peak < 8 * (1 << 20), f"inspect held {peak / (1 << 20):.0f} MB of a 40 MB file"
