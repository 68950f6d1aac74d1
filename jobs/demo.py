"""`make demo`: generate a small bank, run the daily DAG through Airflow, and print what came out."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time

from jobs.console import print_table as _print_table
from jobs.domain import CHANNELS
from jobs.settings import Settings

SUMMARY_TABLES = ("bronze", "quarantine", "silver", "gold")


def model_summary(settings: Settings) -> list[dict]:
    """The champion of every registered model with its out-of-time test metrics."""
    from mlflow import MlflowClient

    from jobs.models.registry import configure_mlflow

    configure_mlflow(settings)
    client = MlflowClient()
    rows = []
    for model in client.search_registered_models():
        try:
            version = client.get_model_version_by_alias(model.name, "champion")
        except Exception:  # a model without a champion yet
            continue
        metrics = client.get_run(version.run_id).data.metrics
        rows.append({"model": model.name, "version": version.version,
                     "tested_on": version.tags.get("test_time", ""),
                     "auc": round(metrics.get("auc", float("nan")), 3),
                     "pr_auc": round(metrics.get("pr_auc", float("nan")), 3),
                     "brier": round(metrics.get("test_brier", float("nan")), 4),
                     "lift_top10": round(metrics.get("test_lift_top_decile", float("nan")), 2),
                     "positives": int(metrics.get("positives", 0)), "run_id": version.run_id})
    return sorted(rows, key=lambda r: r["model"])


def scores_of(settings: Settings, day: dt.date) -> int:
    """How many propensity scores the lakehouse holds for a date (counted with delta-rs, no Spark)."""
    from jobs import maintenance
    from jobs.tables import Lakehouse

    lh = Lakehouse(None, settings)
    if not lh.exists("gold.propensity_scores"):
        return 0
    return maintenance.count_rows(lh.path("gold.propensity_scores"), [("as_of_date", "=", day)])


@contextlib.contextmanager
def _forced_republish():
    """MARKETOFONE_FORCE_REPUBLISH=1 for one run: the DAG's tasks read their settings from the environment."""
    before = os.environ.get("MARKETOFONE_FORCE_REPUBLISH")
    os.environ["MARKETOFONE_FORCE_REPUBLISH"] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("MARKETOFONE_FORCE_REPUBLISH", None)
        else:
            os.environ["MARKETOFONE_FORCE_REPUBLISH"] = before


def scoring_note(champions: list[dict]) -> str:
    """What the first daily run will score: a second demo on the same home already has champions."""
    if champions:
        return f"scored with the {len(champions)} champion(s) already in the MLflow store"
    return "no model yet, so nothing is scored"


def _ran(outcome: dict, settings: Settings, day: dt.date) -> str:
    scores = scores_of(settings, day)
    return f"    DAG run {outcome['state']}: {len(outcome['tasks'])} tasks, {scores:,} scores for {day}"


def print_summary(settings: Settings, day: dt.date) -> None:
    from jobs.pipeline import lakehouse

    lh = lakehouse(settings)
    print("\n== Tables ==")
    _print_table([{k: r[k] for k in ("table", "version", "rows")} for r in lh.describe()
                  if r["table"].split(".")[0] in SUMMARY_TABLES])

    print("\n== Models (MLflow champions, tested out of time) ==")
    _print_table([{k: v for k, v in r.items() if k != "run_id"} for r in model_summary(settings)])

    iso = day.isoformat()
    on = f"as_of_date = DATE'{iso}'"
    print(f"\n== Decisions on {iso} (audit.decision_log: every customer x offer x channel) ==")
    _print_table([r.asDict() for r in lh.sql(
        f"select outcome, count(*) as candidates, count(distinct customer_id) as customers from audit.decision_log "
        f"where {on} group by outcome order by candidates desc").collect()])
    print("\n   most frequent exclusions:")
    _print_table([r.asDict() for r in lh.sql(
        f"select rule, count(*) as candidates from (select explode(split(excluded_by, ',')) as rule "
        f"from audit.decision_log where {on} and outcome = 'excluded') group by rule "
        "order by candidates desc limit 6").collect()])

    print(f"\n== Published for the channels on {iso} ==")
    _print_table([r.asDict() for r in lh.sql(" union all ".join(
        f"select '{c}' as channel, count(*) as offers, round(avg(score), 4) as avg_score, "
        f"count(distinct offer_id) as distinct_offers from gold.offers_{c} where {on}"
        for c in CHANNELS)).collect()])
    flags = lh.sql(f"select sum(case when flagged then 1 else 0 end) as flags, min(ratio) as lowest_ratio "
                   f"from gold.fairness_daily where {on} and customers >= 30").collect()[0]
    print(f"fairness (gold.fairness_daily): {flags.flags or 0} flag(s) below the four-fifths ratio; "
          f"lowest ratio {flags.lowest_ratio if flags.lowest_ratio is not None else '-'}")

    print(f"\n== KPIs on {iso}: treated vs holdout (gold.kpi_daily) ==")
    _print_table([{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.asDict().items()}
                  for r in lh.sql("select kpi, treated, holdout, uplift, uplift_ci_low, uplift_ci_high "
                                  f"from gold.kpi_daily where {on} order by kpi").collect()])
    example = lh.sql(f"select customer_id from gold.offers_mobile where {on} order by customer_id limit 1").collect()

    print("\n== Where to look next ==")
    print(f"lakehouse (Delta tables):  {settings.lakehouse}")
    print(f"MLflow store:              {settings.mlflow_uri}")
    print(f"  open the MLflow UI:      .venv/bin/mlflow ui --backend-store-uri {settings.mlflow_uri}")
    print(f"Airflow home:              {settings.airflow_home}")
    print("  open the Airflow UI:     .venv/bin/marketofone airflow standalone   (then http://127.0.0.1:8080; "
          "it prints the login)")
    print("query the lakehouse:       .venv/bin/marketofone sql \"select * from gold.kpi_daily\"")
    print("a channel's offers:        .venv/bin/marketofone offers --channel mobile [--out mobile.csv]")
    print(f"channel exports:           {settings.home / 'exports'}/<channel>/<date>.parquet|csv")
    if example:
        print(f"why this offer:            .venv/bin/marketofone why --customer {example[0].customer_id} --date {iso}")
    print("decision API:              .venv/bin/marketofone serve   (then http://127.0.0.1:8000/docs"
          + (f", or curl 'http://127.0.0.1:8000/customers/{example[0].customer_id}/next-best-offers?channel=mobile'"
             if example else "") + ")")
    next_day = (dt.date.fromisoformat(iso) + dt.timedelta(days=1)).isoformat()
    print(f"events and triggers:       .venv/bin/marketofone generate --daily --date {next_day} --events "
          f"--customers {settings.customers}; then "
          ".venv/bin/marketofone stream --until-idle   (into the lakehouse) and .venv/bin/marketofone serve --triggers "
          "(GET /triggered-offers)")
    print("analyst notebook:          notebooks/customer_360.ipynb")


def run_demo(settings: Settings, day: dt.date, verbose: bool = False) -> int:
    from jobs.generate import generate_bank
    from jobs.orchestrate import run_dag

    started = time.perf_counter()
    print(f"Market of One demo: {settings.customers} customers, business date {day}, home {settings.home}")
    summary = generate_bank(settings, day)
    print(f"1/5 generated a bank of {summary['persons']} people "
          f"({sum(summary['files'].values()):,} rows in {len(summary['files'])} exports, {summary['first_day']} "
          f"to {day})")
    print(f"2/5 DAG personalization_daily through Airflow (embedded: SQLite + Sail): load the lakehouse "
          f"({scoring_note(model_summary(settings))}) ...")
    outcome = run_dag("personalization_daily", day, settings, verbose=verbose)
    print(_ran(outcome, settings, day))
    print("3/5 DAG models_weekly: point-in-time training sets, one model per product and life event ...")
    outcome = run_dag("models_weekly", day, settings, verbose=verbose)
    print(f"    DAG run {outcome['state']}: {len(outcome['tasks'])} tasks")
    print(f"4/5 DAG personalization_daily again: score with the champions, decide and publish offers, KPIs "
          f"(republishing {day}, forced: the published decisions of step 2 had no model, and a published date "
          f"is re-decided only when forced; the replaced decisions stay in audit.decision_log, superseded) ...")
    with _forced_republish():
        outcome = run_dag("personalization_daily", day, settings, verbose=verbose)
    print(_ran(outcome, settings, day))
    following = day + dt.timedelta(days=1)
    increment = generate_bank(settings, following, daily=True)
    print(f"5/5 the next day, {following}: the bank's daily exports and the channels' responses to yesterday's "
          f"offers ({increment['files']['channels/responses']} events); DAG personalization_daily ...")
    outcome = run_dag("personalization_daily", following, settings, verbose=verbose)
    print(_ran(outcome, settings, following))
    print_summary(settings, following)
    print(f"\ndemo finished in {time.perf_counter() - started:.0f}s")
    return 0
