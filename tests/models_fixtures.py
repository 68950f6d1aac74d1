"""Training frames and model specs shared by the model tests (tests/unit/models and tests/integration): a rare
label driven by card spend and payroll at four as-of dates, and the shipped policy with attributes let back in."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from jobs.decide.catalog import load_policy
from jobs.models.train import ModelSpec

DATES = [dt.date(2026, 1, 31), dt.date(2026, 2, 28), dt.date(2026, 3, 31), dt.date(2026, 4, 30)]
DRIVERS = ["card_spend_30d", "payroll_30d"]
NOISE = ["age", "tenure_days", "spend_travel_30d", "has_savings"]
FEATURES = DRIVERS + NOISE


def make_frame(n: int = 800, seed: int = 7) -> pd.DataFrame:
    """Rows at four as-of dates; a rare label (~8%) driven by card spend and payroll, plus noise."""
    rng = np.random.default_rng(seed)
    size = n * len(DATES)
    frame = pd.DataFrame({
        "as_of_date": np.repeat(DATES, n),
        "customer_id": [f"C{i % n:05d}" for i in range(size)],
        "card_spend_30d": rng.lognormal(6.0, 1.0, size).round(2),
        "payroll_30d": rng.lognormal(7.5, 0.8, size).round(2),
        "age": rng.integers(18, 85, size),
        "tenure_days": rng.integers(30, 7000, size),
        "spend_travel_30d": rng.lognormal(3.0, 1.2, size).round(2),
        "has_savings": rng.integers(0, 2, size),
    })
    logit = (1.6 * (np.log(frame["card_spend_30d"]) - 6.0) + 1.3 * (np.log(frame["payroll_30d"]) - 7.5) / 0.8
             - 3.3 + rng.normal(0.0, 0.7, size))
    frame["label"] = (rng.random(size) < 1 / (1 + np.exp(-logit))).astype("int64")
    return frame


def spec(name: str = "propensity_credit_card", features=FEATURES, **kwargs) -> ModelSpec:
    return ModelSpec(name=name, label="label", experiment="marketofone-propensity", time_column="as_of_date",
                     features=tuple(features), tags={"kind": "product", "target": "credit_card"}, **kwargs)


POLICY = load_policy()


def allowing(product: str, *attributes: str):
    """The shipped policy with `attributes` let back in for `product`, as an `allow` entry would."""
    import dataclasses

    protected = dataclasses.replace(POLICY.protected, allow={**POLICY.protected.allow, product: attributes})
    return dataclasses.replace(POLICY, protected=protected)

