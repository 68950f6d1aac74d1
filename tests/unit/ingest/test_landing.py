"""jobs/ingest/landing.py: what one pass over a landing file's bytes finds, without holding the file."""

from __future__ import annotations

import hashlib
import tracemalloc

import pytest

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


def test_ranges_are_put_in_file_order_by_walking_from_one_first_record_to_the_next(tmp_path):
    path = tmp_path / "export.csv"
    lines = [b"id,name,note", b"1,Ann,", b'2,"Lee, Bob",x', b"3,Cy,y", b"4,Di,z", b"5,Ed,w"]
    path.write_bytes(b"\n".join(lines[:3]) + b"\r\n" + b"\n".join(lines[3:]))  # CRLF once; no final line break
    ranges = {7: (["4", "Di", "z"], 2), 0: (["1", "Ann", None], 1), 3: (["2", "Lee, Bob", "x"], 2)}
    assert landing.ranges_in_file_order(path, ranges) == [0, 3, 7]
    # the same with the final line break, and a blank line after it (the engine reads no row from it)
    path.write_bytes(b"\n".join(lines) + b"\n\n")
    assert landing.ranges_in_file_order(path, ranges) == [0, 3, 7]


@pytest.mark.parametrize("text, ranges", [
    # two ranges start with the same record: which comes first is not in the file
    (b"id,name\n1,Ann\n2,Bob\n1,Ann\n", {0: (["1", "Ann"], 2), 1: (["1", "Ann"], 1)}),
    # a blank line inside a range (no row for the engine) puts the walk off the next range's start
    (b"id,name\n1,Ann\n\n2,Bob\n3,Cy\n", {0: (["1", "Ann"], 1), 1: (["2", "Bob"], 2)}),
    # a first record quoted otherwise than csv writes it
    (b'id,name\n"1",Ann\n2,Bob\n', {0: (["1", "Ann"], 1), 1: (["2", "Bob"], 1)}),
    # a part of a line is not the line
    (b"id,name\n1,Ann\n2,Bobby\n", {0: (["1", "Ann"], 1), 1: (["2", "Bob"], 1)}),
    # rows of the file left after the last range, or ranges counting more rows than the file has
    (b"id,name\n1,Ann\n2,Bob\n3,Cy\n", {0: (["1", "Ann"], 1), 1: (["2", "Bob"], 1)}),
    (b"id,name\n1,Ann\n2,Bob\n", {0: (["1", "Ann"], 1), 1: (["2", "Bob"], 3)}),
])
def test_ranges_are_not_placed_by_guess(tmp_path, text, ranges):
    path = tmp_path / "export.csv"
    path.write_bytes(text)
    assert landing.ranges_in_file_order(path, ranges) is None


def test_the_walk_counts_line_breaks_a_chunk_at_a_time_and_lands_on_the_line_sought():
    import random

    random.seed(7)
    data = b"".join(b"x" * random.randint(0, 40) + b"\n" for _ in range(3000))
    starts = [0] + [i + 1 for i, byte in enumerate(data) if byte == ord("\n")]   # starts[-1]: the end
    for at_line, lines in [(0, 1), (0, 2999), (0, 3000), (5, 0), (17, 1500), (2998, 2), (1000, 2000)]:
        expected = starts[at_line + lines]
        for chunk, walk in [(64, 16), (1000, 100), (1 << 23, 1 << 16)]:
            got = landing._lines_after(data, starts[at_line], lines, chunk=chunk, walk=walk)
            assert got == expected, (at_line, lines, chunk, walk)
    assert landing._lines_after(data, starts[2990], 11) == -1   # the file has ten lines from there
    assert landing._lines_after(data + b"x", starts[2990], 11) == len(data) + 1   # its last line unterminated
