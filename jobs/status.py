"""`marketofone status`: where the product stands, on one screen.

What a data engineer looks at first in the morning: the last run of each DAG (its date, state and failed tasks,
and which dates ended failed), what sits in quarantine, which model version is each target's champion, each
table's Delta version, and in the production profile whether every service answers. Everything is read from
what the runs leave behind (the run records under `<home>/logs/`, the tables' Delta logs, the MLflow registry):
nothing starts a Spark session.
"""

from __future__ import annotations

import json
from pathlib import Path

from jobs.settings import Settings


def dag_runs(settings: Settings) -> list[dict]:
    """Per DAG: its latest run (date, state, failed tasks), how many dates have a run record, and the dates whose
    latest run did not succeed. A date's record is its latest run's (`marketofone run` replaces it)."""
    from jobs.orchestrate import DAG_IDS, succeeded

    rows = []
    for dag_id in DAG_IDS:
        records = sorted((settings.home / "logs" / dag_id).glob("*.json"))
        outcomes = [_read(path) for path in records]
        outcomes = [o for o in outcomes if o is not None]
        if not outcomes:
            rows.append({"dag": dag_id, "last date": "never run", "state": "", "failed tasks": "",
                         "dates run": 0, "dates failed": ""})
            continue
        last = outcomes[-1]
        failed_dates = [o["date"] for o in outcomes if not succeeded(o)]
        tasks = last.get("tasks") or {}
        rows.append({
            "dag": dag_id,
            "last date": last["date"],
            "state": last.get("state") or ("refused" if last.get("refused") else "error"),
            "failed tasks": ", ".join(t for t, s in sorted(tasks.items()) if s != "success"),
            "dates run": len(outcomes),
            "dates failed": _dates_list(failed_dates),
        })
    return rows


def _read(path: Path) -> dict | None:
    try:
        outcome = json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # a run that is being written, or a stray file
    return outcome if isinstance(outcome, dict) and "date" in outcome else None


def _dates_list(dates: list[str], shown: int = 5) -> str:
    if len(dates) <= shown:
        return ", ".join(dates)
    return ", ".join(dates[-shown:]) + f" (and {len(dates) - shown} earlier)"


def quarantine(tables: list[dict]) -> list[dict]:
    """The quarantine tables that hold rows (from `Lakehouse.describe()`), most rows first."""
    held = [{"table": t["table"], "rows": t["rows"], "version": t["version"]}
            for t in tables if t["table"].startswith("quarantine.") and t["rows"]]
    return sorted(held, key=lambda t: (-t["rows"], t["table"]))


def champions(settings: Settings) -> list[dict]:
    """Every registered model with its champion version (none yet: a model trained but never promoted) and its
    latest version."""
    from jobs.models import registry

    client = registry.client(settings)
    rows = []
    for model in sorted(client.search_registered_models(), key=lambda m: m.name):
        latest = max((int(v.version) for v in client.search_model_versions(f"name='{model.name}'")), default=None)
        rows.append({"model": model.name,
                     "champion": registry.alias_version(client, model.name, registry.CHAMPION) or "none",
                     "latest version": latest if latest is not None else ""})
    return rows


def services(settings: Settings, environ: dict[str, str]) -> list[dict]:
    """In the production profile, each service the configuration needs and whether it answers."""
    from jobs import production

    rows = []
    for service in production.needed_services(settings):
        endpoint = service.endpoint(environ)
        if endpoint is None:
            rows.append({"service": service.name, "at": f"{service.setting} not set", "answers": "no"})
            continue
        problem = production.unreachable_one(endpoint)
        rows.append({"service": service.name, "at": f"{endpoint[0]}:{endpoint[1]}",
                     "answers": "yes" if problem is None else f"no: {problem}"})
    return rows
