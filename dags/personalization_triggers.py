"""
### personalization_triggers

Event-driven: runs when the triggers consumer of the event stream (`marketofone serve --triggers` or
`marketofone triggers`) has fired triggers, not on a clock. The consumer decides each moment of need in
milliseconds and publishes it on the triggered-offers queue (GET /triggered-offers); it then touches
`<home>/stream/triggered/.new`, which this DAG's asset watches (an `AssetWatcher` with the standard provider's
`FileDeleteTrigger`, run by the triggerer, removes it and emits the asset event). A run does the follow-ups
that need the lakehouse: the decisions the triggers and the API made are appended to `audit.decision_log`
(from their write-ahead files) and the fired triggers to `gold.triggered_offers`, so analysts and compliance see
them within minutes and the next daily run counts their contacts. The daily DAG's `drain_decisions` task does
the same before it decides, and reports what the triggers did.

Orchestration only: the task calls `jobs.orchestrate.run_task`. Each drain is keyed, so runs that overlap or
repeat add nothing twice. Trigger it by hand with a config `{"date": "YYYY-MM-DD"}` for the date to record.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.providers.standard.triggers.file import FileDeleteTrigger
from airflow.sdk import Asset, AssetWatcher, dag, task

# The same file as jobs.serve.live.new_marker (kept equal by tests/unit/test_dags.py); the DAG file does not import
# the package, so parsing stays light for the dag-processor.
HOME = Path(os.environ.get("MARKETOFONE_HOME", ".marketofone")).expanduser().resolve()
MARKER = HOME / "stream" / "triggered" / ".new"

TRIGGERED = Asset(
    name="marketofone_triggered_offers",
    uri=f"file://{MARKER.parent}",
    watchers=[AssetWatcher(name="triggered_offers_marker", trigger=FileDeleteTrigger(filepath=str(MARKER),
                                                                                    poke_interval=2.0))],
)


def _run(step: str, **kwargs) -> dict:
    from jobs.orchestrate import run_task

    return run_task(step, **kwargs)


@dag(
    dag_id="personalization_triggers",
    doc_md=__doc__,
    schedule=[TRIGGERED],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30), "owner": "data-engineering"},
    tags=["marketofone", "event-driven"],
)
def personalization_triggers():
    @task(doc_md="the triggers' and the API's decisions to audit.decision_log, the fired triggers to "
                 "gold.triggered_offers")
    def drain_decisions() -> dict:
        return _run("drain_decisions")

    drain_decisions()


dag = personalization_triggers()
