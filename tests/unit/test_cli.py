"""The `marketofone` command: clear errors on bad input, and the analyst's commands on small tables. (The
commands that start a process, generate exports or run a DAG: tests/integration/test_cli.py.)"""

from pathlib import Path

import pytest

from jobs.cli import main


def test_a_bad_date_is_a_clear_error(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("MARKETOFONE_HOME", str(tmp_path))
    assert main(["run", "silver", "--date", "2026-02-30"]) == 2
    assert "not a date: '2026-02-30' (expected YYYY-MM-DD)" in capsys.readouterr().err


def test_an_unknown_step_lists_the_steps(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("MARKETOFONE_HOME", str(tmp_path))
    assert main(["run", "nope", "--date", "2026-06-30"]) == 2
    err = capsys.readouterr().err
    assert "unknown step 'nope'" in err and "customer_360" in err


def test_a_step_before_its_inputs_says_what_to_run(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("MARKETOFONE_HOME", str(tmp_path))
    assert main(["run", "kpis", "--date", "2026-06-30"]) == 2
    assert "gold.customer_360 has not been written yet" in capsys.readouterr().err


def test_ingest_without_an_export_names_the_missing_file(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("MARKETOFONE_HOME", str(tmp_path))
    assert main(["run", "ingest", "--silo", "cards", "--date", "2026-06-30"]) == 2
    assert "no cards/cardholders export for 2026-06-30" in capsys.readouterr().err


def test_dq_before_any_validation_says_what_to_run(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("MARKETOFONE_HOME", str(tmp_path))
    assert main(["dq"]) == 2
    assert "no data-quality results yet" in capsys.readouterr().err


def test_date_ranges_are_checked(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("MARKETOFONE_HOME", str(tmp_path))
    assert main(["run", "personalization_daily", "--from", "2026-07-03", "--to", "2026-07-01"]) == 2
    assert "--to 2026-07-01 is before --from 2026-07-03" in capsys.readouterr().err
    assert main(["run", "silver", "--from", "2026-07-01", "--to", "2026-07-02"]) == 2
    assert "a date range runs a whole DAG" in capsys.readouterr().err
    assert main(["run", "silver"]) == 2
    assert "give --date" in capsys.readouterr().err
    assert main(["generate", "--from", "2026-07-01"]) == 2
    assert "--from and --to go together" in capsys.readouterr().err


# -- the analyst's commands: sql, tables, dq, why (issue 13) -----------------------------------------------
def _delta(home: Path, full_name: str, columns: dict) -> Path:
    """A small Delta table written with delta-rs where the lakehouse keeps `full_name`."""
    import pyarrow as pa
    from deltalake import write_deltalake

    layer, name = full_name.split(".")
    path = home / "lakehouse" / layer / name
    write_deltalake(str(path), pa.table(columns))
    return path


@pytest.fixture
def kpi_home(tmp_path, monkeypatch):
    """A home whose lakehouse holds gold.kpi_daily (3 rows), the working directory elsewhere."""
    import datetime as dt

    home = tmp_path / "home"
    _delta(home, "gold.kpi_daily", {"as_of_date": [dt.date(2026, 6, 30)] * 3, "kpi": ["a", "b", "c"],
                                    "treated": [0.1, 0.2, 0.3]})
    monkeypatch.setenv("MARKETOFONE_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    return home


def _kpi_table(home: Path):
    from deltalake import DeltaTable

    return DeltaTable(str(home / "lakehouse" / "gold" / "kpi_daily"))


def test_sql_is_read_only_unless_told_to_write(capsys, kpi_home, spark):
    for query in ("delete from gold.kpi_daily where 1=1", "update gold.kpi_daily set treated = 0",
                  "insert into gold.kpi_daily select * from gold.kpi_daily",
                  "with x as (select * from gold.kpi_daily) insert into gold.kpi_daily select * from x"):
        assert main(["sql", query]) == 2, query
        err = capsys.readouterr().err
        assert err.startswith("marketofone: error: ") and "--write" in err, err
    assert main(["sql", "select 1; delete from gold.kpi_daily"]) == 2
    assert "one statement at a time" in capsys.readouterr().err
    for query in ("drop table gold.kpi_daily", "create table t as select * from gold.kpi_daily",
                  "alter table gold.kpi_daily add columns (x int)"):
        for write in ([], ["--write"]):
            assert main(["sql", query, *write]) == 2, query
            assert "created, altered and dropped by the pipeline's table registry" in capsys.readouterr().err
    table = _kpi_table(kpi_home)
    assert table.version() == 0 and table.to_pyarrow_table().num_rows == 3
    assert not (kpi_home.parent / "spark-warehouse").exists()
    assert main(["sql", "select kpi from gold.kpi_daily where kpi <> ';' order by kpi -- a comment; still one"]) == 0
    assert capsys.readouterr().out.split() == ["kpi", "---", "a", "b", "c"]


def test_sql_write_says_what_it_changed(capsys, kpi_home, spark):
    assert main(["sql", "--write", "delete from gold.kpi_daily where kpi = 'a'"]) == 0
    assert "DELETE on gold.kpi_daily: 1 row deleted; table version 0 -> 1" in capsys.readouterr().out
    assert main(["sql", "--write", "update gold.kpi_daily set treated = 1.0 where kpi <> 'z'"]) == 0
    assert "UPDATE on gold.kpi_daily: 2 rows updated; table version 1 -> 2" in capsys.readouterr().out
    table = _kpi_table(kpi_home)
    assert table.version() == 2
    assert sorted(table.to_pyarrow_table().column("treated").to_pylist()) == [1.0, 1.0]
    assert main(["sql", "--write", "delete from gold.nosuch_table"]) == 2
    err = capsys.readouterr().err
    assert "DELETE names gold.nosuch_table, not a lakehouse table" in err and "gold.kpi_daily" in err


def test_sql_errors_are_one_line_and_name_what_was_typed(capsys, kpi_home, spark):
    assert main(["sql", "select * form gold.kpi_daily"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("marketofone: error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert main(["sql", "select * from gold.nosuch_table"]) == 2
    err = capsys.readouterr().err
    assert "unknown table gold.nosuch_table; the gold tables: gold.kpi_daily" in err and err.count("\n") == 1
    assert "gold.customer_360" in err  # registered, not written yet
    assert main(["sql", "select * from gold.customer_360"]) == 2
    assert "table gold.customer_360 has not been written yet" in capsys.readouterr().err


def test_tables_without_a_lakehouse_says_which_home_and_how_to_make_one(capsys, tmp_path, monkeypatch):
    home = tmp_path / "no-such-home"
    monkeypatch.setenv("MARKETOFONE_HOME", str(home))
    assert main(["tables"]) == 2
    err = capsys.readouterr().err
    assert f"no lakehouse in the home {home}" in err and "does not exist" in err and "make demo" in err
    assert "marketofone generate" in err and "marketofone run personalization_daily" in err


def test_dq_with_an_unknown_table_lists_the_validated_ones(capsys, tmp_path, monkeypatch):
    import datetime as dt

    home = tmp_path / "home"
    _delta(home, "audit.dq_results", {
        "run_date": [dt.date(2026, 6, 30)] * 2, "table": ["bronze.cards_accounts", "silver.customer"],
        "expectation": ["expect_column_values_to_not_be_null"] * 2, "column": ["account_id", "customer_id"],
        "success": [True, False], "element_count": [10, 10], "unexpected_count": [0, 1], "details": ["", ""]})
    monkeypatch.setenv("MARKETOFONE_HOME", str(home))
    assert main(["dq", "--table", "nosuch.table"]) == 2
    err = capsys.readouterr().err
    assert "nosuch.table is not a lakehouse table" in err
    assert "tables with data-quality results: bronze.cards_accounts, silver.customer" in err
    assert main(["dq", "--table", "gold.kpi_daily"]) == 2
    assert "gold.kpi_daily has no data-quality results" in capsys.readouterr().err
    assert main(["dq", "--table", "silver."]) == 0
    out = capsys.readouterr().out
    assert "silver.customer" in out and "bronze.cards_accounts" not in out


def test_why_json_is_strict_json_with_null_for_missing_numbers(capsys, tmp_path, monkeypatch):
    import datetime as dt
    import json

    import pyarrow as pa

    home = tmp_path / "home"
    day = dt.date(2026, 7, 1)
    two = [None, None]
    _delta(home, "audit.decision_log", {
        "decision_id": ["D1", "D2"], "as_of_date": [day, day], "customer_id": ["CU1", "CU1"],
        "offer_id": ["savings_plus", "mortgage_fixed"], "product": ["savings", "mortgage"],
        "channel": ["mobile", "email"], "outcome": ["offered", "excluded"], "excluded_by": ["", "R1"],
        "excluded_at": pa.array(two, pa.string()), "note": ["", ""], "holdout": [False, False],
        "probability": [0.4, 0.1], "value": [1.0, 2.0], "lever": [1.0, 1.0], "expected_value": [0.4, float("nan")],
        "risk": [0.0, 0.0], "price": pa.array([None, None], pa.float64()), "price_unit": pa.array(two, pa.string()),
        "rank": pa.array([1, None], pa.int32()), "model": ["propensity_savings", "propensity_mortgage"],
        "model_version": ["1", "1"], "reason_codes": ["[]", "[]"], "reason": ["saves", "owns a home"],
        "catalog_version": ["c1", "c1"], "policy_version": ["p1", "p1"]})
    monkeypatch.setenv("MARKETOFONE_HOME", str(home))
    assert main(["why", "--customer", "CU1", "--date", "2026-07-01", "--json"]) == 0

    def no_constants(name):
        raise AssertionError(f"{name} is not JSON")

    answer = json.loads(capsys.readouterr().out, parse_constant=no_constants)
    rows = {r["offer_id"]: r for r in answer["decisions"]}
    assert rows["mortgage_fixed"]["rank"] is None and rows["mortgage_fixed"]["expected_value"] is None
    assert rows["savings_plus"]["rank"] == 1 and rows["savings_plus"]["price"] is None
