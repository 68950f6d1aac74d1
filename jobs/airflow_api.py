"""DAG runs through Airflow's REST API (/api/v2): how the production profile runs a DAG.

In the embedded profile `marketofone run` runs a DAG in a process of its own through `dag.test()`. In the
production profile the scheduler runs it: this module asks the api-server for a run (or a backfill over a date
range), and watches it until it ends, printing a line per task as its state changes, so the terminal shows the
same story as in the embedded profile, while the tasks run in the scheduler's executor (in parallel where the DAG
allows: the six `ingest_<source>` tasks at once under the LocalExecutor).

A date that already has a run is run again the way Airflow does it: its run is cleared, so it keeps its run id and
its history in the UI. jobs.orchestrate records each outcome where `marketofone status` reads it.

Authentication: Airflow's simple auth manager hands out a token for MARKETOFONE_AIRFLOW_USER and
MARKETOFONE_AIRFLOW_PASSWORD (POST /auth/token); with no password set, the user's password in the api-server's
passwords file when this machine shares it (AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE); with neither, the
token every user gets when the api-server makes all users admins (GET /auth/token). Another auth manager works the
same way when it issues tokens at /auth/token.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from jobs.settings import Settings

POLL_SECONDS = 2.0
TERMINAL = {"success", "failed"}
REQUEST_TIMEOUT_S = 30.0


class AirflowApiError(RuntimeError):
    """The api-server refused a request or could not be reached; the message says which and why."""


@dataclass
class AirflowApi:
    base_url: str
    user: str = ""
    password: str = field(default="", repr=False)
    _token: str | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> "AirflowApi":
        password = settings.airflow_password or _generated_password(settings.airflow_user)
        return cls(settings.airflow_url.rstrip("/"), settings.airflow_user, password)

    # -- transport --------------------------------------------------------------------------------------
    def token(self) -> str:
        if self._token is None:
            url = f"{self.base_url}/auth/token"
            try:
                if self.password:
                    reply = requests.post(url, json={"username": self.user, "password": self.password},
                                          timeout=REQUEST_TIMEOUT_S)
                else:
                    reply = requests.get(url, timeout=REQUEST_TIMEOUT_S)
            except requests.ConnectionError as exc:
                raise AirflowApiError(f"the Airflow api-server at {self.base_url} (MARKETOFONE_AIRFLOW_URL) cannot "
                                      f"be reached: {exc.__class__.__name__}; start it with `airflow api-server` "
                                      "(docker compose up -d airflow-apiserver)") from None
            if reply.status_code not in (200, 201):
                hint = ("check MARKETOFONE_AIRFLOW_USER and MARKETOFONE_AIRFLOW_PASSWORD" if self.password else
                        "set MARKETOFONE_AIRFLOW_USER and MARKETOFONE_AIRFLOW_PASSWORD")
                raise AirflowApiError(f"the Airflow api-server at {self.base_url} refused a token "
                                      f"({reply.status_code}: {reply.text[:200]}): {hint}")
            self._token = reply.json()["access_token"]
        return self._token

    def call(self, method: str, path: str, expect: tuple[int, ...] = (200,), **kwargs) -> requests.Response:
        """One request to /api/v2; an answer outside `expect` raises AirflowApiError with the server's reason."""
        url = f"{self.base_url}/api/v2{path}"
        try:
            reply = requests.request(method, url, headers={"Authorization": f"Bearer {self.token()}"},
                                     timeout=REQUEST_TIMEOUT_S, **kwargs)
        except requests.ConnectionError as exc:
            raise AirflowApiError(f"the Airflow api-server at {self.base_url} stopped answering "
                                  f"({exc.__class__.__name__}) during {method} {path}") from None
        if reply.status_code not in expect:
            raise AirflowApiError(f"{method} {path}: the Airflow api-server answered {reply.status_code}: "
                                  f"{_detail(reply)}")
        return reply

    # -- what the product asks of it ----------------------------------------------------------------------
    def unpause(self, dag_id: str) -> None:
        """A new DAG is paused (Airflow's default for new DAGs): the scheduler would queue its runs forever."""
        reply = self.call("PATCH", f"/dags/{dag_id}", expect=(200, 404), json={"is_paused": False})
        if reply.status_code == 404:
            raise AirflowApiError(f"Airflow knows no DAG {dag_id!r} yet: is the dag-processor running, with "
                                  "AIRFLOW__CORE__DAGS_FOLDER on the project's dags/? (a new DAG file is parsed "
                                  "within a minute of the dag-processor's start)")

    def run_for(self, dag_id: str, day: dt.date) -> str:
        """The id of a run of `dag_id` for business date `day`: a new one, or the date's run cleared to run again."""
        logical = _midnight(day).isoformat()
        reply = self.call("POST", f"/dags/{dag_id}/dagRuns", expect=(200, 409),
                          json={"logical_date": logical, "conf": {"date": day.isoformat()}})
        if reply.status_code == 200:
            return reply.json()["dag_run_id"]
        runs = self.call("GET", f"/dags/{dag_id}/dagRuns", params={"logical_date_gte": logical,
                                                                    "logical_date_lte": logical}).json()["dag_runs"]
        if not runs:
            raise AirflowApiError(f"Airflow refused a run of {dag_id} for {day} and shows none: {_detail(reply)}")
        run_id = runs[0]["dag_run_id"]
        self.call("POST", f"/dags/{dag_id}/dagRuns/{run_id}/clear", json={"dry_run": False})
        return run_id

    def run(self, dag_id: str, run_id: str) -> dict:
        return self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}").json()

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                         params={"limit": 1000}).json()["task_instances"]

    def backfill(self, dag_id: str, first: dt.date, last: dt.date, max_active_runs: int = 1) -> dict:
        """A backfill the scheduler runs: one run per scheduled date from `first` to `last`, dates that already
        ran included (reprocess_behavior=completed: a backfill is asked for to run them again)."""
        return self.call("POST", "/backfills", json={
            "dag_id": dag_id, "from_date": _midnight(first).isoformat(), "to_date": _midnight(last).isoformat(),
            "reprocess_behavior": "completed", "max_active_runs": max_active_runs}).json()

    def backfill_runs(self, dag_id: str) -> list[dict]:
        """The DAG's backfill runs (a date has one run: a later backfill of the date reprocesses that run)."""
        return self.call("GET", f"/dags/{dag_id}/dagRuns", params={"run_type": "backfill", "limit": 1000,
                                                                    "order_by": "logical_date"}).json()["dag_runs"]


def _generated_password(user: str) -> str:
    """The user's password from the simple auth manager's passwords file, when this machine shares it with the
    api-server (a process of the docker-compose stack, the test's stack): "" otherwise."""
    path = os.environ.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", "")
    try:
        return str(json.loads(Path(path).read_text()).get(user, "")) if path else ""
    except (OSError, ValueError):
        return ""


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)


def _detail(reply: requests.Response) -> str:
    try:
        detail = reply.json().get("detail", reply.text)
    except ValueError:
        detail = reply.text
    return str(detail)[:300]


def worst_states(pairs) -> dict[str, str]:
    """Each task's state from (task_id, state) pairs; a mapped task (one instance per target) shows its worst
    instance. The one rule for runs through the scheduler and through dag.test()."""
    found: dict[str, set[str]] = {}
    for task_id, state in pairs:
        found.setdefault(task_id, set()).add(str(state))
    order = ("failed", "upstream_failed", "up_for_retry", "skipped", "None")
    return {t: next((s for s in order if s in states), sorted(states)[0]) for t, states in found.items()}


def task_states(instances: list[dict]) -> dict[str, str]:
    """Each task's state in a run's task instances as the REST API lists them."""
    return worst_states((ti["task_id"], ti.get("state")) for ti in instances)


def ran_at_once(instances: list[dict], prefix: str) -> int:
    """The largest number of task instances whose id starts with `prefix` that were running at the same moment
    (from their start and end times): how parallel the executor ran them."""
    spans = [(ti["start_date"], ti["end_date"]) for ti in instances
             if ti["task_id"].startswith(prefix) and ti.get("start_date") and ti.get("end_date")]
    events = sorted([(dt.datetime.fromisoformat(s), 1) for s, _ in spans] +
                    [(dt.datetime.fromisoformat(e), -1) for _, e in spans])
    running = most = 0
    for _, step in events:
        running += step
        most = max(most, running)
    return most


def watch(api: AirflowApi, dag_id: str, run_id: str, day: dt.date, timeout_s: float | None = None,
          out=sys.stderr) -> dict:
    """Wait for the run to end, printing a line per task state change; its outcome as `run_dag` gives it."""
    started = time.monotonic()
    shown: dict[str, str] = {}
    while True:
        run = api.run(dag_id, run_id)
        instances = api.task_instances(dag_id, run_id)
        states = task_states(instances)
        for task, state in states.items():
            if state != shown.get(task) and state not in ("None", "scheduled", "queued"):
                print(f"  [{day}] {task:<13} {state}", file=out, flush=True)
                shown[task] = state
        if run["state"] in TERMINAL:
            return {"dag_id": dag_id, "date": day.isoformat(), "state": run["state"], "tasks": states,
                    "run_id": run_id, "ingests_at_once": ran_at_once(instances, "ingest_"),
                    "seconds": _seconds(run)}
        if timeout_s is not None and time.monotonic() - started > timeout_s:
            raise AirflowApiError(f"DAG {dag_id} run {run_id} for {day} still {run['state']} after {timeout_s:.0f}s "
                                  f"(tasks: {json.dumps(states)})")
        time.sleep(POLL_SECONDS)


def _seconds(run: dict) -> float | None:
    if run.get("start_date") and run.get("end_date"):
        ended, began = dt.datetime.fromisoformat(run["end_date"]), dt.datetime.fromisoformat(run["start_date"])
        return (ended - began).total_seconds()
    return None


def run_dag(dag_id: str, day: dt.date, settings: Settings, timeout_s: float | None = None) -> dict:
    """One DAG run for `day` through the scheduler: trigger (or clear) it, watch it, record its outcome."""
    api = AirflowApi.from_settings(settings)
    api.unpause(dag_id)
    run_id = api.run_for(dag_id, day)
    print(f"  [{day}] {dag_id}: run {run_id} queued with the scheduler at {api.base_url}", file=sys.stderr, flush=True)
    return _with_page(watch(api, dag_id, run_id, day, timeout_s), api)


def backfill(dag_id: str, first: dt.date, last: dt.date, settings: Settings,
             timeout_s: float | None = None) -> list[dict]:
    """A backfill from `first` to `last` through the scheduler, watched until every run has ended; each run's
    outcome, in date order."""
    api = AirflowApi.from_settings(settings)
    api.unpause(dag_id)
    created = api.backfill(dag_id, first, last)
    print(f"  backfill {created['id']} of {dag_id} from {first} to {last} queued with the scheduler at "
          f"{api.base_url}", file=sys.stderr, flush=True)
    started, outcomes = time.monotonic(), {}
    while True:
        runs = [r for r in api.backfill_runs(dag_id) if _in(r, first, last)]
        for run in runs:
            day = dt.datetime.fromisoformat(run["logical_date"]).date()
            if run["state"] in TERMINAL and run["dag_run_id"] not in outcomes:
                outcomes[run["dag_run_id"]] = _with_page(watch(api, dag_id, run["dag_run_id"], day, timeout_s), api)
        done = api.call("GET", f"/backfills/{created['id']}").json().get("completed_at")
        if done and all(r["dag_run_id"] in outcomes for r in runs):
            return sorted(outcomes.values(), key=lambda o: o["date"])
        if timeout_s is not None and time.monotonic() - started > timeout_s:
            raise AirflowApiError(f"backfill {created['id']} of {dag_id} not finished after {timeout_s:.0f}s: "
                                  f"{len(outcomes)} of its runs ended")
        time.sleep(POLL_SECONDS)


def _in(run: dict, first: dt.date, last: dt.date) -> bool:
    return bool(run.get("logical_date")) and first <= dt.datetime.fromisoformat(run["logical_date"]).date() <= last


def _with_page(outcome: dict, api: AirflowApi) -> dict:
    """The run's page in the Airflow UI, where its task logs are, as the outcome's "log"."""
    outcome["log"] = f"{api.base_url}/dags/{outcome['dag_id']}/runs/{outcome['run_id']}"
    return outcome
