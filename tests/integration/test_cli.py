"""The `marketofone` command in a process of its own: the airflow passthrough, generated daily increments, and
failed runs that say why in a few lines and in seconds."""

import os
import subprocess
import sys

import pytest

from jobs.cli import main
from tests.paths import ROOT


@pytest.mark.integration
def test_airflow_passthrough_sees_the_project_dags(tmp_path):
    env = {**os.environ, "MARKETOFONE_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "jobs.cli", "airflow", "dags", "list"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "personalization_daily" in done.stdout
    assert (tmp_path / "airflow" / "airflow.db").exists()


def test_generate_writes_daily_increments(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("MARKETOFONE_HOME", str(tmp_path))
    monkeypatch.setenv("MARKETOFONE_CUSTOMERS", "50")
    assert main(["generate", "--from", "2026-07-01", "--to", "2026-07-02"]) == 0
    assert "generated 2 daily increment(s)" in capsys.readouterr().out
    assert (tmp_path / "landing" / "deposits" / "transactions" / "2026-07-02.csv").is_file()
    assert main(["generate", "--date", "2025-01-01"]) == 2
    assert "the generated world starts on 2025-07-01" in capsys.readouterr().err


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
    assert "ended failed" in output and "6 of 13 tasks failed" in output
    assert re.search(r"^  ingest_deposits( \(first\))?: MissingExportError: no deposits/accounts export for "
                     r"2026-06-30", output, re.M), output
    assert "  not run, upstream failed: silver, customer_360, score, offers, kpis, retention" in output
    tries = [json.loads(line) for line in log.with_suffix(".failures.jsonl").read_text().splitlines()]
    silos = ("deposits", "cards", "lending", "digital", "crm", "channels")
    assert sorted(t["task_id"] for t in tries) == sorted(f"ingest_{silo}" for silo in silos)
    assert {t["try_number"] for t in tries} == {1}   # no retry: the next try would read the same files
    assert not (tmp_path / "lakehouse" / "bronze" / "deposits_customers").exists()   # all of the silo or nothing
    assert seconds < 240   # retried, the same run took over three minutes

