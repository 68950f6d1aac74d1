"""DAG integrity: every DAG file imports through Airflow's own DagBag, with the team's conventions."""

import ast
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


def test_weekly_dag_trains_one_mapped_task_per_target(dagbag):
    import importlib.util

    dag = dagbag.dags["models_weekly"]
    assert set(dag.task_ids) == set(WEEKLY_ORDER)
    assert dag.get_task("train").upstream_task_ids == {"training_set"}
    spec = importlib.util.spec_from_file_location("models_weekly_file", DAGS_DIR / "models_weekly.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.TARGETS == tuple(TARGETS)
    assert set(STEPS) == set(DAILY_ORDER) | set(WEEKLY_ORDER)


def test_dag_files_hold_no_business_logic():
    """DAG files import only airflow/pendulum/stdlib at the top; jobs are imported inside tasks."""
    for path in Path(DAGS_DIR).glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
                assert module.split(".")[0] in {"__future__", "airflow", "pendulum", "datetime"}, (path, module)
