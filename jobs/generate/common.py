"""Random streams and the calendars of the generated world, shared by the generator's modules.

The world is one bank that lives from EPOCH on, month after month (world.py). Its randomness comes in
two kinds, neither of which depends on the date an export is written for, so every export shows the
same world: the same people, the same transactions on the same days under the same ids.
- identity streams depend on (seed, customers) only: who the people are, their names, ids, silos, the
  products they held at EPOCH and the dates of their life events;
- month streams also depend on the month: what happens in that month (openings, money movements,
  sessions, consent changes, offers), drawn from the state the world is in when the month starts.
An export for a date is a cut of that world (Window). Each stream is named, so adding a draw to one
part of the generator never shifts another part's values.
"""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass

import numpy as np

# The world's first day (a month start). Identity data is anchored here: people are born, became
# customers and opened the products they hold before it; activity is simulated from it on.
EPOCH = np.datetime64("2025-07-01", "D")
REFERENCE_DATE = EPOCH
AVG_MONTH_DAYS = 30.44
NEVER = 10**7  # the "day" of something that does not happen in the world


def stream(seed: int, customers: int, name: str, as_of: dt.date | None = None) -> np.random.Generator:
    """An independent generator for one named part of the bank (see the module doc)."""
    key = [int(seed), int(customers), zlib.crc32(name.encode())]
    if as_of is not None:
        key.append(as_of.toordinal())
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(key)))


def day_of(date) -> np.ndarray:
    """Days since EPOCH (negative before it)."""
    return (np.asarray(date, dtype="datetime64[D]") - EPOCH).astype(np.int64)


def date_of(day) -> np.ndarray:
    return EPOCH + np.asarray(day, dtype=np.int64).astype("timedelta64[D]")


@dataclass(frozen=True)
class Month:
    """One month of the world: local days 0..days-1 are world days offset..offset+days-1."""

    index: int     # 0 = EPOCH's month
    start: np.datetime64
    days: int

    @property
    def offset(self) -> int:
        return int(day_of(self.start))

    @property
    def as_of(self) -> dt.date:
        return (self.start + (self.days - 1)).astype(dt.date)

    @property
    def window(self) -> "Window":
        return Window(self.as_of, self.days)

    @property
    def code(self) -> int:
        """yymm (2607 for July 2026): the month part of the ids of what happens in it."""
        y = self.start.astype("datetime64[Y]").astype(int) + 1970
        m = self.start.astype("datetime64[M]").astype(int) % 12 + 1
        return (y % 100) * 100 + m

    def stream(self, seed: int, customers: int, name: str) -> np.random.Generator:
        return stream(seed, customers, f"{name}@{self.index}")


def months_through(last: dt.date | np.datetime64) -> list[Month]:
    """The world's months from EPOCH to the month of `last`, inclusive."""
    first = EPOCH.astype("datetime64[M]")
    end = np.datetime64(last, "D").astype("datetime64[M]")
    out = []
    for i, m in enumerate(np.arange(first, end + 1)):
        start = m.astype("datetime64[D]")
        out.append(Month(i, start, int(((m + 1).astype("datetime64[D]") - start).astype(int))))
    return out


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


def arrivals_in(rng: np.random.Generator, first: np.ndarray, last: np.ndarray, rate_per_30_days,
                month: Month) -> tuple[np.ndarray, np.ndarray]:
    """(owner index, world day) of events arriving at a rate while the owner's window [first, last]
    (world days, inclusive; NEVER-safe) overlaps the month."""
    lo = np.maximum(np.asarray(first, np.int64), month.offset)
    hi = np.minimum(np.asarray(last, np.int64), month.offset + month.days - 1)
    span = np.maximum(hi - lo + 1, 0)
    counts = rng.poisson(np.asarray(rate_per_30_days, dtype=float) * span / 30.0)
    owner = np.repeat(np.arange(len(counts)), counts)
    day = lo[owner] + (rng.random(len(owner)) * span[owner]).astype(np.int64)
    return owner, day
