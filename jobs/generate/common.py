"""Random streams and the calendar of one export window, shared by the generator's modules.

Two kinds of randomness, so that the bank stays the same bank from one export date to the next:
- identity streams depend on (seed, customers) only: who the people are, their names, ids, silos and
  the products they already held before any window. A daily run for the next date sees the same people
  under the same silo ids.
- window streams also depend on the export date: the transactions, balances and product openings of the
  history window ending on that date.
Each stream is named, so adding a draw to one part of the generator never shifts another part's values.
"""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass

import numpy as np

# The calendar anchor for identity data (birth dates, customer-since dates, initial account openings):
# fixed, so those dates do not move with the export date.
REFERENCE_DATE = np.datetime64("2026-01-01", "D")
AVG_MONTH_DAYS = 30.44


def stream(seed: int, customers: int, name: str, as_of: dt.date | None = None) -> np.random.Generator:
    """An independent generator for one named part of the bank (see the module doc)."""
    key = [int(seed), int(customers), zlib.crc32(name.encode())]
    if as_of is not None:
        key.append(as_of.toordinal())
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(key)))


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def unique_ints(rng: np.random.Generator, n: int, low: int, high: int) -> np.ndarray:
    """n distinct random integers in [low, high), in random order (ids that reveal nothing)."""
    if high - low < n:
        raise ValueError(f"cannot draw {n} distinct ids from a range of {high - low}")
    out = np.empty(0, dtype=np.int64)
    while len(out) < n:
        draw = np.concatenate([out, rng.integers(low, high, size=int((n - len(out)) * 1.05) + 16)])
        _, first = np.unique(draw, return_index=True)
        out = draw[np.sort(first)]
    return out[:n]


def lognormal_noise(rng: np.random.Generator, size: int, sigma: float) -> np.ndarray:
    """Multiplicative noise with mean 1, so it scatters amounts without biasing totals."""
    return rng.lognormal(-sigma * sigma / 2, sigma, size)


def to_cents(amount: np.ndarray) -> np.ndarray:
    return np.maximum(np.rint(np.asarray(amount) * 100), 1).astype(np.int64)


@dataclass(frozen=True)
class Window:
    """The history window of one export: days 0..days-1 are the dates (as_of - days, as_of]."""

    as_of: dt.date
    days: int

    @property
    def start(self) -> np.datetime64:
        return np.datetime64(self.as_of, "D") - (self.days - 1)

    @property
    def end(self) -> np.datetime64:
        return np.datetime64(self.as_of, "D")

    def date(self, day: np.ndarray) -> np.ndarray:
        return self.start + np.asarray(day).astype("timedelta64[D]")

    def day(self, date: np.ndarray) -> np.ndarray:
        return (np.asarray(date, dtype="datetime64[D]") - self.start).astype(np.int64)

    def month_starts(self) -> np.ndarray:
        """Day index of the 1st of every month overlapping the window (the first is usually negative)."""
        first = self.start.astype("datetime64[M]")
        last = self.end.astype("datetime64[M]")
        months = np.arange(first, last + 1)
        return self.day(months.astype("datetime64[D]"))

    def monthly(self, dom: np.ndarray, active_from: np.ndarray, owners: np.ndarray | None = None):
        """(owner, day) for every day-of-month `dom` (1..28) inside the window on or after active_from.

        A loop over the few months of the window; each step is vectorized over all owners."""
        dom = np.asarray(dom, dtype=np.int64)
        owners = np.arange(len(dom)) if owners is None else owners
        out_owner, out_day = [], []
        for month_start in self.month_starts():
            day = month_start + dom - 1
            ok = (day >= np.maximum(active_from, 0)) & (day < self.days)
            out_owner.append(owners[ok])
            out_day.append(day[ok])
        return np.concatenate(out_owner), np.concatenate(out_day)

    def periodic(self, first_day: np.ndarray, period: int, active_from: np.ndarray, owners: np.ndarray):
        """(owner, day) for days first_day + k*period inside the window on or after active_from."""
        out_owner, out_day = [], []
        for k in range(self.days // period + 2):
            day = first_day + k * period
            ok = (day >= np.maximum(active_from, 0)) & (day < self.days)
            out_owner.append(owners[ok])
            out_day.append(day[ok])
        return np.concatenate(out_owner), np.concatenate(out_day)


def poisson_days(rng: np.random.Generator, rate_per_month: np.ndarray, active_from: np.ndarray,
                 days: int) -> tuple[np.ndarray, np.ndarray]:
    """(owner index, day) of events arriving at rate_per_month while the owner is active in the window."""
    active_from = np.clip(active_from, 0, days)
    span = days - active_from
    counts = rng.poisson(np.maximum(rate_per_month, 0) * span / AVG_MONTH_DAYS)
    owner = np.repeat(np.arange(len(counts)), counts)
    day = active_from[owner] + (rng.random(len(owner)) * span[owner]).astype(np.int64)
    return owner, day
