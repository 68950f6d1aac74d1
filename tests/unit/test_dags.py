"""DAG integrity: every DAG file imports through Airflow's own DagBag, with the team's conventions."""

import ast
import datetime as dt
import os
from pathlib import Path

import pytest

from jobs.gold.targets import TARGETS
from jobs.orchestrate import DAG_IDS, DAGS_DIR, airflow_env
from jobs.pipeline import DAILY_ORDER, STEPS, WEEKLY_ORDER
from jobs.settings import Settings
from jobs.tables import SOURCES


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory, monkeypatch_module):
    home = tmp_path_factory.mktemp("airflow")
    for key, value in airflow_env(Settings(home=home)).items():
        monkeypatch_module.setenv(key, value)
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_every_dag_file_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert sorted(dagbag.dag_ids) == sorted(DAG_IDS)


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_conventions(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert dag.doc_md and "marketofone" in dag.tags
    assert dag.catchup is False and dag.max_active_runs == 1
    for task in dag.tasks:
        assert task.retries >= 1, f"{task.task_id} has no retries"


def test_daily_dag_covers_every_daily_step_in_order(dagbag):
    dag = dagbag.dags["personalization_daily"]
    ingest_ids = {f"ingest_{source}" for source in SOURCES}
    assert ingest_ids | (set(DAILY_ORDER) - {"ingest"}) == set(dag.task_ids)
    assert dag.get_task("silver").upstream_task_ids == ingest_ids
    assert dag.get_task("score").upstream_task_ids == {"customer_360"}
    assert dag.get_task("kpis").upstream_task_ids == {"offers"}
    assert dag.get_task("retention").upstream_task_ids == {"kpis"}


def test_weekly_dag_trains_one_mapped_task_per_target(dagbag):
    import importlib.util

    dag = dagbag.dags["models_weekly"]
    assert set(dag.task_ids) == set(WEEKLY_ORDER)
    assert dag.get_task("train").upstream_task_ids == {"training_set"}
    spec = importlib.util.spec_from_file_location("models_weekly_file", DAGS_DIR / "models_weekly.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.TARGETS == tuple(TARGETS)
    assert set(STEPS) == set(DAILY_ORDER) | set(WEEKLY_ORDER) | {"erase"}


def test_the_erasure_dag_carries_out_the_queued_requests(dagbag):
    dag = dagbag.dags["erasure"]
    assert set(dag.task_ids) == {"erase"} and "erase" in STEPS
    assert dag.max_active_runs == 1 and "privacy" in dag.tags


def test_the_triggers_dag_runs_when_the_triggers_consumer_has_fired(dagbag):
    from airflow.providers.standard.triggers.file import FileDeleteTrigger

    from jobs.serve.live import new_marker

    dag = dagbag.dags["personalization_triggers"]
    assert set(dag.task_ids) == {"drain_decisions"} and "event-driven" in dag.tags
    [asset] = dag.timetable.asset_condition.objects   # scheduled on one asset, not on a clock
    [watcher] = asset.watchers
    assert isinstance(watcher.trigger, FileDeleteTrigger)   # the triggerer waits for the marker and removes it
    assert watcher.trigger.filepath == str(new_marker(Settings(home=os.environ["MARKETOFONE_HOME"]).home))


def test_dag_files_hold_no_business_logic():
    """DAG files import only airflow/pendulum/stdlib at the top; jobs are imported inside tasks."""
    for path in Path(DAGS_DIR).glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
                allowed = {"__future__", "airflow", "pendulum", "datetime", "os", "pathlib"}
                assert module.split(".")[0] in allowed, (path, module)


# -- failures: a data error is not retried, and a run says why it failed ------------------------------
def test_a_data_error_fails_its_task_at_once_and_any_other_keeps_its_retries():
    from airflow.sdk.exceptions import AirflowFailException

    from jobs.decide.run import FairnessGateError, RepublishRefusedError
    from jobs.ingest.errors import ContractError, MissingExportError
    from jobs.orchestrate import fail_fast_on_data_errors
    from jobs.quality import DataQualityError

    def failing(exc):
        @fail_fast_on_data_errors
        def task():
            raise exc
        return task

    for error in (MissingExportError("no lending/borrowers export for 2026-06-30: expected /l/b.csv"),
                  ContractError("lending/loans/2026-06-30.csv, line 1: header does not match contract"),
                  DataQualityError("bronze.lending_loans failed 1 table-level expectation(s) on 2026-06-30:\n"
                                   "  - expect_table_row_count_to_be_between: 0 rows"),
                  RepublishRefusedError("2026-07-01 was published: 2 decision(s) would change"),
                  FairnessGateError("fairness gate blocked publishing the offers of 2026-07-01"),
                  DataQualityError("bronze.lending_loans failed 1 table-level expectation(s) on 2026-06-30:\n"
                                   "  - expect_table_row_count_to_be_between: 0 rows")):
        with pytest.raises(AirflowFailException) as failed:
            failing(error)()
        assert failed.value.__cause__ is error
        assert str(failed.value).startswith(f"{type(error).__name__}: {str(error).splitlines()[0]}")
    assert str(failed.value).endswith("on 2026-06-30: - expect_table_row_count_to_be_between: 0 rows")
    with pytest.raises(ConnectionError):   # a lost connection may well work on the next try
        failing(ConnectionError("server went away"))()


def test_a_date_before_the_start_date_is_refused_naming_it(dagbag):
    from jobs.orchestrate import before_start

    dag = dagbag.dags["personalization_daily"]
    assert before_start(dag, dt.date(2025, 12, 31)) == (
        "2025-12-31 is before the start date of DAG personalization_daily, 2026-01-01: Airflow would run none of "
        "its tasks. Run it for 2026-01-01 or later (start_date in dags/personalization_daily.py)")
    assert before_start(dag, dt.date(2026, 1, 1)) is None


def test_the_failure_summary_names_the_first_failure_and_its_cause(tmp_path):
    from jobs.orchestrate import failure_summary, succeeded

    tasks = {"ingest_deposits": "success", "ingest_lending": "failed", "ingest_cards": "failed",
             "silver": "upstream_failed", "customer_360": "upstream_failed"}
    failures = [
        {"task_id": "ingest_lending", "map_index": -1, "error": "MissingExportError",
         "message": "no lending/borrowers export for 2026-06-30: expected /h/landing/lending/borrowers/2026-06-30.csv"},
        {"task_id": "ingest_cards", "map_index": -1, "error": "OSError", "message": "disk full"},
        {"task_id": "ingest_cards", "map_index": -1, "error": "OSError", "message": "disk still full"},
    ]
    outcome = {"dag_id": "personalization_daily", "date": "2026-06-30", "state": "failed", "tasks": tasks}
    assert not succeeded(outcome)
    assert failure_summary(outcome, failures, tmp_path / "run.log", 41.2).splitlines() == [
        "DAG personalization_daily for 2026-06-30 ended failed after 41s: 2 of 5 tasks failed",
        "  ingest_lending (first): MissingExportError: no lending/borrowers export for 2026-06-30: expected "
        "/h/landing/lending/borrowers/2026-06-30.csv",
        "  ingest_cards: OSError: disk still full [2 tries]",
        "  not run, upstream failed: silver, customer_360",
        f"  full log: {tmp_path / 'run.log'} (or run again with -v)",
    ]
    # a run whose tasks were all skipped (or that ran none) did nothing: it is no success
    assert not succeeded({"state": "success", "tasks": {"silver": "skipped"}})
    assert not succeeded({"state": "success", "tasks": {}})
