"""Who is a customer of which silo, with which products and ids, at EPOCH.

Identity streams only (see common.py): the relationships, products held at EPOCH, account numbers and
silo ids are the same for every export date. Openings in the world are drawn month by month
(openings.py); the account number and the terms a person would get on opening each product are drawn
here, so they are stable too. A person holds at most one account of each product.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jobs.generate import reference as ref
from jobs.generate.common import REFERENCE_DATE, sigmoid, stream, unique_ints
from jobs.generate.people import Population

LOAN_TYPES = ("mortgage", "auto", "personal")
LOAN_TERMS = {"mortgage": 360, "auto": 60, "personal": 36}
HOLDOUT_SHARE = 0.1  # of people the legacy campaigns never target (their control group)
CARD_PRODUCTS = ("classic", "gold", "platinum")
# Account slots per person (one account of each product; "duplicate" is the term deposit of a
# second CIF). A slot's key in the world is person * len(SLOTS) + slot.
DEPOSIT_SLOTS = {"checking": 0, "savings": 1, "term_deposit": 2, "duplicate": 3}
CARD_SLOTS = {"card": 0}
LOAN_SLOTS = {"mortgage": 0, "auto": 1, "personal": 2}


@dataclass
class Loans:
    """One loan type's terms for every person: of the loan held at EPOCH where `held`, else of the
    loan the person would get on opening one in the world (start set then)."""
    held: np.ndarray
    principal: np.ndarray
    rate: np.ndarray        # annual percent
    term: np.ndarray        # months
    start: np.ndarray       # datetime64[D]
    days_past_due: np.ndarray


@dataclass
class Holdings:
    in_deposits: np.ndarray
    in_cards: np.ndarray
    in_lending: np.ndarray
    deposits_since: np.ndarray
    cards_since: np.ndarray
    has_savings: np.ndarray
    has_term: np.ndarray
    savings_open: np.ndarray
    term_open: np.ndarray
    term_balance: np.ndarray
    renter: np.ndarray
    mortgage_elsewhere: np.ndarray
    card_product: np.ndarray     # index into CARD_PRODUCTS, -1 without a card at EPOCH
    card_limit: np.ndarray
    new_card_product: np.ndarray  # the card (index) and limit a person gets on opening one
    new_card_limit: np.ndarray
    loans: dict[str, Loans]
    payroll_here: np.ndarray     # salary (or pension) is paid into the checking account
    biweekly: np.ndarray
    payday: np.ndarray           # day of month for monthly pay
    pay_phase: np.ndarray        # 0..13, biweekly pay days are ordinal % 14 == pay_phase
    employer: np.ndarray
    next_employer: np.ndarray    # after a job change
    pay_change: np.ndarray       # take-home pay factor after a job change
    pay_gap: np.ndarray          # days without pay between the old job and the new one
    saving_day: np.ndarray       # day of month of the standing order into savings
    card_bill_day: np.ndarray    # day of month the card bill is paid from checking
    card_payer: np.ndarray       # the card bill is paid from checking here (when both exist)
    holdout: np.ndarray          # kept out of every campaign (the legacy random control group)
    duplicate: np.ndarray        # a second CIF exists for this person in deposits
    duplicate_since: np.ndarray
    cif: np.ndarray              # deposits customer number (7 digits)
    duplicate_cif: np.ndarray
    holder_no: np.ndarray        # cards holder number (6 digits)
    borrower_no: np.ndarray      # lending borrower number (from 100001)
    deposit_account: np.ndarray  # (n, len(DEPOSIT_SLOTS)) account numbers (9 digits)
    card_account: np.ndarray     # (n, len(CARD_SLOTS)) 8 digits
    loan_no: np.ndarray          # (n, len(LOAN_SLOTS)) 8 digits

    @property
    def has_card(self) -> np.ndarray:
        return self.card_product >= 0

    @property
    def has_personal(self) -> np.ndarray:
        return self.loans["personal"].held

    @property
    def primary_silo(self) -> np.ndarray:
        """The silo whose customer id the CRM and online banking know a person by: 0 deposits,
        1 cards, 2 lending (the first of those the person was a customer of at EPOCH)."""
        return np.where(self.in_deposits, 0, np.where(self.in_cards, 1, 2))

    def held_at_epoch(self, product: str) -> np.ndarray:
        return {"savings": self.has_savings, "term_deposit": self.has_term, "credit_card": self.has_card,
                "personal_loan": self.loans["personal"].held, "auto_loan": self.loans["auto"].held,
                "mortgage": self.loans["mortgage"].held}[product]


def _since(rng: np.random.Generator, pop: Population, mean_years: float) -> np.ndarray:
    """A relationship start: exponential tenure, never before the 18th birthday, >= 60 days before REF."""
    adult_days = (REFERENCE_DATE - pop.birth).astype(np.int64) - 18 * 365
    tenure = np.minimum(rng.exponential(mean_years * 365, pop.n).astype(np.int64), adult_days) + 60
    return REFERENCE_DATE - tenure.astype("timedelta64[D]")


def _between(rng: np.random.Generator, start: np.ndarray, end: np.datetime64) -> np.ndarray:
    span = np.maximum((end - start).astype(np.int64), 1)
    return start + (rng.random(len(start)) * span).astype(np.int64).astype("timedelta64[D]")


def _loan(rng: np.random.Generator, held: np.ndarray, kind: str, pop: Population, z_inc: np.ndarray) -> Loans:
    n = pop.n
    if kind == "mortgage":
        principal = np.round(np.clip(pop.income * rng.uniform(2.5, 4.5, n), 80_000, 1_500_000), -3)
        elapsed = rng.integers(6, 240, n)
        rate = np.round(rng.uniform(3.0, 7.5, n), 2)
    elif kind == "auto":
        principal = np.round(np.clip(pop.income * rng.uniform(0.2, 0.6, n), 8_000, 90_000), -2)
        elapsed = rng.integers(3, 50, n)
        rate = np.round(rng.uniform(4.5, 11.0, n), 2)
    else:
        principal = np.round(np.clip(pop.income * rng.uniform(0.05, 0.3, n), 2_000, 40_000), -2)
        elapsed = rng.integers(2, 30, n)
        rate = np.round(np.clip(rng.uniform(8.0, 16.0, n) + 2.0 * pop.stress - 0.8 * z_inc, 6.0, 24.0), 2)
    start = (REFERENCE_DATE.astype("datetime64[M]") - elapsed).astype("datetime64[D]") + rng.integers(0, 28, n)
    late = held & (pop.stress > 1.2) & (rng.random(n) < 0.35)
    dpd = np.where(late, rng.choice([3, 8, 12, 20, 35, 45, 65, 95], n), 0)
    return Loans(held=held, principal=principal, rate=rate, term=np.full(n, LOAN_TERMS[kind]), start=start,
                 days_past_due=dpd)


def build_holdings(seed: int, customers: int, pop: Population) -> Holdings:
    rng = stream(seed, customers, "holdings")
    n = pop.n
    age = pop.age_at(REFERENCE_DATE)
    z_age = (age - 45) / 16.0
    z_inc = (np.log(pop.income) - np.log(42000)) / 0.5

    # Housing: older and better-off people own; most owners under 65 carry a mortgage, some here.
    homeowner = rng.random(n) < sigmoid(-0.5 + 1.2 * z_age + 0.6 * z_inc)
    mortgaged = homeowner & (rng.random(n) < np.where(age < 65, 0.75, 0.3))
    mortgage_here = mortgaged & (rng.random(n) < 0.45)
    mortgage_elsewhere = mortgaged & ~mortgage_here
    renter = ~homeowner & (rng.random(n) < 0.8)  # the rest live with family and pay no housing

    loans = {
        "mortgage": _loan(rng, mortgage_here, "mortgage", pop, z_inc),
        "auto": _loan(rng, rng.random(n) < sigmoid(-2.2 + 0.4 * z_inc), "auto", pop, z_inc),
        "personal": _loan(rng, rng.random(n) < sigmoid(-2.6 + 0.5 * pop.stress), "personal", pop, z_inc),
    }
    in_lending = loans["mortgage"].held | loans["auto"].held | loans["personal"].held

    in_cards = rng.random(n) < sigmoid(-0.3 + 0.5 * z_inc + 0.4 * pop.lifestyle - 0.2 * z_age)
    in_deposits = rng.random(n) < 0.9
    in_deposits |= ~(in_cards | in_lending)  # everyone is a customer somewhere

    deposits_since = _since(rng, pop, 8.0)
    cards_since = _since(rng, pop, 5.0)
    last_open = REFERENCE_DATE - 30
    has_savings = in_deposits & (rng.random(n) < sigmoid(-0.8 + 0.6 * pop.thrift + 0.3 * z_inc))
    has_term = in_deposits & (rng.random(n) < sigmoid(-2.8 + 0.7 * z_age + 0.4 * pop.thrift))
    savings_open = _between(rng, deposits_since, last_open)
    term_open = _between(rng, deposits_since, last_open)
    term_balance = np.round(np.clip(pop.income * rng.uniform(0.1, 1.2, n), 5_000, 250_000), -2)

    tier = z_inc + rng.normal(0, 0.6, n)
    card_product = np.where(in_cards, np.digitize(tier, [0.3, 1.2]), -1)
    card_limit = np.round(np.array([3_000, 10_000, 25_000])[np.maximum(card_product, 0)]
                          * np.exp(0.3 * z_inc) * rng.uniform(0.7, 1.3, n), -2)

    payroll_here = in_deposits & (rng.random(n) < 0.35 + 0.55 * pop.wallet_share)
    biweekly = rng.random(n) < 0.55
    payday = rng.choice([1, 15, 25, 28], n)
    pay_phase = rng.integers(0, 14, n)
    employer = rng.integers(0, len(ref.EMPLOYERS), n)

    duplicate = in_deposits & (rng.random(n) < 0.011)
    duplicate_since = _between(rng, deposits_since, last_open)

    # Silo ids. Numbers are assigned in a random order so no id reveals another silo's id.
    n_dup = int(duplicate.sum())
    cifs = unique_ints(rng, n + n_dup, 1, 10_000_000)
    cif = cifs[:n]
    duplicate_cif = np.full(n, -1, dtype=np.int64)
    duplicate_cif[duplicate] = cifs[n:]
    holder_no = _sequential(rng, in_cards, first=1)
    borrower_no = _sequential(rng, in_lending, first=100_001)
    deposit_account = unique_ints(rng, n * len(DEPOSIT_SLOTS), 1, 1_000_000_000).reshape(n, -1)
    card_account = unique_ints(rng, n * len(CARD_SLOTS), 1, 100_000_000).reshape(n, -1)
    loan_no = unique_ints(rng, n * len(LOAN_SLOTS), 1, 100_000_000).reshape(n, -1)

    # What a person gets on opening a product in the world (a separate stream: the draws above keep
    # their values).
    more = stream(seed, customers, "holdings-world")
    for kind, spec in loans.items():
        fresh = _loan(more, np.zeros(n, dtype=bool), kind, pop, z_inc)
        for name in ("principal", "rate", "term"):
            getattr(spec, name)[~spec.held] = getattr(fresh, name)[~spec.held]
        if kind == "personal":
            spec.term[~spec.held] = more.choice([24, 36, 48, 60], n)[~spec.held]
        spec.days_past_due[~spec.held] = 0
    new_card_product = np.where(z_inc + more.normal(0, 0.6, n) > 0.8, 1, 0)  # classic or gold to start
    new_card_limit = np.round(np.array([2_500, 7_500])[new_card_product] * np.exp(0.3 * z_inc)
                              * more.uniform(0.7, 1.3, n), -2)
    next_employer = (employer + 1 + more.integers(0, len(ref.EMPLOYERS) - 1, n)) % len(ref.EMPLOYERS)
    pay_change = np.exp(more.normal(0.08, 0.12, n))
    pay_gap = np.where(more.random(n) < 0.3, more.integers(7, 45, n), 0)
    saving_day = more.integers(1, 29, n)
    card_bill_day = more.integers(1, 29, n)
    card_payer = more.random(n) < 0.5 + 0.5 * pop.wallet_share
    holdout = more.random(n) < HOLDOUT_SHARE

    return Holdings(
        in_deposits=in_deposits, in_cards=in_cards, in_lending=in_lending, deposits_since=deposits_since,
        cards_since=cards_since, has_savings=has_savings, has_term=has_term, savings_open=savings_open,
        term_open=term_open, term_balance=term_balance, renter=renter, mortgage_elsewhere=mortgage_elsewhere,
        card_product=card_product, card_limit=card_limit, new_card_product=new_card_product,
        new_card_limit=new_card_limit, loans=loans, payroll_here=payroll_here,
        biweekly=biweekly, payday=payday, pay_phase=pay_phase, employer=employer,
        next_employer=next_employer, pay_change=pay_change, pay_gap=pay_gap, saving_day=saving_day,
        card_bill_day=card_bill_day, card_payer=card_payer, holdout=holdout,
        duplicate=duplicate, duplicate_since=duplicate_since, cif=cif, duplicate_cif=duplicate_cif,
        holder_no=holder_no, borrower_no=borrower_no, deposit_account=deposit_account,
        card_account=card_account, loan_no=loan_no,
    )


def _sequential(rng: np.random.Generator, existing: np.ndarray, first: int) -> np.ndarray:
    """Sequential customer numbers: existing customers first (in random order), then the numbers
    reserved for people who may join later, so a newcomer always gets a higher number."""
    order = rng.permutation(len(existing))
    ranked = np.concatenate([order[existing[order]], order[~existing[order]]])
    numbers = np.empty(len(existing), dtype=np.int64)
    numbers[ranked] = first + np.arange(len(existing))
    return numbers
