"""Life events: the moments that change what a person needs from a bank.

Each person has at most one of each event in the world, on a day drawn once from identity streams
(so every export agrees on it). The monthly chance of an event (its hazard) depends on who the person
is and how old they are in that month; the hazards are kept in the ground truth as the oracle a
life-event model is measured against.

  home_purchase  renters (and a few owners who move) aged 24-60, more with income and thrift, less
                 under strain
  marriage       people not living with a partner, mostly aged 24-40
  new_child      mostly people living with a partner, aged 22-42
  job_change     people in work; more often when young or under strain
  retirement     from 58 on, most at 62-67; people 67 and older at EPOCH are retired already

What an event leaves in the data (behaviour.py, digital.py): research sessions on the matching pages
in the weeks before (mortgage calculator, joint accounts, family banking, direct deposit forms,
retirement planner), purchases before and after (an engagement ring; baby goods; furniture after a
move), the down payment, rent that stops, payroll from a new employer, a pension instead of pay.

Many customers also tell the bank (a new address, a marital status, a dependant, an employer, a
pension): the CRM records the event and its date days or weeks later (crm/life_events). Those
declarations are what a bank can learn life-event models from; the rest stay unknown to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jobs.domain import LIFE_EVENTS as EVENTS
from jobs.generate.common import NEVER, REFERENCE_DATE, months_through, stream
from jobs.generate.holdings import Holdings
from jobs.generate.people import Population

HORIZON_MONTHS = 60  # events are drawn this far ahead of EPOCH (to mid-2030); later ones do not happen
RETIRED_AT_EPOCH_AGE = 67


# Share of each event that customers declare to the bank, and how long after it they do.
DECLARED_SHARE = {"home_purchase": 0.85, "marriage": 0.7, "new_child": 0.65, "job_change": 0.6, "retirement": 0.8}
MAX_DECLARATION_LAG_DAYS = 45


@dataclass
class LifeEvents:
    day: dict[str, np.ndarray]       # world day of each event per person (NEVER: none; < 0: before EPOCH)
    recorded: dict[str, np.ndarray]  # world day the CRM recorded the customer's declaration (NEVER: never)
    second: dict[str, np.ndarray]    # second of that day
    source: dict[str, np.ndarray]    # index into DECLARATION_SOURCES

    def between(self, event: str, first: int, last: int) -> np.ndarray:
        """People whose event falls on world days first..last (inclusive)."""
        d = self.day[event]
        return (d >= first) & (d <= last)

    def before(self, event: str, day: int | np.ndarray) -> np.ndarray:
        return self.day[event] < day


def _bell(age: np.ndarray, centre: float, width: float) -> np.ndarray:
    return np.exp(-0.5 * ((age - centre) / width) ** 2)


def living_with_partner(pop: Population) -> np.ndarray:
    """Both people of a couple household (twins share a household but are no couple)."""
    others = np.flatnonzero((pop.household != np.arange(pop.n)) & ~pop.twin)
    out = np.zeros(pop.n, dtype=bool)
    out[others] = True
    out[pop.household[others]] = True
    return out


def monthly_hazards(pop: Population, h: Holdings, age: np.ndarray) -> dict[str, np.ndarray]:
    """The chance of each event in a month for people of the given ages (before it happened)."""
    z_inc = (np.log(pop.income) - np.log(42000)) / 0.5
    partnered = living_with_partner(pop)
    renter_like = h.renter | ~(h.renter | h.mortgage_elsewhere | h.loans["mortgage"].held)
    home = np.where(renter_like, 0.0055, 0.0008) * np.exp(0.45 * z_inc + 0.35 * pop.thrift - 0.45 * pop.stress)
    home *= (age >= 24) & (age <= 60)
    marriage = 0.009 * _bell(age, 30, 6) * np.where(partnered, 0.6, 1.0) * (age >= 20)
    child = 0.008 * _bell(age, 31, 5) * np.where(partnered, 1.0, 0.25) * (age >= 20) * (age <= 45)
    job = 0.006 * np.exp(0.55 * pop.stress - 0.045 * (age - 40)) * (age < 64)
    retire = np.select([age >= 67, age >= 65, age >= 62, age >= 58], [0.15, 0.07, 0.03, 0.006], 0.0)
    return {"home_purchase": np.minimum(home, 0.05), "marriage": marriage, "new_child": child,
            "job_change": np.minimum(job, 0.05), "retirement": retire}


def draw_life_events(seed: int, customers: int, pop: Population, h: Holdings) -> LifeEvents:
    rng = stream(seed, customers, "life-events")
    months = months_through(REFERENCE_DATE.astype("datetime64[M]") + (HORIZON_MONTHS - 1))
    days: dict[str, np.ndarray] = {e: np.full(pop.n, NEVER, np.int64) for e in EVENTS}
    pending = {e: np.ones(pop.n, dtype=bool) for e in EVENTS}
    retired = pop.age_at(REFERENCE_DATE) >= RETIRED_AT_EPOCH_AGE
    days["retirement"][retired] = -1 - rng.integers(0, 3000, pop.n)[retired]
    pending["retirement"] &= ~retired
    for month in months:
        hazards = monthly_hazards(pop, h, pop.age_at(month.start))
        u = rng.random((len(EVENTS), pop.n))
        when = rng.integers(0, month.days, (len(EVENTS), pop.n))
        for i, event in enumerate(EVENTS):
            # A retired person changes no job; the draws above are made either way (stable streams).
            hit = pending[event] & (u[i] < hazards[event])
            if event == "job_change":
                hit &= days["retirement"] > month.offset
            days[event][hit] = month.offset + when[i][hit]
            pending[event] &= ~hit
    return LifeEvents(day=days, **_declarations(stream(seed, customers, "life-event-declarations"), pop, days))


DECLARATION_SOURCES = ("app", "web", "branch", "call_center")


def _declarations(rng: np.random.Generator, pop: Population, days: dict[str, np.ndarray]) -> dict:
    recorded, second, source = {}, {}, {}
    online = pop.digital > 0
    for event in EVENTS:
        declared = (rng.random(pop.n) < DECLARED_SHARE[event]) & (days[event] >= 0) & (days[event] < NEVER)
        lag = rng.integers(0, MAX_DECLARATION_LAG_DAYS + 1, pop.n)
        recorded[event] = np.where(declared, days[event] + lag, NEVER)
        second[event] = 8 * 3600 + rng.integers(0, 10 * 3600, pop.n)
        source[event] = np.where(online & (rng.random(pop.n) < 0.6), rng.integers(0, 2, pop.n),
                                 2 + rng.integers(0, 2, pop.n))
    return {"recorded": recorded, "second": second, "source": source}


def event_hazards_at(pop: Population, h: Holdings, events: LifeEvents, month) -> dict[str, np.ndarray]:
    """The true chance of each event in `month` for everyone: the hazard where the event is still to
    come (0 once it happened). This is the oracle a life-event model is compared with."""
    hazards = monthly_hazards(pop, h, pop.age_at(month.start))
    out = {}
    for event in EVENTS:
        still = events.day[event] >= month.offset
        if event == "job_change":
            still &= events.day["retirement"] > month.offset
        out[event] = np.where(still, hazards[event], 0.0)
    return out
