"""The bank's legacy campaigns: one offer a month to some customers, chosen by broad segment.

This is the offer history the lakehouse starts with (crm/offers), and what a one-to-one policy has to
beat. Every month about a third of the customers are picked for the campaign; each gets one product
offer on one channel:
- product: the first product of their segment's list (age band x income band) that they do not hold,
  or, for 30% of them (the campaign team's tests), any product they do not hold;
- channel: their preferred channel when they consented to marketing on it, else another channel they
  consented on; nobody is contacted without consent on the channel used, on the day it is sent;
- a stable 10% of people (holdings.HOLDOUT_SHARE) are the control group: picked the same way but never
  sent anything; their rows say `holdout`, so uplift can be measured against them.
The response is drawn from the person's true monthly propensity for the product (openings.py) raised
by the offer, more on the preferred channel: opened, clicked, then accepted or declined. Acceptance
opens the product within days (openings caused by offers, kept in the ground truth).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jobs.domain import PRODUCTS
from jobs.generate.common import NEVER, Month
from jobs.generate.consent import TOPICS
from jobs.generate.people import CHANNELS, Population

CONTACT_SHARE = 0.33
EXPLORE_SHARE = 0.3
OFFER_LIFT = 3.0                      # an offer multiplies the monthly propensity ...
CHANNEL_FIT = {True: 1.5, False: 0.6}  # ... more on the channel the person prefers
MAX_ACCEPT = 0.5
OPEN_RATE = {"mobile": 0.5, "email": 0.35, "branch": 0.9, "atm": 0.6}
CLICK_RATE = 0.25
RESPONSES = ("none", "accepted", "declined")

# The segment rule: age band (<30, 30-44, 45-59, 60+) x income band (low, mid, high) -> products in order.
_YOUNG = ["credit_card", "savings", "auto_loan", "personal_loan"]
_MID_AGE = {0: ["personal_loan", "credit_card", "savings", "auto_loan"],
            1: ["credit_card", "savings", "auto_loan", "mortgage"],
            2: ["mortgage", "credit_card", "term_deposit", "savings"]}
_OLDER = ["term_deposit", "savings", "credit_card", "personal_loan"]
_SENIOR = ["term_deposit", "savings"]


def acceptance_probability(p_product: np.ndarray, on_preferred_channel: np.ndarray) -> np.ndarray:
    """The chance an offer is accepted: the true monthly propensity raised by the offer, more on the
    channel the person prefers, capped (the same for legacy campaigns and the bank's decisions)."""
    fit = np.where(on_preferred_channel, CHANNEL_FIT[True], CHANNEL_FIT[False])
    return np.minimum(MAX_ACCEPT, p_product * OFFER_LIFT * fit)


def segment_rule(age_band: int, income_band: int) -> list[str]:
    return [_YOUNG, _MID_AGE[income_band], _OLDER, _SENIOR][age_band]


def bands(pop: Population, age: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z_inc = (np.log(pop.income) - np.log(42000)) / 0.5
    return np.digitize(age, [30, 45, 60]), np.digitize(z_inc, [-0.3, 0.5])


@dataclass
class Offers:
    """One month's offers as parallel arrays (NEVER where a step did not happen)."""
    columns: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.columns["person"])


def month_offers(rng: np.random.Generator, pop: Population, holdout: np.ndarray, eligible: dict[str, np.ndarray],
                 consent: np.ndarray, probability: dict[str, np.ndarray], month: Month,
                 send_day: np.ndarray) -> Offers:
    """`eligible[product]`: may be offered it (does not hold it, nothing scheduled); `consent`: each
    person's consent state (people, TOPICS) on `send_day`, the world day their offer would be sent."""
    n = pop.n
    age = pop.age_at(month.start)
    age_band, income_band = bands(pop, age)
    can = np.column_stack([eligible[p] for p in PRODUCTS]) & (age >= 18)[:, None]

    # The segment's first product the person may get, else any they may get.
    choice = np.full(n, -1)
    for a in range(4):
        for i in range(3):
            who = (age_band == a) & (income_band == i)
            for product in reversed(segment_rule(a, i)):
                k = PRODUCTS.index(product)
                choice = np.where(who & can[:, k], k, choice)
    explore = rng.random(n) < EXPLORE_SHARE
    pick = np.where(can, rng.random(can.shape), -1.0).argmax(axis=1)
    choice = np.where((explore | (choice < 0)) & can.any(axis=1), pick, choice)

    marketing = consent[:, [TOPICS.index(("marketing", c)) for c in CHANNELS]]
    preferred_ok = marketing[np.arange(n), pop.channel]
    channel = np.where(preferred_ok, pop.channel, marketing.argmax(axis=1))
    picked = (rng.random(n) < CONTACT_SHARE) & (choice >= 0) & marketing.any(axis=1)
    u_accept, u_open, u_click, u_decline = rng.random((4, n))
    lag_open, lag_response, lag_open_account = rng.integers(0, 4, n), rng.integers(0, 6, n), rng.integers(0, 6, n)
    second = 8 * 3600 + rng.integers(0, 12 * 3600, n)

    person = np.flatnonzero(picked)
    product, chan, held_out = choice[person], channel[person], holdout[person]
    p_product = np.column_stack([probability[p] for p in PRODUCTS])[person, product]
    p_accept = acceptance_probability(p_product, chan == pop.channel[person])
    open_rate = np.array([OPEN_RATE[c] for c in CHANNELS])[chan]
    accepted = ~held_out & (u_accept[person] < p_accept)
    opened = ~held_out & (accepted | (u_open[person] < open_rate))
    clicked = accepted | (opened & (u_click[person] < CLICK_RATE))
    declined = clicked & ~accepted & (u_decline[person] < 0.5)
    sent = send_day[person]
    opened_day = np.where(opened, sent + lag_open[person], NEVER)
    response_day = np.where(accepted | declined, opened_day + lag_response[person], NEVER)
    return Offers({
        "person": person, "product": product, "channel": chan, "holdout": held_out, "sent_day": sent,
        "second": second[person], "opened_day": opened_day, "clicked_day": np.where(clicked, opened_day, NEVER),
        "response": np.select([accepted, declined], [1, 2], 0), "response_day": response_day,
        "open_day": np.where(accepted, response_day + lag_open_account[person], NEVER),
        "p_accept": p_accept, "seq": np.arange(len(person)),
    })


def contacts_per_topic(offers: Offers, n: int) -> np.ndarray:
    """(people, TOPICS) count of offers sent on each marketing channel (holdout rows are not sent)."""
    out = np.zeros((n, len(TOPICS)))
    c = offers.columns
    sent = ~c["holdout"]
    topic = np.array([TOPICS.index(("marketing", ch)) for ch in CHANNELS])[c["channel"][sent]]
    np.add.at(out, (c["person"][sent], topic), 1)
    return out
