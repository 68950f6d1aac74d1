"""Online banking sessions (app and web): everyday use, and the research that comes before a decision.

Everyone who banks online (people.digital > 0) has everyday sessions (home, accounts, payments, ...),
looks at any product or life-stage page now and then out of plain curiosity, and more often at the
pages of what is likely for them (`interest`: a rate per page from the true monthly probabilities of
the products and events, so browsing hints at a need without telling the outcome). On top of that,
researchers (RESEARCH_SHARE of the online people) have intent sessions:
- in the four weeks before a product opening: that product's page (savings rates, loan calculator ...)
- before and around life events: the mortgage calculator and the home-buying guide 1-12 weeks before
  a home purchase, joint accounts around a wedding, family banking while a child is on the way, the
  direct-deposit form around a job change, the retirement planner in the half year before retiring.
People who never bank online leave none of these traces (a model has to do without them), and most
people's events come without any.
Each session: world day, second of the day, app or web, its main page, page views, duration.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jobs.domain import PRODUCTS
from jobs.generate import reference as ref
from jobs.generate.common import NEVER, Month, arrivals_in
from jobs.generate.events import LifeEvents
from jobs.generate.people import Population

EVERYDAY_PER_MONTH = 1.6      # x people.digital
CURIOSITY_PER_MONTH = 0.04    # per product or life-stage page, x people.digital
INTEREST_PER_MONTH = 12.0     # x the monthly probability of the page's product or event, x people.digital
RESEARCH_SHARE = 0.4          # of online people: those who research before they decide
INTENT_PER_MONTH = 1.2        # a researcher before an opening, on the product's page
# event -> (days before, days after, sessions per 30 days) of a researcher's window
EVENT_RESEARCH = {"home_purchase": (84, -7, 1.5), "marriage": (60, 14, 0.8), "new_child": (120, 0, 0.8),
                  "job_change": (14, 10, 1.0), "retirement": (180, 0, 0.6)}
PAGE = {name: i for i, name in enumerate(ref.PAGES)}


@dataclass
class Sessions:
    columns: dict[str, np.ndarray]  # person, day, second, app (bool), page (index into ref.PAGES), views, seconds

    def __len__(self) -> int:
        return len(self.columns["person"])


def interest_rates(probability: dict[str, np.ndarray], hazards: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Monthly sessions per page (before x people.digital) from the month's true probabilities."""
    rates: dict[str, np.ndarray] = {}
    for product, page in ref.PRODUCT_PAGES.items():
        rates[page] = rates.get(page, 0) + INTEREST_PER_MONTH * probability[product]
    for event, pages in ref.EVENT_PAGES.items():
        for page in pages:
            rates[page] = rates.get(page, 0) + INTEREST_PER_MONTH * hazards[event]
    return rates


def month_sessions(rng: np.random.Generator, pop: Population, events: LifeEvents, open_day: dict[str, np.ndarray],
                   interest: dict[str, np.ndarray], researcher: np.ndarray, month: Month) -> Sessions:
    """`open_day[product]`: world day each person opens the product (NEVER: not in view); `interest`:
    monthly sessions per page before x people.digital (interest_rates); `researcher`: who researches."""
    online = pop.digital > 0
    owners, days, pages = [], [], []

    def add(owner, day, page):
        owners.append(owner)
        days.append(day)
        pages.append(np.broadcast_to(np.asarray(page, np.int64), owner.shape).copy())

    everyone_first = np.full(pop.n, month.offset)
    everyone_last = np.full(pop.n, month.offset + month.days - 1)
    owner, day = arrivals_in(rng, everyone_first, everyone_last, EVERYDAY_PER_MONTH * pop.digital, month)
    everyday = np.array([PAGE[p] for p in ref.EVERYDAY_PAGES])
    add(owner, day, everyday[rng.integers(0, len(everyday), len(owner))])
    browse = np.array(sorted({PAGE[p] for p in ref.PAGES if p not in ref.EVERYDAY_PAGES}))
    owner, day = arrivals_in(rng, everyone_first, everyone_last, CURIOSITY_PER_MONTH * len(browse) * pop.digital,
                             month)
    add(owner, day, browse[rng.integers(0, len(browse), len(owner))])
    for page, rate in interest.items():
        owner, day = arrivals_in(rng, everyone_first, everyone_last, rate * pop.digital, month)
        add(owner, day, PAGE[page])

    online = researcher & online
    for product in PRODUCTS:
        when = open_day[product]
        upcoming = online & (when >= month.offset) & (when < NEVER)
        first = np.where(upcoming, when - 28, NEVER)
        owner, day = arrivals_in(rng, first, when - 1, INTENT_PER_MONTH * np.minimum(pop.digital, 1.5), month)
        add(owner, day, PAGE[ref.PRODUCT_PAGES[product]])
    for event, (before, after, rate) in EVENT_RESEARCH.items():
        when = events.day[event]
        first = np.where(online & (when < NEVER), when - before, NEVER)
        owner, day = arrivals_in(rng, first, when + after, rate * np.minimum(pop.digital, 1.5), month)
        choices = np.array([PAGE[p] for p in ref.EVENT_PAGES[event]])
        add(owner, day, choices[rng.integers(0, len(choices), len(owner))])

    person, day, page = np.concatenate(owners), np.concatenate(days), np.concatenate(pages)
    m = len(person)
    age = pop.age_at(month.start)[person]
    app = rng.random(m) < np.where(age < 50, 0.72, 0.45)
    views = 1 + rng.poisson(2.0, m)
    seconds = np.round(views * 45 * rng.lognormal(0, 0.5, m)).astype(np.int64)
    second = 6 * 3600 + rng.integers(0, 17 * 3600, m)
    order = np.lexsort((person, second, day))
    cols = {"person": person, "day": day, "second": second, "app": app, "page": page, "views": views,
            "seconds": seconds}
    return Sessions({k: v[order] for k, v in cols.items()})
