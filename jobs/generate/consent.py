"""Consent as a continuous dialogue: per person, per purpose and (for marketing) per channel.

Purposes: marketing (per channel: mobile, email, branch, atm), profiling and data_sharing (all
channels). People grant consents when they become customers (the onboarding events, before EPOCH);
afterwards every month some withdraw a consent they gave (more often after being contacted) and some
grant one they had not. Every change is an event with a timestamp and where it was recorded, so the
state on any day (and within a day) can be rebuilt from the ledger; crm/consents exports the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jobs.generate.common import Month
from jobs.generate.holdings import Holdings
from jobs.generate.people import CHANNELS, Population

# One column per (purpose, channel): the consent state matrix is (people, len(TOPICS)).
TOPICS = tuple([("marketing", c) for c in CHANNELS] + [("profiling", "all"), ("data_sharing", "all")])
SOURCES = ("onboarding", "app", "web", "branch", "call_center")
ONBOARDING_GRANT = {"mobile": 0.55, "email": 0.6, "branch": 0.7, "atm": 0.5, "profiling": 0.75,
                    "data_sharing": 0.35}
WITHDRAW_MONTHLY = 0.006
WITHDRAW_PER_CONTACT = 0.012  # added per offer received on that channel in the month before
GRANT_MONTHLY = 0.004


def _key(purpose: str, channel: str) -> str:
    return channel if purpose == "marketing" else purpose


@dataclass
class ConsentLedger:
    """Consent events as parallel arrays: person, topic (index into TOPICS), granted (bool), world day,
    second of the day, source (index into SOURCES), seq (ids: position among the month's events)."""
    columns: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.columns["person"])


def onboarding(rng: np.random.Generator, pop: Population, h: Holdings, onboard_day: np.ndarray):
    """The state at EPOCH and the onboarding grants that made it (recorded on each person's first day
    as a customer)."""
    n = pop.n
    state = np.column_stack([rng.random(n) < ONBOARDING_GRANT[_key(p, c)] for p, c in TOPICS])
    state[:, TOPICS.index(("marketing", "mobile"))] &= pop.digital > 0  # no app, no push messages
    person, topic = np.nonzero(state)
    ledger = ConsentLedger({
        "person": person, "topic": topic, "granted": np.ones(len(person), bool), "day": onboard_day[person],
        "second": 9 * 3600 + rng.integers(0, 9 * 3600, len(person)),
        "source": np.zeros(len(person), np.int64), "seq": person * len(TOPICS) + topic,
    })
    return state, ledger


def month_changes(rng: np.random.Generator, pop: Population, state: np.ndarray, contacts: np.ndarray,
                  month: Month) -> ConsentLedger:
    """The month's consent changes (at most one per person and topic), given the state at its start
    and `contacts`: offers received per person and topic in the month before."""
    withdraw = WITHDRAW_MONTHLY + WITHDRAW_PER_CONTACT * contacts
    u = rng.random(state.shape)
    changed = np.where(state, u < withdraw, u < GRANT_MONTHLY)
    changed[:, TOPICS.index(("marketing", "mobile"))] &= pop.digital > 0
    person, topic = np.nonzero(changed)
    day = month.offset + rng.integers(0, month.days, state.shape)[person, topic]
    online = pop.digital[person] > 0
    source = np.where(online & (rng.random(len(person)) < 0.7), 1 + rng.integers(0, 2, len(person)),
                      3 + rng.integers(0, 2, len(person)))
    second = 7 * 3600 + rng.integers(0, 15 * 3600, len(person))
    order = np.lexsort((person, second, day))
    cols = {"person": person, "topic": topic, "granted": ~state[person, topic], "day": day, "second": second,
            "source": source}
    cols = {k: v[order] for k, v in cols.items()}
    cols["seq"] = np.arange(len(order))
    return ConsentLedger(cols)


def apply(state: np.ndarray, ledger: ConsentLedger, before_day: int | None = None) -> np.ndarray:
    """The state after the ledger's events (only those on days before `before_day` when given)."""
    out = state.copy()
    c = ledger.columns
    take = np.ones(len(ledger), bool) if before_day is None else c["day"] < before_day
    out[c["person"][take], c["topic"][take]] = c["granted"][take]
    return out
