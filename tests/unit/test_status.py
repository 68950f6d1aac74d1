"""`marketofone status`: the last run of each DAG and what failed, read from the run records; the quarantine."""

import json
import re

from jobs import status
from jobs.cli import main
from jobs.settings import Settings


def _record(home, dag_id, date, state, tasks):
    folder = home / "logs" / dag_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{date}.json").write_text(json.dumps({"dag_id": dag_id, "date": date, "state": state, "tasks": tasks}))


def test_the_latest_run_of_each_dag_with_its_failed_tasks_and_the_dates_that_failed(tmp_path):
    _record(tmp_path, "personalization_daily", "2026-06-30", "success", {"silver": "success", "score": "success"})
    _record(tmp_path, "personalization_daily", "2026-07-01", "failed",
            {"ingest_cards": "failed", "silver": "upstream_failed", "ingest_crm": "success"})
    _record(tmp_path, "personalization_daily", "2026-07-02", "success", {"silver": "success"})
    _record(tmp_path, "personalization_daily", "2026-07-03", "failed", {"score": "failed", "silver": "success"})
    (tmp_path / "logs" / "personalization_daily" / "2026-07-04.json").write_text("{")  # being written
    rows = {r["dag"]: r for r in status.dag_runs(Settings(home=tmp_path))}
    daily = rows["personalization_daily"]
    assert daily == {"dag": "personalization_daily", "last date": "2026-07-03", "state": "failed",
                     "failed tasks": "score", "dates run": 4, "dates failed": "2026-07-01, 2026-07-03"}
    assert rows["models_weekly"]["last date"] == "never run" and rows["models_weekly"]["dates run"] == 0


def test_many_failed_dates_show_the_latest_and_how_many_before():
    assert status._dates_list([f"2026-07-{d:02d}" for d in range(1, 9)]) == \
        "2026-07-04, 2026-07-05, 2026-07-06, 2026-07-07, 2026-07-08 (and 3 earlier)"


def test_quarantine_lists_the_tables_that_hold_rows_most_first():
    tables = [{"table": "bronze.cards_accounts", "rows": 10, "version": 1},
              {"table": "quarantine.cards_accounts", "rows": 0, "version": 0},
              {"table": "quarantine.silver_transaction", "rows": 3, "version": 2},
              {"table": "quarantine.deposits_transactions", "rows": 40, "version": 1}]
    assert status.quarantine(tables) == [
        {"table": "quarantine.deposits_transactions", "rows": 40, "version": 1},
        {"table": "quarantine.silver_transaction", "rows": 3, "version": 2}]


def test_status_of_a_home_that_never_ran(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MARKETOFONE_HOME", str(tmp_path))
    monkeypatch.delenv("MARKETOFONE_STORAGE_URI", raising=False)
    _record(tmp_path, "models_weekly", "2026-06-30", "failed", {"training_set": "failed", "train": "upstream_failed"})
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"personalization_daily\s+never run", out)
    assert re.search(r"models_weekly\s+2026-06-30  failed  train, training_set", out)
    assert f"no lakehouse tables yet at {tmp_path / 'lakehouse'}" in out
