"""The people behind the silos: demographics, identity and the latent traits that drive behaviour.

Drawn from identity streams only (see common.py), so the same settings give the same people for every
export date. Latent traits are standardized (mean 0, sd 1) except wallet_share (0..1):
- lifestyle   how much goes on dining, travel, entertainment and gadgets, in many small purchases
- thrift      how much of what comes in stays (high: balances grow)
- stress      financial strain (high: outflows above inflows, falling balances, late payments)
- big_ticket  appetite for furniture and electronics purchases
- wallet_share  the part of the person's financial life kept at this bank (low: money leaves for
                other institutions)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jobs.generate import reference as ref
from jobs.generate.common import REFERENCE_DATE, stream, unique_ints


@dataclass
class Population:
    n: int
    person_id: np.ndarray       # int64, 1..n
    gender: np.ndarray          # "F" | "M"
    first: np.ndarray           # title case
    last: np.ndarray
    birth: np.ndarray           # datetime64[D]
    national_id: np.ndarray     # int64, 9 digits, unique: SSN / tax id / national id alike
    email: np.ndarray           # lower case, unique
    phone: np.ndarray           # int64, 10 digits, unique (555 + 7 digits)
    postcode: np.ndarray        # 5-digit text
    income: np.ndarray          # annual gross USD
    lifestyle: np.ndarray
    thrift: np.ndarray
    stress: np.ndarray
    big_ticket: np.ndarray
    wallet_share: np.ndarray

    def age_at(self, date: np.datetime64) -> np.ndarray:
        """Whole years of age on `date`."""
        date = np.datetime64(date, "D")
        years = date.astype("datetime64[Y]").astype(int) - self.birth.astype("datetime64[Y]").astype(int)
        return years - (_month_day(date) < _month_day(self.birth)).astype(int)


def _month_day(d: np.ndarray) -> np.ndarray:
    """month * 100 + day, to compare dates within a year."""
    month_start = d.astype("datetime64[M]")
    return (month_start.astype(int) % 12 + 1) * 100 + (d - month_start.astype("datetime64[D]")).astype(int) + 1


def build_population(seed: int, customers: int) -> Population:
    rng = stream(seed, customers, "people")
    n = customers
    person_id = np.arange(1, n + 1, dtype=np.int64)

    # Adults 18..85, more of them in mid-life than at the ends.
    age = 18 + np.floor(67.99 * rng.beta(2.0, 2.3, n)).astype(np.int64)
    birth = REFERENCE_DATE - (np.floor(age * 365.25).astype(np.int64)
                              + rng.integers(0, 365, n)).astype("timedelta64[D]")
    gender = np.where(rng.random(n) < 0.5, "F", "M")
    female = gender == "F"
    first = np.where(female, np.array(ref.FEMALE_FIRST)[rng.integers(0, len(ref.FEMALE_FIRST), n)],
                     np.array(ref.MALE_FIRST)[rng.integers(0, len(ref.MALE_FIRST), n)])
    last = np.array(ref.LAST)[rng.integers(0, len(ref.LAST), n)]

    # Income rises to a mid-career peak and drops at retirement; log-normal spread around it.
    z_age = (age - 45) / 16.0
    career = 0.35 * (1 - ((age - 48) / 30.0) ** 2) - 0.3 * (age >= 67)
    income = np.exp(np.log(42000) + career + 0.45 * rng.standard_normal(n))
    income = np.round(np.clip(income, 14000, 450000), -2)

    thrift = rng.standard_normal(n)
    stress = -0.35 * thrift + np.sqrt(1 - 0.35**2) * rng.standard_normal(n)
    lifestyle = (rng.standard_normal(n) - 0.3 * z_age) / np.sqrt(1 + 0.09)
    big_ticket = rng.standard_normal(n)
    wallet_share = rng.beta(2.2, 1.8, n)

    # Identifiers: unique by construction (a person is never confused with another by a key).
    national_id = unique_ints(rng, n, 100_000_000, 900_000_000)
    phone = 5_550_000_000 + unique_ints(rng, n, 0, 10_000_000)
    mail_no = unique_ints(rng, n, 1, max(1000, 20 * n))
    sep = np.array([".", "_", ""])[rng.integers(0, 3, n)]
    domain = np.array(ref.EMAIL_DOMAINS)[rng.integers(0, len(ref.EMAIL_DOMAINS), n)]
    local = np.strings.add(np.strings.add(np.strings.lower(first), sep), np.strings.lower(last))
    email = np.strings.add(np.strings.add(np.strings.add(local, mail_no.astype(str)), "@"), domain)
    postcode = np.array(ref.POSTCODES)[rng.integers(0, len(ref.POSTCODES), n)]

    return Population(n=n, person_id=person_id, gender=gender, first=first, last=last, birth=birth,
                      national_id=national_id, email=email, phone=phone, postcode=postcode, income=income,
                      lifestyle=lifestyle, thrift=thrift, stress=stress, big_ticket=big_ticket,
                      wallet_share=wallet_share)

