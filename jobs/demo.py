"""`make demo`: generate a small bank, run the daily DAG through Airflow, and print what came out."""

from __future__ import annotations

import datetime as dt
import time

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


def print_summary(settings: Settings, day: dt.date) -> None:
    from jobs.cli import _print_table
    from jobs.pipeline import lakehouse

    lh = lakehouse(settings)
    print("\n== Tables ==")
    _print_table([{k: r[k] for k in ("table", "version", "rows")} for r in lh.describe()
                  if r["table"].split(".")[0] in SUMMARY_TABLES])

    print("\n== Models (MLflow champions, tested out of time) ==")
    _print_table([{k: v for k, v in r.items() if k != "run_id"} for r in model_summary(settings)])

    iso = day.isoformat()
    print(f"\n== Next best offers on {iso} ==")
    offers = lh.sql(
        "select product, count(*) as offers, round(avg(score), 3) as avg_score "
        f"from gold.next_best_offer where as_of_date = DATE'{iso}' group by product order by offers desc"
    )
    _print_table([r.asDict() for r in offers.collect()])

    print(f"\n== KPIs on {iso} ==")
    kpi = lh.sql(f"select * from gold.kpi_daily where as_of_date = DATE'{iso}'").collect()
    if kpi:
        _print_table([{"kpi": k, "value": (round(v, 4) if isinstance(v, float) else v)}
                      for k, v in kpi[0].asDict().items() if k != "as_of_date"])

    print("\n== Where to look next ==")
    print(f"lakehouse (Delta tables):  {settings.lakehouse}")
    print(f"MLflow store:              {settings.mlflow_uri}")
    print(f"  open the MLflow UI:      .venv/bin/mlflow ui --backend-store-uri {settings.mlflow_uri}")
    print(f"Airflow home:              {settings.airflow_home}")
    print("  open the Airflow UI:     .venv/bin/marketofone airflow standalone   (then http://localhost:8080)")
    print("query the lakehouse:       .venv/bin/marketofone sql \"select * from gold.next_best_offer limit 5\"")
    print("analyst notebook:          notebooks/customer_360.ipynb")


def run_demo(settings: Settings, day: dt.date, verbose: bool = False) -> int:
    from jobs.generate import generate_bank
    from jobs.orchestrate import run_dag

    started = time.perf_counter()
    print(f"Market of One demo: {settings.customers} customers, business date {day}, home {settings.home}")
    summary = generate_bank(settings, day)
    print(f"1/4 generated a bank of {summary['persons']} people "
          f"({sum(summary['files'].values()):,} rows in {len(summary['files'])} exports, {summary['first_day']} "
          f"to {day})")
    print("2/4 DAG personalization_daily through Airflow (embedded: SQLite + Sail): load the lakehouse "
          "(no model yet, so nothing is scored) ...")
    outcome = run_dag("personalization_daily", day, settings, verbose=verbose)
    print(f"    DAG run {outcome['state']}: {len(outcome['tasks'])} tasks")
    print("3/4 DAG models_weekly: point-in-time training sets, one model per product and life event ...")
    outcome = run_dag("models_weekly", day, settings, verbose=verbose)
    print(f"    DAG run {outcome['state']}: {len(outcome['tasks'])} tasks")
    print("4/4 DAG personalization_daily again: score with the champions, choose offers, KPIs ...")
    outcome = run_dag("personalization_daily", day, settings, verbose=verbose)
    print(f"    DAG run {outcome['state']}: {len(outcome['tasks'])} tasks")
    print_summary(settings, day)
    print(f"\ndemo finished in {time.perf_counter() - started:.0f}s")
    return 0
