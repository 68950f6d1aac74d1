"""Ingest of a whole generated bank (the small_bank fixture: 300 customers, every silo): every landed row is
in bronze or the quarantine, every generated defect is quarantined with its checks, results are kept per
table and show no personal data, a rerun writes nothing, and `marketofone dq` says what failed."""

from __future__ import annotations

import csv
import datetime as dt
import json

import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F

from jobs import cli, quality
from jobs.contracts import load_contract
from jobs.ingest import load
from jobs.tables import SOURCES, quarantine_of

DAY = dt.date(2026, 6, 30)   # the small_bank's export date
TABLES = [f"{silo}_{entity}" for silo, entities in SOURCES.items() for entity in entities]

# What each kind of generated defect must be quarantined for: contract rule ids and GX expectation ids.
EXPECTED_CHECKS = {
    "bad_date": lambda c: [f"type:{c}"],  # parsing in the silo's format: contract checks only
    "negative_amount": lambda c: [f"min:{c}"],  # bounds on the parsed value: contract checks only
    "unknown_currency": lambda c: [f"allowed:{c}", f"expect_column_values_to_be_in_set({c})"],
    "empty_id": lambda c: [f"required:{c}", f"expect_column_values_to_not_be_null({c})"],
    "duplicate_key": lambda c: [f"unique:{c}", f"expect_column_values_to_be_unique({c})"],
}


def _landed_rows(lh, table: str) -> int:
    silo, entity = table.split("_", 1)
    with load.landing_file(lh.settings, silo, entity, DAY).open(newline="", encoding="utf-8") as fh:
        return sum(1 for _ in csv.reader(fh)) - 1


def _for_day(lh, name: str):
    return lh.read(name).where(F.col("_logical_date") == F.lit(DAY))


# -- the generated bank: every table ------------------------------------------------------------
@pytest.mark.parametrize("table", TABLES)
def test_rows_landed_equal_rows_in_bronze_plus_rows_quarantined(small_bank, table):
    lh, reports = small_bank
    landed = _landed_rows(lh, table)
    bronze, quarantined = _for_day(lh, f"bronze.{table}").count(), _for_day(lh, f"quarantine.{table}").count()
    assert landed == bronze + quarantined, table
    assert bronze > 0 or table == "channels_responses"   # no offer was published before this bank's export
    report = reports[table]
    assert (report.rows_in, report.rows_bronze, report.rows_quarantined) == (landed, bronze, quarantined)
    assert report.balanced and not report.skipped


@pytest.mark.parametrize("table", TABLES)
def test_every_generated_defect_is_quarantined_with_its_checks(small_bank, table):
    lh, _ = small_bank
    silo, entity = table.split("_", 1)
    truth = pq.read_table(lh.settings.ground_truth / "defects" / "2026-06-30.parquet").to_pylist()
    # Orphan references are well-formed: bronze keeps them, silver quarantines them (test_silver_quality).
    defects = [d for d in truth if d["file"] == f"{silo}/{entity}" and d["kind"] != "orphan_ref"]
    # The generator breaks at least one row per kind in a file of 100 rows or more.
    assert defects or _landed_rows(lh, table) < 100, f"the generator logged no defect for {table}"
    # _row_id keeps file order; a row's position among all loaded rows is its 0-based data row.
    bronze = _for_day(lh, f"bronze.{table}").select("_row_id", F.lit(None).cast("string").alias("_check"))
    quarantine = _for_day(lh, quarantine_of(f"bronze.{table}"))
    rows = sorted(bronze.unionByName(quarantine.select("_row_id", "_check")).collect(), key=lambda r: r._row_id)
    quarantined = {r._row_id: r for r in quarantine.collect()}
    assert {i for i, r in enumerate(rows) if r._check is not None} == {d["row"] for d in defects}
    for d in defects:
        row = quarantined[rows[d["row"]]._row_id]
        checks = row["_check"].split("; ")
        assert set(EXPECTED_CHECKS[d["kind"]](d["column"])) <= set(checks), (d, row["_check"])
        assert len(row["_reason"].split("; ")) == len(checks)
        assert (row[d["column"]] or "") == d["value"], d


def test_bronze_keeps_the_export_as_text_with_load_metadata(small_bank):
    lh, _ = small_bank
    contract = load_contract("cards", "transactions")
    bronze = lh.read("bronze.cards_transactions")
    assert bronze.columns == contract.column_names + [
        "_row_id", "_source_file", "_source_checksum", "_logical_date", "_loaded_at", "_event_id"]
    assert dict(bronze.dtypes)["amount"] == "string"
    assert bronze.where("_event_id is not null").count() == 0   # an export's rows; the stream's name their event
    quarantine = lh.read("quarantine.cards_transactions")
    assert quarantine.columns == bronze.columns + ["_check", "_reason", "_line", "_raw_line"]


@pytest.mark.parametrize("table", TABLES)
def test_gx_results_are_kept_per_table(small_bank, table):
    lh, _ = small_bank
    name = f"bronze.{table}"
    results = lh.read("audit.dq_results").where((F.col("table") == name) & (F.col("run_date") == F.lit(DAY)))
    assert results.count() == len(quality.load_suite(name).expectations)
    report = json.loads((lh.settings.dq_dir / name / f"{DAY}.json").read_text())
    assert report["success"] and report["row_count"] == _landed_rows(lh, table)


def test_results_and_reports_never_show_raw_personal_data(small_bank):
    lh, _ = small_bank
    contract = load_contract("deposits", "customers")
    report = json.loads((lh.settings.dq_dir / "bronze.deposits_customers" / f"{DAY}.json").read_text())
    for row in report["quarantine_sample"]:
        assert not set(contract.pii_columns) & set(row), row
    pii = (lh.read("audit.dq_results").where(F.col("table") == "bronze.deposits_customers")
           .where(F.col("column").isin(contract.pii_columns)).collect())
    assert pii and not [r for r in pii if "e.g." in r.details]


def test_a_rerun_of_the_same_file_writes_no_new_delta_version(small_bank):
    lh, _ = small_bank
    names = [f"bronze.{t}" for t in TABLES] + [f"quarantine.{t}" for t in TABLES] + ["audit.dq_results"]
    before = {name: lh.version(name) for name in names}
    reports = load.run(lh, DAY)
    assert all(r.skipped and r.balanced for r in reports)
    assert {name: lh.version(name) for name in names} == before


def test_dq_command_prints_what_failed_when_and_why(small_bank, monkeypatch, capsys):
    lh, _ = small_bank
    monkeypatch.setenv("MARKETOFONE_HOME", str(lh.settings.home))
    assert cli.main(["dq", "--failed", "--date", DAY.isoformat()]) == 0
    out = capsys.readouterr().out
    assert f"data quality on {DAY}:" in out
    lines = [line for line in out.splitlines() if line.startswith("bronze.deposits_transactions ")]
    unique = [line for line in lines if "expect_column_values_to_be_unique" in line]
    assert unique and "FAILED" in unique[0] and "txn_id must be unique" in unique[0] and "quarantined:" in unique[0]
    assert " yes " not in out  # --failed shows failures only
    assert cli.main(["dq", "--date", "2001-01-01"]) == 2
    assert "no data-quality results for 2001-01-01" in capsys.readouterr().err

