"""The people being erased taken out of landing exports, channel exports, event files, reports and stores."""

import json
import sqlite3
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq

from jobs.privacy import files
from jobs.privacy.subjects import Identifiers

ERASED = Identifiers(golden=frozenset({"CU0000000000AAAA"}),
                     customers=frozenset({("deposits", "D1000001"), ("cards", "C-000002")}),
                     accounts=frozenset({("deposits", "DA000000011"), ("cards", "CA00000021")}))


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def test_landing_export_loses_only_the_persons_records_and_keeps_every_other_byte(tmp_path):
    header = "account_id,cif_id,product,open_date,balance,currency\r\n"
    keep = ['DA000000099,D1000009,checking,2016-12-14,5780.32,USD\r\n',
            '"DA000000098",D1000008,"savings, joint",2002-07-10,2396.87,USD\r\n',
            b"DA000000097,D1000007,checking,caf\xe9,1.00,USD\r\n".decode("utf-8", "surrogateescape")]
    gone = ['DA000000011,D1000001,checking,2016-12-14,10.00,USD\r\n',    # by the owner and the account
            'DA000000012, D1000001 ,savings,2016-12-14,10.00,USD\r\n',   # by the owner, padded
            'DA000000011,D1000001,cut off\r\n']                         # malformed: any field
    text = header + keep[0] + gone[0] + keep[1] + gone[1] + keep[2] + gone[2]
    path = _write(tmp_path / "landing/deposits/accounts/2026-06-30.csv",
                  text.encode("utf-8", "surrogateescape"))
    [rewritten] = files.rewrite_landing(tmp_path / "landing", ERASED)
    assert path.read_bytes() == text.encode("utf-8", "surrogateescape")   # not yet in place
    rewritten.put_in_place()
    assert path.read_bytes() == (header + "".join(keep)).encode("utf-8", "surrogateescape")
    assert rewritten.removed == Counter({"D1000001": 2, "DA000000011": 1})
    assert rewritten.before != rewritten.after == files.sha256(path)


def test_crm_exports_name_the_person_by_silo_and_ref(tmp_path):
    header = "event_id,customer_ref,customer_silo,purpose,channel,status,recorded_at,source\n"
    mine = "CE1,D1000001,deposits,marketing,mobile,granted,2023-01-15 16:12:49,onboarding\n"
    other_silo = "CE2,D1000001,lending,marketing,mobile,granted,2023-01-15 16:12:49,onboarding\n"
    path = _write(tmp_path / "landing/crm/consents/2026-06-30.csv", header + mine + other_silo)
    [rewritten] = files.rewrite_landing(tmp_path / "landing", ERASED)
    rewritten.put_in_place()
    assert path.read_text() == header + other_silo   # the same id in another silo is another person


def test_a_landing_file_without_the_person_is_left_alone(tmp_path):
    path = _write(tmp_path / "landing/deposits/customers/2026-06-30.csv", "cif_id,full_name\nD1000009,Ann Lee\n")
    mtime = path.stat().st_mtime_ns
    assert files.rewrite_landing(tmp_path / "landing", ERASED) == []
    assert path.stat().st_mtime_ns == mtime and not list(path.parent.glob(".*"))


def test_channel_exports_lose_the_persons_offers(tmp_path):
    table = pa.table({"customer_id": ["CU0000000000AAAA", "CU0000000000BBBB"], "rank": [1, 1]})
    parquet = tmp_path / "exports/mobile/2026-06-30.parquet"
    parquet.parent.mkdir(parents=True)
    pq.write_table(table, parquet)
    csv = _write(tmp_path / "exports/mobile/2026-06-30.csv",
                 '"customer_id","rank"\n"CU0000000000AAAA",1\n"CU0000000000BBBB",1\n')
    changed = files.rewrite_channel_exports(tmp_path / "exports", ERASED)
    assert changed == {parquet: Counter({"CU0000000000AAAA": 1}), csv: Counter({"CU0000000000AAAA": 1})}
    assert pq.read_table(parquet)["customer_id"].to_pylist() == ["CU0000000000BBBB"]
    assert csv.read_text() == '"customer_id","rank"\n"CU0000000000BBBB",1\n'


def test_event_lines_reports_and_sqlite_stores_lose_the_person(tmp_path):
    events = _write(tmp_path / "stream/events/2026-07-01/part-00000.jsonl",
                    json.dumps({"source": "cards", "account_id": "CA00000021"}) + "\n"
                    + json.dumps({"source": "cards", "account_id": "CA00000099"}) + "\nnot json,D1000001\n")
    assert files.rewrite_json_lines([events], ERASED) == {events: Counter({"CA00000021": 1, "D1000001": 1})}
    assert events.read_text() == json.dumps({"source": "cards", "account_id": "CA00000099"}) + "\n"

    sample = [{"holder_ref": "C-000002"}, {"holder_ref": "C-9"}]
    report = _write(tmp_path / "data_quality/bronze.cards_cardholders/2026-06-30.json",
                    json.dumps({"table": "bronze.cards_cardholders", "quarantine_sample": sample}))
    assert files.rewrite_dq_reports(tmp_path / "data_quality", ERASED) == {report: Counter({"C-000002": 1})}
    assert json.loads(report.read_text())["quarantine_sample"] == [{"holder_ref": "C-9"}]

    store = tmp_path / "online/store.sqlite"
    store.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(store)
    con.execute("CREATE TABLE customers (customer_id TEXT PRIMARY KEY, candidates TEXT)")
    con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    con.executemany("INSERT INTO customers VALUES (?, ?)", [("CU0000000000AAAA", "[]"), ("CU0000000000BBBB", "[]")])
    con.execute("INSERT INTO meta VALUES ('as_of_date', '2026-06-30')")
    con.commit()
    con.close()
    assert files.scrub_sqlite(store.parent, ERASED) == {store: Counter({"CU0000000000AAAA": 1})}
    con = sqlite3.connect(store)
    assert con.execute("SELECT customer_id FROM customers").fetchall() == [("CU0000000000BBBB",)]
    assert con.execute("SELECT count(*) FROM meta").fetchone() == (1,)
    con.close()


def test_a_master_export_loses_a_record_of_the_person_whose_id_is_broken(tmp_path):
    ids = Identifiers(customers=frozenset({("cards", "C-000002")}),
                      raw=frozenset({("cards", "email", "ann@example.com")}))
    header = "holder_ref,first_name,email\n"
    path = _write(tmp_path / "landing/cards/cardholders/2026-07-01.csv",
                  header + "C-00000?,Ann,ann@example.com\nC-9,Bob,bob@example.com\n")
    [rewritten] = files.rewrite_landing(tmp_path / "landing", ids)
    rewritten.put_in_place()
    assert path.read_text() == header + "C-9,Bob,bob@example.com\n"
    assert rewritten.removed == Counter({"ann@example.com": 1})
