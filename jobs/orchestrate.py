"""Run the project's DAGs through real Airflow on the embedded default (SQLite metadata DB under the
project home, every task of a run in one process through `dag.test()`).

Airflow reads its configuration from the environment when first imported, so `airflow_env()` must be
applied before anything imports airflow; the CLI does that for its passthrough, and `run_dag` runs each DAG
run in a process of its own (`python -m jobs.orchestrate`), whose whole output goes to the run's log file:
the terminal shows one line per step, and a failed run a short summary (which task failed first and why).

A failure a retry cannot fix (a missing export, a file that breaks its contract, a table-level data-quality
failure) fails its task at once; every other failure keeps the DAG's retries.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
import re
import subprocess
import sys
import time
import warnings
from pathlib import Path

from jobs.settings import Settings, parse_date

log = logging.getLogger(__name__)

DAGS_DIR = Path(__file__).resolve().parent.parent / "dags"
DAG_IDS = ("personalization_daily", "models_weekly", "personalization_triggers", "erasure")
FAILURES_ENV = "MARKETOFONE_TASK_FAILURES"   # where a run's tasks record why they failed (set by run_dag)
PROGRESS_LINE = re.compile(r"^  \[\d{4}-\d{2}-\d{2}\] ")   # jobs.pipeline's line per step, the failures' too
CAUSE_CHARS = 300


class DagRunError(RuntimeError):
    """A DAG run that did not succeed; the message is its short summary."""


def airflow_env(settings: Settings) -> dict[str, str]:
    home = settings.airflow_home
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "MARKETOFONE_HOME": str(settings.home),
    }
    if settings.storage:  # the tasks find the tables where this process does
        env["MARKETOFONE_STORAGE_URI"] = settings.storage
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


def run_log(settings: Settings, dag_id: str, logical_date: dt.date) -> Path:
    """The whole output of the latest run of a DAG for a date: Airflow's logs, the jobs', tracebacks."""
    return settings.home / "logs" / dag_id / f"{logical_date.isoformat()}.log"


def run_dag(dag_id: str, logical_date: dt.date, settings: Settings, verbose: bool = False) -> dict:
    """Run one DAG run through Airflow and return its state, task states and log; raise DagRunError with a
    short summary unless every task succeeded (a run whose tasks were skipped did nothing: no success).

    The run gets a process of its own whose output goes to `run_log()`; the terminal shows the steps' progress
    lines (everything with `verbose`). A date the DAG cannot run is refused before anything runs.

    In the production profile the scheduler runs it instead, asked and watched through Airflow's REST API
    (jobs/airflow_api.py); the outcome has the same shape, its "log" the run's page in the Airflow UI."""
    if dag_id not in DAG_IDS:
        raise ValueError(f"unknown DAG {dag_id!r}; DAGs: {', '.join(DAG_IDS)}")
    if settings.profile == "production":
        return _through_scheduler(dag_id, logical_date, settings)
    log_path = run_log(settings, dag_id, logical_date)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    result_path, failures_path = log_path.with_suffix(".json"), log_path.with_suffix(".failures.jsonl")
    for stale in (result_path, failures_path):
        stale.unlink(missing_ok=True)
    env = {**os.environ, **airflow_env(settings), FAILURES_ENV: str(failures_path), "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join([str(DAGS_DIR.parent), *filter(None, [os.environ.get("PYTHONPATH")])])}
    command = [sys.executable, "-m", "jobs.orchestrate", dag_id, logical_date.isoformat(), str(result_path)]
    started = time.perf_counter()
    code = _run_logged(command, env, log_path, verbose)
    seconds = time.perf_counter() - started
    if not result_path.is_file():
        raise DagRunError(f"DAG {dag_id} for {logical_date}: the run stopped before it finished (exit code {code})"
                          f"; its last lines:\n{_tail(log_path)}\n  full log: {log_path}")
    outcome = json.loads(result_path.read_text())
    if outcome.get("refused"):
        raise ValueError(outcome["refused"])
    if outcome.get("error"):
        raise DagRunError(f"DAG {dag_id} for {logical_date} could not run: {outcome['error']}\n  full log: {log_path}")
    outcome["log"] = str(log_path)
    if not succeeded(outcome):
        raise DagRunError(failure_summary(outcome, read_failures(failures_path), log_path, seconds))
    return outcome


def record_outcome(outcome: dict, settings: Settings) -> dict:
    """Keep a run's outcome as the latest run of its date, where `marketofone status` reads it."""
    path = run_log(settings, outcome["dag_id"], parse_date(outcome["date"])).with_suffix(".json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(outcome))
    return outcome


def _through_scheduler(dag_id: str, logical_date: dt.date, settings: Settings) -> dict:
    from jobs import airflow_api

    started = time.perf_counter()
    outcome = record_outcome(airflow_api.run_dag(dag_id, logical_date, settings), settings)
    if not succeeded(outcome):
        raise DagRunError(failure_summary(outcome, [], outcome["log"], time.perf_counter() - started))
    return outcome


def _run_logged(command: list[str], env: dict, log_path: Path, verbose: bool) -> int:
    """Run `command` with all its output in `log_path`; echo its progress lines (all lines when verbose)."""
    with log_path.open("w", encoding="utf-8") as log_file, subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace") as child:
        try:
            for line in child.stdout:
                log_file.write(line)
                if verbose or PROGRESS_LINE.match(line):
                    sys.stderr.write(line)
                    sys.stderr.flush()
        except BaseException:  # e.g. Ctrl-C: leave no Airflow run behind
            child.kill()
            raise
        return child.wait()


def _tail(path: Path, lines: int = 15) -> str:
    text = path.read_text(errors="replace").splitlines() if path.is_file() else []
    return "\n".join(f"    {line}" for line in text[-lines:])


def succeeded(outcome: dict) -> bool:
    tasks = outcome.get("tasks") or {}
    return outcome.get("state") == "success" and bool(tasks) and all(s == "success" for s in tasks.values())


def read_failures(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def failure_summary(outcome: dict, failures: list[dict], log_path: Path | str, seconds: float) -> str:
    """What a data engineer needs first: the task that failed first and its cause, then the other failed
    tasks one line each, the tasks that did not run, and where the whole log is."""
    tasks = outcome.get("tasks") or {}
    head = f"DAG {outcome['dag_id']} for {outcome['date']} ended {outcome.get('state')} after {seconds:.0f}s"
    if not tasks:
        return f"{head}: Airflow ran no task at all (is the date in the DAG's schedule?)\n  full log: {log_path}"
    tries: dict[str, list[dict]] = {}   # each task instance's failures, in the order they first failed
    for record in failures:
        if tasks.get(record["task_id"]) != "success":   # a failure a retry then fixed is not the story
            tries.setdefault(_instance(record), []).append(record)
    recorded = {records[0]["task_id"] for records in tries.values()}
    failed = [*tries, *(t for t, s in tasks.items() if s == "failed" and t not in recorded)]
    lines = [f"{head}: {len(failed)} of {len(tasks)} tasks failed" if failed else head]
    for i, name in enumerate(failed):
        records = tries.get(name, [])
        cause = f"{records[-1]['error']}: {records[-1]['message']}" if records else "no cause recorded (see the log)"
        retried = f" [{len(records)} tries]" if len(records) > 1 else ""
        lines.append(f"  {name}{' (first)' if i == 0 and len(failed) > 1 else ''}: {cause}{retried}")
    for state in sorted({s for s in tasks.values() if s not in ("success", "failed")}):
        names = [t for t, s in tasks.items() if s == state]
        label = {"upstream_failed": "not run, upstream failed", "skipped": "skipped, so not run",
                 "None": "never started"}.get(state, state)
        lines.append(f"  {label}: {', '.join(names)}")
    lines.append(f"  full log: {log_path} (or run again with -v)")
    return "\n".join(lines)


def _instance(record: dict) -> str:
    """`train[3]` for an instance of a mapped task, the task id otherwise."""
    index = record.get("map_index", -1)
    return f"{record['task_id']}[{index}]" if index is not None and index >= 0 else record["task_id"]


def one_line(exc: BaseException) -> str:
    """An exception's message in a line: its first line (and the next when the first announces a list)."""
    text = [line.strip() for line in str(exc).splitlines() if line.strip()] or [type(exc).__name__]
    message = text[0] + (" " + text[1] if text[0].endswith(":") and len(text) > 1 else "")
    return message if len(message) <= CAUSE_CHARS else message[:CAUSE_CHARS - 3] + "..."


# -- inside the run's own process ------------------------------------------------------------------------
def before_start(dag, logical_date: dt.date) -> str | None:
    """Why the DAG cannot run for the date (None when it can): before the DAG's start date Airflow runs no
    task at all, and calls that a success."""
    start = dag.start_date.date() if dag.start_date else None
    if start and logical_date < start:
        return (f"{logical_date} is before the start date of DAG {dag.dag_id}, {start}: Airflow would run none of "
                f"its tasks. Run it for {start} or later (start_date in dags/{dag.dag_id}.py)")
    return None


def no_exports(dag_id: str, logical_date: dt.date, settings: Settings) -> str | None:
    """Why the daily DAG has nothing to load for the date: no silo exported anything (a single missing file
    fails its ingest task instead, naming the file)."""
    if dag_id != "personalization_daily":
        return None
    from jobs.ingest.load import landing_file
    from jobs.tables import SOURCES

    if any(landing_file(settings, silo, entity, logical_date).is_file()
           for silo, entities in SOURCES.items() for entity in entities):
        return None
    return (f"no landing export for {logical_date} under {settings.landing}: nothing to load. Write them first "
            f"(`marketofone generate --date {logical_date}`, `--daily` for a day's increment), or pick a date the "
            "silos exported")


def task_states(dag_run) -> dict[str, str]:
    """Each task's state; a mapped task (one instance per target) shows its worst instance."""
    from jobs.airflow_api import worst_states

    return worst_states((ti.task_id, ti.state) for ti in (dag_run.get_task_instances() if dag_run else []))


def _run_here(dag_id: str, logical_date: dt.date, settings: Settings) -> dict:
    apply_airflow_env(settings)
    ensure_airflow_db(settings)
    # Airflow's dag.test() runs tasks through FastAPI's test client, which warns about its httpx use.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    dag = load_dag(dag_id)
    refused = before_start(dag, logical_date) or no_exports(dag_id, logical_date, settings)
    if refused:
        return {"refused": refused}
    when = dt.datetime(logical_date.year, logical_date.month, logical_date.day, tzinfo=dt.timezone.utc)
    dag_run = dag.test(logical_date=when, run_conf={"date": logical_date.isoformat()})
    states = task_states(dag_run)
    in_dag_order = {t.task_id: states[t.task_id] for t in dag.topological_sort() if t.task_id in states}
    return {"dag_id": dag_id, "date": logical_date.isoformat(), "state": str(getattr(dag_run, "state", "unknown")),
            "tasks": {**in_dag_order, **states}}


def _main(argv: list[str]) -> int:
    """`python -m jobs.orchestrate DAG_ID DATE RESULT_JSON`: one DAG run, its outcome written to RESULT_JSON."""
    dag_id, day, result_path = argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        outcome = _run_here(dag_id, parse_date(day), Settings.from_env())
    except Exception as exc:  # the traceback stays in the log; the caller shows the message
        log.exception("the DAG run could not start")
        outcome = {"error": f"{type(exc).__name__}: {one_line(exc)}"}
    Path(result_path).write_text(json.dumps(outcome))
    return 0


def business_date() -> str:
    """The date a task works on: the run's config {"date": "YYYY-MM-DD"} when given, else its logical date."""
    from airflow.sdk import get_current_context

    ctx = get_current_context()
    conf = (ctx["dag_run"].conf or {}) if ctx.get("dag_run") else {}
    if conf.get("date"):
        return str(conf["date"])
    when = ctx.get("logical_date") or ctx["dag_run"].run_after
    return when.date().isoformat()


def _not_retryable() -> tuple[type[BaseException], ...]:
    """Failures in the data itself, or a guard that refuses on purpose: the same input fails the same way on
    every try (a refused republish or a blocked fairness gate waits for a person, not for a retry)."""
    from jobs.decide.run import FairnessGateError, RepublishRefusedError
    from jobs.ingest.errors import LandingError
    from jobs.quality import DataQualityError

    return (LandingError, DataQualityError, RepublishRefusedError, FairnessGateError)


def fail_fast_on_data_errors(task):
    """A task fails at once, without its retries, on an error a retry cannot fix (Airflow's
    AirflowFailException), and keeps its retries on any other. Either way the cause is recorded for the run's
    summary and shown as a progress line."""
    @functools.wraps(task)
    def wrapper(*args, **kwargs):
        try:
            return task(*args, **kwargs)
        except Exception as exc:
            retryable = not isinstance(exc, _not_retryable())
            _record_failure(exc, retryable)
            if retryable:
                raise
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(f"{type(exc).__name__}: {one_line(exc)}") from exc
    return wrapper


def _record_failure(exc: Exception, retryable: bool) -> None:
    from airflow.sdk import get_current_context

    try:
        ti = get_current_context()["ti"]
        task_id, map_index, try_number, retries = ti.task_id, ti.map_index, ti.try_number, ti.task.retries
    except Exception:  # outside a task (a direct call): nothing to attribute the failure to
        return
    retry = retryable and try_number <= retries
    name = _instance({"task_id": task_id, "map_index": map_index})
    # One line as it happens (the run's summary gives every cause at the end): the cause when the task will
    # be retried, so that the wait is explained.
    what = (f"{type(exc).__name__}: {one_line(exc)[:160]} (try {try_number} of {retries + 1}; retrying)" if retry
            else f"{type(exc).__name__}" + ("" if retryable else " (not retried: a retry cannot fix it)"))
    print(f"  [{business_date()}] {name:<13} failed: {what}", file=sys.__stderr__, flush=True)
    path = os.environ.get(FAILURES_ENV)
    if path:
        record = {"task_id": task_id, "map_index": map_index, "try_number": try_number, "error": type(exc).__name__,
                  "message": one_line(exc), "retryable": retryable}
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")


@fail_fast_on_data_errors
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


if __name__ == "__main__":
    from jobs.quick_exit import quick_exit

    quick_exit(_main(sys.argv[1:]))   # the run's result is written: not 3 more seconds of teardown
