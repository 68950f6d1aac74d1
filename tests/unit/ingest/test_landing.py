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


def test_record_offsets_finds_each_record_as_its_only_line(tmp_path):
    path = tmp_path / "export.csv"
    lines = [b"id,name,note", b"1,Ann,", b'2,"Lee, Bob",x', b"3,Cy,y", b"4,Di,z"]
    path.write_bytes(b"\n".join(lines[:3]) + b"\r\n" + b"\n".join(lines[3:]))  # CRLF once; no final line break
    starts = [len(b"\n".join(lines[:i])) + 1 for i in range(1, 5)]
    starts[2:] = [s + 1 for s in starts[2:]]   # after the "\r\n"
    records = [["1", "Ann", None], ["2", "Lee, Bob", "x"], ["3", "Cy", "y"], ["4", "Di", "z"]]
    assert landing.record_offsets(path, records) == starts
    assert landing.record_offsets(path, [["4", "Di", "z"], ["1", "Ann", None]]) == [starts[3], starts[0]]


def test_record_offsets_does_not_guess_between_two_equal_lines_or_a_record_it_cannot_find(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(b"id,name\n1,Ann\n2,Bob\n1,Ann\n")
    assert landing.record_offsets(path, [["2", "Bob"]]) == [14]
    assert landing.record_offsets(path, [["2", "Bob"], ["1", "Ann"]]) is None   # twice in the file
    assert landing.record_offsets(path, [["3", "Cy"]]) is None
    assert landing.record_offsets(path, [["2", "Bo"]]) is None   # a part of a line is not the line
