"""The `marketofone` command: clear errors on bad input, and the airflow passthrough."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jobs.cli import main
from tests.paths import ROOT


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


@pytest.mark.integration
def test_airflow_passthrough_sees_the_project_dags(tmp_path):
    env = {**os.environ, "MARKETOFONE_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "jobs.cli", "airflow", "dags", "list"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "personalization_daily" in done.stdout
    assert (tmp_path / "airflow" / "airflow.db").exists()


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


def test_generate_writes_daily_increments(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("MARKETOFONE_HOME", str(tmp_path))
    monkeypatch.setenv("MARKETOFONE_CUSTOMERS", "50")
    assert main(["generate", "--from", "2026-07-01", "--to", "2026-07-02"]) == 0
    assert "generated 2 daily increment(s)" in capsys.readouterr().out
    assert (tmp_path / "landing" / "deposits" / "transactions" / "2026-07-02.csv").is_file()
    assert main(["generate", "--date", "2025-01-01"]) == 2
    assert "the generated world starts on 2025-07-01" in capsys.readouterr().err


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


# -- failed runs say why, in a few lines and in seconds ------------------------------------------------------
def test_an_unreachable_spark_remote_fails_the_command_in_seconds(tmp_path):
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]   # closed on leaving: nothing listens there
    env = {**os.environ, "MARKETOFONE_HOME": str(tmp_path), "SPARK_REMOTE": f"sc://127.0.0.1:{port}"}
    env.pop("MARKETOFONE_ENGINE", None)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "jobs.cli", "run", "silver", "--date", "2026-06-30"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stderr[-3000:]
    assert (f"marketofone: error: cannot reach the Spark Connect server at sc://127.0.0.1:{port}: connection "
            "refused; start one or unset SPARK_REMOTE") in done.stderr
    assert time.perf_counter() - started < 60   # the interpreter's start; the probe itself takes milliseconds


@pytest.mark.integration
def test_a_failed_dag_run_prints_its_cause_in_a_few_lines_without_retrying_data_errors(tmp_path):
    """Only deposits/customers was exported: every ingest task fails on a missing file, at its first try."""
    import json
    import re
    import time

    landing = tmp_path / "landing" / "deposits" / "customers"
    landing.mkdir(parents=True)
    (landing / "2026-06-30.csv").write_text(
        "cif_id,full_name,birth_date,email,phone,national_id,postcode,gender,customer_since\n"
        "D0000001,Ann Lee,1980-01-02,ann@example.com,+1 555-010-1234,123-45-6789,12345,F,2020-01-01\n")
    env = {**os.environ, "MARKETOFONE_HOME": str(tmp_path)}

    def run(day: str) -> tuple[subprocess.CompletedProcess, float]:
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "jobs.cli", "run", "personalization_daily", "--date", day],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
        return done, time.perf_counter() - started

    early, _ = run("2025-12-31")   # before the DAG's start date: Airflow would run nothing and call it success
    assert early.returncode == 2 and "success" not in early.stdout
    assert "2025-12-31 is before the start date of DAG personalization_daily, 2026-01-01" in early.stderr
    nothing, _ = run("2026-07-01")   # no silo exported anything for the date
    assert nothing.returncode == 2 and "success" not in nothing.stdout
    assert f"no landing export for 2026-07-01 under {tmp_path / 'landing'}: nothing to load" in nothing.stderr

    done, seconds = run("2026-06-30")
    assert done.returncode == 2
    output = done.stdout + done.stderr
    assert "Traceback" not in output and len(output.splitlines()) <= 20, output
    log = tmp_path / "logs" / "personalization_daily" / "2026-06-30.log"
    assert f"full log: {log}" in output and "Traceback" in log.read_text()
    assert "ended failed" in output and "6 of 11 tasks failed" in output
    assert re.search(r"^  ingest_deposits( \(first\))?: MissingExportError: no deposits/accounts export for "
                     r"2026-06-30", output, re.M), output
    assert "  not run, upstream failed: silver, customer_360, score, offers, kpis" in output
    tries = [json.loads(line) for line in log.with_suffix(".failures.jsonl").read_text().splitlines()]
    silos = ("deposits", "cards", "lending", "digital", "crm", "channels")
    assert sorted(t["task_id"] for t in tries) == sorted(f"ingest_{silo}" for silo in silos)
    assert {t["try_number"] for t in tries} == {1}   # no retry: the next try would read the same files
    assert not (tmp_path / "lakehouse" / "bronze" / "deposits_customers").exists()   # all of the silo or nothing
    assert seconds < 240   # retried, the same run took over three minutes
