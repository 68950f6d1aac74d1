"""
### models_weekly

Trains the product-propensity and life-event models (XGBoost, tracked in MLflow) on the lakehouse as
it is on the logical date: `training_set` writes point-in-time features at every month-end as-of date
the data supports, with eligibility and labels per target (gold.training_set); then one `train` task per
target fits its model, tests it out of time on the latest as-of date, logs it and registers it, and
promotes it to `champion` only if it clears the floor (a test AUC of at least the minimum and above a
one-feature baseline's) and beats the current champion on the same test set by the promotion margin;
otherwise it is the `challenger`. A target left without a champion is not scored, so its product is not
offered by model (the task's line says so). Credit products' models are trained without the protected
attributes of the decision policy. `personalization_daily` scores with the champions.

A target with too few positives at this size is skipped with the reason (the task succeeds); a
re-run for the same data, floor and policy retrains nothing (the newest version already covers its latest
as-of date).
Orchestration only: every task calls `jobs.orchestrate.run_task`.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

# Kept equal to jobs.gold.targets.TARGETS by tests/unit/test_dags.py.
TARGETS = ("savings", "term_deposit", "credit_card", "personal_loan", "auto_loan", "mortgage",
           "home_purchase", "marriage", "new_child", "job_change", "retirement")


def _run(step: str, **kwargs) -> dict:
    # Imported here so that parsing the DAG file stays fast and light for the scheduler.
    from jobs.orchestrate import run_task

    return run_task(step, **kwargs)


@dag(
    dag_id="models_weekly",
    doc_md=__doc__,
    schedule="@weekly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=5), "owner": "data-science"},
    tags=["marketofone", "weekly", "models"],
)
def models_weekly():
    @task
    def training_set() -> dict:
        return _run("training_set")

    @task
    def train(target: str) -> dict:
        return _run("train", target=target)

    training_set() >> train.expand(target=list(TARGETS))


dag = models_weekly()
