"""The `marketofone` command: clear errors on bad input, and the airflow passthrough."""

import os
import subprocess
import sys
from pathlib import Path

from jobs.cli import main

ROOT = Path(__file__).resolve().parent.parent


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


def test_tables_on_an_empty_home_lists_nothing(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("MARKETOFONE_HOME", str(tmp_path))
    assert main(["tables"]) == 0
    assert "(no rows)" in capsys.readouterr().out


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
