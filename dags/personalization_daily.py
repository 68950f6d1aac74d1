"""
### personalization_daily

The daily Market of One run for one logical date: load the silo exports into bronze, conform them
into silver (one golden customer per person), build the customer-360 and a point-in-time training
set, train the propensity models, score every customer, choose the next best offer and publish the
relationship KPIs.

Orchestration only: every task calls `jobs.pipeline.run_step`; the logic lives in `jobs/`.
Data quality runs inside the tasks, on each layer: `ingest_<silo>` checks every file against its
landing contract and its bronze Great Expectations suite, `silver` and the gold steps validate each
table before publishing it (write-audit-publish). Failing rows go to `quarantine.*` with the reason, a
table-level failure fails the task, and every result is kept in `audit.dq_results` (`marketofone dq`).
Trigger with a config `{"date": "YYYY-MM-DD"}` to run a specific business date; otherwise the run's
logical date is used. Every step replaces exactly its date, so re-running a date changes nothing.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, get_current_context, task

SILOS = ("deposits", "cards", "lending", "digital", "crm")  # kept equal to jobs.tables.SOURCES by tests/test_dags.py


def _business_date() -> str:
    ctx = get_current_context()
    conf = (ctx["dag_run"].conf or {}) if ctx.get("dag_run") else {}
    if conf.get("date"):
        return str(conf["date"])
    when = ctx.get("logical_date") or ctx["dag_run"].run_after
    return when.date().isoformat()


def _run(step: str, **kwargs) -> dict:
    # Imported here so that parsing the DAG file stays fast and light for the scheduler.
    from jobs.pipeline import run_step

    result = run_step(step, _business_date(), **kwargs)
    return {"step": result.step, "date": result.logical_date.isoformat(), "tables": result.tables,
            "seconds": round(result.seconds, 2), "details": result.details}


@dag(
    dag_id="personalization_daily",
    doc_md=__doc__,
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1), "owner": "data-engineering"},
    tags=["marketofone", "daily"],
)
def personalization_daily():
    @task
    def ingest(silo: str) -> dict:
        return _run("ingest", silo=silo)

    @task
    def silver() -> dict:
        return _run("silver")

    @task
    def customer_360() -> dict:
        return _run("customer_360")

    @task
    def training_set() -> dict:
        return _run("training_set")

    @task
    def train() -> dict:
        return _run("train")

    @task
    def score() -> dict:
        return _run("score")

    @task
    def offers() -> dict:
        return _run("offers")

    @task
    def kpis() -> dict:
        return _run("kpis")

    loaded = [ingest.override(task_id=f"ingest_{silo}")(silo=silo) for silo in SILOS]
    conformed, c360, features, trained, scored = silver(), customer_360(), training_set(), train(), score()
    loaded >> conformed >> [c360, features]
    features >> trained
    [c360, trained] >> scored >> offers() >> kpis()


dag = personalization_daily()
