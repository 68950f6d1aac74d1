"""The steps of the daily pipeline, each a thin `run` over the pure transforms in the step modules.

A step reads its inputs through the Lakehouse, writes its outputs through it, and returns a
StepResult with the row counts it wrote. The Airflow DAG calls `run_step(name, date)`; the CLI and the
benchmark call the same function, so all three run exactly the same code.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

from jobs import lakehouse_lock
from jobs.engine import spark_session
from jobs.publish import RELEASED, WAITING, results_per_step
from jobs.settings import Settings, parse_date
from jobs.tables import SOURCES, Lakehouse

log = logging.getLogger(__name__)


@dataclass
class StepResult:
    step: str
    logical_date: dt.date
    tables: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    details: dict = field(default_factory=dict)

    @property
    def rows(self) -> int:
        """Rows written to tables (the counts of rows waiting for a parent, or released, are not tables)."""
        return sum(v for k, v in self.tables.items() if not k.startswith((WAITING, RELEASED)))

    def count(self, prefix: str) -> int:
        return sum(v for k, v in self.tables.items() if k.startswith(prefix))


def lakehouse(settings: Settings) -> Lakehouse:
    return Lakehouse(spark_session(settings), settings)


# -- steps --------------------------------------------------------------------------------------
def ingest(lh: Lakehouse, day: dt.date, silo: str | None = None) -> StepResult:
    from jobs.ingest.load import run

    reports = run(lh, day, (silo,) if silo else None)
    result = StepResult(f"ingest_{silo}" if silo else "ingest", day)
    for r in reports:
        result.tables[f"bronze.{r.table}"] = r.rows_bronze
        result.tables[f"quarantine.{r.table}"] = r.rows_quarantined
    result.details["rows_in"] = sum(r.rows_in for r in reports)
    if any(r.rows_erased for r in reports):   # rows of people erased that an export still carried, dropped
        result.details["rows_erased"] = sum(r.rows_erased for r in reports)
    result.details["skipped_files"] = [r.source_file for r in reports if r.skipped]
    return result


def silver(lh: Lakehouse, day: dt.date) -> StepResult:
    from jobs.unify.run import run

    return StepResult("silver", day, run(lh, day))


def customer_360(lh: Lakehouse, day: dt.date) -> StepResult:
    from jobs.gold.run import customer_360 as run

    return StepResult("customer_360", day, run(lh, day))


def training_set(lh: Lakehouse, day: dt.date) -> StepResult:
    from jobs.gold.run import training_set as run

    tables, dates = run(lh, day)
    return StepResult("training_set", day, tables, details={"as_of_dates": [d.isoformat() for d in dates]})


def train(lh: Lakehouse, day: dt.date, target: str | None = None) -> StepResult:
    """Train every target's model, or one (`target`: a product or a life event, see jobs/gold/targets.py)."""
    from jobs.models.run import train as run

    details = run(lh, day, (target,) if target else None)
    return StepResult(f"train_{target}" if target else "train", day, {}, details=details)


def score(lh: Lakehouse, day: dt.date) -> StepResult:
    from jobs.models.run import score as run

    tables, details = run(lh, day)
    return StepResult("score", day, tables, details=details)


def offers(lh: Lakehouse, day: dt.date) -> StepResult:
    from jobs.decide.run import run

    return StepResult("offers", day, run(lh, day))


def drain_decisions(lh: Lakehouse, day: dt.date) -> StepResult:
    """The decision API's answers and the triggers' decisions since the last drain (their write-ahead files,
    whatever their date) appended to audit.decision_log, before the day's decisions count the contacts already
    made; the triggers fired since, to gold.triggered_offers."""
    from jobs.serve.decision_wal import drain
    from jobs.serve.live import TABLE, drain_triggered

    drained = drain(lh)
    return StepResult("drain_decisions", day, {"audit.decision_log": sum(drained.values()), TABLE: drain_triggered(lh)},
                      details={"files": sorted(drained)})


def kpis(lh: Lakehouse, day: dt.date) -> StepResult:
    from jobs.measure.run import kpis as run

    return StepResult("kpis", day, run(lh, day))


def retention(lh: Lakehouse, day: dt.date, dry_run: bool = False) -> StepResult:
    """The retention policy for `day` (jobs/retention/): rows past it deleted or aggregated, their files vacuumed."""
    from jobs.retention.run import run

    done = run(lh, day, dry_run=dry_run)
    return StepResult("retention", day, {}, details={
        "rows": {r.table: r.rows for r in done if r.rows}, "files": {r.table: r.files for r in done if r.files},
        "dry_run": dry_run})


def erase(lh: Lakehouse, day: dt.date) -> StepResult:
    """The queued erasure requests carried out (jobs/privacy/erasure.py); the erasure DAG's one task."""
    from jobs.privacy.erasure import run

    outcome = run(lh, day)
    removed: dict[str, int] = {}
    for _erasure_id, name, kind, rows, redacted, _files, _note in outcome.report:
        if kind == "table":
            removed[name] = removed.get(name, 0) + rows + redacted
    purged = {name: files for _, name, kind, _, _, files, _ in outcome.report if kind == "purge"}  # one per table
    return StepResult("erase", day, {}, details={
        "erased": outcome.erased, "unknown": outcome.unknown, "rows": removed, "files_purged": purged,
        "landing_records": outcome.rows("landing_file")})


STEPS: dict[str, Callable[..., StepResult]] = {
    "ingest": ingest,
    "silver": silver,
    "customer_360": customer_360,
    "training_set": training_set,
    "train": train,
    "score": score,
    "drain_decisions": drain_decisions,
    "offers": offers,
    "kpis": kpis,
    "retention": retention,
    "erase": erase,
}
ALONE = frozenset({"erase"})   # steps that run with no other writer beside them (jobs/lakehouse_lock.py)
DAILY_ORDER = ("ingest", "silver", "customer_360", "score", "drain_decisions", "offers", "kpis", "retention")
WEEKLY_ORDER = ("training_set", "train")


def run_step(name: str, logical_date, settings: Settings | None = None, **kwargs) -> StepResult:
    if name not in STEPS:
        raise ValueError(f"unknown step {name!r}; steps: {', '.join(STEPS)}")
    settings = settings or Settings.from_env()
    day = parse_date(logical_date)
    started = time.perf_counter()
    lh = lakehouse(settings)
    # The whole step, from its first read to its last write, holds the lakehouse lock: an erasure never runs
    # between a step's read and its write (it would write the person back), and the erasure runs alone.
    hold = lakehouse_lock.exclusive if name in ALONE else lakehouse_lock.shared
    with hold(settings.home, f"step {name} for {day}"), results_per_step(lh):   # one audit.dq_results write per step
        result = STEPS[name](lh, day, **kwargs)
    result.seconds = time.perf_counter() - started
    log.info("step %s for %s wrote %s in %.1fs", name, day, result.tables, result.seconds)
    _progress(result)
    return result


def _progress(result: StepResult) -> None:
    """One line per finished step on the terminal, also when Airflow captures the task's output."""
    if os.environ.get("MARKETOFONE_PROGRESS", "1") == "0":
        return
    if result.tables:
        quarantined, waiting, released = (result.count(p) for p in ("quarantine.", WAITING, RELEASED))
        notes = [f"{n:,} {what}" for n, what in ((quarantined, "quarantined"), (waiting, "waiting for a parent"),
                                                  (released, "released")) if n]
        what = f"{result.rows - quarantined:,} rows" + (f" ({', '.join(notes)})" if notes else "")
        unscored = result.details.get("no_champion")
        if unscored:   # the score step: products without a champion get no offer from a model
            what += "; not scored, so not offered: " + "; ".join(f"{t} ({why})" for t, why in unscored.items())
    else:
        models = result.details.get("models", {})
        if len(models) > 1:   # the train step of every target: one line each
            what = f"{len(models)} models" + "".join(f"\n      {_trained(name, m)}" for name, m in models.items())
        else:
            what = "".join(_trained(name, m) for name, m in models.items()) or \
                ", ".join(f"{k}: {v}" for k, v in result.details.items())
    print(f"  [{result.logical_date}] {result.step:<13} {result.seconds:6.1f}s  {what}", file=sys.__stderr__,
          flush=True)


def _trained(name: str, outcome: dict) -> str:
    """One target's training outcome in words, saying whether it has a champion to score with."""
    if "auc" not in outcome:
        text = f"{name} skipped ({outcome['skipped']})"
    else:
        verdict = "champion" if outcome["promoted"] else "not champion"
        text = f"{name} v{outcome['version']} AUC {outcome['auc']:.3f}: {verdict} ({outcome['reason']})"
    if outcome.get("champion") is None:
        from jobs.gold.targets import TARGETS

        offered = TARGETS[name].kind == "product" if name in TARGETS else False
        text += f"; no champion: {name} is not scored" + (" nor offered by model" if offered else "")
    return text


def run_daily(logical_date, settings: Settings | None = None) -> list[StepResult]:
    """The daily pipeline in order, without Airflow (benchmarks; the DAG is the production path)."""
    return [run_step(name, logical_date, settings) for name in DAILY_ORDER]


def run_weekly(logical_date, settings: Settings | None = None) -> list[StepResult]:
    """The weekly model pipeline in order, without Airflow (benchmarks)."""
    return [run_step(name, logical_date, settings) for name in WEEKLY_ORDER]


__all__ = ["STEPS", "DAILY_ORDER", "WEEKLY_ORDER", "SOURCES", "StepResult", "run_step", "run_daily", "run_weekly",
           "lakehouse"]
