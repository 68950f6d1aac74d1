"""Online banking sessions (app and web): everyday use, and the research that comes before a decision.

Everyone who banks online (people.digital > 0) has everyday sessions (home, accounts, payments, ...)
and now and then looks at a product page out of plain curiosity. On top of that come intent sessions:
- in the four weeks before a product opening: that product's page (savings rates, loan calculator ...)
- before and around life events: the mortgage calculator and the home-buying guide 1-12 weeks before
  a home purchase, joint accounts around a wedding, family banking while a child is on the way, the
  direct-deposit form around a job change, the retirement planner in the half year before retiring.
People who never bank online leave none of these traces (a model has to do without them).
Each session: world day, second of the day, app or web, its main page, page views, duration.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jobs.generate import reference as ref
from jobs.generate.common import NEVER, Month, arrivals_in
from jobs.generate.events import LifeEvents
from jobs.generate.openings import PRODUCTS
from jobs.generate.people import Population

EVERYDAY_PER_MONTH = 1.6      # x people.digital
CURIOSITY_PER_MONTH = 0.06    # per product page, x people.digital
INTENT_PER_MONTH = 2.0        # before an opening, on the product's page
# event -> (days before, days after, sessions per 30 days) of the research window
EVENT_RESEARCH = {"home_purchase": (84, -7, 3.0), "marriage": (60, 14, 1.0), "new_child": (120, 0, 1.2),
                  "job_change": (14, 10, 2.0), "retirement": (180, 0, 1.0)}
PAGE = {name: i for i, name in enumerate(ref.PAGES)}


@dataclass
class Sessions:
    columns: dict[str, np.ndarray]  # person, day, second, app (bool), page (index into ref.PAGES), views, seconds

    def __len__(self) -> int:
        return len(self.columns["person"])


def month_sessions(rng: np.random.Generator, pop: Population, events: LifeEvents, open_day: dict[str, np.ndarray],
                   month: Month) -> Sessions:
    """`open_day[product]`: world day each person opens the product (NEVER: not in view)."""
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
    browse = np.array([PAGE[p] for p in list(ref.PRODUCT_PAGES.values()) + ref.OTHER_PAGES])
    owner, day = arrivals_in(rng, everyone_first, everyone_last, CURIOSITY_PER_MONTH * len(browse) * pop.digital,
                             month)
    add(owner, day, browse[rng.integers(0, len(browse), len(owner))])

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
