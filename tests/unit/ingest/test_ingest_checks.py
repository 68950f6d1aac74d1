import pytest

from jobs.contracts import ColumnContract, Contract, typed
from jobs.ingest.contract_checks import check_rows, split_checked

CONTRACT = Contract(
    silo="deposits", entity="toy", key=("txn_id",),
    columns=(
        ColumnContract("txn_id", required=True, pattern="^T[0-9]+$"),
        ColumnContract("booking_date", type="date", format="MM/dd/yyyy", required=True),
        ColumnContract("amount", type="decimal", required=True, min=0),
        ColumnContract("currency", allowed=("USD",)),
    ),
)
ROWS = [
    ("T1", "01/31/2026", "10.50", "USD", 0),
    ("T2", "13/45/2026", "5.00", "USD", 1),    # bad date
    ("T3", "02/01/2026", "-3.00", "XXX", 2),   # negative amount and unknown currency
    ("", "02/01/2026", "1.00", "USD", 3),       # missing id
    ("T1", "02/02/2026", "7.00", "USD", 4),    # duplicate id (the first T1 is kept)
    ("T6", "02/03/2026", "n/a", None, 5),      # amount not a number
]


def _frame(spark):
    return spark.createDataFrame(
        ROWS, "txn_id string, booking_date string, amount string, currency string, _row_id long"
    )


def test_each_broken_rule_quarantines_the_row_with_a_reason(spark):
    checked = {r._row_id: r for r in check_rows(_frame(spark), CONTRACT).collect()}
    assert checked[0]._rule is None and checked[0]._reason is None
    assert checked[1]._rule == "type:booking_date"
    assert "booking_date '13/45/2026' is not a valid date (MM/dd/yyyy)" in checked[1]._reason
    assert checked[2]._rule == "min:amount; allowed:currency"  # in contract column order
    assert "amount '-3.00' is below the minimum 0" in checked[2]._reason
    assert "currency 'XXX' is not one of USD" in checked[2]._reason
    assert checked[3]._rule.startswith("required:txn_id")
    assert checked[4]._rule == "unique:txn_id" and "duplicate txn_id T1" in checked[4]._reason
    assert checked[5]._rule == "type:amount"



def test_a_key_repeated_keeps_its_first_row_in_file_order_and_empty_parts_repeat_nothing(spark):
    """Composite key (account, seq): the first of three rows of a key (by `_row_id`, not by where it stands in
    the frame) is kept and the other two are duplicates; a key with an empty or NULL part repeats nothing; the
    columns come back in their order."""
    contract = Contract(silo="deposits", entity="toy", key=("account", "seq"),
                        columns=(ColumnContract("account"), ColumnContract("seq")))
    rows = [("A", "1", 7), ("A", "1", 2), ("A", "2", 3), ("A", "1", 9), ("", "1", 4), ("", "1", 5),
            (None, "1", 6), (None, "1", 8)]
    frame = spark.createDataFrame(rows, "account string, seq string, _row_id long")
    checked = check_rows(frame, contract)
    assert checked.columns == ["account", "seq", "_row_id", "_rule", "_reason"]
    rules = {r._row_id: r._rule for r in checked.collect()}
    assert rules == {2: None, 3: None, 4: None, 5: None, 6: None, 7: "unique:account+seq", 8: None,
                     9: "unique:account+seq"}

def test_rows_in_equal_valid_plus_quarantined(spark):
    valid, quarantined = split_checked(check_rows(_frame(spark), CONTRACT))
    assert valid.count() == 1 and quarantined.count() == 5
    assert "_reason" not in valid.columns and "_reason" in quarantined.columns


def test_typed_parses_the_silo_formats(spark):
    row = typed(_frame(spark), CONTRACT).where("_row_id = 0").collect()[0]
    assert str(row.booking_date) == "2026-01-31" and row.amount == 10.5 and row._row_id == 0


# -- landing files as bytes (jobs/ingest/landing.py): no Spark ---------------------------------------------
def _scan(tmp_path, content: bytes, n_fields: int = 3):
    from jobs.ingest import landing

    path = tmp_path / "export.csv"
    path.write_bytes(content)
    return landing.scan_lines(path, n_fields, tmp_path / "clean.csv")


def test_scan_finds_each_malformed_line_with_its_number_and_text(tmp_path):
    huge = b"10," + b"x" * 200_000 + b",12"  # past csv's field size limit: not a record csv can read
    scan = _scan(tmp_path, b'a,b,c\n1,2,3\n4,5\n\n"6\nsix",7,8\n9,\xff,9\n' + huge + b"\n13,14,15,16\n17,18,19\n")
    got = [(m.row, m.line, m.reason, m.text) for m in scan.malformed]
    assert got == [
        (1, 3, "2 fields where the header has 3", "4,5"),
        (3, 7, "not UTF-8: byte 0xff at byte 3 of the line", "9,\\xff,9"),
        (4, 8, "not CSV: field larger than field limit (131072)", huge.decode()),
        (5, 9, "4 fields where the header has 3", "13,14,15,16"),
    ]
    # the blank line is no record; a quoted field may span lines; the clean copy keeps each record's position
    assert (scan.records, scan.data_lines, scan.malformed_lines) == (7, 8, 4)
    assert scan.clean.read_text() == 'a,b,c,_row_id\n1,2,3,0\n"6\nsix",7,8,2\n17,18,19,6\n'


def test_a_clean_file_is_one_pass_over_its_bytes(tmp_path):
    from jobs.ingest import landing

    path = tmp_path / "export.csv"
    path.write_bytes("a,b,c\n1,é,3\n".encode())
    facts = landing.inspect(path)
    assert facts.utf8 and facts.has_data_rows and facts.header == ["a", "b", "c"]
    path.write_bytes(b"a,b,c\n1,\xc3")   # a character cut off by the end of the file
    assert not landing.inspect(path).utf8


def test_a_header_may_lack_optional_columns_but_not_required_ones_nor_the_order(tmp_path):
    """check_header returns the optional columns the file lacks (they load as NULL); a missing required column,
    an unknown one or another order refuses the file, saying which."""
    import pytest

    from jobs.ingest import landing

    def facts(header: str):
        path = tmp_path / "export.csv"
        path.write_text(header + "\n")
        return landing.inspect(path)

    expected, optional = ["id", "name", "street", "city", "phone"], ("street", "city", "phone")
    assert landing.check_header(facts("id,name,street,city,phone"), expected, "f.csv", "t", optional) == []
    assert landing.check_header(facts("id,name,phone"), expected, "f.csv", "t", optional) == ["street", "city"]
    with pytest.raises(landing.ContractError, match=r"^f.csv, line 1: header does not match contract t; "
                                                    r"missing \['name', 'city'\] \(required: \['name'\]\)$"):
        landing.check_header(facts("id,street,phone"), expected, "f.csv", "t", optional)
    with pytest.raises(landing.ContractError, match=r"unexpected \['town'\]$"):
        landing.check_header(facts("id,name,street,city,phone,town"), expected, "f.csv", "t", optional)
    with pytest.raises(landing.ContractError, match=r"missing \['street'\]; columns out of order$"):
        landing.check_header(facts("id,name,phone,city"), expected, "f.csv", "t", optional)
    # without optional columns named, the header must be the contract's columns exactly
    with pytest.raises(landing.ContractError, match=r"missing \['street', 'city'\] \(required"):
        landing.check_header(facts("id,name,phone"), expected, "f.csv", "t")


def test_absent_optional_columns_read_as_null_text_in_contract_order(spark):
    import pytest

    from jobs.contracts import with_absent_columns

    contract = Contract("deposits", "toy", ("id",), (
        ColumnContract("id", required=True), ColumnContract("street", expected=True), ColumnContract("city")))
    frame = spark.createDataFrame([("A", "Springfield", 0)], "id string, city string, _row_id long")
    filled = with_absent_columns(frame, contract)
    assert filled.columns == ["id", "street", "city", "_row_id"]
    assert dict(filled.dtypes)["street"] == "string"
    assert [tuple(r) for r in filled.collect()] == [("A", None, "Springfield", 0)]
    with pytest.raises(ValueError, match=r"required column\(s\) \['id'\] missing"):
        with_absent_columns(frame.drop("id"), contract)


def test_more_malformed_lines_than_the_share_allowed_fail_the_file(tmp_path):
    import pytest

    from jobs.ingest import landing

    scan = _scan(tmp_path, b"a,b,c\n" + b"1,2,3\n" * 9 + b"1;2;3\n")
    landing.check_malformed_share(scan, "x/y.csv", 0.1)   # 1 in 10: quarantined, the rest loads
    with pytest.raises(landing.ContractError, match=r"x/y.csv: 1 of 10 lines are malformed \(10%, more than the 5%"):
        landing.check_malformed_share(scan, "x/y.csv", 0.05)


def test_row_ids_become_positions_in_the_file_whatever_the_engines_partitions(spark, tmp_path):
    """monotonically_increasing_id puts the read partition in the upper bits: Sail and the JVM split one file
    differently, so the same row had another `_row_id` on each (found by the three-engine parity run)."""
    from jobs.ingest.load import with_file_positions

    part = 1 << 33
    ids = [part + 0, part + 1, 0, 1, 2, 3 * part + 0]   # partitions 0 (3 rows), 1 (2 rows), 3 (1 row)
    path = tmp_path / "export.csv"
    path.write_text("raw\n" + "".join(f"{i}\n" for i in sorted(ids)))
    staged = spark.createDataFrame([(i, str(i)) for i in ids], "_row_id long, raw string")
    positions = {r.raw: r._row_id for r in with_file_positions(staged, path, ["raw"]).collect()}
    assert positions == {"0": 0, "1": 1, "2": 2, str(part): 3, str(part + 1): 4, str(3 * part): 5}
    single = spark.createDataFrame([(0, "a"), (1, "b")], "_row_id long, raw string")
    assert with_file_positions(single, path, ["raw"]) is single   # one partition from 0: already positions


def _as_read(spark, partitions: list[list[int]]):
    """Rows as the engine read them: `_row_id` in its form (partition index << 33 | place in the partition), where
    partition i holds the file's records numbered in `partitions[i]`, in that order."""
    rows = [(str(n), f"name {n}", (i << 33) + place)
            for i, part in enumerate(partitions) for place, n in enumerate(part)]
    return spark.createDataFrame(rows, "a string, b string, _row_id long")


def test_row_ids_follow_the_file_even_when_the_engine_numbers_its_ranges_out_of_order(spark, tmp_path):
    from jobs.ingest.load import with_file_positions

    path = tmp_path / "export.csv"
    path.write_text("a,b\n" + "".join(f"{n},name {n}\n" for n in range(10)))
    # The file's second byte range got partition index 0: Sail did so on some writes of the same read.
    got = with_file_positions(_as_read(spark, [[6, 7, 8, 9], [0, 1, 2, 3, 4, 5]]), path, ["a", "b"])
    assert sorted((r._row_id, int(r.a)) for r in got.collect()) == [(n, n) for n in range(10)]


def test_row_ids_are_not_guessed_when_a_range_starts_with_a_record_the_file_holds_twice(spark, tmp_path):
    from jobs.ingest.load import FilePositionsUnknown, with_file_positions

    path = tmp_path / "export.csv"
    path.write_text("a,b\n" + "".join(f"{n},name {n}\n" for n in [0, 1, 2, 3, 0, 4]))
    with pytest.raises(FilePositionsUnknown, match="2 read partitions could not be placed"):
        with_file_positions(_as_read(spark, [[0, 1, 2, 3], [0, 4]]), path, ["a", "b"])
