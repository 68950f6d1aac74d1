"""Product openings inside the export window, driven by a true propensity per person and product.

The propensity is a logistic function of the same latent traits that shape a person's transactions
(behaviour.py), so behaviour before an opening carries the signal a model can learn:
- credit_card    higher income, a spending lifestyle (many dining/travel/entertainment purchases on
                 the debit card), younger age
- savings        higher income, thrift (inflows above outflows, growing balances), less strain
- personal_loan  strain (outflows above inflows, falling balances, late payments) and big-ticket
                 furniture/electronics spend; less likely with high income
Only people who do not hold the product can open it. Each eligible person opens after an exponential
waiting time whose rate is their monthly probability, so a 4-month window sees ~4 months of openings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jobs.generate.common import AVG_MONTH_DAYS, Window, sigmoid
from jobs.generate.holdings import Holdings
from jobs.generate.people import Population

PRODUCTS = ("credit_card", "savings", "personal_loan")
# Intercepts chosen so that eligible people open at 5-7% a month on average. The ceiling keeps the most
# eager few from all opening in the window's first weeks, so openings stay spread over the window.
INTERCEPT = {"credit_card": -1.93, "savings": -2.42, "personal_loan": -2.48}
MAX_MONTHLY = 0.4
PRODUCT_SILO = {"credit_card": "cards", "savings": "deposits", "personal_loan": "lending"}


@dataclass
class Openings:
    probability: dict[str, np.ndarray]  # true monthly opening probability per person (if eligible)
    eligible: dict[str, np.ndarray]
    day: dict[str, np.ndarray]          # window day of the opening, -1 when none

    def opened(self, product: str) -> np.ndarray:
        return self.day[product] >= 0


def true_probabilities(pop: Population, age: np.ndarray) -> dict[str, np.ndarray]:
    z_inc = (np.log(pop.income) - np.log(42000)) / 0.5
    z_age = (age - 45) / 16.0
    logits = {
        "credit_card": 0.9 * z_inc + 1.2 * pop.lifestyle - 1.1 * z_age,
        "savings": 0.7 * z_inc + 1.4 * pop.thrift - 0.5 * pop.stress,
        "personal_loan": 1.4 * pop.stress + 1.0 * pop.big_ticket - 0.3 * z_inc,
    }
    return {p: MAX_MONTHLY * sigmoid(INTERCEPT[p] + logit) for p, logit in logits.items()}


def draw_openings(rng: np.random.Generator, pop: Population, holdings: Holdings, window: Window,
                  age: np.ndarray) -> Openings:
    probability = true_probabilities(pop, age)
    eligible = {
        "credit_card": ~holdings.has_card,
        "savings": ~holdings.has_savings,
        "personal_loan": ~holdings.has_personal,
    }
    day = {}
    for product in PRODUCTS:
        daily_rate = -np.log1p(-probability[product]) / AVG_MONTH_DAYS
        wait = rng.exponential(1.0 / daily_rate)
        opens = eligible[product] & (wait < window.days)
        day[product] = np.where(opens, np.floor(wait), -1).astype(np.int64)
    return Openings(probability=probability, eligible=eligible, day=day)
