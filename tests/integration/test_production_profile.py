"""The production profile, for real, on this machine: PostgreSQL, the MLflow tracking server (PostgreSQL backend
store), a Spark Connect server, and Airflow's api-server, scheduler (LocalExecutor), dag-processor and triggerer,
each a process of its own (jobs/local_stack.py). `marketofone run` asks the scheduler for each DAG run through the
REST API and watches it; the six ingest tasks run at once; a date range is a backfill the scheduler runs.

The Spark Connect server is Sail's (`marketofone connect-server --engine sail`): the JVM server with Delta runs
the same DAGs in tests/integration/test_engines.py, where its tables are compared row for row with Sail's, and a
JVM server under the whole Airflow stack would take this test from minutes to half an hour on 2 cores.

PostgreSQL's server programs must be installed (.ci/run installs Debian's package when they are missing).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from deltalake import DeltaTable

from jobs.local_stack import LocalStack
from tests.paths import ROOT

DAY, NEXT, AFTER = "2026-06-30", "2026-07-01", "2026-07-02"
# As in the engines' parity run: enough history and customers for at least one model with a champion.
BANK = {"MARKETOFONE_CUSTOMERS": "400", "MARKETOFONE_HISTORY_DAYS": "260"}
CLI = [sys.executable, "-m", "jobs.cli"]

pytestmark = pytest.mark.production


def _cli(stack: LocalStack, *args: str, timeout: int = 1200) -> str:
    done = subprocess.run([*CLI, *args], cwd=ROOT, env=stack.env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, (f"{args} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}\nservice logs: "
                                  f"{stack.folder / 'logs'}")
    return done.stdout + done.stderr


def _rows(stack: LocalStack, table: str, day: str) -> list[dict]:
    layer, name = table.split(".")
    rows = DeltaTable(str(stack.home / "lakehouse" / layer / name)).to_pyarrow_table().to_pylist()
    return [r for r in rows if str(r.get("as_of_date")) == day]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    folder = tmp_path_factory.mktemp("production")
    started = LocalStack(folder / "services", folder / "home", settings_env=BANK).start()
    try:
        yield started
    finally:
        pids = [s.process.pid for s in started.services]
        started.stop()
        # Nothing is left running: every service's process group is gone.
        for pid in pids:
            with pytest.raises(ProcessLookupError):
                os.killpg(pid, 0)


@pytest.fixture(scope="module")
def runs(stack):
    """The exports of three days, then the DAG runs a bank's first days take, each through the scheduler."""
    _cli(stack, "generate", "--date", DAY)
    for day in (NEXT, AFTER):
        _cli(stack, "generate", "--daily", "--date", day)
    printed = {"daily": _cli(stack, "run", "personalization_daily", "--date", DAY),
               "weekly": _cli(stack, "run", "models_weekly", "--date", DAY),
               "next": _cli(stack, "run", "personalization_daily", "--date", NEXT)}
    printed["next_offers"] = {c: _rows(stack, f"gold.offers_{c}", NEXT) for c in ("email", "mobile")}
    printed["backfill"] = _cli(stack, "run", "personalization_daily", "--from", NEXT, "--to", AFTER)
    return printed


def _api(stack: LocalStack):
    from jobs.airflow_api import AirflowApi

    return AirflowApi(stack.env["MARKETOFONE_AIRFLOW_URL"], stack.env["MARKETOFONE_AIRFLOW_USER"],
                      stack.env["MARKETOFONE_AIRFLOW_PASSWORD"])


def test_the_scheduler_ran_the_daily_dag_with_the_ingests_at_once(stack, runs):
    from jobs.airflow_api import ran_at_once

    api = _api(stack)
    dag_runs = api.call("GET", "/dags/personalization_daily/dagRuns", params={"order_by": "logical_date"}).json()
    first = next(r for r in dag_runs["dag_runs"] if r["logical_date"].startswith(DAY))
    assert first["state"] == "success" and first["run_type"] == "manual"
    instances = api.task_instances("personalization_daily", first["dag_run_id"])
    assert {ti["task_id"] for ti in instances} >= {"ingest_deposits", "ingest_cards", "silver", "offers", "kpis"}
    assert all(ti["state"] == "success" for ti in instances)
    # LocalExecutor: the ingest tasks ran in parallel processes, not one after the other.
    assert ran_at_once(instances, "ingest_") >= 2
    assert len({ti["pid"] for ti in instances if ti["task_id"].startswith("ingest_")}) == 6
    assert "DAG personalization_daily for 2026-06-30: success" in runs["daily"]


def test_every_ingest_of_each_date_has_its_results_in_dq_results(stack, runs):
    results = DeltaTable(str(stack.home / "lakehouse" / "audit" / "dq_results")).to_pyarrow_table().to_pylist()
    from jobs.tables import SOURCES

    for day in (DAY, NEXT, AFTER):
        checked = {r["table"] for r in results if str(r["run_date"]) == day}
        for silo, entities in SOURCES.items():
            for entity in entities:
                assert any(entity in name for name in checked), (day, silo, entity, sorted(checked))


def test_models_are_registered_in_the_tracking_server_and_score_the_next_day(stack, runs):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=stack.env["MARKETOFONE_TRACKING_URI"],
                          registry_uri=stack.env["MARKETOFONE_TRACKING_URI"])
    champions = {}
    for model in client.search_registered_models():
        try:
            champions[model.name] = client.get_model_version_by_alias(model.name, "champion").version
        except Exception:
            continue
    assert champions, "no champion in the MLflow server after models_weekly"
    # The artifacts went through the server (served artifacts), not to a local folder of the client.
    artifacts = stack.folder / "mlflow-artifacts"
    assert any(p.name == "MLmodel" for p in artifacts.rglob("MLmodel"))
    assert _rows(stack, "gold.propensity_scores", NEXT), "the next day was not scored with the champions"
    assert runs["next_offers"]["email"] or runs["next_offers"]["mobile"]


def test_the_tracking_server_runs_without_a_job_runner(stack):
    """MLflow 3's job runner (task-queue consumers for its GenAI jobs, which nothing here submits) is off: idle,
    it used a quarter of a core."""
    import psutil

    [mlflow] = [s for s in stack.services if s.name == "mlflow"]
    commands = [" ".join(child.cmdline()) for child in psutil.Process(mlflow.process.pid).children(recursive=True)]
    assert not [c for c in commands if "huey" in c or "mlflow.server.jobs" in c], commands


def test_a_date_range_is_a_backfill_the_scheduler_runs_and_a_rerun_changes_nothing(stack, runs):
    api = _api(stack)
    backfill_runs = api.call("GET", "/dags/personalization_daily/dagRuns",
                             params={"run_type": "backfill"}).json()["dag_runs"]
    assert sorted(r["logical_date"][:10] for r in backfill_runs if r["state"] == "success") == [NEXT, AFTER] \
        or sorted(r["logical_date"][:10] for r in backfill_runs) == [AFTER]   # NEXT's manual run reprocessed
    assert f"backfill of personalization_daily: 2 runs succeeded, {NEXT} to {AFTER}" in runs["backfill"]
    # NEXT ran again inside the backfill: its published offers are the same.
    for channel, before in runs["next_offers"].items():
        after = _rows(stack, f"gold.offers_{channel}", NEXT)
        key = lambda r: (r["customer_id"], r["offer_id"])  # noqa: E731
        assert [(key(r), r["score"]) for r in sorted(after, key=key)] == \
            [(key(r), r["score"]) for r in sorted(before, key=key)], channel
    assert _rows(stack, "gold.kpi_daily", AFTER)


def test_status_shows_every_service_answering_and_the_last_runs(stack, runs):
    printed = _cli(stack, "status")
    for service in ("postgres", "mlflow", "spark-connect", "airflow-apiserver"):
        line = next(line for line in printed.splitlines() if line.startswith(service))
        assert line.rstrip().endswith("yes"), line
    daily = next(line for line in printed.splitlines() if line.startswith("personalization_daily"))
    assert AFTER in daily and "success" in daily


def test_the_offers_step_materialized_the_online_store_in_redis(stack, runs):
    """The production profile's online store is the stack's Redis: the last publish's customers, one key away."""
    from jobs.serve.redis_store import RedisStore

    store = RedisStore(stack.env["MARKETOFONE_ONLINE_STORE"])
    store.refresh()
    assert store.meta["as_of_date"] == AFTER
    published = {r["customer_id"] for r in _rows(stack, "gold.customer_360", AFTER)}
    assert store.meta["customers"] == len(published) > 0
    customer = sorted(published)[0]
    assert store.customer(customer) is not None
    assert not (stack.home / "online").exists() or not list((stack.home / "online").glob("store-*.sqlite"))


def test_triggers_fired_on_the_stream_start_the_event_driven_dag_through_the_triggerer(stack, runs):
    """The silos publish to the stack's Kafka topic; `marketofone triggers` (the `triggers` consumer group) publishes
    the moments of need it finds; the marker it leaves is what the personalization_triggers DAG's AssetWatcher
    waits for in the triggerer, and the run it starts drains the fired triggers into gold.triggered_offers."""
    import json
    import time

    from jobs.serve.live import new_marker
    from jobs.serve.redis_store import RedisStore
    from jobs.stream import broker

    api = _api(stack)
    # The stack's scheduler creates no run it was not asked for; an asset-triggered run is one such. The batch DAGs
    # paused (they would start a run for today, whose exports this bank does not have), the scheduler runs on with
    # its own run creation on, as in production.
    for dag_id in ("personalization_daily", "models_weekly"):
        api.call("PATCH", f"/dags/{dag_id}", json={"is_paused": True})
    stack.turn_schedules_on()
    api.unpause("personalization_triggers")
    # 30 accounts of 30 different customers (a trigger fires once per customer in its cooldown).
    store = RedisStore(stack.env["MARKETOFONE_ONLINE_STORE"])
    owners = {}
    for account in sorted(store.some_ids("account:deposits", 400)):
        owners.setdefault(store.resolve("account:deposits", account), account)
    accounts = sorted(owners.values())[:30]
    assert len(accounts) == 30
    day = "2026-07-03"
    events = [json.dumps({
        "event_id": f"P{i}", "source": "deposits/transactions", "occurred_at": f"{day}T10:00:00",
        "data": {"txn_id": f"DT-P{i}", "account_id": account, "booking_date": day, "amount": "800.00",
                 "direction": "DR", "txn_type": "CARD_SETTLEMENT", "mcc": "7011"}}).encode()
        for i, account in enumerate(accounts)]
    # Sent twice (a silo's retry): each trigger fires once per event all the same.
    at = broker.epoch_ms(f"{day}T10:00:00")
    assert broker.publish(stack.env["MARKETOFONE_EVENTS_BROKER"], [(at, e) for e in events + events]) == 60
    printed = _cli(stack, "triggers", "--until-idle")
    assert "following the Kafka topic marketofone.events" in printed
    fired = int(printed.split(", fired: ")[1].split(",")[0])   # not already_fired
    assert fired == len(accounts), printed
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        dag_runs = api.call("GET", "/dags/personalization_triggers/dagRuns").json()["dag_runs"]
        if any(r["state"] in ("success", "failed") for r in dag_runs):
            break
        time.sleep(2)
    [run] = dag_runs
    assert run["state"] == "success" and run["run_type"] == "asset_triggered", run
    assert not new_marker(stack.home).exists()   # the watcher took it
    drained = DeltaTable(str(stack.home / "lakehouse" / "gold" / "triggered_offers")).to_pyarrow_table().to_pylist()
    assert sorted(r["event_id"] for r in drained) == sorted(f"P{i}" for i in range(len(accounts)))
    assert {r["trigger_id"] for r in drained} == {"TRG-TRAVEL-SPEND"}
