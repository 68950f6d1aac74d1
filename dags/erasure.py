"""
### erasure

Erasure requests (GDPR Art. 17) carried out: every request queued with `marketofone erase --customer ID` since
the last run. The person's rows go from every table (bronze's raw exports and the quarantine included, through the
crosswalk's silo ids), their records from the landing files, the channels' exports, the event and write-ahead
files, the data-quality reports and the online store; the decision log keeps each decision with the customer id
replaced by the erasure id; the tables changed are vacuumed without a retention, so no older version reads the
person again. The silo ids erased are kept as tombstones: a later export that still carries the person has those
rows dropped at ingest. `marketofone erase --status` shows each request's report (audit.erasure_report).

Orchestration only: the task calls `jobs.orchestrate.run_task`; the logic is jobs/privacy/erasure.py. It runs
daily (a month is the law's limit; a day is what a bank promises), and can be triggered at any time.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task


@dag(
    dag_id="erasure",
    doc_md=__doc__,
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1), "owner": "compliance"},
    tags=["marketofone", "privacy"],
)
def erasure():
    @task(doc_md="every queued request erased, reported and closed (audit.erasure_request, audit.erasure_report)")
    def erase() -> dict:
        from jobs.orchestrate import run_task

        return run_task("erase")

    erase()


dag = erasure()
