"""Product openings in the world, driven by needs, life events and offers.

Every month each person who does not hold a product has a true monthly probability of opening it (the
oracle a propensity model is measured against, kept in the ground truth). It is a logistic function of
the latent traits that also shape the person's transactions (behaviour.py) and of the life events
around that month (events.py), so behaviour before an opening carries a signal a model can learn:

  savings        income, thrift (money stays), less strain; a child on the way or born, a wedding
  term_deposit   income, age, thrift; retirement in the last months (a lump sum to place)
  credit_card    income, a spending lifestyle (dining, travel, entertainment), youth; a wedding
  personal_loan  strain (outflows above inflows, late payments) and big-ticket furniture/electronics
                 spend (most loans follow a big purchase by a few weeks); a wedding
  auto_loan      income, a new child, a new job
  mortgage       a home purchase: the buyer takes the mortgage here or at another bank (a few refinance)

Base rates are a few percent a month or less, as in a real bank. Organic openings are decided a month
ahead (the decision for month m + 1 is made from the state at the start of month m), so the research
that precedes an opening (digital.py) can be simulated in the weeks before it. Offers (campaigns.py)
add openings on top: a person who accepts opens within days.
"""

from __future__ import annotations

import numpy as np

from jobs.domain import PRODUCTS
from jobs.generate.common import NEVER, Month, sigmoid, stream
from jobs.generate.events import LifeEvents
from jobs.generate.holdings import Holdings
from jobs.generate.people import Population

PRODUCT_SILO = {"savings": "deposits", "term_deposit": "deposits", "credit_card": "cards",
                "personal_loan": "lending", "auto_loan": "lending", "mortgage": "lending"}
CAUSES = ("held", "organic", "offer", "life_event")  # why an account exists (ground truth)
INTERCEPT = {"savings": -4.6, "term_deposit": -5.6, "credit_card": -4.4, "personal_loan": -4.9,
             "auto_loan": -5.9, "mortgage": -8.0}
MORTGAGE_HERE = 0.45  # average share of home buyers who take their mortgage at this bank


def _near(events: LifeEvents, event: str, month: Month, before: int, after: int) -> np.ndarray:
    """1.0 where the event falls within `before` days after the month or `after` days before it."""
    first, last = month.offset - after, month.offset + month.days - 1 + before
    return events.between(event, first, last).astype(float)


def monthly_probabilities(pop: Population, events: LifeEvents, month: Month) -> dict[str, np.ndarray]:
    """Each person's true probability of opening each product in `month` (if eligible)."""
    age = pop.age_at(month.start)
    z_inc = (np.log(pop.income) - np.log(42000)) / 0.5
    z_age = (age - 45) / 16.0
    child = _near(events, "new_child", month, 60, 120)
    wedding = _near(events, "marriage", month, 30, 90)
    retired = _near(events, "retirement", month, 0, 180)
    new_job = _near(events, "job_change", month, 0, 90)
    logits = {
        "savings": 0.6 * z_inc + 1.1 * pop.thrift - 0.4 * pop.stress + 1.4 * child + 0.8 * wedding,
        "term_deposit": 0.5 * z_inc + 0.8 * z_age + 0.7 * pop.thrift + 2.0 * retired,
        "credit_card": 0.8 * z_inc + 1.0 * pop.lifestyle - 0.9 * z_age + 0.9 * wedding,
        "personal_loan": 1.2 * pop.stress + 0.9 * pop.big_ticket - 0.3 * z_inc + 0.8 * wedding,
        "auto_loan": 0.8 * z_inc - 0.5 * z_age + 0.4 * pop.lifestyle + 1.4 * child + 1.1 * new_job,
        "mortgage": 0.5 * z_inc,
    }
    return {p: sigmoid(INTERCEPT[p] + logit) * (age >= 18) for p, logit in logits.items()}


def mortgage_share(pop: Population, h: Holdings) -> np.ndarray:
    """The chance that a person who buys a home takes the mortgage here: more with a closer relationship."""
    return np.clip(MORTGAGE_HERE - 0.15 + 0.3 * pop.wallet_share + 0.1 * h.payroll_here, 0.05, 0.9)


def mortgage_choice(seed: int, customers: int, pop: Population, h: Holdings) -> np.ndarray:
    """Whether a person who buys a home takes the mortgage here (stable: an identity stream)."""
    rng = stream(seed, customers, "mortgage-choice")
    return rng.random(pop.n) < mortgage_share(pop, h)


def draw_month(rng: np.random.Generator, probability: dict[str, np.ndarray], eligible: dict[str, np.ndarray],
               month: Month) -> dict[str, np.ndarray]:
    """World day of each organic opening in `month` per product (NEVER where none)."""
    out = {}
    for product in PRODUCTS:
        u = rng.random(len(probability[product]))
        day = month.offset + rng.integers(0, month.days, len(u))
        out[product] = np.where(eligible[product] & (u < probability[product]), day, NEVER)
    return out
