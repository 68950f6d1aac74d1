"""Thin runs of the gold steps: read silver/gold tables, call the pure builders, write one date."""

from __future__ import annotations

import datetime as dt

from jobs.decide.next_best_offer import choose_offers
from jobs.gold.customer_360 import build_customer_360
from jobs.gold.kpis import build_kpi_daily
from jobs.gold.training_set import build_training_set, training_cutoff
from jobs.publish import validated_write
from jobs.tables import Lakehouse


def _silver(lh: Lakehouse):
    return (lh.read("silver.customer"), lh.read("silver.account"), lh.read("silver.account_balance"),
            lh.read("silver.transaction"))


def customer_360(lh: Lakehouse, day: dt.date) -> dict[str, int]:
    df = build_customer_360(*_silver(lh), day)
    return validated_write(lh, "gold.customer_360", df, day,
                           lambda valid: lh.replace_for_date("gold.customer_360", valid, day))


def training_set(lh: Lakehouse, day: dt.date) -> dict[str, int]:
    cutoff = training_cutoff(day, lh.settings.label_horizon_days)
    df = build_training_set(*_silver(lh), cutoff, lh.settings.label_horizon_days)
    return {"gold.training_set": lh.replace_for_date("gold.training_set", df, cutoff)}


def next_best_offer(lh: Lakehouse, day: dt.date) -> dict[str, int]:
    scores = lh.read("gold.propensity_scores").where(f"as_of_date = DATE'{day.isoformat()}'")
    df = choose_offers(scores, day)
    return validated_write(lh, "gold.next_best_offer", df, day,
                           lambda valid: lh.replace_for_date("gold.next_best_offer", valid, day))


def kpi_daily(lh: Lakehouse, day: dt.date) -> dict[str, int]:
    c360 = lh.read("gold.customer_360").where(f"as_of_date = DATE'{day.isoformat()}'")
    offers = lh.read("gold.next_best_offer").where(f"as_of_date = DATE'{day.isoformat()}'")
    return {"gold.kpi_daily": lh.replace_for_date("gold.kpi_daily", build_kpi_daily(c360, offers, day), day)}
