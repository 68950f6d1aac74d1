"""Run the project's DAGs through real Airflow on the embedded default (SQLite metadata DB under the
project home, every task in this process through `dag.test()`).

Airflow reads its configuration from the environment when first imported, so `airflow_env()` must be
applied before anything imports airflow; the CLI does that.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path

from jobs.settings import Settings

log = logging.getLogger(__name__)

DAGS_DIR = Path(__file__).resolve().parent.parent / "dags"
DAG_IDS = ("personalization_daily", "models_weekly")


def airflow_env(settings: Settings) -> dict[str, str]:
    home = settings.airflow_home
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "MARKETOFONE_HOME": str(settings.home),
    }
    # The production profile points Airflow at PostgreSQL; only default to SQLite when nothing is set.
    if not os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"):
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{home / 'airflow.db'}"
    return env


def apply_airflow_env(settings: Settings) -> None:
    if "airflow" in sys.modules and os.environ.get("AIRFLOW_HOME") != str(settings.airflow_home):
        raise RuntimeError("airflow was imported before its environment was set; set it first")
    settings.airflow_home.mkdir(parents=True, exist_ok=True)
    os.environ.update(airflow_env(settings))


def ensure_airflow_db(settings: Settings) -> None:
    """Create or upgrade the Airflow metadata DB (a few seconds the first time, skipped after)."""
    marker = settings.airflow_home / ".migrated"
    conn = os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")
    if marker.exists() and marker.read_text() == conn:
        return
    log.info("creating the Airflow metadata database (%s)", conn)
    env = {**os.environ, **airflow_env(settings)}
    airflow = Path(sys.executable).with_name("airflow")
    # migrate creates the schema; reserialize registers the DAG files so the UI and CLI list them.
    for command in (["db", "migrate"], ["dags", "reserialize"]):
        done = subprocess.run([str(airflow), *command], env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(command)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    marker.write_text(conn)


def load_dag(dag_id: str):
    if dag_id not in DAG_IDS:
        raise ValueError(f"unknown DAG {dag_id!r}; DAGs: {', '.join(DAG_IDS)}")
    import importlib.util

    path = DAGS_DIR / f"{dag_id}.py"
    spec = importlib.util.spec_from_file_location(f"marketofone_dags.{dag_id}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for value in vars(module).values():
        if getattr(value, "dag_id", None) == dag_id and hasattr(value, "test"):
            return value
    raise RuntimeError(f"{path} defines no DAG {dag_id!r}")


def run_dag(dag_id: str, logical_date: dt.date, settings: Settings, verbose: bool = False) -> dict:
    """Run one DAG run through Airflow and return its state and task states; raise if it failed.

    Airflow's own task logs go to the terminal only with `verbose`; each step prints a progress line."""
    if not verbose:
        os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    apply_airflow_env(settings)
    ensure_airflow_db(settings)
    # Airflow's dag.test() runs tasks through FastAPI's test client, which warns about its httpx use.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    dag = load_dag(dag_id)
    when = dt.datetime(logical_date.year, logical_date.month, logical_date.day, tzinfo=dt.timezone.utc)
    dag_run = dag.test(logical_date=when, run_conf={"date": logical_date.isoformat()})
    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()} if dag_run else {}
    state = str(getattr(dag_run, "state", "unknown"))
    if state != "success":
        failed = sorted(t for t, s in states.items() if s != "success")
        raise RuntimeError(f"DAG {dag_id} for {logical_date} ended {state}; tasks not successful: {failed}")
    return {"dag_id": dag_id, "date": logical_date.isoformat(), "state": state, "tasks": states}


def business_date() -> str:
    """The date a task works on: the run's config {"date": "YYYY-MM-DD"} when given, else its logical date."""
    from airflow.sdk import get_current_context

    ctx = get_current_context()
    conf = (ctx["dag_run"].conf or {}) if ctx.get("dag_run") else {}
    if conf.get("date"):
        return str(conf["date"])
    when = ctx.get("logical_date") or ctx["dag_run"].run_after
    return when.date().isoformat()


def run_task(step: str, **kwargs) -> dict:
    """What every DAG task does: run one pipeline step for the run's business date; the XCom it returns
    says what was written."""
    from jobs.pipeline import run_step
    from jobs.task_logs import task_log_file

    with task_log_file():
        result = run_step(step, business_date(), **kwargs)
        log.info("step %s for %s wrote %s in %.1fs", result.step, result.logical_date, result.tables, result.seconds)
    return {"step": result.step, "date": result.logical_date.isoformat(), "tables": result.tables,
            "seconds": round(result.seconds, 2), "details": result.details}
