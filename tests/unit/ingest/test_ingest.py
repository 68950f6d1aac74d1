"""Ingest, one small export at a time: landing -> bronze with the contract checks and the bronze GX suite, one
quarantine, kept results; the bronze suites generated from the contracts. (A whole generated bank ingested:
tests/integration/test_ingest.py.)"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest

from jobs import quality
from jobs.contracts import load_contract
from jobs.ingest import load, suites
from jobs.ingest.contract_checks import check_rows
from jobs.quality import DataQualityError
from jobs.tables import SOURCES

DAY = dt.date(2026, 6, 30)
TABLES = [f"{silo}_{entity}" for silo, entities in SOURCES.items() for entity in entities]

CUSTOMERS_HEADER = "cif_id,full_name,birth_date,email,phone,national_id,postcode,gender,customer_since"
CUSTOMER_ROWS = [
    "D0000001,Ann Lee,1980-01-02,ann@example.com,+1 555-010-1234,123-45-6789,12345,F,2020-01-01",
    "D0000002,Bob Ray,1975-05-06,,+1 555-010-2222,223-45-6789,22345,X,2021-03-04",  # gender X
    "D0000003,Cy Moe,1990-13-45,cy@example.com,+1 555-010-3333,323-45-6789,32345,M,2022-01-01",  # bad date
]


def _write_export(settings, silo: str, entity: str, lines: list[str]) -> None:
    path = load.landing_file(settings, silo, entity, DAY)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


# -- one export at a time --------------------------------------------------------------------------
def test_a_bad_header_fails_with_the_missing_and_unexpected_columns(lh, settings):
    header = ",".join(load_contract("deposits", "customers").column_names).replace("gender", "sex")
    _write_export(settings, "deposits", "customers", [header, CUSTOMER_ROWS[0]])
    with pytest.raises(load.ContractError, match=r"^deposits/customers/2026-06-30.csv, line 1: "
                                                 r"header does not match contract deposits_customers; "
                                                 r"missing \['gender'\]; unexpected \['sex'\]"):
        load.load_entity(lh, "deposits", "customers", DAY)
    assert not lh.exists("bronze.deposits_customers")


def test_an_export_without_optional_columns_loads_them_empty_and_counts_them(lh, settings):
    """CUSTOMERS_HEADER is an export from before the address joined the contract (a bank's older exports, files
    already in the landing folder): it loads, the address NULL, and the warning expectations count it."""
    _write_export(settings, "deposits", "customers", [CUSTOMERS_HEADER, CUSTOMER_ROWS[0]])
    report = load.load_entity(lh, "deposits", "customers", DAY)
    assert (report.rows_in, report.rows_bronze, report.rows_quarantined) == (1, 1, 0)
    bronze = lh.read("bronze.deposits_customers")
    assert bronze.columns[:12] == load_contract("deposits", "customers").column_names  # in the contract's order
    [row] = bronze.collect()
    assert (row.cif_id, row.street, row.city, row.state, row.postcode) == ("D0000001", None, None, None, "12345")
    nulls = {r.column: r for r in lh.read("audit.dq_results")
             .where("expectation = 'expect_column_values_to_not_be_null'").collect()}
    for column in ("street", "city", "state"):
        assert (nulls[column].success, nulls[column].unexpected_count) == (False, 1), column
        assert "a warning" in nulls[column].details


def test_an_export_without_a_required_column_is_refused_naming_it(lh, settings):
    header = CUSTOMERS_HEADER.replace(",national_id", "")
    _write_export(settings, "deposits", "customers", [header, CUSTOMER_ROWS[0].replace(",123-45-6789", "")])
    with pytest.raises(load.ContractError, match=r"^deposits/customers/2026-06-30.csv, line 1: header does not match "
                                                 r"contract deposits_customers; missing \['national_id', 'street', "
                                                 r"'city', 'state'\] \(required: \['national_id'\]\)$"):
        load.load_entity(lh, "deposits", "customers", DAY)
    assert not lh.exists("bronze.deposits_customers")


def test_an_empty_export_fails_the_table_level_expectation_and_writes_nothing(lh, settings):
    _write_export(settings, "deposits", "customers", [CUSTOMERS_HEADER])
    with pytest.raises(DataQualityError, match=r"bronze.deposits_customers failed 1 table-level expectation\(s\) "
                                               r"on 2026-06-30:\n  - expect_table_row_count_to_be_between"):
        load.load_entity(lh, "deposits", "customers", DAY)
    assert not lh.exists("bronze.deposits_customers") and not lh.exists("quarantine.deposits_customers")
    failed = lh.read("audit.dq_results").where("not success").collect()
    assert [(r.table, r.expectation) for r in failed] == [("bronze.deposits_customers",
                                                           "expect_table_row_count_to_be_between")]


def test_both_verdicts_land_in_one_quarantine_row(lh, settings):
    _write_export(settings, "deposits", "customers", [CUSTOMERS_HEADER, *CUSTOMER_ROWS])
    report = load.load_entity(lh, "deposits", "customers", DAY)
    assert (report.rows_in, report.rows_bronze, report.rows_quarantined) == (3, 1, 2)
    got = {r.cif_id: (r._check, r._reason) for r in lh.read("quarantine.deposits_customers").collect()}
    assert got == {
        "D0000002": ("allowed:gender; expect_column_values_to_be_in_set(gender)",
                     "gender 'X' is not one of F, M; gender must be one of F, M, got 'X'"),
        "D0000003": ("type:birth_date", "birth_date '1990-13-45' is not a valid date (yyyy-MM-dd)"),
    }
    assert [r.cif_id for r in lh.read("bronze.deposits_customers").collect()] == ["D0000001"]


def test_a_gx_only_failure_is_quarantined_with_the_expectation(lh, settings, monkeypatch):
    def without_allowed_values(df, contract):  # the contract checks forget `allowed`; the suite still has it
        stripped = tuple(dataclasses.replace(c, allowed=None) for c in contract.columns)
        return check_rows(df, dataclasses.replace(contract, columns=stripped))

    monkeypatch.setattr(load, "check_rows", without_allowed_values)
    _write_export(settings, "deposits", "customers", [CUSTOMERS_HEADER, *CUSTOMER_ROWS[:2]])
    report = load.load_entity(lh, "deposits", "customers", DAY)
    assert report.rows_quarantined == 1 and report.balanced
    [row] = lh.read("quarantine.deposits_customers").collect()
    assert (row.cif_id, row._check, row._reason) == (
        "D0000002", "expect_column_values_to_be_in_set(gender)", "gender must be one of F, M, got 'X'")
    [result] = (lh.read("audit.dq_results").where("expectation = 'expect_column_values_to_be_in_set'")
                .where("column = 'gender'").collect())
    assert (result.success, result.unexpected_count) == (False, 1) and "quarantined: 1" in result.details


def test_a_file_redelivered_with_other_content_is_refused_and_replaces_the_date_only_when_accepted(lh, settings):
    """The same name, other bytes: the silo sent the date again. Refused by default, naming both checksums, the
    date's rows as they were; with MARKETOFONE_ACCEPT_REDELIVERY=1 the new file replaces the date."""
    from jobs.tables import Lakehouse

    _write_export(settings, "deposits", "customers", [CUSTOMERS_HEADER, *CUSTOMER_ROWS])
    load.load_entity(lh, "deposits", "customers", DAY)
    before = _bronze_and_quarantine(lh), lh.version("bronze.deposits_customers")
    _write_export(settings, "deposits", "customers", [CUSTOMERS_HEADER, CUSTOMER_ROWS[0]])
    with pytest.raises(load.RedeliveredExportError, match=r"^deposits/customers/2026-06-30.csv: re-delivered with "
                                                          r"other content: sha256 [0-9a-f]{12} \(3 rows\) loaded for "
                                                          r"2026-06-30, this file is sha256 [0-9a-f]{12}; nothing "
                                                          r"loaded.*MARKETOFONE_ACCEPT_REDELIVERY=1$"):
        load.load_entity(lh, "deposits", "customers", DAY)
    assert (_bronze_and_quarantine(lh), lh.version("bronze.deposits_customers")) == before
    lh = Lakehouse(lh.spark, settings.with_(accept_redelivery=True))
    report = load.load_entity(lh, "deposits", "customers", DAY)
    assert (report.rows_in, report.rows_bronze, report.rows_quarantined, report.skipped) == (1, 1, 0, False)
    assert lh.read("quarantine.deposits_customers").count() == 0
    again = load.load_entity(lh, "deposits", "customers", DAY)  # all rows valid: still recognized as loaded
    assert again.skipped


# -- the bronze suites are generated from the contracts --------------------------------------------
@pytest.mark.parametrize("table", TABLES)
def test_the_bronze_suite_on_disk_is_what_the_contract_generates(table):
    silo, entity = table.split("_", 1)
    contract = load_contract(silo, entity)
    path = suites.suite_file(contract)
    assert json.loads(path.read_text()) == suites.suite_from_contract(contract), (
        f"{path} differs from its contract: run python -m jobs.ingest.suites --write")
    suite = quality.load_suite(f"bronze.{table}")  # and GX loads it
    types = [e.expectation_type for e in suite.expectations]
    assert types[:2] == ["expect_table_row_count_to_be_between", "expect_table_columns_to_match_set"]
    required = [c.name for c in contract.columns if c.required]
    expected = [c.name for c in contract.columns if c.expected]
    assert types.count("expect_column_values_to_not_be_null") == len(required) + len(expected)
    warnings = [e.configuration.kwargs["column"] for e in suite.expectations
                if (e.configuration.meta or {}).get("severity") == "warning"]
    assert warnings == expected   # an expected column's not-null is a warning; a required one's is not
    assert types.count("expect_column_values_to_match_regex") == sum(1 for c in contract.columns if c.pattern)
    assert types.count("expect_column_values_to_be_in_set") == sum(1 for c in contract.columns if c.allowed)
    assert types[-1] == ("expect_column_values_to_be_unique" if len(contract.key) == 1
                         else "expect_compound_columns_to_be_unique")


def test_suites_command_checks_and_writes(tmp_path, capsys):
    assert suites.main(["--check"]) == 0
    assert suites.stale(tmp_path) == [suites.suite_file(c, tmp_path) for c in suites.contracts()]
    assert len(suites.write(tmp_path)) == len(TABLES) and suites.stale(tmp_path) == []
    assert suites.write(tmp_path) == []  # nothing rewritten when up to date


# -- malformed lines, read errors and all-or-nothing silos ---------------------------------------------
def _customers(n: int) -> list[str]:
    """`n` well-formed customer lines (unique ids, valid values)."""
    return [f"D{i:07d},Name {i},1980-01-02,p{i}@example.com,+1 555-010-{i:04d},{i:03d}-45-6789,12345,F,2020-01-01"
            for i in range(1, n + 1)]


def test_a_line_with_the_wrong_number_of_fields_is_quarantined_and_the_rest_loads(lh, settings):
    good = _customers(40)
    short, long_ = "D0000900,Short Row,1980-01-02", good[5].replace("D0000006", "D0000901") + ",extra"
    lines = [CUSTOMERS_HEADER, *good[:10], short, *good[10:30], long_, *good[30:]]
    _write_export(settings, "deposits", "customers", lines)
    report = load.load_entity(lh, "deposits", "customers", DAY)
    assert (report.rows_in, report.rows_bronze, report.rows_quarantined, report.rows_malformed) == (42, 40, 2, 2)
    assert report.balanced
    got = {r._line: r for r in lh.read("quarantine.deposits_customers").collect()}
    assert set(got) == {12, 33}   # file lines: the header is line 1
    assert got[12]._check == "structure" and got[12]._raw_line == short
    assert got[12]._reason == "line 12: 3 fields where the header has 9"
    assert got[33]._raw_line == long_ and got[33]._reason == "line 33: 10 fields where the header has 9"
    assert got[12]._source_file == "deposits/customers/2026-06-30.csv" and got[12].cif_id is None
    # bronze keeps file order, and the malformed lines keep their place in it
    rows = sorted([*lh.read("bronze.deposits_customers").select("_row_id", "cif_id").collect(),
                   *[(r._row_id, f"line {r._line}") for r in got.values()]])
    assert [c for _, c in rows] == [*[f"D{i:07d}" for i in range(1, 11)], "line 12",
                                    *[f"D{i:07d}" for i in range(11, 31)], "line 33",
                                    *[f"D{i:07d}" for i in range(31, 41)]]


def test_bytes_that_are_not_utf8_are_quarantined_with_the_line(lh, settings):
    good = _customers(30)
    path = load.landing_file(settings, "deposits", "customers", DAY)
    path.parent.mkdir(parents=True, exist_ok=True)
    latin1 = "D0000777,J\xe9r\xf4me Lee,1980-01-02,j@example.com,+1 555-010-0777,777-45-6789,12345,M,2020-01-01"
    path.write_bytes("\n".join([CUSTOMERS_HEADER, *good[:20]]).encode() + b"\n" + latin1.encode("latin-1")
                     + b"\n" + "\n".join(good[20:]).encode() + b"\n")
    report = load.load_entity(lh, "deposits", "customers", DAY)
    assert (report.rows_in, report.rows_bronze, report.rows_quarantined, report.rows_malformed) == (31, 30, 1, 1)
    [row] = lh.read("quarantine.deposits_customers").collect()
    assert row._line == 22 and row._reason == "line 22: not UTF-8: byte 0xe9 at byte 11 of the line"
    assert row._raw_line == latin1.replace("\xe9", "\\xe9").replace("\xf4", "\\xf4")
    assert "J\ufffd" not in str(lh.read("bronze.deposits_customers").collect())  # no silently replaced bytes


def test_a_file_with_mostly_malformed_lines_fails_as_a_contract_violation(lh, settings):
    semicolons = [line.replace(",", ";") for line in _customers(20)]  # the silo changed its delimiter
    _write_export(settings, "deposits", "customers", [CUSTOMERS_HEADER, *_customers(5), *semicolons])
    with pytest.raises(load.ContractError, match=r"deposits/customers/2026-06-30.csv: 20 of 25 lines are malformed "
                                                 r"\(80%, more than the 10% .*the first, line 7: 1 field where"):
        load.load_entity(lh, "deposits", "customers", DAY)
    assert not lh.exists("bronze.deposits_customers") and not lh.exists("quarantine.deposits_customers")


def test_a_header_that_is_not_utf8_names_the_file(lh, settings):
    path = load.landing_file(settings, "deposits", "customers", DAY)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(CUSTOMERS_HEADER.replace("full_name", "nom_pr\xe9nom").encode("latin-1") + b"\n"
                     + "\n".join(_customers(3)).encode() + b"\n")
    with pytest.raises(load.ContractError, match=r"^deposits/customers/2026-06-30.csv, line 1: the header is not "
                                                 r"UTF-8 text$"):
        load.load_entity(lh, "deposits", "customers", DAY)


def test_a_silo_loads_all_or_nothing_for_a_date(lh, settings):
    """deposits/customers is fine, deposits/accounts breaks its contract: no deposits table is written."""
    _write_export(settings, "deposits", "customers", [CUSTOMERS_HEADER, *_customers(3)])
    _write_export(settings, "deposits", "accounts", ["acct,owner", "A1,D0000001"])
    with pytest.raises(load.ContractError, match=r"deposits/accounts/2026-06-30.csv, line 1: header does not match"):
        load.run(lh, DAY, ("deposits",))
    assert not lh.exists("bronze.deposits_customers") and not lh.exists("quarantine.deposits_customers")
    # a missing file stops the silo the same way, before anything is written
    (load.landing_file(settings, "deposits", "accounts", DAY)).unlink()
    with pytest.raises(load.MissingExportError, match="no deposits/accounts export for 2026-06-30"):
        load.run(lh, DAY, ("deposits",))
    assert not lh.exists("bronze.deposits_customers")


def test_an_empty_export_is_validated_whichever_date_created_the_tables(lh, settings):
    """A day without life events is an empty export, which the suite accepts. Its results were recorded only when
    it was loaded before any other date (the tables did not exist yet): run after one, it was taken for already
    loaded and skipped, so audit.dq_results depended on the order the dates ran in (found running the ingests of
    two dates at once). It is validated until its results are in, and adds no empty version to the tables."""
    header = ",".join(load_contract("crm", "life_events").column_names)
    next_day = DAY + dt.timedelta(days=1)
    for day in (next_day, DAY):   # the empty day first: it creates the tables
        path = load.landing_file(settings, "crm", "life_events", day)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(header + "\n")
    report = load.load_entity(lh, "crm", "life_events", next_day)
    assert (report.rows_in, report.rows_bronze, report.rows_quarantined, report.skipped) == (0, 0, 0, False)
    load.load_entity(lh, "crm", "life_events", DAY)
    versions = lh.version("bronze.crm_life_events"), lh.version("quarantine.crm_life_events")
    for _ in range(2):   # and again, once the tables exist: results recorded, no new table version
        lh.delete_matching("audit.dq_results", lh.read("audit.dq_results").where(
            f"run_date = DATE'{next_day}'"), ("run_date",))
        assert not lh.read("audit.dq_results").where(f"run_date = DATE'{next_day}'").count()
        report = load.load_entity(lh, "crm", "life_events", next_day)
        assert (report.rows_in, report.skipped) == (0, False)
        checked = {r.expectation for r in lh.read("audit.dq_results").where(
            f"run_date = DATE'{next_day}' and table = 'bronze.crm_life_events'").collect()}
        assert "expect_table_row_count_to_be_between" in checked
    assert (lh.version("bronze.crm_life_events"), lh.version("quarantine.crm_life_events")) == versions
    # Its results in, a re-run is the re-run of a loaded file: skipped, no new version anywhere.
    results_version = lh.version("audit.dq_results")
    assert load.load_entity(lh, "crm", "life_events", next_day).skipped
    assert lh.version("audit.dq_results") == results_version


# -- faults in a delivery (issue 18): cut off, drifted, re-delivered ------------------------------------------------
def _bronze_and_quarantine(lh) -> tuple[list, list]:
    return (sorted(tuple(r) for r in lh.read("bronze.deposits_customers").drop("_loaded_at").collect()),
            sorted(tuple(r) for r in lh.read("quarantine.deposits_customers").drop("_loaded_at").collect()))


@pytest.mark.parametrize("cut", [
    pytest.param(-40, id="mid-row: fields lost"),
    pytest.param(-2, id="in the last field: a wrong value, all fields there"),
    pytest.param(-13, id="in a multi-byte character"),
])
def test_a_file_cut_off_mid_row_quarantines_its_last_line_saying_so_and_loads_the_rest(lh, settings, cut):
    """A transfer stopped part way: the last line lost its end (and its line break). Cut in its last field it
    still has every field (`2020-01-0` for `2020-01-01`, or `12345` for `123456` in a text column): a wrong value
    that no field count finds, so the line is quarantined for being cut off, whatever it holds."""
    good = _customers(20)
    last = "D0000999,Zo\u00eb Lee,1980-01-02,z@example.com,+1 555-010-0999,999-45-6789,12345,F,2020-01-01"
    content = ("\n".join([CUSTOMERS_HEADER, *good, last]) + "\n").encode()
    path = load.landing_file(settings, "deposits", "customers", DAY)
    path.parent.mkdir(parents=True, exist_ok=True)
    if cut == -13:   # "Zo" + the first byte of "ë" (2 bytes in UTF-8)
        cut = content.index("\u00eb".encode()) + 1 - len(content)
    path.write_bytes(content[:cut])
    report = load.load_entity(lh, "deposits", "customers", DAY)
    assert (report.rows_in, report.rows_bronze, report.rows_quarantined, report.rows_malformed) == (21, 20, 1, 1)
    [row] = lh.read("quarantine.deposits_customers").collect()
    assert row._line == 22 and row._check == "structure" and row.cif_id is None
    if cut == -2:
        assert row._reason == "line 22: the file ends in this line, without a line break: cut off"
        assert row._raw_line == last[:-1]
    elif cut == -40:
        assert row._reason.startswith("line 22: 5 fields where the header has 9; the file ends in this line")
    else:
        assert row._reason.startswith("line 22: not UTF-8") and row._raw_line == "D0000999,Zo\\xc3"
    assert sorted(r.cif_id for r in lh.read("bronze.deposits_customers").collect()) == [
        f"D{i:07d}" for i in range(1, 21)]


def test_a_whole_last_line_without_its_line_break_is_quarantined_too(lh, settings):
    """The line break is what tells a whole last line from a cut one: without it, even a row that looks whole is
    held back (it may be `...,2020-01-0` of `...,2020-01-01`, or a text cut short), never loaded as it is."""
    path = load.landing_file(settings, "deposits", "customers", DAY)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([CUSTOMERS_HEADER, *_customers(20)]))
    report = load.load_entity(lh, "deposits", "customers", DAY)
    assert (report.rows_in, report.rows_bronze, report.rows_quarantined, report.rows_malformed) == (20, 19, 1, 1)
    [row] = lh.read("quarantine.deposits_customers").collect()
    assert (row._line, row._raw_line) == (21, _customers(20)[-1])


@pytest.mark.parametrize("header, named", [
    (CUSTOMERS_HEADER + ",segment", r"unexpected \['segment'\]"),   # a column added at the end
    (CUSTOMERS_HEADER.replace("email,", "email,email_verified,"), r"unexpected \['email_verified'\]"),
    (CUSTOMERS_HEADER.replace("national_id", "ssn"), r"missing \['national_id', 'street', 'city', 'state'\] "
                                                      r"\(required: \['national_id'\]\); unexpected \['ssn'\]$"),
], ids=["added at the end", "added in the middle", "renamed"])
def test_a_silo_whose_columns_drifted_is_refused_naming_the_column_and_nothing_changes(lh, settings, header, named):
    """Schema drift: the contract has no room for a column it does not name (a new one may hold personal data
    nobody has classified), and a renamed required column is a missing one. Loaded before, the date stays as it
    was."""
    _write_export(settings, "deposits", "customers", [CUSTOMERS_HEADER, *CUSTOMER_ROWS])
    load.load_entity(lh, "deposits", "customers", DAY)
    before = _bronze_and_quarantine(lh), lh.version("bronze.deposits_customers")
    width = len(header.split(","))
    rows = [",".join((r.split(",") + ["x"] * width)[:width]) for r in CUSTOMER_ROWS]
    _write_export(settings, "deposits", "customers", [header, *rows])
    with pytest.raises(load.ContractError, match=r"^deposits/customers/2026-06-30.csv, line 1: header does not match "
                                                 r"contract deposits_customers; .*" + named):
        load.load_entity(lh, "deposits", "customers", DAY)
    assert (_bronze_and_quarantine(lh), lh.version("bronze.deposits_customers")) == before


def test_a_file_whose_ranges_cannot_be_placed_is_numbered_line_by_line_and_loads_whole(lh, settings, monkeypatch):
    def unknown(staged, path, columns):
        raise load.FilePositionsUnknown(f"{path.name}: not placed")

    monkeypatch.setattr(load, "with_file_positions", unknown)
    _write_export(settings, "deposits", "customers", [CUSTOMERS_HEADER, *_customers(30)])
    report = load.load_entity(lh, "deposits", "customers", DAY)
    assert (report.rows_in, report.rows_bronze, report.rows_quarantined) == (30, 30, 0)
    rows = sorted(lh.read("bronze.deposits_customers").select("_row_id", "cif_id").collect())
    assert rows == [(i, f"D{i + 1:07d}") for i in range(30)]
