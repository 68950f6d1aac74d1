"""The proof of an erasure: every kind of file the home keeps, searched for the people's identifiers."""

import json
import sqlite3

import pyarrow as pa
import pyarrow.parquet as pq

from jobs.privacy.scan import scan_home

NEEDLES = {"CU0000000000AAAA", "D1000001", "ann@example.com"}


def test_every_kind_of_file_is_searched_by_value_and_by_word(tmp_path):
    table = tmp_path / "lakehouse/silver/customer"
    (table / "_delta_log").mkdir(parents=True)
    pq.write_table(pa.table({"customer_id": ["CU0000000000AAAA", "CU0000000000BBBB", None],
                             "_raw_line": [None, "D9,x", "DA1, D1000001 ,x"]}), table / "part-0.parquet")
    stats = json.dumps({"minValues": {"customer_id": "CU0000000000AAAA"}})
    (table / "_delta_log/00000000000000000000.json").write_text(
        json.dumps({"add": {"path": "part-0.parquet", "stats": stats}}) + "\n" + json.dumps({"commitInfo": {}}) + "\n")
    landing = tmp_path / "landing/crm/consents"
    landing.mkdir(parents=True)
    (landing / "2026-06-30.csv").write_text("event_id,customer_ref\nCE1,D1000001\nCE2,D10000011\n")
    online = tmp_path / "online"
    online.mkdir()
    con = sqlite3.connect(online / "store.sqlite")
    con.execute("CREATE TABLE customers (customer_id TEXT, features TEXT)")
    con.execute("INSERT INTO customers VALUES ('CU9', '{\"email\": \"ann@example.com\"}')")
    con.commit()
    con.close()
    kept = tmp_path / "lakehouse/audit/erasure_tombstone"
    kept.mkdir(parents=True)
    pq.write_table(pa.table({"id": ["D1000001"]}), kept / "part-0.parquet")   # kept by design: not searched

    found = scan_home(tmp_path, NEEDLES)
    assert found.hits == {str(table / "part-0.parquet"): 2, str(table / "_delta_log/00000000000000000000.json"): 1,
                          str(landing / "2026-06-30.csv"): 1, str(online / "store.sqlite"): 1}
    assert (found.rows_with_erased, found.files_with_erased, found.files_scanned) == (5, 4, 4)
    assert scan_home(tmp_path, {"CU0000000000CCCC"}).rows_with_erased == 0


def test_numbers_in_a_delta_log_are_not_identifiers(tmp_path):
    log = tmp_path / "lakehouse/bronze/lending_loans/_delta_log"
    log.mkdir(parents=True)
    stats = json.dumps({"numRecords": 100027, "minValues": {"borrower_no": "100027"}})
    (log / "00000000000000000000.json").write_text(json.dumps({"add": {"size": 100027, "stats": stats}}) + "\n")
    (log / "00000000000000000000.crc").write_text(json.dumps({"tableSizeBytes": 100027}))
    found = scan_home(tmp_path, {"100027"})
    assert found.hits == {str(log / "00000000000000000000.json"): 1}   # the statistics' text value, not a size
