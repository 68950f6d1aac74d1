"""
### personalization_daily

The daily Market of One run for one logical date: load the source systems' exports into bronze,
conform them into silver (one golden customer per person, the day's activity MERGEd), build the
customer-360, score every customer with the champion models (products and life events, with reason
codes), decide the offers (eligibility, consent, suitability, contact policy, price, arbitration, holdout:
every candidate in `audit.decision_log`), check fairness, publish `gold.offers_<channel>`, their exports and
the decision API's online store, and compute the KPIs for treated customers and the holdout. The `channels`
source brings back what customers did with the offers published before; `drain_decisions` first moves the
decision API's answers into `audit.decision_log`, so the day's contact limits count them. The models are trained by the
`models_weekly` DAG; until it has run there is no champion, nothing is scored and no offer is made
(the `score` task says so). Last, `retention` applies the retention policy for the date: rows past it deleted or
aggregated and their files vacuumed, old landing files and exports deleted.

Orchestration only: every task calls `jobs.orchestrate.run_task`; the logic lives in `jobs/`.
Data quality runs inside the tasks, on each layer: `ingest_<source>` checks every file against its
landing contract and its bronze Great Expectations suite, `silver` and the gold steps validate each
table before publishing it (write-audit-publish). Failing rows go to `quarantine.*` with the reason, a
table-level failure fails the task, and every result is kept in `audit.dq_results` (`marketofone dq`).
A failure in the data (a missing export, a file that breaks its contract, a table-level data-quality
failure) fails its task at once, without the retries: the next try would read the same files. Other
failures are retried.
Trigger with a config `{"date": "YYYY-MM-DD"}` to run a specific business date; otherwise the run's
logical date is used. Every step replaces or merges exactly its date, so re-running a date changes nothing.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

SOURCES = ("deposits", "cards", "lending", "digital", "crm", "channels")  # kept equal to jobs.tables.SOURCES by tests


def _run(step: str, **kwargs) -> dict:
    # Imported here so that parsing the DAG file stays fast and light for the scheduler.
    from jobs.orchestrate import run_task

    return run_task(step, **kwargs)


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
    def ingest(source: str) -> dict:
        return _run("ingest", silo=source)

    @task
    def silver() -> dict:
        return _run("silver")

    @task
    def customer_360() -> dict:
        return _run("customer_360")

    @task
    def score() -> dict:
        return _run("score")

    @task(doc_md="the decision API's answers (its write-ahead files) appended to audit.decision_log")
    def drain_decisions() -> dict:
        return _run("drain_decisions")

    @task(doc_md="decide and publish: audit.decision_log, gold.fairness_daily, gold.offers_<channel>, exports")
    def offers() -> dict:
        return _run("offers")

    @task
    def kpis() -> dict:
        return _run("kpis")

    @task(doc_md="the retention policy (schemas/governance/retention.json) for the date: rows past it deleted or "
                 "aggregated, their files vacuumed, old landing files and exports deleted (audit.retention_run)")
    def retention() -> dict:
        return _run("retention")

    loaded = [ingest.override(task_id=f"ingest_{source}")(source=source) for source in SOURCES]
    decided = offers()
    loaded >> silver() >> customer_360() >> score() >> decided >> kpis() >> retention()
    drain_decisions() >> decided


dag = personalization_daily()
